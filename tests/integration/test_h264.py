"""Open H.264 (RFB encoding 50) from webkvmd, decoded by Debian's libavcodec
($BUILD/tests/h264dec) and compared with what a Raw viewer of the same
daemon holds: the realistic desktop frame at the default bitrate, a resize,
a static screen, one typed character, a viewer joining mid-stream and a
viewer on a slow link, and `--h264 off`."""

import gzip
import os
import select
import shutil
import tempfile
import time

import h264
import rfbclient as rfb
from harness import REPO, SLOW, DaemonTestCase

PSEUDO = (rfb.DESKTOP_SIZE, rfb.EXT_DESKTOP_SIZE, rfb.QEMU_KEY, rfb.QEMU_LED, rfb.LAST_RECT)
# What noVNC sends when it can decode H.264: 50 before any other pixel
# encoding (the pseudo-encodings do not count).
H264_ENCS = (rfb.H264, rfb.EXT_DESKTOP_SIZE, rfb.DESKTOP_SIZE, rfb.QEMU_KEY, rfb.QEMU_LED)
RAW_ENCS = (rfb.RAW, rfb.EXT_DESKTOP_SIZE, rfb.DESKTOP_SIZE)
DESKTOP = os.path.join(REPO, "bench", "desktop-1080p.yuyv.gz")
# The floor for the realistic desktop at the default bitrate; the
# console checks only that the right picture decodes (a stale or broken
# one is far below).
PSNR_DESKTOP = 35.0
PSNR_CONSOLE = 30.0
# A typed character: Tight sends ~217 B; an H.264 P-frame of it is of that
# order.  The bound only a broken encoder (an IDR, a whole-frame refresh)
# misses.
CHAR_MAX_BYTES = 2048


def pump_all(clients, seconds):
    """Reads every viewer for `seconds`, as separate viewers would."""
    end = time.monotonic() + seconds
    while True:
        for c in clients:
            c.drain()
        left = end - time.monotonic()
        if left <= 0:
            return
        r, _, _ = select.select([c.sock for c in clients], [], [], min(left, 0.1))
        for c in clients:
            if c.sock in r:
                c.read_message(time.monotonic() + 10)


def pixel_rects(update):
    return [r for r in update[2] if r[4] not in PSEUDO]


class H264Case(DaemonTestCase):
    def h264_viewer(self, **kw):
        return self.viewer(encodings=H264_ENCS, **kw)

    def assert_whole_frame_rects(self, v, what):
        """Every update's pixels are one encoding-50 rectangle over the
        whole framebuffer of its time."""
        bad = []
        for i, u in enumerate(v.update_log):
            px = pixel_rects(u)
            if px and (len(px) != 1 or px[0][4] != rfb.H264 or px[0][:2] != (0, 0)):
                bad.append((i, px))
        self.assertEqual(bad, [], "%s: updates whose pixels are not one encoding-50 rect" % what)
        for e in v.h264:
            self.assertEqual(e[2:4], (0, 0), "%s: H.264 rect not at the origin" % what)

    def wait_tick(self, clients, v, what):
        """Waits for the sim's clock to tick (an H.264 frame on a still
        console), then a little: the next tick is ~1 s away."""
        n = len(v.h264)
        rfb.wait_all(clients, lambda: len(v.h264) > n, 2.5 * SLOW, "%s: a clock tick" % what)
        pump_all(clients, 0.1)


