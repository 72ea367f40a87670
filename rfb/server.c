/* The RFB server: libvncserver driven from the daemon's event loop.
 *
 * libvncserver's threaded mode leaks a thread per client (upstream #570) and
 * races on the update buffer (#607), so we run it unthreaded: we own the
 * listening socket and accept(), hand each connection to rfbNewClient(), and
 * call rfbProcessEvents(…, 0) from our loop after poll().  The framebuffer
 * is only written between those calls, by rfb_frame(), on the same thread.
 *
 * Extensions libvncserver lacks on the server side are added with
 * rfbProtocolExtension: QEMU Extended Key Event (-258) and QEMU LED state
 * (-261).  XVP uses libvncserver's own xvpHook.
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
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <rfb/rfb.h>
#include <rfb/rfbregion.h>
#include <turbojpeg.h>

#include "common/clock.h"
#include "common/hostport.h"
#include "rfb/framing.h"
#include "rfb/log.h"
#include "rfb/rfb_server.h"
#include "rfb/tight.h"
#include "rfb/tilediff.h"

#define ENC_QEMU_EXT_KEY	(-258)
#define ENC_QEMU_LED_STATE	(-261)
#define MSG_QEMU		255
#define QEMU_SUB_EXT_KEY	0
#define MAX_RECTS		1024
/* Frames of at least this many pixels are diffed in bands on the encoding
 * threads. */
#define PAR_DIFF_PIXELS		(512 * 1024)
#define MAX_DIFF_JOBS		8
#define MAX_VIEWERS		64
/* A connection is a viewer once its RFB handshake is done; before that it
 * takes no viewer slot.  At most this many wait in the handshake from one
 * client address, and this many in all: a new connection past either bound
 * closes the oldest waiting one (of that address, or of all).  A real
 * viewer's handshake takes a round trip or two, so a flood of idle
 * connections cannot keep it out, and costs bounded memory. */
#define PENDING_PER_ADDR	16
#define PENDING_MAX		64
/* Connections accepted per rfb_process() call, and the kernel's queue of
 * connections not yet accepted. */
#define ACCEPT_BATCH		32
#define LISTEN_BACKLOG		64
/* A viewer that has not finished the handshake, or has sent part of a
 * message and then nothing, for this long is dropped. */
#define STALL_US		(10 * 1000000ull)
/* Unsent bytes in a viewer's socket above which it gets no new update
 * until it drains: a slow link gets fewer, fresher frames instead of a
 * growing backlog, and never holds up the other viewers. */
#define OUTQ_LIMIT		(512 * 1024)
/* Kernel send buffer per viewer, so one whole update fits without our
 * write blocking. */
#define SNDBUF			(8 * 1024 * 1024)
/* Last resort: a write that cannot complete in this long drops the viewer. */
#define MAX_CLIENT_WAIT_MS	5000

/* Not in libvncserver's header, but exported: the iterator that also
 * returns closed clients, which rfbProcessEvents uses to reap them. */
extern rfbClientIteratorPtr rfbGetClientIteratorWithClosed(rfbScreenInfoPtr screen);

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

/* libvncserver keeps its extension list globally; our handlers find their
 * server through cl->screen->screenData. */
static rfbProtocolExtension qemu_ext;
static int qemu_ext_registered;

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
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
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
	/* Zeroed: the analyser does not see what getsockname writes. */
	memset(&ss, 0, sizeof(ss));
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		s->port = ntohs(ss.ss_family == AF_INET6 ?
				((struct sockaddr_in6 *)&ss)->sin6_port :
				((struct sockaddr_in *)&ss)->sin_port);
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

/* ---- viewers ---- */

static struct rfb_viewer *
viewer_of(rfbClientPtr cl)
{
	return cl->clientData;
}

static void
client_gone(rfbClientPtr cl)
{
	struct rfb_viewer *v = viewer_of(cl);
	struct rfb_server *s;

	if (v == NULL)
		return;
	s = v->srv;
	s->bytes_gone += (uint64_t)rfbStatGetSentBytes(cl);
	if (v->pending) {
		rfb__log(WK_LOG_DEBUG, "%s: gone during the handshake", v->name);
	} else {
		if (s->in.release != NULL)
			s->in.release(s->in.ctx, v->id);
		s->viewer_ids &= ~(1ULL << v->id);
		s->n_viewers--;
		rfb__log(WK_LOG_INFO, "%s left; %d viewer(s)", v->name, s->n_viewers);
		if (s->in.viewers != NULL)
			s->in.viewers(s->in.ctx, s->n_viewers);
	}
	/* libvncserver 0.9.14 never frees a client's extension list; the
	 * only extension is ours and its data is this viewer. */
	while (cl->extensions != NULL) {
		rfbExtensionData *e = cl->extensions;

		cl->extensions = e->next;
		free(e);
	}
	cl->clientData = NULL;
	free(v);
}

