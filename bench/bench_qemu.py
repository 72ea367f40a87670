"""webkvmd against Debian's ustreamer inside the QEMU board, on the same
vivid HDMI input showing the same virtual target's screen, taking turns
(ours, ustreamer, ours, ...) and repeated.

Both run inside the guest (TCG on 2 vCPUs), so the absolute figures are
those of an emulated machine; the ratios are what carry over.

  cpu_per_frame_qemu         process CPU (utime + stime) per captured frame,
                             one client each (an RFB viewer on the host; an
                             HTTP MJPEG client in the guest), as each runs:
                             webkvmd's idle skip diffs only one frame in 4
                             (in 8 after 2 s) of a still screen, ustreamer
                             JPEG-encodes every frame it captures.
  cpu_per_diffed_frame_qemu  the same with the viewer sending a pointer event
                             to one place every 100 ms: input keeps webkvmd
                             out of idle (firmware/daemon.c, IDLE_AFTER_US),
                             so every captured frame is diffed and this is
                             CPU per diffed frame.  status.diffed says how
                             many captured frames each window diffed (the
                             DETAIL line), so both claims are checked.
  rss_qemu                   RSS less the V4L2 buffers (mapped from
                             /dev/video*, reported apart in the DETAIL
                             line) with 4 clients each (Tight q8 viewers;
                             MJPEG streams), the target at 1920x1080 and
                             typing so the screen keeps changing, ustreamer's
                             measured the same way on the same device.

    python3 bench/bench_qemu.py [--smoke|--quick]      env BUILD=build

tests/hil/test_hil.py runs measure_ours() and measure_ustreamer() on the
board it has booted, with a short window, so this cannot rot.
"""
import os
import re
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TOP, "tests", "hil"))

import board as hil  # noqa: E402
import rfbclient  # noqa: E402  (tests/integration, put on the path by board)

CLK_TCK = 100           # the guest kernel's USER_HZ
TIGHT_Q8 = (rfbclient.TIGHT, rfbclient.QUALITY_LEVEL_0 + 8, rfbclient.COMPRESS_LEVEL_0 + 1,
            rfbclient.DESKTOP_SIZE, rfbclient.EXT_DESKTOP_SIZE)
# Sums a process's Rss from smaps: total, V4L2 buffers, mapped files, the rest.
SMAPS_AWK = ("awk '$1 ~ /-/ && $1 !~ /:$/ {p=$6; next} $1==\"Rss:\" {t+=$2; "
             "if (p ~ /^\\/dev\\/video/) v+=$2; else if (p ~ /^\\//) f+=$2; else a+=$2} "
             "END {print t+0, v+0, f+0, a+0}' /proc/%s/smaps")


def cpu_ticks(b, pid):
    """utime + stime of a guest process, in clock ticks."""
    stat = b.sh("cat /proc/%s/stat" % pid)
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def smaps(b, pid):
    """(total, v4l2 buffers, files, anon) Rss of a guest process, KiB."""
    return tuple(int(x) for x in b.sh(SMAPS_AWK % pid).split())


def pump(client, stop, poke=False):
    """Reads the viewer; with poke, a pointer event to one place every 100 ms."""
    last = 0.0
    while not stop.is_set():
        if poke and time.monotonic() - last >= 0.1:
            client.pointer(8, 8)
            last = time.monotonic()
        client.pump(0.05)


def connect_viewer(b, pid):
    """b.viewer(), tried again while webkvmd is alive: the host side of
    QEMU's port forward accepts a connection and closes it when the guest's
    port does not answer in time, which a busy TCG guest sometimes is.  A
    daemon that died is an error, with its log."""
    for attempt in range(3):
        try:
            return b.viewer()
        except (rfbclient.Closed, OSError) as e:
            if b.sh("kill -0 %s && echo alive" % pid, check=False).strip() != "alive":
                raise AssertionError("webkvmd (pid %s) died: %s\n%s" % (pid, e, b.guest_logs()))
            print("bench_qemu: viewer connection %d closed (%s); webkvmd alive, again" % (attempt + 1, e),
                  file=sys.stderr)
            time.sleep(2)
    return b.viewer()


