/* Keyboard layouts: which key and level types a keysym on the target, and
 * what a key types there.
 *
 * The tables come from Debian's xkb-data, converted at build time by
 * hid/xkb2c.py; the same tables serve the keysym path (hid.c), the paste
 * check (hid_layout_plan) and the virtual target's decoding (board/sim), so
 * what is typed and what is read back can only disagree where the data
 * does. */
#include <stdlib.h>
#include <strings.h>

#include "hid/hid.h"
#include "hid/hid_int.h"

/* Generated from xkb-data; build/gen is on the include path. */
#include "layouts.c"

#define XK_ISO_LEVEL3_SHIFT	0xfe03u
#define XK_ISO_LEFT_TAB		0xfe20u
#define XK_DEAD_FIRST		0xfe50u
#define XK_DEAD_LAST		0xfe8fu
#define XK_UNICODE_BASE		0x01000000u
#define UCS_MAX			0x10ffffu

/* Extra keys of ISO, JIS and ABNT boards: a host set up for another
 * keyboard may give them other characters, so a character on the main
 * block is typed there even when it takes more modifiers. */
static bool extra_key(uint8_t usage)
{
	return usage == 0x64 || usage == 0x87 || usage == 0x89;
}

static const struct hid__layout *layout_get(int layout)
{
	if (layout < 0 || (size_t)layout >= hid__n_layouts)
		return NULL;
	return &hid__layouts[layout];
}

int hid_layout_count(void)
{
	return (int)hid__n_layouts;
}

int hid_layout_find(const char *name)
{
	if (!name)
		return HID_EINVAL;
	for (size_t i = 0; i < hid__n_layouts; i++)
		if (!strcasecmp(name, hid__layouts[i].name))
			return (int)i;
	return HID_EINVAL;
}

const char *hid_layout_name(int layout)
{
	const struct hid__layout *l = layout_get(layout);

	return l ? l->name : NULL;
}

bool hid_layout_has_altgr(int layout)
{
	const struct hid__layout *l = layout_get(layout);

	return l && l->altgr;
}

bool hid_keysym_is_dead(uint32_t keysym)
{
	return keysym >= XK_DEAD_FIRST && keysym <= XK_DEAD_LAST;
}

static int cmp_keysym_ucs(const void *key, const void *elem)
{
	uint32_t k = *(const uint32_t *)key;
	const struct hid__keysym_ucs *e = elem;

	return k < e->keysym ? -1 : k > e->keysym;
}

uint32_t hid_keysym_to_ucs(uint32_t keysym)
{
	if ((keysym >= 0x20 && keysym <= 0x7e) || (keysym >= 0xa0 && keysym <= 0xff))
		return keysym;
	if (keysym >= XK_UNICODE_BASE) {
		uint32_t cp = keysym - XK_UNICODE_BASE;
		/* Control characters are keys (Return, Tab), not text. */
		if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || cp > UCS_MAX)
			return 0;
		return cp;
	}
	const struct hid__keysym_ucs *e = bsearch(&keysym, hid__keysym_ucs, hid__n_keysym_ucs,
						  sizeof(*e), cmp_keysym_ucs);
	return e ? e->ucs : 0;
}

uint32_t hid_keysym_from_ucs(uint32_t cp)
{
	switch (cp) {
	case '\n':
		return 0xff0d;	/* Return */
	case '\t':
		return 0xff09;	/* Tab */
	case 0x08:
		return 0xff08;	/* BackSpace */
	case 0x1b:
		return 0xff1b;	/* Escape */
	}
	if ((cp >= 0x20 && cp <= 0x7e) || (cp >= 0xa0 && cp <= 0xff))
		return cp;
	if (cp < 0xa0 || cp > UCS_MAX)
		return 0;
	return XK_UNICODE_BASE + cp;
}

uint32_t hid_compose(uint32_t dead_keysym, uint32_t cp)
{
	for (size_t i = 0; i < hid__n_compose; i++)
		if (hid__compose[i].dead == dead_keysym && hid__compose[i].base == cp)
			return hid__compose[i].result;
	return 0;
}

static const struct hid__layout_key *key_of_usage(const struct hid__layout *l, uint8_t usage)
{
	for (size_t i = 0; i < l->n_keys; i++)
		if (l->keys[i].usage == usage)
			return &l->keys[i];
	return NULL;
}