/* Keeps the connections waiting in the handshake within the bounds, for
 * one more from addr: first drops those whose peer hung up already (many
 * at once under churn, before their close is read), then closes the
 * oldest of addr's, or of all. */
static void
make_room(struct rfb_server *s, const char *addr)
{
	struct rfb_viewer *oldest_addr = NULL, *oldest_all = NULL, *victim = NULL;
	struct rfb_viewer *pv[PENDING_MAX + 1] = { 0 };
	struct pollfd pfd[PENDING_MAX + 1] = { 0 };
	int n_addr = 0, n_all = 0, np = 0;
	rfbClientIteratorPtr it;
	rfbClientPtr cl;

	/* There are never more than PENDING_MAX: each new one makes room. */
	it = rfbGetClientIterator(s->scr);
	while ((cl = rfbClientIteratorNext(it)) != NULL && np < PENDING_MAX + 1) {
		struct rfb_viewer *v = viewer_of(cl);

		if (v != NULL && v->pending && cl->sock != RFB_INVALID_SOCKET) {
			pv[np] = v;
			pfd[np++] = (struct pollfd){ .fd = cl->sock, .events = POLLRDHUP };
		}
	}
	rfbReleaseClientIterator(it);
	if (np > 0 && poll(pfd, (nfds_t)np, 0) < 0)
		np = 0;
	/* The list is newest first: on equal times the later one is older. */
	for (int i = 0; i < np; i++) {
		struct rfb_viewer *v = pv[i];

		if (pfd[i].revents & (POLLRDHUP | POLLHUP | POLLERR)) {
			rfb__log(WK_LOG_DEBUG, "%s: hung up during the handshake", v->name);
			rfbCloseClient(v->cl);
			continue;
		}
		n_all++;
		if (oldest_all == NULL || v->connected_us <= oldest_all->connected_us)
			oldest_all = v;
		if (strcmp(v->addr, addr) == 0) {
			n_addr++;
			if (oldest_addr == NULL || v->connected_us <= oldest_addr->connected_us)
				oldest_addr = v;
		}
	}
	if (n_addr >= PENDING_PER_ADDR) {
		victim = oldest_addr;
		wk_log_once(&s->crowd, "rfb", WK_LOG_WARN, "%d connections from %s wait in the "
			    "handshake: each new one closes the oldest", n_addr, addr);
	} else if (n_all >= PENDING_MAX) {
		victim = oldest_all;
		wk_log_once(&s->crowd, "rfb", WK_LOG_WARN, "%d connections wait in the handshake: "
			    "each new one closes the oldest", n_all);
	}
	if (victim != NULL) {
		rfb__log(WK_LOG_DEBUG, "%s: closed for a newer connection", victim->name);
		rfbCloseClient(victim->cl);
		s->crowd_at_us = wk_now_us();
	}
}

static enum rfbNewClientAction
client_new(rfbClientPtr cl)
{
	struct rfb_server *s = cl->screen->screenData;
	struct rfb_viewer *v;

	if (s->n_viewers >= MAX_VIEWERS) {
		rfb__log(WK_LOG_WARN, "viewer refused: %d viewers already", s->n_viewers);
		return RFB_CLIENT_REFUSE;
	}
	if ((v = calloc(1, sizeof(*v))) == NULL)
		return RFB_CLIENT_REFUSE;
	v->srv = s;
	v->cl = cl;
	v->pending = true;
	v->id = -1;
	v->led_sent = -1;
	v->connected_us = wk_now_us();
	snprintf(v->addr, sizeof(v->addr), "%s", cl->host ? cl->host : "?");
	snprintf(v->name, sizeof(v->name), "connection from %s", v->addr);
	make_room(s, v->addr);
	cl->clientData = v;
	cl->clientGoneHook = client_gone;
	cl->viewOnly = s->view_only;
	rfb__log(WK_LOG_DEBUG, "%s: handshake", v->name);
	return RFB_CLIENT_ACCEPT;
}

