#!/usr/bin/env python3
"""Generates hid/'s keyboard layout tables from the X keyboard data.

    python3 hid/xkb2c.py XKB_DIR KEYSYMDEF_H OUT.c

XKB_DIR is the xkb data root (Debian's xkb-data: /usr/share/X11/xkb),
KEYSYMDEF_H is X11/keysymdef.h (x11proto-dev).  For each layout the output
holds, per character key, the keysyms of its four levels (plain, Shift,
AltGr, Shift+AltGr) and their Unicode code points, as xkbcomp would build
them for the model pc105 ("pc+<layout>"): includes resolved, later
definitions overriding earlier ones level by level.  Dead keys stay dead
keysyms; the compose table for them comes from Unicode's canonical
compositions (unicodedata) of the characters the layouts type, restricted
to Latin-1 results, plus the accent alone for a dead key and Space.

Only the alphanumeric block is taken: the function, editing and keypad
keys do not depend on the layout and hid/keymap.c maps them.
"""
import os
import re
import sys
import unicodedata

# (our name, xkb symbols file, section or None for the file's default)
LAYOUTS = [
    ("en-us", "us", None),
    ("en-gb", "gb", None),
    ("de", "de", None),
    ("fr", "fr", None),
    ("es", "es", None),
    ("it", "it", None),
    ("pt-br", "br", None),
    ("sv", "se", None),
    ("ru", "ru", None),
    ("ja", "jp", None),
]

# The keys whose symbols depend on the layout, in the order the planner
# prefers them: the main block first, the ISO key next to Left Shift and
# the JIS/ABNT extra keys last, because a host set up for an ANSI or plain
# ISO keyboard may map those to something else.
CHAR_KEYS = (["TLDE"] + ["AE%02d" % i for i in range(1, 13)] +
             ["AD%02d" % i for i in range(1, 13)] +
             ["AC%02d" % i for i in range(1, 12)] + ["BKSL"] +
             ["AB%02d" % i for i in range(1, 11)] + ["SPCE", "LSGT", "AE13", "AB11"])

# Linux input event codes (evdev keycode - 8) to USB HID keyboard usages:
# the inverse of the kernel's hid-input table for these keys.  BACKSLASH
# is both 0x31 and 0x32 (Non-US #) in the kernel; 0x31 is what every host
# takes for it.
EVDEV_TO_HID = {
    2: 0x1e, 3: 0x1f, 4: 0x20, 5: 0x21, 6: 0x22, 7: 0x23, 8: 0x24, 9: 0x25,
    10: 0x26, 11: 0x27, 12: 0x2d, 13: 0x2e,
    16: 0x14, 17: 0x1a, 18: 0x08, 19: 0x15, 20: 0x17, 21: 0x1c, 22: 0x18,
    23: 0x0c, 24: 0x12, 25: 0x13, 26: 0x2f, 27: 0x30,
    30: 0x04, 31: 0x16, 32: 0x07, 33: 0x09, 34: 0x0a, 35: 0x0b, 36: 0x0d,
    37: 0x0e, 38: 0x0f, 39: 0x33, 40: 0x34, 41: 0x35, 43: 0x31,
    44: 0x1d, 45: 0x1b, 46: 0x06, 47: 0x19, 48: 0x05, 49: 0x11, 50: 0x10,
    51: 0x36, 52: 0x37, 53: 0x38, 57: 0x2c,
    86: 0x64,   # KEY_102ND: the ISO key left of Z
    89: 0x87,   # KEY_RO: JIS Ro, ABNT /?
    124: 0x89,  # KEY_YEN
}

# Dead keysyms and the combining marks they put on the next character.
DEAD_COMBINING = {
    "dead_grave": 0x300, "dead_acute": 0x301, "dead_circumflex": 0x302,
    "dead_tilde": 0x303, "dead_macron": 0x304, "dead_breve": 0x306,
    "dead_abovedot": 0x307, "dead_diaeresis": 0x308, "dead_abovering": 0x30a,
    "dead_doubleacute": 0x30b, "dead_caron": 0x30c, "dead_belowdot": 0x323,
    "dead_cedilla": 0x327, "dead_ogonek": 0x328,
}
# What a dead key followed by Space types: the spacing form of the accent.
DEAD_SPACING = {
    "dead_grave": 0x60, "dead_acute": 0xb4, "dead_circumflex": 0x5e,
    "dead_tilde": 0x7e, "dead_macron": 0xaf, "dead_breve": 0x2d8,
    "dead_abovedot": 0x2d9, "dead_diaeresis": 0xa8, "dead_abovering": 0xb0,
    "dead_doubleacute": 0x2dd, "dead_caron": 0x2c7, "dead_cedilla": 0xb8,
    "dead_ogonek": 0x2db,
}

