"""Keyboard layouts end to end: webkvmd --layout X types the right
characters on a target that reads its keyboard with layout X.

Through the control socket (paste) and through RFB keysyms from a viewer
that sends characters, not scancodes.  The text comes back by OCR of the
virtual target's screen; each sample holds the characters that need Shift,
AltGr or a dead key on that layout.
"""

import time
import unittest

import harness
from harness import SLOW, DaemonTestCase, command_text, prompt_cursor

SAMPLES = {
    "de": "zy@\u20ac\u00e4\u00f6\u00fc\u00df\u00e9{}",      # @ € AltGr; é dead acute; z/y swapped
    "fr": "aq1!\u00e9\u00e8\u00ea\u00e7@",                   # AZERTY digits need Shift; ê dead circumflex
    "en-gb": "\u00a3\"@#~|",                                  # £ Shift+3, " Shift+2
    "es": "\u00f1\u00bf\u00a1@\u00e1",                       # ñ, ¿ ¡, @ AltGr, á dead acute
    "sv": "\u00e5\u00e4\u00f6@$",                             # @ and $ on AltGr
    # Cyrillic letters whose glyphs differ from every Latin one (the OCR
    # cannot tell Cyrillic "р" from Latin "p": the font draws them alike).
    "ru": "\u0436\u0438\u043b\u0449\u044e\u044f\u0431",
    "en-us": "~!@#$%^&*()_+{}|:\"<>?`",
    "it": "\u00e8\u00e9@#\u00f2\u00e0\u00f9\u00a7[]",            # @ # [ ] on AltGr
    "pt-br": "\u00e7\u00c7\u00e3\u00e2\u00e9\u00ea\u00fc/?",    # ~ ^ ´ ¨ dead keys; / ? on the ABNT key
    # The Yen and Ro keys type backslash/bar and backslash/underscore (X's
    # jp names them so; the key caps show a yen sign); @ [ ] : * moved.
    "ja": "|_\\@[]:*\"&'",
}

# Usage (page 7) of each character key → its XT scancode (set 1, what a PC
# keyboard and QEMU's extended key event send).  The JIS Ro and Yen keys
# and the ISO key left of Z included.
XT_OF_USAGE = {}
for _i, _xt in enumerate((0x1e, 0x30, 0x2e, 0x20, 0x12, 0x21, 0x22, 0x23, 0x17, 0x24, 0x25,
                          0x26, 0x32, 0x31, 0x18, 0x19, 0x10, 0x13, 0x1f, 0x14, 0x16, 0x2f,
                          0x11, 0x2d, 0x15, 0x2c)):
    XT_OF_USAGE[0x04 + _i] = _xt                       # a..z
for _i in range(10):
    XT_OF_USAGE[0x1e + _i] = 0x02 + _i                 # 1..9, 0
XT_OF_USAGE.update({0x2c: 0x39, 0x2d: 0x0c, 0x2e: 0x0d, 0x2f: 0x1a, 0x30: 0x1b, 0x31: 0x2b,
                    0x32: 0x2b, 0x33: 0x27, 0x34: 0x28, 0x35: 0x29, 0x36: 0x33, 0x37: 0x34,
                    0x38: 0x35, 0x64: 0x56, 0x87: 0x73, 0x89: 0x7d})
QNUM_SHIFT_L = 0x2a
QNUM_ALTGR = 0xb8       # Right Alt: 0xe0 0x38 as QEMU's 0x80|code
QNUM_ESCAPE = 0x01
XK_ESCAPE = 0xff1b
LAYOUTS = ("en-us", "en-gb", "de", "fr", "es", "it", "pt-br", "sv", "ru", "ja")


def keysym(ch):
    cp = ord(ch)
    return cp if cp < 0x100 else 0x01000000 | cp