/* The handshake is done: the connection becomes a viewer, if there is
 * room.  False when it was closed instead. */
static bool
promote(struct rfb_server *s, struct rfb_viewer *v)
{
	int id;

	/* A free id is the room: viewer_ids has a bit per counted viewer. */
	for (id = 0; id < MAX_VIEWERS && (s->viewer_ids & (1ULL << id)); id++)
		;
	if (id == MAX_VIEWERS) {
		rfb__log(WK_LOG_WARN, "%s: viewer refused: %d viewers already", v->name, s->n_viewers);
		rfbCloseClient(v->cl);
		return false;
	}
	v->pending = false;
	v->id = id;
	snprintf(v->name, sizeof(v->name), "viewer %d (%s)", id, v->addr);
	s->viewer_ids |= 1ULL << id;
	s->n_viewers++;
	rfb__log(WK_LOG_INFO, "%s connected; %d viewer(s)", v->name, s->n_viewers);
	if (s->in.viewers != NULL)
		s->in.viewers(s->in.ctx, s->n_viewers);
	return true;
}

static void
accept_viewers(struct rfb_server *s)
{
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(s->listen_fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
		int one = 1;

		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				rfb__log(WK_LOG_WARN, "accept: %s", strerror(errno));
			return;
		}
		/* libvncserver keeps its sockets in an fd_set. */
		if (fd >= FD_SETSIZE) {
			rfb__log(WK_LOG_WARN, "viewer refused: descriptor %d too high for libvncserver", fd);
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &(int){ SNDBUF }, sizeof(int)) < 0)
			setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &(int){ SNDBUF }, sizeof(int));
		/* rfbNewClient makes the socket non-blocking, sends the protocol
		 * version and calls client_new(); on refusal it closes fd. */
		if (rfbNewClient(s->scr, fd) == NULL)
			rfb__log(WK_LOG_WARN, "viewer connection dropped during setup");
	}
}

/* ---- input ---- */

static void
on_key(rfbBool down, rfbKeySym keysym, rfbClientPtr cl)
{
	struct rfb_viewer *v = viewer_of(cl);
	struct rfb_server *s;
	int rc;

	if (v == NULL || v->pending || cl->viewOnly)
		return;
	s = v->srv;
	if ((rc = s->in.key_sym(s->in.ctx, v->id, keysym, down)) < 0)
		rfb__log(WK_LOG_DEBUG, "viewer %d: keysym 0x%x not sent (%d)", v->id, (unsigned)keysym, rc);
}

/* The RFB button mask: bit0 left, bit1 middle, bit2 right, bit3/4 wheel
 * up/down, bit5/6 wheel left/right, bit7 back, bit8 forward (as noVNC and
 * TigerVNC send them). */
uint32_t
rfb_buttons_to_wk(uint32_t mask)
{
	static const uint32_t wk[9] = {
		WK_BTN_LEFT, WK_BTN_MIDDLE, WK_BTN_RIGHT, WK_WHEEL_UP, WK_WHEEL_DOWN,
		WK_WHEEL_LEFT, WK_WHEEL_RIGHT, WK_BTN_BACK, WK_BTN_FORWARD,
	};
	uint32_t b = 0;

	for (int i = 0; i < 9; i++)
		if (mask & 1u << i)
			b |= wk[i];
	return b;
}

static void
on_pointer(int mask, int x, int y, rfbClientPtr cl)
{
	struct rfb_viewer *v = viewer_of(cl);
	struct rfb_server *s;

	if (v == NULL || v->pending || cl->viewOnly)
		return;
	s = v->srv;
	if (x >= s->width)
		x = s->width - 1;
	if (y >= s->height)
		y = s->height - 1;
	s->in.pointer(s->in.ctx, v->id, x, y, s->width, s->height, rfb_buttons_to_wk((uint32_t)mask));
}

