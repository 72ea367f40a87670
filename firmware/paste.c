/* Text typed as keystrokes: the plan made before the first key, and the
 * viewers' own keys held back while it types.
 *
 * The typing itself (one keyboard report step at a time, paced) is in
 * daemon.c, which owns hid/ and the clock; what is here needs neither. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"
#include "firmware/daemon.h"
#include "firmware/json.h"
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
			fw_json_quote(q, sizeof(q), ch);
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
