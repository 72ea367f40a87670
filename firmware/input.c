/* The input router: the viewers' keys and pointer from rfb/ into hid/,
 * their keys held back while a text is typed, and a leaver's keys let go. */
#include "common/clock.h"
#include "common/log.h"
#include "firmware/daemon_int.h"

/* While a text is typed, a viewer's keys wait for its end: typed in the
 * middle of it they would change its characters (a held Shift) or land
 * between them. */
static int
hold_key(struct fw_daemon *d, const struct fw_held_key *k)
{
	if (fw_held_push(&d->held, k) == 0)
		return 0;
	if (!d->held_full_told)
		wk_log("webkvmd", WK_LOG_WARN,
		       "hid: %d key events already wait for the text being typed; more are dropped",
		       FW_HELD_MAX);
	d->held_full_told = true;
	return HID_EIO;
}

int
fw__apply_key(struct fw_daemon *d, const struct fw_held_key *k)
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

	d->last_input_us = wk_now_us();
	return fw__pasting(d) ? hold_key(d, &k) : fw__apply_key(d, &k);
}

static int
in_key_xt(void *ctx, int viewer, uint32_t xt, uint32_t keysym, bool down)
{
	struct fw_daemon *d = ctx;
	struct fw_held_key k = { .viewer = viewer, .xt = true, .code = xt, .keysym = keysym, .down = down };

	d->last_input_us = wk_now_us();
	return fw__pasting(d) ? hold_key(d, &k) : fw__apply_key(d, &k);
}

static int
in_pointer(void *ctx, int viewer, int x, int y, int w, int h, uint32_t buttons)
{
	struct fw_daemon *d = ctx;

	d->last_input_us = wk_now_us();
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

void
fw__input_sink(struct fw_daemon *d, struct rfb_input *in)
{
	in->key_sym = in_key_sym;
	in->key_xt = in_key_xt;
	in->pointer = in_pointer;
	in->release = in_release;
	in->ctx = d;
}