class DesktopFrame(H264Case):
    """The realistic desktop (bench/desktop-1080p.yuyv.gz), replayed by the
    file source: one still 1080p frame."""

    resolution = "1920x1080"

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="webkvm-it-h264-")
        path = os.path.join(cls.tmp, "desktop.yuyv")
        with gzip.open(DESKTOP, "rb") as f, open(path, "wb") as out:
            shutil.copyfileobj(f, out)
        cls.extra_args = ("--source", "file", "--device", path, "--file-format", "yuyv")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_idr_decodes_to_the_frame(self):
        raw = self.viewer(encodings=RAW_ENCS)
        hv = self.h264_viewer()
        rfb.wait_all([raw, hv], lambda: raw.fb_valid and hv.h264, 20 * SLOW,
                     "the Raw viewer's frame and the H.264 viewer's first rect")
        pump_all([raw, hv], 0.5)
        self.assert_whole_frame_rects(hv, "desktop")
        first = hv.h264[0]
        self.assertEqual(first[4:6], (1920, 1080), "first H.264 rect's size")
        self.assertTrue(h264.starts_with_idr(first[7]),
                        "first payload does not start SPS, PPS, IDR: NAL types %s" % h264.types(first[7])[:12])
        dec = h264.decode(hv.h264, raw.fb, (raw.width, raw.height))
        dec.check(self, "desktop")
        self.assertEqual(dec.size, (1920, 1080), "decoded size")
        self.assertIsNotNone(dec.psnr, dec.text)
        print("MEASURE: desktop 1080p under H.264 (default bitrate): first payload %d B, "
              "%d payload(s), PSNR %.2f dB against the framebuffer"
              % (len(first[7]), len(hv.h264), dec.psnr))
        self.assertGreaterEqual(dec.psnr, PSNR_DESKTOP, "PSNR of the decoded desktop")

    def test_static_screen_sends_nothing_after_the_first_frame(self):
        hv = self.viewer(encodings=(rfb.H264, rfb.EXT_DESKTOP_SIZE))
        hv.wait_for(lambda: hv.h264, 20 * SLOW, "the first H.264 rect")
        self.assertTrue(h264.starts_with_idr(hv.h264[0][7]), "first payload: NAL types %s"
                        % h264.types(hv.h264[0][7])[:12])
        hv.drain()
        rx0, n0, u0 = hv.rx_bytes, len(hv.h264), hv.updates
        t0 = time.monotonic()
        hv.pump(2.0)
        secs = time.monotonic() - t0
        print("MEASURE: static 1080p screen under H.264: %d B in %.1f s after the first frame"
              % (hv.rx_bytes - rx0, secs))
        self.assertEqual(len(hv.h264) - n0, 0, "H.264 rects on a static screen")
        self.assertEqual(hv.updates - u0, 0, "updates on a static screen")
        self.assertEqual(hv.rx_bytes - rx0, 0, "bytes on a static screen")