static rfbBool
on_xvp(rfbClientPtr cl, uint8_t version, uint8_t code)
{
	struct rfb_viewer *v = viewer_of(cl);
	struct rfb_server *s;
	enum rfb_power act;

	if (v == NULL || v->pending || cl->viewOnly || version != 1)
		return FALSE;
	s = v->srv;
	switch (code) {
	case rfbXvp_Shutdown: act = RFB_POWER_OFF; break;
	case rfbXvp_Reboot: act = RFB_POWER_REBOOT; break;
	case rfbXvp_Reset: act = RFB_POWER_RESET; break;
	default:
		rfb__log(WK_LOG_WARN, "viewer %d: unknown XVP operation %u", v->id, code);
		return FALSE;
	}
	rfb__log(WK_LOG_INFO, "viewer %d: XVP %s", v->id,
		 act == RFB_POWER_OFF ? "shutdown" : act == RFB_POWER_REBOOT ? "reboot" : "reset");
	return s->in.power(s->in.ctx, act) == 0;
}

/* ---- QEMU extensions ---- */

/* A FramebufferUpdate holding one pseudo-encoding rectangle. */
static int
send_pseudo_rect(rfbClientPtr cl, int32_t encoding, const uint8_t *payload, int len)
{
	uint8_t msg[4 + 12 + 4];

	msg[0] = rfbFramebufferUpdate;
	msg[1] = 0;
	msg[2] = 0;
	msg[3] = 1;
	memset(msg + 4, 0, 8);	/* x, y, w, h = 0 */
	msg[12] = (uint8_t)((uint32_t)encoding >> 24);
	msg[13] = (uint8_t)((uint32_t)encoding >> 16);
	msg[14] = (uint8_t)((uint32_t)encoding >> 8);
	msg[15] = (uint8_t)encoding;
	if (len > 4)
		return -1;
	if (len > 0)
		memcpy(msg + 16, payload, (size_t)len);
	if (rfbWriteExact(cl, (const char *)msg, 16 + len) < 0) {
		rfbCloseClient(cl);
		return -1;
	}
	return 0;
}

static void
send_leds(struct rfb_viewer *v)
{
	uint8_t b = v->srv->qemu_leds;

	if (!v->led || v->led_sent == b || v->cl->sock == RFB_INVALID_SOCKET)
		return;
	if (send_pseudo_rect(v->cl, ENC_QEMU_LED_STATE, &b, 1) == 0)
		v->led_sent = b;
}

static rfbBool
qemu_enable(rfbClientPtr cl, void **data, int enc)
{
	struct rfb_viewer *v = viewer_of(cl);

	if (v == NULL)
		return FALSE;
	*data = v;
	switch (enc) {
	case ENC_QEMU_EXT_KEY:
		if (!v->ext_key) {
			v->ext_key = true;
			rfb__log(WK_LOG_DEBUG, "viewer %d: QEMU extended key events on", v->id);
			send_pseudo_rect(cl, ENC_QEMU_EXT_KEY, NULL, 0);
		}
		return TRUE;
	case ENC_QEMU_LED_STATE:
		if (!v->led) {
			v->led = true;
			send_leds(v);
		}
		return TRUE;
	}
	return FALSE;
}

/* Converts QEMU's "qnum" keycode (extended keys as 0x80|code) to an XT
 * scancode with 0xe0 in the high byte.  QEMU sends Pause as 0xc6. */
static uint32_t
qnum_to_xt(uint32_t qnum)
{
	if (qnum == 0xc6)
		return 0xe11d;
	if (qnum >= 0x80 && qnum <= 0xff)
		return 0xe000 | (qnum & 0x7f);
	return qnum;
}

