"""Keyboard layouts end to end: webkvmd --layout X types the right
characters on a target that reads its keyboard with layout X.

Through the control socket (paste) and through RFB keysyms from a viewer
that sends characters, not scancodes.  The text comes back by OCR of the
virtual target's screen; each sample holds the characters that need Shift,
AltGr or a dead key on that layout.
"""

import unittest

import harness
from harness import SLOW, DaemonTestCase, command_text, prompt_cursor

SAMPLES = {
    "de": "zy@\u20ac\u00e4\u00f6\u00fc\u00df\u00e9{}",      # @ € AltGr; é dead acute; z/y swapped
    "fr": "aq1!\u00e9\u00e8\u00ea\u00e7@",                   # AZERTY digits need Shift; ê dead circumflex
    "en-gb": "\u00a3\"@#~|",                                  # £ Shift+3, " Shift+2
    "es": "\u00f1\u00bf\u00a1@\u00e1",                       # ñ, ¿ ¡, @ AltGr, á dead acute
    "sv": "\u00e5\u00e4\u00f6@$",                             # @ and $ on AltGr
    # Cyrillic letters whose glyphs differ from every Latin one (the OCR
    # cannot tell Cyrillic "р" from Latin "p": the font draws them alike).
    "ru": "\u0436\u0438\u043b\u0449\u044e\u044f\u0431",
}


def keysym(ch):
    cp = ord(ch)
    return cp if cp < 0x100 else 0x01000000 | cp


class Layouts(DaemonTestCase):
    def setUp(self):
        self.daemon_logs = []
        self.clients = []

    def check(self, layout, text, via):
        d = self.start_daemon(extra=("--layout", layout))
        v = self.viewer(daemon=d)
        rows = self.first_screen(v)
        cursor = prompt_cursor(rows)
        if via == "control":
            r = d.request({"cmd": "type", "text": text})
            self.assertIs(r.get("ok"), True, r)
        else:
            for ch in text:
                v.key(keysym(ch), True)
                v.key(keysym(ch), False)
        v.wait_screen(lambda r: command_text(r, cursor) == text, 8 * SLOW,
                      "%r typed on a %s target via %s" % (text, layout, via))

    def test_paste_per_layout(self):
        for layout, text in SAMPLES.items():
            with self.subTest(layout=layout):
                self.check(layout, text, "control")

    def test_keysyms_per_layout(self):
        for layout in ("de", "fr", "ru"):
            with self.subTest(layout=layout):
                self.check(layout, SAMPLES[layout], "keysyms")

    def test_untypeable_is_refused_before_typing(self):
        d = self.start_daemon(extra=("--layout", "ru"))
        v = self.viewer(daemon=d)
        rows = self.first_screen(v)
        cursor = prompt_cursor(rows)
        r = d.request({"cmd": "type", "text": "\u043f@"})   # '@' is not on ru
        self.assertIs(r.get("ok"), False, r)
        self.assertIn("U+0040", r.get("error", ""))
        v.pump(0.5 * SLOW)
        self.assertEqual(command_text(v.screen(), cursor), "", "part of a refused text was typed")

    def test_unknown_layout_is_an_error(self):
        import subprocess
        dd = harness.Daemon(extra=("--layout", "klingon"))
        p = subprocess.run(dd.argv, capture_output=True, timeout=10 * SLOW)
        self.assertEqual(p.returncode, 2)
        self.assertIn("klingon", p.stderr.decode())
        self.assertIn("en-us", p.stderr.decode())


if __name__ == "__main__":
    unittest.main()