class Console(H264Case):
    """The sim's console: still but for its clock (one tick a second)."""

    def test_resize_resets_the_context(self):
        hv = self.h264_viewer()
        raw = self.viewer(encodings=RAW_ENCS)
        both = [hv, raw]
        rfb.wait_all(both, lambda: raw.fb_valid and hv.h264, 10 * SLOW, "first frames")
        self.assertEqual(hv.h264[0][4:6], (1280, 720))
        hv.type_keysyms("res 1024x768\n")

        def resized():
            return (raw.fb_valid and (raw.width, raw.height) == (1024, 768) and
                    any(e[4:6] == (1024, 768) for e in hv.h264))
        rfb.wait_all(both, resized, 10 * SLOW, "H.264 rects at 1024x768")
        self.assertIn((1024, 768, rfb.EXT_DESKTOP_SIZE), hv.resizes)
        at = next(i for i, e in enumerate(hv.h264) if e[4:6] == (1024, 768))
        old = [e[4:6] for e in hv.h264[:at] if e[4:6] != (1280, 720)]
        self.assertEqual(old, [], "rects before the resize at another size")
        first = hv.h264[at]
        self.assertTrue(first[6] & rfb.H264_RESET_ALL,
                        "first rect at the new size has flags %d, not 'reset all' (2)" % first[6])
        self.assertTrue(h264.starts_with_idr(first[7]),
                        "first payload at the new size: NAL types %s" % h264.types(first[7])[:12])
        # The resize rectangle came first: in an earlier update, or before
        # the H.264 rect in the same one.
        where = [(i, j) for i, u in enumerate(hv.update_log) for j, r in enumerate(u[2])
                 if r[4] == rfb.EXT_DESKTOP_SIZE and r[2:4] == (1024, 768)]
        self.assertTrue(where, "no ExtendedDesktopSize rect for 1024x768 in the update log")
        upd = first[1]
        h264_pos = next(j for j, r in enumerate(hv.update_log[upd][2]) if r[4] == rfb.H264)
        self.assertLess(where[0], (upd, h264_pos), "the resize rect came after the reset")
        # Compare in a still moment: right after a clock tick.
        self.wait_tick(both, hv, "after the resize")
        pump_all(both, 0.2)
        after = [e for e in hv.h264[at:] if e[4:6] != (1024, 768)]
        self.assertEqual(after, [], "rects after the resize at another size")
        self.assert_whole_frame_rects(hv, "resize")
        dec = h264.decode(hv.h264, raw.fb, (raw.width, raw.height))
        dec.check(self, "stream across the resize")
        self.assertEqual(dec.size, (1024, 768), "decoded size after the resize")
        self.assertEqual(dec.payloads[at]["size"], (1024, 768))
        print("MEASURE: H.264 after a resize to 1024x768: reset payload %d B, PSNR %.2f dB"
              % (len(first[7]), dec.psnr))
        self.assertGreaterEqual(dec.psnr, PSNR_CONSOLE, "PSNR at the new size")

    def test_one_character_is_one_small_frame(self):
        hv = self.h264_viewer()
        raw = self.viewer(encodings=RAW_ENCS)
        both = [hv, raw]
        rfb.wait_all(both, lambda: raw.fb_valid and hv.h264, 10 * SLOW, "first frames")
        pump_all(both, 0.3)
        idr_bytes = len(hv.h264[0][7])
        self.wait_tick(both, hv, "before typing")
        start = len(hv.h264)
        hv.tap(ord("x"))
        pump_all(both, 0.5)
        got = hv.h264[start:]
        self.assertEqual(len(got), 1, "H.264 rects for one typed character (clock ~1 s away): %s"
                         % [(len(e[7]), e[6]) for e in got])
        e = got[0]
        update_bytes = hv.update_log[e[1]][1]
        print("MEASURE: one typed character under H.264 at 1280x720: %d B on the wire "
              "(payload %d B; the first IDR was %d B)" % (update_bytes, len(e[7]), idr_bytes))
        self.assertEqual(h264.pictures(e[7]), 1, "pictures in the payload: NAL types %s" % h264.types(e[7]))
        self.assertNotIn(h264.NAL_IDR, h264.types(e[7]), "a typed character sent as an IDR")
        self.assertEqual(e[6], 0, "flags of a typed character's rect")
        self.assertLessEqual(update_bytes, CHAR_MAX_BYTES, "bytes for one typed character")
        self.assertLessEqual(update_bytes * 10, idr_bytes, "a character costs a tenth of an IDR at most")
        dec = h264.decode(hv.h264, raw.fb, (raw.width, raw.height))
        dec.check(self, "console with a typed character")
        self.assertGreaterEqual(dec.psnr, PSNR_CONSOLE, "PSNR after typing")


class Motion(H264Case):
    """The full-motion test pattern: a frame every 1/30 s."""

    extra_args = ("--source", "pattern")

    def test_new_viewer_starts_with_an_idr(self):
        a = self.h264_viewer()
        a.wait_for(lambda: a.h264, 10 * SLOW, "viewer A's first rect")
        a.pump(1.0)
        self.assertGreaterEqual(len(a.h264), 5, "viewer A's rects in its first second of motion")
        p_frames = [e for e in a.h264[1:] if h264.NAL_IDR not in h264.types(e[7])]
        self.assertTrue(p_frames, "viewer A got no P-frame: the stream is not under way")
        b = self.h264_viewer()
        rfb.wait_all([a, b], lambda: b.h264, 10 * SLOW, "viewer B's first rect")
        self.assertTrue(h264.starts_with_idr(b.h264[0][7]),
                        "viewer B's first payload: NAL types %s" % h264.types(b.h264[0][7])[:12])
        n_a = len(a.h264)
        pump_all([a, b], 1.0)
        self.assertGreaterEqual(len(a.h264) - n_a, 5, "viewer A's rects in the second after B joined")
        self.assertGreaterEqual(len(b.h264), 5, "viewer B's rects in its first second")
        st = self.daemon.request({"cmd": "status"})
        self.assertIn("h264", st, st)
        self.assertEqual(st["h264"].get("viewers"), 2, st)
        self.assertGreaterEqual(st["h264"].get("idr", 0), 1, st)
        for name, v in (("A", a), ("B", b)):
            self.assert_whole_frame_rects(v, "viewer " + name)
            dec = h264.decode(v.h264)
            dec.check(self, "viewer " + name)
            self.assertEqual(dec.size, (1280, 720), "viewer %s decoded size" % name)


