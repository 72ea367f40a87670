"""Pointer modes, gadget profiles, paste and held keys on the sim board.

What the virtual target received is read back through the control
socket's "target" request (its command line, pointer and pressed keys)
and, for the pointer, also from the screen's status row."""

import re
import time
import unittest

import rfbclient as rfb
from harness import SLOW, DaemonTestCase, command_text, prompt_cursor, screen_pointer

XK_CONTROL_L = 0xFFE3
QNUM_A = 0x1E
MOD_LCTRL, MOD_LSHIFT = 0x01, 0x02
USAGE_A = 0x04


class Relative(DaemonTestCase):
    def target(self, d=None):
        r = (d or self.daemon).request({"cmd": "target"})
        self.assertIs(r.get("ok"), True, r)
        return r

    def wait_target(self, pred, what, v, d=None):
        end = time.monotonic() + 5 * SLOW
        while True:
            v.pump(0.02)
            t = self.target(d)
            if pred(t):
                return t
            if time.monotonic() > end:
                self.fail("timed out waiting for %s; target %s" % (what, t))

    def set_mode(self, mode, d=None):
        r = (d or self.daemon).request({"cmd": "hid", "mouse": mode})
        self.assertIs(r.get("ok"), True, r)
        self.assertEqual(r["mouse"], mode)

    def pin_corner(self, v):
        # A move of minus the whole screen leaves the target's pointer in
        # the top-left corner, wherever it was: viewer and target agree.
        v.pointer(v.width - 1, v.height - 1)
        v.pointer(0, 0)

    def test_moves_land_within_one_pixel(self):
        v = self.viewer()
        self.first_screen(v)
        v.pointer(640, 360)             # absolute first: somewhere else
        self.wait_target(lambda t: t["pointer"] == {"x": 640, "y": 360}, "the absolute move", v)
        self.set_mode("relative")
        self.pin_corner(v)
        path = [(300, 200), (305, 190), (1279, 719), (17, 33), (1000, 600), (999, 601), (712, 345)]
        for x, y in path:
            v.pointer(x, y)
        want = path[-1]
        t = self.wait_target(lambda t: abs(t["pointer"]["x"] - want[0]) <= 1 and
                             abs(t["pointer"]["y"] - want[1]) <= 1, "the pointer at %s" % (want,), v)
        v.wait_screen(lambda rows: screen_pointer(rows) == (t["pointer"]["x"], t["pointer"]["y"]),
                      5 * SLOW, "the status row showing the pointer")

    def test_edges_clamp_and_resync(self):
        # Past the right edge the target stops; coming back moves it from
        # the edge, as a real pointer does (no drift afterwards once both
        # are pinned again).
        v = self.viewer()
        self.first_screen(v)
        self.set_mode("relative")
        self.pin_corner(v)
        v.pointer(1279, 10)
        v.pointer(1279, 20)
        self.wait_target(lambda t: t["pointer"] == {"x": 1279, "y": 20}, "the pointer at the edge", v)

    def test_scale(self):
        d = self.start_daemon(extra=("--mouse-scale", "2", "--mouse", "relative"))
        v = self.viewer(daemon=d)
        self.first_screen(v)
        self.assertEqual(d.request({"cmd": "hid"})["mouse"], "relative")
        self.pin_corner(v)
        v.pointer(100, 50)
        self.wait_target(lambda t: t["pointer"] == {"x": 200, "y": 100}, "a move scaled by 2", v, d)

    def test_buttons_and_wheel_in_relative_mode(self):
        v = self.viewer()
        self.first_screen(v)
        self.set_mode("relative")
        self.pin_corner(v)
        v.pointer(50, 40, 1)            # move with the left button down
        v.wait_screen(lambda rows: any(re.search(r"X:50 Y:40 B:01 ", r) for r in rows),
                      5 * SLOW, "a drag with the left button")
        v.pointer(50, 40, 0)
        v.pointer(50, 40, 8)            # one wheel step up
        v.pointer(50, 40, 0)
        v.wait_screen(lambda rows: any(re.search(r"X:50 Y:40 B:00 W:1 ", r) for r in rows),
                      5 * SLOW, "the button up and one wheel step")


