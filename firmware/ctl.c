/* The control requests' handlers.  control.c has read the line and
 * ctlproto.c has checked it against the protocol's table, so a handler
 * finds every field it needs present and of its type and range; what it
 * checks itself is what only the daemon knows (a layout's name, whether a
 * paste runs, the board). */
#include <stdio.h>
#include <string.h>

#include "board/board.h"
#include "board/sim/sim.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "firmware/daemon_int.h"
#include "hid/gadget.h"

#define SIM_LINE_QUOTED 1600	/* a 256-byte line, every byte escaped */

typedef void ctl_handler(struct fw_daemon *d, const struct ctl_req *req, char *resp, size_t len);

static const char *
state_word(enum cap_state st)
{
	switch (st) {
	case CAP_STATE_OK: return "ok";
	case CAP_STATE_NO_SIGNAL: return "no-signal";
	case CAP_STATE_NO_DEVICE: return "no-device";
	case CAP_STATE_ERROR: return "error";
	}
	return "error";
}

const char *
fw__mode_name(enum hid_pointer_mode m)
{
	return m == HID_POINTER_RELATIVE ? "relative" : "absolute";
}

enum hid_pointer_mode
fw__mode_for(enum hid_profile p, enum hid_pointer_mode want)
{
	unsigned m = hid_profile_ifaces(p);

	if (want == HID_POINTER_RELATIVE && !(m & 1u << HID_IFACE_MOUSE) && (m & 1u << HID_IFACE_POINTER))
		return HID_POINTER_ABSOLUTE;
	if (want == HID_POINTER_ABSOLUTE && !(m & 1u << HID_IFACE_POINTER) && (m & 1u << HID_IFACE_MOUSE))
		return HID_POINTER_RELATIVE;
	return want;
}

/* The keyboard and mouse settings and the paste's progress, as members
 * for an answer object. */
static void
hid_state_json(struct fw_daemon *d, char *out, size_t len)
{
	unsigned m = hid_profile_ifaces(d->profile);
	size_t n;

	n = (size_t)snprintf(out, len, "\"layout\":\"%s\",\"layouts\":[",
			     hid_layout_name(hid_get_layout(d->hid)));
	for (int i = 0; i < hid_layout_count() && n < len; i++)
		n += (size_t)snprintf(out + n, len - n, "%s\"%s\"", i ? "," : "", hid_layout_name(i));
	if (n < len)
		snprintf(out + n, len - n,
			 "],\"mouse\":\"%s\",\"mice\":[%s%s%s],\"profile\":\"%s\","
			 "\"profiles\":[\"full\",\"absolute\",\"relative\",\"keyboard\"],"
			 "\"paste\":{\"active\":%s,\"left\":%zu,\"delay_ms\":%d}",
			 fw__mode_name(hid_get_pointer_mode(d->hid)),
			 m & 1u << HID_IFACE_POINTER ? "\"absolute\"" : "",
			 (m & 1u << HID_IFACE_POINTER) && (m & 1u << HID_IFACE_MOUSE) ? "," : "",
			 m & 1u << HID_IFACE_MOUSE ? "\"relative\"" : "",
			 hid_profile_name(d->profile), fw__pasting(d) ? "true" : "false",
			 fw__paste_left(d), d->cfg.paste_delay_ms);
}

