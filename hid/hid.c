/* Report state: which viewer holds which key and button, and the reports
 * the target gets for it.
 *
 * The target sees one keyboard.  Each viewer's keys are kept apart and the
 * report carries their union, so one viewer letting go of a key another one
 * still holds changes nothing, and a disconnect releases only that viewer's
 * keys.  A report leaves only when its bytes differ from the last one the
 * transport accepted (pointer reports also when they carry a wheel step).
 *
 * Keysyms name characters, not keys; the target's layout (hid/layout.c)
 * says which key and level type one.  For a character whose Shift or AltGr
 * level differs from what the target would apply, the press report
 * overrides Shift and Right Alt in the modifier byte; the override lasts
 * while that key is held (so the target's autorepeat types the same
 * character) and ends with its release, or when another key is pressed.
 * A character that only exists as dead key + base key is typed as a tap of
 * the dead key, then the base key held as long as the keysym. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hid/hid.h"
#include "hid/hid_int.h"

const char *hid_strerror(int err)
{
	switch (err) {
	case HID_OK:
		return "success";
	case HID_EINVAL:
		return "invalid argument or malformed report";
	case HID_EUNMAPPED:
		return "no HID usage for this key";
	case HID_ENOMEM:
		return "out of memory";
	case HID_EIO:
		return "report transport failed";
	default:
		return "unknown error";
	}
}

/* Marks a usage pressed through hid_key_xt in hid_viewer.src; keysyms are
 * at most 29 bits, and 0 (NoSymbol) means "not held". */
#define SRC_XT UINT32_MAX

#define HID_BTN_LEFT		0x01
#define HID_BTN_RIGHT		0x02
#define HID_BTN_MIDDLE		0x04
#define HID_BTN_BACK		0x08
#define HID_BTN_FORWARD		0x10

struct hid_viewer {
	int id;
	/* For each usage, the keysym that pressed it, SRC_XT, or 0.  Indexed
	 * by usage so a viewer holds a key once however often it is sent. */
	uint32_t src[256];
	uint8_t buttons;	/* HID button bits */
	uint32_t wk_buttons;	/* last WK_BTN_* / WK_WHEEL_* mask, for the wheel's press edges */
	/* Relative mode: the last position, and the scaled motion not yet
	 * sent (below one target pixel), in 1/den pixels. */
	bool has_pos;
	int last_x, last_y;
	int64_t rest_x, rest_y;
};

/* A Shift/AltGr override tied to the key press that needed it. */
struct shift_override {
	bool on;
	int viewer;
	uint8_t usage;
	uint8_t set, clear;	/* modifier bits forced on / off */
};

struct hid_dev {
	struct hid_transport tr;
	hid_led_fn on_led;
	void *led_ctx;

	struct hid_viewer *viewers;
	int n_viewers, cap_viewers;

	/* How many viewers hold each usage; the target sees those above 0. */
	int holders[256];
	/* Held non-modifier usages in the order they went down, so the report
	 * keeps a key in the same slot while it is held, as keyboards do. */
	uint8_t order[256];
	int n_order;
	struct shift_override ovr;

	uint8_t kbd_sent[HID_KBD_REPORT_LEN];	/* what the target has */
	uint8_t ptr_sent[HID_PTR_REPORT_LEN];
	bool ptr_any_sent;
	uint8_t mouse_buttons;	/* buttons in the last mouse report */
	bool mouse_any_sent;
	bool failing[HID_IFACE_COUNT];	/* log a failing transport once */

	enum hid_pointer_mode mode;
	int scale_num, scale_den;
	unsigned ifaces;	/* 1 << HID_IFACE_* the target has */
	bool told_no_iface;

	uint8_t leds;
	int layout;		/* for keysyms; see hid_set_layout() */
};

struct hid_dev *hid_new(const struct hid_transport *tr, hid_led_fn on_led, void *led_ctx)
{
	struct hid_dev *h;

	if (!tr || !tr->send) {
		hid__log(WK_LOG_ERROR, "new: no transport");
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		hid__log(WK_LOG_ERROR, "new: %s", strerror(errno));
		return NULL;
	}
	h->tr = *tr;
	h->on_led = on_led;
	h->led_ctx = led_ctx;
	h->scale_num = h->scale_den = 1;
	h->ifaces = hid_profile_ifaces(HID_PROFILE_FULL);
	return h;
}

void hid_free(struct hid_dev *h)
{
	if (!h)
		return;
	free(h->viewers);
	free(h);
}

