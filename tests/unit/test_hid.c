/* hid/: descriptors, key tables and the report sequences a target sees. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hid/hid.h"
#include "hid/hid_int.h"

/* ---- helpers ---- */

#define MAX_CAPTURE 64

struct capture {
	int n;
	struct {
		enum hid_iface iface;
		size_t len;
		uint8_t buf[16];
	} r[MAX_CAPTURE];
	int fail;	/* error to return from send, 0 to accept */
	int calls;
};

static int capture_send(void *ctx, enum hid_iface iface, const uint8_t *buf, size_t len)
{
	struct capture *c = ctx;

	c->calls++;
	if (c->fail)
		return c->fail;
	assert_true(c->n < MAX_CAPTURE);
	assert_true(len <= sizeof(c->r[0].buf));
	c->r[c->n].iface = iface;
	c->r[c->n].len = len;
	memcpy(c->r[c->n].buf, buf, len);
	c->n++;
	return 0;
}

struct led_seen {
	int calls;
	uint8_t last;
};

static void led_cb(void *ctx, uint8_t leds)
{
	struct led_seen *l = ctx;

	l->calls++;
	l->last = leds;
}

struct fixture {
	struct capture cap;
	struct led_seen leds;
	struct hid_dev *h;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct hid_transport tr = { capture_send, NULL };

	if (!f)
		return -1;
	tr.ctx = &f->cap;
	f->h = hid_new(&tr, led_cb, &f->leds);
	if (!f->h) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	hid_free(f->h);
	free(f);
	return 0;
}

/* Checks report i of the capture against an 8-byte keyboard report. */
static void expect_kbd(const struct capture *c, int i, uint8_t mods, const uint8_t keys[6])
{
	uint8_t want[HID_KBD_REPORT_LEN] = { mods, 0 };

	assert_true(i < c->n);
	assert_int_equal(c->r[i].iface, HID_IFACE_KEYBOARD);
	assert_int_equal(c->r[i].len, HID_KBD_REPORT_LEN);
	if (keys)
		memcpy(want + 2, keys, 6);
	assert_memory_equal(c->r[i].buf, want, HID_KBD_REPORT_LEN);
}

#define KEYS(...) ((const uint8_t[6]){ __VA_ARGS__ })

static void expect_ptr(const struct capture *c, int i, uint8_t buttons, int x, int y, int8_t wheel, int8_t pan)
{
	assert_true(i < c->n);
	assert_int_equal(c->r[i].iface, HID_IFACE_POINTER);
	assert_int_equal(c->r[i].len, HID_PTR_REPORT_LEN);
	const uint8_t *b = c->r[i].buf;
	assert_int_equal(b[0], buttons);
	assert_int_equal(b[1] | b[2] << 8, x);
	assert_int_equal(b[3] | b[4] << 8, y);
	assert_int_equal((int8_t)b[5], wheel);
	assert_int_equal((int8_t)b[6], pan);
}

/* Finds the field that carries a usage and the bit where that usage's slot
 * starts (variable fields only); -1 where there is none. */
static const struct hid_field *find_usage(const struct hid_report_layout *l, bool output,
					  uint16_t page, uint16_t usage, int *bit)
{
	if (bit)
		*bit = -1;
	for (int i = 0; i < l->n_fields; i++) {
		const struct hid_field *f = &l->fields[i];
		if (f->output != output || f->usage_page != page || usage < f->usage_min || usage > f->usage_max)
			continue;
		if (bit)
			*bit = f->bit_offset + (f->variable ? (usage - f->usage_min) * f->bit_size : 0);
		return f;
	}
	return NULL;
}

#define XK_Shift_L	0xffe1
#define XK_Shift_R	0xffe2
#define XK_Control_L	0xffe3
#define XK_Return	0xff0d
#define XK_Left		0xff51
#define XK_Caps_Lock	0xffe5

/* ---- descriptors ---- */

static void test_kbd_descriptor_layout(void **state)
{
	(void)state;
	struct hid_report_layout l;

	assert_int_equal(hid_parse_descriptor(hid_kbd_report_desc, hid_kbd_report_desc_len, &l), 0);
	assert_int_equal(l.input_bits, HID_KBD_REPORT_LEN * 8);
	assert_int_equal(l.output_bits, 8);
	assert_int_equal(l.n_fields, 3);

	const struct hid_field *m = &l.fields[0];
	assert_int_equal(m->usage_page, 0x07);
	assert_int_equal(m->usage_min, 0xe0);
	assert_int_equal(m->usage_max, 0xe7);
	assert_int_equal(m->bit_offset, 0);
	assert_int_equal(m->bit_size, 1);
	assert_int_equal(m->count, 8);
	assert_true(m->variable);
	assert_false(m->output);

	const struct hid_field *led = &l.fields[1];
	assert_true(led->output);
	assert_int_equal(led->usage_page, 0x08);
	assert_int_equal(led->usage_min, 1);
	assert_int_equal(led->usage_max, 5);
	assert_int_equal(led->bit_offset, 0);
	assert_int_equal(led->bit_size, 1);
	assert_int_equal(led->count, 5);
	/* The LED bits are the HID_LED_* masks. */
	int bit;
	assert_non_null(find_usage(&l, true, 0x08, 2, &bit));
	assert_int_equal(1 << bit, HID_LED_CAPS);
	assert_non_null(find_usage(&l, true, 0x08, 5, &bit));
	assert_int_equal(1 << bit, HID_LED_KANA);

	const struct hid_field *k = &l.fields[2];
	assert_false(k->output);
	assert_false(k->variable);
	assert_int_equal(k->usage_page, 0x07);
	assert_int_equal(k->usage_min, 0);
	assert_int_equal(k->usage_max, 0xff);
	assert_int_equal(k->bit_offset, 16);
	assert_int_equal(k->bit_size, 8);
	assert_int_equal(k->count, 6);
	assert_int_equal(k->logical_min, 0);
	assert_int_equal(k->logical_max, 255);
}

static void test_ptr_descriptor_layout(void **state)
{
	(void)state;
	struct hid_report_layout l;
	int bit;

	assert_int_equal(hid_parse_descriptor(hid_ptr_report_desc, hid_ptr_report_desc_len, &l), 0);
	assert_int_equal(l.input_bits, HID_PTR_REPORT_LEN * 8);
	assert_int_equal(l.output_bits, 0);

	const struct hid_field *f = find_usage(&l, false, 0x09, 1, &bit);
	assert_non_null(f);
	assert_int_equal(bit, 0);
	assert_int_equal(f->count, 5);
	assert_int_equal(f->bit_size, 1);
	assert_non_null(find_usage(&l, false, 0x09, 2, &bit));
	assert_int_equal(bit, 1);	/* right, as hid.h documents */
	assert_non_null(find_usage(&l, false, 0x09, 3, &bit));
	assert_int_equal(bit, 2);	/* middle */
	assert_null(find_usage(&l, false, 0x09, 6, NULL));

	f = find_usage(&l, false, 0x01, 0x30, &bit);
	assert_non_null(f);
	assert_int_equal(bit, 8);
	assert_int_equal(f->bit_size, 16);
	assert_int_equal(f->logical_min, 0);
	assert_int_equal(f->logical_max, HID_ABS_MAX);
	assert_false(f->relative);
	assert_true(f->variable);

	f = find_usage(&l, false, 0x01, 0x31, &bit);
	assert_non_null(f);
	assert_int_equal(bit, 24);
	assert_int_equal(f->bit_size, 16);
	assert_int_equal(f->logical_max, HID_ABS_MAX);
	assert_false(f->relative);

	f = find_usage(&l, false, 0x01, 0x38, &bit);
	assert_non_null(f);
	assert_int_equal(bit, 40);
	assert_int_equal(f->bit_size, 8);
	assert_int_equal(f->logical_min, -127);
	assert_int_equal(f->logical_max, 127);
	assert_true(f->relative);

	f = find_usage(&l, false, 0x0c, 0x238, &bit);
	assert_non_null(f);
	assert_int_equal(bit, 48);
	assert_int_equal(f->bit_size, 8);
	assert_int_equal(f->logical_min, -127);
	assert_true(f->relative);
}

static void test_descriptor_items(void **state)
{
	(void)state;
	struct hid_report_layout l;

	/* Signed per size: 0x25 0xff is -1, 0x26 0xff 0x00 is 255, and a
	 * 4-byte usage carries its page. */
	static const uint8_t d[] = {
		0x05, 0x01, 0x09, 0x02, 0xa1, 0x01,
		0x0b, 0x38, 0x02, 0x0c, 0x00,	/* Usage (Consumer:AC Pan), extended */
		0x09, 0x30,			/* Usage (X) on page 1 */
		0x16, 0x00, 0x80,		/* Logical Minimum (-32768) */
		0x27, 0xff, 0xff, 0x00, 0x00,	/* Logical Maximum (65535) */
		0x75, 0x20, 0x95, 0x03,
		0x81, 0x02,			/* 3 slots: Pan, X, X again */
		0x15, 0xff, 0x25, 0x00, 0x75, 0x08, 0x95, 0x01,
		0x91, 0x03,			/* constant output: padding only */
		0xb1, 0x02,			/* feature: counted nowhere visible */
		0xc0,
	};
	assert_int_equal(hid_parse_descriptor(d, sizeof(d), &l), 0);
	assert_int_equal(l.input_bits, 96);
	assert_int_equal(l.output_bits, 8);
	assert_int_equal(l.n_fields, 3);
	assert_int_equal(l.fields[0].usage_page, 0x0c);
	assert_int_equal(l.fields[0].usage_min, 0x238);
	assert_int_equal(l.fields[0].logical_min, -32768);
	assert_int_equal(l.fields[0].logical_max, 65535);
	assert_int_equal(l.fields[1].usage_page, 0x01);
	assert_int_equal(l.fields[1].usage_min, 0x30);
	assert_int_equal(l.fields[1].bit_offset, 32);
	assert_int_equal(l.fields[2].usage_min, 0x30);
	assert_int_equal(l.fields[2].bit_offset, 64);
	assert_int_equal(l.fields[2].count, 1);
}

static void expect_bad_at(const uint8_t *d, size_t len, int line)
{
	struct hid_report_layout l;

	if (hid_parse_descriptor(d, len, &l) != HID_EINVAL)
		fail_msg("descriptor of line %d accepted", line);
	assert_int_equal(l.n_fields, 0);
}
#define expect_bad(d, len) expect_bad_at(d, len, __LINE__)

#define BAD(...) do { \
		static const uint8_t d_[] = { __VA_ARGS__ }; \
		expect_bad(d_, sizeof(d_)); \
	} while (0)

