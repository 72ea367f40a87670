/* RFB viewers: admission and lifecycle.  A connection waits in the
 * handshake within bounds per address and in all, becomes a viewer with an
 * id once the handshake is done, and is dropped when it stalls.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rfb/rfb.h>

#include "common/clock.h"
#include "rfb/framing.h"
#include "rfb/log.h"
#include "rfb/server_int.h"

#define MAX_VIEWERS		64
/* A connection is a viewer once its RFB handshake is done; before that it
 * takes no viewer slot.  At most this many wait in the handshake from one
 * client address, and this many in all: a new connection past either bound
 * closes the oldest waiting one (of that address, or of all).  A real
 * viewer's handshake takes a round trip or two, so a flood of idle
 * connections cannot keep it out, and costs bounded memory. */
#define PENDING_PER_ADDR	16
#define PENDING_MAX		64
/* Connections accepted per rfb_process() call. */
#define ACCEPT_BATCH		32
/* Kernel send buffer per viewer, so one whole update fits without our
 * write blocking. */
#define SNDBUF			(8 * 1024 * 1024)

static void
client_gone(rfbClientPtr cl)
{
	struct rfb_viewer *v = rfb__viewer_of(cl);
	struct rfb_server *s;

	if (v == NULL)
		return;
	s = v->srv;
	s->bytes_gone += (uint64_t)rfbStatGetSentBytes(cl);
	rfb__h264_viewer_gone(v);
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
		struct rfb_viewer *v = rfb__viewer_of(cl);

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

enum rfbNewClientAction
rfb__client_new(rfbClientPtr cl)
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

	if (s->n_viewers >= MAX_VIEWERS) {
		rfb__log(WK_LOG_WARN, "%s: viewer refused: %d viewers already", v->name, s->n_viewers);
		rfbCloseClient(v->cl);
		return false;
	}
	for (id = 0; id < MAX_VIEWERS && (s->viewer_ids & (1ULL << id)); id++)
		;
	if (id == MAX_VIEWERS) {	/* cannot be, with fewer than MAX_VIEWERS viewers */
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

void
rfb__accept_viewers(struct rfb_server *s)
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
		 * version and calls rfb__client_new(); on refusal it closes fd. */
		if (rfbNewClient(s->scr, fd) == NULL)
			rfb__log(WK_LOG_WARN, "viewer connection dropped during setup");
	}
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
void
rfb__viewer_read(struct rfb_server *s, rfbClientPtr cl, uint64_t now)
{
	struct rfb_viewer *v = rfb__viewer_of(cl);
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
		if (cl->state == RFB_NORMAL && s->peek[0] == rfbSetEncodings)
			rfb__h264_set_encodings(v, s->peek, (size_t)m);
		rfbProcessClientMessage(cl);
		/* Before the next message: it may be input, which needs an id. */
		if (v->pending && cl->state == RFB_NORMAL && cl->sock != RFB_INVALID_SOCKET &&
		    !promote(s, v))
			return;
	}
}

void
rfb__viewer_check_stall(rfbClientPtr cl, uint64_t now)
{
	struct rfb_viewer *v = rfb__viewer_of(cl);

	if (cl->state != RFB_NORMAL && now - v->connected_us > STALL_US) {
		rfb__log(WK_LOG_WARN, "%s: handshake not finished in %llu s; closing", v->name,
			 STALL_US / 1000000ull);
		rfbCloseClient(cl);
	} else if (v->partial_since_us != 0 && now - v->partial_since_us > STALL_US) {
		rfb__log(WK_LOG_WARN, "%s: stopped in the middle of a message; closing", v->name);
		rfbCloseClient(cl);
	}
}
