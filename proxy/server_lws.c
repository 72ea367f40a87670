/* libwebsockets' own log lines, and the one of them we act on.
 *
 * When a request's headers overflow lws's buffer (PROXY_HEADER_MAX), lws
 * closes that connection at once, in the same service call, and offers no
 * way to answer it; its only trace is a log line.  So we keep the set of
 * connections whose request head is not dispatched yet, and when the line
 * comes with exactly one of them pending, that one overflowed and gets a
 * 431 written straight on its socket before lws shuts it down. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "proxy/server_int.h"

/* Grows as connections come (lws bounds how many there are): a set that
 * dropped one when full could later name another client as the only one
 * pending, and send it the 431. */
static struct {
	struct lws **wsi;
	size_t n, cap;
	bool lost;	/* a connection could not be recorded: never answer */
} pending;

void
proxy__pending_add(struct lws *wsi)
{
	if (pending.n == pending.cap) {
		size_t cap = pending.cap ? 2 * pending.cap : 64;
		struct lws **grown = realloc(pending.wsi, cap * sizeof(*grown));

		if (grown == NULL) {
			if (!pending.lost)
				proxy_log(WK_LOG_WARN, "out of memory for the pending request list; "
					  "oversized request headers now get no 431");
			pending.lost = true;
			return;
		}
		pending.wsi = grown;
		pending.cap = cap;
	}
	pending.wsi[pending.n++] = wsi;
}

void
proxy__pending_del(struct lws *wsi)
{
	for (size_t i = 0; i < pending.n; i++) {
		if (pending.wsi[i] == wsi) {
			pending.wsi[i] = pending.wsi[--pending.n];
			return;
		}
	}
}

struct lws *
proxy__pending_only(void)
{
	return pending.n == 1 && !pending.lost ? pending.wsi[0] : NULL;
}

void
proxy__pending_free(void)
{
	free(pending.wsi);
	memset(&pending, 0, sizeof(pending));
}

static void
answer_431(struct lws *wsi)
{
	static const char resp[] =
		"HTTP/1.1 431 Request Header Fields Too Large\r\n"
		"Content-Type: text/plain; charset=utf-8\r\n"
		"Content-Length: 36\r\n"
		"Connection: close\r\n\r\n"
		"431 Request Header Fields Too Large\n";
	int fd = lws_get_socket_fd(wsi);
	char peer[64], sink[4096];

	proxy__peer_name(wsi, peer, sizeof(peer));
	proxy_log(WK_LOG_INFO, "%s: request headers larger than %d bytes; answering 431", peer,
		  PROXY_HEADER_MAX);
	if (fd < 0 || lws_is_ssl(wsi))
		return;
	/* Read what is left of the request, so that closing does not reset
	 * the connection before the client has read the answer. */
	for (int i = 0; i < 64 && recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0; i++)
		;
	if (send(fd, resp, sizeof(resp) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		proxy_log(WK_LOG_DEBUG, "%s: 431 answer: %s", peer, strerror(errno));
}

void
proxy__lws_emit(int level, const char *line)
{
	size_t n = strlen(line);

	if (strstr(line, "Ran out of header data space") != NULL) {
		/* We are inside lws's parser for the connection that overflowed;
		 * with one undispatched request head it can only be that one.
		 * With several we cannot tell which, and lws just hangs up. */
		struct lws *only = proxy__pending_only();

		if (only != NULL) {
			proxy__pending_del(only);
			answer_431(only);
		} else {
			proxy_log(WK_LOG_INFO, "request headers larger than %d bytes; connection closed",
				  PROXY_HEADER_MAX);
		}
		return;
	}
	while (n > 0 && line[n - 1] == '\n')
		n--;
	proxy_log(level & LLL_ERR ? WK_LOG_ERROR : level & LLL_WARN ? WK_LOG_WARN : WK_LOG_INFO,
		  "lws: %.*s", (int)n, line);
}
