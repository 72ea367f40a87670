/* Report descriptors of the three interfaces, and a parser that checks what
 * a descriptor lays out (used by the tests, and safe on untrusted bytes). */
#include <stdint.h>
#include <string.h>

#include "hid/hid.h"
#include "hid/hid_int.h"

/* Boot keyboard.  The key array's Logical Maximum is 255 written on two
 * bytes: one byte 0xFF would be read as -1 (item data is signed), and the
 * array must reach the international and F13-F24 usages above 0x65 that
 * the 101-key boot descriptors cut off. */
const uint8_t hid_kbd_report_desc[] = {
	0x05, 0x01,		/* Usage Page (Generic Desktop) */
	0x09, 0x06,		/* Usage (Keyboard) */
	0xa1, 0x01,		/* Collection (Application) */
	0x05, 0x07,		/*   Usage Page (Keyboard/Keypad) */
	0x19, 0xe0,		/*   Usage Minimum (Left Control) */
	0x29, 0xe7,		/*   Usage Maximum (Right GUI) */
	0x15, 0x00,		/*   Logical Minimum (0) */
	0x25, 0x01,		/*   Logical Maximum (1) */
	0x75, 0x01,		/*   Report Size (1) */
	0x95, 0x08,		/*   Report Count (8) */
	0x81, 0x02,		/*   Input (Data, Variable, Absolute): modifiers */
	0x75, 0x08,		/*   Report Size (8) */
	0x95, 0x01,		/*   Report Count (1) */
	0x81, 0x01,		/*   Input (Constant): reserved byte */
	0x05, 0x08,		/*   Usage Page (LEDs) */
	0x19, 0x01,		/*   Usage Minimum (Num Lock) */
	0x29, 0x05,		/*   Usage Maximum (Kana) */
	0x75, 0x01,		/*   Report Size (1) */
	0x95, 0x05,		/*   Report Count (5) */
	0x91, 0x02,		/*   Output (Data, Variable, Absolute): LEDs */
	0x75, 0x03,		/*   Report Size (3) */
	0x95, 0x01,		/*   Report Count (1) */
	0x91, 0x01,		/*   Output (Constant): padding */
	0x05, 0x07,		/*   Usage Page (Keyboard/Keypad) */
	0x19, 0x00,		/*   Usage Minimum (0) */
	0x29, 0xff,		/*   Usage Maximum (255) */
	0x15, 0x00,		/*   Logical Minimum (0) */
	0x26, 0xff, 0x00,	/*   Logical Maximum (255) */
	0x75, 0x08,		/*   Report Size (8) */
	0x95, 0x06,		/*   Report Count (6) */
	0x81, 0x00,		/*   Input (Data, Array, Absolute): keys */
	0xc0,			/* End Collection */
};
const size_t hid_kbd_report_desc_len = sizeof(hid_kbd_report_desc);

/* The start both pointers share: a Generic Desktop/Mouse application
 * collection, five buttons in the first byte, then the X and Y usages. */
#define MOUSE_BUTTONS_THEN_XY \
	0x05, 0x01,		/* Usage Page (Generic Desktop) */ \
	0x09, 0x02,		/* Usage (Mouse) */ \
	0xa1, 0x01,		/* Collection (Application) */ \
	0x09, 0x01,		/*   Usage (Pointer) */ \
	0xa1, 0x00,		/*   Collection (Physical) */ \
	0x05, 0x09,		/*     Usage Page (Button) */ \
	0x19, 0x01,		/*     Usage Minimum (1) */ \
	0x29, 0x05,		/*     Usage Maximum (5) */ \
	0x15, 0x00,		/*     Logical Minimum (0) */ \
	0x25, 0x01,		/*     Logical Maximum (1) */ \
	0x75, 0x01,		/*     Report Size (1) */ \
	0x95, 0x05,		/*     Report Count (5) */ \
	0x81, 0x02,		/*     Input (Data, Variable, Absolute): buttons */ \
	0x75, 0x03,		/*     Report Size (3) */ \
	0x95, 0x01,		/*     Report Count (1) */ \
	0x81, 0x01,		/*     Input (Constant): padding */ \
	0x05, 0x01,		/*     Usage Page (Generic Desktop) */ \
	0x09, 0x30,		/*     Usage (X) */ \
	0x09, 0x31		/*     Usage (Y) */

/* Absolute pointer, the layout documented in hid.h.  Generic Desktop/Mouse
 * with absolute X/Y is what BIOS setup screens, Windows, macOS and Linux all
 * accept without a driver; a touch screen or tablet collection is not. */