/* ---- viewers ---- */

static struct hid_viewer *viewer_find(struct hid_dev *h, int id)
{
	for (int i = 0; i < h->n_viewers; i++)
		if (h->viewers[i].id == id)
			return &h->viewers[i];
	return NULL;
}

static struct hid_viewer *viewer_get(struct hid_dev *h, int id)
{
	struct hid_viewer *v = viewer_find(h, id);

	if (v)
		return v;
	if (h->n_viewers == h->cap_viewers) {
		int cap = h->cap_viewers ? h->cap_viewers * 2 : 4;
		struct hid_viewer *nv = realloc(h->viewers, (size_t)cap * sizeof(*nv));
		if (!nv) {
			hid__log(WK_LOG_ERROR, "viewer %d: %s", id, strerror(errno));
			return NULL;
		}
		h->viewers = nv;
		h->cap_viewers = cap;
	}
	v = &h->viewers[h->n_viewers++];
	memset(v, 0, sizeof(*v));
	v->id = id;
	return v;
}

static void viewer_remove(struct hid_dev *h, struct hid_viewer *v)
{
	int i = (int)(v - h->viewers);

	memmove(&h->viewers[i], &h->viewers[i + 1], (size_t)(h->n_viewers - i - 1) * sizeof(*v));
	h->n_viewers--;
}

/* ---- transport ---- */

static int send_report(struct hid_dev *h, enum hid_iface iface, const uint8_t *buf, size_t len)
{
	static const char *const names[HID_IFACE_COUNT] = { "keyboard", "pointer", "mouse" };
	int rc = h->tr.send(h->tr.ctx, iface, buf, len);

	if (rc < 0) {
		/* Transports return negative errno values. */
		hid__log(h->failing[iface] ? WK_LOG_DEBUG : WK_LOG_ERROR,
			 "%s report: %s", names[iface], strerror(-rc));
		h->failing[iface] = true;
		return HID_EIO;
	}
	if (h->failing[iface]) {
		hid__log(WK_LOG_INFO, "%s report: transport works again", names[iface]);
		h->failing[iface] = false;
	}
	return 0;
}

/* ---- keyboard ---- */

static bool is_modifier(uint8_t usage)
{
	return hid_modifier_bit(usage) != 0;
}

static uint8_t held_modifiers(const struct hid_dev *h)
{
	uint8_t mods = 0;

	for (int i = 0; i < 8; i++)
		if (h->holders[0xe0 + i] > 0)
			mods |= (uint8_t)(1u << i);
	return mods;
}

static void build_kbd_report(const struct hid_dev *h, uint8_t r[HID_KBD_REPORT_LEN])
{
	uint8_t mods = held_modifiers(h);

	if (h->ovr.on)
		mods = (uint8_t)((mods & ~h->ovr.clear) | h->ovr.set);
	memset(r, 0, HID_KBD_REPORT_LEN);
	r[0] = mods;
	if (h->n_order > HID__KBD_KEY_SLOTS)
		memset(r + 2, HID__USAGE_ROLLOVER, HID__KBD_KEY_SLOTS);
	else
		memcpy(r + 2, h->order, (size_t)h->n_order);
}

static int flush_kbd(struct hid_dev *h)
{
	uint8_t r[HID_KBD_REPORT_LEN];

	build_kbd_report(h, r);
	if (memcmp(r, h->kbd_sent, sizeof(r)) == 0)
		return 0;
	int rc = send_report(h, HID_IFACE_KEYBOARD, r, sizeof(r));
	if (rc < 0)
		return rc;	/* kbd_sent keeps what the target really has */
	memcpy(h->kbd_sent, r, sizeof(r));
	return 0;
}

/* Records the press; true when the target's key set changed. */
static bool hold(struct hid_dev *h, struct hid_viewer *v, uint8_t usage, uint32_t src)
{
	v->src[usage] = src;
	if (h->holders[usage]++ > 0)
		return false;
	if (!is_modifier(usage))
		h->order[h->n_order++] = usage;
	return true;
}

static void unhold(struct hid_dev *h, struct hid_viewer *v, uint8_t usage)
{
	v->src[usage] = 0;
	if (h->ovr.on && h->ovr.viewer == v->id && h->ovr.usage == usage)
		h->ovr.on = false;
	if (--h->holders[usage] > 0 || is_modifier(usage))
		return;
	for (int i = 0; i < h->n_order; i++) {
		if (h->order[i] == usage) {
			memmove(&h->order[i], &h->order[i + 1], (size_t)(h->n_order - i - 1));
			h->n_order--;
			break;
		}
	}
}

