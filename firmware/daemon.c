#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "board/board.h"
#include "board/sim/sim.h"
#include "capture/capture.h"
#include "firmware/control.h"
#include "firmware/daemon.h"
#include "firmware/log.h"
#include "hid/gadget.h"
#include "hid/hid.h"
#include "rfb/rfb_server.h"

/* hid/ viewer id of requests from the control socket: apart from every RFB
 * viewer (0..63), so typing never releases a viewer's keys or vice versa. */
#define VIEWER_CONTROL 1000
#define MAX_POLL 128
#define SIM_LINE_QUOTED 1600	/* a 256-byte line, every byte escaped */
/* A screen that has not changed, with no input from anyone, for this long
 * is idle: then only one frame in IDLE_DIFF_EVERY is diffed, and after
 * DEEP_IDLE_AFTER_US one in DEEP_IDLE_DIFF_EVERY.  Hashing every frame of a
 * static 1080p60 picture is most of the daemon's idle CPU; a change nobody
 * caused (a boot message) then shows at most 3 or 7 frames later (50 or
 * 117 ms at 60 fps).  A clock ticking once a second keeps a screen out of
 * deep idle, and any key or pointer event returns to every frame at once,
 * so typing never waits. */
#define IDLE_AFTER_US 200000u
#define IDLE_DIFF_EVERY 4
#define DEEP_IDLE_AFTER_US 2000000u
#define DEEP_IDLE_DIFF_EVERY 8

struct fw_daemon {
	struct fw_config cfg;
	struct board *board;
	struct sim_target *sim;		/* the board's in-process target, or NULL */
	struct cap_source *cap;
	struct hid_dev *hid;
	struct hid_gadget *gadget;	/* USB gadget transport (qemu-x86_64) */
	struct rfb_server *rfb;
	struct fw_control *ctl;
	int sigfd;

	int led_pending;		/* LED output report from the target, -1 none */
	enum cap_state state;		/* as last seen */
	uint64_t nosignal_since_us;
	uint64_t nosignal_drawn_us;
	uint8_t *nosignal;		/* frame for the no-signal screen */
	size_t nosignal_size;
	const uint8_t *shown;		/* buffer of the last stable frame given to rfb/ */

	uint64_t last_change_us;	/* a frame last had changed tiles */
	uint64_t last_input_us;		/* a key, pointer or control request */
	unsigned idle_skip;

	/* Text being typed (ctl_type): the plan, the next keysym, whether its
	 * release comes next, and when the next report may go. */
	struct fw_paste_plan paste;
	size_t paste_i;
	bool paste_up;
	uint64_t paste_next_us;
	uint64_t paste_t0_us;
	unsigned paste_delay_us;
	struct fw_held held;		/* viewers' keys while a text is typed */
	bool held_full_told;
	enum hid_profile profile;

	uint64_t fps_t0_us;
	unsigned fps_frames;
	double fps;			/* frames per second over the last second */
	uint64_t frames;
};

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static bool pasting(const struct fw_daemon *d);
static void hid_state_json(struct fw_daemon *d, char *out, size_t len);
static void paste_end(struct fw_daemon *d, const char *why);

/* ---- hid transport and LEDs ---- */

static int
sim_send(void *ctx, enum hid_iface iface, const uint8_t *buf, size_t len)
{
	struct fw_daemon *d = ctx;

	return sim_hid_input(d->sim, (int)iface, buf, len) < 0 ? HID_EIO : 0;
}

/* Until the USB gadget transport exists on this board, reports have nowhere
 * to go: say so once. */
static int
null_send(void *ctx, enum hid_iface iface, const uint8_t *buf, size_t len)
{
	static int told;

	(void)ctx, (void)iface, (void)buf, (void)len;
	if (!told++)
		fw__log(FW_LOG_WARN, "hid: this board has no HID transport yet; input is dropped");
	return HID_EIO;
}

/* The target's LED report arrives in the middle of hid/ sending a key (the
 * sim is synchronous); it is handed back to hid/ from the loop instead. */
static void
sim_led_out(void *ctx, const uint8_t *report, size_t len)
{
	struct fw_daemon *d = ctx;

	if (len >= 1)
		d->led_pending = report[0];
}

/* The USB host wrote the keyboard's LED output report. */
static void
gadget_led(void *ctx, const uint8_t *report, size_t len)
{
	struct fw_daemon *d = ctx;

	if (d->hid != NULL && hid_led_report(d->hid, report, len) < 0)
		fw__log(FW_LOG_WARN, "hid: malformed %zu-byte LED report dropped", len);
}

/* A host that comes back has forgotten every key: forget them too. */
static void
gadget_host(void *ctx, bool present)
{
	struct fw_daemon *d = ctx;

	if (present && d->hid != NULL)
		hid_release(d->hid, -1);
	if (!present && pasting(d))
		paste_end(d, "cancelled: the USB host is gone");
}

