"""Reading what an encoding-50 (Open H.264) viewer received.

rfbclient keeps each H.264 rectangle as (time, update index, x, y, w, h,
flags, payload).  Here: the NAL units of a payload (parsed in Python, only
as far as the checks need), and the decoding of a recorded stream by
$BUILD/tests/h264dec (Debian's libavcodec), which also compares the last
picture with a reference framebuffer (PSNR over R, G, B).
"""

import os
import struct
import tempfile

from harness import BUILD_DIR, run_checked

H264DEC = os.path.join(BUILD_DIR, "tests", "h264dec")

# NAL unit types (H.264 table 7-1)
NAL_SLICE, NAL_IDR, NAL_SEI, NAL_SPS, NAL_PPS, NAL_AUD = 1, 5, 6, 7, 8, 9


def nals(payload):
    """[(nal_unit_type, first_mb_in_slice_is_0)] of an Annex-B payload, in
    order; a payload that does not begin with a start code gives []."""
    out = []
    i = payload.find(b"\x00\x00\x01")
    if i < 0 or payload[:i].strip(b"\x00"):
        return out
    while i >= 0:
        start = i + 3
        nxt = payload.find(b"\x00\x00\x01", start)
        end = len(payload) if nxt < 0 else nxt
        if start < end:
            t = payload[start] & 0x1F
            # first_mb_in_slice is ue(v): a leading 1 bit codes 0.
            first = t in (NAL_SLICE, NAL_IDR) and end - start > 1 and bool(payload[start + 1] & 0x80)
            out.append((t, first))
        i = nxt
    return out


def types(payload):
    return [t for t, _ in nals(payload)]


def pictures(payload):
    """Pictures coded in a payload: slices that begin one."""
    return sum(1 for t, first in nals(payload) if t in (NAL_SLICE, NAL_IDR) and first)


def starts_with_idr(payload):
    """SPS first, then a PPS, then an IDR slice before any other slice."""
    ts = types(payload)
    if not ts or ts[0] != NAL_SPS or NAL_PPS not in ts or NAL_IDR not in ts:
        return False
    first_slice = next(i for i, t in enumerate(ts) if t in (NAL_SLICE, NAL_IDR))
    return ts[first_slice] == NAL_IDR and ts.index(NAL_PPS) < first_slice


def records(entries):
    """The payloads as h264dec reads them: u32 length, u32 flags, bytes."""
    return b"".join(struct.pack(">II", len(e[7]), e[6]) + e[7] for e in entries)


class Decoded:
    """h264dec's verdict on a stream: per payload (flags, bytes, access
    units, frames, size, errors), the totals and, with a reference, the
    PSNR of the last picture."""

    def __init__(self, out):
        self.payloads = []
        self.frames = self.errors = 0
        self.size = (0, 0)
        self.psnr = None
        self.text = out
        for line in out.splitlines():
            f = line.split()
            if f[:1] == ["payload"]:
                d = dict(zip(f[2::2], f[3::2]))
                w, h = d["size"].split("x")
                self.payloads.append(dict(flags=int(d["flags"]), bytes=int(d["bytes"]),
                                          aus=int(d["aus"]), frames=int(d["frames"]),
                                          size=(int(w), int(h)), errors=int(d["errors"])))
            elif f[:1] == ["total"]:
                d = dict(zip(f[1::2], f[2::2]))
                w, h = d["size"].split("x")
                self.frames, self.errors = int(d["frames"]), int(d["errors"])
                self.size = (int(w), int(h))
            elif f[:1] == ["psnr"]:
                self.psnr = float(f[1])

    def check(self, tc, what):
        """Every payload decoded without error and showed a picture (a
        viewer shows the last picture of each payload: none means it
        shows a stale one)."""
        tc.assertEqual(self.errors, 0, "%s: libavcodec reported errors:\n%s" % (what, self.text[-3000:]))
        empty = [i for i, p in enumerate(self.payloads) if p["frames"] < 1]
        tc.assertEqual(empty, [], "%s: payloads that gave no picture:\n%s" % (what, self.text[-3000:]))


def decode(entries, ref=None, ref_size=None):
    """Runs h264dec on the entries (rfbclient.Client.h264 items); ref is
    an XRGB32 framebuffer (Client.fb) of ref_size (w, h) to compare the last
    picture with."""
    if not os.access(H264DEC, os.X_OK):
        raise AssertionError("%s not built (run make first)" % H264DEC)
    with tempfile.TemporaryDirectory(prefix="webkvm-h264-") as tmp:
        rec = os.path.join(tmp, "stream")
        with open(rec, "wb") as f:
            f.write(records(entries))
        argv = [H264DEC]
        if ref is not None:
            path = os.path.join(tmp, "ref")
            with open(path, "wb") as f:
                f.write(bytes(ref))
            argv += ["--ref", path, "%dx%d" % ref_size]
        status, out = run_checked(argv + [rec], timeout=60)
    if status != 0:
        raise AssertionError("h264dec exited %d:\n%s" % (status, out[-3000:]))
    return Decoded(out)
