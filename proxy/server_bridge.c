/* WebSocket <-> target bridging.
 *
 * A bridged connection is a struct conn shared by two lws connections: the
 * viewer's WebSocket and the target's socket.  Each direction has a bounded
 * queue; when a queue passes PROXY_QUEUE_BOUND, reading from the side that
 * fills it stops (lws_rx_flow_control) until the other side has drained it
 * to half.  So a viewer that stops reading stalls only its own target, and a
 * connection never holds more than its two queues plus one frame that lws
 * keeps of a partial write.
 *
 * The target socket is connected here, non-blocking, and adopted into lws's
 * poll loop as a raw descriptor (lws_adopt_descriptor_vhost_via_info): lws
 * tells us when it is readable or writable and we do the reads and writes.
 * The same code serves TCP over IPv4/IPv6 and --unix-target, and we see the
 * connect's own errno (SO_ERROR) for the log line and the close reason.
 * Name resolution of a target is getaddrinfo (blocking); a target is
 * normally an address literal or /etc/hosts name.
 *
 * Target to viewer is where the bytes are (framebuffer updates), so on a
 * plain (not TLS) WebSocket they go through a pipe without copies
 * (server_splice.c).  Through TLS, the target is read straight into the
 * queue and lws_write frames and encrypts it. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/clock.h"
#include "proxy/server_int.h"

static void
conn_unref(struct conn *c)
{
	struct server *srv = c->srv;

	if (--c->refs > 0)
		return;
	proxy_log(WK_LOG_DEBUG, "#%u %s: closed (%llu bytes to target, %llu to viewer; %llu frames spliced, "
		  "%llu of them finished by lws)", c->id, c->peer, c->up, c->down, c->spliced, c->lws_ends);
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (--srv->nconns == 0)
		srv->idle_since = wk_now_ms();
	if (c->rearm_set)
		lws_sul_schedule(srv->ctx, 0, &c->rearm, NULL, LWS_SET_TIMER_USEC_CANCEL);
	if (c->pipe[0] >= 0) {
		close(c->pipe[0]);
		close(c->pipe[1]);
	}
	ring_free(&c->to_viewer);
	ring_free(&c->to_target);
	free(c);
}

/* Closes the WebSocket with code/reason once what is queued for the viewer
 * has gone out. */
static void
conn_finish(struct conn *c, int code, const char *reason)
{
	if (c->close_code == 0) {
		size_t n = strnlen(reason, sizeof(c->close_reason) - 1);

		c->close_code = code;
		/* A close reason must be valid UTF-8 and may quote a client's
		 * token: keep it to printable ASCII. */
		for (size_t i = 0; i < n; i++)
			c->close_reason[i] = reason[i] >= 0x20 && reason[i] < 0x7f ? reason[i] : '?';
		c->close_reason[n] = '\0';
	}
	if (c->ws)
		lws_callback_on_writable(c->ws);
}

/* Logs why the bridge ends and closes the WebSocket with that reason (cut
 * to what fits in a close frame). */
static void __attribute__((format(printf, 3, 4)))
conn_fail(struct conn *c, int code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	proxy_log(WK_LOG_WARN, "#%u %s: %s", c->id, c->peer, msg);
	msg[sizeof(c->close_reason) - 1] = '\0';
	conn_finish(c, code, msg);
}