/* What a key press asks of the modifier byte: Shift and AltGr each on,
 * off or left as the viewers hold them. */
struct level_need {
	enum hid__shift shift, altgr;
};

static const struct level_need NEED_ANY = { HID__SHIFT_ANY, HID__SHIFT_ANY };

/* A new key press takes over the override: the character it types
 * decides, and keys without a level (Return, arrows, XT keys) get the
 * viewers' own modifiers back. */
static void set_override(struct hid_dev *h, int viewer, uint8_t usage, struct level_need need)
{
	uint8_t held = held_modifiers(h);
	uint8_t set = 0, clear = 0;

	if (need.shift == HID__SHIFT_ON && !(held & HID__MOD_SHIFTS))
		set |= HID__MOD_LSHIFT;
	else if (need.shift == HID__SHIFT_OFF && (held & HID__MOD_SHIFTS))
		clear |= HID__MOD_SHIFTS;
	if (need.altgr == HID__SHIFT_ON && !(held & HID__MOD_RALT))
		set |= HID__MOD_RALT;
	else if (need.altgr == HID__SHIFT_OFF && (held & HID__MOD_RALT))
		clear |= HID__MOD_RALT;
	h->ovr.on = false;
	if (set || clear)
		h->ovr = (struct shift_override){ true, viewer, usage, set, clear };
}

static int key_down(struct hid_dev *h, int viewer, uint8_t usage, uint32_t src, struct level_need need)
{
	struct hid_viewer *v = viewer_get(h, viewer);

	if (!v)
		return HID_ENOMEM;
	/* Held already: the viewer's autorepeat.  The target repeats by
	 * itself, and a new report would only repeat the old one. */
	if (v->src[usage])
		return 0;
	if (hold(h, v, usage, src) && !is_modifier(usage))
		set_override(h, viewer, usage, need);
	return flush_kbd(h);
}

static int key_up(struct hid_dev *h, struct hid_viewer *v, uint8_t usage)
{
	if (!v || !v->src[usage])
		return 0;	/* not held by this viewer: nothing to release */
	unhold(h, v, usage);
	return flush_kbd(h);
}

/* The modifier state a stroke needs on the target as it is now. */
static struct level_need stroke_need(const struct hid_dev *h, const struct hid_stroke *st)
{
	struct level_need need = NEED_ANY;

	if (st->any_mods)
		return need;
	bool shift = st->mods & HID_MOD_LSHIFT;
	/* With Caps Lock on, the target itself turns the level of letters
	 * over, so the opposite Shift gives the character asked for. */
	if (st->caps && (h->leds & HID_LED_CAPS))
		shift = !shift;
	need.shift = shift ? HID__SHIFT_ON : HID__SHIFT_OFF;
	/* Where Right Alt is only Alt, a character never depends on it. */
	if (hid_layout_has_altgr(h->layout))
		need.altgr = st->mods & HID_MOD_RALT ? HID__SHIFT_ON : HID__SHIFT_OFF;
	return need;
}

/* Presses and releases a dead key, leaving the target waiting for the
 * character it modifies. */
static int tap_dead(struct hid_dev *h, int viewer, const struct hid_stroke *st)
{
	struct hid_viewer *v = viewer_get(h, viewer);

	if (!v)
		return HID_ENOMEM;
	if (v->src[st->usage])
		return 0;	/* held: the viewer typed the dead key itself */
	if (hold(h, v, st->usage, st->keysym))
		set_override(h, viewer, st->usage, stroke_need(h, st));
	int rc = flush_kbd(h);
	unhold(h, v, st->usage);
	int rc2 = flush_kbd(h);
	return rc < 0 ? rc : rc2;
}

