"""Writes BENCHMARKS.md from the BENCH lines of one bench/run.sh run.

Each line: BENCH name=<id> value=<v> unit=<u> ref=<ref id> ref_value=<v> ratio=<r>
The goals below are the ones of issues 7, 13 and 18; figures without one are
reported.  Where a goal is missed, explain() says what limited it from this
run's own figures (BENCH lines and the DETAIL lines that break a figure
down), never from numbers written here.
"""

import argparse
import datetime
import os
import re
import sys

LINE = re.compile(r"^BENCH name=(\S+) value=(\S+) unit=(\S+) ref=(\S+) ref_value=(\S+) ratio=(\S+)$")
DETAIL = re.compile(r"^DETAIL name=(\S+)((?: \S+=\S+)*)$")

# id: (what, goal text, test on (value, ratio) or None when only reported)
GOALS = {
    "diff_1080p_static": ("tile diff (XXH3 per 32×32 tile) of an unchanged 1080p YUYV frame, bytes compared/s, "
                          "against memcpy of the frame (which reads and writes every byte)",
                          "≥ 0.7× memcpy", lambda v, r: r >= 0.7),
    "diff_1080p_static_xxh3": ("the same run against one XXH3_64bits pass over the whole frame (the same dispatched "
                               "entry point rfb/ uses): the read-once limit of telling a static frame from the last",
                               "≥ 0.8× one XXH3 pass", lambda v, r: r >= 0.8),
    "diff_1080p_static_xrgb": ("tile diff of an unchanged 32-bit frame against memcpy", "≥ 0.7× memcpy",
                               lambda v, r: r >= 0.7),
    "diff_1080p_10pct": ("tile diff of a 1080p YUYV frame with 10% of tiles changed, incl. their conversion",
                         "report", None),
    "diff_1080p_10pct_xrgb": ("same, 32-bit frame", "report", None),
    "convert_1080p_yuyv": ("cap_convert_rect YUYV → XRGB32, whole 1080p frame", "≥ 0.95× libyuv",
                           lambda v, r: r >= 0.95),
    "mjpeg_decode_1080p": ("cap_jpeg_decode of a 1080p MJPEG frame (4:2:2, q85) into the framebuffer",
                           "≥ 0.95× tjDecompress2", lambda v, r: r >= 0.95),
    "encode_1080p_tight_1t": ("a realistic desktop (bench/desktop-1080p.yuyv.gz: terminal text and a photo-like "
                              "window, made by bench/make-desktop-frame.sh) changed everywhere, handed over in "
                              "YUYV as capture does → rfb_frame (conversion, diff, Tight-JPEG q8) → the whole "
                              "update written to the socket, ONE encoding thread; against the same job on the same "
                              "bytes on one thread: libyuv YUY2ToARGB + one tjCompress2 (JPEG 92, 4:4:4, the "
                              "subsampling the viewer gets)", "≥ 1.0× (convert + tjCompress2)",
                              lambda v, r: r >= 1.0),
    "encode_1080p_tight": ("the same with every encoding thread, against the one-thread run times the threads: "
                           "ratio = scaling per core (1.0 = each added core gives a whole core's worth)",
                           "report", None),
    "encode_1080p_tight_bytes": ("bytes of that update vs the bare whole-frame JPEG", "report", None),
    "encode_1080p_tight_1t_bare": ("the one-thread figure against tjCompress2 alone (no conversion): how much "
                                   "the reference's conversion weighs", "report", None),
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
    "proxy_throughput_vs_direct": ("the same against the same client reading the target's 32 streams over "
                                   "plain TCP (no proxy: the limit), interleaved",
                                   "≥ 0.8× direct TCP", lambda v, r: r >= 0.8),
    "proxy_rss_per_conn": ("proxy memory per open viewer connection, 32 streaming: PSS (smaps_rollup) streaming "
                           "less PSS idle, over 32; websockify's PSS summed over its forked children",
                           "≤ 0.05× websockify", lambda v, r: r <= 0.05),
    "proxy_added_p99": ("round-trip latency the proxy adds to 16-byte messages, p99",
                        "≤ 0.2 ms", lambda v, r: v <= 0.2),
    "proxy_rtt_p99": ("round trip of 16-byte messages through the proxy, p99", "report", None),
    "static_bytes_per_s": ("bytes/s to a viewer of a static screen (file source, one PPM frame, 1080p60)",
                           "0", lambda v, r: v == 0),
    "static_bytes_per_s_clock": ("same on the sim's console, whose clock ticks every second", "report", None),
    "idle_cpu_ratio": ("daemon CPU, static 1080p60 source / full-motion 1080p60 pattern, one viewer, taking turns "
                       "and repeated: the median of the pairs' ratios",
                       "≤ 0.05", lambda v, r: r <= 0.05),
    "bytes_per_char": ("bytes of the update for one character typed at the sim's console (Tight q8)",
                       "≤ 2 KB", lambda v, r: v <= 2048),
    "rss_1080p": ("the daemon's own memory: peak RSS (smaps) less its capture buffers, a moving 1080p60 YUYV "
                  "desktop (file source, converted into rfb/'s framebuffer as a capture card's frames are) to 4 "
                  "Tight q8 viewers, board profile qemu-x86_64 (no in-process virtual target). No reference on "
                  "this host: ustreamer needs a V4L2 device (see rss_qemu)", "≤ 16 MiB", lambda v, r: v <= 16),
    "rss_1080p_capture_buffers": ("the capture buffers of that run (the frames file held in memory, as a V4L2 "
                                  "device's mapped buffers are), apart from the daemon's own memory",
                                  "report", None),
    "latency_server_write_p50": ("same, until the server's last write returned (its own work), p50", "report", None),
    "latency_server_4v_write_p50": ("same with 4 viewers", "report", None),
    "rss_1080p_sim": ("peak RSS (VmHWM) on the sim board, its pattern shown in place, 4 viewers", "report", None),
    "proxy_rtt_p50": ("round trip of 16-byte messages through the proxy, p50", "report", None),
    "direct_rtt_p50": ("round trip of 16-byte messages, direct TCP to the target, p50", "report", None),
    "sim_fps_720p": ("virtual target: sim_render with a key typed per frame, 1280×720", "report", None),
    "sim_fps_1080p": ("same at 1920×1080", "report", None),
    "cpu_per_frame_qemu": ("in the QEMU board (TCG, 2 vCPUs), the same vivid YUYV input showing the virtual "
                           "target's console, one client each (an RFB viewer; ustreamer's MJPEG stream): process "
                           "CPU per captured frame, as each runs (webkvmd's idle skip diffs only some of the "
                           "frames of a still screen; ustreamer JPEG-encodes every one), interleaved and repeated",
                           "report", None),
    "cpu_per_diffed_frame_qemu": ("the same with the viewer moving nothing but sending a pointer event every "
                                  "100 ms, which keeps webkvmd from idling: every captured frame is diffed, so "
                                  "this is CPU per diffed frame (against ustreamer's per encoded frame)",
                                  "report", None),
    "h264_bytes_motion_1080p": ("bytes/s to the H.264 viewer our page is when its browser decodes High 4:4:4 "
                                "(encoding 50 and pseudo-encoding 0x574B3003: High 4:4:4 Predictive in slices, at the "
                                "encoder's default CRF, the daemon's 8000 kbit/s cap) of 10 s of full-motion "
                                "1080p30 (the desktop's terminal scrolling, its picture window gliding; "
                                "bench/bench_h264.c, bench/motion.h), through the real server, against a Tight q8 "
                                "viewer of the same server getting the same frames, every frame reaching both",
                                "≤ 0.2× Tight q8 (at a PSNR no lower: next line)", lambda v, r: r <= 0.2),
    "h264_psnr_motion_1080p": ("what those two viewers showed (H.264 decoded by libavcodec and converted to RGB "
                               "precisely, as a browser's floating-point conversion is — libyuv's 6-bit "
                               "conversion in DETAIL, *_libyuv_decode; Tight by TurboJPEG and zlib) against the "
                               "frame sent: PSNR over R, G, B, mean over the frames",
                               "≥ Tight q8's", lambda v, r: r >= 1.0),
    "h264_420_bytes_motion_1080p": ("the same for a 4:2:0 viewer of the same server at the same time (encoding 50 "
                                    "alone, as noVNC asks: Constrained Baseline at its default CRF)",
                                    "report", None),
    "h264_420_psnr_motion_1080p": ("what that 4:2:0 viewer showed, measured the same way", "report", None),
    "h264_bytes_at_tight_psnr": ("the same motion (first 5 s) through the 4:4:4 encoder alone at CRF 21, 17, 14, "
                                 "11 and 8 (bitrate cap at its highest; down to the first CRF that reaches Tight "
                                 "q8's PSNR), decoded and compared the same way: the bytes/s at Tight q8's PSNR "
                                 "over those frames, interpolated between the CRFs either side (absent when no CRF "
                                 "reaches it: see h264_psnr_motion_1080p)",
                                 "report", None),
    "h264_psnr_i444_ceiling": ("the same frames converted to I444 with libyuv's 8-bit ARGBToI444 (BT.601 limited "
                               "range; what rfb_h264_load used before its own 15-bit conversion) and back with "
                               "libyuv, no coding between: why libyuv alone could not reach Tight q8's PSNR",
                               "report", None),
    "h264_psnr_precise_load": ("a reference for rfb_h264_load's own conversion (15-bit coefficients): the x264 "
                               "tool with the server's settings (4:4:4 default CRF, 8000 kbit/s cap) fed the same "
                               "first 5 s converted with 16-bit coefficients, through a pipe, decoded and measured "
                               "as the viewers are, against Tight q8's PSNR over those frames", "report", None),
    "h264_psnr_i420_ceiling": ("the same for I420: what no 4:2:0 (Constrained Baseline) stream of them can exceed",
                               "report", None),
    "h264_encode_1080p": ("rfb_h264_load + rfb_h264_encode (XRGB32 in, the 4:4:4 viewer's settings: ultrafast/"
                          "zerolatency, High 4:4:4 Predictive, its default CRF, VBV 8000 kbit/s, sliced threads) "
                          "of 60 frames of that motion, against the x264 command-line tool with the same settings "
                          "(--profile high444 --output-csp i444) and thread count fed the same frames as BGRA (its "
                          "own fps figure: its encoding loop, input and conversion included), interleaved "
                          "repetitions", "≥ 0.9× x264 CLI", lambda v, r: r >= 0.9),
    "h264_encode_1080p_i444": ("rfb_h264_encode alone against the x264 tool fed the I444 our load made (both "
                               "without conversion; equal output sizes in DETAIL show the settings match)",
                               "report", None),
    "h264_420_encode_1080p": ("the same as h264_encode_1080p for the 4:2:0 encoder (Constrained Baseline, its "
                              "default CRF; x264 --profile baseline)", "report", None),
    "h264_420_encode_1080p_i420": ("rfb_h264_encode alone (4:2:0) against the x264 tool fed the I420 our load made",
                                   "report", None),
    "h264_encode_1080p_arm64_qemu": ("process CPU time per frame of rfb_h264_load + rfb_h264_encode (4:4:4, its "
                                     "default CRF) on the same motion at 1080p, bench/bench_h264_cpu.c built for "
                                     "arm64 (make ARCH=arm64's toolchain; Debian's arm64 libx264 and libyuv with "
                                     "their NEON code) and run emulated under qemu-user, against the same program "
                                     "built for this machine, natively, same frames and thread count, taking "
                                     "turns: ratio = the emulation's cost. Emulated: it proves the arm64 build "
                                     "encodes, not how fast a Cortex-A72 is", "report", None),
    "h264_420_encode_1080p_arm64_qemu": ("the same for the 4:2:0 encoder", "report", None),
    "h264_key_to_pixel_p50": ("RFB KeyEvent sent → the H.264 frame with the glyph read (a 4:4:4 viewer, as our "
                              "page), sim 1080p at 60 fps, p50, against a Tight q8 viewer of the same daemon in the same run (viewers "
                              "taking turns in blocks of keys)", "≤ Tight's + 1 frame (16.7 ms)",
                              lambda v, r: r > 0 and v <= v / r + 1000 / 60),
    "h264_key_to_pixel_p99": ("same, p99", "≤ Tight's + 1 frame (16.7 ms)",
                              lambda v, r: r > 0 and v <= v / r + 1000 / 60),
    "h264_bytes_per_char": ("bytes of that update (one typed character, 4:4:4 H.264 P-frame of the whole 1080p "
                            "screen) against Tight q8's in the same run", "report", None),
    "h264_static_bytes_per_s": ("bytes/s to a 4:4:4 H.264 viewer of the static screen (file source, one PPM frame, "
                                "1080p60) after its first frame", "0", lambda v, r: v == 0),
    "rss_qemu": ("in the QEMU board, vivid YUYV at the size in its DETAIL line, 4 clients each (Tight q8 "
                 "viewers; ustreamer MJPEG streams): RSS less the V4L2 buffers, webkvmd against ustreamer "
                 "measured on the same device", "report", None),
}


