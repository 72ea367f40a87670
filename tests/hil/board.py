"""The QEMU board for hardware-in-the-loop tests: builds the image, boots it
headless with host forwards bound to 127.0.0.1, and talks to the guest over
its test shell (a TCP port served by busybox nc in the guest) and RFB."""
import atexit
import ctypes
import os
import re
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))

import rfbclient  # noqa: E402

VIVID_OPTS = ("n_devs=1 node_types=0x101 num_inputs=1 input_types=0x3 "
              "num_outputs=1 output_types=0x1")
SIGNAL_MODE = 0x00f0f03e
SIGNAL_NONE = 1
SIGNAL_SELECTED = 4
CAPTURE = "/dev/video0"
RAW_VIEWER = (rfbclient.RAW, rfbclient.DESKTOP_SIZE, rfbclient.EXT_DESKTOP_SIZE,
              rfbclient.QEMU_KEY, rfbclient.QEMU_LED)
# What noVNC sends when the browser decodes H.264: 50 before any other
# pixel encoding (the pseudo-encodings do not count).
H264_VIEWER = (rfbclient.H264, rfbclient.EXT_DESKTOP_SIZE, rfbclient.DESKTOP_SIZE,
               rfbclient.QEMU_KEY, rfbclient.QEMU_LED)
UDC = "dummy_udc.0"
GADGET = "/sys/kernel/config/usb_gadget/webkvm"
SANITIZER_RE = re.compile(r"ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:"
                          r"|SUMMARY: \w*Sanitizer")
KERNEL_BUG = re.compile(r"(BUG:|WARNING:|Oops|Internal error: Oops|Kernel panic)")
# Kernel warnings known to come from the kernel itself, each with the call
# path that must be in its trace to count as that one.  Debian 6.1: writing
# "" to the gadget's UDC (webkvmd does on a profile change and at exit)
# while the host has a control transfer queued on ep0 makes libcomposite
# free the queued request (dummy_free_request warns) and dummy_hcd then
# complete it (composite_setup_complete warns "unknown request").  Printed
# on every run, never counted as a failure; anything else is.
KNOWN_KERNEL_WARNINGS = (
    ("dummy_free_request", "gadget_dev_desc_UDC_store"),
    ("composite_setup_complete", "gadget_dev_desc_UDC_store"),
)


