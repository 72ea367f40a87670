/* rfb/ internal: the tile diff in parts, so that bands of tile rows can be
 * diffed on several threads (rfb_frame).  rfb_tilediff_run is begin, rows
 * over every tile row, end.  Not a public header. */
#ifndef WEBKVM_RFB_TILEDIFF_H
#define WEBKVM_RFB_TILEDIFF_H

#include <stdbool.h>

#include "rfb/rfb_server.h"

/* Checks the frame and follows a change of size or format (the next rows
 * then report every tile).  0 or a negative CAP_E* code. */
int rfb__tilediff_begin(struct rfb_tilediff *td, const struct cap_frame *f, int fb_stride, int max_out);
int rfb__tilediff_tile_rows(const struct rfb_tilediff *td);
int rfb__tilediff_tiles_x(const struct rfb_tilediff *td);
/* Tile rows [ty0, ty1): as rfb_tilediff_run for those rows, with changed
 * (tiles_x bytes) as scratch and *n_changed counting changed tiles.  Calls
 * for disjoint row ranges may run at the same time between begin and end
 * (each touches only its rows' hashes, lines and framebuffer pixels). */
int rfb__tilediff_rows(struct rfb_tilediff *td, const struct cap_frame *f, uint8_t *fb, int fb_stride,
		       bool convert, int ty0, int ty1, uint8_t *changed,
		       struct rfb_rect *out, int max_out, int *n_changed);
/* ok: every row ran without error; the next run compares with this frame. */
void rfb__tilediff_end(struct rfb_tilediff *td, bool ok, int n_changed);

#endif
