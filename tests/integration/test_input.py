"""Keyboard input over RFB reaches the virtual target: keysyms, QEMU
extended key events (XT scancodes), lock keys and their LED messages."""

import rfbclient as rfb
from harness import (MENU, MENU_COL, MENU_FIRST_ROW, OUTPUT_ROW, SLOW, DaemonTestCase,
                     command_text, last_row, prompt_cursor, status_row)


class Typing(DaemonTestCase):
    def setUp(self):
        super().setUp()
        self.v = self.viewer()
        rows = self.first_screen(self.v)
        self.cursor = prompt_cursor(rows)
        self.assertEqual(command_text(rows, self.cursor), "", "empty prompt: %r" % rows[-2])

    def wait_command(self, text, timeout=5.0):
        return self.v.wait_screen(lambda r: command_text(r, self.cursor) == text,
                                  timeout * SLOW, "command line %r" % text)

    def test_keysyms_with_shift_pressed(self):
        self.v.type_keysyms("Hello_World!", explicit_shift=True)
        self.wait_command("Hello_World!")

    def test_keysyms_alone(self):
        # Scripts and on-screen keyboards send 'A' without Shift: hid/ adds it.
        self.v.type_keysyms("A!_Zz~ok", explicit_shift=False)
        self.wait_command("A!_Zz~ok")

    def test_every_printable_ascii(self):
        chars = "".join(chr(c) for c in range(0x20, 0x7F))
        # Two halves: the line holds cols - 2 characters.
        for text in (chars[:48] + "|", chars[48:] + "|"):
            self.v.type_keysyms(text)
            self.wait_command(text, 10.0)
            self.v.tap(rfb.XK_RETURN)
            self.wait_command("")

    def test_backspace(self):
        self.v.type_keysyms("abcd")
        self.wait_command("abcd")
        self.v.tap(rfb.XK_BACKSPACE)
        self.v.tap(rfb.XK_BACKSPACE)
        self.v.type_keysyms("X")
        self.wait_command("abX")

    def test_enter_runs_echo(self):
        self.v.type_keysyms("echo hello world\n")
        rows = self.v.wait_screen(lambda r: "hello world" in r[OUTPUT_ROW], 5 * SLOW,
                                  "echo output on row %d" % OUTPUT_ROW)
        self.assertEqual(rows[OUTPUT_ROW].strip(), "hello world")
        rows = self.v.wait_screen(lambda r: r[last_row(r)] == "Last: echo hello world",
                                  3 * SLOW, "Last: row")
        self.assertEqual(command_text(rows, self.cursor), "", "command line emptied")

    def test_clear(self):
        self.v.type_keysyms("echo xyz\n")
        self.v.wait_screen(lambda r: "xyz" in r[OUTPUT_ROW], 5 * SLOW, "echo output")
        self.v.type_keysyms("clear\n")
        self.v.wait_screen(lambda r: "xyz" not in r[OUTPUT_ROW] and "clear" in r[last_row(r)],
                           5 * SLOW, "output cleared")

    def test_fast_typing_loses_nothing(self):
        text = "the quick brown fox jumps over the lazy dog 0123456789 ;'[]=-"
        self.v.type_keysyms(text)
        self.wait_command(text, 10.0)

    def test_qemu_extended_keys(self):
        self.v.wait_for(lambda: self.v.qemu_key_acks > 0, 3 * SLOW, "the -258 acknowledgement")
        ack = [r for r in self.v.rects if r[5] == rfb.QEMU_KEY]
        self.assertEqual(ack[0][1:5], (0, 0, 0, 0), "ack rect x, y, w, h")
        self.v.qemu_tap(0x23, ord("h"))
        self.v.qemu_tap(0x17, ord("i"))
        self.v.qemu_key(rfb.XT_SHIFT_L, True, rfb.XK_SHIFT_L)
        self.v.qemu_tap(0x02, ord("!"))
        self.v.qemu_key(rfb.XT_SHIFT_L, False, rfb.XK_SHIFT_L)
        self.wait_command("hi!")
        self.v.type_qemu(" Abc_9")
        self.wait_command("hi! Abc_9")

    def test_qemu_keycode_wins_over_keysym(self):
        self.v.wait_for(lambda: self.v.qemu_key_acks > 0, 3 * SLOW, "the -258 acknowledgement")
        # The scancode is what the key is; the keysym is only a hint (QEMU).
        self.v.qemu_tap(0x23, 0)            # 'h' with no keysym
        self.v.qemu_tap(0x17, ord("q"))     # 'i' whose keysym says 'q'
        self.wait_command("hi")

    def test_keys_released_when_a_viewer_leaves(self):
        other = self.viewer()
        self.first_screen(other)
        other.key(rfb.XK_SHIFT_L, True)
        other.pump(0.2)
        other.close()
        self.clients.remove(other)
        self.v.pump(0.5)
        self.v.type_keysyms("ab")
        self.wait_command("ab")