def measure_ours(b, window, active=False, diffed=None):
    """(CPU seconds, captured frames) of webkvmd over `window` with one
    viewer; active: the viewer's pointer events keep every frame diffed.
    diffed, a list, gets the number of those frames the tile diff saw."""
    pid = b.sh("cat /run/webkvmd.pid").strip()
    c = connect_viewer(b, pid)
    stop = threading.Event()
    t = threading.Thread(target=pump, args=(c, stop, active), daemon=True)
    t.start()
    try:
        time.sleep(1)
        s0, c0 = b.status(), cpu_ticks(b, pid)
        time.sleep(window)
        s1, c1 = b.status(), cpu_ticks(b, pid)
        f0, f1 = s0["frames"], s1["frames"]
        if diffed is not None:
            diffed.append(s1.get("diffed", 0) - s0.get("diffed", 0))
    finally:
        stop.set()
        t.join()
        c.close()
    return (c1 - c0) / CLK_TCK, f1 - f0


def start_ustreamer(b, resolution):
    b.sh("webkvm-svc stop webkvmd")
    b.sh("ustreamer --device /dev/video0 --format YUYV --resolution %s --dv-timings "
         "--host 127.0.0.1 --port 8080 --quality 80 > /tmp/ustreamer.log 2>&1 & "
         "echo $! > /run/ustreamer.pid" % resolution)
    b.wait(lambda: re.search(r'"online":\s*true', ustreamer_state(b)) is not None, 30,
           "ustreamer capturing (log: %s)" % b.sh("tail -5 /tmp/ustreamer.log", check=False))
    return b.sh("cat /run/ustreamer.pid").strip()


def ustreamer_state(b):
    return b.sh("wget -q -O - http://127.0.0.1:8080/state", check=False)


def stop_ustreamer(b):
    b.sh("for p in /run/wget*.pid /run/ustreamer.pid; do [ -f $p ] && kill $(cat $p); rm -f $p; done "
         "2>/dev/null; sleep 1; webkvm-svc start webkvmd", check=False)


def stream_clients(b, n):
    for i in range(n):
        b.sh("wget -q -O /dev/null http://127.0.0.1:8080/stream > /dev/null 2>&1 & "
             "echo $! > /run/wget%d.pid" % i)


def measure_ustreamer(b, window, resolution="1280x720"):
    """(CPU seconds, captured frames) of ustreamer over `window`, one MJPEG
    client, webkvmd stopped meanwhile (the device is the same)."""
    try:
        pid = start_ustreamer(b, resolution)
        stream_clients(b, 1)
        time.sleep(1)
        c0 = cpu_ticks(b, pid)
        fps = []
        t0 = time.monotonic()
        while time.monotonic() - t0 < window:
            m = re.search(r'"captured_fps":\s*(\d+)', ustreamer_state(b))
            if m:
                fps.append(int(m.group(1)))
            time.sleep(1)
        took = time.monotonic() - t0
        c1 = cpu_ticks(b, pid)
        if not fps:
            raise AssertionError("ustreamer's /state has no captured_fps: %s" % ustreamer_state(b)[:300])
        frames = sum(fps) / len(fps) * took
        return (c1 - c0) / CLK_TCK, frames
    finally:
        stop_ustreamer(b)


def typist(c, stop):
    """Types at the target's console, 10 keys a second, and rubs them out:
    a screen that keeps changing, as a person working makes it."""
    typed = 0
    while not stop.is_set():
        if typed == 20:
            for _ in range(typed):
                c.tap(rfbclient.XK_BACKSPACE)
            typed = 0
        c.tap(ord("x"))
        typed += 1
        c.pump(0.1)


def peak_own(b, pid, secs):
    """Peak of (Rss - V4L2 buffers) over `secs`, with the smaps split at it."""
    best = None
    end = time.monotonic() + secs
    while time.monotonic() < end:
        m = smaps(b, pid)
        if best is None or m[0] - m[1] > best[0] - best[1]:
            best = m
        time.sleep(0.5)
    return best