class Layouts(DaemonTestCase):
    def setUp(self):
        self.daemon_logs = []
        self.clients = []

    def check(self, layout, text, via):
        d = self.start_daemon(extra=("--layout", layout))
        v = self.viewer(daemon=d)
        rows = self.first_screen(v)
        cursor = prompt_cursor(rows)
        if via == "control":
            r = d.request({"cmd": "type", "text": text})
            self.assertIs(r.get("ok"), True, r)
        else:
            for ch in text:
                v.key(keysym(ch), True)
                v.key(keysym(ch), False)
        v.wait_screen(lambda r: command_text(r, cursor) == text, 8 * SLOW,
                      "%r typed on a %s target via %s" % (text, layout, via))

    def test_paste_per_layout(self):
        for layout, text in SAMPLES.items():
            with self.subTest(layout=layout):
                self.check(layout, text, "control")

    def test_keysyms_per_layout(self):
        for layout in ("de", "fr", "ru"):
            with self.subTest(layout=layout):
                self.check(layout, SAMPLES[layout], "keysyms")

    def test_paste_per_layout_exact(self):
        # The same mixed texts, checked byte for byte on what the target
        # received (its command line), not through the screen's glyphs.
        for layout in LAYOUTS:
            with self.subTest(layout=layout):
                d = self.start_daemon(extra=("--layout", layout))
                r = d.request({"cmd": "type", "text": SAMPLES[layout]})
                self.assertIs(r.get("ok"), True, r)
                self.assertEqual(d.request({"cmd": "target"})["line"], SAMPLES[layout])

    def levels(self, d, layout):
        """[(usage, shift, altgr, character)] of every character key level
        of the layout, as the daemon's tables say."""
        t = d.request({"cmd": "layout", "name": layout})
        self.assertIs(t.get("ok"), True, t)
        out = []
        for usage, *cps in t["keys"]:
            for lv, cp in enumerate(cps):
                if cp and (lv < 2 or t["altgr"]):
                    out.append((usage, bool(lv & 1), bool(lv & 2), chr(cp)))
        return out

    def typed_in_chunks(self, d, v, items, send, what):
        """Types items in chunks, comparing the target's line after each
        and clearing it with Escape."""
        for i in range(0, len(items), 24):
            chunk = items[i:i + 24]
            want = "".join(ch for *_, ch in chunk)
            for item in chunk:
                send(item)
            end = time.monotonic() + 5 * SLOW
            while True:
                v.pump(0.02)
                got = d.request({"cmd": "target"})["line"]
                if got == want or time.monotonic() > end:
                    break
            self.assertEqual(got, want, "%s: keys %s" % (what, [hex(u) for u, *_ in chunk]))
            v.key(XK_ESCAPE, True)
            v.key(XK_ESCAPE, False)

    def test_every_character_of_every_layout(self):
        # Each character every key level of a layout types, by keysym (a
        # viewer that sends characters) and by scancode (noVNC: the
        # physical key, with Shift and AltGr pressed as a user would),
        # arrives on a target that reads its keyboard with the same layout.
        for layout in LAYOUTS:
            with self.subTest(layout=layout):
                d = self.start_daemon(extra=("--layout", layout))
                v = self.viewer(daemon=d)
                self.first_screen(v)
                items = self.levels(d, layout)
                self.assertGreater(len(items), 90, "%s: too few characters in the table" % layout)
                missing = sorted({u for u, *_ in items if u not in XT_OF_USAGE})
                self.assertEqual(missing, [], "character keys without a scancode here")
                chars = sorted({ch for *_, ch in items})

                def by_keysym(item):
                    ks = keysym(item[3])
                    v.key(ks, True)
                    v.key(ks, False)

                self.typed_in_chunks(d, v, [(0, False, False, ch) for ch in chars], by_keysym,
                                     "%s by keysym" % layout)

                def by_scancode(item):
                    usage, shift, altgr, ch = item
                    if shift:
                        v.qemu_key(QNUM_SHIFT_L, True)
                    if altgr:
                        v.qemu_key(QNUM_ALTGR, True)
                    v.qemu_tap(XT_OF_USAGE[usage])
                    if altgr:
                        v.qemu_key(QNUM_ALTGR, False)
                    if shift:
                        v.qemu_key(QNUM_SHIFT_L, False)

                self.typed_in_chunks(d, v, items, by_scancode, "%s by scancode" % layout)
                self._stop_daemon(d)

    def test_untypeable_is_refused_before_typing(self):
        d = self.start_daemon(extra=("--layout", "ru"))
        v = self.viewer(daemon=d)
        rows = self.first_screen(v)
        cursor = prompt_cursor(rows)
        r = d.request({"cmd": "type", "text": "\u043f@"})   # '@' is not on ru
        self.assertIs(r.get("ok"), False, r)
        self.assertIn("U+0040", r.get("error", ""))
        v.pump(0.5 * SLOW)
        self.assertEqual(command_text(v.screen(), cursor), "", "part of a refused text was typed")

    def test_unknown_layout_is_an_error(self):
        dd = harness.Daemon(extra=("--layout", "klingon"))
        status, out = harness.run_checked(dd.argv)
        self.assertEqual(status, 2)
        self.assertIn("klingon", out)
        self.assertIn("en-us", out)


if __name__ == "__main__":
    unittest.main()
