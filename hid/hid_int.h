/* hid/ internals shared by the module's files; not for other modules. */
#ifndef WEBKVM_HID_INT_H
#define WEBKVM_HID_INT_H

#include <stdint.h>

enum hid__log_level {
	HID__LOG_ERROR = 0,
	HID__LOG_WARN = 1,
	HID__LOG_INFO = 2,
	HID__LOG_DEBUG = 3,
};

/* Messages above this level are dropped; HID__LOG_INFO by default.  The
 * daemon sets it from --log-level. */
extern int hid_log_level;

/* Writes "hid: <message>\n" to stderr when level <= hid_log_level. */
void hid__log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* What a keysym asks of the Shift state on a US layout.  Characters have a
 * definite level; keys such as Return or the arrows keep whatever Shift the
 * viewer holds, because Shift+Return or Shift+Left mean something. */
enum hid__shift {
	HID__SHIFT_ANY = 0,	/* leave the viewer's Shift alone */
	HID__SHIFT_OFF,		/* character on the base level */
	HID__SHIFT_ON,		/* character on the shifted level */
};

/* Usage (0 when unmapped), Shift requirement and whether Caps Lock turns
 * the key's level over (letters only). */
uint8_t hid__keysym_lookup(uint32_t keysym, enum hid__shift *shift, int *caps_sensitive);

/* Modifier bits of the keyboard report's first byte. */
#define HID__MOD_LSHIFT 0x02
#define HID__MOD_RSHIFT 0x20
#define HID__MOD_SHIFTS (HID__MOD_LSHIFT | HID__MOD_RSHIFT)

/* Usage 0x01 in every key slot: more keys are down than the report holds. */
#define HID__USAGE_ROLLOVER 0x01
#define HID__KBD_KEY_SLOTS 6

#endif