static int
connect_target(struct conn *c, const struct proxy_addr *a)
{
	struct server *srv = c->srv;
	lws_adopt_desc_t ad = { 0 };
	struct lws *raw;
	int fd = -1, rc;

	if (srv->o->unix_target) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		snprintf(c->target, sizeof(c->target), "unix:%s", srv->o->unix_target);
		if (strlen(srv->o->unix_target) >= sizeof(sa.sun_path)) {
			rc = -ENAMETOOLONG;
			goto fail;
		}
		strcpy(sa.sun_path, srv->o->unix_target);
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0 ||
		    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			rc = -errno;
			goto fail;
		}
	} else {
		struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV }, *ai;
		char port[8];
		int one = 1, g;

		snprintf(c->target, sizeof(c->target), strchr(a->host, ':') ? "[%s]:%d" : "%s:%d",
			 a->host, a->port);
		snprintf(port, sizeof(port), "%d", a->port);
		if ((g = getaddrinfo(a->host, port, &hints, &ai)) != 0) {
			conn_fail(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "target %s: %s", c->target, gai_strerror(g));
			return -EHOSTUNREACH;
		}
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd >= 0)
			(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (fd < 0 || (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS)) {
			rc = -errno;
			freeaddrinfo(ai);
			goto fail;
		}
		freeaddrinfo(ai);
	}
	/* A raw descriptor to lws: it polls, we read and write. */
	ad.vh = srv->vh;
	ad.type = LWS_ADOPT_RAW_FILE_DESC;
	ad.fd.filefd = fd;
	ad.vh_prot_name = "webkvm-target";
	ad.opaque = c;
	c->refs++;
	raw = lws_adopt_descriptor_vhost_via_info(&ad);
	if (raw == NULL) {
		c->refs--;	/* a raw descriptor lws could not take is still ours */
		rc = -ENOMEM;
		goto fail;
	}
	c->raw = raw;
	c->tfd = fd;
	/* POLLOUT tells us when the non-blocking connect has finished.  No
	 * POLLIN until then: a refused connect's errno would go to a read
	 * instead of our SO_ERROR. */
	lws_rx_flow_control(raw, 0);
	lws_callback_on_writable(raw);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	conn_fail(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "target %s: connect: %s", c->target, strerror(-rc));
	return rc;
}

int
proxy__ws_established(struct server *srv, struct lws *wsi, struct pss *pss)
{
	struct proxy_addr a;
	char why[200], cookie[2048], arg[PROXY_TOKEN_MAX + 8];
	const char *tok = lws_get_urlarg_by_name(wsi, "token=", arg, sizeof(arg));
	struct conn *c = calloc(1, sizeof(*c));

	if (c == NULL || ring_init(&c->to_viewer, PROXY_QUEUE_CAP) < 0 ||
	    ring_init(&c->to_target, PROXY_QUEUE_CAP) < 0) {
		proxy_log(WK_LOG_ERROR, "out of memory for a new connection");
		if (c) {
			ring_free(&c->to_viewer);
			free(c);
		}
		return -1;
	}
	c->srv = srv;
	c->ws = wsi;
	c->refs = 1;
	c->tfd = -1;
	c->pipe[0] = c->pipe[1] = -1;
	c->id = ++srv->next_id;
	c->last_ping = wk_now_ms();
	proxy__peer_name(wsi, c->peer, sizeof(c->peer));
	if (srv->o->sndbuf > 0 &&
	    setsockopt(lws_get_socket_fd(wsi), SOL_SOCKET, SO_SNDBUF, &srv->o->sndbuf,
		       sizeof(srv->o->sndbuf)) < 0)
		proxy_log(WK_LOG_DEBUG, "#%u %s: --sndbuf: %s", c->id, c->peer, strerror(errno));
	/* Frames without copies need the viewer's socket itself: not
	 * through TLS.  Without a pipe (out of descriptors) the queue does. */
	if (!lws_is_ssl(wsi) && pipe2(c->pipe, O_NONBLOCK | O_CLOEXEC) == 0)
		(void)fcntl(c->pipe[1], F_SETPIPE_SZ, PROXY_QUEUE_BOUND);	/* else 64 KiB */
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	srv->nconns++;
	pss->conn = c;
	/* Looked up again: the token file may have changed since the upgrade
	 * was confirmed. */
	if (proxy_http_target(srv->o, tok && *tok ? tok : NULL,
			      proxy__hdr_get(wsi, WSI_TOKEN_HTTP_COOKIE, cookie, sizeof(cookie), NULL),
			      &a, why, sizeof(why)) < 0) {
		conn_fail(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "refusing: %s", why);
		return 0;
	}
	if (connect_target(c, &a) == 0)
		proxy_log(WK_LOG_DEBUG, "#%u %s: WebSocket (%s) -> %s", c->id, c->peer,
			  lws_get_protocol(wsi)->name, c->target);
	return 0;
}