const uint8_t hid_ptr_report_desc[] = {
	MOUSE_BUTTONS_THEN_XY,
	0x15, 0x00,		/*     Logical Minimum (0) */
	0x26, 0xff, 0x7f,	/*     Logical Maximum (32767) */
	0x75, 0x10,		/*     Report Size (16) */
	0x95, 0x02,		/*     Report Count (2) */
	0x81, 0x02,		/*     Input (Data, Variable, Absolute): X, Y */
	0x09, 0x38,		/*     Usage (Wheel) */
	0x15, 0x81,		/*     Logical Minimum (-127) */
	0x25, 0x7f,		/*     Logical Maximum (127) */
	0x75, 0x08,		/*     Report Size (8) */
	0x95, 0x01,		/*     Report Count (1) */
	0x81, 0x06,		/*     Input (Data, Variable, Relative): wheel */
	0x05, 0x0c,		/*     Usage Page (Consumer) */
	0x0a, 0x38, 0x02,	/*     Usage (AC Pan) */
	0x81, 0x06,		/*     Input (Data, Variable, Relative): pan */
	0xc0,			/*   End Collection */
	0xc0,			/* End Collection */
};
const size_t hid_ptr_report_desc_len = sizeof(hid_ptr_report_desc);

/* Relative mouse, the layout documented in hid.h.  Buttons, X and Y come
 * first in the boot mouse's own layout (HID 1.11 appendix B.2), so the
 * same bytes serve the boot protocol, which a BIOS reads without parsing
 * this descriptor, and the report protocol, which an OS reads with it. */
const uint8_t hid_mouse_report_desc[] = {
	MOUSE_BUTTONS_THEN_XY,
	0x09, 0x38,		/*     Usage (Wheel) */
	0x15, 0x81,		/*     Logical Minimum (-127) */
	0x25, 0x7f,		/*     Logical Maximum (127) */
	0x75, 0x08,		/*     Report Size (8) */
	0x95, 0x03,		/*     Report Count (3) */
	0x81, 0x06,		/*     Input (Data, Variable, Relative): X, Y, wheel */
	0x05, 0x0c,		/*     Usage Page (Consumer) */
	0x0a, 0x38, 0x02,	/*     Usage (AC Pan) */
	0x95, 0x01,		/*     Report Count (1) */
	0x81, 0x06,		/*     Input (Data, Variable, Relative): pan */
	0xc0,			/*   End Collection */
	0xc0,			/* End Collection */
};
const size_t hid_mouse_report_desc_len = sizeof(hid_mouse_report_desc);

size_t hid_report_len(enum hid_iface iface)
{
	switch (iface) {
	case HID_IFACE_KEYBOARD:
		return HID_KBD_REPORT_LEN;
	case HID_IFACE_POINTER:
		return HID_PTR_REPORT_LEN;
	case HID_IFACE_MOUSE:
		return HID_MOUSE_REPORT_LEN;
	default:
		return 0;
	}
}

static const char *const profile_names[HID_PROFILE_COUNT] = {
	"full", "absolute", "relative", "keyboard",
};

unsigned hid_profile_ifaces(enum hid_profile p)
{
	static const unsigned masks[HID_PROFILE_COUNT] = {
		1u << HID_IFACE_KEYBOARD | 1u << HID_IFACE_POINTER | 1u << HID_IFACE_MOUSE,
		1u << HID_IFACE_KEYBOARD | 1u << HID_IFACE_POINTER,
		1u << HID_IFACE_KEYBOARD | 1u << HID_IFACE_MOUSE,
		1u << HID_IFACE_KEYBOARD,
	};

	return (unsigned)p < HID_PROFILE_COUNT ? masks[p] : 0;
}

const char *hid_profile_name(enum hid_profile p)
{
	return (unsigned)p < HID_PROFILE_COUNT ? profile_names[p] : NULL;
}

int hid_profile_find(const char *name)
{
	for (int i = 0; name && i < HID_PROFILE_COUNT; i++)
		if (strcmp(name, profile_names[i]) == 0)
			return i;
	return HID_EINVAL;
}

/* ---- parser ---- */

/* Bounds that keep every sum below INT_MAX and match what Linux's HID core
 * accepts (HID_MAX_BUFFER_SIZE, report size <= 256). */
#define DESC_MAX_DEPTH		32
#define DESC_MAX_USAGES		64
#define DESC_MAX_REPORT_SIZE	256
#define DESC_MAX_REPORT_BITS	(16384 * 8)

