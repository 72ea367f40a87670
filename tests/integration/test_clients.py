"""Real VNC clients from Debian get the first frame (gvnccapture, from
gvncviewer, writes a lossless PNG that is OCR'd; vncsnapshot writes a
JPEG, only its size is checked)."""

import os
import shutil
import subprocess
import tempfile

import images
import ocr
from harness import MENU, MENU_COL, MENU_FIRST_ROW, MENU_WIDTH, SLOW, TITLE, DaemonTestCase


class RealClients(DaemonTestCase):
    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix="webkvm-it-cli-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        # Clients take HOST:DISPLAY with port = 5900 + display.
        self.display = self.daemon.port - 5900
        self.assertGreaterEqual(self.display, 0)

    def run_client(self, argv, timeout=30):
        tool = shutil.which(argv[0])
        if tool is None:
            self.fail("%s is not installed (scripts/install-deps.sh installs it)" % argv[0])
        try:
            p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=timeout * SLOW,
                               env=dict(os.environ, DISPLAY=""))
        except subprocess.TimeoutExpired as e:
            self.fail("%s timed out: %s" % (" ".join(argv), (e.output or b"")[-2000:]))
        out = p.stdout.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 0, "%s exited %d:\n%s" % (" ".join(argv), p.returncode, out))
        return out

    def test_gvnccapture_png_shows_the_setup_screen(self):
        path = os.path.join(self.tmp, "frame.png")
        self.run_client(["gvnccapture", "127.0.0.1:%d" % self.display, path])
        with open(path, "rb") as f:
            w, h, pixels = images.decode_png(f.read())
        self.assertEqual((w, h), (1280, 720))
        _, rows = ocr.read_text(pixels, w, h)
        rows = [rows[r] for r in sorted(rows)]
        shown = "\n".join(rows)
        self.assertIn(TITLE, rows[0], "title row of gvnccapture's PNG:\n" + shown)
        for i, item in enumerate(MENU):
            self.assertEqual(rows[MENU_FIRST_ROW + i][MENU_COL:MENU_COL + MENU_WIDTH].strip(), item,
                             shown)

    def test_vncsnapshot_jpeg(self):
        path = os.path.join(self.tmp, "frame.jpg")
        self.run_client(["vncsnapshot", "-quiet", "127.0.0.1:%d" % self.display, path])
        with open(path, "rb") as f:
            data = f.read()
        self.assertEqual(images.jpeg_size(data), (1280, 720))
        self.assertGreater(len(data), 1000)

    def test_vncsnapshot_other_encodings(self):
        # Not "tight" alone: vncsnapshot 1.2a then waits forever, against
        # libvncserver's own example server too (a client bug); its default
        # list, used above, includes tight and works.
        for enc in ("raw", "hextile", "zlib", "zrle"):
            path = os.path.join(self.tmp, "frame-%s.jpg" % enc)
            self.run_client(["vncsnapshot", "-quiet", "-encodings", enc,
                             "127.0.0.1:%d" % self.display, path])
            with open(path, "rb") as f:
                self.assertEqual(images.jpeg_size(f.read()), (1280, 720), enc)
        self.assertTrue(self.daemon.alive())
