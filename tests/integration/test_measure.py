"""Figures for the closing note, printed as "MEASURE:" lines (run-all.sh
repeats them): bytes on the wire for one typed character and per second on
a static screen, per encoding.  Each figure is also held to a generous
bound that only a broken diff or encoder misses: the first frame is every
pixel (raw: all of them at 4 bytes; compressed: a tenth of that at most, a
text console compresses far better), a typed character and a second of the
static screen (its clock) each cost at most 1% of a raw frame, and the
static screen does send its clock."""

import time

import rfbclient as rfb
from harness import SLOW, DaemonTestCase

PSEUDO = (rfb.DESKTOP_SIZE, rfb.EXT_DESKTOP_SIZE, rfb.QEMU_KEY, rfb.QEMU_LED)
CASES = (
    ("raw", (rfb.RAW,)),
    ("hextile", (rfb.HEXTILE,)),
    ("zlib", (rfb.ZLIB,)),
    ("zrle", (rfb.ZRLE,)),
    ("tight", (rfb.TIGHT,)),
    ("tight+jpeg q9", (rfb.TIGHT, rfb.QUALITY_LEVEL_0 + 9)),
    ("tight+jpeg q5", (rfb.TIGHT, rfb.QUALITY_LEVEL_0 + 5)),
)


class MeasureBase(DaemonTestCase):
    def measure(self, label, encodings):
        v = self.viewer(encodings=encodings + PSEUDO)
        geo = v.geometry()
        v.wait_for(lambda: v.updates > 0, 5 * SLOW, "%s: first update" % label)
        v.pump(1.0)
        first_bytes = sum(u[1] for u in v.update_log)

        def in_row0(rect):
            # Row 0 grown to whole 32-pixel tiles (rfb/ default tile).
            return rect[1] + rect[3] <= -(-geo.cell_h // 32) * 32

        # Start right after a clock tick so the next is ~1 s away.
        n = len(v.update_log)
        v.wait_for(lambda: any(in_row0(r) for u in v.update_log[n:] for r in u[2]),
                   2.5 * SLOW, "%s: a clock update" % label)
        v.pump(0.05)
        start = len(v.update_log)
        v.tap(ord("x"))
        v.pump(0.5)
        ups = [u for u in v.update_log[start:] if any(not in_row0(r) for r in u[2])]
        self.assertTrue(ups, "%s: no update after a key press" % label)
        key_bytes = sum(u[1] for u in ups)
        key_rects = sum(len(u[2]) for u in ups)

        v.pump(0.2)
        rx0, t0 = v.rx_bytes, time.monotonic()
        v.pump(3.0)
        secs = time.monotonic() - t0
        static = (v.rx_bytes - rx0) / secs
        print("MEASURE: %dx%d %-14s first frame %9d B | one typed char %6d B in %d update(s), "
              "%d rect(s) | static screen %6.0f B/s"
              % (v.width, v.height, label, first_bytes, key_bytes, len(ups), key_rects, static))
        raw_frame = v.width * v.height * 4
        if encodings[0] == rfb.RAW:
            self.assertGreaterEqual(first_bytes, raw_frame, "%s: first frame" % label)
        else:
            self.assertLess(first_bytes, raw_frame / 10, "%s: first frame" % label)
        self.assertLessEqual(key_bytes, raw_frame / 100, "%s: one typed character" % label)
        self.assertGreater(static, 0, "%s: the static screen's clock never came" % label)
        self.assertLessEqual(static, raw_frame / 100, "%s: bytes per second, static screen" % label)
        v.close()
        self.clients.remove(v)


class Measure720(MeasureBase):
    def test_bytes_per_encoding_720p(self):
        for label, encs in CASES:
            self.measure(label, encs)
        self.assertTrue(self.daemon.alive())


class Measure1080(MeasureBase):
    resolution = "1920x1080"

    def test_bytes_per_encoding_1080p(self):
        for label, encs in CASES[:1] + CASES[3:5]:
            self.measure(label, encs)
        self.assertTrue(self.daemon.alive())
