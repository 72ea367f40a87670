"""Writes BENCHMARKS.md from the BENCH lines of one bench/run.sh run.

Each line: BENCH name=<id> value=<v> unit=<u> ref=<ref id> ref_value=<v> ratio=<r>
The goals below are the ones of issue 7; figures without one are reported.
Where a goal is missed, the note for that figure says what limits it and
what would close it.
"""

import argparse
import datetime
import os
import re
import sys

LINE = re.compile(r"^BENCH name=(\S+) value=(\S+) unit=(\S+) ref=(\S+) ref_value=(\S+) ratio=(\S+)$")

# id: (what, goal text, test on (value, ratio) or None when only reported)
GOALS = {
    "diff_1080p_static": ("tile diff (XXH3 per 32×32 tile) of an unchanged 1080p YUYV frame, bytes compared/s",
                          "≥ 0.7× memcpy", lambda v, r: r >= 0.7),
    "diff_1080p_static_xrgb": ("same, 32-bit frame", "≥ 0.7× memcpy", lambda v, r: r >= 0.7),
    "diff_1080p_10pct": ("tile diff of a 1080p YUYV frame with 10% of tiles changed, incl. their conversion",
                         "report", None),
    "diff_1080p_10pct_xrgb": ("same, 32-bit frame", "report", None),
    "convert_1080p_yuyv": ("cap_convert_rect YUYV → XRGB32, whole 1080p frame", "≥ 0.95× libyuv",
                           lambda v, r: r >= 0.95),
    "mjpeg_decode_1080p": ("cap_jpeg_decode of a 1080p MJPEG frame (4:2:2, q85) into the framebuffer",
                           "≥ 0.95× tjDecompress2", lambda v, r: r >= 0.95),
    "encode_1080p_tight": ("full-frame change → whole Tight-JPEG q8 update written to the socket (rfb_frame + rfb_process)",
                           "≥ 1.0× tjCompress2 (q92 4:4:4)", lambda v, r: r >= 1.0),
    "encode_1080p_tight_bytes": ("bytes of that update vs the bare JPEG", "report", None),
    "latency_server_p50": ("YUYV frame, 10% changed, in rfb_frame → last byte read by the viewer, 1 viewer, p50",
                           "≤ 8 ms", lambda v, r: v <= 8),
    "latency_server_p99": ("same, p99", "≤ 16 ms", lambda v, r: v <= 16),
    "latency_server_4v_p50": ("same with 4 viewers (last viewer's last byte), p50", "≤ 8 ms", lambda v, r: v <= 8),
    "latency_server_4v_p99": ("same with 4 viewers, p99", "≤ 16 ms", lambda v, r: v <= 16),
    "key_to_pixel_p50": ("RFB KeyEvent sent → update with the glyph read, sim 1080p at 60 fps, p50",
                         "≤ 1 frame + 10 ms (26.7 ms)", lambda v, r: v <= 1000 / 60 + 10),
    "key_to_pixel_p99": ("same, p99", "report", None),
    "proxy_throughput": ("bytes/s target → 32 WebSocket viewers through the proxy, large updates",
                         "≥ 1.5× websockify", lambda v, r: r >= 1.5),
    "proxy_rss_per_conn": ("proxy memory per open viewer connection, 32 streaming",
                           "≤ 0.05× websockify", lambda v, r: r <= 0.05),
    "proxy_added_p99": ("round-trip latency the proxy adds to 16-byte messages, p99",
                        "≤ 0.2 ms", lambda v, r: v <= 0.2),
    "proxy_rtt_p99": ("round trip of 16-byte messages through the proxy, p99", "report", None),
    "static_bytes_per_s": ("bytes/s to a viewer of a static screen (file source, one PPM frame, 1080p60)",
                           "0", lambda v, r: v == 0),
    "static_bytes_per_s_clock": ("same on the sim's console, whose clock ticks every second", "report", None),
    "idle_cpu_ratio": ("daemon CPU, static 1080p60 source / full-motion 1080p60 pattern, one viewer",
                       "≤ 0.05", lambda v, r: r <= 0.05),
    "bytes_per_char": ("bytes of the update for one character typed at the sim's console (Tight q8)",
                       "≤ 2 KB", lambda v, r: v <= 2048),
    "rss_1080p": ("daemon peak RSS (VmHWM), 1080p60 pattern source to 4 Tight q8 viewers, board profile qemu-x86_64 (no in-process virtual target)", "≤ 16 MiB", lambda v, r: v <= 16),
    "latency_server_write_p50": ("same, until the server's last write returned (its own work), p50", "report", None),
    "latency_server_4v_write_p50": ("same with 4 viewers", "report", None),
    "rss_1080p_sim": ("same on the sim board", "report", None),
    "proxy_rtt_p50": ("round trip of 16-byte messages through the proxy, p50", "report", None),
    "direct_rtt_p50": ("round trip of 16-byte messages, direct TCP to the target, p50", "report", None),
    "sim_fps_720p": ("virtual target: sim_render with a key typed per frame, 1280×720", "report", None),
    "sim_fps_1080p": ("same at 1920×1080", "report", None),
}

