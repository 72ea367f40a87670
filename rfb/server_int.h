/* rfb/ internal: the server's state, shared by the files that make up
 * the RFB server (server.c: setup, the loop and updates; viewers.c:
 * admission and lifecycle; input.c: input and the QEMU extensions;
 * frame.c: the framebuffer and its diff).  Everything here runs on the
 * loop thread, except diff jobs (frame.c) on the encoding threads.  Not a
 * public header.
 */
#ifndef WEBKVM_RFB_SERVER_INT_H
#define WEBKVM_RFB_SERVER_INT_H

#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

#include <rfb/rfb.h>

#include "common/log.h"
#include "rfb/framing.h"
#include "rfb/rfb_server.h"
#include "rfb/tight.h"

#define MAX_RECTS		1024
#define MAX_DIFF_JOBS		8
/* A viewer that has not finished the handshake, or has sent part of a
 * message and then nothing, for this long is dropped. */
#define STALL_US		(10 * 1000000ull)
/* H.264 encoders with different settings at once (rfb/stream.c). */
#define RFB__MAX_STREAMS	4

struct rfb__stream;

/* A viewer's H.264 state (rfb/stream.c). */
struct rfb__h264_viewer {
	bool want;		/* listed encoding 50 before other pixel encodings */
	int kbps_cap, fps_cap;	/* its caps (fps 0: none) */
	bool chroma444;		/* decodes High 4:4:4 Predictive */
	bool slices;		/* takes pictures in several slices */
	int kbps;		/* what the link takes now, <= kbps_cap */
	uint64_t changed_us;	/* kbps last lowered or raised */
	bool backed_up;		/* its socket held too much at the last look */
	struct rfb__stream *st;	/* the stream it follows, NULL: none yet */
	uint64_t seq;		/* the stream's frame it has last, UINT64_MAX: none */
	bool ready;		/* takes the stream's next frame */
	bool in_job;		/* ... which is being encoded */
	bool reset_all;		/* its next frame resets every decoder (resize) */
	bool announced;		/* first frame logged */
	struct rfb__buf backlog;	/* frames of st not sent yet (no request) */
	uint32_t backlog_flags;	/* the flags word they go with */
};

struct rfb_viewer {
	struct rfb_server *srv;
	rfbClientPtr cl;
	bool pending;		/* still in the handshake: no id, no input */
	int id;			/* -1 while pending */
	bool ext_key;		/* asked for -258 */
	bool led;		/* asked for -261 */
	int led_sent;		/* QEMU LED bits last sent, -1 = none yet */
	bool shared;		/* last update came from rfb/update.c */
	uint64_t connected_us;
	uint64_t partial_since_us;	/* part of a message waiting, 0 = none */
	char addr[INET6_ADDRSTRLEN + 8];
	char name[INET6_ADDRSTRLEN + 32];	/* for the log: "viewer 3 (addr)" */
	struct rfb__h264_viewer h264;
};

struct rfb_server {
	rfbScreenInfoPtr scr;
	struct rfb_input in;
	int listen_fd;
	int port;
	/* What viewers are shown: own, or a stable XRGB32 frame of the
	 * caller's used in place (then own is NULL). */
	const uint8_t *fb;
	uint8_t *own;		/* our framebuffer, NULL while aliasing */
	int width, height;
	struct rfb_tilediff *td;
	struct cap_jpeg *jpeg;
	struct rfb_rect rects[MAX_RECTS];
	uint8_t qemu_leds;	/* bit0 scroll, bit1 num, bit2 caps */
	int n_viewers;
	uint64_t viewer_ids;	/* bit i set: id i in use */
	uint64_t bytes_gone;	/* sent to viewers that have left */
	char password[64];
	char *passwords[2];
	char desktop_name[128];
	bool view_only;
	struct rfb__upd *upd;		/* shared Tight updates */
	struct rfb_rect *urects;	/* a viewer's update region, as rectangles */
	size_t urects_cap;
	bool upd_failed_logged;
	struct {
		bool on;
		int kbps;		/* default cap */
		int threads;
		struct rfb__stream *streams[RFB__MAX_STREAMS];
		uint64_t frames, idr, bytes;
		struct wk_log_once fail, full;
	} h264;
	struct wk_log_once crowd;	/* handshake bounds reached ... */
	uint64_t crowd_at_us;		/* ... last at this time */
	uint8_t peek[RFB__MAX_MSG];	/* what a viewer's socket holds */
	/* One frame's diff in bands: each job's rows, output and scratch. */
	struct diff_job {
		struct rfb_server *s;
		const struct cap_frame *f;
		bool convert;
		int ty0, ty1;
		int n, n_changed;	/* rectangles (or a negative CAP_E*), tiles */
		uint8_t changed[1024];	/* 8192 / the smallest tile width */
	} diff_jobs[MAX_DIFF_JOBS];
};

static inline struct rfb_viewer *
rfb__viewer_of(rfbClientPtr cl)
{
	return cl->clientData;
}

/* viewers.c */
/* libvncserver's newClientHook: a connection enters the handshake. */
enum rfbNewClientAction rfb__client_new(rfbClientPtr cl);
/* Accepts what the listening socket holds, a batch at a time. */
void rfb__accept_viewers(struct rfb_server *s);
void rfb__viewer_read(struct rfb_server *s, rfbClientPtr cl, uint64_t now);
/* Closes a connection that stalled in the handshake or mid-message. */
void rfb__viewer_check_stall(rfbClientPtr cl, uint64_t now);

/* input.c: libvncserver's input hooks, and the QEMU extensions (once per
 * process: libvncserver keeps its extension list globally). */
void rfb__on_key(rfbBool down, rfbKeySym keysym, rfbClientPtr cl);
void rfb__on_pointer(int mask, int x, int y, rfbClientPtr cl);
rfbBool rfb__on_xvp(rfbClientPtr cl, uint8_t version, uint8_t code);
void rfb__register_extensions(void);

/* stream.c: H.264 for the viewers that ask for it. */
/* Reads a whole SetEncodings message before libvncserver does. */
void rfb__h264_set_encodings(struct rfb_viewer *v, const uint8_t *msg, size_t len);
/* The viewer's update, when it is H.264's to send (true); backed_up: its
 * socket holds too much to send it anything now. */
bool rfb__h264_update(struct rfb_server *s, rfbClientPtr cl, bool backed_up, uint64_t now);
void rfb__h264_viewer_gone(struct rfb_viewer *v);
/* Sends the frames encoded since the last call (first in rfb_process), and
 * starts the next ones (last). */
void rfb__h264_collect(struct rfb_server *s);
void rfb__h264_post(struct rfb_server *s, uint64_t now);
int rfb__h264_pollfds(struct rfb_server *s, struct pollfd *pfd, int max);
void rfb__h264_free(struct rfb_server *s);

/* frame.c */
void rfb__set_server_format(rfbScreenInfoPtr scr);
void rfb__screen_fb_changed(struct rfb_server *s);
int rfb__resize_fb(struct rfb_server *s, int w, int h, const uint8_t *alias);

#endif
