#!/usr/bin/env python3
"""Writes the seed corpora tests/fuzz/corpus/<harness>/: a few small valid
inputs per harness, in each harness's input format (see the comment at the
top of each tests/fuzz/fuzz_*.c).  Rerun after changing a format:
    python3 tests/fuzz/mkseeds.py"""
import os
import struct
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(name, seeds):
    d = os.path.join(ROOT, name)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        os.unlink(os.path.join(d, f))
    for i, data in enumerate(seeds):
        with open(os.path.join(d, "seed-%02d" % i), "wb") as f:
            f.write(data)


# ---- RFB client messages (after the harness's handshake) ----
def set_pixel_format():
    return struct.pack(">BxxxBBBBHHHBBBxxx", 0, 32, 24, 0, 1, 255, 255, 255, 16, 8, 0)


def set_encodings(encs):
    return struct.pack(">BxH", 2, len(encs)) + b"".join(struct.pack(">i", e) for e in encs)


def fb_update_request(inc, x, y, w, h):
    return struct.pack(">BBHHHH", 3, inc, x, y, w, h)


def key_event(down, keysym):
    return struct.pack(">BBxxI", 4, down, keysym)


def pointer_event(mask, x, y):
    return struct.pack(">BBHH", 5, mask, x, y)


def cut_text(text):
    return struct.pack(">BxxxI", 6, len(text)) + text


def qemu_ext_key(down, keysym, code):
    return struct.pack(">BBHII", 255, 0, down, keysym, code)


def xvp(code):
    return struct.pack(">BxBB", 250, 1, code)


rfb = [
    b"\x00" + set_pixel_format() + fb_update_request(0, 0, 0, 64, 48),
    b"\x00" + set_encodings([0, 7, 16, 5, -258, -261, -309, -223]) +
    fb_update_request(0, 0, 0, 64, 48) + fb_update_request(1, 0, 0, 64, 48),
    b"\x02" + set_encodings([-258, -261]) + qemu_ext_key(1, 0x61, 0x1e) +
    qemu_ext_key(0, 0x61, 0x1e) + qemu_ext_key(1, 0, 0xc6),
    b"\x00" + key_event(1, 0xffe3) + key_event(1, 0x63) + key_event(0, 0x63) +
    key_event(0, 0xffe3) + pointer_event(1, 10, 10) + pointer_event(0, 70, 50),
    b"\x00" + cut_text(b"hello") + set_encodings([-309]) + xvp(2) + xvp(4),
    # raw: the whole handshake from the first byte
    b"\x01RFB 003.008\n\x01\x01" + set_encodings([0, 16]) + fb_update_request(0, 0, 0, 8, 8),
    b"\x01RFB 003.003\n\x01",
    # H.264: encoding 50 first, with webkvm's caps (0x574B1000 + n * 100
    # kbit/s, 0x574B2000 + fps), then back to Tight
    b"\x00" + set_pixel_format() + set_encodings([1, 50, 7, -223, 0x574B1000 + 20, 0x574B2000 + 15]) +
    fb_update_request(0, 0, 0, 64, 48) + fb_update_request(1, 0, 0, 64, 48) +
    key_event(1, 0x61) + key_event(0, 0x61) + fb_update_request(1, 0, 0, 64, 48) +
    set_encodings([7, 50]) + fb_update_request(0, 0, 0, 64, 48),
]

framing = [bytes([4]) + m[1:] for m in (rfb[0], rfb[2], rfb[3], rfb[4])] + [
    b"\x00RFB 003.008\n", b"\x01\x01", b"\x02" + bytes(16), b"\x03\x01",
]

# ---- proxy: first byte selects the parser ----
proxy = [
    b"\x00" + b"\x00".join([b"--web", b"/srv/web", b"127.0.0.1:6080", b"127.0.0.1:5900"]),
    b"\x00" + b"\x00".join([b"--token-plugin", b"TokenFile", b"--token-source", b"/etc/t",
                           b"--heartbeat", b"30", b"6080"]),
    b"\x01\x01[::1]:5900", b"\x01\x016080", b"\x01\x00localhost:5901",
    b"\x02abc: 127.0.0.1:5900", b"\x02# comment",
    b"\x03abc\nabc: host:5900\n# x\nbad line\ndef: [::1]:5901\n",
    b"\x04\x40a=b; token=abc123; c=d",
    b"\x05/index.html", b"\x05/sub/", b"\x05/a%20b/../c", b"\x05/out/passwd",
    b"\x06{\"a\":[1,2.5e3,true,null,\"\\u00e9\"],\"b\":{}}",
    b"\x07POST\x00/api/type\x00{\"text\":\"hi\"}", b"\x07GET\x00/api/status\x00",
    b"\x07POST\x00/api/key\x00{\"keys\":[\"ctrl\",\"alt\",\"delete\"]}",
    b"\x07POST\x00/api/power\x00{\"action\":\"reset\"}",
    b"\x08/api/status\x00{\"ok\":true}", b"\x08/api/power\x00{\"ok\":false,\"error\":\"x\"}",
    b"\x09index.html", b"\x09app.JS",
]

