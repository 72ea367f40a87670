#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "board/board.h"
#include "board/sim/sim.h"
#include "common/clock.h"
#include "common/log.h"
#include "firmware/control.h"
#include "firmware/daemon_int.h"
#include "firmware/log.h"
#include "hid/gadget.h"

#define MAX_POLL 128
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

/* ---- hid transport and LEDs ---- */

static int
sim_send(void *ctx, enum hid_iface iface, const uint8_t *buf, size_t len)
{
	struct fw_daemon *d = ctx;

	return sim_hid_input(d->sim, (int)iface, buf, len) < 0 ? HID_EIO : 0;
}

/* The transport when no USB HID gadget could be made (no configfs or no
 * UDC: a development machine).  fw_daemon_new said so at start; the first
 * report dropped says it again, once, for whoever is typing and wonders
 * why nothing arrives. */
static int
null_send(void *ctx, enum hid_iface iface, const uint8_t *buf, size_t len)
{
	static bool told;

	(void)ctx, (void)iface, (void)buf, (void)len;
	if (!told)
		wk_log("webkvmd", WK_LOG_WARN,
		       "hid: input dropped: there is no USB HID gadget on this machine (see the error at start)");
	told = true;
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
	if (!present && fw__pasting(d))
		fw__paste_end(d, "cancelled: the USB host is gone");
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

void
fw__flush_leds(struct fw_daemon *d)
{
	uint8_t b;

	while (d->led_pending >= 0) {
		b = (uint8_t)d->led_pending;
		d->led_pending = -1;
		if (hid_led_report(d->hid, &b, 1) < 0)
			fw__log(FW_LOG_WARN, "hid: LED report 0x%02x dropped", b);
	}
}

static int
in_power(void *ctx, enum rfb_power action)
{
	struct fw_daemon *d = ctx;

	return board_power(d->board, action == RFB_POWER_OFF ? BOARD_POWER_OFF :
			   action == RFB_POWER_REBOOT ? BOARD_POWER_REBOOT : BOARD_POWER_RESET);
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
	uint64_t now = wk_now_us();
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
		d->diffed++;
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
	struct rfb_input in = { 0 };
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
	fw__input_sink(d, &in);
	d->sigfd = -1;
	d->led_pending = -1;
	d->state = CAP_STATE_OK;
	d->fps_t0_us = wk_now_us();
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
	if (fw__mode_for(d->profile, (enum hid_pointer_mode)d->cfg.mouse) != (enum hid_pointer_mode)d->cfg.mouse)
		fw__log(FW_LOG_WARN, "hid: the %s profile has no %s pointer; starting in %s mode",
			hid_profile_name(d->profile), fw__mode_name((enum hid_pointer_mode)d->cfg.mouse),
			fw__mode_name(fw__mode_for(d->profile, (enum hid_pointer_mode)d->cfg.mouse)));
	hid_set_pointer_mode(d->hid, fw__mode_for(d->profile, (enum hid_pointer_mode)d->cfg.mouse));
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

	snprintf(name, sizeof(name), "webkvm (%s)", d->cfg.board);
	ro.listen = d->cfg.rfb_listen;
	ro.password_file = d->cfg.rfb_password_file[0] ? d->cfg.rfb_password_file : NULL;
	ro.view_only = d->cfg.view_only;
	ro.desktop_name = d->cfg.desktop_name[0] ? d->cfg.desktop_name : name;
	ro.width = d->cfg.width ? d->cfg.width : 1280;
	ro.height = d->cfg.height ? d->cfg.height : 720;
	ro.tile_w = ro.tile_h = d->cfg.tile;
	ro.h264_off = d->cfg.h264_off;
	ro.h264_kbps = d->cfg.h264_kbps;
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
		int pw = fw__paste_wait_ms(d, wk_now_us());
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
		fw__paste_step(d);
		fw__flush_leds(d);
	}
}