COMPOSED_MAX = 0xff

RALT_KEY = "RALT"
LEVEL3_SHIFT = "ISO_Level3_Shift"


class XkbError(Exception):
    pass


def die(msg):
    sys.stderr.write("xkb2c: %s\n" % msg)
    sys.exit(1)


# ---- keysymdef.h ----

def read_keysyms(path):
    """Returns ({name: value}, {value: code point})."""
    names, ucs = {}, {}
    pat = re.compile(r"^#define XK_([A-Za-z0-9_]+)\s+0x([0-9a-fA-F]+)\s*(/\*(.*)\*/)?")
    upat = re.compile(r"^\s*\(?U\+([0-9A-Fa-f]{4,6})")
    try:
        with open(path, encoding="latin-1") as f:
            for line in f:
                m = pat.match(line)
                if not m:
                    continue
                val = int(m.group(2), 16)
                names.setdefault(m.group(1), val)
                if m.group(4):
                    u = upat.match(m.group(4))
                    # "(U+...)" marks an approximate mapping; still the
                    # character a user expects from the keysym.
                    if u and val not in ucs:
                        ucs[val] = int(u.group(1), 16)
    except OSError as e:
        die("%s: %s" % (path, e.strerror))
    if "dead_acute" not in names or "EuroSign" not in names:
        die("%s: does not look like keysymdef.h" % path)
    return names, ucs


def keysym_value(tok, names):
    """Keysym token → value; None for NoSymbol/VoidSymbol/unknown."""
    if tok in ("NoSymbol", "VoidSymbol"):
        return None
    if len(tok) == 1 and tok.isdigit():
        return ord(tok)
    if re.fullmatch(r"0x[0-9a-fA-F]+", tok):
        v = int(tok, 16)
        return v
    if re.fullmatch(r"U[0-9a-fA-F]{4,6}", tok):
        cp = int(tok[1:], 16)
        # Latin-1 keysyms are the code points themselves.
        return cp if 0x20 <= cp <= 0x7e or 0xa0 <= cp <= 0xff else 0x01000000 + cp
    if tok in names:
        return names[tok]
    return None


def keysym_ucs(v, ucs):
    if v is None:
        return 0
    if 0x20 <= v <= 0x7e or 0xa0 <= v <= 0xff:
        return v
    if 0x01000100 <= v <= 0x0110ffff:
        return v - 0x01000000
    return ucs.get(v, 0)


# ---- keycodes/evdev ----

def read_keycodes(path):
    """(key name → evdev keycode, alias → key name)."""
    codes, aliases = {}, {}
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        die("%s: %s" % (path, e.strerror))
    text = re.sub(r"//[^\n]*", "", text)
    for m in re.finditer(r"<([A-Za-z0-9+\-_]+)>\s*=\s*(\d+)\s*;", text):
        codes.setdefault(m.group(1), int(m.group(2)))
    for m in re.finditer(r"alias\s*<([A-Za-z0-9+\-_]+)>\s*=\s*<([A-Za-z0-9+\-_]+)>\s*;", text):
        aliases[m.group(1)] = m.group(2)
    return codes, aliases


# ---- xkb symbols files ----

TOKEN = re.compile(r'''
    (?P<ws>\s+) |
    (?P<comment>//[^\n]*|\#[^\n]*|/\*.*?\*/) |
    (?P<str>"[^"\n]*") |
    (?P<key><[^>\s]+>) |
    (?P<word>[A-Za-z0-9_+\-.:]+) |
    (?P<punct>[{}\[\]();,=!~])
''', re.S | re.X)


def tokenize(text, path):
    toks, pos = [], 0
    line = 1
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m:
            raise XkbError("%s:%d: unexpected %r" % (path, line, text[pos]))
        kind = m.lastgroup
        val = m.group(kind)
        if kind not in ("ws", "comment"):
            toks.append((kind, val, line))
        line += val.count("\n")
        pos = m.end()
    return toks