int
proxy__ws_writeable(struct server *srv, struct lws *wsi, struct conn *c)
{
	uint8_t *buf = srv->tx + LWS_PRE;
	size_t n;

	/* lws flushes a partial write before calling us, so this holds; the
	 * raw writes of ws_send_piped are only right when it does. */
	if (lws_partial_buffered(wsi)) {
		lws_callback_on_writable(wsi);
		return 0;
	}
	if (c->ping_due) {
		c->ping_due = false;
		if (lws_write(wsi, buf, 0, LWS_WRITE_PING) < 0)
			return -1;
		lws_callback_on_writable(wsi);
		return 0;
	}
	if (c->piped > 0 || c->to_viewer.len > 0) {
		if (c->piped > 0) {
			if (proxy__ws_send_piped(srv, wsi, c) < 0)
				return -1;
			if (c->piped > 0)
				return 0;	/* the socket was full; POLLOUT asked */
		} else {
			n = ring_peek(&c->to_viewer, buf, PROXY_IO_CHUNK);
			if (lws_write(wsi, buf, n, LWS_WRITE_BINARY) < (int)n) {
				proxy_log(WK_LOG_DEBUG, "#%u %s: WebSocket write failed", c->id, c->peer);
				return -1;
			}
			ring_drop(&c->to_viewer, n);
			c->down += n;
		}
		if (c->raw_paused && c->raw && c->to_viewer.len <= PROXY_QUEUE_BOUND / 2) {
			c->raw_paused = false;
			lws_rx_flow_control(c->raw, 1);
		}
		if (c->to_viewer.len > 0 || c->close_code)
			lws_callback_on_writable(wsi);
		return 0;
	}
	if (c->close_code) {
		lws_close_reason(wsi, (enum lws_close_status)c->close_code,
				 (unsigned char *)c->close_reason, strlen(c->close_reason));
		return -1;
	}
	return 0;
}

int
proxy__ws_receive(struct lws *wsi, struct conn *c, const void *in, size_t len)
{
	if (c->close_code)
		return 0;	/* the target is gone; nothing to forward to */
	if (ring_put(&c->to_target, in, len) < 0) {
		proxy_log(WK_LOG_WARN, "#%u %s: queue to target overflowed; closing", c->id, c->peer);
		return -1;
	}
	if (c->raw && c->target_connected)
		lws_callback_on_writable(c->raw);
	if (!c->ws_paused && c->to_target.len >= PROXY_QUEUE_BOUND) {
		c->ws_paused = true;
		lws_rx_flow_control(wsi, 0);
	}
	return 0;
}

void
proxy__ws_closed(struct conn *c)
{
	c->ws = NULL;
	if (c->raw) {
		if (c->to_target.len == 0 || !c->target_connected) {
			lws_set_timeout(c->raw, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
		} else {
			/* Let the last bytes reach the target, but not forever. */
			if (c->raw_paused) {
				c->raw_paused = false;
				lws_rx_flow_control(c->raw, 1);
			}
			lws_set_timeout(c->raw, PENDING_TIMEOUT_USER_OK, 5);
			lws_callback_on_writable(c->raw);
		}
	}
	conn_unref(c);
}

/* lws drops a raw descriptor's POLLOUT after its writable callback, even
 * one asked for inside it: ask again from outside, on the next loop turn. */
static void
conn_rearm(lws_sorted_usec_list_t *sul)
{
	struct conn *c = lws_container_of(sul, struct conn, rearm);

	c->rearm_set = false;
	if (c->raw)
		lws_callback_on_writable(c->raw);
}

/* The target is readable.  0, or -1 to close raw. */
static int
target_rx(struct server *srv, struct lws *wsi, struct conn *c)
{
	ssize_t n;
	int rc;

	if (c->ws == NULL) {
		/* The viewer has gone; what the target still says is dropped. */
		n = read(c->tfd, srv->tx, sizeof(srv->tx));
		return n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) ? -1 : 0;
	}
	if (c->pipe[0] >= 0 && c->to_viewer.len == 0) {
		if ((rc = proxy__target_splice(c)) < 0)
			return -1;
		if (rc > 0) {
			/* Not read again before this frame has gone out. */
			c->raw_paused = true;
			lws_rx_flow_control(wsi, 0);
			lws_callback_on_writable(c->ws);
		}
		if (c->pipe[0] >= 0)
			return 0;
	}
	n = ring_read(&c->to_viewer, c->tfd);
	if (n == 0)
		return -1;
	if (n == -EAGAIN || n == -EINTR)
		return 0;
	if (n < 0) {
		if (n == -ENOBUFS)
			proxy_log(WK_LOG_WARN, "#%u %s: queue to viewer overflowed; closing", c->id, c->peer);
		else
			proxy_log(WK_LOG_DEBUG, "#%u %s: reading target %s: %s", c->id, c->peer, c->target, strerror((int)-n));
		return -1;
	}
	lws_callback_on_writable(c->ws);
	if (!c->raw_paused && c->to_viewer.len >= PROXY_QUEUE_BOUND) {
		c->raw_paused = true;
		lws_rx_flow_control(wsi, 0);
	}
	return 0;
}