/* hid/ says the LEDs as its report's bits, rfb/ hears common/input.h's. */
static unsigned
leds_from_hid(uint8_t hid_leds)
{
	return (hid_leds & HID_LED_NUM ? WK_LED_NUM : 0) | (hid_leds & HID_LED_CAPS ? WK_LED_CAPS : 0) |
	       (hid_leds & HID_LED_SCROLL ? WK_LED_SCROLL : 0);
}

static void
on_leds(void *ctx, uint8_t leds)
{
	struct fw_daemon *d = ctx;

	fw__log(FW_LOG_DEBUG, "target LEDs: num %d caps %d scroll %d",
		!!(leds & HID_LED_NUM), !!(leds & HID_LED_CAPS), !!(leds & HID_LED_SCROLL));
	if (d->rfb != NULL)
		rfb_set_leds(d->rfb, leds_from_hid(leds));
}

static void
flush_leds(struct fw_daemon *d)
{
	uint8_t b;

	while (d->led_pending >= 0) {
		b = (uint8_t)d->led_pending;
		d->led_pending = -1;
		if (hid_led_report(d->hid, &b, 1) < 0)
			fw__log(FW_LOG_WARN, "hid: LED report 0x%02x dropped", b);
	}
}

/* ---- rfb input ---- */

static bool
pasting(const struct fw_daemon *d)
{
	return d->paste.ks != NULL;
}

/* While a text is typed, a viewer's keys wait for its end: typed in the
 * middle of it they would change its characters (a held Shift) or land
 * between them. */
static int
hold_key(struct fw_daemon *d, const struct fw_held_key *k)
{
	if (fw_held_push(&d->held, k) == 0)
		return 0;
	if (!d->held_full_told)
		fw__log(FW_LOG_WARN, "hid: %d key events already wait for the text being typed; more are dropped",
			FW_HELD_MAX);
	d->held_full_told = true;
	return HID_EIO;
}

static int
apply_key(struct fw_daemon *d, const struct fw_held_key *k)
{
	int rc;

	if (!k->xt)
		return hid_key_keysym(d->hid, k->viewer, k->keysym, k->down);
	rc = hid_key_xt(d->hid, k->viewer, k->code, k->down);
	/* A scancode we have no usage for: the keysym may still say it. */
	if (rc == HID_EUNMAPPED && k->keysym != 0)
		rc = hid_key_keysym(d->hid, k->viewer, k->keysym, k->down);
	return rc;
}

static int
in_key_sym(void *ctx, int viewer, uint32_t keysym, bool down)
{
	struct fw_daemon *d = ctx;
	struct fw_held_key k = { .viewer = viewer, .keysym = keysym, .down = down };

	d->last_input_us = now_us();
	return pasting(d) ? hold_key(d, &k) : apply_key(d, &k);
}

static int
in_key_xt(void *ctx, int viewer, uint32_t xt, uint32_t keysym, bool down)
{
	struct fw_daemon *d = ctx;
	struct fw_held_key k = { .viewer = viewer, .xt = true, .code = xt, .keysym = keysym, .down = down };

	d->last_input_us = now_us();
	return pasting(d) ? hold_key(d, &k) : apply_key(d, &k);
}

/* buttons: WK_BTN_* and WK_WHEEL_* from rfb/, as hid/ takes them. */
static int
in_pointer(void *ctx, int viewer, int x, int y, int w, int h, uint32_t buttons)
{
	struct fw_daemon *d = ctx;

	d->last_input_us = now_us();
	return hid_pointer(d->hid, viewer, x, y, w, h, buttons);
}

static int
in_release(void *ctx, int viewer)
{
	struct fw_daemon *d = ctx;

	/* Its keys held back must not come back after it has gone. */
	fw_held_drop_viewer(&d->held, viewer);
	return hid_release(d->hid, viewer);
}

static int
in_power(void *ctx, enum rfb_power action)
{
	struct fw_daemon *d = ctx;

	return board_power(d->board, action == RFB_POWER_OFF ? BOARD_POWER_OFF :
			   action == RFB_POWER_REBOOT ? BOARD_POWER_REBOOT : BOARD_POWER_RESET);
}

/* ---- text typed as keystrokes ---- */

/* Ends the text being typed (all of it typed, or cancelled), lets go of
 * its key and types what the viewers pressed meanwhile. */
static void
paste_end(struct fw_daemon *d, const char *why)
{
	struct fw_held_key k;
	size_t left;

	if (!pasting(d))
		return;
	left = d->paste.n - d->paste_i;
	double secs = (double)(now_us() - d->paste_t0_us) / 1e6;
	fw__log(left ? FW_LOG_WARN : FW_LOG_INFO, "type: %s, %zu of %zu characters typed in %.2f s (%.1f/s)",
		why, d->paste_i, d->paste.n, secs, secs > 0 ? (double)d->paste_i / secs : 0.0);
	fw_paste_plan_free(&d->paste);
	d->paste_i = 0;
	d->paste_up = false;
	hid_release(d->hid, VIEWER_CONTROL);
	while (fw_held_pop(&d->held, &k))
		apply_key(d, &k);
	d->held_full_told = false;
	flush_leds(d);
}