static void
ctl_status(struct fw_daemon *d, const struct ctl_req *req, char *resp, size_t len)
{
	char board[80], src[400];
	uint8_t leds = hid_leds(d->hid);
	struct rfb_h264_stats hs;
	int w, h, n;

	(void)req;
	rfb_size(d->rfb, &w, &h);
	rfb_h264_stats(d->rfb, &hs);
	wk_json_quote(board, sizeof(board), d->cfg.board);
	wk_json_quote(src, sizeof(src), cap_describe(d->cap));
	/* The keyboard and mouse state follows inside the same object. */
	n = snprintf(resp, len,
		     "{\"ok\":true,\"board\":%s,\"source\":%s,\"width\":%d,\"height\":%d,"
		     "\"fps\":%.1f,\"frames\":%llu,\"diffed\":%llu,\"signal\":\"%s\",\"viewers\":%d,"
		     "\"leds\":{\"num\":%s,\"caps\":%s,\"scroll\":%s},\"bytes_sent\":%llu,"
		     "\"h264\":{\"viewers\":%d,\"streams\":%d,\"frames\":%llu,\"idr\":%llu,"
		     "\"bytes\":%llu},",
		     board, src, w, h, d->fps, (unsigned long long)d->frames,
		     (unsigned long long)d->diffed, state_word(d->state),
		     rfb_viewer_count(d->rfb),
		     leds & HID_LED_NUM ? "true" : "false", leds & HID_LED_CAPS ? "true" : "false",
		     leds & HID_LED_SCROLL ? "true" : "false",
		     (unsigned long long)rfb_bytes_sent(d->rfb), hs.viewers, hs.streams,
		     (unsigned long long)hs.frames, (unsigned long long)hs.idr,
		     (unsigned long long)hs.bytes);
	if (n < 0 || (size_t)n + 2 >= len) {
		ctl_reply_error(resp, len, "status: answer too long");
		return;
	}
	hid_state_json(d, resp + n, len - (size_t)n - 1);	/* room for the brace */
	n = (int)strlen(resp);
	resp[n] = '}';
	resp[n + 1] = '\0';
}

static void
ctl_type(struct fw_daemon *d, const struct ctl_req *req, char *resp, size_t len)
{
	const struct ctl_value *t = ctl_get(req, "text"), *dl = ctl_get(req, "delay_ms");
	unsigned delay_ms = dl != NULL ? (unsigned)dl->num : (unsigned)d->cfg.paste_delay_ms;
	struct fw_paste_plan plan;
	char msg[200];
	int rc;

	if (fw__pasting(d)) {
		snprintf(msg, sizeof(msg), "type: a paste is running (%zu characters left); cancel it first",
			 fw__paste_left(d));
		ctl_reply_error(resp, len, msg);
		return;
	}
	if (d->gadget != NULL && !hid_gadget_host_present(d->gadget)) {
		ctl_reply_error(resp, len, "type: no USB host reads the keyboard (target off or cable out)");
		return;
	}
	/* Refuse the whole text before typing anything if one character
	 * cannot be typed: half a password typed is worse than none. */
	rc = fw_paste_plan(hid_get_layout(d->hid), t->str, t->len, &plan);
	if (rc == FW_PASTE_EUNTYPABLE) {
		char q[256];

		snprintf(msg, sizeof(msg), "type: %zu character%s cannot be typed on the %s layout, first U+%04X; nothing typed",
			 plan.n_bad, plan.n_bad == 1 ? "" : "s", hid_layout_name(hid_get_layout(d->hid)),
			 plan.first_bad);
		wk_json_quote(q, sizeof(q), msg);
		snprintf(resp, len, "{\"ok\":false,\"error\":%s,\"untypable\":%s}", q, plan.bad_json);
		fw_paste_plan_free(&plan);
		return;
	}
	if (rc < 0) {
		ctl_reply_error(resp, len, rc == FW_PASTE_EUTF8 ? "type: text is not valid UTF-8" : "type: out of memory");
		return;
	}
	snprintf(resp, len, "{\"ok\":true,\"typed\":%zu}", plan.n);
	fw__paste_start(d, &plan, delay_ms);
}

static void
ctl_cancel(struct fw_daemon *d, const struct ctl_req *req, char *resp, size_t len)
{
	size_t left = fw__paste_left(d);

	(void)req;
	fw__paste_end(d, "cancelled");
	snprintf(resp, len, "{\"ok\":true,\"cancelled\":%zu}", left);
}

static int
set_profile(struct fw_daemon *d, enum hid_profile p)
{
	if (p == d->profile)
		return 0;
	if (d->gadget != NULL && hid_gadget_set_profile(d->gadget, p) < 0)
		return -1;
	wk_log("webkvmd", WK_LOG_INFO, "hid: profile %s", hid_profile_name(p));
	d->profile = p;
	hid_set_ifaces(d->hid, hid_profile_ifaces(p));
	hid_set_pointer_mode(d->hid, fw__mode_for(p, hid_get_pointer_mode(d->hid)));
	return 0;
}