static void test_descriptor_malformed(void **state)
{
	(void)state;
	struct hid_report_layout l;

	/* Every proper prefix of a good descriptor is truncated mid-item or
	 * leaves a collection open.  Each copy is exactly as long as the
	 * prefix, so a read past it shows under ASan. */
	const uint8_t *descs[] = { hid_kbd_report_desc, hid_ptr_report_desc };
	size_t lens[] = { hid_kbd_report_desc_len, hid_ptr_report_desc_len };
	for (int d = 0; d < 2; d++) {
		for (size_t n = 0; n < lens[d]; n++) {
			uint8_t *copy = malloc(n ? n : 1);
			assert_non_null(copy);
			memcpy(copy, descs[d], n);
			assert_int_equal(hid_parse_descriptor(copy, n, &l), HID_EINVAL);
			free(copy);
		}
	}

	assert_int_equal(hid_parse_descriptor(NULL, 4, &l), HID_EINVAL);
	assert_int_equal(hid_parse_descriptor(hid_kbd_report_desc, hid_kbd_report_desc_len, NULL), HID_EINVAL);

	BAD(0xa1, 0x01, 0x75, 0x08, 0x95, 0x01, 0x81, 0x02);		/* unclosed */
	BAD(0x75, 0x08, 0x95, 0x01, 0x81, 0x02, 0xc0);			/* extra End */
	BAD(0xa1, 0x01, 0x26, 0xff);					/* truncated data */
	BAD(0xa1, 0x01, 0xfe, 0x02, 0x00, 0x01, 0x02, 0xc0);		/* long item */
	BAD(0xa1, 0x01, 0x85, 0x01, 0x75, 0x08, 0x95, 0x01, 0x81, 0x02, 0xc0); /* report id */
	BAD(0xa1, 0x01, 0xa4, 0xb4, 0xc0);				/* push/pop */
	BAD(0xa1, 0x01, 0x0c, 0xc0);					/* reserved item type */
	BAD(0xa1, 0x01, 0xd1, 0x00, 0xc0);				/* reserved main tag */
	BAD(0xa1, 0x01, 0x29, 0x05, 0x75, 0x01, 0x95, 0x05, 0x81, 0x02, 0xc0); /* max without min */
	BAD(0xa1, 0x01, 0x19, 0x05, 0x75, 0x01, 0x95, 0x05, 0x81, 0x02, 0xc0); /* min without max */
	BAD(0xa1, 0x01, 0x19, 0x05, 0x29, 0x01, 0x75, 0x01, 0x95, 0x05, 0x81, 0x02, 0xc0); /* max < min */
	BAD(0xa1, 0x01, 0x15, 0x01, 0x25, 0xff, 0x75, 0x08, 0x95, 0x01, 0x81, 0x02, 0xc0); /* 1 > -1 */
	BAD(0xa1, 0x01, 0x76, 0x01, 0x01, 0x95, 0x01, 0x81, 0x02, 0xc0); /* report size 257 */
	/* size * count past any real report, and counts near 2^32 */
	BAD(0xa1, 0x01, 0x76, 0x00, 0x01, 0x96, 0x00, 0x04, 0x81, 0x02, 0xc0);
	BAD(0xa1, 0x01, 0x75, 0x20, 0x97, 0xff, 0xff, 0xff, 0xff, 0x81, 0x02, 0xc0);
	/* many items that each fit, whose sum does not: 3 x 256 x 256 bits */
	BAD(0xa1, 0x01, 0x76, 0x00, 0x01, 0x96, 0x00, 0x01,
	    0x81, 0x01, 0x81, 0x01, 0x81, 0x01, 0xc0);
	/* 33 data fields */
	{
		uint8_t d[128];
		size_t n = 0;
		d[n++] = 0xa1, d[n++] = 0x01, d[n++] = 0x75, d[n++] = 0x01, d[n++] = 0x95, d[n++] = 0x01;
		for (int i = 0; i < 33; i++)
			d[n++] = 0x81, d[n++] = 0x00;
		d[n++] = 0xc0;
		expect_bad(d, n);
		/* 32 are fine */
		d[n - 3] = 0xc0;
		assert_int_equal(hid_parse_descriptor(d, n - 2, &l), 0);
		assert_int_equal(l.n_fields, 32);
	}
	/* collections nested beyond any real device */
	{
		uint8_t d[2 * 200 + 200];
		size_t n = 0;
		for (int i = 0; i < 200; i++)
			d[n++] = 0xa1, d[n++] = 0x00;
		for (int i = 0; i < 200; i++)
			d[n++] = 0xc0;
		expect_bad(d, n);
	}
}

static uint32_t rng_state = 0x12345678;

static uint32_t rng(void)
{
	/* xorshift32: deterministic, so a failure can be replayed */
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

static void check_layout_sane(const struct hid_report_layout *l)
{
	assert_in_range(l->n_fields, 0, 32);
	for (int i = 0; i < l->n_fields; i++) {
		const struct hid_field *f = &l->fields[i];
		int total = f->output ? l->output_bits : l->input_bits;
		assert_true(f->count > 0 && f->bit_size > 0);
		assert_true(f->usage_min <= f->usage_max);
		assert_true(f->logical_min <= f->logical_max);
		assert_true(f->bit_offset >= 0);
		assert_true((int64_t)f->bit_offset + (int64_t)f->bit_size * f->count <= total);
	}
}

static void test_descriptor_fuzz(void **state)
{
	(void)state;
	struct hid_report_layout l;
	int accepted = 0;

	for (int it = 0; it < 10000; it++) {
		size_t len;
		uint8_t *d;
		if (it & 1) {
			/* mutations of a real descriptor reach deeper states */
			const uint8_t *src = (it & 2) ? hid_kbd_report_desc : hid_ptr_report_desc;
			size_t slen = (it & 2) ? hid_kbd_report_desc_len : hid_ptr_report_desc_len;
			len = slen - rng() % 4;
			d = malloc(len);
			assert_non_null(d);
			memcpy(d, src, len);
			for (int m = 1 + (int)(rng() % 4); m > 0; m--)
				d[rng() % len] = (uint8_t)rng();
		} else {
			len = rng() % 96;
			d = malloc(len ? len : 1);
			assert_non_null(d);
			for (size_t i = 0; i < len; i++)
				d[i] = (uint8_t)rng();
		}
		int rc = hid_parse_descriptor(d, len, &l);
		assert_true(rc == 0 || rc == HID_EINVAL);
		if (rc == 0) {
			accepted++;
			check_layout_sane(&l);
		}
		free(d);
	}
	/* The mutations must let some through, or this tests nothing. */
	assert_true(accepted > 0);
}

/* ---- tables ---- */

struct xt_usage {
	uint32_t xt;
	uint8_t usage;
};

/* The 105 keys of an ISO PC keyboard (104 ANSI + the key left of Z), with
 * the usage each must give. */
static const struct xt_usage pc105[] = {
	{ 0x01, 0x29 }, { 0x3b, 0x3a }, { 0x3c, 0x3b }, { 0x3d, 0x3c }, { 0x3e, 0x3d },
	{ 0x3f, 0x3e }, { 0x40, 0x3f }, { 0x41, 0x40 }, { 0x42, 0x41 }, { 0x43, 0x42 },
	{ 0x44, 0x43 }, { 0x57, 0x44 }, { 0x58, 0x45 }, { 0x54, 0x46 }, { 0x46, 0x47 },
	{ 0xe046, 0x48 },
	{ 0x29, 0x35 }, { 0x02, 0x1e }, { 0x03, 0x1f }, { 0x04, 0x20 }, { 0x05, 0x21 },
	{ 0x06, 0x22 }, { 0x07, 0x23 }, { 0x08, 0x24 }, { 0x09, 0x25 }, { 0x0a, 0x26 },
	{ 0x0b, 0x27 }, { 0x0c, 0x2d }, { 0x0d, 0x2e }, { 0x0e, 0x2a },
	{ 0x0f, 0x2b }, { 0x10, 0x14 }, { 0x11, 0x1a }, { 0x12, 0x08 }, { 0x13, 0x15 },
	{ 0x14, 0x17 }, { 0x15, 0x1c }, { 0x16, 0x18 }, { 0x17, 0x0c }, { 0x18, 0x12 },
	{ 0x19, 0x13 }, { 0x1a, 0x2f }, { 0x1b, 0x30 }, { 0x1c, 0x28 },
	{ 0x3a, 0x39 }, { 0x1e, 0x04 }, { 0x1f, 0x16 }, { 0x20, 0x07 }, { 0x21, 0x09 },
	{ 0x22, 0x0a }, { 0x23, 0x0b }, { 0x24, 0x0d }, { 0x25, 0x0e }, { 0x26, 0x0f },
	{ 0x27, 0x33 }, { 0x28, 0x34 }, { 0x2b, 0x31 },
	{ 0x2a, 0xe1 }, { 0x56, 0x64 }, { 0x2c, 0x1d }, { 0x2d, 0x1b }, { 0x2e, 0x06 },
	{ 0x2f, 0x19 }, { 0x30, 0x05 }, { 0x31, 0x11 }, { 0x32, 0x10 }, { 0x33, 0x36 },
	{ 0x34, 0x37 }, { 0x35, 0x38 }, { 0x36, 0xe5 },
	{ 0x1d, 0xe0 }, { 0xe05b, 0xe3 }, { 0x38, 0xe2 }, { 0x39, 0x2c }, { 0xe038, 0xe6 },
	{ 0xe05c, 0xe7 }, { 0xe05d, 0x65 }, { 0xe01d, 0xe4 },
	{ 0xe052, 0x49 }, { 0xe047, 0x4a }, { 0xe049, 0x4b }, { 0xe053, 0x4c },
	{ 0xe04f, 0x4d }, { 0xe051, 0x4e },
	{ 0xe048, 0x52 }, { 0xe04b, 0x50 }, { 0xe050, 0x51 }, { 0xe04d, 0x4f },
	{ 0x45, 0x53 }, { 0xe035, 0x54 }, { 0x37, 0x55 }, { 0x4a, 0x56 }, { 0x47, 0x5f },
	{ 0x48, 0x60 }, { 0x49, 0x61 }, { 0x4e, 0x57 }, { 0x4b, 0x5c }, { 0x4c, 0x5d },
	{ 0x4d, 0x5e }, { 0x4f, 0x59 }, { 0x50, 0x5a }, { 0x51, 0x5b }, { 0xe01c, 0x58 },
	{ 0x52, 0x62 }, { 0x53, 0x63 },
};

static void test_xt_pc105(void **state)
{
	(void)state;
	size_t n = sizeof(pc105) / sizeof(pc105[0]);

	assert_int_equal(n, 105);
	for (size_t i = 0; i < n; i++) {
		uint8_t u = hid_usage_from_xt(pc105[i].xt);
		if (u != pc105[i].usage)
			fail_msg("xt 0x%x: usage 0x%02x, want 0x%02x", pc105[i].xt, u, pc105[i].usage);
		for (size_t j = 0; j < i; j++)
			assert_int_not_equal(pc105[i].usage, pc105[j].usage);
	}
}

static void test_xt_extra_keys(void **state)
{
	(void)state;
	static const struct xt_usage extra[] = {
		/* aliases QEMU may send */
		{ 0xe037, 0x46 }, { 0xe11d, 0x48 }, { 0xf1, 0x91 }, { 0xf2, 0x90 },
		/* F13-F24 as keycodemapdb (QEMU, noVNC) encodes them */
		{ 0x5d, 0x68 }, { 0x5e, 0x69 }, { 0x5f, 0x6a }, { 0x55, 0x6b }, { 0xe003, 0x6c },
		{ 0xe077, 0x6d }, { 0xe004, 0x6e }, { 0x5a, 0x6f }, { 0x74, 0x70 }, { 0xe079, 0x71 },
		{ 0x6d, 0x72 }, { 0x6f, 0x73 },
		/* JIS, Korean, ABNT */
		{ 0x73, 0x87 }, { 0x70, 0x88 }, { 0x7d, 0x89 }, { 0x79, 0x8a }, { 0x7b, 0x8b },
		{ 0x71, 0x91 }, { 0x72, 0x90 }, { 0x7e, 0x85 }, { 0x76, 0x94 }, { 0x77, 0x93 },
		{ 0x78, 0x92 }, { 0x5c, 0x8c }, { 0x59, 0x67 },
		{ 0xe05e, 0x66 }, { 0xe020, 0x7f }, { 0xe030, 0x80 }, { 0xe02e, 0x81 },
	};
	for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
		uint8_t u = hid_usage_from_xt(extra[i].xt);
		if (u != extra[i].usage)
			fail_msg("xt 0x%x: usage 0x%02x, want 0x%02x", extra[i].xt, u, extra[i].usage);
	}
	/* No usage and nothing wild outside the table. */
	static const uint32_t none[] = { 0, 0x80, 0x81, 0xaa, 0xe000, 0xe080, 0xe0ff, 0xe100,
					 0xe11e, 0xe1, 0xffff, 0xe02a, 0x1000000, UINT32_MAX };
	for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++)
		assert_int_equal(hid_usage_from_xt(none[i]), 0);
}

