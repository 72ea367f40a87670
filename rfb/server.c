/* The RFB server: libvncserver driven from the daemon's event loop.
 *
 * libvncserver's threaded mode leaks a thread per client (upstream #570) and
 * races on the update buffer (#607), so we run it unthreaded: we own the
 * listening socket and accept(), hand each connection to rfbNewClient(), and
 * call rfbProcessEvents(…, 0) from our loop after poll().  The framebuffer
 * is only written between those calls, by rfb_frame(), on the same thread.
 *
 * This file sets the server up, listens, and drives reads and updates;
 * rfb/viewers.c admits viewers and drops stalled ones, rfb/input.c turns
 * their input (and the QEMU extensions) into rfb_input calls, and
 * rfb/frame.c keeps the framebuffer and its tile diff.  They share the
 * state in rfb/server_int.h.
 *
 * Updates for viewers that asked for Tight with JPEG in a 32-bit pixel
 * format (noVNC does, and so do TigerVNC and TightVNC viewers) are ours, not
 * libvncserver's: rfb/update.c encodes them once per frame on the encoder
 * threads and every such viewer gets the same bytes (libvncserver encodes
 * once per viewer on the loop thread).  libvncserver still does the
 * handshake, the client messages, and any update that carries more than
 * pixels (desktop size, cursor, the first one after SetEncodings) or goes
 * to a viewer in another encoding or pixel format.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rfb/rfb.h>
#include <rfb/rfbregion.h>
#include <turbojpeg.h>

#include "common/clock.h"
#include "common/hostport.h"
#include "rfb/h264.h"
#include "rfb/log.h"
#include "rfb/rfb_server.h"
#include "rfb/server_int.h"
#include "rfb/tight.h"

/* The kernel's queue of connections not yet accepted. */
#define LISTEN_BACKLOG		64
/* Unsent bytes in a viewer's socket above which it gets no new update
 * until it drains: a slow link gets fewer, fresher frames instead of a
 * growing backlog, and never holds up the other viewers. */
#define OUTQ_LIMIT		(512 * 1024)
/* Last resort: a write that cannot complete in this long drops the viewer. */
#define MAX_CLIENT_WAIT_MS	5000

/* Not in libvncserver's header, but exported: the iterator that also
 * returns closed clients, which rfbProcessEvents uses to reap them. */
extern rfbClientIteratorPtr rfbGetClientIteratorWithClosed(rfbScreenInfoPtr screen);

/* libvncserver's own messages: they end in '\n' already, and its chatty
 * per-client lines are debug for us; its errors are warnings. */
static void
lib_log(int level, const char *fmt, va_list ap)
{
	char buf[512];
	size_t n;

	if (!wk_log_on(level))
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	/* Some lines quote what a peer sent ("not a valid RFB client: ..."):
	 * no control bytes from the network reach the log. */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			buf[i] = '?';
	rfb__log(level, "libvncserver: %s", buf);
}

static void
lib_log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	lib_log(WK_LOG_DEBUG, fmt, ap);
	va_end(ap);
}

static void
lib_log_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	lib_log(WK_LOG_WARN, fmt, ap);
	va_end(ap);
}

const char *
rfb_strerror(int err)
{
	switch (err) {
	case RFB_OK: return "success";
	case RFB_EINVAL: return "invalid argument";
	case RFB_ENOMEM: return "out of memory";
	case RFB_ELISTEN: return "cannot listen on the RFB address";
	case RFB_EPASSWORD: return "cannot read the VNC password file";
	}
	return "unknown error";
}

/* ---- listening ---- */