/* The target is writable (or its connect has finished).  0, or -1 to close. */
static int
target_tx(struct server *srv, struct lws *wsi, struct conn *c)
{
	int err = 0;
	socklen_t elen = sizeof(err);

	if (!c->target_connected) {
		if (getsockopt(c->tfd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
			err = errno;
		if (err != 0) {
			conn_fail(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "target %s: connect: %s",
				  c->target, strerror(err));
			return -1;
		}
		c->target_connected = true;
		if (!c->raw_paused)
			lws_rx_flow_control(wsi, 1);
		proxy_log(WK_LOG_DEBUG, "#%u %s: connected to %s", c->id, c->peer, c->target);
	}
	while (c->to_target.len > 0) {
		ssize_t n = ring_send(&c->to_target, c->tfd);

		if (n == -EAGAIN || n == -EINTR)
			break;
		if (n < 0) {
			proxy_log(WK_LOG_DEBUG, "#%u %s: writing to target %s: %s", c->id, c->peer, c->target,
				  strerror((int)-n));
			return -1;
		}
		ring_drop(&c->to_target, (size_t)n);
		c->up += (uint64_t)n;
	}
	if (c->ws_paused && c->ws && c->to_target.len <= PROXY_QUEUE_BOUND / 2) {
		c->ws_paused = false;
		lws_rx_flow_control(c->ws, 1);
	}
	if (c->to_target.len > 0) {
		if (!c->rearm_set) {
			c->rearm_set = true;
			lws_sul_schedule(srv->ctx, 0, &c->rearm, conn_rearm, 1);
		}
	} else if (c->ws == NULL) {
		return -1;	/* flushed what the viewer sent before leaving */
	}
	return 0;
}

int
proxy__cb_target(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct conn *c = lws_get_opaque_user_data(wsi);
	struct server *srv = lws_context_user(lws_get_context(wsi));
	int err = 0;
	socklen_t elen = sizeof(err);

	(void)user;
	(void)in;
	(void)len;
	switch (reason) {
	case LWS_CALLBACK_RAW_ADOPT_FILE:
		return 0;
	case LWS_CALLBACK_RAW_RX_FILE:
		if (c == NULL)
			return -1;
		return target_rx(srv, wsi, c);
	case LWS_CALLBACK_RAW_WRITEABLE_FILE:
		if (c == NULL)
			return -1;
		return target_tx(srv, wsi, c);
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		if (c == NULL)
			return 0;
		c->raw = NULL;
		/* A Unix socket whose peer has gone reports POLLHUP, and lws
		 * closes at once even while we were not reading (a frame in
		 * flight): what the target said last is still in the socket,
		 * and is the viewer's, ahead of the close. */
		if (c->ws != NULL && c->target_connected && c->close_code == 0) {
			ssize_t n;

			while ((n = ring_read(&c->to_viewer, c->tfd)) > 0)
				;
			if (n == -ENOBUFS)
				proxy_log(WK_LOG_WARN, "#%u %s: target %s closed with more than the queue holds unread; "
					  "the rest is lost", c->id, c->peer, c->target);
			if (c->to_viewer.len > 0)
				lws_callback_on_writable(c->ws);
		}
		if (c->ws != NULL && c->close_code == 0) {
			if (!c->target_connected) {
				if (getsockopt(c->tfd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
					err = errno;
				conn_fail(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "target %s: connect: %s",
					  c->target, err ? strerror(err) : "closed before it was established");
			} else {
				proxy_log(WK_LOG_DEBUG, "#%u %s: target %s closed the connection", c->id, c->peer, c->target);
				conn_finish(c, LWS_CLOSE_STATUS_NORMAL, "target closed the connection");
			}
		}
		c->tfd = -1;
		lws_set_opaque_user_data(wsi, NULL);
		conn_unref(c);
		return 0;
	default:
		return 0;
	}
}
