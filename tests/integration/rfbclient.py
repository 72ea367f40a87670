"""A small RFB 3.8 viewer for black-box tests of webkvmd.

It decodes Raw and CopyRect into a local framebuffer (32 bpp, B,G,R,X in
memory), understands the pseudo-encodings webkvmd offers (DesktopSize,
ExtendedDesktopSize, QEMU Extended Key Event, QEMU LED state, XVP,
LastRect), and can walk over Hextile, Zlib, ZRLE and Tight rectangles
without decoding them, to count their bytes.  Open H.264 (encoding 50)
rectangles are split into their header (u32 length, u32 flags) and
Annex-B payload and kept in `h264` for a decoder (h264dec, h264.py).  Every read has a deadline:
a test never hangs on the daemon.
"""

import array
import select
import socket
import struct
import time

import ocr

# Encodings
RAW = 0
COPYRECT = 1
HEXTILE = 5
ZLIB = 6
TIGHT = 7
ZRLE = 16
H264 = 50                   # "Open H.264": u32 length, u32 flags, Annex-B
DESKTOP_SIZE = -223
LAST_RECT = -224
QEMU_KEY = -258
QEMU_LED = -261
EXT_DESKTOP_SIZE = -308
XVP = -309
COMPRESS_LEVEL_0 = -256     # -256 + level
QUALITY_LEVEL_0 = -32       # -32 + level
# webkvm's own pseudo-encodings: + n, an H.264 viewer's caps
H264_KBPS_0 = 0x574B1000    # bitrate cap n * 100 kbit/s, n = 1..255
H264_FPS_0 = 0x574B2000     # frame-rate cap n fps, n = 1..60
# Flags of an encoding-50 rectangle
H264_RESET, H264_RESET_ALL = 1, 2
# No sane payload comes near this: a longer one means the stream is misread.
H264_MAX_PAYLOAD = 64 << 20

DEFAULT_ENCODINGS = (RAW, DESKTOP_SIZE, EXT_DESKTOP_SIZE, QEMU_KEY, QEMU_LED)
DECODED = (RAW, COPYRECT)

# XVP operations
XVP_FAIL, XVP_INIT, XVP_SHUTDOWN, XVP_REBOOT, XVP_RESET = 0, 1, 2, 3, 4

# Keysyms
XK_BACKSPACE = 0xFF08
XK_RETURN = 0xFF0D
XK_SHIFT_L = 0xFFE1
XK_CAPS_LOCK = 0xFFE5
XK_NUM_LOCK = 0xFF7F
XK_SCROLL_LOCK = 0xFF14
XK_UP = 0xFF52
XK_DOWN = 0xFF54

# LED bits of the QEMU LED state pseudo-encoding
LED_SCROLL, LED_NUM, LED_CAPS = 1, 2, 4

# XT scancodes (set 1) of a US keyboard; extended keys in QEMU's "qnum"
# form (0xe0XX -> 0x80|XX).
XT_SHIFT_L = 0x2A
XT_ENTER = 0x1C
XT_CAPS_LOCK = 0x3A
XT_NUM_LOCK = 0x45
XT_DOWN = 0xD0      # 0xe0 0x50
XT_UP = 0xC8        # 0xe0 0x48
_XT_ROWS = (
    (0x02, "1234567890-="),
    (0x10, "qwertyuiop[]"),
    (0x1E, "asdfghjkl;'`"),
    (0x2B, "\\zxcvbnm,./"),
)
XT_OF = {" ": 0x39, "\n": XT_ENTER}
for _base, _keys in _XT_ROWS:
    for _i, _k in enumerate(_keys):
        XT_OF[_k] = _base + _i
_SHIFTED_PAIRS = dict(zip('!@#$%^&*()_+{}:"~|<>?', "1234567890-=[];'`\\,./"))
_SHIFTED_PAIRS["+"] = "="
_SHIFTED_PAIRS["_"] = "-"
_SHIFTED_PAIRS["{"] = "["
_SHIFTED_PAIRS["}"] = "]"


def us_key(ch):
    """(unshifted character, shift needed) of ch on a US keyboard."""
    if ch.isupper() and ch.isascii():
        return ch.lower(), True
    if ch in _SHIFTED_PAIRS:
        return _SHIFTED_PAIRS[ch], True
    return ch, False


