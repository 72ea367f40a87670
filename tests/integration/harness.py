"""Starts the real build/webkvmd for a test and talks to it.

The build directory comes from the environment (BUILD=build or build/san,
relative to the repository root).  Each daemon gets a free port and its own
temporary directory holding the control socket and its log; the log is kept
in memory after the daemon stops so the runner can print it when the test
failed.
"""

import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import weakref

import rfbclient

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("BUILD", "build")
BUILD_DIR = BUILD if os.path.isabs(BUILD) else os.path.join(REPO, BUILD)
DAEMON = os.path.join(BUILD_DIR, "webkvmd")
# Sanitizer builds start and run slower.
SLOW = 3.0 if os.path.basename(os.path.normpath(BUILD_DIR)) == "san" else 1.0
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "ERROR: ThreadSanitizer")
# Any sanitizer's report: its first line, a UBSan finding, or the summary
# line every report ends with.
SANITIZER_RE = re.compile(r"ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:"
                          r"|SUMMARY: \w*Sanitizer")


def sanitizer_report(logs):
    """The first sanitizer report in a process's output (with a little
    context), or None."""
    m = SANITIZER_RE.search(logs or "")
    if m is None:
        return None
    start = max(0, logs.rfind("\n", 0, max(0, m.start() - 200)) + 1)
    return logs[start:m.start() + 3000]


def exit_problem(name, status, logs, died=False):
    """Why a process we started and stopped with SIGTERM counts as crashed
    (a sanitizer report, death before the stop, killed for not exiting, an
    exit status other than 0), or None when it stopped cleanly."""
    report = sanitizer_report(logs)
    if report is not None:
        return "%s printed a sanitizer report:\n%s" % (name, report)
    if died:
        return "%s had died before it was stopped (status %s)" % (name, status)
    if status is None:
        return None
    if status == -signal.SIGKILL:
        return "%s did not exit after SIGTERM and was killed" % name
    if status < 0:
        return "%s died by signal %d" % (name, -status)
    if status != 0:
        return "%s exited with status %d after SIGTERM" % (name, status)
    return None


def run_checked(argv, timeout=10.0):
    """Runs one of our binaries to its end (a command line it must refuse,
    say): returns (status, output).  It may exit non-zero on purpose, but
    dying by a signal or printing a sanitizer report is an AssertionError."""
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, env=env, timeout=timeout * SLOW)
    out = p.stdout.decode("utf-8", "replace")
    report = sanitizer_report(out)
    if report is not None:
        raise AssertionError("%s printed a sanitizer report:\n%s" % (argv[0], report))
    if p.returncode < 0:
        raise AssertionError("%s died by signal %d: %s" % (argv[0], -p.returncode, out[-2000:]))
    return p.returncode, out


def free_port():
    """A TCP port nobody listens on now (≥ 32768 on Linux, so ≥ 5900 as
    the display-number clients need)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require(ok, why):
    """Like unittest.skipUnless, but a missing tool or right fails the
    test with the reason: nothing may skip in CI."""
    def wrap(obj):
        if ok:
            return obj
        if isinstance(obj, type):
            def setUp(self):
                self.fail("cannot run: " + why)
            obj.setUp = setUp
            return obj

        def failing(self, *a, **k):
            self.fail("cannot run: " + why)
        failing.__name__ = obj.__name__
        return failing
    return wrap


def terminate(proc, timeout=5.0):
    """SIGTERM a process, wait up to timeout (stretched for sanitizer
    builds), then SIGKILL; returns its exit status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout * SLOW)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