# ---- proxy login (auth.c): first byte selects the parser ----
HASH = b"$argon2id$v=19$m=65536,t=3,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNo"
proxy_auth = [
    b"\x00admin:" + HASH, b"\x00# users", b"\x00bad line",
    b"\x01admin\n# webkvm users\nadmin:" + HASH + b"\nbob:" + HASH + b"\n",
    b'\x02{"user":"admin","password":"s3cret \\u00e9"}',
    b"\x03webkvm_session\x00a=b; webkvm_session=" + b"0123456789abcdef" * 4,
    b"\x04\x00https://kvm.example:8443\x00kvm.example:8443",
    b"\x04\x01http://127.0.0.1:6080\x00127.0.0.1:6080\x00https://other.example",
    b"\x05\x0a\x64" + bytes([0, 0, 1, 1, 0, 2, 0, 1, 1, 2, 0, 3, 3, 0, 0, 1, 0, 200]),
    b"\x06" + bytes([0x41, 1, 0x41, 1, 0x41, 1, 0x41, 1, 0x41, 1, 0x01, 0, 0x81, 3]),
]

# ---- proxy request decisions (http.c) ----
def http_req(flags, method, path, upgrade=b"", version=b"", key=b"", prot=b"", origin=b"",
             host=b"", cookie=b"", clen=b"", token=b"", allow=b"", long_flags=0):
    return b"\x00" + bytes([flags, long_flags]) + b"\x00".join(
        [method, path, upgrade, version, key, prot, origin, host, cookie, clen, token, allow])


WS = dict(upgrade=b"websocket", version=b"13", key=b"dGhlIHNhbXBsZSBub25jZQ==")
LOGIN = b'{"user":"admin","password":"correct horse"}'
proxy_http = [
    http_req(0x08, b"GET", b"/index.html", host=b"127.0.0.1:6080"),
    http_req(0x08, b"HEAD", b"/app/ui.js"),
    http_req(0x08, b"GET", b"/a/%2e%2e/b"),
    http_req(0x02, b"GET", b"/vnc.html", host=b"kvm.example:8443"),
    http_req(0x50, b"GET", b"/websockify", origin=b"http://127.0.0.1:6080", host=b"127.0.0.1:6080", **WS),
    http_req(0x50, b"GET", b"/", origin=b"http://evil.example", host=b"127.0.0.1:6080", prot=b"binary", **WS),
    http_req(0x14, b"GET", b"/", prot=b"base64, webkvm-target", **WS),
    http_req(0x70, b"GET", b"/?token=abc", token=b"abc", **WS),
    http_req(0x70, b"GET", b"/", cookie=b"token=v6", **WS),
    http_req(0x10, b"GET", b"/", upgrade=b"h2c"),
    http_req(0x00, b"POST", b"/api/login", clen=b"45", origin=b"http://h", host=b"h"),
    http_req(0x40, b"POST", b"/api/logout", clen=b"0"),
    http_req(0x40, b"GET", b"/api/session", cookie=b"a=b"),
    http_req(0x80, b"GET", b"/api/session"),
    http_req(0x04, b"GET", b"/api/session"),
    http_req(0x40, b"POST", b"/api/type", clen=b"2000000"),
    http_req(0x40, b"POST", b"/api/type", clen=b"70000", origin=b"https://kvm.example",
             allow=b"https://kvm.example/"),
    http_req(0x40, b"GET", b"/api/status"),
    http_req(0x00, b"GET", b"/api/login"),
    b"\x01" + b"\x04" + b'{"user":"admin","password":"x"}\x00' + b"\x04" + b"{}\x00" +
    b"\x04" + LOGIN + b"\x00" + b"\x04" + LOGIN + b"\x00" + b"\xe0" + LOGIN + b"\x00" +
    b"\x11" + b'{"user":"nobody","password":"p"}\x00' + b"\x0c" + LOGIN + b"\x00",
    b"\x02\x20\x00" + bytes([10, 10, 10, 2, 1]),
    b'\x03daemon unreachable: "/run/x": \x01\xff\\',
]