# What limits a figure and what would close the gap, shown when it misses.
# Each was checked with perf on this machine when written (2026-11-30).
NOTES = {
    "diff_1080p_static": "rfb/tilediff.c hashes every whole line with one XXH3 call (libxxhash's AVX2 dispatch on x86) and hashes tiles only in bands whose lines changed; a static frame is then one long hash per line and should run at memory speed. A miss means that path regressed: per-tile hashing of unchanged bands, or the baseline (SSE2) entry points instead of the dispatched ones.",
    "diff_1080p_static_xrgb": "as for YUYV (the same code path, twice the bytes per line).",
    "convert_1080p_yuyv": "cap_convert_rect is a thin wrapper over YUY2ToARGB; a gap here is run-to-run noise of a memory-bound call on a shared machine.",
    "mjpeg_decode_1080p": "cap_jpeg_decode adds an XXH3 hash and a copy of the JPEG (to skip byte-identical frames) and a header read before tjDecompress2; for a JPEG of a few hundred KB that is well under 5%, so a miss here is noise unless it repeats.",
    "encode_1080p_tight": "libvncserver 0.9.14 encodes Tight on the calling thread: it splits the frame into rectangles of at most 64 Ki pixels, searches each for solid areas and JPEG-compresses them one by one, copies the output into its update buffer and writes it; before that rfb_frame hashes and copies the 8 MiB frame. tjCompress2 does one call on the whole frame (and the viewer is held back from reading until the server's write returned, so it does not compete for the cores during the timed part). The rectangles are independent JPEGs, so compressing them on one worker per core (our own Tight JPEG path, or a libvncserver that has rfbNumThreads) would pass 1.0x on this 2-core machine.",
    "latency_server_p50": "latency_server_write_p50 is the same figure to within a fraction of a millisecond: the time is the server's own work on the loop thread (tile hash of the 4 MiB YUYV frame with 64-byte calls, conversion of the changed tiles, Tight JPEG of ~200 tiles of photo-like content at quality 92 4:4:4, the socket write), not the network or the viewer. Faster hashing (whole lines first) and JPEG on worker threads would bring it under 8 ms; the content here (colour fields plus per-pixel grain) is a worst case for JPEG: a text console's updates take Tight's palette/solid paths.",
    "latency_server_p99": "tail latency on a shared, loaded 2-core machine: the loop thread, the viewer thread and other engineers' builds compete for the cores, so one frame in a hundred waits a scheduler slice or more. Less work per frame (see p50) shortens the tail; a dedicated core would remove most of it.",
    "latency_server_4v_p50": "libvncserver encodes the update once per viewer: 4 viewers cost 4 Tight encodes in a row on one thread (latency_server_4v_write_p50 is 2-4x the 1-viewer figure from run to run). Encoding once per distinct (encoding, quality, pixel format) and sending the same bytes to every viewer that asked for it would bring it to the 1-viewer figure.",
    "latency_server_4v_p99": "as for the 4-viewer p50 (four encodes in series), plus the scheduling tail of the shared machine.",
    "key_to_pixel_p50": "the sim renders at 60 fps, so a key waits on average half a frame for the next render plus the loop's work; rendering on input (not only on the frame tick) would cut it.",
    "proxy_throughput": "webkvm-proxy is one thread (one lws loop), so it moves at most one core's worth of bytes; websockify forks a process per connection and with 32 connections uses both cores (and on a shared machine 32 runnable processes also get a larger share of the CPU than one thread). perf on webkvm-proxy under this load: a quarter of its CPU is user-space memmove (each payload byte is copied from the target's read into the connection's queue and again into the buffer lws writes from, behind LWS_PRE headroom), the rest is the kernel's socket copies. Closing it: read the target straight into a buffer with LWS_PRE headroom and hand that to lws_write (one copy fewer), and run one lws service loop per core (SO_REUSEPORT listeners or a thread per core with connections spread over them). The load generator costs little (sendfile from a memory file, payload discarded with MSG_TRUNC) but the ratio still moves between about 1.1 and 2.8 from run to run here.",
    "proxy_rss_per_conn": "per-connection buffers of the proxy; smaller fixed buffers per connection would lower it.",
    "proxy_added_p99": "the proxy's median round trip is a few tens of microseconds (proxy_rtt_p50, below websockify's), so the p99 is the scheduling tail of a loaded 2-core machine: the proxy's wake-up waits behind other runnable processes. On an idle core this figure is the p50's order; to check, run the benchmark with nothing else running (or pin the proxy with taskset).",
    "static_bytes_per_s": "something on the static screen is still sent; it must send nothing.",
    "idle_cpu_ratio": "Most of the daemon's CPU on a static screen is XXH3 in the tile diff, at memory speed (one AVX2 call per line). Since the daemon diffs only one frame in four once nothing changed for 200 ms and nobody typed (input returns to every frame at once), a static 1080p60 source costs about a quarter of what it did; what remains is hashing 15 frames a second (a capture device gives no 'unchanged' hint) plus the loop's wake-ups. Closing the rest: diff every eighth frame after a few seconds idle (a spontaneous change then shows up to 130 ms late), or hash a sample of lines first. The denominator is the pattern source, which redraws only what moves (bouncing box, scrolling band), not a true full-motion picture, so the ratio overstates our idle cost.",
    "bytes_per_char": "the update for a glyph covers whole 32x32 tiles; smaller tiles around the cursor or sub-tile dirty rectangles would lower it.",
    "rss_1080p": "by /proc/PID/smaps with 4 viewers: 16.5 MiB are two 1080p XRGB32 buffers (the pattern source's own frame and the RFB framebuffer, 8 MiB each), 7.3 MiB are shared-library pages (libvncserver pulls in GnuTLS, libgcrypt, nettle, gmp, libjpeg, liblzo, libstdc++ via libyuv...; shared with other processes but counted in RSS), ~3 MiB heap (per-viewer zlib streams and Tight buffers). Closing it: a source that keeps its frame in the capture driver's buffers (V4L2 YUYV is diffed and converted straight from them, so the 8 MiB source copy disappears on a real board; the pattern could render YUYV, 4 MiB) and a libvncserver built without TLS/crypto (or our own RFB encoder) for ~5 MiB of libraries.",
}