/* Milliseconds until the next step may go, for poll(); -1 when none. */
static int
paste_wait_ms(const struct fw_daemon *d, uint64_t now)
{
	if (!pasting(d))
		return -1;
	/* Waiting for the host to read the reports: POLLOUT wakes us. */
	if (d->gadget != NULL && hid_gadget_queued(d->gadget, HID_IFACE_KEYBOARD) > 0)
		return -1;
	return d->paste_next_us <= now ? 0 : (int)((d->paste_next_us - now + 999) / 1000);
}

/* One step is one key's press or release: the reports it makes leave
 * before the next step, and the pause comes after them, so a target that
 * reads slower than the pace sets the pace itself. */
static void
paste_step(struct fw_daemon *d)
{
	uint64_t now = now_us();

	for (int budget = 64; pasting(d) && budget > 0; budget--) {
		if (paste_wait_ms(d, now) != 0)
			return;
		hid_key_keysym(d->hid, VIEWER_CONTROL, d->paste.ks[d->paste_i], !d->paste_up);
		flush_leds(d);
		if (d->paste_up)
			d->paste_i++;
		d->paste_up = !d->paste_up;
		d->last_input_us = now;
		d->paste_next_us = now + d->paste_delay_us;
		if (d->paste_i == d->paste.n)
			paste_end(d, "done");
		else if (d->paste_delay_us > 0 || d->gadget != NULL)
			return;
	}
}

/* ---- frames ---- */

static const char *
nosignal_reason(const struct fw_daemon *d)
{
	unsigned have, lit;

	switch (d->state) {
	case CAP_STATE_NO_DEVICE: return "capture device not found - retrying";
	case CAP_STATE_ERROR: return "capture device error - retrying";
	default: break;
	}
	if (board_leds(d->board, &have, &lit) == 0 && (have & BOARD_LED_POWER) && !(lit & BOARD_LED_POWER))
		return "target is powered off";
	return "no signal from the target - check cable and power";
}

static void
show_nosignal(struct fw_daemon *d, uint64_t now)
{
	struct cap_frame f;
	int w, h;

	rfb_size(d->rfb, &w, &h);
	if ((size_t)w * h * 4 != d->nosignal_size) {
		uint8_t *p = realloc(d->nosignal, (size_t)w * h * 4);

		if (p == NULL)
			return;
		d->nosignal = p;
		d->nosignal_size = (size_t)w * h * 4;
	}
	fw_draw_nosignal(d->nosignal, w, h, nosignal_reason(d),
			 (unsigned)((now - d->nosignal_since_us) / 1000000u));
	/* Stable: drawn only here, and a new buffer reaches rfb/ at once, so
	 * rfb/ shows it in place instead of keeping a copy. */
	f = (struct cap_frame){ .fmt = CAP_FMT_XRGB32, .width = w, .height = h, .stride = w * 4,
				.size = d->nosignal_size, .data = d->nosignal, .ts_us = now,
				.stable = true };
	rfb_frame(d->rfb, &f);
	d->shown = d->nosignal;
	d->nosignal_drawn_us = now;
}

static void
count_frame(struct fw_daemon *d, uint64_t now)
{
	d->frames++;
	d->fps_frames++;
	if (now - d->fps_t0_us >= 1000000u) {
		d->fps = d->fps_frames * 1e6 / (double)(now - d->fps_t0_us);
		d->fps_frames = 0;
		d->fps_t0_us = now;
	}
}

static void
capture_step(struct fw_daemon *d)
{
	struct cap_frame f;
	uint64_t now = now_us();
	enum cap_state st;
	int rc = cap_grab(d->cap, &f);

	if (rc == 0) {
		bool idle = now - d->last_change_us > IDLE_AFTER_US &&
			    now - d->last_input_us > IDLE_AFTER_US;

		if (d->state != CAP_STATE_OK) {
			fw__log(FW_LOG_INFO, "capture: picture back: %s", cap_describe(d->cap));
			idle = false;
		}
		d->state = CAP_STATE_OK;
		count_frame(d, now);
		/* rfb/ may be showing a stable frame's buffer in place: a frame
		 * in another buffer (the old one may be gone) is never skipped. */
		if (f.stable && f.data != d->shown)
			idle = false;
		if (!idle) {
			d->idle_skip = 0;
		} else {
			uint64_t still = now - (d->last_change_us > d->last_input_us ? d->last_change_us
										   : d->last_input_us);
			unsigned every = still > DEEP_IDLE_AFTER_US ? DEEP_IDLE_DIFF_EVERY : IDLE_DIFF_EVERY;

			if (d->idle_skip++ % every != 0)
				return;
		}
		rc = rfb_frame(d->rfb, &f);
		/* After a failure rfb/ may still hold an older buffer: no
		 * frame is skipped until one has gone through. */
		d->shown = f.stable && rc >= 0 ? f.data : NULL;
		if (rc < 0)
			fw__log(FW_LOG_DEBUG, "frame %llu dropped: %s",
				(unsigned long long)f.seq, cap_strerror(rc));
		else if (rc > 0)
			d->last_change_us = now;
		return;
	}
	if (rc == CAP_EAGAIN)
		return;
	st = cap_state(d->cap);
	if (st == CAP_STATE_OK)
		st = CAP_STATE_NO_SIGNAL;
	if (d->state == CAP_STATE_OK || st != d->state) {
		if (d->state == CAP_STATE_OK)
			d->nosignal_since_us = now;
		fw__log(FW_LOG_INFO, "capture: %s (%s)", cap_state_name(st), cap_strerror(rc));
		d->state = st;
		d->fps = 0;
		show_nosignal(d, now);
	} else if (now - d->nosignal_drawn_us >= 1000000u) {
		show_nosignal(d, now);
	}
}

