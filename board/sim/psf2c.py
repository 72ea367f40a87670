#!/usr/bin/env python3
"""Converts a Linux console font (PSF1 or PSF2, optionally gzipped) into the
C tables of the virtual target's font (declared in board/sim/font.h).

    python3 board/sim/psf2c.py FONT.psf[.gz] OUT.c

The sim draws 8x16 cells, so only 8x16 fonts are accepted.  The output is
written to a temporary file and renamed, so a failed run never leaves a
half-written file that make would take as up to date.
"""

import gzip
import os
import struct
import sys
import zlib

PSF1_MAGIC = b"\x36\x04"
PSF1_MODE512 = 0x01
PSF1_MODEHASTAB = 0x02
PSF1_MODEHASSEQ = 0x04
PSF1_SEPARATOR = 0xFFFF
PSF1_STARTSEQ = 0xFFFE

PSF2_MAGIC = b"\x72\xb5\x4a\x86"
PSF2_HAS_UNICODE_TABLE = 0x01
PSF2_SEPARATOR = 0xFF
PSF2_STARTSEQ = 0xFE

GLYPH_W = 8
GLYPH_H = 16
MAX_GLYPHS = 65535  # glyph indices are uint16_t in the C table


class FontError(Exception):
    pass


def read_font_bytes(path):
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise FontError(f"cannot read: {e.strerror}") from e
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise FontError(f"bad gzip data: {e}") from e
    return raw


def check_size(width, height):
    if width != GLYPH_W or height != GLYPH_H:
        raise FontError(f"glyphs are {width}x{height}, the sim needs "
                        f"{GLYPH_W}x{GLYPH_H}")


def parse_psf1(data):
    if len(data) < 4:
        raise FontError("truncated PSF1 header")
    mode, charsize = data[2], data[3]
    check_size(GLYPH_W, charsize)
    n = 512 if mode & PSF1_MODE512 else 256
    end = 4 + n * charsize
    if len(data) < end:
        raise FontError(f"truncated glyph data ({len(data)} bytes, "
                        f"{n} glyphs need {end})")
    glyphs = [data[4 + i * charsize:4 + (i + 1) * charsize] for i in range(n)]
    if not mode & (PSF1_MODEHASTAB | PSF1_MODEHASSEQ):
        return glyphs, None
    table = data[end:]
    if len(table) % 2:
        raise FontError("unicode table has an odd number of bytes")
    values = struct.unpack(f"<{len(table) // 2}H", table)
    entries = []
    pos = 0
    for _ in range(n):
        cps = []
        in_seq = False
        while True:
            if pos >= len(values):
                raise FontError("truncated unicode table")
            v = values[pos]
            pos += 1
            if v == PSF1_SEPARATOR:
                break
            if v == PSF1_STARTSEQ:
                # Combining sequences need several code points per cell;
                # the sim draws one code point per cell, so they are skipped.
                in_seq = True
            elif not in_seq and not 0xD800 <= v <= 0xDFFF:
                cps.append(v)
        entries.append(cps)
    return glyphs, entries


def parse_psf2(data):
    if len(data) < 32:
        raise FontError("truncated PSF2 header")
    (_version, headersize, flags, n, charsize,
     height, width) = struct.unpack("<7I", data[4:32])
    check_size(width, height)
    if charsize != (width + 7) // 8 * height:
        raise FontError(f"bytes per glyph {charsize} do not match "
                        f"{width}x{height}")
    if n == 0 or n > MAX_GLYPHS:
        raise FontError(f"glyph count {n} out of range 1..{MAX_GLYPHS}")
    if headersize < 32 or headersize > len(data):
        raise FontError(f"bad header size {headersize}")
    end = headersize + n * charsize
    if len(data) < end:
        raise FontError(f"truncated glyph data ({len(data)} bytes, "
                        f"{n} glyphs need {end})")
    glyphs = [data[headersize + i * charsize:headersize + (i + 1) * charsize]
              for i in range(n)]
    if not flags & PSF2_HAS_UNICODE_TABLE:
        return glyphs, None
    table = data[end:]
    entries = []
    pos = 0
    for i in range(n):
        stop = table.find(bytes([PSF2_SEPARATOR]), pos)
        if stop < 0:
            raise FontError("truncated unicode table")
        chunk = table[pos:stop]
        pos = stop + 1
        single = chunk.split(bytes([PSF2_STARTSEQ]), 1)[0]
        try:
            text = single.decode("utf-8")
        except UnicodeDecodeError as e:
            raise FontError(f"glyph {i}: bad UTF-8 in unicode table") from e
        entries.append([ord(c) for c in text
                        if not 0xD800 <= ord(c) <= 0xDFFF])
    return glyphs, entries


def parse_font(data):
    if data[:4] == PSF2_MAGIC:
        return parse_psf2(data)
    if data[:2] == PSF1_MAGIC:
        return parse_psf1(data)
    raise FontError("not a PSF1 or PSF2 font")


def build_map(glyphs, entries):
    """Sorted (code point, glyph) pairs; the first glyph that claims a code
    point wins, as the kernel's console does."""
    if entries is None:
        # No table: the font is taken to be indexed by code point (Latin-1
        # for 256 glyphs), which is what the kernel assumes too.
        return [(i, i) for i in range(len(glyphs))]
    best = {}
    for g, cps in enumerate(entries):
        for cp in cps:
            best.setdefault(cp, g)
    return sorted(best.items())


def emit(out, src_name, glyphs, cmap):
    lines = [
        f"/* Generated by board/sim/psf2c.py from {src_name}: do not edit. */",
        '#include "board/sim/font.h"',
        "",
        f"const uint8_t sim__font_bits[{len(glyphs)}][16] = {{",
    ]
    for i, g in enumerate(glyphs):
        hexes = ", ".join(f"0x{b:02x}" for b in g)
        lines.append(f"\t{{{hexes}}},\t/* {i} */")
    lines += [
        "};",
        f"const size_t sim__font_nglyphs = {len(glyphs)};",
        "",
        "const struct sim__font_map sim__font_map[] = {",
    ]
    for cp, g in cmap:
        lines.append(f"\t{{0x{cp:06x}, {g}}},")
    lines += [
        "};",
        f"const size_t sim__font_map_len = {len(cmap)};",
        "",
    ]
    out.write("\n".join(lines))


def main(argv):
    if len(argv) != 3:
        print("usage: psf2c.py FONT.psf[.gz] OUT.c", file=sys.stderr)
        return 2
    src, dst = argv[1], argv[2]
    try:
        glyphs, entries = parse_font(read_font_bytes(src))
        cmap = build_map(glyphs, entries)
        if not cmap:
            raise FontError("unicode table maps no code point")
    except FontError as e:
        print(f"psf2c: {src}: {e}", file=sys.stderr)
        return 1
    tmp = f"{dst}.tmp{os.getpid()}"
    try:
        with open(tmp, "w", encoding="ascii") as f:
            emit(f, os.path.basename(src), glyphs, cmap)
        os.replace(tmp, dst)
    except OSError as e:
        print(f"psf2c: {dst}: {e.strerror}", file=sys.stderr)
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