static void test_xt_unique(void **state)
{
	(void)state;
	/* Each usage comes from one code, apart from the known aliases. */
	uint32_t seen[256] = { 0 };

	for (uint32_t c = 0x01; c <= 0xe07f; c = c == 0x7f ? 0xe001 : c + 1) {
		if (c == 0xe037)
			continue;	/* alias of 0x54 */
		uint8_t u = hid_usage_from_xt(c);
		if (!u)
			continue;
		assert_true(u > 0x03);	/* never an error code */
		if (seen[u])
			fail_msg("usage 0x%02x from both 0x%x and 0x%x", u, seen[u], c);
		seen[u] = c;
	}
}

static void test_modifier_bit(void **state)
{
	(void)state;
	assert_int_equal(hid_modifier_bit(0xe0), 0x01);
	assert_int_equal(hid_modifier_bit(0xe1), 0x02);
	assert_int_equal(hid_modifier_bit(0xe2), 0x04);
	assert_int_equal(hid_modifier_bit(0xe3), 0x08);
	assert_int_equal(hid_modifier_bit(0xe4), 0x10);
	assert_int_equal(hid_modifier_bit(0xe5), 0x20);
	assert_int_equal(hid_modifier_bit(0xe6), 0x40);
	assert_int_equal(hid_modifier_bit(0xe7), 0x80);
	assert_int_equal(hid_modifier_bit(0xdf), 0);
	assert_int_equal(hid_modifier_bit(0xe8), 0);
	assert_int_equal(hid_modifier_bit(0x04), 0);
}

static void test_keysym_ascii(void **state)
{
	(void)state;
	/* A US keyboard, key by key: base level, shifted level, scancode. */
	static const char base[] = "`1234567890-=qwertyuiop[]\\asdfghjkl;'zxcvbnm,./";
	static const char upper[] = "~!@#$%^&*()_+QWERTYUIOP{}|ASDFGHJKL:\"ZXCVBNM<>?";
	static const uint8_t xt[] = {
		0x29, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d,
		0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x2b,
		0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28,
		0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35,
	};
	int covered = 1;	/* space, below */
	bool shift;

	assert_int_equal(sizeof(base) - 1, sizeof(xt));
	assert_int_equal(sizeof(upper) - 1, sizeof(xt));
	for (size_t i = 0; i < sizeof(xt); i++) {
		uint8_t want = hid_usage_from_xt(xt[i]);
		assert_int_not_equal(want, 0);
		shift = true;
		if (hid_usage_from_keysym((uint8_t)base[i], &shift) != want || shift)
			fail_msg("'%c': want usage 0x%02x unshifted", base[i], want);
		shift = false;
		if (hid_usage_from_keysym((uint8_t)upper[i], &shift) != want || !shift)
			fail_msg("'%c': want usage 0x%02x shifted", upper[i], want);
		/* Unicode keysyms for the same characters */
		assert_int_equal(hid_usage_from_keysym(0x01000000u + (uint8_t)base[i], NULL), want);
		covered += 2;
	}
	shift = true;
	assert_int_equal(hid_usage_from_keysym(' ', &shift), 0x2c);
	assert_false(shift);
	assert_int_equal(covered, 0x7f - 0x20);	/* every printable ASCII */

	/* Latin-1 beyond ASCII has no key on a US layout. */
	assert_int_equal(hid_usage_from_keysym(0xe9, &shift), 0);	/* eacute */
	assert_int_equal(hid_usage_from_keysym(0x1f, &shift), 0);
	assert_int_equal(hid_usage_from_keysym(0x7f, &shift), 0);
	assert_int_equal(hid_usage_from_keysym(0, &shift), 0);
}

static void test_keysym_function_keys(void **state)
{
	(void)state;
	static const struct {
		uint32_t keysym;
		uint8_t usage;
	} t[] = {
		{ 0xff0d, 0x28 }, { 0xff08, 0x2a }, { 0xff09, 0x2b }, { 0xff1b, 0x29 },
		{ 0xffff, 0x4c }, { 0xff63, 0x49 }, { 0xff50, 0x4a }, { 0xff57, 0x4d },
		{ 0xff55, 0x4b }, { 0xff56, 0x4e }, { 0xff51, 0x50 }, { 0xff52, 0x52 },
		{ 0xff53, 0x4f }, { 0xff54, 0x51 },
		{ 0xffbe, 0x3a }, { 0xffc9, 0x45 }, { 0xffca, 0x68 }, { 0xffd5, 0x73 },
		{ 0xffb0, 0x62 }, { 0xffb1, 0x59 }, { 0xffb9, 0x61 }, { 0xff8d, 0x58 },
		{ 0xffab, 0x57 }, { 0xffad, 0x56 }, { 0xffaa, 0x55 }, { 0xffaf, 0x54 },
		{ 0xffae, 0x63 }, { 0xffbd, 0x67 }, { 0xff95, 0x5f }, { 0xff9c, 0x59 },
		{ 0xff9f, 0x63 }, { 0xff9e, 0x62 },
		{ 0xffe1, 0xe1 }, { 0xffe2, 0xe5 }, { 0xffe3, 0xe0 }, { 0xffe4, 0xe4 },
		{ 0xffe9, 0xe2 }, { 0xffea, 0xe6 }, { 0xffe7, 0xe2 }, { 0xffe8, 0xe6 },
		{ 0xffeb, 0xe3 }, { 0xffec, 0xe7 }, { 0xfe03, 0xe6 },
		{ 0xffe5, 0x39 }, { 0xff7f, 0x53 }, { 0xff14, 0x47 },
		{ 0xff61, 0x46 }, { 0xff15, 0x46 }, { 0xff13, 0x48 }, { 0xff6b, 0x48 },
		{ 0xff67, 0x65 },
	};
	bool shift;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		shift = true;
		uint8_t u = hid_usage_from_keysym(t[i].keysym, &shift);
		if (u != t[i].usage || shift)
			fail_msg("keysym 0x%x: usage 0x%02x shift %d", t[i].keysym, u, shift);
	}
	shift = false;
	assert_int_equal(hid_usage_from_keysym(0xfe20, &shift), 0x2b);	/* ISO_Left_Tab */
	assert_true(shift);
	assert_int_equal(hid_usage_from_keysym(0xff00, NULL), 0);
	assert_int_equal(hid_usage_from_keysym(0x1234567, NULL), 0);
}

/* ---- keyboard reports ---- */

static void test_letter(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(hid_key_keysym(f->h, 1, 'a', true), 0);
	assert_int_equal(hid_key_keysym(f->h, 1, 'a', false), 0);
	assert_int_equal(f->cap.n, 2);
	expect_kbd(&f->cap, 0, 0, KEYS(0x04));
	expect_kbd(&f->cap, 1, 0, NULL);
}

static void test_shifted_letter_without_shift(void **state)
{
	struct fixture *f = *state;

	/* Shift comes with the key and goes with it: two reports. */
	assert_int_equal(hid_key_keysym(f->h, 1, 'A', true), 0);
	assert_int_equal(hid_key_keysym(f->h, 1, 'A', false), 0);
	assert_int_equal(f->cap.n, 2);
	expect_kbd(&f->cap, 0, HID__MOD_LSHIFT, KEYS(0x04));
	expect_kbd(&f->cap, 1, 0, NULL);

	/* same for punctuation */
	f->cap.n = 0;
	assert_int_equal(hid_key_keysym(f->h, 1, '!', true), 0);
	assert_int_equal(hid_key_keysym(f->h, 1, '!', false), 0);
	expect_kbd(&f->cap, 0, HID__MOD_LSHIFT, KEYS(0x1e));
	expect_kbd(&f->cap, 1, 0, NULL);
}

static void test_shift_held_then_letter(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(hid_key_keysym(f->h, 1, XK_Shift_L, true), 0);
	assert_int_equal(hid_key_keysym(f->h, 1, 'A', true), 0);
	assert_int_equal(hid_key_keysym(f->h, 1, 'A', false), 0);
	assert_int_equal(hid_key_keysym(f->h, 1, XK_Shift_L, false), 0);
	assert_int_equal(f->cap.n, 4);
	expect_kbd(&f->cap, 0, HID__MOD_LSHIFT, NULL);
	expect_kbd(&f->cap, 1, HID__MOD_LSHIFT, KEYS(0x04));
	expect_kbd(&f->cap, 2, HID__MOD_LSHIFT, NULL);
	expect_kbd(&f->cap, 3, 0, NULL);

	/* Right Shift gives the level as well: no Left Shift added. */
	f->cap.n = 0;
	hid_key_keysym(f->h, 1, XK_Shift_R, true);
	hid_key_keysym(f->h, 1, '?', true);
	expect_kbd(&f->cap, 1, HID__MOD_RSHIFT, KEYS(0x38));
}

static void test_unshifted_char_under_shift(void **state)
{
	struct fixture *f = *state;

	/* A non-US client sends '/' for Shift+7: the target must not see
	 * Shift with its '/' key, or it types '?'. */
	hid_key_keysym(f->h, 1, XK_Shift_L, true);
	hid_key_keysym(f->h, 1, '/', true);
	hid_key_keysym(f->h, 1, '/', false);
	assert_int_equal(f->cap.n, 3);
	expect_kbd(&f->cap, 0, HID__MOD_LSHIFT, NULL);
	expect_kbd(&f->cap, 1, 0, KEYS(0x38));
	expect_kbd(&f->cap, 2, HID__MOD_LSHIFT, NULL);

	/* Keys without a level keep the viewer's Shift (Shift+Left selects). */
	f->cap.n = 0;
	hid_key_keysym(f->h, 1, XK_Left, true);
	hid_key_keysym(f->h, 1, XK_Return, true);
	expect_kbd(&f->cap, 0, HID__MOD_LSHIFT, KEYS(0x50));
	expect_kbd(&f->cap, 1, HID__MOD_LSHIFT, KEYS(0x50, 0x28));
}

static void test_release_after_shift_change(void **state)
{
	struct fixture *f = *state;

	/* 'a' down, Shift down, 'A' up: the 'a' key must come up. */
	hid_key_keysym(f->h, 1, 'a', true);
	hid_key_keysym(f->h, 1, XK_Shift_L, true);
	hid_key_keysym(f->h, 1, 'A', false);
	assert_int_equal(f->cap.n, 3);
	expect_kbd(&f->cap, 0, 0, KEYS(0x04));
	expect_kbd(&f->cap, 1, HID__MOD_LSHIFT, KEYS(0x04));
	expect_kbd(&f->cap, 2, HID__MOD_LSHIFT, NULL);

	/* and the other way: '1' down, Shift, '!' up */
	f->cap.n = 0;
	hid_key_keysym(f->h, 1, XK_Shift_L, false);
	hid_key_keysym(f->h, 1, '1', true);
	hid_key_keysym(f->h, 1, XK_Shift_L, true);
	hid_key_keysym(f->h, 1, '!', false);
	expect_kbd(&f->cap, f->cap.n - 1, HID__MOD_LSHIFT, NULL);
}

