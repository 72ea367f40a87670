"""The network edge's security against the real binaries: login and
sessions, the Origin check, the failed-login rate limit, the users tool,
TLS (self-signed certificate, protocol floor, HSTS, --ssl-only redirect)
and the privilege drop of build/webkvm-proxy.

Includes the contract of issue 8: `webkvm-proxy 127.0.0.1:PORT
127.0.0.1:RFBPORT --web DIR` without --auth none refuses a WebSocket upgrade
without a valid session, and one from a foreign Origin even with one."""
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import stat
import subprocess
import tempfile
import threading
import time
import unittest
import warnings

import harness
from harness import BUILD_DIR, SLOW, free_port, require
from wsclient import PROXY, HandshakeError, Proc, Target, WebSocket

PASSWD = os.path.join(BUILD_DIR, "webkvm-passwd")
WEB = os.path.join(harness.REPO, "web", "dist") if hasattr(harness, "REPO") else None

# A fixture made once with `webkvm-passwd add`: user "admin", password
# "correct horse".  Only these tests' temporary users files hold it.
ADMIN_LINE = ("admin:$argon2id$v=19$m=65536,t=3,p=1$+Jgh1IRAHbtnFUkqyh5XZw$"
              "nIpYPq9ZvbUJe0ePW53zRmekdTMlZigD0ZapD4aCjuk\n")
GOOD = {"user": "admin", "password": "correct horse"}


class Edge(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="webkvm-sec-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.users = os.path.join(self.dir, "users")
        with open(self.users, "w") as f:
            f.write(ADMIN_LINE)
        os.chmod(self.users, 0o600)
        self.web = os.path.join(self.dir, "web")
        os.mkdir(self.web)
        with open(os.path.join(self.web, "index.html"), "w") as f:
            f.write("<!DOCTYPE html><title>t</title>\n")
        self.target = Target("echo")
        self.addCleanup(self.target.close)

    def start(self, extra=(), users=True):
        port = free_port()
        argv = [PROXY, "127.0.0.1:%d" % port, "127.0.0.1:%d" % self.target.port, "--web", self.web]
        if users:
            argv += ["--users", self.users]
        p = Proc(argv + list(extra), "127.0.0.1", port)
        p.start()
        self.addCleanup(self.stop, p)
        return p

    def stop(self, p):
        if p.proc is not None:
            p.stop_checked()

    def request(self, p, method, path, body=None, headers=None, tls=False):
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            c = http.client.HTTPSConnection("127.0.0.1", p.port, timeout=10 * SLOW, context=ctx)
        else:
            c = http.client.HTTPConnection("127.0.0.1", p.port, timeout=10 * SLOW)
        h = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode() if not isinstance(body, bytes) else body
            h.setdefault("Content-Type", "application/json")
        elif method == "POST":
            data = b""
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        raw = r.read()
        c.close()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), raw

    def login(self, p, creds=GOOD, headers=None):
        status, hdrs, raw = self.request(p, "POST", "/api/login", creds, headers)
        return status, hdrs, raw

    def session_cookie(self, p):
        status, hdrs, raw = self.login(p)
        self.assertEqual(status, 200, raw)
        m = re.match(r"webkvm_session=([0-9a-f]{64});", hdrs["set-cookie"])
        self.assertIsNotNone(m, hdrs["set-cookie"])
        return "webkvm_session=" + m.group(1)

    def ws(self, p, headers=()):
        w = WebSocket("127.0.0.1", p.port, headers=list(headers))
        self.addCleanup(w.close_socket)
        return w

    def assertRefused(self, p, headers, code):
        with self.assertRaises(HandshakeError) as cm:
            self.ws(p, headers)
        self.assertIn(" %d " % code, str(cm.exception).split("\n")[0] + " ")

    def assertBridges(self, p, headers):
        w = self.ws(p, headers)
        w.send(b"ping")
        self.assertEqual(w.recv_bytes(4), b"ping")