class Parser:
    def __init__(self, toks, path):
        self.t, self.i, self.path = toks, 0, path

    def peek(self, k=0):
        j = self.i + k
        return self.t[j] if j < len(self.t) else (None, None, 0)

    def next(self):
        tok = self.peek()
        if tok[0] is None:
            raise XkbError("%s: unexpected end of file" % self.path)
        self.i += 1
        return tok

    def expect(self, val):
        tok = self.next()
        if tok[1] != val:
            raise XkbError("%s:%d: expected %r, got %r" % (self.path, tok[2], val, tok[1]))
        return tok

    def skip_block(self):
        """Skips a balanced {…}, […] or (…) starting at the current token."""
        depth = 0
        while True:
            tok = self.next()
            if tok[1] in "{[(" and tok[0] == "punct":
                depth += 1
            elif tok[1] in "}])" and tok[0] == "punct":
                depth -= 1
            if depth == 0:
                return

    def skip_statement(self):
        """Skips to the ';' ending a statement, blocks included."""
        while True:
            tok = self.peek()
            if tok[0] is None:
                return
            if tok[0] == "punct" and tok[1] in "{[(":
                self.skip_block()
                continue
            self.next()
            if tok[1] == ";":
                return
            if tok[1] == "}":
                self.i -= 1     # the section's end, not ours
                return


def parse_file(path):
    """Returns ({section: statements}, default section name)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise XkbError("%s: %s" % (path, e.strerror))
    p = Parser(tokenize(text, path), path)
    sections, default, first = {}, None, None
    while p.peek()[0] is not None:
        flags = []
        while p.peek()[0] == "word" and p.peek()[1] != "xkb_symbols":
            flags.append(p.next()[1])
        p.expect("xkb_symbols")
        name = p.next()
        if name[0] != "str":
            raise XkbError("%s:%d: section name expected" % (path, name[2]))
        name = name[1][1:-1]
        p.expect("{")
        sections[name] = parse_body(p)
        p.expect("}")
        if p.peek()[1] == ";":
            p.next()
        if "default" in flags and default is None:
            default = name
        if first is None:
            first = name
    if default is None:
        default = first
    return sections, default


MERGE_WORDS = ("include", "augment", "override", "replace")


def parse_body(p):
    """Statements of a section: ("include", mode, spec) | ("key", mode, name, [syms…])."""
    out = []
    while True:
        tok = p.peek()
        if tok[0] is None or tok[1] == "}":
            return out
        if tok[0] == "word" and tok[1] in MERGE_WORDS and p.peek(1)[0] == "str":
            p.next()
            spec = p.next()[1][1:-1]
            out.append(("include", tok[1], spec))
            if p.peek()[1] == ";":
                p.next()
            continue
        mode = "override"
        if tok[0] == "word" and tok[1] in MERGE_WORDS and p.peek(1)[1] == "key":
            mode = p.next()[1]
            tok = p.peek()
        if tok[1] == "key" and p.peek(1)[0] == "key":
            p.next()
            name = p.next()[1][1:-1]
            syms = parse_key(p)
            out.append(("key", mode, name, syms))
            continue
        p.skip_statement()


def parse_symbol_list(p):
    """[ a, b, {c, d}, … ] → list of tokens (first of a multi-keysym level)."""
    p.expect("[")
    syms = []
    while True:
        tok = p.next()
        if tok[1] == "]":
            return syms
        if tok[1] == ",":
            continue
        if tok[1] == "{":
            inner = []
            while True:
                t = p.next()
                if t[1] == "}":
                    break
                if t[1] != ",":
                    inner.append(t[1])
            # Several keysyms at one level: not a single character.
            syms.append(inner[0] if len(inner) == 1 else "NoSymbol")
            continue
        syms.append(tok[1])


def parse_key(p):
    """key <X> { … }; → group 1's symbols (list of tokens), or None."""
    p.expect("{")
    group1, implicit = None, 0
    while True:
        tok = p.peek()
        if tok[1] == "}":
            p.next()
            break
        if tok[1] == ",":
            p.next()
            continue
        if tok[1] == "[":
            implicit += 1
            syms = parse_symbol_list(p)
            if implicit == 1:
                group1 = syms
            continue
        # field [index] = value
        field = p.next()[1]
        index = None
        if p.peek()[1] == "[":
            p.next()
            index = p.next()[1]
            p.expect("]")
        if p.peek()[1] != "=":
            continue    # a bare flag
        p.next()
        if p.peek()[1] == "[":
            if field == "symbols" and (index or "Group1").lower() in ("group1", "1"):
                group1 = parse_symbol_list(p)
            else:
                p.skip_block()
        else:
            while p.peek()[1] not in (",", "}"):
                if p.peek()[1] in "{[(":
                    p.skip_block()
                else:
                    p.next()
    if p.peek()[1] == ";":
        p.next()
    return group1


