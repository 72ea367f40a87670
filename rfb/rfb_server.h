/* rfb/ — the tile-diff engine and the RFB server.
 *
 * The server (libvncserver underneath) is driven from the daemon's own event
 * loop, so the framebuffer is only ever written by that loop; Tight updates
 * are encoded on worker threads that read it only while the loop waits for
 * them (rfb/pool.c).  Frames come in as struct cap_frame; only the tiles that
 * changed are converted into the framebuffer and sent.  Input from viewers
 * leaves through struct rfb_input, which the daemon wires to hid/.
 * Nothing here knows about V4L2 or USB.
 *
 * Thread: every function is called from the daemon's event loop thread.
 */
#ifndef WEBKVM_RFB_SERVER_H
#define WEBKVM_RFB_SERVER_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture/capture.h"
#include "common/input.h"

/* ---- tile diff (rfb/tilediff.c) ---- */

struct rfb_rect {
	int x, y, w, h;
};

struct rfb_tilediff;

/* tile_w must be a multiple of 2 (4:2:2 formats), both 8..256. */
struct rfb_tilediff *rfb_tilediff_new(int tile_w, int tile_h);
void rfb_tilediff_free(struct rfb_tilediff *td);
/* Forgets the previous frame: the next run reports every tile. */
void rfb_tilediff_invalidate(struct rfb_tilediff *td);

/* Compares `f` (a packed format, or XRGB32 after MJPEG decode) with the
 * previous frame given, tile by tile, in the frame's own pixel format.
 * Changed tiles are converted into fb (XRGB32, fb_stride bytes per line,
 * same size as the frame) and reported as rectangles through `out` (at most
 * max_out; rows of adjacent changed tiles are merged).  When more rectangles
 * are needed than fit, the last one is grown to cover the rest.  Returns the
 * number of rectangles, or a negative CAP_E* code.  A size or format change
 * since the previous call reports the whole frame.  No allocation unless the
 * size changed.  When `convert` is false the pixels are not copied (used when
 * fb already holds the frame, e.g. MJPEG decoded in place). */
int rfb_tilediff_run(struct rfb_tilediff *td, const struct cap_frame *f,
		     uint8_t *fb, int fb_stride, bool convert,
		     struct rfb_rect *out, int max_out);
/* Tiles found changed by the last run. */
int rfb_tilediff_changed_tiles(const struct rfb_tilediff *td);

/* ---- server (rfb/server.c) ---- */

/* Power actions from XVP. */
enum rfb_power {
	RFB_POWER_OFF = 0,
	RFB_POWER_REBOOT,
	RFB_POWER_RESET,
};

/* Where viewers' input goes.  A connection is a viewer once its RFB
 * handshake is done.  `viewer` is a small id unique per connected
 * viewer; release(viewer) is called when it disconnects.  xt is an XT
 * scancode with extended keys as 0xe0XX (0xe11d for Pause).  buttons are
 * WK_BTN_* held and WK_WHEEL_* (common/input.h), made from the RFB mask by
 * rfb_buttons_to_wk().  Return values are errors to log; they never close
 * the viewer. */
struct rfb_input {
	void *ctx;
	int (*key_sym)(void *ctx, int viewer, uint32_t keysym, bool down);
	int (*key_xt)(void *ctx, int viewer, uint32_t xt, uint32_t keysym, bool down);
	int (*pointer)(void *ctx, int viewer, int x, int y, int w, int h, uint32_t buttons);
	int (*release)(void *ctx, int viewer);
	int (*power)(void *ctx, enum rfb_power action);	/* may be NULL: XVP off */
	/* Viewer count changed (connect / disconnect). May be NULL. */
	void (*viewers)(void *ctx, int n);
};

struct rfb_options {
	const char *listen;		/* "host:port", "[v6]:port" or ":port"; NULL = 127.0.0.1:5900 */
	const char *password_file;	/* one line: the VNC password; NULL = none */
	bool view_only;
	const char *desktop_name;
	int width, height;		/* initial framebuffer size */
	int tile_w, tile_h;		/* 0 = 32×32 */
	int encoder_threads;		/* Tight encoding threads incl. the loop's; 0 = one per CPU, at most 4 */
	bool h264_off;			/* ignore encoding 50: such viewers get Tight */
	int h264_kbps;			/* a viewer's H.264 bitrate cap unless it sets one; 0 = 8000 */
};

enum {
	RFB_OK = 0,
	RFB_EINVAL = -1,
	RFB_ENOMEM = -2,
	RFB_ELISTEN = -3,	/* cannot listen on the address */
	RFB_EPASSWORD = -4,	/* password file unreadable or empty */
};
const char *rfb_strerror(int err);

struct rfb_server;

/* Creates the server and starts listening.  Returns NULL and sets *err. */
struct rfb_server *rfb_new(const struct rfb_options *opt, const struct rfb_input *in, int *err);
void rfb_free(struct rfb_server *s);

/* Puts a captured frame on screen: tile diff, convert, mark dirty.  A new
 * size replaces the framebuffer and reaches viewers as a resize.  Returns
 * the number of changed tiles or a negative CAP_E* code (frame dropped).
 *
 * A stable XRGB32 frame (f->stable, stride width * 4) is not copied: its
 * buffer becomes the framebuffer until a frame in another buffer comes.
 * The caller keeps it valid until then (or rfb_free) and writes it only
 * between rfb_* calls; after a cap_grab() that returned a frame in another
 * buffer (the old one may be gone), that frame must reach rfb_frame before
 * the next rfb_process.  Frames in the same buffer may be skipped: the
 * pixels a skipped frame changed are sent when a later frame marks them,
 * or sooner as part of an area a viewer is sent anyway. */
int rfb_frame(struct rfb_server *s, const struct cap_frame *f);

/* Sends the target's keyboard LEDs (WK_LED_* bits, common/input.h) to
 * every viewer that asked for QEMU LED state. */
void rfb_set_leds(struct rfb_server *s, unsigned leds);

/* The conversions at rfb/'s edge, for tests: an RFB button mask into
 * WK_BTN_* / WK_WHEEL_*, WK_LED_* into QEMU's LED state byte. */
uint32_t rfb_buttons_to_wk(uint32_t mask);
uint8_t rfb_leds_to_qemu(unsigned leds);

/* Fills up to max pollfds with the sockets to watch, viewers before
 * connections still in the handshake; returns the count. */
int rfb_pollfds(struct rfb_server *s, struct pollfd *pfd, int max);
/* Accepts viewers, reads their messages, sends pending updates.  Call after
 * poll() (any of the fds ready or not).  Never blocks longer than the time
 * it takes to write one update (bounded by the client wait time). */
void rfb_process(struct rfb_server *s);

/* Viewers that finished the handshake. */
int rfb_viewer_count(const struct rfb_server *s);
void rfb_size(const struct rfb_server *s, int *w, int *h);
/* The framebuffer (XRGB32), for tests and benchmarks. */
const uint8_t *rfb_framebuffer(const struct rfb_server *s, int *stride);
/* Local port actually listened on (after ":0"). */
int rfb_port(const struct rfb_server *s);

/* Bytes sent to viewers so far (FramebufferUpdates and others). */
uint64_t rfb_bytes_sent(const struct rfb_server *s);

/* H.264 (encoding 50): viewers receiving it, encoders running, and what
 * was encoded so far. */
struct rfb_h264_stats {
	int viewers, streams;
	uint64_t frames, idr, bytes;
};
void rfb_h264_stats(const struct rfb_server *s, struct rfb_h264_stats *out);

#endif