# ---- firmware config ----
conf = b"""# webkvmd
board = sim
source = pattern
resolution = 1280x720
fps = 30
rfb-listen = 127.0.0.1:5901
desktop-name = kvm
log-level = debug
"""
fw_config = [
    b"\x00board\x00sim", b"\x00resolution\x001920x1080", b"\x00fps\x0060",
    b"\x00format\x00mjpeg,yuyv", b"\x00view-only\x00", b"\x00rfb-listen\x00[::1]:5900",
    b"\x01" + conf,
    b"\x02" + conf + b"\x00\x00" + b"\x00".join([b"--config", b"x", b"--fps=25", b"--view-only"]),
    b"\x02\x00\x00--board\x00sim\x00--resolution=800x600\x00--tile\x0064",
]

fw_json = [
    b'{"cmd":"status"}', b'{"cmd":"type","text":"Hello, w\xc3\xb6rld!\\n"}',
    b'{"cmd":"key","keys":["ctrl","alt","delete"]}', b'{"cmd":"power","action":"reset"}',
    b'{"cmd":"release"}', b'{"cmd":"type","text":"\\u00e9\\t\\"x\\""}',
    b"\xffh\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
]

# ---- capture ----
def edid(ext=0):
    b = bytearray(128)
    b[0:8] = b"\x00\xff\xff\xff\xff\xff\xff\x00"
    b[8:10] = b"\x10\xac"
    b[18:20] = b"\x01\x03"
    b[126] = ext
    b[127] = (-sum(b[:127])) & 0xff
    out = bytes(b)
    for _ in range(ext):
        e = bytearray(128)
        e[0] = 2
        e[1] = 3
        e[127] = (-sum(e[:127])) & 0xff
        out += bytes(e)
    return out


def ppm(w, h):
    return b"P6\n# c\n%d %d\n255\n" % (w, h) + bytes((i * 7) & 0xff for i in range(w * h * 3))


# 16x8 JPEGs (4:2:0 and greyscale), written once with libturbojpeg's
# tjCompress2 at quality 50.
JPEG_420 = bytes.fromhex(
    "ffd8ffe000104a46494600010100000100010000ffdb004300100b0c0e0c0a100e0d0e12"
    "11101318281a181616183123251d283a333d3c3933383740485c4e404457453738506d51"
    "575f626768673e4d71797064785c656763ffdb0043011112121815182f1a1a2f63423842"
    "636363636363636363636363636363636363636363636363636363636363636363636363"
    "6363636363636363636363636363ffc00011080008001003012200021101031101ffc400"
    "1f0000010501010101010100000000000000000102030405060708090a0bffc400b51000"
    "02010303020403050504040000017d010203000411051221314106135161072271143281"
    "91a1082342b1c11552d1f02433627282090a161718191a25262728292a3435363738393a"
    "434445464748494a535455565758595a636465666768696a737475767778797a83848586"
    "8788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6"
    "c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9faffc400"
    "1f0100030101010101010101010000000000000102030405060708090a0bffc400b51100"
    "020102040403040705040400010277000102031104052131061241510761711322328108"
    "144291a1b1c109233352f0156272d10a162434e125f11718191a262728292a3536373839"
    "3a434445464748494a535455565758595a636465666768696a737475767778797a828384"
    "85868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4"
    "c5c6c7c8c9cad2d3d4d5d6d7d8d9dae2e3e4e5e6e7e8e9eaf2f3f4f5f6f7f8f9faffda00"
    "0c03010002110311003f0010c71c7fbb5536f9c9098d9b1b821b690bd78f99c9c7d69a50"
    "9882b60293b41246c0e3a609c27233d15bb9a28a2fbb0da373ffd9")
JPEG_GRAY = bytes.fromhex(
    "ffd8ffe000104a46494600010100000100010000ffdb004300100b0c0e0c0a100e0d0e12"
    "11101318281a181616183123251d283a333d3c3933383740485c4e404457453738506d51"
    "575f626768673e4d71797064785c656763ffc0000b080008001001011100ffc4001f0000"
    "010501010101010100000000000000000102030405060708090a0bffc400b51000020103"
    "03020403050504040000017d01020300041105122131410613516107227114328191a108"
    "2342b1c11552d1f02433627282090a161718191a25262728292a3435363738393a434445"
    "464748494a535455565758595a636465666768696a737475767778797a83848586878889"
    "8a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9"
    "cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9faffda00080101"
    "00003f0010c71c7fbb5536f9c9098d9b1b821b690bd78f99c9c7d69a509882b60293b412"
    "46c0e3a609c27233d15bb9afffd9")
