"""Benchmarks of the whole daemon (build/webkvmd) seen from RFB viewers.

  key_to_pixel_p50/p99   KeyEvent sent -> the update holding the typed glyph
                         read, sim board at 60 fps, vs one frame interval
  bytes_per_char         bytes of that update (Tight, JPEG quality 8) vs a
                         full-frame update of the same screen and encoding
  static_bytes_per_s     bytes/s to a viewer of a truly static screen (file
                         source, one PPM frame); static_bytes_per_s_clock is
                         the sim's console, whose clock ticks once a second
  idle_cpu_ratio         daemon CPU on that static 1080p60 source / on the
                         full-motion 1080p60 pattern, one viewer each,
                         taking turns and repeated (median of the pairs'
                         ratios; each pair in a DETAIL line)
  h264_key_to_pixel_p50/p99  the same with an H.264 viewer (encoding 50, the
                         daemon's defaults) against a Tight q8 viewer of the
                         same daemon in the same run, taking turns in
                         blocks; h264_bytes_per_char the bytes of that
                         update against Tight's
  h264_static_bytes_per_s  bytes/s to an H.264 viewer of the static file
                         source
  rss_1080p              the daemon's own memory (peak RSS less the capture
                         buffers) streaming a moving 1080p60 YUYV desktop to
                         4 Tight viewers, on a board profile without the
                         in-process virtual target; the capture buffers as
                         rss_1080p_capture_buffers (rss_1080p_sim: VmHWM on
                         the sim board, its pattern shown in place)

Prints BENCH lines (see bench/bench.h).  --smoke: tiny sizes and times.
"""

import argparse
import gzip
import os
import random
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
import rfbclient as rfb  # noqa: E402

PSEUDO = (rfb.DESKTOP_SIZE, rfb.EXT_DESKTOP_SIZE, rfb.QEMU_KEY, rfb.QEMU_LED)
TIGHT_Q8 = (rfb.TIGHT, rfb.QUALITY_LEVEL_0 + 8, rfb.COMPRESS_LEVEL_0 + 1) + PSEUDO
# As noVNC asks when it can decode H.264: 50 before the other encodings.
H264 = (rfb.H264,) + TIGHT_Q8
HZ = os.sysconf("SC_CLK_TCK")


def bench(name, value, unit, ref, ref_value, ratio):
    print("BENCH name=%s value=%.6g unit=%s ref=%s ref_value=%.6g ratio=%.4g"
          % (name, value, unit, ref, ref_value, ratio), flush=True)


