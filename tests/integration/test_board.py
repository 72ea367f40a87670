"""Boards as data: webkvmd --board NAME reads board/NAME/board.conf, lists
the boards it finds, refuses an unknown or broken one with a message that
names what exists or the file and line, and power goes through the board's
operations ("not on this board" where it has none)."""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

from harness import DAEMON, REPO, SANITIZER_MARKS, SLOW, DaemonTestCase, free_port

TREE_BOARDS = sorted(n for n in os.listdir(os.path.join(REPO, "board"))
                     if os.path.isfile(os.path.join(REPO, "board", n, "board.conf")))


def run(*args):
    """(status, stdout+stderr) of a webkvmd that is expected to exit."""
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    r = subprocess.run([DAEMON] + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       stdin=subprocess.DEVNULL, timeout=20 * SLOW, env=env)
    out = r.stdout.decode("utf-8", "replace")
    for m in SANITIZER_MARKS:
        if m in out:
            raise AssertionError("webkvmd printed a sanitizer report:\n" + out)
    return r.returncode, out


def write_board(top, name, text):
    os.makedirs(os.path.join(top, name), exist_ok=True)
    path = os.path.join(top, name, "board.conf")
    with open(path, "w") as f:
        f.write(text)
    return path


class Cli(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="webkvm-it-board-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def test_tree_has_the_boards(self):
        for name in ("sim", "qemu-x86_64", "rpi4"):
            self.assertIn(name, TREE_BOARDS)

    def test_unknown_board_names_those_that_exist(self):
        # The contract of issue 13: non-zero, and the boards there are.
        code, out = run("--board", "nosuchboard", "--rfb-listen", "127.0.0.1:%d" % free_port())
        self.assertNotEqual(code, 0, out)
        self.assertIn("nosuchboard", out)
        for name in TREE_BOARDS:
            self.assertIn(name, out)
        # Refused before anything was opened.
        self.assertNotIn("listening", out)

    def test_unknown_board_from_the_config_file(self):
        conf = os.path.join(self.dir, "webkvm.conf")
        with open(conf, "w") as f:
            f.write("board = rpi5\n")
        code, out = run("--config", conf)
        self.assertNotEqual(code, 0, out)
        self.assertIn('board "rpi5" not found', out)
        self.assertIn("rpi4", out)

    def test_list_boards(self):
        for args in (("--list-boards",), ("--board", "help"), ("--board",),
                     ("--board", "--list-boards")):
            code, out = run(*args)
            self.assertEqual(code, 0, "%s: %s" % (args, out))
            listed = re.findall(r"^  (\S+) +\S", out, re.M)
            self.assertEqual(listed, TREE_BOARDS, "%s: %s" % (args, out))
            self.assertIn("Raspberry Pi 4", out)

    def test_help_offers_only_boards_that_exist(self):
        code, out = run("--help")
        self.assertEqual(code, 0, out)
        listed = re.findall(r"^  (\S+) +\S", out.split("boards in", 1)[1], re.M)
        self.assertEqual(listed, TREE_BOARDS, out)
        board_line = [l for l in out.splitlines() if l.strip().startswith("--board ")][0]
        for word in re.findall(r"[a-z0-9_-]+", board_line):
            if word in ("rpi4", "qemu-x86_64", "rpi5", "qemu-arm64"):
                self.assertIn(word, TREE_BOARDS, board_line)

    def test_board_dir(self):
        write_board(self.dir, "alpha", "description = first test board\nops = generic\n")
        write_board(self.dir, "beta", "description = second\nops = sim\nsource = sim\n")
        os.makedirs(os.path.join(self.dir, "not-a-board"))
        code, out = run("--board-dir", self.dir, "--list-boards")
        self.assertEqual(code, 0, out)
        self.assertEqual(re.findall(r"^  (\S+) +\S", out, re.M), ["alpha", "beta"], out)
        code, out = run("--board-dir", self.dir, "--board", "sim")
        self.assertNotEqual(code, 0, out)
        self.assertIn("alpha, beta", out)

    def test_no_boards_at_all(self):
        code, out = run("--board-dir", os.path.join(self.dir, "none"), "--board", "sim")
        self.assertNotEqual(code, 0, out)
        self.assertIn("no boards in", out)

    def test_broken_board_names_file_and_line(self):
        path = write_board(self.dir, "broken", "ops = generic\n# fine so far\nformat = yuyv,h264\n")
        code, out = run("--board-dir", self.dir, "--board", "broken")
        self.assertNotEqual(code, 0, out)
        self.assertIn(path + ":3: format: unknown pixel format \"h264\"", out)
        path = write_board(self.dir, "hooked", "power-button = gpiochip0:17\n")
        code, out = run("--board-dir", self.dir, "--board", "hooked")
        self.assertNotEqual(code, 0, out)
        self.assertIn(path + ":1: power-button:", out)

    def test_sim_source_needs_the_virtual_target(self):
        code, out = run("--board", "rpi4", "--source", "sim")
        self.assertNotEqual(code, 0, out)
        self.assertIn("no in-process virtual target", out)


class OwnBoard(DaemonTestCase):
    """A board of our own from --board-dir: its definition's defaults
    apply, the command line's options win over them."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="webkvm-it-board-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        write_board(self.dir, "mine", "description = a small sim\nops = sim\nsource = sim\n"
                    "resolution = 640x400\nhid-profile = relative\n")
        super().setUp()

    def start_daemon(self, **kw):
        kw.setdefault("extra", ("--board-dir", self.dir, "--board", "mine"))
        kw.setdefault("fps", 30)
        return super().start_daemon(**kw)

    def test_definition_defaults(self):
        st = self.daemon.request({"cmd": "status"})
        self.assertEqual((st["board"], st["width"], st["height"]), ("mine", 640, 400), st)
        self.assertEqual(st["profile"], "relative", st)
        # Power goes through the sim board's operations.
        self.assertIs(self.daemon.request({"cmd": "power", "action": "force-off"}).get("ok"), True)
        self.assertIs(self.daemon.request({"cmd": "power", "action": "on"}).get("ok"), True)

    def test_command_line_wins(self):
        d = self.start_daemon(extra=("--board-dir", self.dir, "--board", "mine",
                                     "--resolution", "800x600", "--hid-profile", "full"))
        st = d.request({"cmd": "status"})
        self.assertEqual((st["width"], st["height"], st["profile"]), (800, 600, "full"), st)


class GenericBoard(DaemonTestCase):
    """A real board's definition on a machine without its hardware: a test
    pattern for the screen, and no power control."""

    def start_daemon(self, **kw):
        kw.setdefault("extra", ("--board", "qemu-x86_64", "--source", "pattern"))
        return super().start_daemon(**kw)

    def test_power_is_not_on_this_board(self):
        for action in ("on", "off", "force-off", "reset", "reboot"):
            r = self.daemon.request({"cmd": "power", "action": action})
            self.assertIs(r.get("ok"), False, r)
            self.assertIn("not on this board", r.get("error", ""), r)
            self.assertIn("qemu-x86_64", r.get("error", ""), r)
        r = self.daemon.request({"cmd": "power", "action": "explode"})
        self.assertIs(r.get("ok"), False, r)
        self.assertIn("force-off", r.get("error", ""), r)
        r = self.daemon.request({"cmd": "target"})
        self.assertIs(r.get("ok"), False, r)
        st = self.daemon.request({"cmd": "status"})
        self.assertEqual(st["board"], "qemu-x86_64", st)


if __name__ == "__main__":
    unittest.main()
