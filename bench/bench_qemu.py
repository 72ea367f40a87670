"""CPU per captured frame in the QEMU board: webkvmd against Debian's
ustreamer, one after the other on the same vivid HDMI input, showing the
same virtual target's screen.

Both run inside the guest (TCG on 2 vCPUs), so the absolute figures are
those of an emulated machine; the ratio is what carries over.  Each gets
the same window with one client taking its output: an RFB viewer on the
host for webkvmd, an HTTP MJPEG client in the guest for ustreamer.  CPU is
the process's utime + stime over the window, frames are the frames it
captured in that window.

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

CLK_TCK = 100           # the guest kernel's USER_HZ


def cpu_ticks(b, pid):
    """utime + stime of a guest process, in clock ticks."""
    stat = b.sh("cat /proc/%s/stat" % pid)
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def pump(client, stop):
    while not stop.is_set():
        client.pump(0.05)


def measure_ours(b, window):
    pid = b.sh("cat /run/webkvmd.pid").strip()
    c = b.viewer()
    stop = threading.Event()
    t = threading.Thread(target=pump, args=(c, stop), daemon=True)
    t.start()
    try:
        time.sleep(1)
        f0, c0 = b.status()["frames"], cpu_ticks(b, pid)
        time.sleep(window)
        f1, c1 = b.status()["frames"], cpu_ticks(b, pid)
    finally:
        stop.set()
        t.join()
        c.close()
    return (c1 - c0) / CLK_TCK, f1 - f0


def measure_ustreamer(b, window):
    b.sh("webkvm-svc stop webkvmd")
    try:
        b.sh("ustreamer --device /dev/video0 --format YUYV --resolution 1280x720 --dv-timings "
             "--host 127.0.0.1 --port 8080 --quality 80 > /tmp/ustreamer.log 2>&1 & "
             "echo $! > /run/ustreamer.pid")
        pid = b.sh("cat /run/ustreamer.pid").strip()

        def state():
            return b.sh("wget -q -O - http://127.0.0.1:8080/state", check=False)

        b.wait(lambda: '"online": true' in state() or '"online":true' in state(), 30,
               "ustreamer capturing (log: %s)" % b.sh("tail -5 /tmp/ustreamer.log", check=False))
        b.sh("wget -q -O /dev/null http://127.0.0.1:8080/stream > /dev/null 2>&1 & "
             "echo $! > /run/wget.pid")
        time.sleep(1)
        c0 = cpu_ticks(b, pid)
        fps = []
        t0 = time.monotonic()
        while time.monotonic() - t0 < window:
            m = re.search(r'"captured_fps":\s*(\d+)', state())
            if m:
                fps.append(int(m.group(1)))
            time.sleep(1)
        took = time.monotonic() - t0
        c1 = cpu_ticks(b, pid)
        if not fps:
            raise AssertionError("ustreamer's /state has no captured_fps: %s" % state()[:300])
        frames = sum(fps) / len(fps) * took
        return (c1 - c0) / CLK_TCK, frames
    finally:
        b.sh("kill $(cat /run/wget.pid) $(cat /run/ustreamer.pid) 2>/dev/null; sleep 1; "
             "webkvm-svc start webkvmd", check=False)


def main():
    window = 2 if "--smoke" in sys.argv else 4 if "--quick" in sys.argv else 10
    b = hil.Board(os.environ.get("BUILD", "build"))
    b.make_image()
    b.boot()
    try:
        ours_cpu, ours_frames = measure_ours(b, window)
        us_cpu, us_frames = measure_ustreamer(b, window)
    finally:
        b.stop()
    if ours_frames <= 0 or us_frames <= 0:
        print("bench_qemu: no frames captured (ours %d, ustreamer %.0f)" % (ours_frames, us_frames))
        return 1
    ours = ours_cpu * 1000 / ours_frames
    ref = us_cpu * 1000 / us_frames
    print("bench_qemu: webkvmd %.2f s CPU for %d frames; ustreamer %.2f s CPU for %.0f frames"
          % (ours_cpu, ours_frames, us_cpu, us_frames), file=sys.stderr)
    print("BENCH name=cpu_per_frame_qemu value=%.4g unit=ms ref=ustreamer ref_value=%.4g ratio=%.4g"
          % (ours, ref, ours / ref if ref > 0 else 0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