def quantile(v, q):
    v = sorted(v)
    i = max(0, min(len(v) - 1, int(q * len(v) + 0.999999) - 1))
    return v[i]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    """build/webkvmd on a free port with its own temporary folder."""

    def __init__(self, build, *args):
        self.dir = tempfile.mkdtemp(prefix="webkvm-bench-")
        self.port = free_port()
        self.log = open(os.path.join(self.dir, "log"), "w+")
        argv = [os.path.join(build, "webkvmd"), "--rfb-listen", "127.0.0.1:%d" % self.port,
                "--control", os.path.join(self.dir, "ctl"), "--log-level", "warn"] + list(args)
        # As it ships (firmware/systemd/webkvmd.service): GnuTLS, linked by
        # libvncserver but unused, skips its load-time initialisation.
        env = dict(os.environ, GNUTLS_NO_IMPLICIT_INIT="1")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        end = time.monotonic() + 10
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("webkvmd exited: %s" % self.logs())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > end:
                    raise RuntimeError("webkvmd did not listen within 10 s: %s" % self.logs())
                time.sleep(0.05)

    def logs(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()[-2000:]

    def cpu_s(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / HZ    # utime, stime

    def status_kib(self, key):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        raise RuntimeError("no %s in /proc/%d/status" % (key, self.proc.pid))

    def viewer(self, encodings=TIGHT_Q8):
        return rfb.Client(self.port, timeout=10).handshake(encodings=encodings, timeout=10)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def cell_h(w, h):
    return 16 * max(1, min(w // 640, h // 360))


def in_clock_row(rect, ch):
    """Rect (x, y, w, h, enc) within the top console row, grown to the
    server's 32-pixel tiles: the clock."""
    return rect[1] + rect[3] <= -(-ch // 32) * 32


def pump_all(clients, seconds):
    """Reads every viewer for `seconds`, as separate viewers would."""
    end = time.monotonic() + seconds
    while True:
        for c in clients:
            c.drain()
        left = end - time.monotonic()
        if left <= 0:
            return
        r, _, _ = select.select([c.sock for c in clients], [], [], min(left, 0.2))
        for c in clients:
            if c.sock in r:
                c.read_message(time.monotonic() + 10)


def key_to_pixel(build, mode):
    w, h = (640, 400) if mode == "smoke" else (1920, 1080)
    n = {"smoke": 3, "quick": 40, "full": 200}[mode]
    ch = cell_h(w, h)
    d = Daemon(build, "--board", "sim", "--resolution", "%dx%d" % (w, h), "--fps", "60")
    try:
        v = d.viewer()
        v.wait_for(lambda: v.updates > 0, 10, "first update")
        v.pump(0.3)
        lat, sizes = [], []
        typed = 0
        rnd = random.Random(7)
        for i in range(n):
            if typed == 20:
                for _ in range(typed):
                    v.tap(rfb.XK_BACKSPACE)
                typed = 0
                v.pump(0.1)
            # Any phase against the sim's frame clock.
            v.pump(rnd.uniform(0.0, 1 / 60) + 0.02)
            v.drain()
            start = len(v.update_log)
            t0 = time.monotonic()
            v.tap(ord("x"))
            typed += 1
            deadline = t0 + 5
            got = None
            while got is None:
                v.read_message(deadline)
                for u in v.update_log[start:]:
                    if any(not in_clock_row(r, ch) for r in u[2]):
                        got = u
                        break
            t1 = time.monotonic()
            lat.append((t1 - t0) * 1000)
            if not any(in_clock_row(r, ch) for r in got[2]):
                sizes.append(got[1])
        # The full-frame reference: same screen, same encoding.
        v.pump(0.2)
        start = len(v.update_log)
        v.request(incremental=False)
        def full(u):
            return sum(r[2] * r[3] for r in u[2] if r[4] == rfb.TIGHT) >= w * h
        v.wait_for(lambda: any(full(u) for u in v.update_log[start:]), 10, "full-frame update")
        full_bytes = max(u[1] for u in v.update_log[start:] if full(u))
        v.close()
    finally:
        d.stop()
    frame_ms = 1000 / 60
    p50, p99 = quantile(lat, 0.5), quantile(lat, 0.99)
    bench("key_to_pixel_p50", p50, "ms", "frame_interval_60fps", frame_ms, p50 / frame_ms)
    bench("key_to_pixel_p99", p99, "ms", "frame_interval_60fps", frame_ms, p99 / frame_ms)
    if not sizes:
        raise RuntimeError("no key update without the clock in it")
    b = quantile(sizes, 0.5)
    bench("bytes_per_char", b, "B", "full_frame_tight_q8", full_bytes, b / full_bytes)


def clock_phase(v, secs):
    """The sim's clock ticks once a second; on a still console each tick
    is the only H.264 frame.  Returns the arrival time of the last tick
    seen in `secs` of reading, or None."""
    n = len(v.h264)
    v.pump(secs)
    ticks = [e[0] for e in v.h264[n:]]
    return ticks[-1] if ticks else None


def key_to_pixel_h264(build, mode):
    """KeyEvent -> the update with the glyph, H.264 against Tight q8 on one
    daemon, viewers taking turns in blocks of `per` keys.  An H.264 update
    is the whole frame: the clock's tick and a key's frame look alike, so
    keys are pressed only between 0.15 s and 0.8 s after a tick (learned
    from the ticks' arrival, re-learned each block), and a sample whose
    update arrived within 60 ms of the next tick is dropped and taken
    again.  The same window holds for the Tight samples."""
    w, h = (640, 400) if mode == "smoke" else (1920, 1080)
    n = {"smoke": 2, "quick": 20, "full": 60}[mode]
    per = {"smoke": 2, "quick": 10, "full": 10}[mode]
    ch = cell_h(w, h)
    d = Daemon(build, "--board", "sim", "--resolution", "%dx%d" % (w, h), "--fps", "60")
    lat = {"tight": [], "h264": []}
    size = {"tight": [], "h264": []}
    dropped = 0
    rnd = random.Random(11)
    try:
        typed = 0
        blk = 0
        while len(lat["h264"]) < n or len(lat["tight"]) < n:
            kind = ("tight", "h264")[(blk + (blk // 2)) % 2]
            blk += 1
            if len(lat[kind]) >= n:
                continue
            if blk > 4 * (2 * n // per + 2):
                raise RuntimeError("key_to_pixel_h264: too many blocks (%d dropped samples)" % dropped)
            v = d.viewer(H264 if kind == "h264" else TIGHT_Q8)
            v.wait_for(lambda: v.updates > 0, 10, "first update")
            if kind == "h264":
                v.wait_for(lambda: v.h264, 10, "first H.264 frame")
            v.pump(0.3)
            # The tick phase, from the H.264 viewer's own frames or the
            # Tight viewer's clock-row rects.
            start = len(v.update_log)
            v.pump(1.1)
            ticks = [u[0] for u in v.update_log[start:]
                     if (kind == "h264" and any(r[4] == rfb.H264 for r in u[2])) or
                     (kind == "tight" and any(in_clock_row(r, ch) for r in u[2]))]
            if not ticks:
                raise RuntimeError("key_to_pixel_h264: no clock tick in 1.1 s (%s)" % kind)
            phase = ticks[-1]
            got_n = 0
            tries = 0
            while got_n < per and len(lat[kind]) < n:
                tries += 1
                if tries > 4 * per:
                    raise RuntimeError("key_to_pixel_h264: %d tries for %d samples" % (tries, per))
                if typed >= 20:
                    for _ in range(typed):
                        v.tap(rfb.XK_BACKSPACE)
                    typed = 0
                    v.pump(0.1)
                    # The backspaces' frames may straddle a tick: learn it anew.
                    start = len(v.update_log)
                    v.pump(1.1)
                    ticks = [u[0] for u in v.update_log[start:]
                             if (kind == "h264" and any(r[4] == rfb.H264 for r in u[2])) or
                             (kind == "tight" and any(in_clock_row(r, ch) for r in u[2]))]
                    if ticks:
                        phase = ticks[-1]
                # Wait for the quiet part of the second, then any phase
                # against the sim's frame clock.
                ph = (time.monotonic() - phase) % 1.0
                if not 0.15 <= ph <= 0.8 - 1 / 60 - 0.02:
                    v.pump((0.15 - ph) % 1.0)
                v.pump(rnd.uniform(0.0, 1 / 60))
                v.drain()
                start = len(v.update_log)
                t0 = time.monotonic()
                v.tap(ord("x"))
                typed += 1
                deadline = t0 + 5
                got = None
                while got is None:
                    v.read_message(deadline)
                    for u in v.update_log[start:]:
                        if kind == "h264" and any(r[4] == rfb.H264 for r in u[2]):
                            got = u
                        elif kind == "tight" and any(not in_clock_row(r, ch) and r[4] == rfb.TIGHT
                                                     for r in u[2]):
                            got = u
                        if got is not None:
                            break
                t1 = time.monotonic()
                if (t1 - phase) % 1.0 > 0.94:
                    dropped += 1
                    continue
                lat[kind].append((t1 - t0) * 1000)
                size[kind].append(got[1])
                got_n += 1
            v.close()
    finally:
        d.stop()
    frame_ms = 1000 / 60
    for q, name in ((0.5, "p50"), (0.99, "p99")):
        ours, ref = quantile(lat["h264"], q), quantile(lat["tight"], q)
        bench("h264_key_to_pixel_" + name, ours, "ms", "tight_key_to_pixel_" + name, ref, ours / ref)
    b, tb = quantile(size["h264"], 0.5), quantile(size["tight"], 0.5)
    bench("h264_bytes_per_char", b, "B", "tight_bytes_per_char", tb, b / tb)
    print("DETAIL name=h264_key_to_pixel_p50 samples=%d tight_samples=%d dropped_near_tick=%d "
          "frame_ms=%.3f h264_p50=%.3f tight_p50=%.3f h264_p99=%.3f tight_p99=%.3f "
          "h264_max=%.3f tight_max=%.3f"
          % (len(lat["h264"]), len(lat["tight"]), dropped, frame_ms, quantile(lat["h264"], 0.5),
             quantile(lat["tight"], 0.5), quantile(lat["h264"], 0.99), quantile(lat["tight"], 0.99),
             max(lat["h264"]), max(lat["tight"])), flush=True)
    print("DETAIL name=h264_key_to_pixel_p99 frame_ms=%.3f h264_p50=%.3f h264_p99=%.3f "
          "tight_p50=%.3f tight_p99=%.3f"
          % (frame_ms, quantile(lat["h264"], 0.5), quantile(lat["h264"], 0.99),
             quantile(lat["tight"], 0.5), quantile(lat["tight"], 0.99)), flush=True)


def write_ppm(path, w, h):
    """A desktop-like still: a gradient with a few flat panels and bars."""
    row = bytearray()
    for x in range(w):
        row += bytes((x * 255 // w, 80, 255 - x * 255 // w))
    img = bytearray()
    for y in range(h):
        r = bytearray(row)
        if (y // 40) % 5 == 1:
            r[3 * (w // 4):3 * (w // 2)] = b"\xf0\xf0\xf0" * (w // 2 - w // 4)
        img += r
    with open(path, "wb") as f:
        f.write(b"P6\n%d %d\n255\n" % (w, h) + bytes(img))


def static_source(build, w, h, tmp):
    os.makedirs(os.path.join(tmp, "frames"), exist_ok=True)
    write_ppm(os.path.join(tmp, "frames", "still.ppm"), w, h)
    return Daemon(build, "--board", "sim", "--source", "file", "--device",
                  os.path.join(tmp, "frames"), "--resolution", "%dx%d" % (w, h), "--fps", "60")


def static_window(build, w, h, tmp, warm, secs, encodings=TIGHT_Q8):
    """(bytes/s to the viewer, daemon CPU share) on the static file source."""
    d = static_source(build, w, h, tmp)
    try:
        v = d.viewer(encodings)
        v.wait_for(lambda: v.updates > 0, 10, "first update")
        if encodings[0] == rfb.H264:
            v.wait_for(lambda: v.h264, 10, "the first H.264 frame")
        v.pump(warm)
        rx0, c0, t0 = v.rx_bytes, d.cpu_s(), time.monotonic()
        v.pump(secs)
        dt = time.monotonic() - t0
        v.close()
        return (v.rx_bytes - rx0) / dt, (d.cpu_s() - c0) / dt
    finally:
        d.stop()


def motion_window(build, w, h, warm, secs):
    """Daemon CPU share on the full-motion pattern, one viewer asking for
    every update."""
    d = Daemon(build, "--board", "sim", "--source", "pattern", "--resolution",
               "%dx%d" % (w, h), "--fps", "60")
    try:
        v = d.viewer()
        v.wait_for(lambda: v.updates > 0, 10, "first update")
        v.pump(warm)
        c0, t0 = d.cpu_s(), time.monotonic()
        v.pump(secs)
        cpu = (d.cpu_s() - c0) / (time.monotonic() - t0)
        v.close()
        return cpu
    finally:
        d.stop()


def static_and_cpu(build, mode):
    w, h = (640, 400) if mode == "smoke" else (1920, 1080)
    secs = {"smoke": 0.5, "quick": 3.0, "full": 10.0}[mode]
    reps = {"smoke": 1, "quick": 2, "full": 3}[mode]
    warm = 0.2 if mode == "smoke" else 1.0
    tmp = tempfile.mkdtemp(prefix="webkvm-bench-")
    try:
        # The static screen and full motion take turns, the order flipping
        # every repetition, and the ratio is the median of each pair's own
        # (one window of each is at the mercy of whatever else ran then).
        pairs, static_bps = [], []
        for r in range(reps):
            if r % 2 == 0:
                bps, st = static_window(build, w, h, tmp, warm, secs)
                mo = motion_window(build, w, h, warm, secs)
            else:
                mo = motion_window(build, w, h, warm, secs)
                bps, st = static_window(build, w, h, tmp, warm, secs)
            pairs.append((st, mo))
            static_bps.append(bps)
        # The same static screen to an H.264 viewer, one window.
        h264_bps, _ = static_window(build, w, h, tmp, warm, secs, H264)
        # The sim's console: static but for the clock.
        d = Daemon(build, "--board", "sim", "--resolution", "%dx%d" % (w, h), "--fps", "60")
        try:
            v = d.viewer()
            v.wait_for(lambda: v.updates > 0, 10, "first update")
            v.pump(warm)
            rx0, t0 = v.rx_bytes, time.monotonic()
            v.pump(secs)
            clock_bps = (v.rx_bytes - rx0) / (time.monotonic() - t0)
            v.close()
        finally:
            d.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    static_cpu = sorted(p[0] for p in pairs)[len(pairs) // 2]
    motion_cpu = sorted(p[1] for p in pairs)[len(pairs) // 2]
    ratios = sorted(st / mo for st, mo in pairs if mo > 0)
    ratio = ratios[len(ratios) // 2] if ratios else 0
    print("DETAIL name=idle_cpu_ratio pairs=%s" % ",".join("%.2f/%.2f" % (st * 100, mo * 100) for st, mo in pairs),
          flush=True)
    static_bps = max(static_bps)
    bench("static_bytes_per_s", static_bps, "B/s", "none", 0, 0)
    bench("static_bytes_per_s_clock", clock_bps, "B/s", "none", 0, 0)
    bench("h264_static_bytes_per_s", h264_bps, "B/s", "none", 0, 0)
    bench("idle_cpu_ratio", static_cpu * 100, "%cpu", "full_motion_1080p60", motion_cpu * 100, ratio)


DESKTOP = os.path.join(REPO, "bench", "desktop-1080p.yuyv.gz")


def moving_desktop(path, w, h, frames):
    """A raw YUYV file of `frames` frames of the committed desktop (its
    middle w×h when smaller), the band of lines holding the picture window
    scrolled sideways 64 pixels further each frame: motion on most of the
    screen in every frame, as a capture of a busy desktop hands over."""
    fw, fh = 1920, 1080
    with gzip.open(DESKTOP, "rb") as f:
        full = f.read()
    if len(full) != fw * fh * 2:
        raise RuntimeError("%s: not one %dx%d YUYV frame" % (DESKTOP, fw, fh))
    x0, y0 = (fw - w) // 2 & ~1, (fh - h) // 2
    rows = [full[((y0 + y) * fw + x0) * 2:((y0 + y) * fw + x0 + w) * 2] for y in range(h)]
    band = range(h * 3 // 20, h * 17 // 20)
    with open(path, "wb") as out:
        for k in range(frames):
            shift = (k * 64 * 2) % (w * 2)
            for y in range(h):
                r = rows[y]
                out.write(r[shift:] + r[:shift] if y in band else r)
    return os.path.getsize(path)


def smaps_split(pid, buf_bytes):
    """Rss of the process in KiB from /proc/PID/smaps, split into
    {"total", "buffers", "files", "anon"}: "buffers" is the anonymous
    mapping the file source read its frames into (malloc of the file's
    size, so a mapping of that size rounded up to pages; ustreamer maps its
    V4L2 buffers the same way, so they are reported apart from the daemon's
    own memory), "files" the pages of mapped files (the program and its
    shared libraries), "anon" the rest (heap, stacks, framebuffer)."""
    out = dict(total=0, buffers=0, files=0, anon=0, by_file={})
    size = 0
    path = ""
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            head = line.split()
            if "-" in head[0] and not head[0].endswith(":"):
                path = head[5] if len(head) >= 6 else ""
                continue
            if head[0] == "Size:":
                size = int(head[1])
            elif head[0] == "Rss:":
                rss = int(head[1])
                out["total"] += rss
                if path == "" and buf_bytes // 1024 <= size <= buf_bytes // 1024 + 8:
                    out["buffers"] += rss
                elif path.startswith("/"):
                    out["files"] += rss
                    name = os.path.basename(path)
                    out["by_file"][name] = out["by_file"].get(name, 0) + rss
                else:
                    out["anon"] += rss
    return out


def rss(build, mode):
    """Memory with 4 Tight viewers of continuous motion, on a board without
    the in-process virtual target: the source is YUYV (the committed
    desktop, moving) from the file source, so every frame takes the path a
    capture card's does (conversion into rfb/'s framebuffer, diff, encode).
    The frames file is held in memory as a capture device's buffers would
    be; it is measured and reported apart (rss_1080p_capture_buffers), and
    rss_1080p is the rest: the daemon's own memory.  rss_1080p_sim is the
    sim board with its own screen, for comparison."""
    w, h = (640, 400) if mode == "smoke" else (1920, 1080)
    secs = {"smoke": 0.5, "quick": 3.0, "full": 8.0}[mode]
    tmp = tempfile.mkdtemp(prefix="webkvm-bench-")
    try:
        raw = os.path.join(tmp, "moving.yuyv")
        buf_bytes = moving_desktop(raw, w, h, 4)
        d = Daemon(build, "--board", "qemu-x86_64", "--source", "file", "--device", raw,
                   "--file-format", "yuyv", "--resolution", "%dx%d" % (w, h), "--fps", "60")
        try:
            vs = [d.viewer() for _ in range(4)]
            peak = None
            end = time.monotonic() + secs
            while time.monotonic() < end:
                pump_all(vs, min(0.25, max(0.01, end - time.monotonic())))
                m = smaps_split(d.proc.pid, buf_bytes)
                if peak is None or m["total"] - m["buffers"] > peak["total"] - peak["buffers"]:
                    peak = m
            peak_own, buf_kib = peak["total"] - peak["buffers"], peak["buffers"]
            if any(v.updates < 2 for v in vs):
                raise RuntimeError("a viewer got fewer than 2 updates")
            measured = buf_kib > 0
            if not measured:
                # malloc's dynamic mmap threshold can put even a large
                # block on the heap: then the whole file (read in full,
                # so resident) is taken as the buffers, and DETAIL says so.
                buf_kib = buf_bytes // 1024
                peak_own = peak["total"] - buf_kib
                peak["anon"] -= buf_kib
            hwm = d.status_kib("VmHWM")
            for v in vs:
                v.close()
        finally:
            d.stop()
        d = Daemon(build, "--board", "sim", "--source", "pattern", "--resolution",
                   "%dx%d" % (w, h), "--fps", "60")
        try:
            vs = [d.viewer() for _ in range(4)]
            pump_all(vs, secs)
            if any(v.updates < 2 for v in vs):
                raise RuntimeError("a viewer got fewer than 2 updates")
            sim = d.status_kib("VmHWM") / 1024
            for v in vs:
                v.close()
        finally:
            d.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    # No reference measured on this host: ustreamer needs a V4L2 device.
    # bench/bench_qemu.py measures both on the board's vivid device.
    bench("rss_1080p", peak_own / 1024, "MiB", "none", 0, 0)
    bench("rss_1080p_capture_buffers", buf_kib / 1024, "MiB", "none", 0, 0)
    bench("rss_1080p_sim", sim, "MiB", "none", 0, 0)
    print("DETAIL name=rss_1080p own_mib=%.2f rss_mib=%.2f capture_buffers_mib=%.2f "
          "files_mib=%.2f anon_mib=%.2f framebuffer_mib=%.2f vmhwm_mib=%.2f frames_file_mib=%.2f "
          "buffers_mapping_found=%d top_files=%s"
          % (peak_own / 1024, peak["total"] / 1024, buf_kib / 1024, peak["files"] / 1024,
             peak["anon"] / 1024, w * h * 4 / 1048576, hwm / 1024, buf_bytes / 1048576, measured,
             ",".join("%s:%.2f" % (n, k / 1024) for n, k in
                      sorted(peak["by_file"].items(), key=lambda x: -x[1])[:5])), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--smoke", action="store_true")
    a = ap.parse_args()
    q = os.environ.get("BENCH_QUICK", "")
    mode = "smoke" if a.smoke else "quick" if q not in ("", "0") else "full"
    build = a.build if os.path.isabs(a.build) else os.path.join(REPO, a.build)
    key_to_pixel(build, mode)
    key_to_pixel_h264(build, mode)
    static_and_cpu(build, mode)
    rss(build, mode)


if __name__ == "__main__":
    main()