def fmt(x):
    if x == 0:
        return "0"
    a = abs(x)
    if a >= 1000:
        return "%.0f" % x
    if a >= 100:
        return "%.1f" % x
    if a >= 1:
        return "%.2f" % x
    return "%.3g" % x


def cpu_model():
    model, n = "unknown", 0
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model == "unknown":
                    model = line.split(":", 1)[1].strip()
                if line.startswith("processor"):
                    n += 1
    except OSError:
        pass
    return "%s, %d logical CPU(s)" % (model, n)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", required=True)
    ap.add_argument("--cmd", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    rows, skips = {}, []
    with open(a.log) as f:
        for line in f:
            if line.startswith("SKIP"):
                skips.append(line.strip())
            m = LINE.match(line.strip())
            if m:
                name, v, unit, ref, rv, ratio = m.groups()
                rows[name] = (float(v), unit, ref, float(rv), float(ratio))
    if not rows:
        print("report: no BENCH lines in %s" % a.log, file=sys.stderr)
        return 1
    try:
        load = open("/proc/loadavg").read().split()[:3]
    except OSError:
        load = ["?"] * 3
    out = []
    out.append("# Benchmarks\n")
    out.append("Written by `bench/run.sh` from one run; do not edit by hand (the notes "
               "come from `bench/report.py`).\n")
    out.append("- command: `%s`" % a.cmd)
    out.append("- date: %s" % datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    out.append("- machine: %s; load average at the end of the run %s "
               "(a shared machine: ours and the reference are measured interleaved in the same run, "
               "medians of several repetitions)" % (cpu_model(), " ".join(load)))
    out.append("- ratio = ours / reference as printed in the `BENCH` line, oriented as the goal: "
               "ours/ref throughput for rates, ours/ref time for latencies.  Where ours and the "
               "reference run as interleaved pairs (pixel, encode, proxy throughput), the ratio is "
               "the median of the per-pair ratios, so it can differ a little from the quotient of "
               "the two medians shown\n")
    for sk in skips:
        out.append("**%s**\n" % sk)
    out.append("| figure | ours | reference | ratio | goal | met? |")
    out.append("|---|---|---|---|---|---|")
    order = list(GOALS) + sorted(k for k in rows if k not in GOALS)
    missed, met, reported = [], [], []
    for k in order:
        if k not in rows:
            if k in GOALS and GOALS[k][2] is not None:
                out.append("| `%s` | not measured | | | %s | **missing** |" % (k, GOALS[k][1]))
                missed.append(k)
            continue
        v, unit, ref, rv, ratio = rows[k]
        goal, test = (GOALS[k][1], GOALS[k][2]) if k in GOALS else ("report", None)
        if test is None:
            ok = "—"
            reported.append(k)
        elif test(v, ratio):
            ok = "yes"
            met.append(k)
        else:
            ok = "**no**"
            missed.append(k)
        refcell = "—" if ref == "none" else "%s %s (`%s`)" % (fmt(rv), unit, ref)
        ratiocell = "—" if ref == "none" else fmt(ratio)
        out.append("| `%s` | %s %s | %s | %s | %s | %s |" % (k, fmt(v), unit, refcell, ratiocell, goal, ok))
    out.append("\n## What each figure measures\n")
    for k in order:
        if k in rows and k in GOALS:
            out.append("- `%s`: %s." % (k, GOALS[k][0]))
    out.append("\n## Goals missed: what limits them, what would close them\n")
    if not missed:
        out.append("None.")
    for k in missed:
        note = NOTES.get(k, "not analysed yet.")
        if k not in rows:
            note = "this run did not produce it (see the run's log)."
        out.append("- `%s`: %s" % (k, note))
    out.append("\n## Closing note\n")
    out.append("%d figures: %d meet their goal (%s); %d miss it (%s); %d are reported without a goal (%s)."
               % (len(met) + len(missed) + len(reported), len(met), ", ".join(met) or "none",
                  len(missed), ", ".join(missed) or "none", len(reported), ", ".join(reported) or "none"))
    out.append("")
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(out))
    os.replace(tmp, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