/* ---- control requests ---- */

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

static void
reply_error(char *resp, size_t len, const char *msg)
{
	char q[512];

	fw_json_quote(q, sizeof(q), msg);
	snprintf(resp, len, "{\"ok\":false,\"error\":%s}", q);
}

static void
ctl_status(struct fw_daemon *d, char *resp, size_t len)
{
	char board[80], src[400];
	uint8_t leds = hid_leds(d->hid);
	int w, h, n;

	rfb_size(d->rfb, &w, &h);
	fw_json_quote(board, sizeof(board), d->cfg.board);
	fw_json_quote(src, sizeof(src), cap_describe(d->cap));
	/* The keyboard and mouse state follows inside the same object. */
	n = snprintf(resp, len,
		     "{\"ok\":true,\"board\":%s,\"source\":%s,\"width\":%d,\"height\":%d,"
		     "\"fps\":%.1f,\"frames\":%llu,\"signal\":\"%s\",\"viewers\":%d,"
		     "\"leds\":{\"num\":%s,\"caps\":%s,\"scroll\":%s},\"bytes_sent\":%llu,",
		     board, src, w, h, d->fps, (unsigned long long)d->frames, state_word(d->state),
		     rfb_viewer_count(d->rfb),
		     leds & HID_LED_NUM ? "true" : "false", leds & HID_LED_CAPS ? "true" : "false",
		     leds & HID_LED_SCROLL ? "true" : "false",
		     (unsigned long long)rfb_bytes_sent(d->rfb));
	if (n < 0 || (size_t)n + 2 >= len) {
		reply_error(resp, len, "status: answer too long");
		return;
	}
	hid_state_json(d, resp + n, len - (size_t)n - 1);	/* room for the brace */
	n = (int)strlen(resp);
	resp[n] = '}';
	resp[n + 1] = '\0';
}

static void
ctl_type(struct fw_daemon *d, const struct fw_json *req, char *resp, size_t len)
{
	const struct fw_json_member *t = fw_json_get(req, "text");
	const struct fw_json_member *dl = fw_json_get(req, "delay_ms");
	unsigned delay_ms = (unsigned)d->cfg.paste_delay_ms;
	struct fw_paste_plan plan;
	char msg[200];
	int rc;

	if (t == NULL || t->type != FW_JSON_STRING) {
		reply_error(resp, len, "type: needs \"text\": a string");
		return;
	}
	if (dl != NULL) {
		if (dl->type != FW_JSON_NUMBER || dl->num < 0 || dl->num > 1000 || dl->num != (long long)dl->num) {
			reply_error(resp, len, "type: \"delay_ms\" must be a whole number from 0 to 1000");
			return;
		}
		delay_ms = (unsigned)dl->num;
	}
	if (pasting(d)) {
		snprintf(msg, sizeof(msg), "type: a paste is running (%zu characters left); cancel it first",
			 d->paste.n - d->paste_i);
		reply_error(resp, len, msg);
		return;
	}
	if (d->gadget != NULL && !hid_gadget_host_present(d->gadget)) {
		reply_error(resp, len, "type: no USB host reads the keyboard (target off or cable out)");
		return;
	}
	/* Refuse the whole text before typing anything if one character
	 * cannot be typed: half a password typed is worse than none. */
	rc = fw_paste_plan(hid_get_layout(d->hid), t->str, t->str_len, &plan);
	if (rc == FW_PASTE_EUNTYPABLE) {
		char q[256];

		snprintf(msg, sizeof(msg), "type: %zu character%s cannot be typed on the %s layout, first U+%04X; nothing typed",
			 plan.n_bad, plan.n_bad == 1 ? "" : "s", hid_layout_name(hid_get_layout(d->hid)),
			 plan.first_bad);
		fw_json_quote(q, sizeof(q), msg);
		snprintf(resp, len, "{\"ok\":false,\"error\":%s,\"untypable\":%s}", q, plan.bad_json);
		fw_paste_plan_free(&plan);
		return;
	}
	if (rc < 0) {
		reply_error(resp, len, rc == FW_PASTE_EUTF8 ? "type: text is not valid UTF-8" : "type: out of memory");
		return;
	}
	if (plan.n == 0) {
		fw_paste_plan_free(&plan);
		snprintf(resp, len, "{\"ok\":true,\"typed\":0}");
		return;
	}
	/* From nothing pressed: a Shift a viewer holds would change every
	 * character. */
	hid_release(d->hid, -1);
	d->paste = plan;
	d->paste_i = 0;
	d->paste_up = false;
	d->paste_delay_us = delay_ms * 1000u;
	d->paste_next_us = 0;
	d->paste_t0_us = d->last_input_us = now_us();
	fw__log(FW_LOG_INFO, "type: %zu characters, %u ms between reports", plan.n, delay_ms);
	paste_step(d);
	snprintf(resp, len, "{\"ok\":true,\"typed\":%zu}", plan.n);
}