class Resolver:
    def __init__(self, symdir, names, aliases):
        self.symdir, self.names, self.files = symdir, names, {}
        self.aliases = aliases

    def section(self, fname, sect):
        if fname not in self.files:
            self.files[fname] = parse_file(os.path.join(self.symdir, fname))
        sections, default = self.files[fname]
        name = sect or default
        if name not in sections:
            raise XkbError("%s: no section %r" % (fname, sect))
        return sections[name]

    def apply(self, keys, spec, mode, depth=0):
        """Merges the symbols of an include spec ("pc+de(nodeadkeys)|x") into keys."""
        if depth > 20:
            raise XkbError("include loop at %r" % spec)
        for m in re.finditer(r"([+|]?)([^+|]+)", spec):
            part_mode = "augment" if m.group(1) == "|" else mode
            part = m.group(2)
            group = 1
            if ":" in part:
                part, g = part.rsplit(":", 1)
                if not g.isdigit():
                    raise XkbError("bad group in %r" % spec)
                group = int(g)
            if group != 1:
                continue    # lands in another group; only group 1 counts
            pm = re.fullmatch(r"([A-Za-z0-9_\-]+)(?:\(([^)]*)\))?", part)
            if not pm:
                raise XkbError("bad include %r" % spec)
            self.run(keys, self.section(pm.group(1), pm.group(2)), part_mode, depth + 1)

    def run(self, keys, stmts, mode, depth):
        # A section is built on its own, then merged as a whole with mode.
        own = {}
        for st in stmts:
            if st[0] == "include":
                self.apply(own, st[2], "override" if st[1] == "include" else st[1], depth)
            elif st[3] is not None:
                # <AC12> and <BKSL> are one key: merge under one name.
                name = self.aliases.get(st[2], st[2])
                syms = [keysym_value(s, self.names) for s in st[3]]
                # A character lost to a keysym name we do not know would
                # make a layout silently incomplete; other keys (XF86…)
                # do not matter here.
                for tok, v in zip(st[3], syms):
                    if v is None and tok not in ("NoSymbol", "VoidSymbol") and name in CHAR_KEYS:
                        raise XkbError("key <%s>: unknown keysym %r" % (name, tok))
                merge_key(own, name, syms, st[1])
        for name, syms in own.items():
            merge_key(keys, name, syms, mode)


def merge_key(keys, name, syms, mode):
    """Level by level, as xkbcomp merges: a level without a symbol keeps the
    old one; augment fills only empty levels; replace drops the old key."""
    old = keys.get(name)
    if old is None or mode == "replace":
        keys[name] = list(syms)
        return
    new = list(old) + [None] * max(0, len(syms) - len(old))
    for i, v in enumerate(syms):
        if v is None:
            continue
        if mode == "augment" and new[i] is not None:
            continue
        new[i] = v
    keys[name] = new


# ---- output ----

def c_layout(out, idx, lname, keys, names, ucs, keycodes):
    ralt = keys.get(RALT_KEY) or []
    altgr = bool(ralt) and ralt[0] == names[LEVEL3_SHIFT]
    rows = []
    for kn in CHAR_KEYS:
        syms = keys.get(kn)
        if not syms:
            continue
        code = keycodes.get(kn)
        if code is None or code - 8 not in EVDEV_TO_HID:
            raise XkbError("%s: no HID usage for key <%s>" % (lname, kn))
        usage = EVDEV_TO_HID[code - 8]
        syms = (list(syms) + [None] * 4)[:4]
        if not altgr:
            syms[2] = syms[3] = None    # no key reaches levels 3 and 4
        width = max([i + 1 for i, v in enumerate(syms) if v is not None] or [0])
        if width == 0:
            continue
        u = [keysym_ucs(v, ucs) for v in syms]

        def pair(a, b):
            return (a and b and a != b and chr(a).upper() == chr(b)
                    and chr(b).lower() == chr(a))
        flags = (1 if pair(u[0], u[1]) else 0) | (2 if pair(u[2], u[3]) else 0)
        rows.append((usage, flags, width, [v or 0 for v in syms], u, kn))
    out.append("static const struct hid__layout_key keys_%d[] = {" % idx)
    for usage, flags, width, syms, u, kn in rows:
        out.append("\t{ 0x%02x, %d, %d, { 0x%x, 0x%x, 0x%x, 0x%x }, { 0x%x, 0x%x, 0x%x, 0x%x } },\t/* %s */"
                   % ((usage, flags, width) + tuple(syms) + tuple(u) + (kn,)))
    out.append("};")
    return altgr, rows


