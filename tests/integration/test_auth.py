"""VNC password and view-only mode of webkvmd, with Debian's real clients.

vncsnapshot (package vncsnapshot) does VNC authentication with a password
file written by tightvncpasswd (package tightvncpasswd), so the DES
challenge-response is checked by a real peer, not by our own code.
"""

import os
import shutil
import subprocess
import time
import unittest

import harness
import rfbclient


def vnc_password_file(path, password):
    out = subprocess.run(["tightvncpasswd", "-f"], input=(password + "\n").encode(),
                         capture_output=True, timeout=10, check=True).stdout
    with open(path, "wb") as f:
        f.write(out)


def snapshot(port, passwd_file, out):
    """vncsnapshot exit status and stderr; display = port - 5900."""
    argv = ["vncsnapshot", "-quiet", "-passwd", passwd_file, "127.0.0.1:%d" % (port - 5900), out]
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=30 * harness.SLOW)
    return p.returncode, p.stderr.decode("utf-8", "replace")


class Password(harness.DaemonTestCase):
    def setUp(self):
        for tool in ("vncsnapshot", "tightvncpasswd"):
            if shutil.which(tool) is None:
                self.fail("%s is not installed (scripts/install-deps.sh installs it)" % tool)
        self.daemon_logs = []
        self.clients = []
        self.tmp = self.enterContext_tmp()
        self.pw_plain = os.path.join(self.tmp, "rfb.pass")
        with open(self.pw_plain, "w") as f:
            f.write("s3cret!\n")
        self.daemon = self.start_daemon(extra=("--rfb-password-file", self.pw_plain))

    def enterContext_tmp(self):
        import tempfile
        d = tempfile.mkdtemp(prefix="webkvm-auth-")
        self.addCleanup(shutil.rmtree, d, True)
        return d

    def test_right_password_gets_the_screen(self):
        good = os.path.join(self.tmp, "good.vncpw")
        vnc_password_file(good, "s3cret!")
        out = os.path.join(self.tmp, "shot.jpg")
        rc, err = snapshot(self.daemon.port, good, out)
        self.assertEqual(rc, 0, "vncsnapshot with the right password failed: %s" % err)
        with open(out, "rb") as f:
            head = f.read(3)
        self.assertEqual(head, b"\xff\xd8\xff", "not a JPEG")

    def test_wrong_password_is_refused(self):
        bad = os.path.join(self.tmp, "bad.vncpw")
        vnc_password_file(bad, "guess123")
        out = os.path.join(self.tmp, "shot.jpg")
        rc, err = snapshot(self.daemon.port, bad, out)
        self.assertNotEqual(rc, 0, "vncsnapshot with a wrong password got in")
        self.assertFalse(os.path.exists(out) and os.path.getsize(out) > 0)
        self.assertTrue(self.daemon.alive())

    def test_no_auth_is_not_offered(self):
        c = rfbclient.Client(self.daemon.port)
        self.clients.append(c)
        with self.assertRaises(rfbclient.RFBError) as cm:
            c.handshake()
        self.assertIn("not offered", str(cm.exception))

    def test_unreadable_password_file_is_an_error(self):
        missing = os.path.join(self.tmp, "nope")
        d = harness.Daemon(extra=("--rfb-password-file", missing))
        status, out = harness.run_checked(d.argv)
        self.assertNotEqual(status, 0)
        self.assertIn(missing, out)


class ViewOnly(harness.DaemonTestCase):
    extra_args = ("--view-only",)

    def test_keys_and_clicks_do_nothing(self):
        v = self.viewer()
        rows = self.first_screen(v)
        prompt = rows[-2]
        v.type_keysyms("zz")
        # The Boot menu item, as test_input clicks it.
        x, y = v.geometry().cell_centre(harness.MENU_FIRST_ROW + 2, harness.MENU_COL + 2)
        v.click(x, y)
        v.pump(1.0 * harness.SLOW)
        rows = v.screen()
        self.assertEqual(rows[-2], prompt, "a view-only viewer typed on the target")
        self.assertNotIn("Selected", rows[harness.OUTPUT_ROW])

    def test_control_socket_still_types(self):
        v = self.viewer()
        self.first_screen(v)
        self.assertTrue(self.daemon.request({"cmd": "type", "text": "ok"})["ok"])
        v.wait_screen(lambda rows: rows[-2].startswith("> ok"), 5 * harness.SLOW,
                      "text typed through the control socket")


if __name__ == "__main__":
    unittest.main()
