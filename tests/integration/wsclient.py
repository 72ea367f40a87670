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
                 headers=(), family=None, tls=False, rcvbuf=None):
        fam = family or (socket.AF_INET6 if ":" in host else socket.AF_INET)
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        if rcvbuf:      # a small fixed window: the proxy's writes fill it
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        if tls:
            import ssl
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            self.sock = ctx.wrap_socket(self.sock)
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
            pending = getattr(self.sock, "pending", lambda: 0)()
            r, _, _ = select.select([self.sock], [], [], 0 if pending else left)
            if not r and not pending:
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
        """At least n bytes of data messages (whole messages), whatever their
        framing."""
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


# ---- processes and peers for the proxy tests ----

import subprocess
import tempfile
import threading

from harness import BUILD_DIR, SLOW, exit_problem, free_port, terminate

PROXY = os.path.join(BUILD_DIR, "webkvm-proxy")


def port_open(host, port, family=socket.AF_INET):
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(1)
            s.connect((host, port))
            return True
    except OSError:
        return False


class Proc:
    """A proxy (ours or Debian's websockify) listening on host:port."""

    def __init__(self, argv, host, port, family=socket.AF_INET, name="webkvm-proxy"):
        self.argv, self.host, self.port, self.family, self.name = argv, host, port, family, name
        self.dir = tempfile.mkdtemp(prefix="webkvm-proxy-it-")
        self.log_path = os.path.join(self.dir, "proxy.log")
        self.proc = None

    def start(self, timeout=10.0):
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env, start_new_session=True)
        end = time.monotonic() + timeout * SLOW
        while not port_open(self.host, self.port, self.family):
            if self.proc.poll() is not None:
                raise AssertionError("%s exited with %d at start: %s\n%s"
                                     % (self.name, self.proc.returncode, " ".join(self.argv), self.logs()))
            if time.monotonic() > end:
                raise AssertionError("%s not listening: %s" % (self.name, " ".join(self.argv)))
            time.sleep(0.05)
        return self

    def logs(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return -1

    def stop_checked(self, timeout=5.0):
        """stop(), then AssertionError with the reason when the process had
        died, had to be killed, exited non-zero or printed a sanitizer
        report.  Returns (status, logs)."""
        died = self.proc is not None and self.proc.poll() is not None
        status, logs = self.stop(timeout)
        problem = exit_problem(self.name, status, logs, died)
        if problem:
            raise AssertionError(problem + "\n" + logs[-3000:])
        return status, logs

    def stop(self, timeout=5.0):
        """SIGTERM; returns (status, logs)."""
        if self.proc is None:
            return None, ""
        terminate(self.proc, timeout)
        self.log.close()
        logs = self.logs()
        status = self.proc.returncode
        self.proc = None
        for f in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, f))
        os.rmdir(self.dir)
        return status, logs


class Target:
    """A TCP server run by the test.  mode: "echo"; "flood" (sends as fast as
    it can until the peer goes); "stream" (sends `data`, then closes);
    "drop" (sends `data`, then closes at once); "session" (sends `data`,
    reads `expect` bytes into self.received, then closes)."""

    def __init__(self, mode, data=b"", host="127.0.0.1", expect=0):
        self.mode, self.data, self.expect = mode, data, expect
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.received = []
        self.conns = []
        self.stopped = False
        self.sent = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            if self.mode == "echo":
                while True:
                    d = c.recv(1 << 16)
                    if not d:
                        break
                    c.sendall(d)
            elif self.mode == "stall":
                while not self.stopped:         # accepts, never reads
                    time.sleep(0.05)
            elif self.mode == "flood":
                chunk = b"\xa5" * (1 << 16)
                while not self.stopped:
                    c.sendall(chunk)
                    self.sent += len(chunk)
            elif self.mode in ("session", "drop"):
                c.sendall(self.data)
                if self.mode == "session":
                    got = b""
                    c.settimeout(10)
                    while len(got) < self.expect:
                        d = c.recv(1 << 16)
                        if not d:
                            break
                        got += d
                    self.received.append(got)
        except OSError:
            pass
        finally:
            c.close()

    def close(self):
        self.stopped = True
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass


def closed_port():
    """A loopback port nothing listens on."""
    return free_port()