def moving_desktop(path, w, h, frames):
    """A raw YUYV file of `frames` frames: the middle w x h of the committed
    desktop, the band of lines holding its picture window shifted sideways
    64 pixels further each frame (the file source plays them in a loop):
    most of the screen changes every frame."""
    fw, fh = 1920, 1080
    with gzip.open(DESKTOP, "rb") as f:
        full = f.read()
    if len(full) != fw * fh * 2:
        raise AssertionError("%s: not one %dx%d YUYV frame" % (DESKTOP, fw, fh))
    x0, y0 = (fw - w) // 2 & ~1, (fh - h) // 2
    rows = [full[((y0 + y) * fw + x0) * 2:((y0 + y) * fw + x0 + w) * 2] for y in range(h)]
    with open(path, "wb") as out:
        for k in range(frames):
            shift = (k * 64 * 2) % (w * 2)
            for y in range(h):
                r = rows[y]
                out.write(r[shift:] + r[:shift] if h // 10 <= y < h * 9 // 10 else r)


class SlowLink(H264Case):
    """A busy desktop (the file source looping over frames that differ
    almost everywhere): frames of tens of kilobytes, so a viewer that
    does not read backs its socket up past the daemon's 512 KiB limit."""

    resolution = "1280x720"

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="webkvm-it-h264-")
        path = os.path.join(cls.tmp, "moving.yuyv")
        moving_desktop(path, 1280, 720, 4)
        cls.extra_args = ("--source", "file", "--device", path, "--file-format", "yuyv")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_slow_viewer_recovers_with_an_idr(self):
        window = 3.0
        a = self.h264_viewer()
        a.wait_for(lambda: a.h264, 10 * SLOW, "viewer A's first rect")
        a.pump(0.5)

        def count_in(v, t0, t1):
            return sum(1 for e in v.h264 if t0 <= e[0] < t1)

        # A's rate alone.
        t0 = time.monotonic()
        a.pump(window)
        alone = count_in(a, t0, time.monotonic())
        alone_bytes = sum(len(e[7]) for e in a.h264 if e[0] >= t0)
        self.assertGreaterEqual(alone, 5 * window, "viewer A's rects in %.0f s of motion alone" % window)
        # S: a small receive window; it asks for updates and reads none
        # (a viewer behind a link far slower than the stream).
        s = rfb.Client(self.daemon.port, rcvbuf=4096)
        self.clients.append(s)
        s.handshake(encodings=H264_ENCS)
        rfb.wait_all([a, s], lambda: s.h264, 10 * SLOW, "viewer S's first rect")
        s.auto_request = False
        streams = []
        ctl = self.daemon.control()
        try:
            t0 = time.monotonic()
            end = t0 + window
            polled = t0
            while time.monotonic() < end:
                s.request(incremental=True)
                a.pump(min(0.03, max(0.0, end - time.monotonic())))
                if time.monotonic() - polled > 0.25:
                    streams.append(ctl.request({"cmd": "status"})["h264"]["streams"])
                    polled = time.monotonic()
            with_slow = count_in(a, t0, time.monotonic())
            # S reads again and catches up: its first frame after the
            # backlog is an IDR with 'reset', at a lowered bitrate, which is
            # a stream of its own (the daemon saw its socket back up).
            n_s = len(s.h264)
            s.auto_request = True
            s.request(incremental=True)
            end = time.monotonic() + 15 * SLOW
            while not (any(e[6] & rfb.H264_RESET for e in s.h264[n_s:]) and 2 in streams):
                if time.monotonic() > end:
                    break
                pump_all([a, s], 0.1)
                streams.append(ctl.request({"cmd": "status"})["h264"]["streams"])
        finally:
            ctl.close()
        self.assertTrue(any(e[6] & rfb.H264_RESET for e in s.h264[n_s:]),
                        "viewer S got no rect with flags 'reset' (1) after it drained: %s"
                        % [e[6] for e in s.h264[n_s:]][:40])
        self.assertIn(2, streams, "H.264 streams (status) while S was stalled and catching up: %s" % streams)
        pump_all([a, s], 0.5)
        print("MEASURE: H.264 viewer A (busy 720p desktop): %d rects (%d B) in %.0f s alone, %d beside "
              "a stalled viewer; S got %d rects, %d with 'reset'; streams seen %s"
              % (alone, alone_bytes, window, with_slow, len(s.h264),
                 sum(1 for e in s.h264 if e[6] & rfb.H264_RESET), sorted(set(streams))))
        self.assertGreaterEqual(with_slow, 0.8 * alone,
                                "viewer A's rects in %.0f s: %d alone, %d beside a stalled viewer"
                                % (window, alone, with_slow))
        reset = next(e for e in s.h264[n_s:] if e[6] & rfb.H264_RESET)
        self.assertTrue(h264.starts_with_idr(reset[7]),
                        "S's reset payload: NAL types %s" % h264.types(reset[7])[:12])
        for name, v in (("A", a), ("S", s)):
            self.assert_whole_frame_rects(v, "viewer " + name)
            dec = h264.decode(v.h264)
            dec.check(self, "viewer " + name)
            self.assertEqual(dec.size, (1280, 720), "viewer %s decoded size" % name)


    def test_viewer_a_round_trip_away_costs_the_other_no_idr(self):
        """Two viewers of one stream, B asking for its next update 40 ms
        after each one arrives (a link with a 40 ms round trip, not a slow
        one): neither is ever behind, so neither needs an IDR, and A's
        stream is what it is alone."""
        window, rtt = 3.0, 0.04
        a = self.h264_viewer()
        a.wait_for(lambda: a.h264, 10 * SLOW, "viewer A's first rect")
        a.pump(0.5)
        b = self.h264_viewer()
        rfb.wait_all([a, b], lambda: b.h264, 10 * SLOW, "viewer B's first rect")
        b.auto_request = False
        pump_all([a, b], 0.2)
        na, nb = len(a.h264), len(b.h264)
        seen, due = b.updates, time.monotonic() + rtt
        end = time.monotonic() + window
        while time.monotonic() < end:
            pump_all([a, b], 0.005)
            if b.updates != seen:
                seen, due = b.updates, time.monotonic() + rtt
            if due is not None and time.monotonic() >= due:
                b.request(incremental=True)
                due = None

        def idrs(es):
            return sum(1 for e in es if h264.NAL_IDR in h264.types(e[7]))
        ea, eb = a.h264[na:], b.h264[nb:]
        print("MEASURE: H.264 beside a viewer with a %.0f ms round trip, %.0f s: A %d frames, %d IDR, "
              "%d with 'reset', %d B; B %d frames, %d IDR"
              % (rtt * 1000, window, len(ea), idrs(ea), sum(1 for e in ea if e[6]),
                 sum(len(e[7]) for e in ea), len(eb), idrs(eb)))
        self.assertGreaterEqual(len(eb), 5 * window, "viewer B's frames")
        self.assertEqual([e[6] for e in ea if e[6]], [], "viewer A's rects with 'reset'")
        self.assertLessEqual(idrs(ea), 1, "IDRs viewer A got beside B")
        self.assertLessEqual(idrs(eb), 1, "IDRs viewer B got")

class Off(DaemonTestCase):
    extra_args = ("--h264", "off")

    def test_h264_off_gives_tight(self):
        v = self.viewer(encodings=(rfb.H264, rfb.TIGHT) + PSEUDO[:4])
        v.wait_for(lambda: v.updates > 0, 10 * SLOW, "first update")
        v.pump(0.3)
        encs = {r[4] for u in v.update_log for r in pixel_rects(u)}
        self.assertEqual(v.h264, [], "H.264 rects with --h264 off")
        self.assertEqual(encs, {rfb.TIGHT}, "pixel encodings with --h264 off")