int hid_key_keysym(struct hid_dev *h, int viewer, uint32_t keysym, bool down)
{
	struct hid_stroke st[HID_STROKES_MAX];

	if (!h)
		return HID_EINVAL;
	int n = hid_layout_plan(h->layout, keysym, st, HID_STROKES_MAX);

	if (!down) {
		struct hid_viewer *v = viewer_find(h, viewer);
		/* The key this keysym pressed, even when the release names it
		 * at another level ('a' down, Shift down, 'A' up). */
		for (int u = 0; v && keysym != 0 && keysym != SRC_XT && u < 256; u++)
			if (v->src[u] == keysym)
				return key_up(h, v, (uint8_t)u);
		if (n <= 0)
			return HID_EUNMAPPED;
		return key_up(h, v, st[n - 1].usage);
	}
	if (n <= 0) {
		hid__log(WK_LOG_DEBUG, "viewer %d: keysym 0x%x not on layout %s", viewer,
			 keysym, hid_layout_name(h->layout));
		return HID_EUNMAPPED;
	}
	if (n == 2) {
		struct hid_viewer *v = viewer_find(h, viewer);
		/* The viewer's autorepeat: the base key is down already, and
		 * another dead key tap would only leave the target waiting. */
		if (v && v->src[st[1].usage] == keysym)
			return 0;
		int rc = tap_dead(h, viewer, &st[0]);
		if (rc < 0)
			return rc;
	}
	return key_down(h, viewer, st[n - 1].usage, keysym, stroke_need(h, &st[n - 1]));
}

int hid_set_layout(struct hid_dev *h, int layout)
{
	if (!h || !hid_layout_name(layout))
		return HID_EINVAL;
	h->layout = layout;
	return 0;
}

int hid_get_layout(const struct hid_dev *h)
{
	return h ? h->layout : HID_EINVAL;
}

int hid_key_xt(struct hid_dev *h, int viewer, uint32_t xt, bool down)
{
	if (!h)
		return HID_EINVAL;
	uint8_t usage = hid_usage_from_xt(xt);
	if (!usage) {
		hid__log(WK_LOG_DEBUG, "viewer %d: scancode 0x%x has no usage", viewer, xt);
		return HID_EUNMAPPED;
	}
	if (down)
		return key_down(h, viewer, usage, SRC_XT, NEED_ANY);
	return key_up(h, viewer_find(h, viewer), usage);
}

/* ---- pointer ---- */

static uint8_t held_buttons(const struct hid_dev *h)
{
	uint8_t b = 0;

	for (int i = 0; i < h->n_viewers; i++)
		b |= h->viewers[i].buttons;
	return b;
}

static uint8_t buttons_from_wk(uint32_t m)
{
	uint8_t b = 0;

	if (m & WK_BTN_LEFT)
		b |= HID_BTN_LEFT;
	if (m & WK_BTN_MIDDLE)
		b |= HID_BTN_MIDDLE;
	if (m & WK_BTN_RIGHT)
		b |= HID_BTN_RIGHT;
	if (m & WK_BTN_BACK)
		b |= HID_BTN_BACK;
	if (m & WK_BTN_FORWARD)
		b |= HID_BTN_FORWARD;
	return b;
}

/* Sends the pointer report made of the buttons, the position in xy (4
 * bytes, as in the report) and one wheel step pair. */
static int flush_ptr_buttons(struct hid_dev *h, uint8_t buttons, const uint8_t xy[4], int8_t wheel, int8_t pan)
{
	uint8_t r[HID_PTR_REPORT_LEN];

	r[0] = buttons;
	memcpy(r + 1, xy, 4);
	r[5] = (uint8_t)wheel;
	r[6] = (uint8_t)pan;
	if (h->ptr_any_sent && !wheel && !pan && memcmp(r, h->ptr_sent, 5) == 0)
		return 0;
	int rc = send_report(h, HID_IFACE_POINTER, r, sizeof(r));
	if (rc < 0)
		return rc;
	/* Wheel steps are relative: sent once, never part of the state. */
	r[5] = r[6] = 0;
	memcpy(h->ptr_sent, r, sizeof(r));
	h->ptr_any_sent = true;
	return 0;
}

static int flush_ptr(struct hid_dev *h, const uint8_t xy[4], int8_t wheel, int8_t pan)
{
	return flush_ptr_buttons(h, held_buttons(h), xy, wheel, pan);
}

/* One relative mouse report; nothing when it would change nothing. */
static int send_mouse(struct hid_dev *h, uint8_t buttons, int dx, int dy, int wheel, int pan)
{
	uint8_t r[HID_MOUSE_REPORT_LEN] = {
		buttons, (uint8_t)(int8_t)dx, (uint8_t)(int8_t)dy, (uint8_t)(int8_t)wheel, (uint8_t)(int8_t)pan,
	};

	if (h->mouse_any_sent && buttons == h->mouse_buttons && !dx && !dy && !wheel && !pan)
		return 0;
	int rc = send_report(h, HID_IFACE_MOUSE, r, sizeof(r));
	if (rc < 0)
		return rc;
	h->mouse_buttons = buttons;
	h->mouse_any_sent = true;
	return 0;
}

