"""Just enough of PNG and JPEG to check what real VNC clients saved.

PNG: 8-bit greyscale, RGB, grey+alpha or RGBA, not interlaced (what
gdk-pixbuf writes), decoded to one 0xRRGGBB int per pixel.  JPEG: only the
frame size from the SOF marker (the pixels are lossy, nothing to compare).
"""

import struct
import zlib

PNG_SIG = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}


class ImageError(Exception):
    pass


def _paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def decode_png(data):
    """Returns (width, height, [0xRRGGBB, ...]) row by row."""
    if data[:8] != PNG_SIG:
        raise ImageError("not a PNG (signature %r)" % data[:8])
    pos = 8
    ihdr = None
    idat = []
    while pos + 8 <= len(data):
        length, ctype = struct.unpack_from(">I4s", data, pos)
        body = data[pos + 8:pos + 8 + length]
        if len(body) != length or pos + 12 + length > len(data):
            raise ImageError("chunk %r truncated" % ctype)
        if zlib.crc32(ctype + body) != struct.unpack_from(">I", data, pos + 8 + length)[0]:
            raise ImageError("chunk %r: bad CRC" % ctype)
        pos += 12 + length
        if ctype == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif ctype == b"IDAT":
            idat.append(body)
        elif ctype == b"IEND":
            break
    if ihdr is None:
        raise ImageError("no IHDR")
    width, height, depth, colour, comp, filt, interlace = ihdr
    if depth != 8 or colour not in _CHANNELS or comp or filt or interlace:
        raise ImageError("unsupported PNG: depth %d colour type %d interlace %d"
                         % (depth, colour, interlace))
    if not (0 < width <= 16384 and 0 < height <= 16384):
        raise ImageError("PNG size %dx%d out of range" % (width, height))
    bpp = _CHANNELS[colour]
    raw = zlib.decompress(b"".join(idat))
    rowlen = width * bpp
    if len(raw) != height * (rowlen + 1):
        raise ImageError("PNG data is %d bytes, want %d" % (len(raw), height * (rowlen + 1)))

    prev = bytearray(rowlen)
    pixels = []
    for y in range(height):
        ftype = raw[y * (rowlen + 1)]
        line = bytearray(raw[y * (rowlen + 1) + 1:(y + 1) * (rowlen + 1)])
        if ftype == 1:
            for i in range(bpp, rowlen):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif ftype == 2:
            for i in range(rowlen):
                line[i] = (line[i] + prev[i]) & 0xFF
        elif ftype == 3:
            for i in range(rowlen):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif ftype == 4:
            for i in range(rowlen):
                if i >= bpp:
                    line[i] = (line[i] + _paeth(line[i - bpp], prev[i], prev[i - bpp])) & 0xFF
                else:
                    line[i] = (line[i] + prev[i]) & 0xFF
        elif ftype != 0:
            raise ImageError("row %d: unknown filter %d" % (y, ftype))
        if bpp >= 3:
            pixels.extend((line[i] << 16) | (line[i + 1] << 8) | line[i + 2]
                          for i in range(0, rowlen, bpp))
        else:
            pixels.extend(line[i] * 0x010101 for i in range(0, rowlen, bpp))
        prev = line
    return width, height, pixels


def jpeg_size(data):
    """(width, height) from the first SOF marker of a JPEG file."""
    if data[:2] != b"\xff\xd8":
        raise ImageError("not a JPEG (starts %r)" % data[:4])
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise ImageError("JPEG: no marker at offset %d" % pos)
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        (seglen,) = struct.unpack_from(">H", data, pos + 2)
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            if pos + 9 > len(data):
                break
            height, width = struct.unpack_from(">HH", data, pos + 5)
            return width, height
        if marker == 0xDA:
            break
        pos += 2 + seglen
    raise ImageError("JPEG: no SOF marker")