class Profiles(DaemonTestCase):
    def test_answers_and_refusals(self):
        d = self.daemon
        r = d.request({"cmd": "hid"})
        self.assertEqual((r["profile"], r["mouse"], r["mice"]), ("full", "absolute", ["absolute", "relative"]))
        self.assertEqual(len(r["layouts"]), 10)
        r = d.request({"cmd": "hid", "profile": "relative"})
        self.assertEqual((r["profile"], r["mouse"], r["mice"]), ("relative", "relative", ["relative"]))
        r = d.request({"cmd": "hid", "mouse": "absolute"})
        self.assertIs(r.get("ok"), False, r)
        self.assertIn("no absolute pointer", r["error"])
        r = d.request({"cmd": "hid", "profile": "keyboard"})
        self.assertEqual((r["profile"], r["mice"]), ("keyboard", []))
        for bad in ({"profile": "mouse"}, {"mouse": "tablet"}, {"layout": "xx"}, {"layout": 3}):
            req = dict(bad, cmd="hid")
            r = d.request(req)
            self.assertIs(r.get("ok"), False, (req, r))
        # A request with a bad member changes nothing, even its good ones.
        r = d.request({"cmd": "hid", "layout": "de", "profile": "bogus"})
        self.assertIs(r.get("ok"), False)
        self.assertEqual(d.request({"cmd": "hid"})["layout"], "en-us")

    def test_keyboard_profile_drops_pointer_keeps_keys(self):
        d = self.start_daemon(extra=("--hid-profile", "keyboard"))
        v = self.viewer(daemon=d)
        rows = self.first_screen(v)
        cursor = prompt_cursor(rows)
        v.pointer(500, 300)
        v.type_keysyms("kb")
        v.wait_screen(lambda r: command_text(r, cursor) == "kb", 5 * SLOW, "typing")
        self.assertEqual(d.request({"cmd": "target"})["pointer"], {"x": 0, "y": 0})
        self.assertIn("pointer input dropped", d.logs())