static int clamp_rel(int64_t v)
{
	return v > HID_REL_MAX ? HID_REL_MAX : v < -HID_REL_MAX ? -HID_REL_MAX : (int)v;
}

/* Scales a move, keeps what is below one target pixel for the next one,
 * and sends the rest in steps the report can hold. */
static int rel_move(struct hid_dev *h, struct hid_viewer *v, int64_t dx, int64_t dy, int wheel, int pan)
{
	int64_t mx, my;
	int rc;

	v->rest_x += dx * h->scale_num;
	v->rest_y += dy * h->scale_num;
	mx = v->rest_x / h->scale_den;	/* toward zero: the rest keeps the sign */
	my = v->rest_y / h->scale_den;
	v->rest_x -= mx * h->scale_den;
	v->rest_y -= my * h->scale_den;
	do {
		int sx = clamp_rel(mx), sy = clamp_rel(my);

		if ((rc = send_mouse(h, held_buttons(h), sx, sy, wheel, pan)) < 0)
			return rc;
		mx -= sx;
		my -= sy;
		wheel = pan = 0;
	} while (mx != 0 || my != 0);
	return 0;
}

static bool have_iface(struct hid_dev *h, enum hid_iface iface)
{
	if (h->ifaces & 1u << iface)
		return true;
	if (!h->told_no_iface)
		hid__log(WK_LOG_INFO, "pointer input dropped: the target has no %s now (gadget profile)",
			 iface == HID_IFACE_MOUSE ? "relative mouse" : "absolute pointer");
	h->told_no_iface = true;
	return false;
}

/* Wheel steps of the wheel bits newly pressed; records the mask. */
static void take_buttons(struct hid_viewer *v, uint32_t buttons, int *wheel, int *pan)
{
	uint32_t pressed = buttons & ~v->wk_buttons;

	*wheel = *pan = 0;
	if (pressed & WK_WHEEL_UP)
		(*wheel)++;
	if (pressed & WK_WHEEL_DOWN)
		(*wheel)--;
	if (pressed & WK_WHEEL_RIGHT)
		(*pan)++;
	if (pressed & WK_WHEEL_LEFT)
		(*pan)--;
	v->wk_buttons = buttons;
	v->buttons = buttons_from_wk(buttons);
}

static uint16_t scale_axis(int v, int size)
{
	if (size <= 1 || v <= 0)
		return 0;
	if (v >= size - 1)
		return HID_ABS_MAX;
	return (uint16_t)((int64_t)v * HID_ABS_MAX / (size - 1));
}

int hid_pointer(struct hid_dev *h, int viewer, int x, int y, int w, int h_, uint32_t buttons)
{
	int wheel, pan;

	if (!h || w <= 0 || h_ <= 0)
		return HID_EINVAL;
	struct hid_viewer *v = viewer_get(h, viewer);
	if (!v)
		return HID_ENOMEM;
	take_buttons(v, buttons, &wheel, &pan);
	if (h->mode == HID_POINTER_RELATIVE) {
		int64_t dx = v->has_pos ? (int64_t)x - v->last_x : 0;
		int64_t dy = v->has_pos ? (int64_t)y - v->last_y : 0;

		v->has_pos = true;
		v->last_x = x;
		v->last_y = y;
		if (!have_iface(h, HID_IFACE_MOUSE))
			return 0;
		return rel_move(h, v, dx, dy, wheel, pan);
	}
	if (!have_iface(h, HID_IFACE_POINTER))
		return 0;
	uint16_t ax = scale_axis(x, w), ay = scale_axis(y, h_);
	uint8_t xy[4] = { (uint8_t)ax, (uint8_t)(ax >> 8), (uint8_t)ay, (uint8_t)(ay >> 8) };
	return flush_ptr(h, xy, (int8_t)wheel, (int8_t)pan);
}

int hid_mouse_move(struct hid_dev *h, int viewer, int dx, int dy, uint32_t buttons)
{
	int wheel, pan;

	if (!h)
		return HID_EINVAL;
	struct hid_viewer *v = viewer_get(h, viewer);
	if (!v)
		return HID_ENOMEM;
	take_buttons(v, buttons, &wheel, &pan);
	if (!have_iface(h, HID_IFACE_MOUSE))
		return 0;
	return rel_move(h, v, dx, dy, wheel, pan);
}