static rfbBool
qemu_message(rfbClientPtr cl, void *data, const rfbClientToServerMsg *msg)
{
	struct rfb_viewer *v = data;
	struct rfb_server *s;
	uint8_t sub, b[10];
	uint32_t keysym, code;
	int n;

	if (msg->type != MSG_QEMU || v == NULL || v->pending)
		return FALSE;
	s = v->srv;
	if ((n = rfbReadExact(cl, (char *)&sub, 1)) <= 0)
		goto gone;
	if (sub != QEMU_SUB_EXT_KEY || !v->ext_key) {
		rfb__log(WK_LOG_WARN, "viewer %d (%s): unsupported QEMU message subtype %u; closing",
			 v->id, v->addr, sub);
		rfbCloseClient(cl);
		return TRUE;
	}
	if ((n = rfbReadExact(cl, (char *)b, sizeof(b))) <= 0)
		goto gone;
	keysym = (uint32_t)b[2] << 24 | (uint32_t)b[3] << 16 | (uint32_t)b[4] << 8 | b[5];
	code = (uint32_t)b[6] << 24 | (uint32_t)b[7] << 16 | (uint32_t)b[8] << 8 | b[9];
	if (cl->viewOnly)
		return TRUE;
	if (code == 0 || code > 0xff) {
		/* No usable scancode: fall back to the keysym, as QEMU does. */
		if (s->in.key_sym(s->in.ctx, v->id, keysym, b[1] != 0) < 0)
			rfb__log(WK_LOG_DEBUG, "viewer %d: keysym 0x%x not sent", v->id, (unsigned)keysym);
		return TRUE;
	}
	if (s->in.key_xt(s->in.ctx, v->id, qnum_to_xt(code), keysym, b[1] != 0) < 0)
		rfb__log(WK_LOG_DEBUG, "viewer %d: scancode 0x%x not sent", v->id, (unsigned)code);
	return TRUE;
gone:
	if (n < 0)
		rfb__log(WK_LOG_INFO, "viewer %d (%s): read: %s", v->id, v->addr, strerror(errno));
	rfbCloseClient(cl);
	return TRUE;
}

static int qemu_encodings[] = { ENC_QEMU_EXT_KEY, ENC_QEMU_LED_STATE, 0 };

static void
register_extensions(void)
{
	if (qemu_ext_registered)
		return;
	qemu_ext.pseudoEncodings = qemu_encodings;
	qemu_ext.enablePseudoEncoding = qemu_enable;
	qemu_ext.handleMessage = qemu_message;
	rfbRegisterProtocolExtension(&qemu_ext);
	qemu_ext_registered = 1;
}

/* ---- framebuffer ---- */

/* Our framebuffer is XRGB32: bytes B,G,R,X, i.e. red at bit 16. */
static void
set_server_format(rfbScreenInfoPtr scr)
{
	scr->serverFormat.redShift = 16;
	scr->serverFormat.greenShift = 8;
	scr->serverFormat.blueShift = 0;
}

/* Points libvncserver at the framebuffer after s->fb changed. */
static void
screen_fb_changed(struct rfb_server *s)
{
	/* Never written through: libvncserver only writes the framebuffer
	 * to draw a cursor, and we give it none. */
	if (s->scr != NULL)
		s->scr->frameBuffer = (char *)(uintptr_t)s->fb;
}

/* A new size.  alias: the caller's XRGB32 frame to show in place, or NULL
 * for a framebuffer of our own. */
static int
resize_fb(struct rfb_server *s, int w, int h, const uint8_t *alias)
{
	uint8_t *own = NULL, *old = s->own;
	rfbClientIteratorPtr it;
	rfbClientPtr cl;

	if (w <= 0 || h <= 0 || w > 8192 || h > 8192)
		return CAP_EINVAL;
	if (alias == NULL && (own = calloc((size_t)w * h, 4)) == NULL)
		return CAP_ENOMEM;
	s->own = own;
	s->fb = alias != NULL ? alias : own;
	s->width = w;
	s->height = h;
	if (s->scr != NULL) {
		/* rfbNewFramebuffer resets the pixel format to its default
		 * (red at bit 0) and re-installs translation for it; put ours
		 * back and re-install again. */
		rfbNewFramebuffer(s->scr, (char *)(uintptr_t)s->fb, w, h, 8, 3, 4);
		set_server_format(s->scr);
		it = rfbGetClientIterator(s->scr);
		while ((cl = rfbClientIteratorNext(it)) != NULL)
			s->scr->setTranslateFunction(cl);
		rfbReleaseClientIterator(it);
		rfb__log(WK_LOG_INFO, "framebuffer now %dx%d", w, h);
	}
	free(old);
	rfb_tilediff_invalidate(s->td);
	rfb__upd_forget(s->upd);
	return 0;
}

/* Same size, another buffer: the caller's frame in place (alias), or our
 * own again (alias NULL).  The tile hashes describe the frame last shown;
 * a caller's new buffer holds a frame the diff can compare with them, but
 * a fresh buffer of ours holds nothing yet, so then every tile is
 * converted again. */