static void test_overlapping_levels(void **state)
{
	struct fixture *f = *state;

	/* "Ab" typed fast: 'b' must not inherit the Shift that 'A' needed. */
	hid_key_keysym(f->h, 1, 'A', true);
	hid_key_keysym(f->h, 1, 'b', true);
	hid_key_keysym(f->h, 1, 'A', false);
	hid_key_keysym(f->h, 1, 'b', false);
	assert_int_equal(f->cap.n, 4);
	expect_kbd(&f->cap, 0, HID__MOD_LSHIFT, KEYS(0x04));
	expect_kbd(&f->cap, 1, 0, KEYS(0x04, 0x05));
	expect_kbd(&f->cap, 2, 0, KEYS(0x05));
	expect_kbd(&f->cap, 3, 0, NULL);
}

static void test_caps_lock_letters(void **state)
{
	struct fixture *f = *state;
	uint8_t caps = HID_LED_CAPS;

	/* With the target's Caps Lock on, 'A' is the bare key, 'a' needs Shift. */
	assert_int_equal(hid_led_report(f->h, &caps, 1), 0);
	hid_key_keysym(f->h, 1, 'A', true);
	hid_key_keysym(f->h, 1, 'A', false);
	hid_key_keysym(f->h, 1, 'a', true);
	hid_key_keysym(f->h, 1, 'a', false);
	hid_key_keysym(f->h, 1, '1', true);
	assert_int_equal(f->cap.n, 5);
	expect_kbd(&f->cap, 0, 0, KEYS(0x04));
	expect_kbd(&f->cap, 1, 0, NULL);
	expect_kbd(&f->cap, 2, HID__MOD_LSHIFT, KEYS(0x04));
	expect_kbd(&f->cap, 3, 0, NULL);
	expect_kbd(&f->cap, 4, 0, KEYS(0x1e));	/* digits ignore Caps Lock */
}

static void test_autorepeat(void **state)
{
	struct fixture *f = *state;

	hid_key_keysym(f->h, 1, 'x', true);
	hid_key_keysym(f->h, 1, 'x', true);
	hid_key_keysym(f->h, 1, 'x', true);
	hid_key_xt(f->h, 1, 0x2d, true);	/* same key by scancode */
	assert_int_equal(f->cap.n, 1);
	hid_key_keysym(f->h, 1, 'x', false);
	assert_int_equal(f->cap.n, 2);
	expect_kbd(&f->cap, 1, 0, NULL);
	/* a release of a key nobody holds sends nothing */
	assert_int_equal(hid_key_keysym(f->h, 1, 'x', false), 0);
	assert_int_equal(hid_key_xt(f->h, 7, 0x1e, false), 0);
	assert_int_equal(f->cap.n, 2);
}

static void test_rollover(void **state)
{
	struct fixture *f = *state;
	const char *keys = "abcdefg";

	hid_key_keysym(f->h, 1, XK_Control_L, true);
	for (int i = 0; i < 7; i++)
		assert_int_equal(hid_key_keysym(f->h, 1, (uint8_t)keys[i], true), 0);
	assert_int_equal(f->cap.n, 8);
	expect_kbd(&f->cap, 6, 0x01, KEYS(0x04, 0x05, 0x06, 0x07, 0x08, 0x09));
	expect_kbd(&f->cap, 7, 0x01, KEYS(1, 1, 1, 1, 1, 1));
	/* an eighth key changes nothing the target sees */
	hid_key_keysym(f->h, 1, 'h', true);
	assert_int_equal(f->cap.n, 8);
	hid_key_keysym(f->h, 1, 'h', false);
	assert_int_equal(f->cap.n, 8);
	/* back to six: the keys, in the order they went down */
	hid_key_keysym(f->h, 1, 'c', false);
	assert_int_equal(f->cap.n, 9);
	expect_kbd(&f->cap, 8, 0x01, KEYS(0x04, 0x05, 0x07, 0x08, 0x09, 0x0a));
}

static void test_two_viewers_same_key(void **state)
{
	struct fixture *f = *state;

	hid_key_keysym(f->h, 1, 'q', true);
	hid_key_keysym(f->h, 2, 'q', true);
	assert_int_equal(f->cap.n, 1);
	hid_key_keysym(f->h, 1, 'q', false);
	assert_int_equal(f->cap.n, 1);	/* viewer 2 still holds it */
	hid_key_keysym(f->h, 2, 'q', false);
	assert_int_equal(f->cap.n, 2);
	expect_kbd(&f->cap, 0, 0, KEYS(0x14));
	expect_kbd(&f->cap, 1, 0, NULL);
}

static void test_release_viewer(void **state)
{
	struct fixture *f = *state;

	hid_key_keysym(f->h, 1, 'a', true);
	hid_key_keysym(f->h, 1, XK_Control_L, true);
	hid_key_xt(f->h, 2, 0x30, true);	/* b */
	hid_key_xt(f->h, 2, 0x38, true);	/* Left Alt */
	hid_pointer(f->h, 1, 10, 10, 100, 100, WK_BTN_LEFT);
	hid_pointer(f->h, 2, 20, 20, 100, 100, WK_BTN_RIGHT);
	f->cap.n = 0;

	assert_int_equal(hid_release(f->h, 1), 0);
	assert_int_equal(f->cap.n, 2);
	expect_kbd(&f->cap, 0, 0x04, KEYS(0x05));
	expect_ptr(&f->cap, 1, 0x02, 20 * HID_ABS_MAX / 99, 20 * HID_ABS_MAX / 99, 0, 0);

	/* nothing left to change for viewer 1: no reports */
	assert_int_equal(hid_release(f->h, 1), 0);
	assert_int_equal(f->cap.n, 2);

	assert_int_equal(hid_release(f->h, -1), 0);
	assert_int_equal(f->cap.n, 4);
	expect_kbd(&f->cap, 2, 0, NULL);
	expect_ptr(&f->cap, 3, 0, 20 * HID_ABS_MAX / 99, 20 * HID_ABS_MAX / 99, 0, 0);

	/* a released viewer starts afresh */
	hid_key_keysym(f->h, 1, 'a', true);
	expect_kbd(&f->cap, 4, 0, KEYS(0x04));
}

static void test_release_ends_shift_override(void **state)
{
	struct fixture *f = *state;

	/* A modifier from another viewer leaves viewer 1's Shift override in
	 * place; releasing viewer 1 takes the override away with its key. */
	hid_key_keysym(f->h, 1, 'Z', true);
	hid_key_xt(f->h, 2, 0x1d, true);
	hid_release(f->h, 1);
	assert_int_equal(f->cap.n, 3);
	expect_kbd(&f->cap, 0, HID__MOD_LSHIFT, KEYS(0x1d));
	expect_kbd(&f->cap, 1, HID__MOD_LSHIFT | 0x01, KEYS(0x1d));
	expect_kbd(&f->cap, 2, 0x01, NULL);
}

static void test_xt_modifiers(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(hid_key_xt(f->h, 1, 0x2a, true), 0);	/* Left Shift */
	assert_int_equal(hid_key_xt(f->h, 1, 0xe05b, true), 0);	/* Left GUI */
	assert_int_equal(hid_key_xt(f->h, 1, 0x1e, true), 0);
	assert_int_equal(hid_key_xt(f->h, 1, 0x2a, false), 0);
	assert_int_equal(f->cap.n, 4);
	expect_kbd(&f->cap, 0, 0x02, NULL);
	expect_kbd(&f->cap, 1, 0x0a, NULL);
	expect_kbd(&f->cap, 2, 0x0a, KEYS(0x04));
	expect_kbd(&f->cap, 3, 0x08, KEYS(0x04));
}

static void test_unmapped(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(hid_key_keysym(f->h, 1, 0xe9, true), HID_EUNMAPPED);
	assert_int_equal(hid_key_keysym(f->h, 1, 0xe9, false), HID_EUNMAPPED);
	assert_int_equal(hid_key_xt(f->h, 1, 0xe0ff, true), HID_EUNMAPPED);
	assert_int_equal(hid_key_xt(f->h, 1, 0, true), HID_EUNMAPPED);
	assert_int_equal(hid_key_keysym(NULL, 1, 'a', true), HID_EINVAL);
	assert_int_equal(f->cap.calls, 0);
}

static void test_transport_failure(void **state)
{
	struct fixture *f = *state;

	f->cap.fail = -11;	/* EAGAIN */
	assert_int_equal(hid_key_keysym(f->h, 1, 'a', true), HID_EIO);
	/* the target never saw 'a', so its release has nothing to send */
	assert_int_equal(hid_key_keysym(f->h, 1, 'a', false), 0);
	assert_int_equal(f->cap.calls, 1);
	assert_int_equal(hid_key_keysym(f->h, 1, 'b', true), HID_EIO);
	f->cap.fail = 0;
	/* the next report carries the whole state: 'b' held, 'a' not */
	assert_int_equal(hid_key_keysym(f->h, 1, 'c', true), 0);
	assert_int_equal(f->cap.n, 1);
	expect_kbd(&f->cap, 0, 0, KEYS(0x05, 0x06));

	f->cap.fail = -5;
	assert_int_equal(hid_pointer(f->h, 1, 1, 1, 10, 10, 0), HID_EIO);
	f->cap.fail = 0;
	assert_int_equal(hid_pointer(f->h, 1, 1, 1, 10, 10, 0), 0);	/* retried */
	assert_int_equal(f->cap.n, 2);
}

/* ---- pointer ---- */

static void test_pointer_scaling(void **state)
{
	struct fixture *f = *state;

	hid_pointer(f->h, 1, 0, 0, 1280, 720, 0);
	hid_pointer(f->h, 1, 1279, 719, 1280, 720, 0);
	hid_pointer(f->h, 1, 640, 360, 1280, 720, 0);
	hid_pointer(f->h, 1, 5000, -5, 1280, 720, 0);	/* clamped */
	hid_pointer(f->h, 1, 0, 0, 1, 1, 0);		/* 1x1: always 0 */
	assert_int_equal(f->cap.n, 5);
	expect_ptr(&f->cap, 0, 0, 0, 0, 0, 0);
	expect_ptr(&f->cap, 1, 0, HID_ABS_MAX, HID_ABS_MAX, 0, 0);
	expect_ptr(&f->cap, 2, 0, 640 * 32767 / 1279, 360 * 32767 / 719, 0, 0);
	expect_ptr(&f->cap, 3, 0, HID_ABS_MAX, 0, 0, 0);
	expect_ptr(&f->cap, 4, 0, 0, 0, 0, 0);

	/* every column of a small screen maps in order, ends exact */
	int prev = -1;
	for (int x = 0; x < 7; x++) {
		hid_pointer(f->h, 1, x, 0, 7, 3, 0);
		const uint8_t *b = f->cap.r[f->cap.n - 1].buf;
		int ax = b[1] | b[2] << 8;
		assert_true(ax > prev);
		prev = ax;
	}
	assert_int_equal(prev, HID_ABS_MAX);

	assert_int_equal(hid_pointer(f->h, 1, 0, 0, 0, 10, 0), HID_EINVAL);
	assert_int_equal(hid_pointer(f->h, 1, 0, 0, 10, -1, 0), HID_EINVAL);
}