/* Lets go of the buttons on the interface a mode uses. */
static int lift_buttons(struct hid_dev *h, enum hid_pointer_mode mode)
{
	if (mode == HID_POINTER_RELATIVE)
		return h->mouse_any_sent && h->mouse_buttons && (h->ifaces & 1u << HID_IFACE_MOUSE)
			? send_mouse(h, 0, 0, 0, 0, 0) : 0;
	return h->ptr_any_sent && h->ptr_sent[0] && (h->ifaces & 1u << HID_IFACE_POINTER)
		? flush_ptr_buttons(h, 0, h->ptr_sent + 1, 0, 0) : 0;
}

int hid_set_pointer_mode(struct hid_dev *h, enum hid_pointer_mode mode)
{
	if (!h || (mode != HID_POINTER_ABSOLUTE && mode != HID_POINTER_RELATIVE))
		return HID_EINVAL;
	if (mode == h->mode)
		return 0;
	lift_buttons(h, h->mode);
	h->mode = mode;
	h->told_no_iface = false;
	/* Motion starts again from each viewer's next position. */
	for (int i = 0; i < h->n_viewers; i++) {
		h->viewers[i].has_pos = false;
		h->viewers[i].rest_x = h->viewers[i].rest_y = 0;
	}
	hid__log(WK_LOG_INFO, "pointer mode: %s", mode == HID_POINTER_RELATIVE ? "relative" : "absolute");
	return 0;
}

enum hid_pointer_mode hid_get_pointer_mode(const struct hid_dev *h)
{
	return h ? h->mode : HID_POINTER_ABSOLUTE;
}

int hid_set_relative_scale(struct hid_dev *h, int num, int den)
{
	if (!h || num < 1 || num > 1000 || den < 1 || den > 1000)
		return HID_EINVAL;
	h->scale_num = num;
	h->scale_den = den;
	for (int i = 0; i < h->n_viewers; i++)
		h->viewers[i].rest_x = h->viewers[i].rest_y = 0;
	return 0;
}

void hid_set_ifaces(struct hid_dev *h, unsigned mask)
{
	if (!h)
		return;
	h->ifaces = mask | 1u << HID_IFACE_KEYBOARD;
	h->told_no_iface = false;
	/* A new device starts with nothing sent. */
	if (!(mask & 1u << HID_IFACE_POINTER))
		h->ptr_any_sent = false;
	if (!(mask & 1u << HID_IFACE_MOUSE))
		h->mouse_any_sent = false;
}

/* ---- release, LEDs ---- */

static void release_viewer(struct hid_dev *h, struct hid_viewer *v)
{
	for (int u = 0; u < 256; u++)
		if (v->src[u])
			unhold(h, v, (uint8_t)u);
	viewer_remove(h, v);
}

int hid_release(struct hid_dev *h, int viewer)
{
	if (!h)
		return HID_EINVAL;
	if (viewer < 0) {
		while (h->n_viewers > 0)
			release_viewer(h, &h->viewers[h->n_viewers - 1]);
	} else {
		struct hid_viewer *v = viewer_find(h, viewer);
		if (v)
			release_viewer(h, v);
	}
	int rc = flush_kbd(h), rc2 = 0;
	/* No pointer report before the first position: there is none to keep. */
	if (h->ptr_any_sent && (h->ifaces & 1u << HID_IFACE_POINTER))
		rc2 = flush_ptr(h, h->ptr_sent + 1, 0, 0);
	if (rc == 0)
		rc = rc2;
	if (h->mouse_any_sent && (h->ifaces & 1u << HID_IFACE_MOUSE))
		rc2 = send_mouse(h, held_buttons(h), 0, 0, 0, 0);
	return rc ? rc : rc2;
}

int hid_led_report(struct hid_dev *h, const uint8_t *buf, size_t len)
{
	if (!h || !buf)
		return HID_EINVAL;
	if (len != 1) {
		hid__log(WK_LOG_WARN, "LED report: %zu bytes, expected 1; dropped", len);
		return HID_EINVAL;
	}
	/* Bits 5-7 are the descriptor's constant padding. */
	uint8_t leds = buf[0] & (HID_LED_NUM | HID_LED_CAPS | HID_LED_SCROLL | HID_LED_COMPOSE | HID_LED_KANA);
	if (leds == h->leds)
		return 0;
	h->leds = leds;
	hid__log(WK_LOG_DEBUG, "LEDs now 0x%02x", leds);
	if (h->on_led)
		h->on_led(h->led_ctx, leds);
	return 0;
}

uint8_t hid_leds(const struct hid_dev *h)
{
	return h ? h->leds : 0;
}