def measure_rss(b, secs, size="1920x1080"):
    """Memory of webkvmd and of ustreamer, 4 clients each, target at `size`."""
    w, h = (int(x) for x in size.split("x"))
    b.sh("webkvm-svc stop webkvmd; webkvm-svc restart target --size %s; sleep 1; "
         "webkvm-svc start webkvmd" % size)
    try:
        b.wait(lambda: b.status(quiet=True).get("width") == w and
               b.status(quiet=True).get("signal") == "ok", 60, "webkvmd capturing %s" % size)
        pid = b.sh("cat /run/webkvmd.pid").strip()
        vs = [rfbclient.Client(b.rfb_port, timeout=10).handshake(encodings=TIGHT_Q8) for _ in range(4)]
        stop = threading.Event()
        ths = [threading.Thread(target=typist if i == 0 else pump, args=(v, stop), daemon=True)
               for i, v in enumerate(vs)]
        for t in ths:
            t.start()
        try:
            time.sleep(1)
            ours = peak_own(b, pid, secs)
        finally:
            stop.set()
            for t in ths:
                t.join()
            for v in vs:
                v.close()
        try:
            upid = start_ustreamer(b, size)
            stream_clients(b, 4)
            time.sleep(1)
            theirs = peak_own(b, upid, secs)
        finally:
            stop_ustreamer(b)
    finally:
        b.sh("webkvm-svc stop webkvmd; webkvm-svc restart target; sleep 1; webkvm-svc start webkvmd",
             check=False)
    return ours, theirs


def median(v):
    v = sorted(v)
    return v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2


def bench(name, value, unit, ref, ref_value, ratio):
    print("BENCH name=%s value=%.4g unit=%s ref=%s ref_value=%.4g ratio=%.4g"
          % (name, value, unit, ref, ref_value, ratio), flush=True)


def main():
    smoke, quick = "--smoke" in sys.argv, "--quick" in sys.argv
    window = 2 if smoke else 4 if quick else 10
    reps = 1 if smoke else 2 if quick else 3
    b = hil.Board(os.environ.get("BUILD", "build"))
    b.make_image()
    b.boot()
    idle, active, us = [], [], []
    diffed = {"idle": [], "active": []}
    try:
        for r in range(reps):
            print("bench_qemu: repetition %d" % (r + 1), file=sys.stderr)
            # Taking turns; the order flips every repetition.
            order = ("idle", "active", "us") if r % 2 == 0 else ("us", "active", "idle")
            for what in order:
                print("bench_qemu: %s" % what, file=sys.stderr)
                if what == "us":
                    us.append(measure_ustreamer(b, window))
                else:
                    (idle if what == "idle" else active).append(
                        measure_ours(b, window, what == "active", diffed[what]))
        rss = measure_rss(b, 2 if smoke else 4 if quick else 8)
    except Exception:
        print("bench_qemu: the guest's logs:\n%s" % b.guest_logs(), file=sys.stderr)
        raise
    finally:
        b.stop()
    if any(f <= 0 for _, f in idle + active + us):
        print("bench_qemu: a window captured no frames: ours %s %s, ustreamer %s" % (idle, active, us))
        return 1
    for what, runs in (("webkvmd as it runs", idle), ("webkvmd with input", active), ("ustreamer", us)):
        print("bench_qemu: %s: %s" % (what, ", ".join("%.2f s CPU / %.0f frames" % x for x in runs)),
              file=sys.stderr)
    per = {k: [c * 1000 / f for c, f in v] for k, v in (("idle", idle), ("active", active), ("us", us))}
    # Ratio of each repetition's own pair (same load), then the median.
    bench("cpu_per_frame_qemu", median(per["idle"]), "ms", "ustreamer", median(per["us"]),
          median([o / u for o, u in zip(per["idle"], per["us"])]))
    bench("cpu_per_diffed_frame_qemu", median(per["active"]), "ms", "ustreamer", median(per["us"]),
          median([o / u for o, u in zip(per["active"], per["us"])]))
    print("DETAIL name=cpu_per_diffed_frame_qemu idle_captured=%d idle_diffed=%d active_captured=%d "
          "active_diffed=%d" % (sum(f for _, f in idle), sum(diffed["idle"]),
                                sum(f for _, f in active), sum(diffed["active"])), flush=True)
    ours, theirs = rss
    own, their_own = (ours[0] - ours[1]) / 1024, (theirs[0] - theirs[1]) / 1024
    bench("rss_qemu", own, "MiB", "ustreamer", their_own, own / their_own if their_own > 0 else 0)
    print("DETAIL name=rss_qemu size=1920x1080 ours_rss_mib=%.2f ours_v4l2_mib=%.2f ours_files_mib=%.2f "
          "ours_anon_mib=%.2f ustreamer_rss_mib=%.2f ustreamer_v4l2_mib=%.2f ustreamer_files_mib=%.2f "
          "ustreamer_anon_mib=%.2f" % tuple(x / 1024 for x in ours + theirs), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