static int
listen_on(struct rfb_server *s, const char *spec)
{
	struct wk_hostport hp;
	char port[8], why[320];
	struct addrinfo hints = { 0 }, *res = NULL;
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
		struct sockaddr_storage ss;
	} local = { .ss = { 0 } };
	socklen_t sl = sizeof(local);
	int fd = -1, one = 1, rc;

	/* ":port" is every address; port 0 lets the kernel choose (tests). */
	if (wk_hostport_parse(spec, WK_HOSTPORT_EMPTY_HOST | WK_HOSTPORT_PORT_ZERO, &hp, why,
			      sizeof(why)) < 0) {
		rfb__log(WK_LOG_ERROR, "listen: %s (want host:port, [v6]:port or :port)", why);
		return RFB_EINVAL;
	}
	snprintf(port, sizeof(port), "%d", hp.port);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(hp.host[0] ? hp.host : NULL, port, &hints, &res)) != 0) {
		rfb__log(WK_LOG_ERROR, "listen address \"%s\": %s", spec, gai_strerror(rc));
		return RFB_EINVAL;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rfb__log(WK_LOG_ERROR, "%s: socket: %s", spec, strerror(errno));
		goto fail;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (res->ai_family == AF_INET6 && hp.host[0] == '\0') {
		int zero = 0;

		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	}
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0) {
		rfb__log(WK_LOG_ERROR, "%s: bind: %s", spec, strerror(errno));
		goto fail;
	}
	if (listen(fd, LISTEN_BACKLOG) < 0) {
		rfb__log(WK_LOG_ERROR, "%s: listen: %s", spec, strerror(errno));
		goto fail;
	}
	if (getsockname(fd, &local.sa, &sl) == 0)
		s->port = ntohs(local.sa.sa_family == AF_INET6 ? local.in6.sin6_port : local.in.sin_port);
	freeaddrinfo(res);
	s->listen_fd = fd;
	rfb__log(WK_LOG_INFO, "listening for viewers on %s (port %d)", spec, s->port);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	freeaddrinfo(res);
	return RFB_ELISTEN;
}

/* ---- libvncserver 0.9.14 workaround ----
 *
 * rfbNewClient() runs webSocketsCheck() on every new connection: it waits
 * up to 100 ms, in our single event loop, for the peer to show whether it
 * speaks WebSocket, and a peer that sends 1 to 3 bytes in that window makes
 * rfbPeekExactTimeout() spin forever (a partial MSG_PEEK is retried with a
 * stale errno): one TCP connection hung the daemon at 100% CPU.  WebSocket
 * is webkvm-proxy's job; our RFB port speaks plain RFB.  The library calls
 * webSocketsCheck() through its PLT, so this definition takes its place in
 * every program that links rfb/: each connection is plain RFB at once. */
rfbBool webSocketsCheck(rfbClientPtr cl);

rfbBool
webSocketsCheck(rfbClientPtr cl)
{
	(void)cl;
	return TRUE;
}

/* ---- setup ---- */

static int
read_password(struct rfb_server *s, const char *path)
{
	FILE *fp = fopen(path, "r");
	size_t n;

	if (fp == NULL) {
		rfb__log(WK_LOG_ERROR, "password file %s: %s", path, strerror(errno));
		return RFB_EPASSWORD;
	}
	if (fgets(s->password, sizeof(s->password), fp) == NULL)
		s->password[0] = '\0';
	fclose(fp);
	n = strcspn(s->password, "\r\n");
	s->password[n] = '\0';
	if (n == 0) {
		rfb__log(WK_LOG_ERROR, "password file %s: empty", path);
		return RFB_EPASSWORD;
	}
	if (n > 8)
		rfb__log(WK_LOG_WARN, "password file %s: VNC uses only the first 8 characters", path);
	s->passwords[0] = s->password;
	s->passwords[1] = NULL;
	return 0;
}

