"""A small WebSocket client (RFC 6455) and helpers for the proxy tests,
Python standard library only.  Frames are sent masked, as a client must."""

import base64
import hashlib
import os
import select
import socket
import struct
import time

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


class HandshakeError(AssertionError):
    def __init__(self, status, head):
        super().__init__("WebSocket handshake refused: %s" % head[:300])
        self.status = status
        self.head = head


def http_raw(host, port, request, timeout=5.0, family=socket.AF_INET):
    """Sends raw request bytes, returns (status, headers dict, body) of the
    answer, reading until the peer closes or Content-Length is complete."""
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((host, port))
    try:
        s.sendall(request)
        buf = b""
        while b"\r\n\r\n" not in buf:
            d = s.recv(65536)
            if not d:
                break
            buf += d
        head, _, body = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        if not lines or not lines[0].startswith("HTTP/"):
            return None, {}, buf
        status = int(lines[0].split()[1])
        hdrs = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        want = int(hdrs.get("content-length", "-1"))
        head_req = request.startswith(b"HEAD ")
        while not head_req and (want < 0 or len(body) < want):
            try:
                d = s.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not d:
                break
            body += d
        return status, hdrs, body
    finally:
        s.close()


class WebSocket:
    def __init__(self, host, port, path="/websockify", protocols=None, timeout=5.0,
                 headers=(), family=None):
        fam = family or (socket.AF_INET6 if ":" in host else socket.AF_INET)
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.timeout = timeout
        self.buf = b""
        self.pongs = []
        self.close_code = None
        self.close_reason = None
        key = base64.b64encode(os.urandom(16))
        hosthdr = "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)
        req = ["GET %s HTTP/1.1" % path, "Host: " + hosthdr, "Upgrade: websocket",
               "Connection: Upgrade", "Sec-WebSocket-Key: " + key.decode(),
               "Sec-WebSocket-Version: 13"]
        if protocols:
            req.append("Sec-WebSocket-Protocol: " + ", ".join(protocols))
        req += list(headers)
        self.sock.sendall(("\r\n".join(req) + "\r\n\r\n").encode())
        while b"\r\n\r\n" not in self.buf:
            d = self.sock.recv(65536)
            if not d:
                break
            self.buf += d
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1]) if lines and lines[0].startswith("HTTP/") else None
        if status != 101:
            self.sock.close()
            raise HandshakeError(status, head.decode("latin-1"))
        self.headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
        if self.headers.get("sec-websocket-accept") != accept:
            raise AssertionError("bad Sec-WebSocket-Accept: %r" % self.headers)
        self.protocol = self.headers.get("sec-websocket-protocol")

    def close_socket(self):
        try:
            self.sock.close()
        except OSError:
            pass

    # ---- sending ----
    def send_frame(self, opcode, payload, fin=True):
        n = len(payload)
        hdr = bytes([(0x80 if fin else 0) | opcode])
        if n < 126:
            hdr += bytes([0x80 | n])
        elif n < 65536:
            hdr += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            hdr += bytes([0x80 | 127]) + struct.pack("!Q", n)
        mask = os.urandom(4)
        # XOR through int arithmetic: fast enough for MiB payloads.
        m = (mask * (n // 4 + 1))[:n]
        body = (int.from_bytes(payload, "big") ^ int.from_bytes(m, "big")).to_bytes(n, "big") if n else b""
        self.sock.sendall(hdr + mask + body)

    def send(self, data):
        self.send_frame(OP_BINARY, data)

    def ping(self, data=b"hi"):
        self.send_frame(OP_PING, data)

    def close(self, code=1000, reason=b""):
        try:
            self.send_frame(OP_CLOSE, struct.pack("!H", code) + reason)
        except OSError:
            pass

    # ---- receiving ----
    def _fill(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("WebSocket: no data within the timeout")
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                continue
            d = self.sock.recv(1 << 20)
            if not d:
                raise ConnectionError("WebSocket: connection closed by the proxy")
            self.buf += d

    def recv_frame(self, timeout=None):
        """(fin, opcode, payload) of the next frame."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        self._fill(2, deadline)
        b0, b1 = self.buf[0], self.buf[1]
        if b1 & 0x80:
            raise AssertionError("server frame is masked")
        n = b1 & 0x7F
        off = 2
        if n == 126:
            self._fill(4, deadline)
            n = struct.unpack("!H", self.buf[2:4])[0]
            off = 4
        elif n == 127:
            self._fill(10, deadline)
            n = struct.unpack("!Q", self.buf[2:10])[0]
            off = 10
        self._fill(off + n, deadline)
        payload = self.buf[off:off + n]
        self.buf = self.buf[off + n:]
        return bool(b0 & 0x80), b0 & 0x0F, payload

    def recv_message(self, timeout=None):
        """(opcode, payload) of the next data message; answers pings, keeps
        pongs in self.pongs; a close frame sets close_code and returns
        (OP_CLOSE, payload)."""
        parts, op = [], None
        while True:
            fin, opcode, payload = self.recv_frame(timeout)
            if opcode == OP_PING:
                self.send_frame(OP_PONG, payload)
                continue
            if opcode == OP_PONG:
                self.pongs.append(payload)
                continue
            if opcode == OP_CLOSE:
                if len(payload) >= 2:
                    self.close_code = struct.unpack("!H", payload[:2])[0]
                    self.close_reason = payload[2:].decode("utf-8", "replace")
                return OP_CLOSE, payload
            if op is None:
                op = opcode
            parts.append(payload)
            if fin:
                return op, b"".join(parts)

    def recv_bytes(self, n, timeout=None):
        """Exactly n bytes of data messages, whatever their framing."""
        out = b""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while len(out) < n:
            op, data = self.recv_message(max(0.01, deadline - time.monotonic()))
            if op == OP_CLOSE:
                raise ConnectionError("WebSocket closed (%s %s) after %d of %d bytes"
                                      % (self.close_code, self.close_reason, len(out), n))
            out += data
        return out

    def wait_close(self, timeout=None):
        """Reads until a close frame; returns (code, reason)."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while True:
            op, _ = self.recv_message(max(0.01, deadline - time.monotonic()))
            if op == OP_CLOSE:
                return self.close_code, self.close_reason