enum { ITEM_MAIN = 0, ITEM_GLOBAL = 1, ITEM_LOCAL = 2, ITEM_RESERVED = 3 };

enum {
	MAIN_INPUT = 0x8, MAIN_OUTPUT = 0x9, MAIN_COLLECTION = 0xa,
	MAIN_FEATURE = 0xb, MAIN_END_COLLECTION = 0xc,
};

enum {
	GLOBAL_USAGE_PAGE = 0x0, GLOBAL_LOGICAL_MIN = 0x1, GLOBAL_LOGICAL_MAX = 0x2,
	GLOBAL_PHYSICAL_MIN = 0x3, GLOBAL_PHYSICAL_MAX = 0x4,
	GLOBAL_UNIT_EXPONENT = 0x5, GLOBAL_UNIT = 0x6, GLOBAL_REPORT_SIZE = 0x7,
	GLOBAL_REPORT_ID = 0x8, GLOBAL_REPORT_COUNT = 0x9,
	GLOBAL_PUSH = 0xa, GLOBAL_POP = 0xb,
};

enum {
	LOCAL_USAGE = 0x0, LOCAL_USAGE_MIN = 0x1, LOCAL_USAGE_MAX = 0x2,
	LOCAL_DESIGNATOR_INDEX = 0x3, LOCAL_DESIGNATOR_MIN = 0x4,
	LOCAL_DESIGNATOR_MAX = 0x5, LOCAL_STRING_INDEX = 0x7,
	LOCAL_STRING_MIN = 0x8, LOCAL_STRING_MAX = 0x9, LOCAL_DELIMITER = 0xa,
};

#define MAIN_FLAG_CONSTANT	0x01
#define MAIN_FLAG_VARIABLE	0x02
#define MAIN_FLAG_RELATIVE	0x04

/* A run of usages from Usage or Usage Minimum/Maximum.  page 0 means "the
 * Usage Page in force at the main item", as a 1- or 2-byte usage does. */
struct usage_range {
	uint16_t page;
	uint16_t min, max;
};

struct parser {
	/* global */
	uint16_t usage_page;
	int32_t logical_min, logical_max;
	uint32_t report_size, report_count;
	/* local, cleared by each main item */
	struct usage_range usages[DESC_MAX_USAGES];
	int n_usages;
	bool have_usage_min;
	uint16_t usage_min_page, usage_min;
	/* main */
	int depth;
	int feature_bits;
	int n_main;
	struct hid_report_layout *out;
};

static int add_usage_range(struct parser *p, uint16_t page, uint16_t min, uint16_t max)
{
	if (p->n_usages >= DESC_MAX_USAGES) {
		hid__log(WK_LOG_DEBUG, "descriptor: more than %d usages on one item", DESC_MAX_USAGES);
		return HID_EINVAL;
	}
	p->usages[p->n_usages++] = (struct usage_range){ page, min, max };
	return 0;
}

static int local_item(struct parser *p, int tag, int size, uint32_t udata)
{
	/* A 4-byte usage carries its own page in the high half (extended usage). */
	uint16_t page = size == 4 ? (uint16_t)(udata >> 16) : 0;
	uint16_t id = (uint16_t)(size == 4 ? udata & 0xffff : udata);

	switch (tag) {
	case LOCAL_USAGE:
		return add_usage_range(p, page, id, id);
	case LOCAL_USAGE_MIN:
		if (p->have_usage_min)
			return HID_EINVAL;	/* two minimums, no maximum between */
		p->have_usage_min = true;
		p->usage_min_page = page;
		p->usage_min = id;
		return 0;
	case LOCAL_USAGE_MAX:
		if (!p->have_usage_min || p->usage_min_page != page || id < p->usage_min)
			return HID_EINVAL;
		p->have_usage_min = false;
		return add_usage_range(p, page, p->usage_min, id);
	case LOCAL_DESIGNATOR_INDEX:
	case LOCAL_DESIGNATOR_MIN:
	case LOCAL_DESIGNATOR_MAX:
	case LOCAL_STRING_INDEX:
	case LOCAL_STRING_MIN:
	case LOCAL_STRING_MAX:
		return 0;	/* no bearing on the layout */
	default:
		/* Delimiter sets (alternative usages) are not needed by any
		 * descriptor this module produces. */
		return HID_EINVAL;
	}
}