def main(argv):
    if len(argv) != 4:
        die("usage: xkb2c.py XKB_DIR KEYSYMDEF_H OUT.c")
    xkb, keysymdef, outpath = argv[1:]
    names, ucs = read_keysyms(keysymdef)
    keycodes, aliases = read_keycodes(os.path.join(xkb, "keycodes", "evdev"))
    res = Resolver(os.path.join(xkb, "symbols"), names, aliases)
    out = ["/* Generated by hid/xkb2c.py from %s and %s; do not edit. */" % (xkb, keysymdef),
           "#include \"hid/hid_int.h\"", ""]
    meta, all_rows = [], []
    try:
        for idx, (lname, fname, sect) in enumerate(LAYOUTS):
            keys = {}
            # What setxkbmap builds for the pc105 model: "pc+<layout>".
            res.apply(keys, "pc+%s%s" % (fname, "(%s)" % sect if sect else ""), "override")
            altgr, rows = c_layout(out, idx, lname, keys, names, ucs, keycodes)
            meta.append((lname, fname + ("(%s)" % sect if sect else ""), altgr, idx))
            all_rows.extend(rows)
            out.append("")
    except XkbError as e:
        die(str(e))

    out.append("const struct hid__layout hid__layouts[] = {")
    for lname, xname, altgr, idx in meta:
        out.append("\t{ \"%s\", \"%s\", %s, keys_%d, sizeof(keys_%d) / sizeof(keys_%d[0]) },"
                   % (lname, xname, "true" if altgr else "false", idx, idx, idx))
    out.append("};")
    out.append("const size_t hid__n_layouts = %d;" % len(meta))
    out.append("")

    # Code points of the keysyms outside Latin-1 and the Unicode range, all
    # of keysymdef.h: a viewer may name a character with a keysym that the
    # layout's data spells another way (sorted for bsearch).
    used = {v: u for v, u in ucs.items()
            if u and not (0x20 <= v <= 0x7e or 0xa0 <= v <= 0xff or v >= 0x01000000)}
    out.append("const struct hid__keysym_ucs hid__keysym_ucs[] = {")
    for v in sorted(used):
        out.append("\t{ 0x%x, 0x%x }," % (v, used[v]))
    out.append("};")
    out.append("const size_t hid__n_keysym_ucs = %d;" % len(used))
    out.append("")

    # Dead key + character → composed character, for every dead key and
    # directly typed character of the layouts (sorted by dead, base).
    bases = set()
    deads = set()
    for r in all_rows:
        for v, u in zip(r[3], r[4]):
            if u:
                bases.add(u)
            elif 0xfe50 <= v <= 0xfe8f:
                deads.add(v)
    byval = {names[n]: n for n in DEAD_COMBINING}
    comp = []
    for d in sorted(deads):
        dn = byval.get(d)
        if dn is None:
            continue    # a dead key we do not compose (e.g. dead_belowmacron)
        comp.append((d, 0x20, DEAD_SPACING.get(dn, 0)))
        for b in sorted(bases):
            if b == 0x20:
                continue
            s = unicodedata.normalize("NFC", chr(b) + chr(DEAD_COMBINING[dn]))
            # Latin-1 only: those every OS's dead keys compose (Windows'
            # stop there; X goes further).  Past it, a paste would type
            # the accent and the letter on some targets; it is refused.
            if len(s) == 1 and ord(s) <= COMPOSED_MAX:
                comp.append((d, b, ord(s)))
    comp = [c for c in comp if c[2]]
    out.append("const struct hid__compose hid__compose[] = {")
    for d, b, r in comp:
        out.append("\t{ 0x%x, 0x%x, 0x%x }," % (d, b, r))
    out.append("};")
    out.append("const size_t hid__n_compose = %d;" % len(comp))

    tmp = outpath + ".tmp"
    try:
        os.makedirs(os.path.dirname(outpath) or ".", exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as f:
            f.write("\n".join(out) + "\n")
        os.replace(tmp, outpath)
    except OSError as e:
        die("%s: %s" % (outpath, e.strerror))


if __name__ == "__main__":
    main(sys.argv)