def top_files(d):
    """" The largest mapped files were ..." from a DETAIL's top_files=name:MiB,..."""
    parts = [p.rsplit(":", 1) for p in d.get("top_files", "").split(",") if ":" in p]
    if not parts:
        return ""
    return " The largest mapped files were %s." % ", ".join("%s %s MiB" % (n, m) for n, m in parts)


def crf_points(sw, key, fields):
    """[(crf, value...)] of a DETAIL list "crf:v[:v],..." with `fields` values."""
    return [p.split(":") for p in sw.get(key, "").split(",") if p.count(":") == fields]


def psnr_gap(base, d, sw, rows, pl):
    """Why the 4:4:4 viewer's PSNR is below Tight's, from this run's DETAIL lines (pl: the
    h264_psnr_precise_load one)."""
    txt = base
    if "h264_444_mean" in d:
        txt += (": 4:4:4 H.264 %s dB mean (%s dB worst frame), Tight q8 %s dB (%s dB worst); the 4:2:0 viewer "
                "%s dB" % (d["h264_444_mean"], d["h264_444_min"], d["tight_mean"], d["tight_min"],
                           d.get("h264_420_mean", "?")))
    if "h264_444_precise_mean" in d:
        txt += (". Converted to RGB with 16-bit coefficients instead of libyuv's 6-bit ones, the same 4:4:4 "
                "stream shows %s dB" % d["h264_444_precise_mean"])
    if "i444_ceiling_psnr" not in sw:
        return txt + "."
    tp = float(sw.get("tight_psnr", "nan"))
    c444, c420 = float(sw["i444_ceiling_psnr"]), float(sw.get("i420_ceiling_psnr", "nan"))
    pts = crf_points(sw, "points", 2)
    if pts:
        txt += ("; over the first %s frames (Tight %s dB at %s kbit/s) the 4:4:4 encoder alone, cap lifted, "
                "gave %s" % (sw.get("frames", "?"), fmt(tp), fmt(float(sw.get("tight_bps", "nan")) * 8 / 1000),
                             ", ".join("CRF %s %s dB at %s kbit/s" % (c, fmt(float(q)), fmt(float(b) * 8 / 1000))
                                       for c, b, q in pts)))
    ppts = crf_points(sw, "points_precise_decode", 1)
    if ppts:
        txt += " (%s through the precise conversion)" % ", ".join("CRF %s %s dB" % (c, fmt(float(q)))
                                                                  for c, q in ppts)
    txt += (". With no coding at all, the conversions alone give %s dB for 4:4:4 (libyuv both ways) and %s dB "
            "for 4:2:0" % (fmt(c444), fmt(c420)))
    if "i444_ceiling_precise_decode" in sw:
        txt += ("; libyuv's RGB→YUV (rfb_h264_load) with a precise YUV→RGB gives %s dB, precise both ways %s dB"
                % (fmt(float(sw["i444_ceiling_precise_decode"])), fmt(float(sw["i444_ceiling_precise_both"]))))
    if c444 < tp:
        txt += (". So, measured with libyuv's conversions, no CRF reaches Tight's %s dB: the conversions alone "
                "stop %s dB below it. libyuv's RGB→YUV keeps 8 bits of its coefficients (its YUV→RGB, used "
                "here as the viewer's, 6)" % (fmt(tp), fmt(tp - c444)))
        if pl:
            txt += ("; with a precise RGB→YUV in rfb_h264_load the same settings (CRF %s, %s kbit/s cap) give "
                    "%s dB at %s kbit/s over those frames, against %s dB at %s kbit/s through libyuv's "
                    "(both from the x264 tool, h264_psnr_precise_load), Tight %s dB"
                    % (pl.get("crf", "?"), pl.get("kbps_cap", "?"), fmt(float(pl["precise_load_psnr"])),
                       fmt(float(pl["precise_load_bps"]) * 8 / 1000), fmt(float(pl["libyuv_load_psnr"])),
                       fmt(float(pl["libyuv_load_bps"]) * 8 / 1000), fmt(float(pl["tight_psnr"]))))
        txt += (". What closes it: that precise conversion in rfb_h264_load, or RGB coded directly (High "
                "4:4:4 allows GBR: no conversion at all)")
    elif sw.get("reached") == "1" and "h264_bytes_at_tight_psnr" in rows:
        r = rows["h264_bytes_at_tight_psnr"]
        txt += (". Between CRF %s and %s the encoder reaches Tight's PSNR, at %s kbit/s (%s× Tight's bytes): "
                "a finer default CRF closes the gap for that many bytes"
                % (sw.get("crf_hi", "?"), sw.get("crf_lo", "?"), fmt(r[0] * 8 / 1000), fmt(r[4])))
    else:
        txt += (". The conversions leave room above Tight's PSNR, but even CRF %s stayed below it"
                % sw.get("crf_lo", "?"))
    return txt + "."