static int global_item(struct parser *p, int tag, uint32_t udata, int32_t sdata)
{
	switch (tag) {
	case GLOBAL_USAGE_PAGE:
		if (udata > 0xffff)
			return HID_EINVAL;
		p->usage_page = (uint16_t)udata;
		return 0;
	case GLOBAL_LOGICAL_MIN:
		p->logical_min = sdata;
		return 0;
	case GLOBAL_LOGICAL_MAX:
		p->logical_max = sdata;
		return 0;
	case GLOBAL_PHYSICAL_MIN:
	case GLOBAL_PHYSICAL_MAX:
	case GLOBAL_UNIT_EXPONENT:
	case GLOBAL_UNIT:
		return 0;
	case GLOBAL_REPORT_SIZE:
		if (udata > DESC_MAX_REPORT_SIZE)
			return HID_EINVAL;
		p->report_size = udata;
		return 0;
	case GLOBAL_REPORT_COUNT:
		if (udata > DESC_MAX_REPORT_BITS)
			return HID_EINVAL;
		p->report_count = udata;
		return 0;
	default:
		/* Report IDs would make several reports, and the layout holds
		 * one input and one output report; Push/Pop are not used here. */
		return HID_EINVAL;
	}
}

static int add_field(struct parser *p, bool output, uint16_t page, uint16_t umin, uint16_t umax,
		     int bit_offset, int count, uint32_t flags)
{
	struct hid_report_layout *out = p->out;
	int max = (int)(sizeof(out->fields) / sizeof(out->fields[0]));

	if (out->n_fields >= max) {
		hid__log(WK_LOG_DEBUG, "descriptor: more than %d fields", max);
		return HID_EINVAL;
	}
	out->fields[out->n_fields++] = (struct hid_field){
		.usage_page = page,
		.usage_min = umin,
		.usage_max = umax,
		.bit_offset = bit_offset,
		.bit_size = (int)p->report_size,
		.count = count,
		.logical_min = p->logical_min,
		.logical_max = p->logical_max,
		.output = output,
		.relative = (flags & MAIN_FLAG_RELATIVE) != 0,
		.variable = (flags & MAIN_FLAG_VARIABLE) != 0,
	};
	return 0;
}

/* A variable item gives each report slot its own usage.  Slots whose usages
 * follow each other on one page become one field, so the keyboard's eight
 * modifier bits read as one field of count 8 and X,Y as one of count 2.
 * Slots beyond the last usage repeat it, as the HID spec says. */
static int add_variable_fields(struct parser *p, bool output, int bit_offset, uint32_t flags)
{
	int size = (int)p->report_size;
	int count = (int)p->report_count;
	int slot = 0;
	int first = p->out->n_fields;
	uint16_t last_page = p->usage_page, last_usage = 0;

	for (int i = 0; i < p->n_usages && slot < count; i++) {
		const struct usage_range *r = &p->usages[i];
		uint16_t page = r->page ? r->page : p->usage_page;
		int take = (int)r->max - (int)r->min + 1;

		if (take > count - slot)
			take = count - slot;
		struct hid_field *prev = p->out->n_fields > first ? &p->out->fields[p->out->n_fields - 1] : NULL;
		if (prev && prev->usage_page == page && (uint32_t)prev->usage_max + 1 == r->min) {
			prev->usage_max = (uint16_t)(r->min + take - 1);
			prev->count += take;
		} else {
			int rc = add_field(p, output, page, r->min, (uint16_t)(r->min + take - 1),
					   bit_offset + slot * size, take, flags);
			if (rc < 0)
				return rc;
		}
		slot += take;
		last_page = page;
		last_usage = (uint16_t)(r->min + take - 1);
	}
	if (slot < count)
		return add_field(p, output, last_page, last_usage, last_usage,
				 bit_offset + slot * size, count - slot, flags);
	return 0;
}

/* An array item's slots each hold one usage index out of the listed ones. */
static int add_array_field(struct parser *p, bool output, int bit_offset, uint32_t flags)
{
	uint16_t page = p->usage_page, umin = 0, umax = 0;

	if (p->n_usages > 0) {
		page = p->usages[0].page ? p->usages[0].page : p->usage_page;
		umin = p->usages[0].min;
		umax = p->usages[0].max;
		for (int i = 1; i < p->n_usages; i++) {
			if (p->usages[i].min < umin)
				umin = p->usages[i].min;
			if (p->usages[i].max > umax)
				umax = p->usages[i].max;
		}
	}
	return add_field(p, output, page, umin, umax, bit_offset, (int)p->report_count, flags);
}