class Login(Edge):
    def test_contract_upgrade_needs_a_session(self):
        p = self.start()
        self.assertRefused(p, [], 401)
        self.assertRefused(p, ["Cookie: webkvm_session=" + "0" * 64], 401)
        self.assertRefused(p, ["Origin: http://127.0.0.1:%d" % p.port], 401)
        cookie = self.session_cookie(p)
        self.assertBridges(p, ["Cookie: " + cookie])
        self.assertBridges(p, ["Cookie: " + cookie, "Origin: http://127.0.0.1:%d" % p.port])

    def test_contract_foreign_origin_refused_with_a_session(self):
        p = self.start()
        cookie = self.session_cookie(p)
        for origin in ("http://evil.example", "http://127.0.0.1:%d" % (p.port + 1),
                       "https://127.0.0.1:%d" % p.port, "null"):
            self.assertRefused(p, ["Cookie: " + cookie, "Origin: " + origin], 403)
        self.assertIn("foreign Origin", p.logs())

    def test_allow_origin(self):
        p = self.start(["--allow-origin", "https://kvm.example.com"])
        cookie = self.session_cookie(p)
        self.assertBridges(p, ["Cookie: " + cookie, "Origin: https://kvm.example.com"])
        self.assertRefused(p, ["Cookie: " + cookie, "Origin: https://other.example.com"], 403)

    def test_cookie_attributes_and_session(self):
        p = self.start()
        status, hdrs, raw = self.login(p)
        self.assertEqual(status, 200, raw)
        self.assertEqual(json.loads(raw)["user"], "admin")
        attrs = [a.strip() for a in hdrs["set-cookie"].split(";")]
        self.assertIn("HttpOnly", attrs)
        self.assertIn("SameSite=Strict", attrs)
        self.assertIn("Path=/", attrs)
        # A Secure cookie would never come back over plain http.
        self.assertNotIn("Secure", attrs)
        cookie = attrs[0]
        status, _, raw = self.request(p, "GET", "/api/session", headers={"Cookie": cookie})
        self.assertEqual(status, 200, raw)
        self.assertEqual(json.loads(raw)["user"], "admin")
        # Two logins, two different sessions.
        self.assertNotEqual(self.session_cookie(p), cookie)

    def test_bad_logins(self):
        p = self.start()
        for creds in ({"user": "admin", "password": "wrong"}, {"user": "nobody", "password": "x"},
                      {"user": "admin", "password": ""}):
            status, hdrs, raw = self.login(p, creds)
            self.assertEqual(status, 401, creds)
            self.assertNotIn("set-cookie", hdrs)
            self.request(p, "POST", "/api/logout")     # nothing to end; harmless
            time.sleep(0)
            if creds["user"] == "nobody":
                break
        for body in (b"", b"{", b'{"user":"admin"}', b'{"user":1,"password":"x"}', b"[]"):
            status, _, raw = self.request(p, "POST", "/api/login", body)
            self.assertEqual(status, 400, body)
        self.assertIn('failed login as "admin"', p.logs())
        self.assertIn("127.0.0.1", p.logs())

    def test_api_needs_a_session(self):
        p = self.start()
        for method, path in (("GET", "/api/session"), ("GET", "/api/status"), ("POST", "/api/power")):
            status, _, _ = self.request(p, method, path)
            self.assertEqual(status, 401, path)
        # The page itself (and the login page) is public.
        status, _, _ = self.request(p, "GET", "/")
        self.assertEqual(status, 200)

    def test_post_from_foreign_origin_refused(self):
        p = self.start()
        cookie = self.session_cookie(p)
        status, _, _ = self.request(p, "POST", "/api/logout",
                                    headers={"Cookie": cookie, "Origin": "http://evil.example"})
        self.assertEqual(status, 403)
        status, _, _ = self.login(p, headers={"Origin": "http://evil.example"})
        self.assertEqual(status, 403)
        # The session survived the forged logout.
        status, _, _ = self.request(p, "GET", "/api/session", headers={"Cookie": cookie})
        self.assertEqual(status, 200)

    def test_logout(self):
        p = self.start()
        cookie = self.session_cookie(p)
        status, hdrs, _ = self.request(p, "POST", "/api/logout",
                                       headers={"Cookie": cookie, "Origin": "http://127.0.0.1:%d" % p.port})
        self.assertEqual(status, 200)
        self.assertIn("Max-Age=0", hdrs.get("set-cookie", ""))
        status, _, _ = self.request(p, "GET", "/api/session", headers={"Cookie": cookie})
        self.assertEqual(status, 401)
        self.assertRefused(p, ["Cookie: " + cookie], 401)

    def test_idle_expiry(self):
        p = self.start(["--session-idle", "2"])
        cookie = self.session_cookie(p)
        # Used every 0.5 s, it outlives the idle time ...
        for _ in range(6):
            status, _, _ = self.request(p, "GET", "/api/session", headers={"Cookie": cookie})
            self.assertEqual(status, 200)
            time.sleep(0.5)
        # ... and ends once left alone for it.
        time.sleep(2.5)
        status, _, _ = self.request(p, "GET", "/api/session", headers={"Cookie": cookie})
        self.assertEqual(status, 401)
        self.assertRefused(p, ["Cookie: " + cookie], 401)

    def test_absolute_expiry(self):
        p = self.start(["--session-max", "2"])
        cookie = self.session_cookie(p)
        for _ in range(3):      # used all the time: idle expiry does not apply
            time.sleep(0.8)
            status, _, _ = self.request(p, "GET", "/api/session", headers={"Cookie": cookie})
        self.assertEqual(status, 401)

    def test_rate_limit_grows(self):
        p = self.start()
        bad = {"user": "admin", "password": "guess"}
        for _ in range(3):
            self.assertEqual(self.login(p, bad)[0], 401)
        # Blocked now, even with the right password.
        status, hdrs, raw = self.login(p)
        self.assertEqual(status, 429, raw)
        self.assertGreaterEqual(int(hdrs["retry-after"]), 1)
        time.sleep(int(hdrs["retry-after"]) + 1.1)
        self.assertEqual(self.login(p, bad)[0], 401)
        status, hdrs, _ = self.login(p)
        self.assertEqual(status, 429)
        logs = p.logs()
        self.assertIn("next try allowed in 1 s", logs)
        self.assertIn("next try allowed in 2 s", logs)
        # Once the wait is over, a good login clears the count.
        time.sleep(int(hdrs["retry-after"]) + 1.1)
        self.assertEqual(self.login(p)[0], 200)
        self.assertEqual(self.login(p, bad)[0], 401)
        self.assertEqual(self.login(p)[0], 200)

    def test_more_than_16_waiting_logins_get_503(self):
        # README: at most 16 logins wait for the password check worker;
        # more are refused at once with 503 instead of queueing without
        # bound.  A slow hash (argon2id t=8, about 0.5 s) keeps the first
        # check running while all the others arrive.
        with open(self.users, "a") as f:
            f.write("slow:$argon2id$v=19$m=65536,t=8,p=1$d2Via3ZtLXNsb3ctc2FsdA$"
                    "/0XJC+bkT23Tl1EII1ySbV/W6sYhMe79eSB78EmUlf4\n")
        p = self.start()
        body = json.dumps({"user": "slow", "password": "guess"}).encode()
        total, checking, waiting = 24, 1, 16
        conns = []
        for _ in range(total):
            c = http.client.HTTPConnection("127.0.0.1", p.port, timeout=30 * SLOW)
            c.request("POST", "/api/login", body=body, headers={"Content-Type": "application/json"})
            conns.append(c)
        statuses = []
        for c in conns:
            r = c.getresponse()
            raw = r.read()
            statuses.append(r.status)
            if r.status == 503:
                self.assertIn("too many logins", json.loads(raw)["error"])
            c.close()
        self.assertEqual(statuses.count(503), total - checking - waiting, statuses)
        # The ones that waited were answered as usual: checked (401) or,
        # past the free failures, rate limited (429).
        self.assertEqual(sorted(set(statuses) - {503}), [401, 429], statuses)
        self.assertIn("16 logins already waiting for a password check; refused", p.logs())


