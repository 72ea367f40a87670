/* Key names of the control socket's "key" command and text → keysyms for
 * "type".  Keysym values are X11's (keysymdef.h). */
#include <string.h>
#include <strings.h>

#include "firmware/daemon.h"

static const struct {
	const char *name;
	uint32_t keysym;
} names[] = {
	{ "ctrl", 0xffe3 }, { "control", 0xffe3 }, { "rctrl", 0xffe4 },
	{ "shift", 0xffe1 }, { "rshift", 0xffe2 },
	{ "alt", 0xffe9 }, { "altgr", 0xfe03 }, { "ralt", 0xffea },
	{ "win", 0xffeb }, { "super", 0xffeb }, { "meta", 0xffeb }, { "rwin", 0xffec },
	{ "menu", 0xff67 },
	{ "enter", 0xff0d }, { "return", 0xff0d }, { "tab", 0xff09 },
	{ "esc", 0xff1b }, { "escape", 0xff1b }, { "backspace", 0xff08 },
	{ "delete", 0xffff }, { "del", 0xffff }, { "insert", 0xff63 }, { "ins", 0xff63 },
	{ "home", 0xff50 }, { "end", 0xff57 }, { "pageup", 0xff55 }, { "pagedown", 0xff56 },
	{ "up", 0xff52 }, { "down", 0xff54 }, { "left", 0xff51 }, { "right", 0xff53 },
	{ "space", 0x20 },
	{ "printscreen", 0xff61 }, { "prtsc", 0xff61 }, { "print", 0xff61 },
	{ "sysrq", 0xff15 }, { "pause", 0xff13 }, { "break", 0xff6b },
	{ "capslock", 0xffe5 }, { "numlock", 0xff7f }, { "scrolllock", 0xff14 },
};

uint32_t
fw_key_by_name(const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(names[i].name, name) == 0)
			return names[i].keysym;
	/* F1..F24 */
	if ((name[0] == 'f' || name[0] == 'F') && n >= 2 && n <= 3) {
		int f = 0;

		for (size_t i = 1; i < n; i++) {
			if (name[i] < '0' || name[i] > '9')
				return 0;
			f = f * 10 + (name[i] - '0');
		}
		if (f >= 1 && f <= 24 && name[1] != '0')
			return 0xffbe + (uint32_t)(f - 1);
		return 0;
	}
	/* One printable ASCII character stands for itself. */
	if (n == 1 && name[0] > 0x20 && name[0] < 0x7f)
		return (uint32_t)name[0];
	return 0;
}

uint32_t
fw_keysym_of_char(uint32_t cp)
{
	switch (cp) {
	case '\n':
	case '\r':
		return 0xff0d;
	case '\t':
		return 0xff09;
	case '\b':
		return 0xff08;
	case 0x1b:
		return 0xff1b;
	}
	if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0))
		return 0;
	if (cp < 0x100)
		return cp;
	return 0x01000000 | cp;
}
