/* common/ — the pointer buttons and keyboard LEDs as webkvm's modules
 * speak of them to each other.
 *
 * rfb/ turns the RFB button mask into these and these LEDs into QEMU's LED
 * state; hid/ turns these buttons into HID report bits and reports the
 * target's LEDs as HID_LED_* (the report's own bits), which firmware/
 * turns into these.  So neither module knows the other's wire format.  The
 * values follow no wire format on purpose: a missed conversion shows.
 */
#ifndef WEBKVM_COMMON_INPUT_H
#define WEBKVM_COMMON_INPUT_H

/* Buttons held, and wheel steps: a wheel bit's press is one step. */
#define WK_BTN_LEFT		0x0001u
#define WK_BTN_MIDDLE		0x0002u
#define WK_BTN_RIGHT		0x0004u
#define WK_BTN_BACK		0x0008u
#define WK_BTN_FORWARD		0x0010u
#define WK_WHEEL_UP		0x0100u
#define WK_WHEEL_DOWN		0x0200u
#define WK_WHEEL_LEFT		0x0400u
#define WK_WHEEL_RIGHT		0x0800u

/* Keyboard lock LEDs. */
#define WK_LED_CAPS		0x01u
#define WK_LED_NUM		0x02u
#define WK_LED_SCROLL		0x04u

#endif