class Startup(Edge):
    def run_proxy(self, *args):
        r = subprocess.run([PROXY] + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=10 * SLOW)
        return r.returncode, r.stdout.decode("utf-8", "replace")

    def test_auth_none_needs_loopback(self):
        code, out = self.run_proxy("--auth", "none", "0.0.0.0:%d" % free_port(), "127.0.0.1:5900")
        self.assertEqual(code, 2, out)
        self.assertIn("loopback", out)

    def test_no_users_refuses_a_public_address(self):
        missing = os.path.join(self.dir, "none")
        for listen in ("0.0.0.0:%d" % free_port(), "%d" % free_port()):
            code, out = self.run_proxy("--users", missing, listen, "127.0.0.1:5900")
            self.assertEqual(code, 2, out)
            self.assertIn("webkvm-passwd add --file %s NAME" % missing, out)

    def test_no_users_on_loopback_refuses_logins(self):
        self.users = os.path.join(self.dir, "none")
        p = self.start()
        self.assertIn("webkvm-passwd add", p.logs())
        status, _, raw = self.login(p)
        self.assertEqual(status, 503)
        self.assertIn("webkvm-passwd add --file", json.loads(raw)["error"])
        self.assertRefused(p, [], 401)

    @require(os.geteuid() == 0, "needs root to drop privileges")
    def test_user_drop(self):
        p = self.start(["--user", "nobody"])
        with open("/proc/%d/status" % p.proc.pid) as f:
            uids = [l for l in f if l.startswith(("Uid:", "Gid:"))]
        nobody = subprocess.run(["id", "-u", "nobody"], stdout=subprocess.PIPE).stdout.decode().strip()
        self.assertEqual(uids[0].split()[1:], [nobody] * 4, uids)
        self.assertIn("running as user nobody", p.logs())
        # Still works after the drop: the users file was read before it.
        self.assertBridges(p, ["Cookie: " + self.session_cookie(p)])

    def test_user_unknown_refused(self):
        port = free_port()
        code, out = self.run_proxy("--auth", "none", "--user", "no-such-user-x", "127.0.0.1:%d" % port,
                                   "127.0.0.1:5900")
        self.assertNotEqual(code, 0, out)
        self.assertIn("no-such-user-x", out)