static void
ctl_cancel(struct fw_daemon *d, char *resp, size_t len)
{
	size_t left = pasting(d) ? d->paste.n - d->paste_i : 0;

	paste_end(d, "cancelled");
	snprintf(resp, len, "{\"ok\":true,\"cancelled\":%zu}", left);
}

static const char *
mode_name(enum hid_pointer_mode m)
{
	return m == HID_POINTER_RELATIVE ? "relative" : "absolute";
}

/* The pointer mode a profile leaves: the one asked for when it has it. */
static enum hid_pointer_mode
mode_for(enum hid_profile p, enum hid_pointer_mode want)
{
	unsigned m = hid_profile_ifaces(p);

	if (want == HID_POINTER_RELATIVE && !(m & 1u << HID_IFACE_MOUSE) && (m & 1u << HID_IFACE_POINTER))
		return HID_POINTER_ABSOLUTE;
	if (want == HID_POINTER_ABSOLUTE && !(m & 1u << HID_IFACE_POINTER) && (m & 1u << HID_IFACE_MOUSE))
		return HID_POINTER_RELATIVE;
	return want;
}

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
		n += (size_t)snprintf(out + n, len - n,
				      "],\"mouse\":\"%s\",\"mice\":[%s%s%s],\"profile\":\"%s\","
				      "\"profiles\":[\"full\",\"absolute\",\"relative\",\"keyboard\"],"
				      "\"paste\":{\"active\":%s,\"left\":%zu,\"delay_ms\":%d}",
				      mode_name(hid_get_pointer_mode(d->hid)),
				      m & 1u << HID_IFACE_POINTER ? "\"absolute\"" : "",
				      (m & 1u << HID_IFACE_POINTER) && (m & 1u << HID_IFACE_MOUSE) ? "," : "",
				      m & 1u << HID_IFACE_MOUSE ? "\"relative\"" : "",
				      hid_profile_name(d->profile), pasting(d) ? "true" : "false",
				      pasting(d) ? d->paste.n - d->paste_i : 0, d->cfg.paste_delay_ms);
}

static int
set_profile(struct fw_daemon *d, enum hid_profile p)
{
	if (p == d->profile)
		return 0;
	if (d->gadget != NULL && hid_gadget_set_profile(d->gadget, p) < 0)
		return -1;
	fw__log(FW_LOG_INFO, "hid: profile %s", hid_profile_name(p));
	d->profile = p;
	hid_set_ifaces(d->hid, hid_profile_ifaces(p));
	hid_set_pointer_mode(d->hid, mode_for(p, hid_get_pointer_mode(d->hid)));
	return 0;
}

/* Reads and sets the keyboard layout, the pointer mode and the gadget
 * profile; everything asked is checked before anything changes. */