struct rfb_server *
rfb_new(const struct rfb_options *opt, const struct rfb_input *in, int *err)
{
	struct rfb_server *s;
	int rc = RFB_ENOMEM;

	if (in == NULL || in->key_sym == NULL || in->key_xt == NULL || in->pointer == NULL ||
	    opt->width <= 0 || opt->height <= 0) {
		*err = RFB_EINVAL;
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		goto fail;
	s->listen_fd = -1;
	s->in = *in;
	snprintf(s->desktop_name, sizeof(s->desktop_name), "%s",
		 opt->desktop_name ? opt->desktop_name : "webkvm");
	s->td = rfb_tilediff_new(opt->tile_w ? opt->tile_w : 32, opt->tile_h ? opt->tile_h : 32);
	s->jpeg = cap_jpeg_new();
	if (s->td == NULL || s->jpeg == NULL) {
		rc = s->td == NULL && opt->tile_w ? RFB_EINVAL : RFB_ENOMEM;
		goto fail;
	}
	if (opt->password_file != NULL && (rc = read_password(s, opt->password_file)) < 0)
		goto fail;
	s->h264.on = !opt->h264_off;
	s->h264.kbps = opt->h264_kbps > 0 ? opt->h264_kbps : RFB_H264_DEFAULT_KBPS;
	s->h264.threads = opt->encoder_threads;
	if ((s->upd = rfb__upd_new(opt->encoder_threads)) == NULL) {
		rc = RFB_ENOMEM;
		goto fail;
	}
	if ((rc = rfb__resize_fb(s, opt->width, opt->height, NULL)) < 0) {
		rc = rc == CAP_ENOMEM ? RFB_ENOMEM : RFB_EINVAL;
		goto fail;
	}

	rfbLog = lib_log_info;
	rfbMaxClientWait = MAX_CLIENT_WAIT_MS;
	rfbErr = lib_log_err;
	rfb__register_extensions();
	s->scr = rfbGetScreen(NULL, NULL, s->width, s->height, 8, 3, 4);
	if (s->scr == NULL) {
		rc = RFB_ENOMEM;
		goto fail;
	}
	rfb__screen_fb_changed(s);
	s->scr->screenData = s;
	s->scr->desktopName = s->desktop_name;
	s->scr->alwaysShared = TRUE;
	s->scr->autoPort = FALSE;
	s->scr->port = 0;	/* no listener of its own: we accept */
	s->scr->ipv6port = 0;
	s->scr->httpPort = 0;
	s->scr->http6Port = 0;
	s->scr->deferUpdateTime = 0;
	s->scr->deferPtrUpdateTime = 0;
	s->scr->handleEventsEagerly = FALSE;
	s->scr->permitFileTransfer = FALSE;
	s->scr->cursor = NULL;	/* the target's pointer is in the picture */
	s->scr->kbdAddEvent = rfb__on_key;
	s->scr->ptrAddEvent = rfb__on_pointer;
	s->scr->newClientHook = rfb__client_new;
	if (in->power != NULL)
		s->scr->xvpHook = rfb__on_xvp;
	if (s->passwords[0] != NULL) {
		s->scr->authPasswdData = (void *)s->passwords;
		s->scr->passwordCheck = rfbCheckPasswordByList;
	}
	rfb__set_server_format(s->scr);
	s->view_only = opt->view_only;
	rfbInitServer(s->scr);
	if ((rc = listen_on(s, opt->listen ? opt->listen : "127.0.0.1:5900")) < 0)
		goto fail;
	return s;
fail:
	*err = rc;
	rfb_free(s);
	return NULL;
}

void
rfb_free(struct rfb_server *s)
{
	if (s == NULL)
		return;
	if (s->scr != NULL) {
		/* Calls client_gone() for each viewer: their keys are released. */
		rfbShutdownServer(s->scr, TRUE);
		rfbScreenCleanup(s->scr);
	}
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	rfb__h264_free(s);
	rfb_tilediff_free(s->td);
	rfb__upd_free(s->upd);
	free(s->urects);
	cap_jpeg_free(s->jpeg);
	free(s->own);
	explicit_bzero(s->password, sizeof(s->password));
	free(s);
}

int
rfb_pollfds(struct rfb_server *s, struct pollfd *pfd, int max)
{
	rfbClientIteratorPtr it;
	rfbClientPtr cl;
	int n = 0;

	if (max > 0 && s->listen_fd >= 0)
		pfd[n++] = (struct pollfd){ .fd = s->listen_fd, .events = POLLIN };
	/* Viewers first: when the caller's room runs out, connections still
	 * in the handshake wait for the next wakeup, not the viewers. */
	for (int pass = 0; pass < 2; pass++) {
		it = rfbGetClientIterator(s->scr);
		while ((cl = rfbClientIteratorNext(it)) != NULL && n < max) {
			struct rfb_viewer *v = rfb__viewer_of(cl);

			if (cl->sock != RFB_INVALID_SOCKET && v != NULL && v->pending == (pass == 1))
				pfd[n++] = (struct pollfd){ .fd = cl->sock, .events = POLLIN };
		}
		rfbReleaseClientIterator(it);
	}
	return n + rfb__h264_pollfds(s, pfd + n, max - n);
}


/* The JPEG settings of a viewer whose next update rfb/update.c can
 * encode: Tight with JPEG on, 32 bpp depth 24 true colour, and nothing but
 * pixels due.  False leaves the update to libvncserver. */
static bool
shared_tight_ok(rfbClientPtr cl, struct rfb__tight_opts *o)
{
	const rfbPixelFormat *f = &cl->format;
	rfbScreenInfoPtr scr = cl->screen;

	if (cl->preferredEncoding != rfbEncodingTight ||
	    cl->turboQualityLevel < 1 || cl->turboQualityLevel > 100)
		return false;
	/* libvncserver's subsampling levels: 4:4:4, 4:2:0, 4:2:2, grey. */
	switch (cl->turboSubsampLevel) {
	case 0: o->subsamp = TJSAMP_444; break;
	case 1: o->subsamp = TJSAMP_420; break;
	case 2: o->subsamp = TJSAMP_422; break;
	default: return false;
	}
	o->jpeg_quality = cl->turboQualityLevel;
	if (f->bitsPerPixel != 32 || f->depth != 24 || !f->trueColour ||
	    f->redMax != 255 || f->greenMax != 255 || f->blueMax != 255)
		return false;
	/* What rfbSendFramebufferUpdate would add to this update. */
	if ((cl->useNewFBSize && cl->newFBSizePending) ||
	    (cl->enableCursorShapeUpdates && cl->cursorWasChanged) ||
	    (!cl->enableCursorShapeUpdates &&
	     (cl->cursorX != scr->cursorX || cl->cursorY != scr->cursorY)) ||
	    (cl->enableCursorPosUpdates && cl->cursorWasMoved) ||
	    cl->enableSupportedMessages || cl->enableSupportedEncodings ||
	    cl->enableServerIdentity ||
	    (cl->enableKeyboardLedState && scr->getKeyboardLedStateHook != NULL) ||
	    !sraRgnEmpty(cl->copyRegion) || cl->scaledScreen != scr ||
	    scr->progressiveSliceHeight > 0 || scr->displayHook != NULL || cl->ublen != 0)
		return false;
	return true;
}

/* Sends the viewer's update from rfb/update.c: what rfbSendFramebufferUpdate
 * does for a pixels-only update, with shared bytes.  False when it is
 * libvncserver's to send (or there is nothing to send). */
static bool
shared_update(struct rfb_server *s, rfbClientPtr cl)
{
	struct rfb__tight_opts o;
	sraRegionPtr rgn;
	sraRectangleIterator *it;
	sraRect r;
	const uint8_t *msg;
	size_t n = 0, len, raw;
	struct rfb_viewer *v = rfb__viewer_of(cl);

	if (cl->onHold || sraRgnEmpty(cl->requestedRegion) || sraRgnEmpty(cl->modifiedRegion) ||
	    !shared_tight_ok(cl, &o))
		return false;
	if ((rgn = sraRgnCreateRgn(cl->modifiedRegion)) == NULL)
		return false;
	sraRgnAnd(rgn, cl->requestedRegion);
	if (sraRgnEmpty(rgn)) {
		sraRgnDestroy(rgn);
		return false;
	}
	it = sraRgnGetIterator(rgn);
	while (it != NULL && sraRgnIteratorNext(it, &r)) {
		if (n == s->urects_cap) {
			size_t cap = s->urects_cap ? 2 * s->urects_cap : 256;
			struct rfb_rect *p = realloc(s->urects, cap * sizeof(*p));

			if (p == NULL)
				break;
			s->urects = p;
			s->urects_cap = cap;
		}
		s->urects[n++] = (struct rfb_rect){ r.x1, r.y1, r.x2 - r.x1, r.y2 - r.y1 };
	}
	if (it != NULL)
		sraRgnReleaseIterator(it);
	if (it == NULL || n == 0 || n > INT_MAX || n < (size_t)sraRgnCountRects(rgn) ||
	    rfb__upd_get(s->upd, s->fb, s->width * 4, s->urects, (int)n, &o,
			 cl->enableLastRectEncoding, &msg, &len, &raw) < 0) {
		if (!s->upd_failed_logged)
			rfb__log(WK_LOG_WARN, "viewer %d: shared Tight update failed (out of memory, "
				 "or over 65535 rectangles without LastRect); libvncserver encodes "
				 "such updates (logged once)", v->id);
		s->upd_failed_logged = true;
		sraRgnDestroy(rgn);
		return false;
	}
	/* As rfbSendFramebufferUpdate leaves them: what was sent is no longer
	 * modified, and the request is answered. */
	sraRgnSubtract(cl->modifiedRegion, rgn);
	sraRgnMakeEmpty(cl->requestedRegion);
	sraRgnDestroy(rgn);
	rfbStatRecordMessageSent(cl, rfbFramebufferUpdate, 4, 4);
	rfbStatRecordEncodingSent(cl, rfbEncodingTight, (int)(len - 4), (int)raw);
	if (!v->shared)
		rfb__log(WK_LOG_DEBUG, "viewer %d: shared Tight updates, JPEG quality %d", v->id,
			 o.jpeg_quality);
	v->shared = true;
	if (rfbWriteExact(cl, (const char *)msg, (int)len) <= 0) {
		rfb__log(WK_LOG_INFO, "viewer %d (%s): write: %s", v->id, v->addr, strerror(errno));
		rfbCloseClient(cl);
	}
	return true;
}

static void
viewer_update(struct rfb_server *s, rfbClientPtr cl, uint64_t now)
{
	int outq = 0;
	bool backed_up;

	if (cl->sock == RFB_INVALID_SOCKET)
		return;
	backed_up = ioctl(cl->sock, SIOCOUTQ, &outq) == 0 && outq > OUTQ_LIMIT;
	if (rfb__h264_update(s, cl, backed_up, now) || backed_up)
		return;	/* still sending the last one; changes keep accumulating */
	if (shared_update(s, cl))
		return;
	if (rfbUpdateClient(cl) && rfb__viewer_of(cl)->shared) {
		rfb__viewer_of(cl)->shared = false;
		rfb__log(WK_LOG_DEBUG, "viewer %d: updates from libvncserver", rfb__viewer_of(cl)->id);
	}
}

void
rfb_process(struct rfb_server *s)
{
	rfbClientIteratorPtr it;
	rfbClientPtr cl, prev;
	uint64_t now;

	rfb__accept_viewers(s);
	now = wk_now_us();	/* after accept: no viewer is newer than now */
	rfb__h264_collect(s);
	/* What rfbProcessEvents does, minus its blocking reads: read whole
	 * messages, send each viewer that asked for one an update of what
	 * was marked modified, then reap the viewers that were closed. */
	it = rfbGetClientIteratorWithClosed(s->scr);
	cl = rfbClientIteratorNext(it);
	while (cl != NULL) {
		if (cl->sock != RFB_INVALID_SOCKET && rfb__viewer_of(cl) != NULL) {
			rfb__viewer_read(s, cl, now);
			if (cl->sock != RFB_INVALID_SOCKET)
				rfb__viewer_check_stall(cl, now);
			if (!rfb__viewer_of(cl)->pending)
				viewer_update(s, cl, now);
		}
		prev = cl;
		cl = rfbClientIteratorNext(it);
		if (prev->sock == RFB_INVALID_SOCKET)
			rfbClientConnectionGone(prev);
	}
	rfbReleaseClientIterator(it);
	rfb__h264_post(s, now);
	if (s->crowd_at_us != 0 && now - s->crowd_at_us > STALL_US) {
		wk_log_recovered(&s->crowd, "rfb", "no connection closed for a newer one in %llu s",
				 STALL_US / 1000000ull);
		s->crowd_at_us = 0;
	}
}

int
rfb_viewer_count(const struct rfb_server *s)
{
	return s->n_viewers;
}

void
rfb_size(const struct rfb_server *s, int *w, int *h)
{
	*w = s->width;
	*h = s->height;
}

const uint8_t *
rfb_framebuffer(const struct rfb_server *s, int *stride)
{
	*stride = s->width * 4;
	return s->fb;
}

int
rfb_port(const struct rfb_server *s)
{
	return s->port;
}

uint64_t
rfb_bytes_sent(const struct rfb_server *s)
{
	rfbClientIteratorPtr it;
	rfbClientPtr cl;
	uint64_t n = s->bytes_gone;

	it = rfbGetClientIterator(s->scr);
	while ((cl = rfbClientIteratorNext(it)) != NULL)
		n += (uint64_t)rfbStatGetSentBytes(cl);
	rfbReleaseClientIterator(it);
	return n;
}