/* Reads and sets the keyboard layout, the pointer mode and the gadget
 * profile; everything asked is checked before anything changes. */
static void
ctl_hid(struct fw_daemon *d, const struct ctl_req *req, char *resp, size_t len)
{
	const struct ctl_value *l = ctl_get(req, "layout"), *m = ctl_get(req, "mouse"),
			       *p = ctl_get(req, "profile");
	int layout = hid_get_layout(d->hid), profile = d->profile;
	enum hid_pointer_mode mode = hid_get_pointer_mode(d->hid);
	char msg[160], st[1024];

	if (l != NULL && (layout = hid_layout_find(l->str)) < 0) {
		ctl_reply_error(resp, len, "hid: \"layout\" must be one of the \"layouts\" (en-us, de, fr, ...)");
		return;
	}
	if (p != NULL && (profile = hid_profile_find(p->str)) < 0) {
		ctl_reply_error(resp, len, "hid: \"profile\" must be full, absolute, relative or keyboard");
		return;
	}
	if (m != NULL) {
		mode = strcmp(m->str, "relative") == 0 ? HID_POINTER_RELATIVE : HID_POINTER_ABSOLUTE;
		if (!(hid_profile_ifaces(profile) &
		      1u << (mode == HID_POINTER_RELATIVE ? HID_IFACE_MOUSE : HID_IFACE_POINTER))) {
			snprintf(msg, sizeof(msg), "hid: the %s profile has no %s pointer", hid_profile_name(profile),
				 fw__mode_name(mode));
			ctl_reply_error(resp, len, msg);
			return;
		}
	}
	if (profile != (int)d->profile && set_profile(d, profile) < 0) {
		ctl_reply_error(resp, len, "hid: the gadget could not be rebuilt with that profile (see the log)");
		return;
	}
	if (m != NULL)
		hid_set_pointer_mode(d->hid, mode);
	if (layout != hid_get_layout(d->hid)) {
		/* Keys held keep the layout they went down with. */
		hid_set_layout(d->hid, layout);
		if (d->sim != NULL)
			sim_set_layout(d->sim, layout);
		wk_log("webkvmd", WK_LOG_INFO, "hid: layout %s", hid_layout_name(layout));
	}
	hid_state_json(d, st, sizeof(st));
	snprintf(resp, len, "{\"ok\":true,%s}", st);
}

static void
ctl_key(struct fw_daemon *d, const struct ctl_req *req, char *resp, size_t len)
{
	const struct ctl_value *k = ctl_get(req, "keys");
	uint32_t ks[CTL_ITEMS_MAX] = { 0 };
	int n = k->n_items;	/* 1..CTL_ITEMS_MAX: the table says so */
	char msg[160];

	for (int i = 0; i < n; i++) {
		if ((ks[i] = fw_key_by_name(k->items[i])) == 0) {
			snprintf(msg, sizeof(msg), "key: unknown key name \"%.40s\"", k->items[i]);
			ctl_reply_error(resp, len, msg);
			return;
		}
	}
	if (fw__pasting(d)) {
		ctl_reply_error(resp, len, "key: a paste is running; cancel it first");
		return;
	}
	d->last_input_us = wk_now_us();
	/* A chord: press in order, release in reverse. */
	for (int i = 0; i < n; i++)
		hid_key_keysym(d->hid, FW_VIEWER_CONTROL, ks[i], true);
	for (int i = n - 1; i >= 0; i--)
		hid_key_keysym(d->hid, FW_VIEWER_CONTROL, ks[i], false);
	fw__flush_leds(d);
	snprintf(resp, len, "{\"ok\":true}");
}

static void
ctl_power(struct fw_daemon *d, const struct ctl_req *req, char *resp, size_t len)
{
	const struct ctl_value *a = ctl_get(req, "action");
	char msg[160];
	int act, rc;

	/* The table let only ctl_power_actions through: the board's names. */
	if ((act = board_power_parse(a->str)) < 0) {
		ctl_reply_error(resp, len, "power: unknown action");
		return;
	}
	if ((rc = board_power(d->board, (enum board_power)act)) < 0) {
		snprintf(msg, sizeof(msg), "power %s: %s (board %s)", a->str, board_strerror(rc), d->cfg.board);
		ctl_reply_error(resp, len, msg);
		return;
	}
	wk_log("webkvmd", WK_LOG_INFO, "control: power %s", a->str);
	snprintf(resp, len, "{\"ok\":true}");
}

