"""What a viewer sees: the first frame, a static screen, a resize, a click,
power actions over XVP, and a clean exit on SIGTERM."""

import re
import time

import rfbclient as rfb
from harness import (BIOS_BANNER, MENU, MENU_COL, MENU_FIRST_ROW, MENU_WIDTH, OUTPUT_ROW,
                     SLOW, TITLE, DaemonTestCase, command_row, find_row, last_row)

CLOCK_RE = re.compile(r"\d\d:\d\d:\d\d")
# rfb/rfb.h: the tile diff's default tile is 32×32; a changed clock digit
# may resend the whole tile it lies in, no more.
TILE = 32


def clock_span(row0):
    m = None
    for m in CLOCK_RE.finditer(row0):
        pass
    return (m.start(), m.end()) if m else None


class FirstFrame(DaemonTestCase):
    def test_first_frame_is_the_setup_screen(self):
        v = self.viewer()
        self.assertEqual((v.width, v.height), (1280, 720), "ServerInit size")
        rows = self.first_screen(v)
        geo = v.geometry()
        self.assertEqual((geo.scale, geo.cols, geo.rows), (2, 80, 22), repr(geo))
        self.assertEqual(len(rows), geo.rows)
        self.assertRegex(rows[0], r"^\s*" + re.escape(TITLE) + r"\s+\d\d:\d\d:\d\d$",
                         "title row with the clock right-aligned")
        self.assertGreaterEqual(clock_span(rows[0])[1], geo.cols - 2, "clock right-aligned")
        for i, item in enumerate(MENU):
            row = rows[MENU_FIRST_ROW + i]
            self.assertEqual(row[:MENU_COL].strip(), "", "row %d left of the menu: %r" % (i, row))
            self.assertEqual(row[MENU_COL:MENU_COL + MENU_WIDTH].strip(), item,
                             "menu row %d: %r" % (MENU_FIRST_ROW + i, row))
        cmd = rows[command_row(rows)]
        self.assertTrue(cmd == ">" or cmd.startswith("> "), "command line %r" % cmd)
        self.assertLessEqual(len(cmd), 3, "empty prompt plus at most a cursor: %r" % cmd)
        self.assertEqual(rows[last_row(rows)], "", "no Last: row before a command ran")
        self.assertNotIn("?", "".join(rows), "every cell reads as a glyph of the font")

    def test_clock_ticks(self):
        v = self.viewer()
        rows = self.first_screen(v)
        first = CLOCK_RE.search(rows[0]).group(0)
        v.wait_screen(lambda r: CLOCK_RE.search(r[0]) and CLOCK_RE.search(r[0]).group(0) != first,
                      2.5 * SLOW, "the clock to change")

    def test_static_screen_sends_only_the_clock(self):
        v = self.viewer()
        rows = self.first_screen(v)
        geo = v.geometry()
        span = clock_span(rows[0])
        self.assertIsNotNone(span, "no clock on row 0: %r" % rows[0])
        # The clock's cells, grown to the tiles they touch.
        x0 = (span[0] * geo.cell_w) // TILE * TILE
        x1 = -(-(span[1] * geo.cell_w) // TILE) * TILE
        y1 = -(-geo.cell_h // TILE) * TILE
        v.pump(0.3)     # let the first frame's leftovers arrive
        start = len(v.rects)
        rx0 = v.rx_bytes
        t0 = time.monotonic()
        v.pump(2.2)
        secs = time.monotonic() - t0
        got = [r[1:] for r in v.rects[start:]]
        frame_rects = [r for r in got if r[4] in rfb.DECODED]
        outside = [r for r in frame_rects
                   if r[0] < x0 or r[0] + r[2] > x1 or r[1] < 0 or r[1] + r[3] > y1]
        self.assertEqual(outside, [], "rects outside the clock (cells %d..%d of row 0, "
                         "allowed x %d..%d y 0..%d)" % (span[0], span[1] - 1, x0, x1, y1))
        self.assertGreaterEqual(len(frame_rects), 1, "the clock ticked at least once in 2 s")
        self.assertLessEqual(len([u for u in v.update_log if u[0] >= t0 and u[2]]), 6,
                             "at most ~2 updates per second on a static screen")
        print("MEASURE: static screen 1280x720 raw: %d rects, %d bytes in %.1f s = %.0f B/s"
              % (len(frame_rects), v.rx_bytes - rx0, secs, (v.rx_bytes - rx0) / secs))

    def test_two_viewers_get_the_same_frame(self):
        a = self.viewer()
        b = self.viewer()
        rfb.screens_all([a, b], lambda r: TITLE in r[0], 10 * SLOW, "both first frames")
        self.assertEqual(a.screen()[1:], b.screen()[1:])
        a.type_keysyms("echo both\n")
        rfb.screens_all([a, b], lambda r: "both" in r[OUTPUT_ROW], 5 * SLOW, "echo on both")


class Resize(DaemonTestCase):
    def _type_res(self, v, cmd):
        v.type_keysyms(cmd + "\n")

    def test_res_command_resizes_viewers(self):
        ext = self.viewer(encodings=(rfb.RAW, rfb.EXT_DESKTOP_SIZE))
        old = self.viewer(encodings=(rfb.RAW, rfb.DESKTOP_SIZE))
        self.first_screen(ext)
        self.first_screen(old)
        self._type_res(ext, "res 1920x1080")
        both = [ext, old]
        rfb.wait_all(both, lambda: all((1920, 1080) in [r[:2] for r in v.resizes] for v in both),
                     5 * SLOW, "both viewers to be resized to 1920x1080")
        self.assertIn((1920, 1080, rfb.EXT_DESKTOP_SIZE), ext.resizes)
        self.assertIn((1920, 1080, rfb.DESKTOP_SIZE), old.resizes)
        rfb.screens_all(both, lambda r: TITLE in r[0] and "res 1920x1080" in r[last_row(r)],
                        5 * SLOW, "the setup screen at 1920x1080 on both viewers")
        for v in both:
            self.assertEqual((v.width, v.height), (1920, 1080))
            geo = v.geometry()
            self.assertEqual((geo.scale, geo.cols, geo.rows), (3, 80, 22))
            rows = v.screen()
            self.assertEqual(rows[MENU_FIRST_ROW + 2][MENU_COL:MENU_COL + MENU_WIDTH].strip(), "Boot")
        st = self.daemon.request({"cmd": "status"})
        self.assertEqual((st.get("width"), st.get("height")), (1920, 1080), st)
        # And back to a small size where scale is 1.
        self._type_res(ext, "res 640x480")
        rfb.screens_all(both, lambda r: TITLE in r[0] and "res 640x480" in r[last_row(r)],
                        5 * SLOW, "the setup screen at 640x480 on both viewers")
        self.assertEqual((old.width, old.height), (640, 480))
        self.assertEqual(ext.geometry().scale, 1)

    def test_bad_res_keeps_the_size(self):
        v = self.viewer()
        self.first_screen(v)
        for cmd in ("res 100x100", "res 99999x99999", "res 1280x", "res -5x-5"):
            self._type_res(v, cmd)
        v.type_keysyms("echo still here\n")
        v.wait_screen(lambda r: "still here" in r[OUTPUT_ROW], 5 * SLOW, "echo after bad res")
        self.assertEqual((v.width, v.height), (1280, 720))
        self.assertEqual([r for r in v.resizes if r[:2] != (1280, 720)], [])


class Pointer(DaemonTestCase):
    def test_click_on_boot_selects_it(self):
        v = self.viewer()
        rows = self.first_screen(v)
        geo = v.geometry()
        row = MENU_FIRST_ROW + MENU.index("Boot")
        x = (MENU_COL * geo.cell_w + (MENU_COL + MENU_WIDTH) * geo.cell_w) // 2
        y = row * geo.cell_h + geo.cell_h // 2
        self.assertNotIn("Boot", rows[OUTPUT_ROW])
        v.pointer(x, y, 0)
        v.pointer(x, y, 1)
        v.pointer(x, y, 0)
        v.wait_screen(lambda r: "Selected: Boot" in r[OUTPUT_ROW], 5 * SLOW, "Selected: Boot on row 8")

    def test_pointer_is_drawn_where_it_moves(self):
        v = self.viewer()
        self.first_screen(v)
        geo = v.geometry()
        # An empty area (middle of the screen, right of the menu).
        row, col = 12, 50
        cx, cy = geo.cell_centre(row, col)
        before = v.cells(row)[col:col + 3]
        self.assertTrue(all(c[0] == " " for c in before), before)
        v.pointer(cx - geo.cell_w // 2, cy - geo.cell_h // 2, 0)
        v.wait_for(lambda: any(c[0] != " " for c in v.cells(row)[col:col + 2]) or
                   any(c[0] != " " for c in v.cells(row + 1)[col:col + 2]), 3 * SLOW,
                   "the pointer sprite around cell (%d,%d)" % (row, col))

    def test_pointer_at_the_edges(self):
        v = self.viewer()
        self.first_screen(v)
        for x, y in ((0, 0), (v.width - 1, v.height - 1), (v.width - 1, 0), (0, v.height - 1),
                     (v.width, v.height), (65535, 65535)):
            v.pointer(x, y, 0)
            v.pump(0.1)
        v.pointer(0, 0, 0)
        v.pump(0.3)
        self.assertTrue(self.daemon.alive())
        v.type_keysyms("echo edges ok\n")
        v.wait_screen(lambda r: "edges ok" in r[OUTPUT_ROW], 5 * SLOW, "echo after edge moves")


class Power(DaemonTestCase):
    def test_xvp_reset_shows_post_then_setup(self):
        v = self.viewer(encodings=rfb.DEFAULT_ENCODINGS + (rfb.XVP,))
        self.first_screen(v)
        v.wait_for(lambda: (1, rfb.XVP_INIT) in v.xvp, 3 * SLOW, "XVP init message (version 1)")
        v.xvp_op(rfb.XVP_RESET)
        t0 = time.monotonic()
        v.wait_screen(lambda r: find_row(r, BIOS_BANNER) >= 0, 3 * SLOW, "the POST screen")
        v.wait_screen(lambda r: TITLE in r[0], 5 * SLOW, "the setup screen after POST")
        took = time.monotonic() - t0
        self.assertLessEqual(took, 5 * SLOW)
        print("MEASURE: XVP reset to setup screen: %.1f s" % took)

    def test_xvp_shutdown_then_power_on(self):
        v = self.viewer(encodings=rfb.DEFAULT_ENCODINGS + (rfb.XVP,))
        self.first_screen(v)
        v.wait_for(lambda: v.xvp, 3 * SLOW, "XVP init")
        v.xvp_op(rfb.XVP_SHUTDOWN)
        end = time.monotonic() + 3 * SLOW
        while True:
            st = self.daemon.request({"cmd": "status"})
            if st.get("signal") != "ok":
                break
            self.assertLess(time.monotonic(), end, "signal still ok after XVP shutdown: %s" % st)
            v.pump(0.1)
        self.assertEqual(self.daemon.request({"cmd": "power", "action": "on"}).get("ok"), True)
        v.wait_screen(lambda r: TITLE in r[0], 8 * SLOW, "the setup screen after power on")

    def test_xvp_without_negotiation_or_bad_version_is_refused(self):
        v = self.viewer(encodings=rfb.DEFAULT_ENCODINGS + (rfb.XVP,))
        self.first_screen(v)
        v.wait_for(lambda: v.xvp, 3 * SLOW, "XVP init")
        n = len(v.xvp)
        v.xvp_op(rfb.XVP_RESET, version=7)
        v.wait_for(lambda: len(v.xvp) > n, 3 * SLOW, "an XVP answer to version 7")
        self.assertEqual(v.xvp[n][1], rfb.XVP_FAIL, "XVP version 7 must get XVP_FAIL: %s" % v.xvp)
        v.xvp_op(99)
        v.wait_for(lambda: len(v.xvp) > n + 1, 3 * SLOW, "an XVP answer to op 99")
        self.assertEqual(v.xvp[n + 1][1], rfb.XVP_FAIL, "XVP op 99 must get XVP_FAIL: %s" % v.xvp)
        # The target was not reset by either.
        v.pump(0.5)
        self.assertEqual(find_row(v.screen(), BIOS_BANNER), -1)
        self.assertIn(TITLE, v.screen()[0])


class Exit(DaemonTestCase):
    def test_sigterm_exits_0_within_2s(self):
        v = self.viewer()
        self.first_screen(v)
        v.type_keysyms("abc")
        v.pump(0.2)
        d = self.daemon
        self.daemon_logs.append((" ".join(d.argv), d.logs()))
        status, took = d.stop_checked(timeout=2.0)
        self.assertEqual(status, 0, "exit status after SIGTERM")
        self.assertLessEqual(took, 2.0 * SLOW, "seconds to exit after SIGTERM")
        self.assertRaises(rfb.Closed, v.pump, 2.0)