static void test_pointer_buttons(void **state)
{
	struct fixture *f = *state;
	static const struct {
		uint32_t wk;
		uint8_t hid;
	} t[] = {
		{ WK_BTN_LEFT, 0x01 },
		{ WK_BTN_MIDDLE, 0x04 },
		{ WK_BTN_RIGHT, 0x02 },
		{ WK_BTN_BACK, 0x08 },
		{ WK_BTN_FORWARD, 0x10 },
		{ WK_BTN_FORWARD | WK_BTN_BACK | WK_BTN_RIGHT | WK_BTN_LEFT, 0x1b },
		{ 0, 0x00 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		hid_pointer(f->h, 1, 3, 4, 10, 10, t[i].wk);
		expect_ptr(&f->cap, (int)i, t[i].hid, 3 * 32767 / 9, 4 * 32767 / 9, 0, 0);
	}
	assert_int_equal(f->cap.n, 7);

	/* two viewers: the target sees both buttons until both let go */
	f->cap.n = 0;
	hid_pointer(f->h, 1, 3, 4, 10, 10, WK_BTN_LEFT);
	hid_pointer(f->h, 2, 3, 4, 10, 10, WK_BTN_RIGHT);
	hid_pointer(f->h, 1, 3, 4, 10, 10, 0);
	assert_int_equal(f->cap.n, 3);
	expect_ptr(&f->cap, 1, 0x03, 3 * 32767 / 9, 4 * 32767 / 9, 0, 0);
	expect_ptr(&f->cap, 2, 0x02, 3 * 32767 / 9, 4 * 32767 / 9, 0, 0);
}

static void test_pointer_wheel(void **state)
{
	struct fixture *f = *state;

	hid_pointer(f->h, 1, 5, 5, 11, 11, 0);
	hid_pointer(f->h, 1, 5, 5, 11, 11, WK_WHEEL_UP);	/* up pressed: one step */
	hid_pointer(f->h, 1, 5, 5, 11, 11, WK_WHEEL_UP);	/* still down: nothing */
	hid_pointer(f->h, 1, 5, 5, 11, 11, 0);	/* released: nothing */
	hid_pointer(f->h, 1, 5, 5, 11, 11, WK_WHEEL_DOWN);	/* down */
	hid_pointer(f->h, 1, 5, 5, 11, 11, WK_WHEEL_LEFT);	/* left; down released */
	hid_pointer(f->h, 1, 5, 5, 11, 11, WK_WHEEL_RIGHT);	/* right */
	hid_pointer(f->h, 1, 6, 5, 11, 11, WK_BTN_LEFT | WK_WHEEL_RIGHT);	/* moved with left button */
	assert_int_equal(f->cap.n, 6);
	int c = HID_ABS_MAX / 2;
	expect_ptr(&f->cap, 0, 0, c, c, 0, 0);
	expect_ptr(&f->cap, 1, 0, c, c, 1, 0);
	expect_ptr(&f->cap, 2, 0, c, c, -1, 0);
	expect_ptr(&f->cap, 3, 0, c, c, 0, -1);
	expect_ptr(&f->cap, 4, 0, c, c, 0, 1);
	expect_ptr(&f->cap, 5, 0x01, 6 * 32767 / 10, c, 0, 0);
}

static void test_pointer_no_duplicates(void **state)
{
	struct fixture *f = *state;

	for (int i = 0; i < 5; i++)
		hid_pointer(f->h, 1, 50, 60, 100, 100, WK_BTN_LEFT);
	assert_int_equal(f->cap.n, 1);
	/* another viewer at the same spot with no buttons adds nothing */
	hid_pointer(f->h, 2, 50, 60, 100, 100, 0);
	assert_int_equal(f->cap.n, 1);
	/* the same position on a differently sized screen is new */
	hid_pointer(f->h, 2, 50, 60, 200, 200, 0);
	assert_int_equal(f->cap.n, 2);
}

/* ---- LEDs ---- */

static void test_led_report(void **state)
{
	struct fixture *f = *state;
	uint8_t b[2] = { HID_LED_CAPS | HID_LED_NUM, 0 };

	assert_int_equal(hid_leds(f->h), 0);
	assert_int_equal(hid_led_report(f->h, b, 1), 0);
	assert_int_equal(f->leds.calls, 1);
	assert_int_equal(f->leds.last, HID_LED_CAPS | HID_LED_NUM);
	assert_int_equal(hid_leds(f->h), HID_LED_CAPS | HID_LED_NUM);

	assert_int_equal(hid_led_report(f->h, b, 1), 0);	/* unchanged */
	assert_int_equal(f->leds.calls, 1);

	b[0] = HID_LED_SCROLL | 0xe0;	/* padding bits are not LEDs */
	assert_int_equal(hid_led_report(f->h, b, 1), 0);
	assert_int_equal(f->leds.calls, 2);
	assert_int_equal(f->leds.last, HID_LED_SCROLL);

	assert_int_equal(hid_led_report(f->h, b, 0), HID_EINVAL);
	assert_int_equal(hid_led_report(f->h, b, 2), HID_EINVAL);
	assert_int_equal(hid_led_report(f->h, NULL, 1), HID_EINVAL);
	assert_int_equal(f->leds.calls, 2);
	assert_int_equal(hid_leds(f->h), HID_LED_SCROLL);
	assert_int_equal(f->cap.calls, 0);	/* LEDs never produce input reports */
}

static void test_misc(void **state)
{
	(void)state;
	struct hid_transport none = { NULL, NULL };

	assert_null(hid_new(NULL, NULL, NULL));
	assert_null(hid_new(&none, NULL, NULL));
	hid_free(NULL);
	for (int e = HID_EIO; e <= HID_OK; e++)
		assert_string_not_equal(hid_strerror(e), "unknown error");
	assert_string_equal(hid_strerror(-99), "unknown error");
}

/* ---- layouts ---- */

static int layout(const char *name)
{
	int l = hid_layout_find(name);

	assert_true(l >= 0);
	return l;
}

static void test_layout_names(void **state)
{
	(void)state;
	static const char *const names[] = {
		"en-us", "en-gb", "de", "fr", "es", "it", "pt-br", "sv", "ru", "ja",
	};

	assert_int_equal(hid_layout_count(), 10);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int l = hid_layout_find(names[i]);
		assert_true(l >= 0 && l < hid_layout_count());
		assert_string_equal(hid_layout_name(l), names[i]);
	}
	assert_int_equal(hid_layout_find("en-us"), 0);	/* the default */
	assert_int_equal(hid_layout_find("DE"), layout("de"));
	assert_int_equal(hid_layout_find("xx"), HID_EINVAL);
	assert_int_equal(hid_layout_find(""), HID_EINVAL);
	assert_int_equal(hid_layout_find(NULL), HID_EINVAL);
	assert_null(hid_layout_name(-1));
	assert_null(hid_layout_name(hid_layout_count()));
	assert_false(hid_layout_has_altgr(layout("en-us")));
	assert_true(hid_layout_has_altgr(layout("de")));
	assert_false(hid_layout_has_altgr(layout("ru")));
}

