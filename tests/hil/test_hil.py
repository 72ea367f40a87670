"""Hardware-in-the-loop tests on the QEMU board: the unchanged webkvmd on
real kernel drivers (vivid as the HDMI dongle, a USB HID gadget on
dummy_hcd), the virtual target on the far side of both.  One boot for the
whole module; tests run in file order and leave the board as they found
it (720p, YUYV, signal on, USB connected)."""
import os
import time
import unittest

import board as hil
import rfbclient

TITLE = "webkvm virtual target"
B = None            # the booted board
MEASURE = []        # "MEASURE: ..." lines printed by the runner


def measure(line):
    MEASURE.append(line)
    print("MEASURE: " + line, flush=True)


def setUpModule():
    global B
    B = hil.Board(os.environ.get("BUILD", "build"))
    if os.environ.get("HIL_SKIP_IMAGE") != "1":
        B.make_image()
    secs = B.boot()
    measure("boot to first captured frame: %.1f s" % secs)


def tearDownModule():
    if B is not None:
        B.stop()


def title_ok(rows):
    return len(rows) > 0 and TITLE in rows[0]


def compare(frame, c, tolerance):
    """Compares the target's RGB frame with the viewer's framebuffer.
    Returns (max channel error, mean abs error, share of pixels off by more
    than `tolerance` in any channel)."""
    w, h, rgb = frame
    fb = c.fb
    worst = total = bad = 0
    for y in range(h):
        row = rgb[y * w * 3:(y + 1) * w * 3]
        frow = fb[y * w * 4:(y + 1) * w * 4]
        vr = bytearray(w * 3)
        vr[0::3], vr[1::3], vr[2::3] = frow[2::4], frow[1::4], frow[0::4]
        if vr == row:
            continue
        # Viewer pixels are B,G,R,X; the dump is R,G,B.
        for ch, off in ((0, 2), (1, 1), (2, 0)):
            a = row[ch::3]
            b = frow[off::4]
            for p, q in zip(a, b):
                d = p - q if p > q else q - p
                if d:
                    total += d
                    if d > worst:
                        worst = d
                    if d > tolerance:
                        bad += 1
    return worst, total / (w * h * 3), bad / (w * h)


class T01FirstFrame(unittest.TestCase):
    def check_frame(self, tolerance, max_bad):
        frame = B.frozen_frame()
        try:
            c = B.viewer()
            self.assertEqual((c.width, c.height), frame[:2])
            # The frozen frame reaches the viewer after the frames still in
            # flight: wait until the title row (with its clock) matches.
            top = hil.title_rows(frame)
            c.wait_for(lambda: compare(top, c, tolerance)[2] <= max_bad, 20,
                       "the frozen frame's title row on the viewer")
            rows = c.screen()
            self.assertIn(TITLE, rows[0], "title row OCR")
            worst, mean, bad = compare(frame, c, tolerance)
            measure("first frame %s vs target: max error %d, mean %.3f, %.4f%% pixels over %d"
                    % (B.status()["source"], worst, mean, bad * 100, tolerance))
            self.assertLessEqual(bad, max_bad)
            c.close()
        finally:
            B.thaw()

    def test_1_yuyv(self):
        # BT.601 limited range through 8-bit YUYV and back (libyuv both
        # ways): a colour comes back within a few steps (the narrower
        # luma range and rounding of Y, U, V each cost <= ~3).  Chroma is
        # shared by pixel pairs; the console's glyphs are drawn in 2-pixel
        # units at even x at 720p, so only the pointer's edges can
        # straddle a pair: allow 0.1% of pixels beyond the tolerance.
        self.check_frame(tolerance=8, max_bad=0.001)

    def test_2_rgb24(self):
        B.restart("rgb24")
        try:
            # RGB24 is bytes R,G,B both ways: exact.
            self.check_frame(tolerance=0, max_bad=0)
        finally:
            B.restart("yuyv")