static int
switch_fb(struct rfb_server *s, const uint8_t *alias)
{
	if (alias != NULL) {
		if (s->fb == alias)
			return 0;
		free(s->own);
		s->own = NULL;
		s->fb = alias;
	} else {
		if (s->own != NULL)
			return 0;
		if ((s->own = calloc((size_t)s->width * s->height, 4)) == NULL)
			return CAP_ENOMEM;
		s->fb = s->own;
		rfb_tilediff_invalidate(s->td);
	}
	screen_fb_changed(s);
	return 0;
}

static void
diff_job_run(void *ctx, int j, int thread)
{
	struct rfb_server *s = ctx;
	struct diff_job *d = &s->diff_jobs[j];
	const int per = MAX_RECTS / MAX_DIFF_JOBS;

	(void)thread;
	d->n_changed = 0;
	d->n = rfb__tilediff_rows(s->td, d->f, s->own, s->width * 4, d->convert, d->ty0, d->ty1,
				  d->changed, s->rects + j * per, per, &d->n_changed);
}

/* rfb_tilediff_run in bands of tile rows, on the encoding threads: hashing
 * and converting a big frame is the loop's largest cost before encoding.
 * Marks what changed; the number of changed tiles or a CAP_E* code. */
static int
diff_frame(struct rfb_server *s, const struct cap_frame *f, bool convert)
{
	struct rfb__pool *pool = rfb__upd_pool(s->upd);
	const int per = MAX_RECTS / MAX_DIFF_JOBS;
	int rows, jobs, n_changed = 0, rc;
	bool ok = true;

	if (rfb__pool_threads(pool) == 1 || (long)f->width * f->height < PAR_DIFF_PIXELS ||
	    rfb__tilediff_tiles_x(s->td) > (int)sizeof(s->diff_jobs[0].changed)) {
		int n = rfb_tilediff_run(s->td, f, s->own, s->width * 4, convert, s->rects, MAX_RECTS);

		if (n < 0)
			return n;
		for (int i = 0; i < n; i++) {
			const struct rfb_rect *r = &s->rects[i];

			rfbMarkRectAsModified(s->scr, r->x, r->y, r->x + r->w, r->y + r->h);
		}
		return rfb_tilediff_changed_tiles(s->td);
	}
	if ((rc = rfb__tilediff_begin(s->td, f, s->width * 4, MAX_RECTS)) < 0)
		return rc;
	/* Twice as many bands as threads: the shared machine's cores are not
	 * equally free. */
	rows = rfb__tilediff_tile_rows(s->td);
	jobs = 2 * rfb__pool_threads(pool);
	if (jobs > MAX_DIFF_JOBS)
		jobs = MAX_DIFF_JOBS;
	if (jobs > rows)
		jobs = rows;
	for (int j = 0; j < jobs; j++)
		s->diff_jobs[j] = (struct diff_job){ .s = s, .f = f, .convert = convert,
						     .ty0 = rows * j / jobs, .ty1 = rows * (j + 1) / jobs };
	rfb__pool_run(pool, jobs, diff_job_run, s);
	for (int j = 0; j < jobs; j++) {
		const struct diff_job *d = &s->diff_jobs[j];

		if (d->n < 0) {
			ok = false;
			rc = d->n;
			continue;
		}
		n_changed += d->n_changed;
		for (int i = 0; i < d->n; i++) {
			const struct rfb_rect *r = &s->rects[j * per + i];

			rfbMarkRectAsModified(s->scr, r->x, r->y, r->x + r->w, r->y + r->h);
		}
	}
	rfb__tilediff_end(s->td, ok, n_changed);
	return ok ? n_changed : rc;
}