capture = [
    b"\x00" + edid(0), b"\x00" + edid(1),
    b"\x01" + ppm(4, 3), b"\x01P6 1 1 255\n\x01\x02\x03",
    b"\x03\x00\x03\x01" + bytes(range(64)),   # yuyv 4x2
    b"\x03\x05\x01\x01" + bytes(range(32)),   # xrgb32 2x2, two frames
    b"\x04\x00" + ppm(2, 2),
]
capture += [b"\x02" + JPEG_420, b"\x02" + JPEG_GRAY, b"\x04\x01" + JPEG_420,
            b"\x03\x06\x0f\x07" + JPEG_GRAY]

# ---- hid ----
kbd_desc = bytes([0x05, 0x01, 0x09, 0x06, 0xa1, 0x01, 0x05, 0x07, 0x19, 0xe0, 0x29, 0xe7,
                  0x15, 0x00, 0x25, 0x01, 0x75, 0x01, 0x95, 0x08, 0x81, 0x02, 0x95, 0x01,
                  0x75, 0x08, 0x81, 0x01, 0x95, 0x05, 0x75, 0x01, 0x05, 0x08, 0x19, 0x01,
                  0x29, 0x05, 0x91, 0x02, 0x95, 0x01, 0x75, 0x03, 0x91, 0x01, 0x95, 0x06,
                  0x75, 0x08, 0x15, 0x00, 0x25, 0x65, 0x05, 0x07, 0x19, 0x00, 0x29, 0x65,
                  0x81, 0x00, 0xc0])


def ev(kind, viewer, value, b6=0, b7=0):
    return struct.pack("<BBIBB", kind, viewer, value, b6, b7)


hid = [
    b"\x00" + kbd_desc, b"\x01\x03", b"\x01\x00\x02",
    b"\x02" + ev(0, 0, 0xffe1, 1) + ev(0, 0, 0x41, 1) + ev(0, 0, 0x41, 0) + ev(0, 0, 0xffe1, 0),
    b"\x02" + ev(1, 1, 0x1e, 1) + ev(1, 1, 0xe04b, 1) + ev(3, 0, 0, 1),
    b"\x02" + ev(2, 0, 100 | 200 << 16, 80, 60) + ev(2, 0, 0, 0x80) + ev(3, 0, 0, 0),
    b"\x02" + ev(5, 0, 2) + ev(0, 0, 0xe9, 1) + ev(7, 0, 1, 1) + ev(0, 0, 0x65, 1),
    b"\x02" + b"".join(ev(0, 0, 0x61 + i, 1) for i in range(8)) + ev(4, 1, 2),
    b"\x02" + ev(6, 2, 0x20ac, 1) + ev(6, 2, 0x20ac, 0),
]

# ---- sim: [header][report]...; header bit 0 iface, bit 7 custom length ----
def k(mods, *keys):
    return b"\x00" + bytes([mods, 0] + list(keys) + [0] * (6 - len(keys)))


def p(buttons, x, y, wheel=0):
    return b"\x01" + struct.pack("<BHHbb", buttons, x, y, wheel, 0)


typed = b"".join(k(0, u) + k(0) for u in [0x15, 0x08, 0x16, 0x2c, 0x20, 0x27, 0x1b, 0x20, 0x23, 0x27, 0x27, 0x28])
sim = [
    b"\x00" + typed,   # "res 320x300" typed, then Enter
    b"\x00" + k(0, 0x39) + k(0) + k(0, 0x53) + k(0) + k(2, 0x04) + k(0),
    b"\x00" + p(1, 1000, 1000) + p(0, 30000, 30000, 1) + p(2, 0, 0, -1),
    b"\x03" + k(0x40, 0x2f) + k(0) + k(0, 0x08) + k(0) + b"\x85\x01",
    b"\x00" + b"\xf1" + p(0, 0, 0)[1:] + k(0, 0x28) + k(0),
]

# ---- board.conf: the tree's own, and a few edges ----
BOARD_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "board")
board = []
for name in sorted(os.listdir(BOARD_DIR)):
    conf = os.path.join(BOARD_DIR, name, "board.conf")
    if os.path.isfile(conf):
        with open(conf, "rb") as f:
            board.append(f.read())
board += [
    b"ops = sim\nsource = sim\nresolution = 640x400\nfps = 60\nedid = e.bin\n",
    b"format = mjpeg, yuyv ,uyvy\nudc = a.b-c_d\nhid-profile = keyboard\npower-button =\n",
    b"fps = 30\nfps = 30\n",
]

put("board", board)
put("rfb", rfb)
put("rfb_framing", framing)
put("proxy", proxy)
put("proxy_auth", proxy_auth)
put("proxy_http", proxy_http)
put("fw_config", fw_config)
put("fw_json", fw_json)
put("capture", capture)
put("hid", hid)
put("sim", sim)