class Menu(DaemonTestCase):
    def highlighted(self, v):
        """Index of the menu item whose background differs from the others."""
        bgs = [v.cells(MENU_FIRST_ROW + i)[MENU_COL][1] for i in range(len(MENU))]
        odd = [i for i, bg in enumerate(bgs) if bgs.count(bg) == 1]
        return odd[0] if len(odd) == 1 else None

    def test_arrow_keys_move_the_highlight(self):
        v = self.viewer()
        self.first_screen(v)
        start = self.highlighted(v)
        self.assertIsNotNone(start, "one menu item is highlighted")
        if start >= len(MENU) - 2:
            v.tap(rfb.XK_UP)
            v.tap(rfb.XK_UP)
            v.wait_for(lambda: self.highlighted(v) == start - 2, 3 * SLOW, "highlight up by 2")
            start -= 2
        v.tap(rfb.XK_DOWN)
        v.wait_for(lambda: self.highlighted(v) == start + 1, 3 * SLOW,
                   "Down (keysym) to move the highlight to %s" % MENU[start + 1])
        v.qemu_tap(rfb.XT_DOWN, rfb.XK_DOWN)
        v.wait_for(lambda: self.highlighted(v) == start + 2, 3 * SLOW,
                   "Down (QEMU scancode 0xe050) to move the highlight to %s" % MENU[start + 2])


class Leds(DaemonTestCase):
    def setUp(self):
        super().setUp()
        self.v = self.viewer()
        self.first_screen(self.v)
        self.v.wait_for(lambda: self.v.leds, 3 * SLOW, "the first -261 LED message")

    def wait_led(self, bit, on):
        n = len(self.v.leds)
        self.v.wait_for(lambda: len(self.v.leds) > n and bool(self.v.leds[-1] & bit) == on,
                        3 * SLOW, "a -261 message with bit %d %s" % (bit, "set" if on else "clear"))

    def status_leds(self):
        st = self.daemon.request({"cmd": "status"})
        self.assertTrue(st.get("ok"), st)
        return {k: st["leds"][k] for k in ("num", "caps", "scroll")}

    def test_first_led_message_is_all_off(self):
        self.assertEqual(self.v.leds[0], 0, "LED state after negotiation: %s" % self.v.leds)
        self.assertEqual(self.status_leds(), {"num": False, "caps": False, "scroll": False})
        rows = self.v.screen()
        for tag in ("[NUM]", "[CAPS]", "[SCRL]"):
            self.assertNotIn(tag, rows[status_row(rows)])

    def test_caps_lock_keysym(self):
        self.v.tap(rfb.XK_CAPS_LOCK)
        self.wait_led(rfb.LED_CAPS, True)
        self.v.wait_screen(lambda r: "[CAPS]" in r[status_row(r)], 3 * SLOW, "[CAPS] on the status line")
        self.assertEqual(self.status_leds()["caps"], True)
        self.v.tap(rfb.XK_CAPS_LOCK)
        self.wait_led(rfb.LED_CAPS, False)
        self.v.wait_screen(lambda r: "[CAPS]" not in r[status_row(r)], 3 * SLOW, "[CAPS] gone")

    def test_caps_lock_qemu_scancode(self):
        self.v.wait_for(lambda: self.v.qemu_key_acks > 0, 3 * SLOW, "the -258 acknowledgement")
        self.v.qemu_tap(rfb.XT_CAPS_LOCK, rfb.XK_CAPS_LOCK)
        self.wait_led(rfb.LED_CAPS, True)
        self.assertEqual(self.status_leds()["caps"], True)
        self.v.qemu_tap(rfb.XT_CAPS_LOCK, rfb.XK_CAPS_LOCK)
        self.wait_led(rfb.LED_CAPS, False)

    def test_num_lock(self):
        self.v.tap(rfb.XK_NUM_LOCK)
        self.wait_led(rfb.LED_NUM, True)
        self.v.wait_screen(lambda r: "[NUM]" in r[status_row(r)], 3 * SLOW, "[NUM] on the status line")
        self.assertEqual(self.status_leds()["num"], True)

    def test_led_state_sent_to_new_viewers_and_only_to_those_asking(self):
        self.v.tap(rfb.XK_CAPS_LOCK)
        self.wait_led(rfb.LED_CAPS, True)
        late = self.viewer()
        late.wait_for(lambda: late.leds, 3 * SLOW, "the LED state for a late viewer")
        self.assertEqual(late.leds[0], rfb.LED_CAPS, "a late viewer learns Caps is on")
        plain = self.viewer(encodings=(rfb.RAW,))
        self.first_screen(plain)
        self.v.tap(rfb.XK_CAPS_LOCK)
        self.wait_led(rfb.LED_CAPS, False)
        plain.pump(0.5)
        self.assertEqual([r for r in plain.rects if r[5] < 0], [],
                         "no pseudo-encoding rects to a viewer that did not ask")