int
rfb_frame(struct rfb_server *s, const struct cap_frame *f)
{
	struct cap_frame view;
	const struct cap_frame *diff = f;
	const uint8_t *alias = NULL;
	bool convert = true;
	int w = f->width, h = f->height, rc;

	if (f->fmt == CAP_FMT_MJPEG) {
		if (cap_jpeg_size(s->jpeg, f->data, f->size, &w, &h) < 0)
			return CAP_EFORMAT;
	} else if (f->stable && f->fmt == CAP_FMT_XRGB32 && f->stride == f->width * 4 &&
		   f->data != NULL && f->size >= (size_t)f->stride * (size_t)f->height) {
		/* Already what viewers are sent, and it stays put until the
		 * caller's next frame: show it in place instead of copying
		 * 8 MiB a frame at 1080p into a second buffer.  Nothing reads
		 * it outside our calls (encoding ends within rfb_process). */
		alias = f->data;
		convert = false;
	}
	if (w != s->width || h != s->height)
		rc = resize_fb(s, w, h, alias);
	else
		rc = switch_fb(s, alias);
	if (rc < 0)
		return rc;
	/* The framebuffer may change (or, after an error, be half written)
	 * from here on: nothing encoded before still holds. */
	rfb__upd_forget(s->upd);
	if (f->fmt == CAP_FMT_MJPEG) {
		/* Decode straight into the framebuffer, then find what changed
		 * by hashing it: no second copy of the frame. */
		rc = cap_jpeg_decode(s->jpeg, f->data, f->size, s->own, s->width * 4, w, h);
		if (rc < 0)
			return rc;
		if (rc == 0)
			return 0;	/* byte-identical JPEG */
		view = (struct cap_frame){ .fmt = CAP_FMT_XRGB32, .width = w, .height = h,
					   .stride = w * 4, .size = (size_t)w * h * 4,
					   .data = s->own, .ts_us = f->ts_us, .seq = f->seq };
		diff = &view;
		convert = false;
	}
	return diff_frame(s, diff, convert);
}

uint8_t
rfb_leds_to_qemu(unsigned leds)
{
	/* QEMU LED state: bit0 scroll, bit1 num, bit2 caps. */
	return (uint8_t)((leds & WK_LED_SCROLL ? 1 : 0) | (leds & WK_LED_NUM ? 2 : 0) |
			 (leds & WK_LED_CAPS ? 4 : 0));
}

void
rfb_set_leds(struct rfb_server *s, unsigned leds)
{
	rfbClientIteratorPtr it;
	rfbClientPtr cl;

	s->qemu_leds = rfb_leds_to_qemu(leds);
	it = rfbGetClientIterator(s->scr);
	while ((cl = rfbClientIteratorNext(it)) != NULL)
		if (viewer_of(cl) != NULL)
			send_leds(viewer_of(cl));
	rfbReleaseClientIterator(it);
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
	if ((s->upd = rfb__upd_new(opt->encoder_threads)) == NULL) {
		rc = RFB_ENOMEM;
		goto fail;
	}
	if ((rc = resize_fb(s, opt->width, opt->height, NULL)) < 0) {
		rc = rc == CAP_ENOMEM ? RFB_ENOMEM : RFB_EINVAL;
		goto fail;
	}

	rfbLog = lib_log_info;
	rfbMaxClientWait = MAX_CLIENT_WAIT_MS;
	rfbErr = lib_log_err;
	register_extensions();
	s->scr = rfbGetScreen(NULL, NULL, s->width, s->height, 8, 3, 4);
	if (s->scr == NULL) {
		rc = RFB_ENOMEM;
		goto fail;
	}
	screen_fb_changed(s);
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
	s->scr->kbdAddEvent = on_key;
	s->scr->ptrAddEvent = on_pointer;
	s->scr->newClientHook = client_new;
	if (in->power != NULL)
		s->scr->xvpHook = on_xvp;
	if (s->passwords[0] != NULL) {
		s->scr->authPasswdData = (void *)s->passwords;
		s->scr->passwordCheck = rfbCheckPasswordByList;
	}
	set_server_format(s->scr);
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
			struct rfb_viewer *v = viewer_of(cl);

			if (cl->sock != RFB_INVALID_SOCKET && v != NULL && v->pending == (pass == 1))
				pfd[n++] = (struct pollfd){ .fd = cl->sock, .events = POLLIN };
		}
		rfbReleaseClientIterator(it);
	}
	return n;
}

static enum rfb__phase
phase_of(rfbClientPtr cl)
{
	switch (cl->state) {
	case RFB_PROTOCOL_VERSION: return RFB__PHASE_VERSION;
	case RFB_SECURITY_TYPE: return RFB__PHASE_SECURITY;
	case RFB_AUTHENTICATION: return RFB__PHASE_AUTH;
	case RFB_INITIALISATION:
	case RFB_INITIALISATION_SHARED: return RFB__PHASE_INIT;
	default: return RFB__PHASE_NORMAL;
	}
}