static void
ctl_hid(struct fw_daemon *d, const struct fw_json *req, char *resp, size_t len)
{
	const struct fw_json_member *l = fw_json_get(req, "layout");
	const struct fw_json_member *m = fw_json_get(req, "mouse");
	const struct fw_json_member *p = fw_json_get(req, "profile");
	int layout = hid_get_layout(d->hid), profile = d->profile;
	enum hid_pointer_mode mode = hid_get_pointer_mode(d->hid);
	char msg[160], st[1024];

	if (l != NULL && (l->type != FW_JSON_STRING || (layout = hid_layout_find(l->str)) < 0)) {
		snprintf(msg, sizeof(msg), "hid: \"layout\" must be one of the \"layouts\" (en-us, de, fr, ...)");
		reply_error(resp, len, msg);
		return;
	}
	if (p != NULL && (p->type != FW_JSON_STRING || (profile = hid_profile_find(p->str)) < 0)) {
		reply_error(resp, len, "hid: \"profile\" must be full, absolute, relative or keyboard");
		return;
	}
	if (m != NULL) {
		if (m->type != FW_JSON_STRING || (strcmp(m->str, "absolute") && strcmp(m->str, "relative"))) {
			reply_error(resp, len, "hid: \"mouse\" must be absolute or relative");
			return;
		}
		mode = strcmp(m->str, "relative") == 0 ? HID_POINTER_RELATIVE : HID_POINTER_ABSOLUTE;
		if (!(hid_profile_ifaces(profile) &
		      1u << (mode == HID_POINTER_RELATIVE ? HID_IFACE_MOUSE : HID_IFACE_POINTER))) {
			snprintf(msg, sizeof(msg), "hid: the %s profile has no %s pointer", hid_profile_name(profile),
				 mode_name(mode));
			reply_error(resp, len, msg);
			return;
		}
	}
	if (profile != (int)d->profile && set_profile(d, profile) < 0) {
		reply_error(resp, len, "hid: the gadget could not be rebuilt with that profile (see the log)");
		return;
	}
	if (m != NULL)
		hid_set_pointer_mode(d->hid, mode);
	if (layout != hid_get_layout(d->hid)) {
		/* Keys held keep the layout they went down with. */
		hid_set_layout(d->hid, layout);
		if (d->sim != NULL)
			sim_set_layout(d->sim, layout);
		fw__log(FW_LOG_INFO, "hid: layout %s", hid_layout_name(layout));
	}
	hid_state_json(d, st, sizeof(st));
	snprintf(resp, len, "{\"ok\":true,%s}", st);
}

static void
ctl_key(struct fw_daemon *d, const struct fw_json *req, char *resp, size_t len)
{
	const struct fw_json_member *k = fw_json_get(req, "keys");
	uint32_t ks[FW_JSON_MAX_ITEMS];
	char msg[160];

	if (k == NULL || k->type != FW_JSON_ARRAY || k->n_items == 0) {
		reply_error(resp, len, "key: needs \"keys\": an array of key names, e.g. [\"ctrl\",\"alt\",\"delete\"]");
		return;
	}
	for (int i = 0; i < k->n_items; i++) {
		if ((ks[i] = fw_key_by_name(k->items[i])) == 0) {
			snprintf(msg, sizeof(msg), "key: unknown key name \"%.40s\"", k->items[i]);
			reply_error(resp, len, msg);
			return;
		}
	}
	if (pasting(d)) {
		reply_error(resp, len, "key: a paste is running; cancel it first");
		return;
	}
	d->last_input_us = now_us();
	/* A chord: press in order, release in reverse. */
	for (int i = 0; i < k->n_items; i++)
		hid_key_keysym(d->hid, VIEWER_CONTROL, ks[i], true);
	for (int i = k->n_items - 1; i >= 0; i--)
		hid_key_keysym(d->hid, VIEWER_CONTROL, ks[i], false);
	flush_leds(d);
	snprintf(resp, len, "{\"ok\":true}");
}

static void
ctl_power(struct fw_daemon *d, const struct fw_json *req, char *resp, size_t len)
{
	const struct fw_json_member *a = fw_json_get(req, "action");
	char msg[160];
	int act, rc;

	if (a == NULL || a->type != FW_JSON_STRING) {
		reply_error(resp, len, "power: needs \"action\": on, off, force-off, reset or reboot");
		return;
	}
	if ((act = board_power_parse(a->str)) < 0) {
		reply_error(resp, len, "power: action must be on, off, force-off, reset or reboot");
		return;
	}
	if ((rc = board_power(d->board, (enum board_power)act)) < 0) {
		snprintf(msg, sizeof(msg), "power %s: %s (board %s)", a->str, board_strerror(rc), d->cfg.board);
		reply_error(resp, len, msg);
		return;
	}
	fw__log(FW_LOG_INFO, "control: power %s", a->str);
	snprintf(resp, len, "{\"ok\":true}");
}