static int report_item(struct parser *p, int tag, uint32_t flags)
{
	int *total = tag == MAIN_INPUT ? &p->out->input_bits
		   : tag == MAIN_OUTPUT ? &p->out->output_bits : &p->feature_bits;
	/* Both factors are bounded above, so this product fits in 64 bits. */
	uint64_t bits = (uint64_t)p->report_size * p->report_count;

	if (p->logical_min > p->logical_max) {
		hid__log(WK_LOG_DEBUG, "descriptor: logical minimum %d above maximum %d",
			 (int)p->logical_min, (int)p->logical_max);
		return HID_EINVAL;
	}
	if (bits > (uint64_t)(DESC_MAX_REPORT_BITS - *total)) {
		hid__log(WK_LOG_DEBUG, "descriptor: report longer than %d bits", DESC_MAX_REPORT_BITS);
		return HID_EINVAL;
	}
	int offset = *total;
	*total += (int)bits;
	p->n_main++;

	/* Padding needs no field; feature reports have no place in the layout. */
	if ((flags & MAIN_FLAG_CONSTANT) || tag == MAIN_FEATURE || bits == 0)
		return 0;
	bool output = tag == MAIN_OUTPUT;
	if (flags & MAIN_FLAG_VARIABLE)
		return add_variable_fields(p, output, offset, flags);
	return add_array_field(p, output, offset, flags);
}

static int main_item(struct parser *p, int tag, uint32_t udata)
{
	int rc;

	if (p->have_usage_min)
		return HID_EINVAL;	/* Usage Minimum left without its Maximum */
	switch (tag) {
	case MAIN_INPUT:
	case MAIN_OUTPUT:
	case MAIN_FEATURE:
		rc = report_item(p, tag, udata);
		break;
	case MAIN_COLLECTION:
		if (p->depth >= DESC_MAX_DEPTH)
			return HID_EINVAL;
		p->depth++;
		rc = 0;
		break;
	case MAIN_END_COLLECTION:
		if (p->depth == 0) {
			hid__log(WK_LOG_DEBUG, "descriptor: End Collection without Collection");
			return HID_EINVAL;
		}
		p->depth--;
		rc = 0;
		break;
	default:
		return HID_EINVAL;
	}
	p->n_usages = 0;
	return rc;
}

int hid_parse_descriptor(const uint8_t *desc, size_t len, struct hid_report_layout *out)
{
	struct parser p = { .out = out };
	size_t i = 0;
	int rc = 0;

	if (!out)
		return HID_EINVAL;
	memset(out, 0, sizeof(*out));
	if (!desc || len == 0)
		return HID_EINVAL;

	while (i < len) {
		uint8_t prefix = desc[i++];
		/* 0xFE opens a long item; none are defined by the spec. */
		if (prefix == 0xfe) {
			hid__log(WK_LOG_DEBUG, "descriptor: long item at byte %zu", i - 1);
			rc = HID_EINVAL;
			goto out;
		}
		int size = prefix & 0x3;
		if (size == 3)
			size = 4;
		int type = (prefix >> 2) & 0x3;
		int tag = prefix >> 4;
		if ((size_t)size > len - i) {
			hid__log(WK_LOG_DEBUG, "descriptor: item at byte %zu truncated", i - 1);
			rc = HID_EINVAL;
			goto out;
		}
		uint32_t udata = 0;
		for (int b = 0; b < size; b++)
			udata |= (uint32_t)desc[i + b] << (8 * b);
		i += size;
		int32_t sdata;
		if (size == 1)
			sdata = (int8_t)udata;
		else if (size == 2)
			sdata = (int16_t)udata;
		else
			sdata = (int32_t)udata;

		switch (type) {
		case ITEM_MAIN:
			rc = main_item(&p, tag, udata);
			break;
		case ITEM_GLOBAL:
			rc = global_item(&p, tag, udata, sdata);
			break;
		case ITEM_LOCAL:
			rc = local_item(&p, tag, size, udata);
			break;
		default:
			rc = HID_EINVAL;
			break;
		}
		if (rc < 0) {
			hid__log(WK_LOG_DEBUG, "descriptor: bad item 0x%02x at byte %zu",
				 prefix, i - 1 - (size_t)size);
			goto out;
		}
	}
	if (p.depth != 0) {
		hid__log(WK_LOG_DEBUG, "descriptor: %d collection(s) left open", p.depth);
		rc = HID_EINVAL;
	} else if (p.n_main == 0) {
		hid__log(WK_LOG_DEBUG, "descriptor: no Input, Output or Feature item");
		rc = HID_EINVAL;
	}
out:
	if (rc < 0) {
		memset(out, 0, sizeof(*out));
		return HID_EINVAL;
	}
	return 0;
}