class T02Input(unittest.TestCase):
    def test_1_typing(self):
        c = B.viewer()
        before = len(B.kbd_reports())
        c.type_keysyms("hil typed 42")
        rows = c.wait_screen(lambda rows: any("hil typed 42" in r for r in rows), 20,
                             "typed text on the captured screen")
        self.assertTrue(rows)
        reports = B.kbd_reports()[before:]
        # h i l ' ' t y p e d ' ' 4 2: at least a press and release each.
        self.assertGreaterEqual(len([r for r, _ in reports if r[2] != 0]), 12)
        self.assertEqual(reports[-1][0], bytes(8), "last report releases everything")
        c.tap(rfbclient.XK_RETURN)
        c.close()

    def test_2_latency(self):
        # In-guest clock on both ends: control request sent → report read
        # by the target's USB host from /dev/hidrawN.
        delays = []
        for _ in range(10):
            n = len(B.kbd_reports())
            _, sent = B.ctl({"cmd": "key", "keys": ["shift"]})
            # Press and release both in, so the next round starts clean.
            B.wait(lambda: len(B.kbd_reports()) >= n + 2 and B.kbd_reports()[-1][0] == bytes(8),
                   10, "the key's HID reports")
            got = [r for r in B.kbd_reports()[n:] if r[0][0] == 0x02]
            self.assertTrue(got, "left shift pressed")
            delays.append((got[0][1] - sent) / 1000.0)
        delays.sort()
        measure("keypress -> HID report on the target's hidraw: median %.1f ms, max %.1f ms"
                % (delays[len(delays) // 2], delays[-1]))

    def test_3_caps_lock_led(self):
        c = B.viewer()
        c.leds.clear()
        c.tap(rfbclient.XK_CAPS_LOCK)
        try:
            # QEMU LED state: bit 2 = Caps Lock.
            c.wait_for(lambda: any(v & 4 for v in c.leds), 10, "-261 LED message with Caps Lock on")
            B.wait(lambda: "LED report 0x02 sent" in B.target_log(), 10,
                   "the target's USB host sending the LED report")
            self.assertTrue(B.status()["leds"]["caps"])
        finally:
            c.tap(rfbclient.XK_CAPS_LOCK)
        c.wait_for(lambda: c.leds and not c.leds[-1] & 4, 10, "Caps Lock off again")
        c.close()


class T03Video(unittest.TestCase):
    def fps(self, what):
        time.sleep(2.5)
        fps = B.status()["fps"]
        measure("capture fps in the guest at %s: %.1f" % (what, fps))
        return fps

    def test_1_resize(self):
        c = B.viewer()
        self.fps("720p")
        try:
            c.type_keysyms("res 1920x1080")
            c.tap(rfbclient.XK_RETURN)
            c.wait_for(lambda: (c.width, c.height) == (1920, 1080), 30, "resize to 1920x1080")
            c.wait_screen(title_ok, 30, "title at 1080p")
            self.assertEqual(B.status()["width"], 1920)
            self.assertGreater(self.fps("1080p"), 5)
        finally:
            c.type_keysyms("res 1280x720")
            c.tap(rfbclient.XK_RETURN)
            c.wait_for(lambda: (c.width, c.height) == (1280, 720), 30, "resize back to 720p")
            c.wait_screen(title_ok, 30, "title back at 720p")
            c.close()

    def test_2_no_signal(self):
        c = B.viewer()
        c.wait_screen(title_ok, 20, "the target's screen")
        try:
            B.set_ctrl(hil.SIGNAL_MODE, hil.SIGNAL_NONE)
            B.wait(lambda: B.status()["signal"] == "no-signal", 15, "daemon status no-signal")
            # The firmware's NO SIGNAL screen replaces the target's.
            c.wait_for(lambda: c.fb_valid and not title_ok(c.screen()), 15, "the no-signal screen")
        finally:
            B.set_ctrl(hil.SIGNAL_MODE, hil.SIGNAL_SELECTED)
        B.wait(lambda: B.status()["signal"] == "ok", 20, "signal back")
        c.wait_screen(title_ok, 20, "the target's screen again")
        c.close()

    def test_3_rmmod_vivid(self):
        c = B.viewer()
        # The daemon and the target hold the nodes open (and so the module):
        # unbinding the device first makes both see it vanish and let go.
        B.sh("echo vivid.0 > /sys/bus/platform/drivers/vivid/unbind")
        B.sh("for i in 1 2 3 4 5 6 7 8 9 10; do rmmod vivid && exit 0; sleep 1; done; exit 1")
        B.wait(lambda: B.status()["signal"] in ("no-device", "error", "no-signal"), 15,
               "daemon notices the device is gone")
        B.sh("modprobe vivid " + hil.VIVID_OPTS)
        B.wait(lambda: B.status()["signal"] == "ok", 40, "video after modprobe vivid")
        c.wait_screen(title_ok, 30, "the target's screen after the reload")
        c.close()


class T04Usb(unittest.TestCase):
    def replug(self, off, on):
        c = B.viewer()
        gone = B.target_log().count("keyboard interface gone")
        found = B.target_log().count("is the keyboard")
        c.tap(rfbclient.XK_RETURN)      # an empty command line
        # Shift held while the host goes: stuck afterwards, it would turn
        # the typed "zz9" into "ZZ(".
        c.key(rfbclient.XK_SHIFT_L, True)
        B.wait(lambda: B.kbd_reports()[-1][0][0] == 0x02, 10, "Shift pressed on the target")
        B.sh(off)
        B.wait(lambda: B.target_log().count("keyboard interface gone") > gone, 10,
               "the target's USB host losing the keyboard")
        time.sleep(1)
        B.sh(on)
        B.wait(lambda: B.target_log().count("is the keyboard") > found, 20,
               "the target's USB host finding the keyboard again")
        c.key(rfbclient.XK_SHIFT_L, False)
        # No stuck key: typing after the return arrives as itself, without
        # Shift in any report.  (The release-all the gadget sends on the
        # host's return may reach the host before the target has reopened
        # its hidraw node; the target releases keys of a vanished device
        # itself, as a PC does.)
        self.assertEqual(B.status()["ok"], True)
        n = len(B.kbd_reports())
        c.type_keysyms("zz9")
        c.wait_screen(lambda rows: any(r.endswith("> zz9") for r in rows), 20,
                      "typing after the replug, without a stuck Shift")
        # '9' is not Caps Lock sensitive: its report must not carry Shift.
        nines = [r for r, _ in B.kbd_reports()[n:] if 0x26 in r[2:]]
        self.assertTrue(nines)
        self.assertFalse([r for r in nines if r[0] & 0x22], "Shift held with 9")
        c.tap(rfbclient.XK_RETURN)
        c.close()

    def test_1_host_gone(self):
        # The target's USB host controller goes and comes back (dummy_hcd's
        # soft_connect cannot be used: on 6.1 the port never enumerates
        # again after it, error -71).
        self.replug("echo dummy_hcd.0 > /sys/bus/platform/drivers/dummy_hcd/unbind",
                    "echo dummy_hcd.0 > /sys/bus/platform/drivers/dummy_hcd/bind")

    def test_2_udc_unbind(self):
        self.replug("echo '' > %s/UDC" % hil.GADGET, "echo %s > %s/UDC" % (hil.UDC, hil.GADGET))


class T05Health(unittest.TestCase):
    def test_processes_and_logs(self):
        # Both processes still the ones started last, and no sanitizer
        # report in their logs (a build/san run puts ASan/UBSan binaries in
        # the image; LeakSanitizer reports at each restart's exit).
        B.sh("kill -0 $(cat /run/webkvmd.pid) && kill -0 $(cat /run/target.pid)")
        logs = B.sh("cat /tmp/webkvmd.log /tmp/target.log", check=False)
        for marker in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
            self.assertNotIn(marker, logs)
