/* board/sim private: the built-in VGA font, generated at build time by
 * board/sim/psf2c.py into build/gen/font_vga16.c. */
#ifndef WEBKVM_SIM_FONT_H
#define WEBKVM_SIM_FONT_H

#include <stddef.h>
#include <stdint.h>

#define SIM__GLYPH_W 8
#define SIM__GLYPH_H 16

struct sim__font_map {
	uint32_t cp;
	uint16_t glyph;
};

/* One 8x16 bitmap per glyph, bit 7 leftmost. */
extern const uint8_t sim__font_bits[][SIM__GLYPH_H];
extern const size_t sim__font_nglyphs;
/* Sorted by cp, no duplicates. */
extern const struct sim__font_map sim__font_map[];
extern const size_t sim__font_map_len;

#endif
