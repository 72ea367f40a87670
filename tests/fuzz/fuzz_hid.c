/* hid/: the report descriptor parser, LED output reports, and sequences of
 * viewer input into a capturing transport.  First byte 0: descriptor;
 * 1: LED report; otherwise an event stream of 8-byte records:
 *   [0] kind  [1] viewer  [2..5] value (LE)  [6..7] x/y or down flag
 * Invariants: a keyboard report is 8 bytes with byte 1 zero and at most 6
 * keys, a pointer report 7 bytes within 0..32767; release(-1) ends with an
 * all-zero keyboard report. */
#include "tests/fuzz/fuzz_common.h"
#include "hid/hid.h"
#include "hid/hid_int.h"

static uint8_t last_kbd[HID_KBD_REPORT_LEN];
static int n_kbd;

static int
capture_send(void *ctx, enum hid_iface iface, const uint8_t *buf, size_t len)
{
	(void)ctx;
	if (iface == HID_IFACE_KEYBOARD) {
		int keys = 0;

		FUZZ_CHECK(len == HID_KBD_REPORT_LEN);
		FUZZ_CHECK(buf[1] == 0);
		for (size_t i = 2; i < len; i++)
			keys += buf[i] != 0;
		FUZZ_CHECK(keys <= 6);
		memcpy(last_kbd, buf, len);
		n_kbd++;
	} else {
		FUZZ_CHECK(iface == HID_IFACE_POINTER);
		FUZZ_CHECK(len == HID_PTR_REPORT_LEN);
		FUZZ_CHECK((buf[1] | buf[2] << 8) <= HID_ABS_MAX);
		FUZZ_CHECK((buf[3] | buf[4] << 8) <= HID_ABS_MAX);
	}
	return 0;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	return 0;
}

static void
events(const uint8_t *d, size_t n)
{
	struct hid_transport tr = { .send = capture_send };
	struct hid_dev *h = hid_new(&tr, NULL, NULL);
	static const uint8_t zero[HID_KBD_REPORT_LEN];

	if (h == NULL)
		abort();
	for (size_t i = 0; i + 8 <= n; i += 8) {
		const uint8_t *e = d + i;
		int viewer = e[1] % 4;
		uint32_t v = (uint32_t)e[2] | (uint32_t)e[3] << 8 | (uint32_t)e[4] << 16 |
			     (uint32_t)e[5] << 24;
		bool down = e[6] & 1;

		switch (e[0] % 8) {
		case 0:	/* mostly Latin-1 and function keysyms, some anything */
			hid_key_keysym(h, viewer, e[7] & 1 ? v : (v & 0xffff), down);
			break;
		case 1:
			hid_key_xt(h, viewer, e[7] & 1 ? v : (v & 0xe1ff), down);
			break;
		case 2:
			hid_pointer(h, viewer, (int16_t)(v & 0xffff), (int16_t)(v >> 16),
				    1 + e[6] * 8, 1 + e[7] * 8, e[1] >> 2 | (e[6] & 0x80) << 1);
			break;
		case 3:
			hid_release(h, e[6] & 1 ? -1 : viewer);
			break;
		case 4:
			hid_led_report(h, e + 2, e[1] % 3);
			break;
		case 5:
			hid_set_layout(h, (int)(v % (uint32_t)(hid_layout_count() + 1)));
			break;
		case 6:
			hid_key_keysym(h, viewer, hid_keysym_from_ucs(v & 0x1fffff), down);
			break;
		default:
			hid_key_keysym(h, viewer, 0xfe50 + (v & 0x3f), down);
			break;
		}
	}
	n_kbd = 0;
	hid_release(h, -1);
	if (n_kbd > 0)
		FUZZ_CHECK(memcmp(last_kbd, zero, sizeof(zero)) == 0);
	hid_free(h);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *b;

	if (size < 1)
		return 0;
	b = malloc(size);
	memcpy(b, data + 1, size - 1);
	switch (data[0] % 3) {
	case 0: {
		struct hid_report_layout l;

		if (hid_parse_descriptor(b, size - 1, &l) == 0) {
			FUZZ_CHECK(l.n_fields >= 0 && l.n_fields <= 32);
			FUZZ_CHECK(l.input_bits >= 0 && l.output_bits >= 0);
		}
		break;
	}
	case 1: {
		struct hid_transport tr = { .send = capture_send };
		struct hid_dev *h = hid_new(&tr, NULL, NULL);

		if (hid_led_report(h, b, size - 1) == 0)
			FUZZ_CHECK((hid_leds(h) & ~0x1f) == 0);
		hid_free(h);
		break;
	}
	default:
		events(b, size - 1);
		break;
	}
	free(b);
	return 0;
}