def _die_with_parent():
    # QEMU must not outlive a runner killed by a timeout.
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def title_rows(frame):
    """The top console row (title and clock) of an RGB frame (w, h, bytes)."""
    w, h, rgb = frame
    scale = max(1, min(w // 640, h // 360))
    rows = 16 * scale
    return w, rows, rgb[:w * rows * 3]


class Board:
    def __init__(self, build="build"):
        self.build = os.path.join(TOP, build) if not os.path.isabs(build) else build
        self.out = os.path.join(self.build, "qemu")
        self.serial = os.path.join(self.out, "serial.log")
        self.rfb_port = free_port()
        self.shell_port = free_port()
        self.proc = None
        self.boot_s = None

    # ---- lifetime ----

    def make_image(self):
        subprocess.run([os.path.join(TOP, "board/qemu-x86_64/mkimage.sh"), self.build],
                       check=True, stdout=sys.stderr)

    def boot(self, timeout=120):
        try:
            os.unlink(self.serial)
        except FileNotFoundError:
            pass
        env = dict(os.environ, RFB_PORT=str(self.rfb_port), SHELL_PORT=str(self.shell_port))
        t0 = time.monotonic()
        self.proc = subprocess.Popen([os.path.join(TOP, "board/qemu-x86_64/run.sh"), self.build],
                                     env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     preexec_fn=_die_with_parent)
        atexit.register(self.stop)
        end = t0 + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("qemu exited with %d" % self.proc.returncode)
            if "webkvm-board: ready" in self.serial_log():
                break
            time.sleep(0.2)
        else:
            raise RuntimeError("board not ready after %d s" % timeout)
        # Up when the daemon answers RFB through the forward.
        self.wait(lambda: self.status(quiet=True).get("signal") == "ok", 60, "video from the board")
        self.wait(lambda: self.host_present_count() > 0, 30, "the gadget's USB host")
        self.boot_s = time.monotonic() - t0
        # The serial console shows almost nothing (quiet, loglevel=1): the
        # kernel's own log is kept from here on for final_check().  cat
        # stops with EPIPE when the ring overruns it; it starts again from
        # the oldest record (duplicates do no harm here).
        self.sh("(while :; do cat /dev/kmsg; sleep 1; done) >> /tmp/kernel.log 2>&1 < /dev/null &")
        return self.boot_s

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def serial_log(self):
        try:
            with open(self.serial, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    # ---- the guest ----

    def sh(self, cmd, timeout=30, check=True):
        """Runs a shell command in the guest; returns its output (stdout and
        stderr).  AssertionError when it fails and check is set."""
        s = socket.create_connection(("127.0.0.1", self.shell_port), timeout=timeout)
        marker = "__HIL_END_%d__" % os.getpid()
        s.sendall(("( %s ) 2>&1; echo %s $?\n" % (cmd, marker)).encode())
        buf = b""
        end = time.monotonic() + timeout
        pat = re.compile((r"%s (\d+)\n" % marker).encode())
        try:
            while not pat.search(buf):
                if time.monotonic() > end:
                    raise AssertionError("guest command timed out: %s" % cmd)
                d = s.recv(1 << 20)
                if not d:
                    break
                buf += d
        finally:
            s.close()
        m = pat.search(buf)
        if m is None:
            raise AssertionError("guest shell closed during: %s" % cmd)
        out = buf[:m.start()].decode(errors="replace")
        if check and int(m.group(1)) != 0:
            raise AssertionError("guest command failed (%s): %s\n%s" % (m.group(1), cmd, out))
        return out

    def ctl(self, req):
        """One control request to webkvmd; returns (reply dict, sent_us)."""
        import json
        out = self.sh("webkvm-svc ctl '%s'" % json.dumps(req))
        sent = int(re.search(r"sent_us=(\d+)", out).group(1))
        reply = json.loads(out[out.index("{"):])
        return reply, sent

    def status(self, quiet=False):
        try:
            return self.ctl({"cmd": "status"})[0]
        except (AssertionError, OSError, ValueError):
            if quiet:
                return {}
            raise

    def wait(self, pred, timeout, what):
        end = time.monotonic() + timeout
        while True:
            if pred():
                return
            if time.monotonic() > end:
                raise AssertionError("timed out after %d s waiting for %s" % (timeout, what))
            time.sleep(0.3)

    def set_ctrl(self, ident, value, dev=CAPTURE):
        self.sh("webkvm-target --set-ctrl %s 0x%08x %d" % (dev, ident, value))

    def target_log(self):
        return self.sh("cat /tmp/target.log", check=False)

    def kbd_reports(self):
        """Keyboard reports the target's USB host received: [(bytes, us)]."""
        out = []
        for m in re.finditer(r"hid: kbd ((?:[0-9a-f]{2} ){7}[0-9a-f]{2}) at (\d+)", self.target_log()):
            out.append((bytes.fromhex(m.group(1).replace(" ", "")), int(m.group(2))))
        return out

    def host_present_count(self):
        return self.sh("cat /tmp/webkvmd.log", check=False).count("USB host present")

    def keyboards_opened(self):
        return self.target_log().count(" is the keyboard")

    def restart(self, fmt):
        """Restarts the target and webkvmd with another pixel format."""
        hosts = self.host_present_count()
        kbds = self.keyboards_opened()
        self.sh("webkvm-svc stop webkvmd; webkvm-svc stop target; echo FORMAT=%s > /run/board.env; "
                "webkvm-svc start target; sleep 1; webkvm-svc start webkvmd" % fmt)
        self.wait(lambda: self.status(quiet=True).get("signal") == "ok", 30,
                  "video after restarting with %s" % fmt)
        self.wait(lambda: self.host_present_count() > hosts, 30, "the USB host after the restart")
        # The USB host has the new keyboard before the target has opened
        # its hidraw node: a key typed in between reaches no one.
        self.wait(lambda: self.keyboards_opened() > kbds, 30,
                  "the target opening the new keyboard's hidraw")

    def frozen_frame(self):
        """Freezes the target's screen and returns what it put on its HDMI
        output: (w, h, RGB bytes)."""
        out = self.sh("rm -f /tmp/target-frame.ppm; kill -USR1 $(cat /run/target.pid); "
                      "for i in $(seq 100); do [ -f /tmp/target-frame.ppm ] && break; "
                      "usleep 100000; done; base64 /tmp/target-frame.ppm", timeout=60)
        import base64
        data = base64.b64decode("".join(out.split()))
        m = re.match(rb"P6\n(\d+) (\d+)\n255\n", data)
        if m is None:
            raise AssertionError("bad frame dump from the target")
        w, h = int(m.group(1)), int(m.group(2))
        return w, h, data[m.end():]

    def thaw(self):
        self.sh("kill -USR2 $(cat /run/target.pid)")

    def viewer(self, timeout=30, encodings=RAW_VIEWER):
        """A viewer with its first whole frame: a Raw one by default; one
        that lists H.264 has its first encoding-50 rectangle."""
        c = rfbclient.Client(self.rfb_port, timeout=10).handshake(encodings=encodings)
        if rfbclient.H264 in encodings:
            c.wait_for(lambda: c.h264, timeout, "a first H.264 rectangle")
        else:
            c.wait_for(lambda: c.fb_valid, timeout, "a whole first frame")
        return c

    def kernel_problems(self):
        """Reports of a kernel bug in the guest kernel's log (BUG:, WARNING:
        from a WARN_ON, Oops, panic), each with its task and call trace,
        as (problems, known): known are those in KNOWN_KERNEL_WARNINGS.
        /dev/kmsg records are "prio,seq,time,flags;message"."""
        out = []
        msgs = []
        for line in self.sh("cat /tmp/kernel.log", timeout=60, check=False).splitlines():
            head, sep, msg = line.partition(";")
            if sep and "," in head:
                msgs.append(msg)        # " KEY=value" continuation lines are left out
        seen = set()
        for i, msg in enumerate(msgs):
            if KERNEL_BUG.match(msg) and msg not in seen:
                seen.add(msg)
                # With the task ("Comm:") and the call trace that follow;
                # registers and module lists left out.
                ctx = [msg]
                trace = False
                for m in msgs[i + 1:i + 80]:
                    if m.startswith("---[ end trace") or KERNEL_BUG.match(m):
                        break
                    if "Comm:" in m:
                        ctx.append(m)
                    elif m.startswith("Call Trace:"):
                        trace = True
                    elif trace and m.startswith(" "):
                        ctx.append(m)
                out.append("\n    ".join(ctx))
        known = [o for o in out if any(fn in o.split("\n", 1)[0] and path in o
                                       for fn, path in KNOWN_KERNEL_WARNINGS)]
        return [o for o in out if o not in known], known

    def final_check(self):
        """Stops webkvmd cleanly (SIGTERM, bounded) as the last thing before
        QEMU goes, so a sanitizer build's LeakSanitizer runs; returns what
        went wrong over the whole boot: any end of a webkvmd other than
        status 0 (webkvm-svc records each), a sanitizer report in its log,
        a kernel bug in the guest's kernel log."""
        problems = []
        self.sh("webkvm-svc stop webkvmd", timeout=60)
        exits = self.sh("webkvm-svc exits", check=False).splitlines()
        print("webkvmd ends recorded in the guest: " + "; ".join(exits), flush=True)
        if not exits:
            problems.append("no exit of webkvmd was recorded (webkvm-svc exits is empty)")
        bad = [e for e in exits if not re.match(r"webkvmd \d+ exited 0 ", e)]
        if bad:
            problems.append("webkvmd did not always exit cleanly: " + "; ".join(bad))
        log = self.sh("cat /tmp/webkvmd.log /tmp/target.log", timeout=60, check=False)
        m = SANITIZER_RE.search(log)
        if m:
            problems.append("sanitizer report in the guest's logs:\n" + log[max(0, m.start() - 300):m.start() + 3000])
        kernel, known = self.kernel_problems()
        for k in known:
            print("known kernel warning (not a failure): " + k.split("\n", 1)[0], flush=True)
        if kernel:
            problems.append("the guest kernel reported bugs:\n  " + "\n  ".join(kernel[:6]))
        if problems:
            problems.append("webkvmd log (end):\n" + self.sh("tail -n 40 /tmp/webkvmd.log", check=False))
        return problems

    def guest_logs(self):
        try:
            return self.sh("for f in /tmp/target.log /tmp/webkvmd.log; do echo \"== $f\"; "
                           "tail -n 60 $f; done; echo '== dmesg'; dmesg | tail -n 30",
                           timeout=10, check=False)
        except Exception as e:  # the guest may be gone: the serial log says why
            return "(guest logs unavailable: %s)" % e