/* What the virtual target has received (board sim only): for tests. */
static void
ctl_target(struct fw_daemon *d, char *resp, size_t len)
{
	char q[SIM_LINE_QUOTED];
	int x, y;

	if (d->sim == NULL) {
		reply_error(resp, len, "target: this board has no virtual target in the daemon (board sim has)");
		return;
	}
	uint8_t mods, keys[6];
	char held[64] = "";

	fw_json_quote(q, sizeof(q), sim_line(d->sim));
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
ctl_layout(struct fw_daemon *d, const struct fw_json *req, char *resp, size_t len)
{
	const struct fw_json_member *nm = fw_json_get(req, "name");
	int l = hid_get_layout(d->hid);
	size_t n;

	if (nm != NULL && (nm->type != FW_JSON_STRING || (l = hid_layout_find(nm->str)) < 0)) {
		reply_error(resp, len, "layout: \"name\" must be a layout the \"hid\" request lists");
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
		reply_error(resp, len, "layout: answer too long");
}

void
fw_daemon_control(void *ctx, const struct fw_json *req, char *resp, size_t resplen)
{
	struct fw_daemon *d = ctx;
	const struct fw_json_member *cmd = fw_json_get(req, "cmd");

	if (cmd == NULL || cmd->type != FW_JSON_STRING) {
		reply_error(resp, resplen, "request needs \"cmd\": status, hid, type, cancel, key, power or release");
		return;
	}
	if (strcmp(cmd->str, "status") == 0)
		ctl_status(d, resp, resplen);
	else if (strcmp(cmd->str, "type") == 0)
		ctl_type(d, req, resp, resplen);
	else if (strcmp(cmd->str, "key") == 0)
		ctl_key(d, req, resp, resplen);
	else if (strcmp(cmd->str, "power") == 0)
		ctl_power(d, req, resp, resplen);
	else if (strcmp(cmd->str, "hid") == 0)
		ctl_hid(d, req, resp, resplen);
	else if (strcmp(cmd->str, "cancel") == 0)
		ctl_cancel(d, resp, resplen);
	else if (strcmp(cmd->str, "target") == 0)
		ctl_target(d, resp, resplen);
	else if (strcmp(cmd->str, "layout") == 0)
		ctl_layout(d, req, resp, resplen);
	else if (strcmp(cmd->str, "release") == 0) {
		hid_release(d->hid, -1);
		snprintf(resp, resplen, "{\"ok\":true}");
	} else {
		char msg[96];

		snprintf(msg, sizeof(msg), "unknown cmd \"%.40s\"", cmd->str);
		reply_error(resp, resplen, msg);
	}
}

/* ---- setup and loop ---- */

static int
open_capture(struct fw_daemon *d, char *err, size_t errlen)
{
	const struct fw_config *c = &d->cfg;
	struct cap_options o = { 0 };
	const char *src = c->source;
	int rc;

	o.width = c->width;
	o.height = c->height;
	o.fps = c->fps;
	if (strcmp(src, "sim") == 0) {
		o.kind = CAP_SRC_CALLBACK;
		o.render = sim_render;
		o.render_ctx = d->sim;
		/* sim_render paints only inside the call and keeps its buffer
		 * until a resize, which returns the new one. */
		o.render_stable = true;
		if (o.fps == 0)
			o.fps = 60;
	} else if (strcmp(src, "pattern") == 0) {
		o.kind = CAP_SRC_PATTERN;
	} else if (strcmp(src, "file") == 0) {
		o.kind = CAP_SRC_FILE;
		o.path = c->device;
		o.file_fmt = c->file_format;
	} else {
		o.kind = CAP_SRC_V4L2;
		o.path = c->device[0] ? c->device : "/dev/video0";
		memcpy(o.formats, c->formats, sizeof(o.formats));
		o.edid_path = c->edid[0] ? c->edid : NULL;
		o.n_buffers = c->buffers;
	}
	if ((d->cap = cap_open(&o, &rc)) == NULL) {
		snprintf(err, errlen, "capture (%s): %s", src, cap_strerror(rc));
		return -1;
	}
	fw__log(FW_LOG_INFO, "capture: %s", cap_describe(d->cap));
	return 0;
}

int
fw_daemon_new(const struct fw_config *cfg, struct fw_daemon **out, char *err, size_t errlen)
{
	struct fw_daemon *d = calloc(1, sizeof(*d));
	struct hid_transport tr;
	struct rfb_input in = {
		.key_sym = in_key_sym, .key_xt = in_key_xt, .pointer = in_pointer,
		.release = in_release,
	};
	struct rfb_options ro = { 0 };
	struct board_def def;
	char name[160];
	sigset_t sigs;
	int rc;

	if (d == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	d->cfg = *cfg;
	d->sigfd = -1;
	d->led_pending = -1;
	d->state = CAP_STATE_OK;
	d->fps_t0_us = now_us();
	if (fw_config_apply_board(&d->cfg, &def, err, errlen) < 0 ||
	    fw_config_check(&d->cfg, err, errlen) < 0 ||
	    board_open(&def, d->cfg.width, d->cfg.height, &d->board, err, errlen) < 0)
		goto fail;
	/* XVP's power buttons only where power control works. */
	if (board_has_power(d->board))
		in.power = in_power;

	if ((d->sim = board_sim_target(d->board)) != NULL) {
		sim_set_led_out(d->sim, sim_led_out, d);
		tr = (struct hid_transport){ .send = sim_send, .ctx = d };
	} else {
		/* Every real board is a USB HID gadget.  Without one (no
		 * configfs, no UDC: a development machine) video still works
		 * and input is dropped, said once. */
		struct hid_gadget_options go = {
			.udc = d->cfg.udc[0] ? d->cfg.udc : NULL,
			.profile = (enum hid_profile)d->cfg.hid_profile,
			.on_led = gadget_led, .on_host = gadget_host, .ctx = d,
		};

		if (hid_gadget_open(&go, &d->gadget) == 0) {
			tr = hid_gadget_transport(d->gadget);
		} else {
			fw__log(FW_LOG_ERROR, "hid: no USB HID gadget on this machine; keyboard and mouse input is dropped");
			d->gadget = NULL;
			tr = (struct hid_transport){ .send = null_send, .ctx = d };
		}
	}
	if ((d->hid = hid_new(&tr, on_leds, d)) == NULL) {
		snprintf(err, errlen, "hid: out of memory");
		goto fail;
	}
	d->profile = (enum hid_profile)d->cfg.hid_profile;
	hid_set_ifaces(d->hid, hid_profile_ifaces(d->profile));
	hid_set_relative_scale(d->hid, d->cfg.mouse_num, d->cfg.mouse_den);
	if (mode_for(d->profile, (enum hid_pointer_mode)d->cfg.mouse) != (enum hid_pointer_mode)d->cfg.mouse)
		fw__log(FW_LOG_WARN, "hid: the %s profile has no %s pointer; starting in %s mode",
			hid_profile_name(d->profile), mode_name((enum hid_pointer_mode)d->cfg.mouse),
			mode_name(mode_for(d->profile, (enum hid_pointer_mode)d->cfg.mouse)));
	hid_set_pointer_mode(d->hid, mode_for(d->profile, (enum hid_pointer_mode)d->cfg.mouse));
	if (d->cfg.layout[0] != '\0') {
		int l = hid_layout_find(d->cfg.layout);

		/* The virtual target reads its keyboard with the same layout,
		 * as a PC configured for it would. */
		hid_set_layout(d->hid, l);
		if (d->sim != NULL)
			sim_set_layout(d->sim, l);
	}
	if (open_capture(d, err, errlen) < 0)
		goto fail;

	in.ctx = d;
	snprintf(name, sizeof(name), "webkvm (%s)", d->cfg.board);
	ro.listen = d->cfg.rfb_listen;
	ro.password_file = d->cfg.rfb_password_file[0] ? d->cfg.rfb_password_file : NULL;
	ro.view_only = d->cfg.view_only;
	ro.desktop_name = d->cfg.desktop_name[0] ? d->cfg.desktop_name : name;
	ro.width = d->cfg.width ? d->cfg.width : 1280;
	ro.height = d->cfg.height ? d->cfg.height : 720;
	ro.tile_w = ro.tile_h = d->cfg.tile;
	if ((d->rfb = rfb_new(&ro, &in, &rc)) == NULL) {
		snprintf(err, errlen, "rfb: %s (%s)", rfb_strerror(rc), d->cfg.rfb_listen);
		goto fail;
	}
	if (d->cfg.control[0] != '\0' &&
	    (d->ctl = fw_control_new(d->cfg.control, d->cfg.control_group, fw_daemon_control, d,
					 err, errlen)) == NULL)
		goto fail;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	if ((d->sigfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
		snprintf(err, errlen, "signalfd: %s", strerror(errno));
		goto fail;
	}
	*out = d;
	return 0;
fail:
	fw_daemon_free(d);
	return -1;
}

void
fw_daemon_free(struct fw_daemon *d)
{
	if (d == NULL)
		return;
	fw_control_free(d->ctl);
	fw_paste_plan_free(&d->paste);
	if (d->hid != NULL)
		hid_release(d->hid, -1);
	rfb_free(d->rfb);
	cap_close(d->cap);
	hid_free(d->hid);
	hid_gadget_close(d->gadget);
	board_close(d->board);
	if (d->sigfd >= 0)
		close(d->sigfd);
	free(d->nosignal);
	free(d);
}

int
fw_daemon_run(struct fw_daemon *d)
{
	struct pollfd pfd[MAX_POLL];

	for (;;) {
		int n = 0, cfd = cap_fd(d->cap), timeout = cap_wait_ms(d->cap);

		pfd[n++] = (struct pollfd){ .fd = d->sigfd, .events = POLLIN };
		if (cfd >= 0)
			pfd[n++] = (struct pollfd){ .fd = cfd, .events = POLLIN | POLLPRI };
		if (d->ctl != NULL)
			n += fw_control_pollfds(d->ctl, pfd + n, MAX_POLL - n);
		n += rfb_pollfds(d->rfb, pfd + n, MAX_POLL - n);
		if (d->gadget != NULL)
			n += hid_gadget_pollfds(d->gadget, pfd + n, MAX_POLL - n);
		if (d->state != CAP_STATE_OK && timeout > 1000)
			timeout = 1000;
		int pw = paste_wait_ms(d, now_us());
		if (pw >= 0 && (timeout < 0 || pw < timeout))
			timeout = pw;
		if (poll(pfd, (nfds_t)n, timeout) < 0 && errno != EINTR) {
			fw__log(FW_LOG_ERROR, "poll: %s", strerror(errno));
			return -1;
		}
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(d->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				fw__log(FW_LOG_INFO, "signal %u: stopping", si.ssi_signo);
				return 0;
			}
		}
		capture_step(d);
		if (d->ctl != NULL)
			fw_control_process(d->ctl);
		rfb_process(d->rfb);
		if (d->gadget != NULL)
			hid_gadget_process(d->gadget);
		paste_step(d);
		flush_leds(d);
	}
}