def keysym_of(ch):
    if ch == "\n":
        return XK_RETURN
    if 0x20 <= ord(ch) <= 0xFF:
        return ord(ch)
    return 0x01000000 | ord(ch)


class RFBError(Exception):
    pass


class Closed(RFBError):
    """The server closed the connection."""


class Timeout(RFBError):
    pass


class Client:
    def __init__(self, port, host="127.0.0.1", timeout=5.0, rcvbuf=None):
        if rcvbuf:
            # Set before connect so the window the server sees is small.
            self.sock = socket.socket()
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            self.sock.settimeout(timeout)
            self.sock.connect((host, port))
        else:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.rx_bytes = 0           # bytes read from the socket
        self.consumed = 0           # bytes parsed as messages
        self.width = self.height = 0
        self.name = ""
        self.fb = bytearray()
        self.fb_valid = False       # every pixel came from a decoded rect
        self.covered = bytearray()
        self.encodings = ()
        self.auto_request = True
        self.updates = 0            # FramebufferUpdate messages
        self.rects = []             # (time, x, y, w, h, encoding) of every rect
        self.update_log = []        # (time, bytes, [(x, y, w, h, enc)]) per update
        self.h264 = []              # (time, update index, x, y, w, h, flags, payload)
        self.leds = []              # LED bytes in arrival order
        self.qemu_key_acks = 0
        self.xvp = []               # (version, code)
        self.resizes = []           # (w, h, encoding)
        self.bells = 0
        self.cut_texts = []
        self._ocr_cache = (None, None)

    # ---- bytes ----

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError) as e:
            raise Closed("send: %s" % e)

    def _fill(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Timeout("waited for %d bytes, have %d" % (n, len(self.buf)))
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                continue
            try:
                data = self.sock.recv(1 << 20)
            except ConnectionResetError as e:
                raise Closed("connection reset: %s" % e)
            if not data:
                raise Closed("server closed the connection")
            self.rx_bytes += len(data)
            self.buf += data

    def _take(self, n, deadline):
        self._fill(n, deadline)
        out = bytes(self.buf[:n])
        del self.buf[:n]
        self.consumed += n
        return out

    def _readable(self, timeout):
        if self.buf:
            return True
        r, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
        return bool(r)

    # ---- handshake ----

    def handshake(self, encodings=DEFAULT_ENCODINGS, shared=True, set_format=True,
                  request=True, timeout=5.0):
        d = time.monotonic() + timeout
        version = self._take(12, d)
        if version != b"RFB 003.008\n":
            raise RFBError("server version %r, want RFB 003.008" % version)
        self.send(b"RFB 003.008\n")
        (n,) = self._take(1, d)
        if n == 0:
            (ln,) = struct.unpack(">I", self._take(4, d))
            raise RFBError("server refused: %r" % self._take(min(ln, 4096), d))
        types = self._take(n, d)
        if 1 not in types:
            raise RFBError("security type None not offered: %r" % list(types))
        self.send(b"\x01")
        (result,) = struct.unpack(">I", self._take(4, d))
        if result != 0:
            raise RFBError("security result %d" % result)
        self.send(b"\x01" if shared else b"\x00")
        w, h = struct.unpack(">HH", self._take(4, d))
        self.server_format = self._take(16, d)
        (ln,) = struct.unpack(">I", self._take(4, d))
        if ln > 4096:
            raise RFBError("desktop name of %d bytes" % ln)
        self.name = self._take(ln, d).decode("utf-8", "replace")
        self._resize(w, h)
        if set_format:
            self.set_pixel_format()
        if encodings is not None:
            self.set_encodings(encodings)
        if request:
            self.request(incremental=False)
        return self

    # ---- client messages ----

    def set_pixel_format(self):
        # 32 bpp, depth 24, little endian, true colour, R<<16 G<<8 B: B,G,R,X in memory.
        self.send(struct.pack(">B3xBBBBHHHBBB3x", 0, 32, 24, 0, 1, 255, 255, 255, 16, 8, 0))

    def set_encodings(self, encodings):
        self.encodings = tuple(encodings)
        self.send(struct.pack(">BxH", 2, len(encodings)) +
                  b"".join(struct.pack(">i", e) for e in encodings))

    def request(self, incremental=True, x=0, y=0, w=None, h=None):
        w = self.width if w is None else w
        h = self.height if h is None else h
        self.send(struct.pack(">BBHHHH", 3, 1 if incremental else 0, x, y, w, h))

    def key(self, keysym, down):
        self.send(struct.pack(">BBxxI", 4, 1 if down else 0, keysym))

    def tap(self, keysym):
        self.key(keysym, True)
        self.key(keysym, False)

    def type_keysyms(self, text, explicit_shift=True):
        """Types text with KeyEvents.  explicit_shift presses Shift_L around
        shifted characters, as a desktop viewer does; without it only the
        character's keysym is sent (as on-screen keyboards and scripts do)."""
        for ch in text:
            shift = explicit_shift and us_key(ch)[1]
            if shift:
                self.key(XK_SHIFT_L, True)
            self.tap(keysym_of(ch))
            if shift:
                self.key(XK_SHIFT_L, False)

    def qemu_key(self, keycode, down, keysym=0):
        self.send(struct.pack(">BBHII", 255, 0, 1 if down else 0, keysym, keycode))

    def qemu_tap(self, keycode, keysym=0):
        self.qemu_key(keycode, True, keysym)
        self.qemu_key(keycode, False, keysym)

    def type_qemu(self, text):
        for ch in text:
            base, shift = us_key(ch)
            if base not in XT_OF:
                raise ValueError("no XT scancode for %r" % ch)
            if shift:
                self.qemu_key(XT_SHIFT_L, True, XK_SHIFT_L)
            self.qemu_tap(XT_OF[base], keysym_of(ch))
            if shift:
                self.qemu_key(XT_SHIFT_L, False, XK_SHIFT_L)

    def pointer(self, x, y, buttons=0):
        self.send(struct.pack(">BBHH", 5, buttons, x, y))

    def click(self, x, y, button=1):
        self.pointer(x, y, 0)
        self.pointer(x, y, button)
        self.pointer(x, y, 0)

    def cut_text(self, text):
        data = text.encode("latin-1")
        self.send(struct.pack(">B3xI", 6, len(data)) + data)

    def xvp_op(self, op, version=1):
        self.send(struct.pack(">BxBB", 250, version, op))

    # ---- server messages ----

    def _resize(self, w, h):
        if w <= 0 or h <= 0 or w > 16384 or h > 16384:
            raise RFBError("framebuffer size %dx%d" % (w, h))
        self.width, self.height = w, h
        self.fb = bytearray(w * h * 4)
        self.fb_valid = False
        self.covered = bytearray(w * h)     # pixels known since the resize

    def _cover(self, x, y, w, h, known):
        """Records which pixels the local framebuffer holds: fb_valid is
        true once every pixel came from a decoded rectangle."""
        w = max(0, min(w, self.width - x))
        fill = (b"\x01" if known else b"\x00") * w
        for row in range(y, min(y + h, self.height)):
            o = row * self.width + x
            self.covered[o:o + w] = fill
        if not known:
            self.fb_valid = False

    def _check_rect(self, x, y, w, h, enc):
        if x + w > self.width or y + h > self.height:
            raise RFBError("rect %dx%d+%d+%d (encoding %d) outside the %dx%d framebuffer"
                           % (w, h, x, y, enc, self.width, self.height))

    def _compact_len(self, d):
        n = 0
        for shift in (0, 7, 14):
            (b,) = self._take(1, d)
            n |= (b & 0x7F) << shift
            if not b & 0x80 or shift == 14:
                break
        return n

    def _skip_tight(self, w, h, d):
        (cc,) = self._take(1, d)
        comp = cc >> 4
        if comp == 8:           # fill: one TPIXEL
            self._take(3, d)
            return
        if comp == 9:           # JPEG
            self._take(self._compact_len(d), d)
            return
        if comp > 9:
            raise RFBError("tight: bad compression control 0x%02x" % cc)
        filt = 0
        if comp & 4:
            (filt,) = self._take(1, d)
        if filt == 1:
            (n,) = self._take(1, d)
            self._take((n + 1) * 3, d)
            rowbytes = (w + 7) // 8 if n + 1 <= 2 else w
        elif filt in (0, 2):
            rowbytes = w * 3
        else:
            raise RFBError("tight: bad filter %d" % filt)
        size = rowbytes * h
        if size < 12:
            self._take(size, d)
        else:
            self._take(self._compact_len(d), d)

    def _skip_hextile(self, w, h, d):
        for ty in range(0, h, 16):
            for tx in range(0, w, 16):
                tw, th = min(16, w - tx), min(16, h - ty)
                (sub,) = self._take(1, d)
                if sub & 1:
                    self._take(tw * th * 4, d)
                    continue
                if sub & 2:
                    self._take(4, d)
                if sub & 4:
                    self._take(4, d)
                if sub & 8:
                    (n,) = self._take(1, d)
                    self._take(n * (6 if sub & 16 else 2), d)

    def _read_update(self, d):
        start = self.consumed - 1
        (n,) = struct.unpack(">xH", self._take(3, d))
        now = time.monotonic()
        got = []
        for _ in range(n):
            x, y, w, h, enc = struct.unpack(">HHHHi", self._take(12, d))
            got.append((x, y, w, h, enc))
            self.rects.append((now, x, y, w, h, enc))
            if enc in DECODED:
                self._cover(x, y, w, h, True)
            if enc == RAW:
                self._check_rect(x, y, w, h, enc)
                data = self._take(w * h * 4, d)
                stride = self.width * 4
                for row in range(h):
                    o = (y + row) * stride + x * 4
                    self.fb[o:o + w * 4] = data[row * w * 4:(row + 1) * w * 4]
            elif enc == COPYRECT:
                self._check_rect(x, y, w, h, enc)
                sx, sy = struct.unpack(">HH", self._take(4, d))
                self._check_rect(sx, sy, w, h, enc)
                stride = self.width * 4
                rows = [bytes(self.fb[(sy + r) * stride + sx * 4:(sy + r) * stride + (sx + w) * 4])
                        for r in range(h)]
                for r in range(h):
                    o = (y + r) * stride + x * 4
                    self.fb[o:o + w * 4] = rows[r]
            elif enc == DESKTOP_SIZE:
                self.resizes.append((w, h, enc))
                self._resize(w, h)
            elif enc == EXT_DESKTOP_SIZE:
                (screens,) = self._take(1, d)
                self._take(3 + 16 * screens, d)
                # y is the status: non-zero answers a failed SetDesktopSize.
                if y == 0:
                    self.resizes.append((w, h, enc))
                    if (w, h) != (self.width, self.height):
                        self._resize(w, h)
            elif enc == QEMU_KEY:
                self.qemu_key_acks += 1
            elif enc == QEMU_LED:
                (leds,) = self._take(1, d)
                self.leds.append(leds)
            elif enc == LAST_RECT:
                break
            elif enc in (ZLIB, ZRLE):
                (ln,) = struct.unpack(">I", self._take(4, d))
                self._take(ln, d)
                self._cover(x, y, w, h, False)
            elif enc == TIGHT:
                self._skip_tight(w, h, d)
                self._cover(x, y, w, h, False)
            elif enc == HEXTILE:
                self._skip_hextile(w, h, d)
                self._cover(x, y, w, h, False)
            elif enc == H264:
                self._check_rect(x, y, w, h, enc)
                ln, flags = struct.unpack(">II", self._take(8, d))
                if ln > H264_MAX_PAYLOAD:
                    raise RFBError("H.264 rect of %d bytes" % ln)
                self.h264.append((now, self.updates, x, y, w, h, flags, self._take(ln, d)))
                self._cover(x, y, w, h, False)
            else:
                raise RFBError("rect with unknown encoding %d" % enc)
        if not self.fb_valid and self.covered.find(0) < 0:
            self.fb_valid = True
        self.updates += 1
        self.update_log.append((now, self.consumed - start, got))
        if self.auto_request:
            self.request(incremental=True)

    def read_message(self, deadline):
        (t,) = self._take(1, deadline)
        if t == 0:
            self._read_update(deadline)
        elif t == 1:
            _, n = struct.unpack(">xHH", self._take(5, deadline))
            self._take(6 * n, deadline)
        elif t == 2:
            self.bells += 1
        elif t == 3:
            (ln,) = struct.unpack(">3xI", self._take(7, deadline))
            if ln > 1 << 24:
                raise RFBError("ServerCutText of %d bytes" % ln)
            self.cut_texts.append(self._take(ln, deadline))
        elif t == 250:
            version, code = struct.unpack(">xBB", self._take(3, deadline))
            self.xvp.append((version, code))
        else:
            raise RFBError("unknown server message type %d" % t)
        return t

    def pump(self, seconds):
        """Handles messages for `seconds`."""
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0 or not self._readable(left):
                return
            self.read_message(time.monotonic() + 10)

    def drain(self):
        """Handles whatever has arrived already."""
        while self._readable(0):
            self.read_message(time.monotonic() + 10)

    def wait_for(self, pred, timeout=5.0, what="condition"):
        """Handles messages until pred() is true; AssertionError on timeout."""
        end = time.monotonic() + timeout
        while True:
            self.drain()
            if pred():
                return
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))
            if self._readable(min(left, 0.5)):
                self.read_message(time.monotonic() + 10)

    # ---- the screen ----

    def pixels(self):
        """The framebuffer as 0xRRGGBB ints (one per pixel)."""
        px = array.array("I")
        if px.itemsize != 4:
            raise RFBError("array 'I' is not 32-bit here")
        px.frombytes(bytes(self.fb))
        return [v & 0xFFFFFF for v in px]

    def pixel(self, x, y):
        o = (y * self.width + x) * 4
        b, g, r = self.fb[o], self.fb[o + 1], self.fb[o + 2]
        return (r << 16) | (g << 8) | b

    def geometry(self):
        return ocr.Geometry(self.width, self.height)

    def screen(self):
        """OCR of the whole screen: list of row texts (cached per update)."""
        key = (self.updates, self.width, self.height)
        if self._ocr_cache[0] != key:
            _, rows = ocr.read_text(self.pixels(), self.width, self.height)
            self._ocr_cache = (key, [rows[r] for r in sorted(rows)])
        return self._ocr_cache[1]

    def cells(self, row):
        _, cells = ocr.read_cells(self.pixels(), self.width, self.height, rows=[row])
        return cells[row]

    def wait_screen(self, pred, timeout=5.0, what="screen"):
        """Waits until pred(rows) holds for the OCR'd screen; the assertion
        message shows the last screen seen."""
        def ok():
            return self.fb_valid and pred(self.screen())
        try:
            self.wait_for(ok, timeout, what)
        except AssertionError as e:
            shown = "\n".join("%3d|%s" % (i, r) for i, r in enumerate(self.screen())) \
                if self.fb_valid else "(no complete frame)"
            raise AssertionError("%s; last screen %dx%d:\n%s" % (e, self.width, self.height, shown))
        return self.screen()


