"""Reads the virtual target's text console back out of pixels.

The sim draws every character cell with the VGA 8x16 font scaled by an
integer factor, one background and one foreground colour per cell (see
board/sim/sim.h).  So a cell is read exactly: the most common colour is the
background, every other pixel is foreground, and the foreground mask, sampled
once per font pixel, must equal one glyph of the same font bit for bit.
Nothing here is fuzzy: a cell that matches no glyph reads as '?'.
"""

import gzip
import os
import struct

FONT_PATH = os.environ.get("WEBKVM_FONT", "/usr/share/consolefonts/Uni2-VGA16.psf.gz")
GLYPH_W = 8
GLYPH_H = 16
UNKNOWN = "?"

_glyphs = None


def _read_psf(path):
    """Returns {glyph bitmap (16 bytes): character} for a PSF1 or PSF2 font
    with a Unicode table.  When several code points share a glyph, ASCII
    wins, then the lowest code point, so 'A' reads as 'A' and not as Greek
    Alpha."""
    data = gzip.open(path).read() if path.endswith(".gz") else open(path, "rb").read()
    if data[:2] == b"\x36\x04":
        mode, charsize = data[2], data[3]
        count = 512 if mode & 0x01 else 256
        if charsize != GLYPH_H:
            raise ValueError("%s: glyphs are %d bytes, want %d" % (path, charsize, GLYPH_H))
        if not mode & 0x06:
            raise ValueError("%s: no unicode table" % path)
        bitmaps = data[4:4 + count * charsize]
        pos = 4 + count * charsize
        codes = []
        for _ in range(count):
            cps = []
            in_seq = False
            while True:
                if pos + 2 > len(data):
                    raise ValueError("%s: unicode table truncated" % path)
                (v,) = struct.unpack_from("<H", data, pos)
                pos += 2
                if v == 0xFFFF:
                    break
                if v == 0xFFFE:
                    in_seq = True   # combining sequences: not single characters
                elif not in_seq:
                    cps.append(v)
            codes.append(cps)
    elif data[:4] == b"\x72\xb5\x4a\x86":
        hdrsize, flags, count, charsize, height, width = struct.unpack_from("<6I", data, 8)
        if (width, height, charsize) != (GLYPH_W, GLYPH_H, GLYPH_H) or not flags & 1:
            raise ValueError("%s: not an 8x16 font with unicode table" % path)
        bitmaps = data[hdrsize:hdrsize + count * charsize]
        pos = hdrsize + count * charsize
        codes = []
        for _ in range(count):
            end = data.index(b"\xff", pos)
            entry = data[pos:end]
            pos = end + 1
            text = entry.split(b"\xfe")[0].decode("utf-8", "replace")
            codes.append([ord(c) for c in text])
    else:
        raise ValueError("%s: not a PSF font" % path)

    table = {}
    for i, cps in enumerate(codes):
        if not cps:
            continue
        bm = bytes(bitmaps[i * GLYPH_H:(i + 1) * GLYPH_H])
        best = min(cps, key=lambda c: (c >= 128, c))
        old = table.get(bm)
        if old is None or (ord(old) >= 128, ord(old)) > (best >= 128, best):
            table[bm] = chr(best)
    # An empty cell is a space whatever the font calls its blank glyphs.
    table[bytes(GLYPH_H)] = " "
    return table


def glyph_table():
    global _glyphs
    if _glyphs is None:
        _glyphs = _read_psf(FONT_PATH)
    return _glyphs


def glyph_of(ch):
    """The bitmap the font draws for ch (16 bytes), or None."""
    for bm, c in glyph_table().items():
        if c == ch:
            return bm
    return None


class Geometry:
    """The console grid of a w×h screen, as sim.h defines it."""

    def __init__(self, width, height):
        self.width, self.height = width, height
        self.scale = max(1, min(width // 640, height // 360))
        self.cell_w = GLYPH_W * self.scale
        self.cell_h = GLYPH_H * self.scale
        self.cols = width // self.cell_w
        self.rows = height // self.cell_h

    def cell_rect(self, row, col, ncols=1):
        """Pixel rectangle (x, y, w, h) of ncols cells from (row, col)."""
        return (col * self.cell_w, row * self.cell_h, ncols * self.cell_w, self.cell_h)

    def cell_centre(self, row, col):
        return (col * self.cell_w + self.cell_w // 2, row * self.cell_h + self.cell_h // 2)

    def __repr__(self):
        return "Geometry(%dx%d scale %d, %d cols x %d rows)" % (
            self.width, self.height, self.scale, self.cols, self.rows)


def read_cells(pixels, width, height, stride=None, rows=None):
    """OCR of an image given as a sequence of 24-bit colour ints (any
    channel order, one int per pixel, `stride` ints per line).  Returns
    (geometry, {row: [(char, bg, fg), ...]}) for the rows asked (default all).
    fg is None for an empty cell."""
    geo = Geometry(width, height)
    stride = stride or width
    table = glyph_table()
    off = geo.scale // 2
    line_len = geo.cols * GLYPH_W
    out = {}
    for r in (range(geo.rows) if rows is None else rows):
        if r < 0 or r >= geo.rows:
            raise IndexError("row %d outside 0..%d" % (r, geo.rows - 1))
        lines = []
        for gy in range(GLYPH_H):
            y = r * geo.cell_h + gy * geo.scale + off
            start = y * stride + off
            lines.append(list(pixels[start:start + line_len * geo.scale:geo.scale]))
        cells = []
        for c in range(geo.cols):
            a = c * GLYPH_W
            vals = []
            for ln in lines:
                vals.extend(ln[a:a + GLYPH_W])
            colours = set(vals)
            if len(colours) == 1:
                cells.append((" ", vals[0], None))
                continue
            bg = max(colours, key=vals.count)
            others = colours - {bg}
            fg = max(others, key=vals.count)
            if len(others) > 1:
                # More than two colours: something (the pointer) is drawn on
                # top and the cell cannot be read.
                cells.append((UNKNOWN, bg, fg))
                continue
            mask = bytearray(GLYPH_H)
            inv = bytearray(GLYPH_H)
            for gy in range(GLYPH_H):
                m = 0
                for v in vals[gy * GLYPH_W:(gy + 1) * GLYPH_W]:
                    m = (m << 1) | (v != bg)
                mask[gy] = m
                inv[gy] = m ^ 0xFF
            ch = table.get(bytes(mask))
            if ch is None:
                # A glyph with more ink than paper (e.g. a shade block).
                ch = table.get(bytes(inv))
                if ch is None:
                    ch = UNKNOWN
                else:
                    bg, fg = fg, bg
            cells.append((ch, bg, fg))
        out[r] = cells
    return geo, out


def read_text(pixels, width, height, stride=None, rows=None):
    """Like read_cells but returns {row: text with trailing spaces removed}."""
    geo, cells = read_cells(pixels, width, height, stride, rows)
    return geo, {r: "".join(c[0] for c in cs).rstrip(" ") for r, cs in cells.items()}
