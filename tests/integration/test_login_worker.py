"""Password checks off the proxy's event loop (issue 8).

argon2id costs a large fraction of a second of CPU and 64 MiB per login.
build/webkvm-proxy runs it on a worker thread, so while logins are being
checked the event loop still answers everyone else.  No absolute timing is
asserted: the tests compare the order in which answers arrive, which a
blocking loop cannot get right however fast or slow the machine is.  They
also check that moving the check to a thread kept the failed-login rate
limit exact."""
import http.client
import json
import os
import shutil
import socket
import tempfile
import threading
import time
import unittest

from harness import SLOW, free_port
from wsclient import PROXY, Proc, Target

# user "slow", password "slow horse": argon2id with t=8 (about 0.5 s here,
# 2.5 times the cost webkvm-passwd uses), so that each check is long
# compared with a static file request.  Made once with libargon2's
# argon2id_hash_encoded and a fixed salt.
SLOW_LINE = ("slow:$argon2id$v=19$m=65536,t=8,p=1$d2Via3ZtLXNsb3ctc2FsdA$"
             "/0XJC+bkT23Tl1EII1ySbV/W6sYhMe79eSB78EmUlf4\n")
GOOD = json.dumps({"user": "slow", "password": "slow horse"}).encode()
BAD = json.dumps({"user": "slow", "password": "guess"}).encode()


def post_login(port, body):
    """An HTTP connection with a whole login request sent, answer unread."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30 * SLOW)
    c.request("POST", "/api/login", body=body, headers={"Content-Type": "application/json"})
    return c


class LoginWorker(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="webkvm-login-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        users = os.path.join(self.dir, "users")
        with open(users, "w") as f:
            f.write(SLOW_LINE)
        os.chmod(users, 0o600)
        web = os.path.join(self.dir, "web")
        os.mkdir(web)
        with open(os.path.join(web, "index.html"), "w") as f:
            f.write("<!DOCTYPE html><title>t</title>\n")
        self.target = Target("echo")
        self.addCleanup(self.target.close)
        port = free_port()
        self.p = Proc([PROXY, "127.0.0.1:%d" % port, "127.0.0.1:%d" % self.target.port,
                       "--web", web, "--users", users], "127.0.0.1", port)
        self.p.start()
        self.addCleanup(self.stop)

    def stop(self):
        self.p.stop_checked()

    def answers(self, conns):
        """Reads every connection's answer on its own thread: [(status,
        monotonic time of arrival)] in the order of conns."""
        out = [None] * len(conns)

        def read(i, c):
            try:
                r = c.getresponse()
                r.read()
                out[i] = (r.status, time.monotonic())
            except OSError as e:
                out[i] = (repr(e), time.monotonic())
            finally:
                c.close()

        threads = [threading.Thread(target=read, args=(i, c)) for i, c in enumerate(conns)]
        for t in threads:
            t.start()
        return threads, out

    def test_static_and_api_answered_while_logins_are_checked(self):
        logins = [post_login(self.p.port, GOOD) for _ in range(3)]
        threads, got = self.answers(logins)
        # Let the proxy read the three bodies and start on the first check:
        # a loop that checks passwords itself is inside argon2 from here on.
        time.sleep(0.05)
        c = http.client.HTTPConnection("127.0.0.1", self.p.port, timeout=30 * SLOW)
        c.request("GET", "/index.html")
        r = c.getresponse()
        page = r.read()
        page_at = time.monotonic()
        c.request("GET", "/api/session")
        r2 = c.getresponse()
        r2.read()
        api_at = time.monotonic()
        c.close()
        for t in threads:
            t.join(60 * SLOW)
        self.assertEqual(r.status, 200)
        self.assertIn(b"<title>t</title>", page)
        self.assertEqual(r2.status, 401)
        self.assertEqual([g[0] for g in got], [200, 200, 200], got)
        first = min(g[1] for g in got)
        # A blocking loop answers at least one login before it reads the
        # GET; here both answers come back before any password check ends.
        self.assertLess(page_at, first, "a static file waited for a password check")
        self.assertLess(api_at, first, "an API request waited for a password check")

    def test_parallel_guesses_still_rate_limited(self):
        # Five wrong passwords at once from one address: only the free
        # failures are checked, the rest are refused as if they had come
        # one after the other.
        threads, got = self.answers([post_login(self.p.port, BAD) for _ in range(5)])
        for t in threads:
            t.join(60 * SLOW)
        statuses = sorted(g[0] for g in got)
        self.assertEqual(statuses, [401, 401, 401, 429, 429], got)
        self.assertEqual(self.p.logs().count("failed login as"), 3, self.p.logs())

    def test_hanging_up_during_the_check_still_counts(self):
        for n in range(1, 4):
            c = post_login(self.p.port, BAD)
            time.sleep(0.05)     # inside the check now (it takes ~0.5 s)
            c.sock.shutdown(socket.SHUT_RDWR)
            c.close()
            # Counted once the check ended, though nobody is left to tell.
            deadline = time.monotonic() + 20 * SLOW
            while time.monotonic() < deadline and self.p.logs().count("failed login as") < n:
                time.sleep(0.05)
            self.assertEqual(self.p.logs().count("failed login as"), n, self.p.logs())
        self.assertIn("next try allowed in 1 s", self.p.logs())
        # And the loop is still serving.
        c = http.client.HTTPConnection("127.0.0.1", self.p.port, timeout=10 * SLOW)
        c.request("GET", "/")
        self.assertEqual(c.getresponse().status, 200)
        c.close()

if __name__ == "__main__":
    unittest.main()