/* The xkb data for en-us agrees with the hand-made US table on ASCII. */
static void test_layout_us_matches_table(void **state)
{
	(void)state;
	struct hid_stroke st[HID_STROKES_MAX];

	for (uint32_t c = 0x20; c <= 0x7e; c++) {
		bool shift;
		uint8_t want = hid_usage_from_keysym(c, &shift);
		assert_int_equal(hid_layout_plan(0, c, st, HID_STROKES_MAX), 1);
		if (st[0].usage != want || (st[0].mods == HID_MOD_LSHIFT) != shift)
			fail_msg("'%c': usage 0x%02x mods 0x%02x, table 0x%02x shift %d",
				 (int)c, st[0].usage, st[0].mods, want, shift);
		assert_false(st[0].any_mods);
		assert_int_equal(st[0].caps, (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
	}
}

static void expect_plan(const char *lname, uint32_t keysym, int n, uint8_t u0, uint8_t m0,
			uint8_t u1, uint8_t m1)
{
	struct hid_stroke st[HID_STROKES_MAX];
	int got = hid_layout_plan(layout(lname), keysym, st, HID_STROKES_MAX);

	if (got != n)
		fail_msg("%s keysym 0x%x: %d strokes, want %d", lname, keysym, got, n);
	if (n < 1)
		return;
	if (st[0].usage != u0 || st[0].mods != m0)
		fail_msg("%s keysym 0x%x: stroke 0x%02x/0x%02x, want 0x%02x/0x%02x", lname,
			 keysym, st[0].usage, st[0].mods, u0, m0);
	if (n == 2 && (st[1].usage != u1 || st[1].mods != m1))
		fail_msg("%s keysym 0x%x: 2nd stroke 0x%02x/0x%02x, want 0x%02x/0x%02x", lname,
			 keysym, st[1].usage, st[1].mods, u1, m1);
}

#define SH HID_MOD_LSHIFT
#define AG HID_MOD_RALT

static void test_layout_plan(void **state)
{
	(void)state;
	struct hid_stroke st[HID_STROKES_MAX];

	expect_plan("de", '@', 1, 0x14, AG, 0, 0);		/* AltGr+Q */
	expect_plan("de", 0x20ac, 1, 0x08, AG, 0, 0);		/* EuroSign: AltGr+E */
	expect_plan("de", 0x010020ac, 1, 0x08, AG, 0, 0);	/* U+20AC as Unicode keysym */
	expect_plan("de", 'z', 1, 0x1c, 0, 0, 0);		/* QWERTZ */
	expect_plan("de", '<', 1, 0x64, 0, 0, 0);		/* ISO key */
	expect_plan("de", '|', 1, 0x64, AG, 0, 0);
	expect_plan("de", 0xfe51, 1, 0x2e, 0, 0, 0);		/* dead_acute itself */
	expect_plan("de", 0xe9, 2, 0x2e, 0, 0x08, 0);		/* é: dead_acute, e */
	expect_plan("de", 0xc8, 2, 0x2e, SH, 0x08, SH);	/* È: dead_grave, E */
	expect_plan("de", '^', 2, 0x35, 0, 0x2c, 0);		/* dead_circumflex, space */
	expect_plan("fr", 'a', 1, 0x14, 0, 0, 0);		/* AZERTY */
	expect_plan("fr", '1', 1, 0x1e, SH, 0, 0);		/* digits need Shift */
	expect_plan("fr", 0xe9, 1, 0x1f, 0, 0, 0);		/* é has its key */
	expect_plan("fr", 0xea, 2, 0x2f, 0, 0x08, 0);		/* ê: dead_circumflex, e */
	expect_plan("en-gb", 0xa3, 1, 0x20, SH, 0, 0);		/* £: Shift+3 */
	expect_plan("en-gb", '"', 1, 0x1f, SH, 0, 0);		/* Shift+2 */
	expect_plan("en-gb", '#', 1, 0x31, 0, 0, 0);
	expect_plan("ru", 0x6ca, 1, 0x14, 0, 0, 0);		/* Cyrillic_shorti: Q */
	expect_plan("ru", 0x01000419, 1, 0x14, SH, 0, 0);	/* U+0419 Й */
	expect_plan("ja", '@', 1, 0x2f, 0, 0, 0);
	expect_plan("ja", '_', 1, 0x87, SH, 0, 0);		/* Ro key */
	expect_plan("sv", 0xe5, 1, 0x2f, 0, 0, 0);		/* å */
	expect_plan("es", 0xf1, 1, 0x33, 0, 0, 0);		/* ñ */
	expect_plan("pt-br", 0xe7, 1, 0x33, 0, 0, 0);		/* ç */
	expect_plan("it", 0xe8, 1, 0x2f, 0, 0, 0);		/* è */

	/* Keys without a character: any layout, viewer's modifiers. */
	expect_plan("fr", 0xff0d, 1, 0x28, 0, 0, 0);
	assert_int_equal(hid_layout_plan(layout("fr"), 0xff0d, st, 1), 1);
	assert_true(st[0].any_mods);
	expect_plan("ru", 0xfe20, 1, 0x2b, SH, 0, 0);		/* ISO_Left_Tab */

	/* What a layout cannot type is reported, not typed wrong. */
	expect_plan("en-us", 0xe9, HID_EUNMAPPED, 0, 0, 0, 0);
	expect_plan("en-us", 0x20ac, HID_EUNMAPPED, 0, 0, 0, 0);
	expect_plan("ru", 0x20ac, HID_EUNMAPPED, 0, 0, 0, 0);	/* no AltGr on ru */
	expect_plan("de", 0x6ca, HID_EUNMAPPED, 0, 0, 0, 0);	/* Cyrillic on de */
	expect_plan("ja", 0xe9, HID_EUNMAPPED, 0, 0, 0, 0);
	expect_plan("de", 0x01100000, HID_EUNMAPPED, 0, 0, 0, 0);
	expect_plan("de", 0xff00, HID_EUNMAPPED, 0, 0, 0, 0);
	expect_plan("de", 0, HID_EUNMAPPED, 0, 0, 0, 0);

	assert_int_equal(hid_layout_plan(-1, 'a', st, 2), HID_EINVAL);
	assert_int_equal(hid_layout_plan(hid_layout_count(), 'a', st, 2), HID_EINVAL);
	assert_int_equal(hid_layout_plan(0, 'a', NULL, 2), HID_EINVAL);
	assert_int_equal(hid_layout_plan(0, 'a', st, 0), HID_EINVAL);
	assert_int_equal(hid_layout_plan(layout("de"), 0xe9, st, 1), HID_EINVAL);
}

static void test_layout_keysym_ucs(void **state)
{
	(void)state;
	assert_int_equal(hid_keysym_from_ucs('a'), 'a');
	assert_int_equal(hid_keysym_from_ucs(0xe9), 0xe9);
	assert_int_equal(hid_keysym_from_ucs('\n'), 0xff0d);
	assert_int_equal(hid_keysym_from_ucs('\t'), 0xff09);
	assert_int_equal(hid_keysym_from_ucs(0x20ac), 0x010020ac);
	assert_int_equal(hid_keysym_from_ucs(0x01), 0);
	assert_int_equal(hid_keysym_from_ucs(0x85), 0);
	assert_int_equal(hid_keysym_from_ucs(0x110000), 0);

	assert_int_equal(hid_keysym_to_ucs('a'), 'a');
	assert_int_equal(hid_keysym_to_ucs(0x20ac), 0x20ac);	/* EuroSign */
	assert_int_equal(hid_keysym_to_ucs(0x6c1), 0x430);	/* Cyrillic_a */
	assert_int_equal(hid_keysym_to_ucs(0x010020ac), 0x20ac);
	assert_int_equal(hid_keysym_to_ucs(0xfe51), 0);	/* dead_acute */
	assert_int_equal(hid_keysym_to_ucs(0xff0d), 0);
	assert_int_equal(hid_keysym_to_ucs(0x0100000a), 0);
	assert_true(hid_keysym_is_dead(0xfe51));
	assert_false(hid_keysym_is_dead('a'));

	assert_int_equal(hid_compose(0xfe51, 'e'), 0xe9);	/* é */
	assert_int_equal(hid_compose(0xfe52, 'E'), 0xca);	/* Ê */
	assert_int_equal(hid_compose(0xfe57, 'u'), 0xfc);	/* ü */
	assert_int_equal(hid_compose(0xfe53, 'n'), 0xf1);	/* ñ */
	assert_int_equal(hid_compose(0xfe50, 'a'), 0xe0);	/* à */
	assert_int_equal(hid_compose(0xfe52, ' '), '^');
	assert_int_equal(hid_compose(0xfe51, 'q'), 0);

	/* What the target decodes, with XKB's levels. */
	int de = layout("de");
	assert_int_equal(hid_layout_keysym(de, 0x14, false, true, false), '@');
	assert_int_equal(hid_layout_keysym(de, 0x04, false, false, true), 'A');
	assert_int_equal(hid_layout_keysym(de, 0x04, true, false, true), 'a');
	assert_int_equal(hid_layout_keysym(de, 0x2c, true, true, false), ' ');
	assert_int_equal(hid_layout_keysym(de, 0x28, false, false, false), 0);	/* Return */
	assert_int_equal(hid_layout_keysym(0, 0x14, false, true, false), 'q');	/* no AltGr */
	assert_int_equal(hid_layout_keysym(-1, 0x14, false, false, false), 0);
}

static void test_layout_keysym_reports(void **state)
{
	struct fixture *f = *state;
	struct capture *c = &f->cap;

	assert_int_equal(hid_set_layout(f->h, -1), HID_EINVAL);
	assert_int_equal(hid_get_layout(f->h), 0);
	assert_int_equal(hid_set_layout(f->h, layout("de")), 0);
	assert_int_equal(hid_get_layout(f->h), layout("de"));

	/* '@' on de: AltGr added around Q, for as long as it is held. */
	assert_int_equal(hid_key_keysym(f->h, 1, '@', true), 0);
	assert_int_equal(hid_key_keysym(f->h, 1, '@', false), 0);
	assert_int_equal(c->n, 2);
	expect_kbd(c, 0, AG, KEYS(0x14));
	expect_kbd(c, 1, 0, NULL);

	/* The viewer's own AltGr (ISO_Level3_Shift) and 'q': AltGr is
	 * cleared for the key, the viewer's key stays held. */
	c->n = 0;
	assert_int_equal(hid_key_keysym(f->h, 1, 0xfe03, true), 0);
	assert_int_equal(hid_key_keysym(f->h, 1, 'q', true), 0);
	assert_int_equal(hid_key_keysym(f->h, 1, 'q', false), 0);
	assert_int_equal(hid_key_keysym(f->h, 1, 0xfe03, false), 0);
	assert_int_equal(c->n, 4);
	expect_kbd(c, 0, AG, NULL);
	expect_kbd(c, 1, 0, KEYS(0x14));
	expect_kbd(c, 2, AG, NULL);
	expect_kbd(c, 3, 0, NULL);

	/* 'É': a tap of dead_acute, then Shift+E held. */
	c->n = 0;
	assert_int_equal(hid_key_keysym(f->h, 1, 0xc9, true), 0);
	assert_int_equal(c->n, 3);
	expect_kbd(c, 0, 0, KEYS(0x2e));
	expect_kbd(c, 1, 0, NULL);
	expect_kbd(c, 2, SH, KEYS(0x08));
	/* The viewer's autorepeat sends nothing more. */
	assert_int_equal(hid_key_keysym(f->h, 1, 0xc9, true), 0);
	assert_int_equal(c->n, 3);
	assert_int_equal(hid_key_keysym(f->h, 1, 0xc9, false), 0);
	expect_kbd(c, 3, 0, NULL);

	/* Caps Lock on: the target types 'Ä' on the ä key, so Shift goes
	 * on for 'ä'. */
	c->n = 0;
	uint8_t caps = HID_LED_CAPS;
	assert_int_equal(hid_led_report(f->h, &caps, 1), 0);
	assert_int_equal(hid_key_keysym(f->h, 1, 0xe4, true), 0);
	assert_int_equal(hid_key_keysym(f->h, 1, 0xe4, false), 0);
	expect_kbd(c, 0, SH, KEYS(0x34));
	/* Digits do not follow Caps Lock. */
	c->n = 0;
	assert_int_equal(hid_key_keysym(f->h, 1, '1', true), 0);
	expect_kbd(c, 0, 0, KEYS(0x1e));
	assert_int_equal(hid_key_keysym(f->h, 1, '1', false), 0);

	/* Not on de: reported, nothing sent. */
	c->n = 0;
	assert_int_equal(hid_key_keysym(f->h, 1, 0x6c1, true), HID_EUNMAPPED);
	assert_int_equal(c->n, 0);

	/* ru has no AltGr: Right Alt stays Alt for the viewer. */
	assert_int_equal(hid_set_layout(f->h, layout("ru")), 0);
	caps = 0;
	assert_int_equal(hid_led_report(f->h, &caps, 1), 0);
	assert_int_equal(hid_key_keysym(f->h, 1, 0xffea, true), 0);	/* Alt_R */
	assert_int_equal(hid_key_keysym(f->h, 1, 0x6c1, true), 0);	/* Cyrillic_a */
	expect_kbd(c, c->n - 1, AG, KEYS(0x09));
	assert_int_equal(hid_release(f->h, -1), 0);
}

/* ---- relative mouse ---- */

#define BIG 4096	/* screen size for relative tests: positions are not clamped */

/* Checks reports from..c->n-1 are relative mouse reports within the
 * report's range and adds up their motion. */
static void sum_mouse(const struct capture *c, int from, long *dx, long *dy)
{
	*dx = *dy = 0;
	for (int i = from; i < c->n; i++) {
		assert_int_equal(c->r[i].iface, HID_IFACE_MOUSE);
		assert_int_equal(c->r[i].len, HID_MOUSE_REPORT_LEN);
		int x = (int8_t)c->r[i].buf[1], y = (int8_t)c->r[i].buf[2];
		/* -128 is outside the descriptor's logical range. */
		assert_true(abs(x) <= HID_REL_MAX);
		assert_true(abs(y) <= HID_REL_MAX);
		*dx += x;
		*dy += y;
	}
}

static void expect_mouse(const struct capture *c, int i, uint8_t buttons, int dx, int dy, int8_t wheel, int8_t pan)
{
	assert_true(i < c->n);
	assert_int_equal(c->r[i].iface, HID_IFACE_MOUSE);
	assert_int_equal(c->r[i].len, HID_MOUSE_REPORT_LEN);
	const uint8_t *b = c->r[i].buf;
	assert_int_equal(b[0], buttons);
	assert_int_equal((int8_t)b[1], dx);
	assert_int_equal((int8_t)b[2], dy);
	assert_int_equal((int8_t)b[3], wheel);
	assert_int_equal((int8_t)b[4], pan);
}

static void set_relative(struct fixture *f)
{
	assert_int_equal(hid_set_pointer_mode(f->h, HID_POINTER_RELATIVE), 0);
	assert_int_equal(hid_get_pointer_mode(f->h), HID_POINTER_RELATIVE);
}

/* Moves viewer v to (x, y) and checks the motion the target got. */
static void move_expect(struct fixture *f, int v, int x, int y, long want_dx, long want_dy)
{
	long dx, dy;
	int from = f->cap.n;

	assert_int_equal(hid_pointer(f->h, v, x, y, BIG, BIG, 0), 0);
	sum_mouse(&f->cap, from, &dx, &dy);
	assert_int_equal(dx, want_dx);
	assert_int_equal(dy, want_dy);
	/* Fewest reports: each carries the full step on the longer axis. */
	long m = labs(want_dx) > labs(want_dy) ? labs(want_dx) : labs(want_dy);
	if (m > 0)
		assert_int_equal(f->cap.n - from, (m + HID_REL_MAX - 1) / HID_REL_MAX);
}

static void test_rel_first_position(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(hid_get_pointer_mode(f->h), HID_POINTER_ABSOLUTE);
	set_relative(f);
	assert_int_equal(hid_pointer(f->h, 1, 700, 400, BIG, BIG, 0), 0);
	/* At most a report without motion: the first position is a base. */
	assert_true(f->cap.n <= 1);
	for (int i = 0; i < f->cap.n; i++)
		expect_mouse(&f->cap, i, 0, 0, 0, 0, 0);
	int n = f->cap.n;
	/* The same position again moves nothing and sends nothing. */
	assert_int_equal(hid_pointer(f->h, 1, 700, 400, BIG, BIG, 0), 0);
	assert_int_equal(f->cap.n, n);
	assert_int_equal(hid_pointer(f->h, 1, 701, 398, BIG, BIG, 0), 0);
	assert_int_equal(f->cap.n, n + 1);
	expect_mouse(&f->cap, n, 0, 1, -2, 0, 0);
	/* Nothing went to the absolute pointer. */
	for (int i = 0; i < f->cap.n; i++)
		assert_int_equal(f->cap.r[i].iface, HID_IFACE_MOUSE);
}

static void test_rel_split(void **state)
{
	struct fixture *f = *state;

	set_relative(f);
	hid_pointer(f->h, 1, 0, 0, BIG, BIG, 0);
	move_expect(f, 1, 1000, 0, 1000, 0);
	move_expect(f, 1, 0, 0, -1000, 0);
	move_expect(f, 1, 0, 1000, 0, 1000);
	move_expect(f, 1, 127, 1000, 127, 0);
	move_expect(f, 1, 0, 873, -127, -127);
	move_expect(f, 1, 128, 745, 128, -128);
	/* Diagonal: one axis needs more steps than the other. */
	move_expect(f, 1, 1128, 445, 1000, -300);
	move_expect(f, 1, 828, 1445, -300, 1000);
	move_expect(f, 1, 829, 1445, 1, 0);
	f->cap.n = 0;
	move_expect(f, 1, 4000, 4000, 4000 - 829, 4000 - 1445);
	/* Each report is the longer axis' full step but the last. */
	for (int i = 0; i + 1 < f->cap.n; i++)
		assert_int_equal((int8_t)f->cap.r[i].buf[1], HID_REL_MAX);

	/* Motion without positions, as it is given. */
	long dx, dy;
	f->cap.n = 0;
	assert_int_equal(hid_mouse_move(f->h, 1, -300, 1000, 0), 0);
	sum_mouse(&f->cap, 0, &dx, &dy);
	assert_int_equal(dx, -300);
	assert_int_equal(dy, 1000);
	assert_int_equal(f->cap.n, 8);
	f->cap.n = 0;
	assert_int_equal(hid_mouse_move(f->h, 1, -127, 127, 0), 0);
	assert_int_equal(f->cap.n, 1);
	expect_mouse(&f->cap, 0, 0, -127, 127, 0, 0);
}

/* Moves viewer 1 by d, n times, checking after each move that the target
 * moved trunc(total * num / den) in all. */
static void scaled_run(struct fixture *f, int num, int den, int d, int n)
{
	long dx, dy;
	int x = 2000, y = 2000;

	/* The scale is set after the move to the start, which clears the
	 * remainder that move left. */
	hid_pointer(f->h, 1, x, y, BIG, BIG, 0);
	assert_int_equal(hid_set_relative_scale(f->h, num, den), 0);
	f->cap.n = 0;
	for (int k = 1; k <= n; k++) {
		x += d;
		y -= d;
		assert_int_equal(hid_pointer(f->h, 1, x, y, BIG, BIG, 0), 0);
		sum_mouse(&f->cap, 0, &dx, &dy);
		long want = (long)k * d * num / den;	/* C division truncates */
		assert_int_equal(dx, want);
		assert_int_equal(dy, -want);
	}
}

static void test_rel_scale(void **state)
{
	struct fixture *f = *state;

	set_relative(f);
	assert_int_equal(hid_set_relative_scale(f->h, 0, 1), HID_EINVAL);
	assert_int_equal(hid_set_relative_scale(f->h, 1, 0), HID_EINVAL);
	assert_int_equal(hid_set_relative_scale(f->h, 1001, 1), HID_EINVAL);
	assert_int_equal(hid_set_relative_scale(f->h, 1, 1001), HID_EINVAL);
	assert_int_equal(hid_set_relative_scale(NULL, 1, 1), HID_EINVAL);

	/* 30 moves of 1 px at 1/3 are 10 px, however they are cut. */
	scaled_run(f, 1, 3, 1, 30);
	assert_int_equal(f->cap.n, 10);
	scaled_run(f, 1, 3, -1, 30);
	scaled_run(f, 3, 2, 1, 41);
	scaled_run(f, 3, 2, -1, 41);
	scaled_run(f, 7, 5, 3, 40);
	scaled_run(f, 1000, 1, 1, 3);
	scaled_run(f, 1, 1000, 7, 300);

	/* Back and forth: the scale's remainder is never more than one
	 * target pixel away from the exact motion. */
	assert_int_equal(hid_set_relative_scale(f->h, 2, 3), 0);
	int x = 2000;
	long total = 0, dx, dy;
	hid_pointer(f->h, 1, x, 0, BIG, BIG, 0);
	f->cap.n = 0;
	for (int k = 0; k < 60; k++) {
		int d = (int)(rng() % 21) - 10;
		x += d;
		total += d;
		hid_pointer(f->h, 1, x, 0, BIG, BIG, 0);
		sum_mouse(&f->cap, 0, &dx, &dy);
		assert_true(labs(dx * 3 - total * 2) < 3);
		assert_int_equal(dy, 0);
	}
}

static void test_rel_buttons_wheel(void **state)
{
	struct fixture *f = *state;

	set_relative(f);
	hid_pointer(f->h, 1, 10, 10, BIG, BIG, 0);
	f->cap.n = 0;
	hid_pointer(f->h, 1, 10, 10, BIG, BIG, WK_BTN_LEFT);	/* left */
	hid_pointer(f->h, 1, 12, 10, BIG, BIG, WK_BTN_LEFT | WK_BTN_RIGHT);	/* + right, moved */
	hid_pointer(f->h, 1, 12, 10, BIG, BIG, WK_BTN_LEFT | WK_BTN_RIGHT | WK_WHEEL_UP);	/* wheel up */
	hid_pointer(f->h, 1, 12, 10, BIG, BIG, WK_BTN_LEFT | WK_BTN_RIGHT);	/* wheel up released */
	hid_pointer(f->h, 1, 12, 10, BIG, BIG, WK_BTN_LEFT | WK_BTN_RIGHT | WK_WHEEL_DOWN);	/* wheel down */
	hid_pointer(f->h, 1, 12, 10, BIG, BIG, WK_BTN_LEFT | WK_BTN_RIGHT | WK_WHEEL_RIGHT);	/* pan right */
	hid_pointer(f->h, 1, 12, 10, BIG, BIG, WK_BTN_LEFT | WK_BTN_RIGHT | WK_WHEEL_LEFT);	/* pan left */
	hid_pointer(f->h, 1, 12, 10, BIG, BIG, WK_BTN_MIDDLE | WK_BTN_BACK | WK_BTN_FORWARD);	/* middle, back, forward */
	hid_pointer(f->h, 1, 12, 10, BIG, BIG, 0);
	assert_int_equal(f->cap.n, 8);
	expect_mouse(&f->cap, 0, 0x01, 0, 0, 0, 0);
	expect_mouse(&f->cap, 1, 0x03, 2, 0, 0, 0);
	expect_mouse(&f->cap, 2, 0x03, 0, 0, 1, 0);
	expect_mouse(&f->cap, 3, 0x03, 0, 0, -1, 0);
	expect_mouse(&f->cap, 4, 0x03, 0, 0, 0, 1);
	expect_mouse(&f->cap, 5, 0x03, 0, 0, 0, -1);
	expect_mouse(&f->cap, 6, 0x1c, 0, 0, 0, 0);
	expect_mouse(&f->cap, 7, 0x00, 0, 0, 0, 0);

	/* A wheel step with a long move goes once, with the first report. */
	f->cap.n = 0;
	hid_pointer(f->h, 1, 512, 10, BIG, BIG, WK_WHEEL_UP);
	assert_int_equal(f->cap.n, 4);
	expect_mouse(&f->cap, 0, 0, HID_REL_MAX, 0, 1, 0);
	for (int i = 1; i < f->cap.n; i++)
		assert_int_equal(f->cap.r[i].buf[3], 0);

	/* Two viewers: the target sees the union of their buttons. */
	f->cap.n = 0;
	hid_pointer(f->h, 2, 50, 50, BIG, BIG, WK_BTN_RIGHT);
	hid_pointer(f->h, 1, 512, 10, BIG, BIG, WK_BTN_LEFT);
	hid_pointer(f->h, 2, 50, 50, BIG, BIG, 0);
	assert_int_equal(f->cap.n, 3);
	expect_mouse(&f->cap, 0, 0x02, 0, 0, 0, 0);
	expect_mouse(&f->cap, 1, 0x03, 0, 0, 0, 0);
	expect_mouse(&f->cap, 2, 0x01, 0, 0, 0, 0);

	/* hid_mouse_move takes buttons too. */
	f->cap.n = 0;
	assert_int_equal(hid_mouse_move(f->h, 3, 0, 0, WK_BTN_MIDDLE), 0);
	assert_int_equal(f->cap.n, 1);
	expect_mouse(&f->cap, 0, 0x05, 0, 0, 0, 0);
}

static void test_rel_mode_switch_lifts_buttons(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(hid_set_pointer_mode(f->h, (enum hid_pointer_mode)2), HID_EINVAL);
	assert_int_equal(hid_set_pointer_mode(NULL, HID_POINTER_RELATIVE), HID_EINVAL);

	/* Left held on the tablet; switching lets it go there. */
	hid_pointer(f->h, 1, 3, 4, 10, 10, WK_BTN_LEFT);
	assert_int_equal(f->cap.n, 1);
	expect_ptr(&f->cap, 0, 0x01, 3 * 32767 / 9, 4 * 32767 / 9, 0, 0);
	set_relative(f);
	assert_int_equal(f->cap.n, 2);
	expect_ptr(&f->cap, 1, 0x00, 3 * 32767 / 9, 4 * 32767 / 9, 0, 0);
	/* Setting the same mode again changes nothing. */
	set_relative(f);
	assert_int_equal(f->cap.n, 2);

	/* Right held on the mouse; switching back lets it go there. */
	f->cap.n = 0;
	hid_pointer(f->h, 1, 3, 4, 10, 10, WK_BTN_RIGHT);
	assert_int_equal(f->cap.n, 1);
	expect_mouse(&f->cap, 0, 0x02, 0, 0, 0, 0);
	assert_int_equal(hid_set_pointer_mode(f->h, HID_POINTER_ABSOLUTE), 0);
	assert_int_equal(f->cap.n, 2);
	expect_mouse(&f->cap, 1, 0x00, 0, 0, 0, 0);

	/* Nothing held: a switch sends nothing. */
	f->cap.n = 0;
	hid_pointer(f->h, 1, 3, 4, 10, 10, 0);
	int n = f->cap.n;
	set_relative(f);
	assert_int_equal(f->cap.n, n);

	/* After a switch the next position is a new base, not a jump from
	 * where the viewer was in the other mode. */
	move_expect(f, 1, 900, 900, 0, 0);
	move_expect(f, 1, 905, 890, 5, -10);
	/* The same after a round trip through absolute mode, where the
	 * viewer moved without motion. */
	assert_int_equal(hid_set_pointer_mode(f->h, HID_POINTER_ABSOLUTE), 0);
	hid_pointer(f->h, 1, 5, 5, 10, 10, 0);
	set_relative(f);
	f->cap.n = 0;
	move_expect(f, 1, 50, 60, 0, 0);
	move_expect(f, 1, 49, 60, -1, 0);
}

static void test_rel_viewers(void **state)
{
	struct fixture *f = *state;

	set_relative(f);
	hid_pointer(f->h, 1, 100, 100, BIG, BIG, 0);
	hid_pointer(f->h, 2, 3000, 3000, BIG, BIG, 0);
	f->cap.n = 0;
	for (int k = 1; k <= 20; k++) {
		move_expect(f, 1, 100 + 3 * k, 100, 3, 0);
		move_expect(f, 2, 3000, 3000 - 5 * k, 0, -5);
	}
	/* A viewer that left starts from a new base when it comes back. */
	assert_int_equal(hid_release(f->h, 2), 0);
	hid_pointer(f->h, 2, 10, 10, BIG, BIG, 0);
	move_expect(f, 2, 11, 10, 1, 0);
	/* The scale's remainders are per viewer too. */
	assert_int_equal(hid_set_relative_scale(f->h, 1, 2), 0);
	move_expect(f, 1, 161, 100, 0, 0);
	move_expect(f, 2, 12, 10, 0, 0);
	move_expect(f, 1, 162, 100, 1, 0);
	move_expect(f, 2, 13, 10, 1, 0);
}

static void test_rel_release(void **state)
{
	struct fixture *f = *state;

	set_relative(f);
	hid_pointer(f->h, 1, 10, 10, BIG, BIG, WK_BTN_LEFT);
	hid_pointer(f->h, 2, 10, 10, BIG, BIG, WK_BTN_RIGHT);
	f->cap.n = 0;
	assert_int_equal(hid_release(f->h, 1), 0);
	assert_int_equal(f->cap.n, 1);
	expect_mouse(&f->cap, 0, 0x02, 0, 0, 0, 0);
	assert_int_equal(hid_release(f->h, -1), 0);
	assert_int_equal(f->cap.n, 2);
	expect_mouse(&f->cap, 1, 0x00, 0, 0, 0, 0);
	/* Nothing held: nothing more to send. */
	assert_int_equal(hid_release(f->h, -1), 0);
	assert_int_equal(f->cap.n, 2);
}

static void test_ifaces_drop_pointer(void **state)
{
	struct fixture *f = *state;

	hid_set_ifaces(f->h, hid_profile_ifaces(HID_PROFILE_KEYBOARD));
	assert_int_equal(hid_pointer(f->h, 1, 5, 5, 10, 10, WK_BTN_LEFT), 0);
	set_relative(f);
	assert_int_equal(hid_pointer(f->h, 1, 5, 5, BIG, BIG, WK_BTN_LEFT), 0);
	assert_int_equal(hid_pointer(f->h, 1, 500, 5, BIG, BIG, WK_BTN_LEFT | WK_WHEEL_UP), 0);
	assert_int_equal(hid_mouse_move(f->h, 1, 300, 0, WK_BTN_LEFT), 0);
	assert_int_equal(f->cap.calls, 0);
	assert_int_equal(hid_release(f->h, -1), 0);
	assert_int_equal(f->cap.calls, 0);
	/* The keyboard is always there. */
	assert_int_equal(hid_key_xt(f->h, 1, 0x1e, true), 0);	/* a */
	assert_int_equal(f->cap.n, 1);
	expect_kbd(&f->cap, 0, 0, KEYS(0x04));
	assert_int_equal(hid_key_xt(f->h, 1, 0x1e, false), 0);
	expect_kbd(&f->cap, 1, 0, NULL);

	/* Keyboard + tablet: relative input is dropped, absolute goes. */
	hid_set_ifaces(f->h, hid_profile_ifaces(HID_PROFILE_ABSOLUTE));
	f->cap.n = 0;
	assert_int_equal(hid_pointer(f->h, 1, 600, 5, BIG, BIG, 0), 0);
	assert_int_equal(f->cap.n, 0);
	assert_int_equal(hid_set_pointer_mode(f->h, HID_POINTER_ABSOLUTE), 0);
	assert_int_equal(hid_pointer(f->h, 1, 5, 5, 11, 11, 0), 0);
	assert_int_equal(f->cap.n, 1);
	expect_ptr(&f->cap, 0, 0, HID_ABS_MAX / 2, HID_ABS_MAX / 2, 0, 0);

	/* Keyboard + mouse: absolute input is dropped. */
	hid_set_ifaces(f->h, hid_profile_ifaces(HID_PROFILE_RELATIVE));
	f->cap.n = 0;
	assert_int_equal(hid_pointer(f->h, 1, 1, 1, 11, 11, WK_BTN_LEFT), 0);
	assert_int_equal(f->cap.n, 0);

	/* A mask without the keyboard bit still has the keyboard. */
	hid_set_ifaces(f->h, 0);
	assert_int_equal(hid_key_xt(f->h, 1, 0x30, true), 0);	/* b */
	assert_int_equal(f->cap.n, 1);
	expect_kbd(&f->cap, 0, 0, KEYS(0x05));
	hid_key_xt(f->h, 1, 0x30, false);

	/* Positions seen while the mouse was gone are still the base: no
	 * jump when it comes back. */
	set_relative(f);
	hid_pointer(f->h, 1, 100, 100, BIG, BIG, 0);
	hid_pointer(f->h, 1, 900, 700, BIG, BIG, 0);
	hid_set_ifaces(f->h, hid_profile_ifaces(HID_PROFILE_FULL));
	f->cap.n = 0;
	move_expect(f, 1, 910, 700, 10, 0);
}

/* ---- mouse descriptor, report lengths, profiles ---- */

static void test_mouse_descriptor_layout(void **state)
{
	(void)state;
	struct hid_report_layout l;
	int bit;

	assert_int_equal(hid_parse_descriptor(hid_mouse_report_desc, hid_mouse_report_desc_len, &l), 0);
	assert_int_equal(l.input_bits, 40);
	assert_int_equal(l.input_bits, HID_MOUSE_REPORT_LEN * 8);
	assert_int_equal(l.output_bits, 0);

	/* Boot layout (HID 1.11 B.2): buttons in byte 0, bit n = button n+1. */
	for (int b = 1; b <= 5; b++) {
		const struct hid_field *f = find_usage(&l, false, 0x09, (uint16_t)b, &bit);
		assert_non_null(f);
		assert_int_equal(bit, b - 1);
		assert_int_equal(f->bit_size, 1);
		assert_true(f->variable);
	}
	assert_null(find_usage(&l, false, 0x09, 6, NULL));

	static const struct {
		uint16_t page, usage;
		int bit;
	} axes[] = {
		{ 0x01, 0x30, 8 },	/* X */
		{ 0x01, 0x31, 16 },	/* Y */
		{ 0x01, 0x38, 24 },	/* wheel */
		{ 0x0c, 0x238, 32 },	/* AC Pan */
	};
	for (size_t i = 0; i < sizeof(axes) / sizeof(axes[0]); i++) {
		const struct hid_field *f = find_usage(&l, false, axes[i].page, axes[i].usage, &bit);
		assert_non_null(f);
		assert_int_equal(bit, axes[i].bit);
		assert_int_equal(f->bit_size, 8);
		assert_int_equal(f->logical_min, -HID_REL_MAX);
		assert_int_equal(f->logical_max, HID_REL_MAX);
		assert_true(f->relative);
		assert_true(f->variable);
	}
	/* Bits 5..7 of byte 0 carry no usage. */
	for (int i = 0; i < l.n_fields; i++) {
		const struct hid_field *f = &l.fields[i];
		if (f->usage_page == 0x09)
			assert_true(f->bit_offset + f->bit_size * f->count <= 5);
	}
}

static void test_report_lengths(void **state)
{
	(void)state;
	static const struct {
		enum hid_iface iface;
		const uint8_t *desc;
		const size_t *len;
	} t[] = {
		{ HID_IFACE_KEYBOARD, hid_kbd_report_desc, &hid_kbd_report_desc_len },
		{ HID_IFACE_POINTER, hid_ptr_report_desc, &hid_ptr_report_desc_len },
		{ HID_IFACE_MOUSE, hid_mouse_report_desc, &hid_mouse_report_desc_len },
	};
	struct hid_report_layout l;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_int_equal(hid_parse_descriptor(t[i].desc, *t[i].len, &l), 0);
		assert_int_equal(hid_report_len(t[i].iface) * 8, (size_t)l.input_bits);
	}
	assert_int_equal(hid_report_len(HID_IFACE_KEYBOARD), HID_KBD_REPORT_LEN);
	assert_int_equal(hid_report_len(HID_IFACE_POINTER), HID_PTR_REPORT_LEN);
	assert_int_equal(hid_report_len(HID_IFACE_MOUSE), HID_MOUSE_REPORT_LEN);
	assert_int_equal(hid_report_len(HID_IFACE_COUNT), 0);
	assert_int_equal(hid_report_len((enum hid_iface)-1), 0);
}

static void test_profiles(void **state)
{
	(void)state;
	const unsigned K = 1u << HID_IFACE_KEYBOARD, P = 1u << HID_IFACE_POINTER, M = 1u << HID_IFACE_MOUSE;
	static const char *const names[HID_PROFILE_COUNT] = { "full", "absolute", "relative", "keyboard" };
	const unsigned masks[HID_PROFILE_COUNT] = { K | P | M, K | P, K | M, K };

	for (int p = 0; p < HID_PROFILE_COUNT; p++) {
		const char *name = hid_profile_name((enum hid_profile)p);
		assert_non_null(name);
		assert_string_equal(name, names[p]);
		assert_int_equal(hid_profile_find(name), p);
		assert_int_equal(hid_profile_ifaces((enum hid_profile)p), masks[p]);
	}
	assert_null(hid_profile_name(HID_PROFILE_COUNT));
	assert_null(hid_profile_name((enum hid_profile)-1));
	assert_int_equal(hid_profile_ifaces(HID_PROFILE_COUNT), 0);
	assert_int_equal(hid_profile_ifaces((enum hid_profile)-1), 0);
	assert_int_equal(hid_profile_find("bogus"), HID_EINVAL);
	assert_int_equal(hid_profile_find(""), HID_EINVAL);
	assert_int_equal(hid_profile_find("ful"), HID_EINVAL);
	assert_int_equal(hid_profile_find("full "), HID_EINVAL);
	assert_int_equal(hid_profile_find(NULL), HID_EINVAL);
}

static void log_nowhere(int level, const char *line)
{
	(void)level;
	(void)line;
}

int main(void)
{
	/* The malformed-input tests would fill the log. */
	wk_log_set_sink(log_nowhere);

	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kbd_descriptor_layout),
		cmocka_unit_test(test_ptr_descriptor_layout),
		cmocka_unit_test(test_descriptor_items),
		cmocka_unit_test(test_descriptor_malformed),
		cmocka_unit_test(test_descriptor_fuzz),
		cmocka_unit_test(test_xt_pc105),
		cmocka_unit_test(test_xt_extra_keys),
		cmocka_unit_test(test_xt_unique),
		cmocka_unit_test(test_modifier_bit),
		cmocka_unit_test(test_keysym_ascii),
		cmocka_unit_test(test_keysym_function_keys),
		cmocka_unit_test_setup_teardown(test_letter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shifted_letter_without_shift, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shift_held_then_letter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unshifted_char_under_shift, setup, teardown),
		cmocka_unit_test_setup_teardown(test_release_after_shift_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlapping_levels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_caps_lock_letters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_autorepeat, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollover, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_viewers_same_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_release_viewer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_release_ends_shift_override, setup, teardown),
		cmocka_unit_test_setup_teardown(test_xt_modifiers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unmapped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transport_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pointer_scaling, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pointer_buttons, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pointer_wheel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pointer_no_duplicates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_led_report, setup, teardown),
		cmocka_unit_test_setup_teardown(test_misc, setup, teardown),
		cmocka_unit_test(test_layout_names),
		cmocka_unit_test(test_layout_us_matches_table),
		cmocka_unit_test(test_layout_plan),
		cmocka_unit_test(test_layout_keysym_ucs),
		cmocka_unit_test_setup_teardown(test_layout_keysym_reports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rel_first_position, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rel_split, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rel_scale, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rel_buttons_wheel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rel_mode_switch_lifts_buttons, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rel_viewers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rel_release, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ifaces_drop_pointer, setup, teardown),
		cmocka_unit_test(test_mouse_descriptor_layout),
		cmocka_unit_test(test_report_lengths),
		cmocka_unit_test(test_profiles),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