def figure_note(k, rows, details):
    """A computed sentence after a report-only figure's description."""
    d = details.get(k, {})
    if k in ("h264_encode_1080p_arm64_qemu", "h264_420_encode_1080p_arm64_qemu") and k in rows:
        v, unit, ref, rv, ratio = rows[k]
        txt = (" In this run: %s ms of CPU per frame emulated against %s ms natively (%s thread(s), %s frames of "
               "%sx%s), the emulation %s× slower; the arm64 build's output was %s B against %s B natively "
               "(libyuv's and x264's NEON and x86 code round differently)"
               % (fmt(v), fmt(rv), d.get("threads", "?"), d.get("frames", "?"), d.get("w", "?"), d.get("h", "?"),
                  fmt(ratio), d.get("arm64_bytes", "?"), d.get("native_bytes", "?")))
        if k == "h264_encode_1080p_arm64_qemu":
            txt += (". A Pi 4 (Cortex-A72): no published x264 figure for it at these settings (1080p, "
                    "ultrafast/zerolatency) was found to scale from (searched: Raspberry Pi forums and blogs, "
                    "GitHub issues of go2rtc, jellyfin, LibreELEC, HandBrake; openbenchmarking), so no estimate "
                    "is given; qemu-user's slowdown says nothing about it")
        return txt + "."
    return ""