@require(os.access(PASSWD, os.X_OK), "build/webkvm-passwd not built")
class Passwd(Edge):
    def passwd(self, *args, stdin=""):
        r = subprocess.run([PASSWD] + list(args), input=stdin.encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30 * SLOW)
        return r.returncode, r.stdout.decode(), r.stderr.decode()

    def test_add_del_list(self):
        f = os.path.join(self.dir, "etc", "users")
        os.mkdir(os.path.dirname(f))
        self.assertEqual(self.passwd("add", "--file", f, "alice", stdin="pw-alice\n")[0], 0)
        self.assertEqual(self.passwd("add", "--file", f, "bob", stdin="pw-bob\n")[0], 0)
        self.assertEqual(stat.S_IMODE(os.stat(f).st_mode), 0o600)
        self.assertEqual(self.passwd("list", "--file", f)[1].split(), ["alice", "bob"])
        with open(f) as fh:
            text = fh.read()
        self.assertNotIn("pw-alice", text)
        self.assertEqual(len(re.findall(r"^\w+:\$argon2id\$v=19\$m=65536,t=3,p=1\$", text, re.M)), 2)
        # Changing a password replaces the line.
        self.assertEqual(self.passwd("add", "--file", f, "alice", stdin="new-pw\n")[0], 0)
        self.assertEqual(self.passwd("list", "--file", f)[1].split(), ["bob", "alice"])
        self.assertEqual(self.passwd("del", "--file", f, "bob")[0], 0)
        self.assertEqual(self.passwd("list", "--file", f)[1].split(), ["alice"])
        self.assertNotEqual(self.passwd("del", "--file", f, "bob")[0], 0)
        self.assertNotEqual(self.passwd("add", "--file", f, "bad:name", stdin="x\n")[0], 0)
        self.assertNotEqual(self.passwd("add", "--file", f, "carol", stdin="\n")[0], 0)
        self.assertEqual(sorted(os.listdir(os.path.dirname(f))), ["users"])
        # The proxy takes what the tool wrote.
        self.users = f
        p = self.start()
        self.assertEqual(self.login(p, {"user": "alice", "password": "new-pw"})[0], 200)
        self.assertEqual(self.login(p, {"user": "alice", "password": "pw-alice"})[0], 401)