/* Level 0..3 a key gives with these modifiers, as XKB's key types do:
 * one-level keys ignore everything, two-level keys ignore AltGr, and Caps
 * Lock turns over the Shift of the level pairs that are letter pairs. */
static int key_level(const struct hid__layout_key *k, bool shift, bool altgr, bool caps)
{
	if (k->width <= 1)
		return 0;
	if (k->width <= 2)
		altgr = false;
	if (caps && (k->caps & (altgr ? 2 : 1)))
		shift = !shift;
	return (altgr ? 2 : 0) + (shift ? 1 : 0);
}

uint32_t hid_layout_keysym(int layout, uint8_t usage, bool shift, bool altgr, bool caps)
{
	const struct hid__layout *l = layout_get(layout);
	const struct hid__layout_key *k = l ? key_of_usage(l, usage) : NULL;

	if (!k)
		return 0;
	return k->sym[key_level(k, shift, altgr && l->altgr, caps)];
}

static struct hid_stroke key_stroke(const struct hid__layout_key *k, int level, uint32_t keysym)
{
	return (struct hid_stroke){
		.usage = k->usage,
		.mods = (uint8_t)((level & 1 ? HID_MOD_LSHIFT : 0) | (level & 2 ? HID_MOD_RALT : 0)),
		.any_mods = false,
		.caps = (k->caps & (level >= 2 ? 2 : 1)) != 0,
		.keysym = keysym,
	};
}

/* The key and level typing keysym (matched by character when it has one,
 * so any keysym spelling of a character works); false when none does. */
static bool find_direct(const struct hid__layout *l, uint32_t keysym, uint32_t ucs,
			struct hid_stroke *out)
{
	int levels = l->altgr ? 4 : 2;

	for (int extra = 0; extra < 2; extra++) {
		for (int lv = 0; lv < levels; lv++) {
			for (size_t i = 0; i < l->n_keys; i++) {
				const struct hid__layout_key *k = &l->keys[i];
				if (extra_key(k->usage) != (extra == 1) || lv >= k->width)
					continue;
				bool hit = ucs ? k->ucs[lv] == ucs : k->sym[lv] == keysym;
				if (hit && k->sym[lv]) {
					*out = key_stroke(k, lv, keysym);
					return true;
				}
			}
		}
	}
	return false;
}

int hid_layout_plan(int layout, uint32_t keysym, struct hid_stroke *out, int max)
{
	const struct hid__layout *l = layout_get(layout);

	if (!l || !out || max < 1)
		return HID_EINVAL;

	/* Keys without a character are the same on every layout. */
	if ((keysym >= 0xff00 && keysym <= 0xffff) || keysym == XK_ISO_LEVEL3_SHIFT ||
	    keysym == XK_ISO_LEFT_TAB) {
		enum hid__shift sh;
		uint8_t usage = hid__keysym_lookup(keysym, &sh, NULL);
		if (!usage)
			return HID_EUNMAPPED;
		out[0] = (struct hid_stroke){
			.usage = usage,
			.mods = sh == HID__SHIFT_ON ? HID_MOD_LSHIFT : 0,
			.any_mods = sh == HID__SHIFT_ANY,
			.caps = false,
			.keysym = keysym,
		};
		return 1;
	}

	uint32_t ucs = hid_keysym_to_ucs(keysym);
	if (!ucs && !hid_keysym_is_dead(keysym))
		return HID_EUNMAPPED;
	if (find_direct(l, keysym, ucs, &out[0]))
		return 1;
	if (!ucs)
		return HID_EUNMAPPED;

	/* Not on a key: a dead key and a base key that compose to it. */
	for (size_t i = 0; i < hid__n_compose; i++) {
		const struct hid__compose *c = &hid__compose[i];
		struct hid_stroke dead, base;
		if (c->result != ucs)
			continue;
		if (!find_direct(l, c->dead, 0, &dead) || !find_direct(l, c->base, c->base, &base))
			continue;
		if (max < 2)
			return HID_EINVAL;
		base.keysym = keysym;
		out[0] = dead;
		out[1] = base;
		return 2;
	}
	return HID_EUNMAPPED;
}