/* Hands libvncserver the viewer's messages that have arrived whole. */
static void
viewer_read(struct rfb_server *s, rfbClientPtr cl, uint64_t now)
{
	struct rfb_viewer *v = viewer_of(cl);
	const char *why = "";

	for (int i = 0; i < 64 && cl->sock != RFB_INVALID_SOCKET; i++) {
		ssize_t n = recv(cl->sock, s->peek, sizeof(s->peek), MSG_PEEK | MSG_DONTWAIT);
		long m;

		if (n == 0) {
			rfb__log(WK_LOG_DEBUG, "%s: closed the connection", v->name);
			rfbCloseClient(cl);
			return;
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return;
			rfb__log(WK_LOG_INFO, "%s: recv: %s", v->name, strerror(errno));
			rfbCloseClient(cl);
			return;
		}
		m = rfb__msg_len(phase_of(cl), s->peek, (size_t)n, &why);
		if (m == RFB__BAD) {
			rfb__log(WK_LOG_WARN, "%s: %s (message type %u); closing", v->name, why,
				 s->peek[0]);
			rfbCloseClient(cl);
			return;
		}
		if (m == RFB__NEED_MORE) {
			struct pollfd p = { .fd = cl->sock, .events = POLLRDHUP };

			/* A peek cannot see a close behind the bytes it returns:
			 * a peer that sent part of a message and hung up would
			 * otherwise hold its slot until the stall timeout. */
			if (poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
				rfb__log(WK_LOG_DEBUG, "%s: closed in the middle of a message", v->name);
				rfbCloseClient(cl);
				return;
			}
			if (v->partial_since_us == 0)
				v->partial_since_us = now;
			return;
		}
		v->partial_since_us = 0;
		rfbProcessClientMessage(cl);
		/* Before the next message: it may be input, which needs an id. */
		if (v->pending && cl->state == RFB_NORMAL && cl->sock != RFB_INVALID_SOCKET &&
		    !promote(s, v))
			return;
	}
}

static void
viewer_check_stall(rfbClientPtr cl, uint64_t now)
{
	struct rfb_viewer *v = viewer_of(cl);

	if (cl->state != RFB_NORMAL && now - v->connected_us > STALL_US) {
		rfb__log(WK_LOG_WARN, "%s: handshake not finished in %llu s; closing", v->name,
			 STALL_US / 1000000ull);
		rfbCloseClient(cl);
	} else if (v->partial_since_us != 0 && now - v->partial_since_us > STALL_US) {
		rfb__log(WK_LOG_WARN, "%s: stopped in the middle of a message; closing", v->name);
		rfbCloseClient(cl);
	}
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
	struct rfb_viewer *v = viewer_of(cl);

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
viewer_update(struct rfb_server *s, rfbClientPtr cl)
{
	int outq = 0;

	if (cl->sock == RFB_INVALID_SOCKET)
		return;
	if (ioctl(cl->sock, SIOCOUTQ, &outq) == 0 && outq > OUTQ_LIMIT)
		return;	/* still sending the last one; changes keep accumulating */
	if (shared_update(s, cl))
		return;
	if (rfbUpdateClient(cl) && viewer_of(cl)->shared) {
		viewer_of(cl)->shared = false;
		rfb__log(WK_LOG_DEBUG, "viewer %d: updates from libvncserver", viewer_of(cl)->id);
	}
}

void
rfb_process(struct rfb_server *s)
{
	rfbClientIteratorPtr it;
	rfbClientPtr cl, prev;
	uint64_t now;

	accept_viewers(s);
	now = wk_now_us();	/* after accept: no viewer is newer than now */
	/* What rfbProcessEvents does, minus its blocking reads: read whole
	 * messages, send each viewer that asked for one an update of what
	 * was marked modified, then reap the viewers that were closed. */
	it = rfbGetClientIteratorWithClosed(s->scr);
	cl = rfbClientIteratorNext(it);
	while (cl != NULL) {
		if (cl->sock != RFB_INVALID_SOCKET && viewer_of(cl) != NULL) {
			viewer_read(s, cl, now);
			if (cl->sock != RFB_INVALID_SOCKET)
				viewer_check_stall(cl, now);
			if (!viewer_of(cl)->pending)
				viewer_update(s, cl);
		}
		prev = cl;
		cl = rfbClientIteratorNext(it);
		if (prev->sock == RFB_INVALID_SOCKET)
			rfbClientConnectionGone(prev);
	}
	rfbReleaseClientIterator(it);
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