class Control:
    """One connection to the control socket: one JSON line each way."""

    def __init__(self, path, timeout=5.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.timeout = timeout
        self.buf = b""

    def close(self):
        self.sock.close()

    def send_line(self, raw):
        self.sock.sendall(raw if isinstance(raw, bytes) else raw.encode())

    def read_line(self, timeout=None):
        end = time.monotonic() + (timeout or self.timeout)
        while b"\n" not in self.buf:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError("control: no response line within %.1f s (have %r)"
                                     % (timeout or self.timeout, self.buf[:200]))
            r, _, _ = select.select([self.sock], [], [], left)
            if r:
                data = self.sock.recv(65536)
                if not data:
                    raise AssertionError("control: connection closed (have %r)" % self.buf[:200])
                self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def raw(self, raw, timeout=None):
        """Sends raw bytes, returns the parsed JSON response line."""
        self.send_line(raw)
        line = self.read_line(timeout)
        try:
            return json.loads(line)
        except ValueError as e:
            raise AssertionError("control: response is not JSON (%s): %r" % (e, line[:300]))

    def request(self, obj, timeout=None, wait_typed=True):
        """One request.  A "type" request is answered when typing starts;
        with wait_typed the call returns once the daemon has typed it all
        (it refuses a second text while one is typed)."""
        resp = self.raw(json.dumps(obj) + "\n", timeout)
        if wait_typed and obj.get("cmd") == "type" and resp.get("ok") is True:
            self.wait_typed(obj, timeout)
        return resp

    def wait_typed(self, obj=None, timeout=None):
        n = len(obj.get("text", "")) if obj else 0
        delay = (obj or {}).get("delay_ms", 20)
        # Two reports per character, a few more for Shift and dead keys.
        end = time.monotonic() + (timeout or self.timeout) + n * 4 * (delay + 5) / 1000.0 * SLOW
        while True:
            st = self.raw(json.dumps({"cmd": "status"}) + "\n")
            if not st.get("paste", {}).get("active"):
                return
            if time.monotonic() > end:
                raise AssertionError("control: text still being typed after %.1f s: %r" % (
                    time.monotonic() - end, st.get("paste")))
            time.sleep(0.02)


class Daemon:
    def __init__(self, resolution=None, fps=None, extra=(), log_level="debug", control_path=None):
        if not os.access(DAEMON, os.X_OK):
            raise AssertionError("%s not built (run make first)" % DAEMON)
        self.dir = tempfile.mkdtemp(prefix="webkvm-it-")
        # Also gone when the object is dropped unstarted (e.g. only argv used).
        self._rm_dir = weakref.finalize(self, shutil.rmtree, self.dir, True)
        self.port = free_port()
        self.control_path = control_path or os.path.join(self.dir, "control.sock")
        self.log_path = os.path.join(self.dir, "webkvmd.log")
        self.argv = [DAEMON, "--board", "sim", "--rfb-listen", "127.0.0.1:%d" % self.port,
                     "--control", self.control_path]
        if resolution:
            self.argv += ["--resolution", resolution]
        if fps:
            self.argv += ["--fps", str(fps)]
        if log_level:
            self.argv += ["--log-level", log_level]
        self.argv += list(extra)
        self.proc = None
        self.returncode = None
        self.log_text = ""

    def start(self, timeout=10.0):
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env, start_new_session=True)
        end = time.monotonic() + timeout * SLOW
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("webkvmd exited with status %d at start: %s\n%s"
                                     % (self.proc.returncode, " ".join(self.argv), self.logs()))
            if self._control_open() and self._port_open():
                return self
            if time.monotonic() > end:
                raise AssertionError("webkvmd not listening after %.0f s: %s"
                                     % (timeout * SLOW, " ".join(self.argv)))
            time.sleep(0.05)

    def _control_open(self):
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(1)
                s.connect(self.control_path)
                return True
        except OSError:
            return False

    def _port_open(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=5.0):
        """SIGTERM, wait up to timeout, then SIGKILL.  Returns (status,
        seconds it took); status is -9 when it had to be killed."""
        if self.proc is None:
            return None, 0.0
        t0 = time.monotonic()
        terminate(self.proc, timeout)
        took = time.monotonic() - t0
        self.returncode = self.proc.returncode
        self.log.close()
        self.log_text = self.logs()
        self.proc = None
        self._rm_dir()
        return self.returncode, took

    def stop_checked(self, timeout=5.0):
        """stop(), then AssertionError with the reason when the daemon had
        died, had to be killed, exited non-zero or printed a sanitizer
        report.  Returns (status, seconds it took)."""
        died = self.proc is not None and not self.alive()
        status, took = self.stop(timeout)
        problem = exit_problem("webkvmd", status, self.logs(), died)
        if problem:
            raise AssertionError(problem + "\n" + self.logs()[-3000:])
        return status, took

    def logs(self):
        if self.proc is None and self.log_text:
            return self.log_text
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return self.log_text

    def control(self, timeout=5.0):
        return Control(self.control_path, timeout)

    def request(self, obj, timeout=5.0, wait_typed=True):
        c = self.control(timeout)
        try:
            return c.request(obj, wait_typed=wait_typed)
        finally:
            c.close()

    def fd_count(self):
        return len(os.listdir("/proc/%d/fd" % self.proc.pid))

    def thread_count(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
        return -1


class DaemonTestCase(unittest.TestCase):
    """Each test gets its own daemon (self.daemon) and closes its viewers.
    A daemon that had to be killed, exited non-zero or printed a sanitizer
    report fails the test in tearDown.  self.daemon_logs is what the runner
    prints when the test failed."""

    resolution = None
    fps = 30
    extra_args = ()

    def setUp(self):
        self.daemon_logs = []
        self.clients = []
        self.daemon = self.start_daemon()

    def start_daemon(self, **kw):
        kw.setdefault("resolution", self.resolution)
        kw.setdefault("fps", self.fps)
        kw.setdefault("extra", self.extra_args)
        d = Daemon(**kw)
        self.addCleanup(self._stop_daemon, d)
        d.start()
        return d

    def _stop_daemon(self, d):
        for c in self.clients:
            c.close()
        self.clients = []
        if d.proc is None:
            return      # never started, or the test stopped it and checked it
        died = not d.alive()
        status, took = d.stop()
        logs = d.logs()
        self.daemon_logs.append(("%s (status %s)" % (" ".join(d.argv), status), logs))
        problem = exit_problem("webkvmd", status, logs, died)
        if problem:
            self.fail("%s (%.1f s)" % (problem, took))

    def stop_daemon(self, d=None):
        """Stops a daemon of this test now (SIGTERM), keeps its log for the
        report and fails the test if it had crashed, had to be killed,
        exited non-zero or printed a sanitizer report: a test that stops a
        daemon on purpose checks it as tearDown would."""
        d = d or self.daemon
        died = d.proc is not None and not d.alive()
        status, took = d.stop()
        self.daemon_logs.append(("%s (status %s)" % (" ".join(d.argv), status), d.logs()))
        problem = exit_problem("webkvmd", status, d.logs(), died)
        if problem:
            self.fail(problem)
        return status, took

    def viewer(self, encodings=rfbclient.DEFAULT_ENCODINGS, daemon=None, **kw):
        """A connected viewer that has asked for the first frame."""
        d = daemon or self.daemon
        c = rfbclient.Client(d.port)
        self.clients.append(c)
        c.handshake(encodings=encodings, **kw)
        return c

    def first_screen(self, client, timeout=10.0):
        """Waits for the setup screen (the title row) and returns its rows."""
        return client.wait_screen(lambda rows: TITLE in rows[0], timeout * SLOW,
                                  "the setup screen's title")


# The virtual target's screen (board/sim): what tests look for.
TITLE = "webkvm virtual target - Setup Utility"
MENU = ("Main", "Advanced", "Boot", "Security", "Exit")
MENU_FIRST_ROW = 2
MENU_COL = 3
MENU_WIDTH = 20
OUTPUT_ROW = 8
BIOS_BANNER = "webkvm virtual BIOS v1.0"


def last_row(rows):
    return len(rows) - 4


def status_row(rows):
    return len(rows) - 3


def command_row(rows):
    return len(rows) - 2


def command_text(rows, cursor=""):
    """What is typed on the command line: the text after "> " without the
    cursor glyph (cursor as OCR'd on the empty prompt) and trailing blanks.
    None when the row is not a prompt."""
    row = rows[command_row(rows)]
    if row != ">" and not row.startswith("> "):
        return None
    body = row[2:]
    if cursor and body.endswith(cursor):
        body = body[:-len(cursor)]
    return body.rstrip(" ")


def screen_pointer(rows):
    """The sim's pointer position (x, y) as its status row shows it, or
    None."""
    for r in rows:
        m = re.search(r"X:(\d+) Y:(\d+)", r)
        if m:
            return int(m.group(1)), int(m.group(2))
    return None


def prompt_cursor(rows):
    """The cursor glyph as it reads on an empty prompt ("" when it reads as
    a blank cell)."""
    row = rows[command_row(rows)]
    return row[2:].strip(" ")


def find_row(rows, text):
    """Index of the first row containing text, or -1."""
    for i, r in enumerate(rows):
        if text in r:
            return i
    return -1