@require(shutil.which("openssl"), "no openssl")
class Tls(Edge):
    def test_self_signed_made_once_and_kept(self):
        state = os.path.join(self.dir, "state")
        p = self.start(["--tls", "--state-dir", state])
        cert, key = os.path.join(state, "cert.pem"), os.path.join(state, "key.pem")
        for f in (cert, key):
            self.assertEqual(stat.S_IMODE(os.stat(f).st_mode), 0o600, f)
        out = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-text"],
                             stdout=subprocess.PIPE).stdout.decode()
        self.assertIn("DNS:localhost", out)
        self.assertIn("IP Address:127.0.0.1", out)
        with open(cert, "rb") as f:
            first = f.read()
        status, hdrs, _ = self.request(p, "GET", "/", tls=True)
        self.assertEqual(status, 200)
        self.assertEqual(hdrs.get("strict-transport-security"), "max-age=31536000")
        status, hdrs, _ = self.login(p) if False else self.request(p, "POST", "/api/login", GOOD, tls=True)
        self.assertEqual(status, 200)
        self.assertIn("Secure", [a.strip() for a in hdrs["set-cookie"].split(";")])
        self.stop(p)
        p.proc = None
        p2 = self.start(["--tls", "--state-dir", state])
        with open(cert, "rb") as f:
            self.assertEqual(f.read(), first, "the certificate was made again")
        self.assertIn("using the self-signed certificate", p2.logs())

    def test_tls_1_1_refused_1_2_accepted(self):
        p = self.start(["--tls", "--state-dir", os.path.join(self.dir, "state")])
        cert, key = (os.path.join(self.dir, "state", f) for f in ("cert.pem", "key.pem"))

        def hello(version, port):
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            # SECLEVEL 0: Debian's OpenSSL would refuse TLS 1.1 itself at
            # 1 or more, and the refusal must be the server's.
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                ctx.minimum_version = version
                ctx.maximum_version = version
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                with ctx.wrap_socket(s) as t:
                    return t.version()

        # The same client gets TLS 1.1 from a server that allows it (with
        # the proxy's own certificate): the client can offer it.
        ctl = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctl.load_cert_chain(cert, key)
        ctl.set_ciphers("DEFAULT:@SECLEVEL=0")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctl.minimum_version = ssl.TLSVersion.TLSv1_1
        lsock = socket.socket()
        self.addCleanup(lsock.close)
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(1)

        def serve():
            try:
                c, _ = lsock.accept()
                with ctl.wrap_socket(c, server_side=True) as t:
                    t.settimeout(5)
                    t.recv(1)
            except OSError:
                pass

        th = threading.Thread(target=serve, daemon=True)
        th.start()
        self.assertEqual(hello(ssl.TLSVersion.TLSv1_1, lsock.getsockname()[1]), "TLSv1.1",
                         "the client cannot offer TLS 1.1 here: the test would prove nothing")
        th.join(5)

        self.assertEqual(hello(ssl.TLSVersion.TLSv1_2, p.port), "TLSv1.2")
        with self.assertRaises(ssl.SSLError) as e:
            hello(ssl.TLSVersion.TLSv1_1, p.port)
        # The server's protocol_version alert, not a refusal of our own.
        self.assertEqual(e.exception.reason, "TLSV1_ALERT_PROTOCOL_VERSION", e.exception)

    def test_ssl_only_redirects_http(self):
        p = self.start(["--ssl-only", "--state-dir", os.path.join(self.dir, "state")])
        status, hdrs, _ = self.request(p, "GET", "/", headers={"Host": "127.0.0.1:%d" % p.port})
        self.assertEqual(status, 301)
        self.assertEqual(hdrs["location"], "https://127.0.0.1:%d/" % p.port)
        self.assertEqual(self.request(p, "GET", "/", tls=True)[0], 200)


if __name__ == "__main__":
    unittest.main()