def explain(k, rows, details):
    """What limited a missed figure, in this run's own numbers."""
    v, unit, ref, rv, ratio = rows[k]
    d = details.get(k, {})
    if ref == "none":
        base = "ours %s %s (no reference in this run)" % (fmt(v), unit)
    else:
        base = "ours %s %s against %s %s %s (ratio %s)" % (fmt(v), unit, fmt(rv), unit, ref, fmt(ratio))
    if k in ("diff_1080p_static", "diff_1080p_static_xxh3", "diff_1080p_static_xrgb"):
        size = 1920 * 1080 * (4 if k.endswith("xrgb") else 2) / 1e9
        return ("%s: %s ms per frame against %s ms, %s ms more per frame. rfb/tilediff.c hashes each whole "
                "line once and tiles only in bands whose lines changed, so a static frame should cost one "
                "read of the frame; a gap larger than run-to-run noise means per-tile hashing of unchanged "
                "bands or the baseline (not dispatched) XXH3 entry points."
                % (base, fmt(size / v * 1e3), fmt(size / rv * 1e3), fmt(size / v * 1e3 - size / rv * 1e3)))
    if k == "encode_1080p_tight_1t" and all(x in d for x in ("ours_ms", "ref_ms", "convert_ms", "jpeg_ms")):
        ours, refms = float(d["ours_ms"]), float(d["ref_ms"])
        conv, jpeg = float(d["convert_ms"]), float(d["jpeg_ms"])
        extra = ours - refms
        txt = ("%s: one frame took %s ms of ours against %s ms for the reference (%s ms conversion + %s ms "
               "tjCompress2), %s ms (%s%%) more. Ours is the same conversion and JPEG work split into one JPEG "
               "per band of 64 lines, plus the tile hash of the frame and the socket write of the update"
               % (base, fmt(ours), fmt(refms), fmt(conv), fmt(jpeg), fmt(extra), fmt(100 * extra / ours)))
        if "encode_1080p_tight_bytes" in rows:
            b = rows["encode_1080p_tight_bytes"]
            txt += " (%s B on the wire against the bare JPEG's %s B)" % (fmt(b[0]), fmt(b[3]))
        return txt + (". Closing it takes that much less per frame on one core: fewer, larger JPEG calls "
                      "for a frame that changed everywhere, or skipping the hash when every band changed.")
    if k == "rss_1080p" and all(x in d for x in ("own_mib", "files_mib", "anon_mib", "framebuffer_mib")):
        own, files, anon, fb = (float(d[x]) for x in ("own_mib", "files_mib", "anon_mib", "framebuffer_mib"))
        return ("the daemon's own memory peaked at %s MiB, %s MiB over the goal: %s MiB of mapped files (the "
                "program and its shared libraries) and %s MiB anonymous, of which rfb/'s XRGB32 "
                "framebuffer (the converted frame) is %s MiB and the rest (%s MiB) heap, stacks and encoder "
                "buffers; the capture buffers (%s MiB) are not counted.%s Closing it means fewer of those "
                "library pages or a smaller anonymous part."
                % (fmt(own), fmt(own - 16), fmt(files), fmt(anon), fmt(fb), fmt(anon - fb),
                   d.get("capture_buffers_mib", "?"), top_files(d)))
    if k in ("proxy_throughput", "proxy_throughput_vs_direct"):
        txt = base
        for other in ("proxy_throughput", "proxy_throughput_vs_direct"):
            if other != k and other in rows:
                o = rows[other]
                txt += "; in the same run the other reference (%s) measured %s %s (ratio %s)" % (
                    o[2], fmt(o[3]), o[1], fmt(o[4]))
        return txt + (". The load generator, the target and the proxy share the machine's cores (see the "
                      "load average above), so a gap that moves from run to run is the machine's share.")
    if k == "proxy_added_p99":
        txt = base
        if "proxy_rtt_p50" in rows and "proxy_rtt_p99" in rows:
            txt += "; the proxy's round trip was %s ms at p50 and %s ms at p99" % (
                fmt(rows["proxy_rtt_p50"][0]), fmt(rows["proxy_rtt_p99"][0]))
        if "direct_rtt_p50" in rows and "proxy_rtt_p99" in rows:
            txt += ", direct TCP %s ms at p50 and %s ms at p99" % (
                fmt(rows["direct_rtt_p50"][0]), fmt(rows["proxy_rtt_p99"][3]))
        return txt + (". A p99 far above its p50 is a scheduling tail (a wake-up waiting behind other "
                      "runnable processes); a p50 far above direct TCP's would be the proxy's own work.")
    if k.startswith("latency_server"):
        wr = "latency_server_4v_write_p50" if "_4v_" in k else "latency_server_write_p50"
        txt = base
        if wr in rows:
            txt += ("; the server's own part (rfb_frame until its last write returned) was %s ms at p50"
                    % fmt(rows[wr][0]))
        if "write_p99_ms" in d:
            own = float(d["write_p99_ms"])
            txt += (" and %s ms at p99: %s" % (fmt(own), "the server's own work makes the tail" if own > v / 2 else
                    "the tail is mostly the viewers' reading and waiting for a core, not the server's work"))
        return txt + "."
    if k == "h264_bytes_motion_1080p":
        txt = base
        if "h264_444_kbit_s" in d:
            txt += (": 4:4:4 H.264 averaged %s kbit/s (the 4:2:0 viewer %s kbit/s) against Tight's %s kbit/s "
                    "over %s frames" % (d["h264_444_kbit_s"], d.get("h264_420_kbit_s", "?"),
                                        d.get("tight_kbit_s", "?"), d.get("frames", "?")))
        if d.get("skipped", "0") != "0":
            txt += "; %s frames did not reach one of the viewers" % d["skipped"]
        return txt + "."
    if k == "h264_psnr_motion_1080p":
        return psnr_gap(base, d, details.get("h264_bytes_at_tight_psnr", {}), rows,
                        details.get("h264_psnr_precise_load", {}))
    if k in ("h264_encode_1080p", "h264_420_encode_1080p") and all(
            x in d for x in ("ours_ms", "load_ms", "encode_ms", "x264_bgra_ms")):
        yuv = "I444" if d.get("chroma") == "444" else "I420"
        return ("%s: a frame took %s ms of ours (%s ms load into %s, %s ms encode) against %s ms for x264 "
                "on BGRA and %s ms on %s, %s thread(s)"
                % (base, d["ours_ms"], d["load_ms"], yuv, d["encode_ms"], d["x264_bgra_ms"],
                   d.get("x264_yuv_ms", "?"), yuv, d.get("threads", "?")) +
                ("; equal output sizes (%s B) show the same settings" % d["ours_bytes"]
                 if d.get("ours_bytes") == d.get("x264_yuv_bytes") else
                 "; output sizes differ (ours %s B, x264 on %s %s B): the settings are not the same"
                 % (d.get("ours_bytes"), yuv, d.get("x264_yuv_bytes"))) + ".")
    if k in ("h264_key_to_pixel_p50", "h264_key_to_pixel_p99"):
        txt = base
        if ratio > 0:
            txt += (": %s ms over Tight's, against the %s ms one frame allows"
                    % (fmt(v - v / ratio), fmt(1000 / 60)))
        dd = details.get("h264_key_to_pixel_p50", {})
        if "dropped_near_tick" in dd:
            txt += "; %s samples each, %s dropped for landing on the clock's tick" % (
                dd.get("samples", "?"), dd["dropped_near_tick"])
        if "h264_bytes_per_char" in rows:
            txt += "; the key's frame was %s B against Tight's %s B" % (
                fmt(rows["h264_bytes_per_char"][0]), fmt(rows["h264_bytes_per_char"][3]))
        return txt + (". The difference is the whole-frame work H.264 does for a one-glyph change "
                      "(the 1080p frame converted to I444 and encoded, mostly skip blocks) on the "
                      "stream's thread, where Tight encodes the changed tiles only.")
    if k == "idle_cpu_ratio":
        text = ("%s: %s %%cpu on the static screen against %s %%cpu of full motion (medians). The static "
                "figure is the idle-skipped diff plus the loop's wake-ups for every captured frame."
                % (base, fmt(v), fmt(rv)))
        pairs = [p.split("/") for p in d.get("pairs", "").split(",") if "/" in p]
        if len(pairs) > 1:
            st = [float(a) for a, _ in pairs]
            mo = [float(b) for _, b in pairs]
            text += (" The %d pairs (static/motion %%cpu: %s) spread %s to %s %%cpu static and %s to %s %%cpu "
                     "in motion." % (len(pairs), d["pairs"], fmt(min(st)), fmt(max(st)), fmt(min(mo)),
                                     fmt(max(mo))))
        return text
    return base + "."


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
    rows, skips, details = {}, [], {}
    with open(a.log) as f:
        for line in f:
            if line.startswith("SKIP"):
                skips.append(line.strip())
            m = DETAIL.match(line.strip())
            if m:
                details[m.group(1)] = dict(kv.split("=", 1) for kv in m.group(2).split())
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
            out.append("- `%s`: %s.%s" % (k, GOALS[k][0], figure_note(k, rows, details)))
    out.append("\n## Goals missed: what limits them, what would close them\n")
    if not missed:
        out.append("None.")
    for k in missed:
        if k not in rows:
            note = "this run did not produce it (see the run's log)."
        else:
            note = explain(k, rows, details)
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
