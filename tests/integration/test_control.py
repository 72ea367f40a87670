"""The control socket: one JSON object per line, one response line each."""

import json
import os
import shutil
import socket
import tempfile
import time

from harness import (BIOS_BANNER, OUTPUT_ROW, SLOW, TITLE, DaemonTestCase, command_text,
                     find_row, prompt_cursor, sanitizer_report)


class ControlSocket(DaemonTestCase):
    def setUp(self):
        super().setUp()
        self.ctl = self.daemon.control()
        self.addCleanup(self.ctl.close)

    def assert_error(self, resp, what):
        self.assertIs(resp.get("ok"), False, "%s: %s" % (what, resp))
        self.assertIsInstance(resp.get("error"), str, "%s: error text: %s" % (what, resp))
        self.assertTrue(resp["error"], "%s: empty error text" % what)

    def status(self):
        st = self.ctl.request({"cmd": "status"})
        self.assertIs(st.get("ok"), True, st)
        return st

    def test_status_fields(self):
        st = self.status()
        self.assertEqual((st.get("width"), st.get("height")), (1280, 720), st)
        self.assertIsInstance(st.get("fps"), (int, float), st)
        # fps is measured over the last second: wait for one to pass.
        end = time.monotonic() + 3 * SLOW
        while st["fps"] <= 0 and time.monotonic() < end:
            time.sleep(0.2)
            st = self.status()
        self.assertGreater(st["fps"], 0, st)
        self.assertLessEqual(st["fps"], 31, "fps at --fps 30: %s" % st)
        self.assertEqual(st.get("signal"), "ok", st)
        self.assertEqual(st.get("viewers"), 0, st)
        leds = st.get("leds")
        self.assertIsInstance(leds, dict, st)
        for k in ("num", "caps", "scroll"):
            self.assertIsInstance(leds.get(k), bool, "leds.%s: %s" % (k, st))

    def test_viewer_count_follows_connections(self):
        v = self.viewer()
        self.first_screen(v)
        self.assertEqual(self.status().get("viewers"), 1)
        v2 = self.viewer()
        self.first_screen(v2)
        self.assertEqual(self.status().get("viewers"), 2)
        v.close()
        v2.close()
        end = time.monotonic() + 3 * SLOW
        while self.status().get("viewers") != 0:
            self.assertLess(time.monotonic(), end, "viewers still %s after both left"
                            % self.status().get("viewers"))
            time.sleep(0.1)

    def test_bad_requests_keep_the_connection(self):
        for raw, what in ((b"{nope\n", "bad JSON"),
                          (b"[1,2,3]\n", "an array"),
                          (b"\"status\"\n", "a string"),
                          (b"{}\n", "no cmd"),
                          (b"{\"cmd\":42}\n", "numeric cmd"),
                          (b"{\"cmd\":\"launch-missiles\"}\n", "unknown cmd"),
                          (b"{\"cmd\":\"type\"}\n", "type without text"),
                          (b"{\"cmd\":\"type\",\"text\":5}\n", "type with a number"),
                          (b"{\"cmd\":\"key\",\"keys\":[\"nosuchkey\"]}\n", "unknown key name"),
                          (b"{\"cmd\":\"key\",\"keys\":\"ctrl\"}\n", "keys not a list"),
                          (b"{\"cmd\":\"power\",\"action\":\"explode\"}\n", "unknown power action"),
                          (b"{\"cmd\":\"power\"}\n", "power without action"),
                          (b"\xff\xfe\x00garbage\n", "binary garbage")):
            self.assert_error(self.ctl.raw(raw), what)
            self.status()
        self.assertTrue(self.daemon.alive())

    def test_two_requests_in_one_write_and_one_split(self):
        self.ctl.send_line(b'{"cmd":"status"}\n{"cmd":"bogus"}\n')
        first = json.loads(self.ctl.read_line())
        second = json.loads(self.ctl.read_line())
        self.assertIs(first.get("ok"), True, first)
        self.assert_error(second, "second request of one write")
        self.ctl.send_line(b'{"cmd":')
        time.sleep(0.2)
        self.assertIs(self.ctl.raw(b'"status"}\n').get("ok"), True)

    def test_type_appears_on_screen(self):
        v = self.viewer()
        rows = self.first_screen(v)
        cursor = prompt_cursor(rows)
        resp = self.ctl.request({"cmd": "type", "text": "Typed_by ctl!"})
        self.assertIs(resp.get("ok"), True, resp)
        v.wait_screen(lambda r: command_text(r, cursor) == "Typed_by ctl!", 5 * SLOW,
                      "text typed through the control socket")
        self.assertIs(self.ctl.request({"cmd": "type", "text": "\n"}).get("ok"), True)
        self.ctl.request({"cmd": "type", "text": "echo from ctl\n"})
        v.wait_screen(lambda r: "from ctl" in r[OUTPUT_ROW], 5 * SLOW, "echo through ctl")

    def test_type_unicode_is_refused_whole(self):
        # README: a text with characters the layout cannot type is refused
        # before anything is typed, and the answer lists them.
        resp = self.ctl.request({"cmd": "type", "text": "snow\u2603man"})
        self.assertIs(resp.get("ok"), False, resp)
        self.assertEqual([(u.get("char"), u.get("code"), u.get("at")) for u in resp.get("untypable", [])],
                         [("\u2603", "U+2603", 4)], resp)
        self.assertIn("U+2603", resp.get("error", ""), resp)
        time.sleep(0.2 * SLOW)
        self.assertEqual(self.ctl.request({"cmd": "target"}).get("line"), "", "part of it was typed")
        self.assertIs(self.status().get("paste", {}).get("active"), False)

    def test_key_combo(self):
        v = self.viewer()
        rows = self.first_screen(v)
        cursor = prompt_cursor(rows)
        resp = self.ctl.request({"cmd": "key", "keys": ["ctrl", "alt", "delete"]})
        self.assertIs(resp.get("ok"), True, resp)
        # The target reboots on Ctrl-Alt-Del, as a PC's firmware does.
        v.wait_screen(lambda r: BIOS_BANNER in r[0], 5 * SLOW, "the reboot on ctrl+alt+delete")
        v.wait_screen(lambda r: TITLE in r[0], 8 * SLOW, "the setup screen after the reboot")
        # Nothing stays held: plain typing still gives plain characters.
        self.ctl.request({"cmd": "type", "text": "ab"})
        v.wait_screen(lambda r: (command_text(r, cursor) or "").endswith("ab"), 5 * SLOW,
                      "typing after ctrl+alt+delete")

    def test_power_off_on_and_reset(self):
        v = self.viewer()
        self.first_screen(v)
        self.assertIs(self.ctl.request({"cmd": "power", "action": "off"}).get("ok"), True)
        end = time.monotonic() + 3 * SLOW
        while self.status().get("signal") == "ok":
            self.assertLess(time.monotonic(), end, "signal still ok after power off")
            v.pump(0.1)
        # The viewer shows the no-signal picture before power comes back:
        # else the setup screen it still had would pass the wait below
        # before the target's first frame arrived.
        v.wait_screen(lambda r: TITLE not in r[0], 3 * SLOW, "the no-signal picture after power off")
        self.assertIs(self.ctl.request({"cmd": "power", "action": "on"}).get("ok"), True)
        v.wait_screen(lambda r: TITLE in r[0], 8 * SLOW, "the setup screen after power on")
        self.assertEqual(self.status().get("signal"), "ok")
        self.assertIs(self.ctl.request({"cmd": "power", "action": "reset"}).get("ok"), True)
        v.wait_screen(lambda r: find_row(r, BIOS_BANNER) >= 0, 3 * SLOW, "POST after reset")
        v.wait_screen(lambda r: TITLE in r[0], 5 * SLOW, "the setup screen after reset")

    def test_huge_line(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(self.daemon.control_path)
        self.addCleanup(s.close)
        try:
            s.sendall(b'{"cmd":"type","text":"' + b"a" * (4 << 20))
        except OSError:
            pass    # the daemon may close a connection whose line is too long
        time.sleep(0.3)
        self.assertTrue(self.daemon.alive())
        self.status()

    def test_stalled_control_client_blocks_nothing(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.daemon.control_path)
        self.addCleanup(s.close)
        s.sendall(b'{"cmd":"sta')
        v = self.viewer()
        rows = self.first_screen(v)
        cursor = prompt_cursor(rows)
        v.type_keysyms("xyz")
        v.wait_screen(lambda r: command_text(r, cursor) == "xyz", 2 * SLOW,
                      "typing while a control client is stalled")
        self.status()

    def test_many_control_clients(self):
        conns = [self.daemon.control() for _ in range(16)]
        try:
            for c in conns:
                c.send_line(b'{"cmd":"status"}\n')
            for c in conns:
                self.assertIs(json.loads(c.read_line()).get("ok"), True)
        finally:
            for c in conns:
                c.close()
        self.status()

    def test_client_that_does_not_read_responses(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(self.daemon.control_path)
        self.addCleanup(s.close)
        s.setblocking(False)
        req = b'{"cmd":"status"}\n' * 200
        sent = 0
        end = time.monotonic() + 2
        while sent < 200 * len(b'{"cmd":"status"}\n') * 20 and time.monotonic() < end:
            try:
                sent += s.send(req)
            except BlockingIOError:
                time.sleep(0.01)
            except (BrokenPipeError, ConnectionResetError):
                break       # the daemon dropped the client that never reads: fine
        v = self.viewer()
        self.first_screen(v)
        self.status()
        self.assertTrue(self.daemon.alive())


class ControlSocketFile(DaemonTestCase):
    def test_restart_after_a_crash_reuses_the_socket_path(self):
        # A daemon killed by SIGKILL leaves its socket file behind; the next
        # one (systemd restarting it) must still start.
        shared = tempfile.mkdtemp(prefix="webkvm-it-ctl-")
        self.addCleanup(shutil.rmtree, shared, True)
        path = os.path.join(shared, "control.sock")
        first = self.start_daemon(control_path=path)
        first.proc.kill()
        first.proc.wait()
        status, _ = first.stop()
        self.daemon_logs.append((" ".join(first.argv), first.log_text))
        self.assertEqual(status, -9)
        # Killed on purpose, so no exit status to check; what it printed
        # before is checked all the same.
        self.assertIsNone(sanitizer_report(first.log_text), first.log_text[-3000:])
        self.assertTrue(os.path.exists(path), "the killed daemon's socket file")
        second = self.start_daemon(control_path=path)
        st = second.request({"cmd": "status"})
        self.assertIs(st.get("ok"), True, st)
