/* The screen viewers see while the capture gives no picture: what is wrong
 * and for how long, so a person at the other end knows it is the target
 * (or its cable), not the link, that is dark. */
#include <stdio.h>
#include <string.h>

#include "board/sim/sim.h"
#include "firmware/daemon.h"

static void
fill(uint8_t *buf, int stride, int x, int y, int w, int h, uint32_t rgb)
{
	for (int j = y; j < y + h; j++) {
		uint32_t *p = (uint32_t *)(buf + (size_t)j * stride) + x;

		for (int i = 0; i < w; i++)
			p[i] = 0xff000000u | rgb;
	}
}

static void
text(uint8_t *buf, int w, int h, int y, int scale, const char *s, uint32_t rgb)
{
	int len = (int)strlen(s), cw = 8 * scale, x0 = (w - len * cw) / 2;

	if (x0 < 0)
		x0 = 0;
	for (int c = 0; c < len; c++) {
		const uint8_t *g = sim_font_glyph((unsigned char)s[c]);
		int cx = x0 + c * cw;

		if (cx + cw > w)
			break;
		for (int gy = 0; gy < 16; gy++)
			for (int gx = 0; gx < 8; gx++)
				if (g[gy] & (0x80 >> gx) && y + (gy + 1) * scale <= h)
					fill(buf, w * 4, cx + gx * scale, y + gy * scale, scale, scale, rgb);
	}
}

void
fw_draw_nosignal(uint8_t *buf, int w, int h, const char *reason, unsigned secs)
{
	char since[64];
	int big = w >= 1280 ? 6 : w >= 640 ? 4 : 2, small = big / 2;

	fill(buf, w * 4, 0, 0, w, h, 0x101418);
	snprintf(since, sizeof(since), "for %02u:%02u:%02u", secs / 3600, secs / 60 % 60, secs % 60);
	text(buf, w, h, h / 2 - 16 * big, big, "NO SIGNAL", 0xe0e0e0);
	text(buf, w, h, h / 2 + 8 * small, small, reason, 0xa0a8b0);
	text(buf, w, h, h / 2 + 32 * small, small, since, 0x707880);
}
