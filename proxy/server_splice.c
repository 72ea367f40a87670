/* Target -> viewer frames without copies.
 *
 * On a plain WebSocket the target's bytes go from its socket into c->pipe
 * (splice), and from the pipe into the viewer's socket (splice again)
 * behind a frame header we send ourselves with MSG_MORE; the kernel hands
 * pages along instead of copying them.  A frame carries what one splice
 * from the target brought (at most PROXY_QUEUE_BOUND), and the target is
 * not read again until that frame is out, so the pipe is the queue.
 *
 * Writing on lws's socket behind its back is safe only between frames: lws
 * writes control frames of its own (a pong, a close) when the socket is
 * writable, after whatever it still has buffered of a partial write.  So a
 * frame we start is always finished at once: what the viewer's socket did
 * not take is read out of the pipe and handed to lws_write as raw bytes,
 * which lws keeps and sends before anything else. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proxy/server_int.h"

int
proxy__target_splice(struct conn *c)
{
	ssize_t n = splice(c->tfd, NULL, c->pipe[1], NULL, PROXY_QUEUE_BOUND,
			   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);

	if (n > 0) {
		c->piped += (size_t)n;
		return 1;
	}
	if (n == 0)
		return -1;
	if (errno == EAGAIN || errno == EINTR)
		return 0;
	if ((errno == EINVAL || errno == ENOSYS) && c->piped == 0) {
		/* This kind of socket cannot splice: copy instead. */
		proxy_log(WK_LOG_DEBUG, "#%u %s: target %s cannot splice (%s); copying", c->id, c->peer, c->target,
			  strerror(errno));
		close(c->pipe[0]);
		close(c->pipe[1]);
		c->pipe[0] = c->pipe[1] = -1;
		return 0;
	}
	proxy_log(WK_LOG_DEBUG, "#%u %s: reading target %s: %s", c->id, c->peer, c->target, strerror(errno));
	return -1;
}

/* Hands len bytes of the pipe to lws, which sends what it can and keeps
 * the rest (ahead of anything written later). */
static int
pipe_to_lws(struct server *srv, struct lws *wsi, struct conn *c, size_t len)
{
	uint8_t *buf = srv->tx + LWS_PRE;

	while (len > 0) {
		ssize_t n = read(c->pipe[0], buf, len < PROXY_IO_CHUNK ? len : PROXY_IO_CHUNK);

		if (n <= 0) {
			proxy_log(WK_LOG_ERROR, "#%u %s: reading the frame back from its pipe: %s", c->id, c->peer,
				  n < 0 ? strerror(errno) : "empty");
			return -1;
		}
		if (lws_write(wsi, buf, (size_t)n, LWS_WRITE_HTTP) < 0)
			return -1;
		len -= (size_t)n;
	}
	return 0;
}

size_t
proxy__ws_frame_header(uint8_t hdr[10], size_t len)
{
	hdr[0] = 0x82;		/* FIN, binary */
	if (len < 126) {
		hdr[1] = (uint8_t)len;
		return 2;
	}
	if (len <= 0xffff) {
		hdr[1] = 126;
		hdr[2] = (uint8_t)(len >> 8);
		hdr[3] = (uint8_t)len;
		return 4;
	}
	hdr[1] = 127;
	for (int i = 0; i < 8; i++)
		hdr[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
	return 10;
}

int
proxy__ws_send_piped(struct server *srv, struct lws *wsi, struct conn *c)
{
	uint8_t hdr[10];
	size_t len = c->piped, hlen;
	int fd = lws_get_socket_fd(wsi);
	ssize_t k, m;

	hlen = proxy__ws_frame_header(hdr, len);
	k = send(fd, hdr, hlen, MSG_MORE | MSG_NOSIGNAL | MSG_DONTWAIT);
	if (k < 0) {
		if (errno == EAGAIN || errno == EINTR) {
			lws_callback_on_writable(wsi);
			return 0;	/* nothing of the frame went: try later */
		}
		proxy_log(WK_LOG_DEBUG, "#%u %s: WebSocket write failed: %s", c->id, c->peer, strerror(errno));
		return -1;
	}
	m = 0;
	if ((size_t)k < hlen) {
		if (lws_write(wsi, hdr + k, hlen - (size_t)k, LWS_WRITE_HTTP) < 0)
			return -1;
	} else {
		m = splice(c->pipe[0], NULL, fd, NULL, len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (m < 0 && errno != EAGAIN && errno != EINTR) {
			proxy_log(WK_LOG_DEBUG, "#%u %s: WebSocket write failed: %s", c->id, c->peer, strerror(errno));
			return -1;
		}
		if (m < 0)
			m = 0;
	}
	if ((size_t)m < len || (size_t)k < hlen) {
		if ((size_t)m < len && pipe_to_lws(srv, wsi, c, len - (size_t)m) < 0)
			return -1;
		c->lws_ends++;
	}
	c->spliced++;
	c->piped = 0;
	c->down += len;
	return 0;
}
