/* Text typed as keystrokes: the plan made before the first key, the
 * viewers' own keys held back while it types, and the engine that types it
 * one keyboard report step at a time, paced.
 *
 * It stays in firmware/ rather than hid/ because its pace and its holding
 * back are wiring between modules: it waits for the USB gadget's queue to
 * drain and holds back the RFB viewers' keys meanwhile, while hid/ keeps
 * the part that is its own (keysym → usages on a layout, report state). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "common/utf8.h"
#include "firmware/daemon_int.h"
#include "hid/gadget.h"
#include "hid/hid.h"

int
fw_paste_plan(int layout, const char *text, size_t len, struct fw_paste_plan *out)
{
	size_t pos = 0, used = 0;
	uint32_t cp;
	int rc, listed = 0;

	memset(out, 0, sizeof(*out));
	/* At most one keysym per byte of UTF-8. */
	if ((out->ks = malloc((len ? len : 1) * sizeof(*out->ks))) == NULL)
		return FW_PASTE_ENOMEM;
	out->bad_json[used++] = '[';
	while ((rc = wk_utf8_next(text, len, &pos, &cp)) > 0) {
		uint32_t ks = fw_keysym_of_char(cp);
		struct hid_stroke st[HID_STROKES_MAX];

		if (cp == '\r' && pos < len && text[pos] == '\n')
			continue;	/* CR LF is one Enter */
		if (ks != 0 && hid_layout_plan(layout, ks, st, HID_STROKES_MAX) > 0) {
			out->ks[out->n++] = ks;
			continue;
		}
		if (out->n_bad == 0)
			out->first_bad = cp;
		out->n_bad++;
		/* The list names each character once, where it first is. */
		bool seen = false;
		for (size_t i = 0; i < (size_t)listed && !seen; i++)
			seen = out->bad_cp[i] == cp;
		if (!seen && listed < FW_PASTE_BAD_MAX) {
			char ch[8], q[32];

			out->bad_cp[listed] = cp;
			if (cp < 0x20 || cp == 0x7f)
				snprintf(ch, sizeof(ch), "^%c", (char)(cp ^ 0x40));
			else
				ch[wk_utf8_put(cp, ch)] = '\0';
			wk_json_quote(q, sizeof(q), ch);
			used += (size_t)snprintf(out->bad_json + used, sizeof(out->bad_json) - used,
						 "%s{\"char\":%s,\"code\":\"U+%04X\",\"at\":%zu}",
						 listed ? "," : "", q, cp, out->n + out->n_bad - 1);
			listed++;
		}
	}
	snprintf(out->bad_json + used, sizeof(out->bad_json) - used, "]");
	if (rc < 0) {
		fw_paste_plan_free(out);
		return FW_PASTE_EUTF8;
	}
	return out->n_bad ? FW_PASTE_EUNTYPABLE : 0;
}

void
fw_paste_plan_free(struct fw_paste_plan *p)
{
	free(p->ks);
	p->ks = NULL;
	p->n = 0;
}

int
fw_held_push(struct fw_held *h, const struct fw_held_key *k)
{
	if (h->n == FW_HELD_MAX)
		return -1;
	h->k[(h->head + h->n) % FW_HELD_MAX] = *k;
	h->n++;
	return 0;
}

bool
fw_held_pop(struct fw_held *h, struct fw_held_key *k)
{
	if (h->n == 0)
		return false;
	*k = h->k[h->head];
	h->head = (h->head + 1) % FW_HELD_MAX;
	h->n--;
	return true;
}

size_t
fw_held_drop_viewer(struct fw_held *h, int viewer)
{
	size_t kept = 0, n = h->n;

	/* Compacts in place, order kept: a leaver's keys must not come back
	 * after it has gone (its release-all is already done). */
	for (size_t i = 0; i < n; i++) {
		struct fw_held_key k = h->k[(h->head + i) % FW_HELD_MAX];

		if (k.viewer != viewer)
			h->k[(h->head + kept++) % FW_HELD_MAX] = k;
	}
	h->n = kept;
	return n - kept;
}

/* ---- the engine ---- */

bool
fw__pasting(const struct fw_daemon *d)
{
	return d->paste.ks != NULL;
}

size_t
fw__paste_left(const struct fw_daemon *d)
{
	return fw__pasting(d) ? d->paste.n - d->paste_i : 0;
}

void
fw__paste_start(struct fw_daemon *d, struct fw_paste_plan *plan, unsigned delay_ms)
{
	if (plan->n == 0) {
		fw_paste_plan_free(plan);
		return;
	}
	/* From nothing pressed: a Shift a viewer holds would change every
	 * character. */
	hid_release(d->hid, -1);
	d->paste = *plan;
	d->paste_i = 0;
	d->paste_up = false;
	d->paste_delay_us = delay_ms * 1000u;
	d->paste_next_us = 0;
	d->paste_t0_us = d->last_input_us = wk_now_us();
	wk_log("webkvmd", WK_LOG_INFO, "type: %zu characters, %u ms between reports", plan->n, delay_ms);
	fw__paste_step(d);
}

void
fw__paste_end(struct fw_daemon *d, const char *why)
{
	struct fw_held_key k;
	size_t left;
	double secs;

	if (!fw__pasting(d))
		return;
	left = d->paste.n - d->paste_i;
	secs = (double)(wk_now_us() - d->paste_t0_us) / 1e6;
	wk_log("webkvmd", left ? WK_LOG_WARN : WK_LOG_INFO,
	       "type: %s, %zu of %zu characters typed in %.2f s (%.1f/s)", why, d->paste_i, d->paste.n,
	       secs, secs > 0 ? (double)d->paste_i / secs : 0.0);
	fw_paste_plan_free(&d->paste);
	d->paste_i = 0;
	d->paste_up = false;
	hid_release(d->hid, FW_VIEWER_CONTROL);
	while (fw_held_pop(&d->held, &k))
		fw__apply_key(d, &k);
	d->held_full_told = false;
	fw__flush_leds(d);
}

int
fw__paste_wait_ms(const struct fw_daemon *d, uint64_t now)
{
	if (!fw__pasting(d))
		return -1;
	/* Waiting for the host to read the reports: POLLOUT wakes us. */
	if (d->gadget != NULL && hid_gadget_queued(d->gadget, HID_IFACE_KEYBOARD) > 0)
		return -1;
	return d->paste_next_us <= now ? 0 : (int)((d->paste_next_us - now + 999) / 1000);
}

/* One step is one key's press or release: the reports it makes leave
 * before the next step, and the pause comes after them, so a target that
 * reads slower than the pace sets the pace itself. */
void
fw__paste_step(struct fw_daemon *d)
{
	uint64_t now = wk_now_us();

	for (int budget = 64; fw__pasting(d) && budget > 0; budget--) {
		if (fw__paste_wait_ms(d, now) != 0)
			return;
		hid_key_keysym(d->hid, FW_VIEWER_CONTROL, d->paste.ks[d->paste_i], !d->paste_up);
		fw__flush_leds(d);
		if (d->paste_up)
			d->paste_i++;
		d->paste_up = !d->paste_up;
		d->last_input_us = now;
		d->paste_next_us = now + d->paste_delay_us;
		if (d->paste_i == d->paste.n)
			fw__paste_end(d, "done");
		else if (d->paste_delay_us > 0 || d->gadget != NULL)
			return;
	}
}
