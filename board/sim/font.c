/* board/sim: code point → glyph lookup in the generated font tables. */
#include "board/sim/font.h"
#include "board/sim/sim.h"

/* Index of cp in the font, or -1. */
static long find_glyph(uint32_t cp)
{
	size_t lo = 0, hi = sim__font_map_len;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (sim__font_map[mid].cp < cp)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < sim__font_map_len && sim__font_map[lo].cp == cp &&
	    sim__font_map[lo].glyph < sim__font_nglyphs)
		return sim__font_map[lo].glyph;
	return -1;
}

const uint8_t *sim_font_glyph(uint32_t cp)
{
	long g = find_glyph(cp);

	if (g < 0)
		g = find_glyph(0xFFFD);
	if (g < 0)
		g = find_glyph('?');
	if (g < 0)
		g = 0;
	return sim__font_bits[g];
}