class Paste(DaemonTestCase):
    def line(self):
        return self.daemon.request({"cmd": "target"})["line"]

    def test_live_keys_wait_for_the_paste(self):
        v = self.viewer()
        self.first_screen(v)
        text = "a" * 20
        r = self.daemon.request({"cmd": "type", "text": text, "delay_ms": 30}, wait_typed=False)
        self.assertIs(r.get("ok"), True, r)
        v.type_keysyms("ZZ")
        v.pump(0.1)
        self.assertTrue(self.daemon.request({"cmd": "status"})["paste"]["active"],
                        "the paste ended before the viewer's keys: the test shows nothing")
        self.daemon.request({"cmd": "status"})
        end = time.monotonic() + 10 * SLOW
        while self.line() != text + "ZZ" and time.monotonic() < end:
            v.pump(0.05)
        self.assertEqual(self.line(), text + "ZZ")

    def test_cancel_and_progress(self):
        text = "b" * 40
        r = self.daemon.request({"cmd": "type", "text": text, "delay_ms": 100}, wait_typed=False)
        self.assertIs(r.get("ok"), True, r)
        self.assertEqual(r["typed"], 40)
        # Progress: "left" goes down while it types.
        first = self.daemon.request({"cmd": "status"})["paste"]["left"]
        end = time.monotonic() + 10 * SLOW
        while self.daemon.request({"cmd": "status"})["paste"]["left"] == first:
            self.assertLess(time.monotonic(), end, "no progress")
            time.sleep(0.05)
        busy = self.daemon.request({"cmd": "type", "text": "x"}, wait_typed=False)
        self.assertIs(busy.get("ok"), False)
        self.assertIn("paste is running", busy["error"])
        self.assertIs(self.daemon.request({"cmd": "key", "keys": ["a"]}).get("ok"), False)
        r = self.daemon.request({"cmd": "cancel"})
        self.assertIs(r.get("ok"), True, r)
        self.assertGreater(r["cancelled"], 0)
        st = self.daemon.request({"cmd": "status"})["paste"]
        self.assertEqual((st["active"], st["left"]), (False, 0))
        typed = self.line()
        time.sleep(0.5)
        self.assertEqual(self.line(), typed, "typing went on after the cancel")
        self.assertEqual(typed, "b" * len(typed))
        self.assertEqual(len(typed), 40 - r["cancelled"])
        t = self.daemon.request({"cmd": "target"})
        self.assertEqual((t["mods"], t["keys"]), (0, []), "a key stayed down after the cancel")

    def test_untypable_reported_before_typing(self):
        r = self.daemon.request({"cmd": "type", "text": "ok\u2603 and \u2603 \u00e9\u4e2d"})
        self.assertIs(r.get("ok"), False, r)
        bad = r["untypable"]
        # Each character once, where it first is; en-us has no é either.
        self.assertEqual([b["char"] for b in bad], ["\u2603", "\u00e9", "\u4e2d"])
        self.assertEqual([b["at"] for b in bad], [2, 10, 11])
        self.assertIn("4 characters", r["error"])
        self.assertEqual(bad[0]["code"], "U+2603")
        time.sleep(0.2)
        self.assertEqual(self.line(), "")

    def test_bad_delay_and_crlf(self):
        for bad in (-1, 1001, 2.5, "10"):
            r = self.daemon.request({"cmd": "type", "text": "x", "delay_ms": bad})
            self.assertIs(r.get("ok"), False, (bad, r))
        r = self.daemon.request({"cmd": "type", "text": "ab\r\ncd", "delay_ms": 0})
        self.assertIs(r.get("ok"), True, r)
        # CR LF is one Enter: the sim ran "ab" and shows "cd" on a new line.
        self.assertEqual(self.line(), "cd")


class HeldKeys(DaemonTestCase):
    def target(self):
        return self.daemon.request({"cmd": "target"})

    def wait_keys(self, v, mods, keys, what):
        end = time.monotonic() + 5 * SLOW
        while True:
            v.pump(0.02)
            t = self.target()
            if (t["mods"], t["keys"]) == (mods, keys):
                return
            if time.monotonic() > end:
                self.fail("%s: target has mods %#x keys %s" % (what, t["mods"], t["keys"]))

    def test_disconnect_with_keys_held_releases_them(self):
        a = self.viewer()
        self.first_screen(a)
        a.key(rfb.XK_SHIFT_L, True)
        a.qemu_key(QNUM_A, True)
        self.wait_keys(a, MOD_LSHIFT, [USAGE_A], "keys held")
        a.close()
        self.clients.remove(a)
        b = self.viewer()
        self.wait_keys(b, 0, [], "after the viewer left")

    def test_only_the_leavers_keys_are_released(self):
        a, b = self.viewer(), self.viewer()
        self.first_screen(a)
        self.first_screen(b)
        a.key(rfb.XK_SHIFT_L, True)
        b.key(XK_CONTROL_L, True)
        b.qemu_key(QNUM_A, True)
        self.wait_keys(b, MOD_LSHIFT | MOD_LCTRL, [USAGE_A], "both viewers' keys")
        a.close()
        self.clients.remove(a)
        self.wait_keys(b, MOD_LCTRL, [USAGE_A], "the other viewer's keys kept")
        b.qemu_key(QNUM_A, False)
        b.key(XK_CONTROL_L, False)
        self.wait_keys(b, 0, [], "all released")

    def test_release_all(self):
        a = self.viewer()
        self.first_screen(a)
        a.key(rfb.XK_SHIFT_L, True)
        self.wait_keys(a, MOD_LSHIFT, [], "Shift held")
        self.assertIs(self.daemon.request({"cmd": "release"}).get("ok"), True)
        self.wait_keys(a, 0, [], "release all")


if __name__ == "__main__":
    unittest.main()