def wait_all(clients, pred, timeout=5.0, what="condition"):
    """Like Client.wait_for but keeps reading every client meanwhile, as
    separate viewers would: a viewer left unread can stall the server."""
    end = time.monotonic() + timeout
    while True:
        for c in clients:
            c.drain()
        if pred():
            return
        left = end - time.monotonic()
        if left <= 0:
            raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))
        ready = [c for c in clients if c.buf]
        if not ready:
            r, _, _ = select.select([c.sock for c in clients], [], [], min(left, 0.5))
            ready = [c for c in clients if c.sock in r]
        for c in ready:
            c.read_message(time.monotonic() + 10)


def screens_all(clients, pred, timeout=5.0, what="screens"):
    """Waits until pred(rows) holds on every client's OCR'd screen."""
    def ok():
        return all(c.fb_valid and pred(c.screen()) for c in clients)
    try:
        wait_all(clients, ok, timeout, what)
    except AssertionError as e:
        shown = []
        for i, c in enumerate(clients):
            shown.append("viewer %d %dx%d:" % (i, c.width, c.height))
            if c.fb_valid:
                shown.extend("%3d|%s" % (j, r) for j, r in enumerate(c.screen()))
            else:
                shown.append("(no complete frame)")
        raise AssertionError("%s; last screens:\n%s" % (e, "\n".join(shown)))