static void
ctl_release(struct fw_daemon *d, const struct ctl_req *req, char *resp, size_t len)
{
	(void)req;
	hid_release(d->hid, -1);
	snprintf(resp, len, "{\"ok\":true}");
}

/* What the virtual target has received (board sim only): for tests. */
static void
ctl_target(struct fw_daemon *d, const struct ctl_req *req, char *resp, size_t len)
{
	char q[SIM_LINE_QUOTED], held[64] = "";
	uint8_t mods, keys[6];
	int x, y;

	(void)req;
	if (d->sim == NULL) {
		ctl_reply_error(resp, len, "target: only the sim board has a virtual target in the daemon");
		return;
	}
	wk_json_quote(q, sizeof(q), sim_line(d->sim));
	sim_pointer(d->sim, &x, &y);
	sim_keys(d->sim, &mods, keys);
	for (int i = 0; i < 6; i++)
		if (keys[i] != 0)
			snprintf(held + strlen(held), sizeof(held) - strlen(held), "%s%u", held[0] ? "," : "", keys[i]);
	snprintf(resp, len, "{\"ok\":true,\"line\":%s,\"pointer\":{\"x\":%d,\"y\":%d},"
		 "\"mods\":%u,\"keys\":[%s]}", q, x, y, mods, held);
}

/* A layout's character keys: [usage, then the code point of each level
 * (plain, Shift, AltGr, Shift+AltGr), 0 for none or a dead key]. */
static void
ctl_layout(struct fw_daemon *d, const struct ctl_req *req, char *resp, size_t len)
{
	const struct ctl_value *nm = ctl_get(req, "name");
	int l = hid_get_layout(d->hid);
	size_t n;

	if (nm != NULL && (l = hid_layout_find(nm->str)) < 0) {
		ctl_reply_error(resp, len, "layout: \"name\" must be a layout the \"hid\" request lists");
		return;
	}
	n = (size_t)snprintf(resp, len, "{\"ok\":true,\"name\":\"%s\",\"altgr\":%s,\"keys\":[",
			     hid_layout_name(l), hid_layout_has_altgr(l) ? "true" : "false");
	for (int u = 1, first = 1; u < 256 && n < len; u++) {
		uint32_t cp[4];
		bool any = false;

		for (int lv = 0; lv < 4; lv++) {
			cp[lv] = hid_keysym_to_ucs(hid_layout_keysym(l, (uint8_t)u, lv & 1, lv & 2, false));
			any |= cp[lv] != 0;
		}
		if (!any)
			continue;
		n += (size_t)snprintf(resp + n, len - n, "%s[%d,%u,%u,%u,%u]", first ? "" : ",", u,
				      cp[0], cp[1], cp[2], cp[3]);
		first = 0;
	}
	if (n + 3 < len)
		snprintf(resp + n, len - n, "]}");
	else
		ctl_reply_error(resp, len, "layout: answer too long");
}

/* One handler per row of ctl_cmds (firmware/ctlproto.c). */
static ctl_handler *const handlers[CTL_CMD_COUNT] = {
	[CTL_STATUS] = ctl_status,
	[CTL_HID] = ctl_hid,
	[CTL_TYPE] = ctl_type,
	[CTL_CANCEL] = ctl_cancel,
	[CTL_KEY] = ctl_key,
	[CTL_POWER] = ctl_power,
	[CTL_RELEASE] = ctl_release,
	[CTL_TARGET] = ctl_target,
	[CTL_LAYOUT] = ctl_layout,
};

void
fw_daemon_control(void *ctx, const struct ctl_req *req, char *resp, size_t resplen)
{
	struct fw_daemon *d = ctx;

	if ((unsigned)req->cmd >= CTL_CMD_COUNT || handlers[req->cmd] == NULL) {
		ctl_reply_error(resp, resplen, "this daemon has no handler for that cmd");
		return;
	}
	handlers[req->cmd](d, req, resp, resplen);
}
