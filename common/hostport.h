/* common/ — the one host:port parser, for every listen and target address.
 *
 * Rules, the same everywhere:
 *   host:port      host is a name or IPv4 address ([A-Za-z0-9._-]+)
 *   [ipv6]:port    IPv6 needs brackets: "::1:5900" is refused, since it
 *                  cannot be told apart from an address without a port
 *   port           only when the caller allows a bare port (host left "")
 *   :port          only when the caller allows an empty host (host left "")
 * port is decimal 1..65535, or 0..65535 when the caller allows port 0.
 */
#ifndef WEBKVM_COMMON_HOSTPORT_H
#define WEBKVM_COMMON_HOSTPORT_H

#include <stdbool.h>
#include <stddef.h>

#define WK_HOST_MAX 256

struct wk_hostport {
	char host[WK_HOST_MAX];	/* without brackets; "" for a bare port */
	int port;
	bool ipv6;		/* written in brackets */
};

enum {
	WK_HOSTPORT_BARE_PORT = 1,	/* "6080" alone is allowed */
	WK_HOSTPORT_EMPTY_HOST = 2,	/* ":5900" is allowed: a listener's every address */
	WK_HOSTPORT_PORT_ZERO = 4,	/* port 0 is allowed: a listener the kernel gives a port */
};

/* Returns 0, or -EINVAL with what was wrong (quoting s) in err. */
int wk_hostport_parse(const char *s, unsigned flags, struct wk_hostport *hp, char *err,
		      size_t errlen);
/* "host:port" or "[ipv6]:port" into out; returns snprintf's count. */
int wk_hostport_format(const struct wk_hostport *hp, char *out, size_t outlen);
/* True for "localhost", 127.0.0.0/8, ::1 and v4-mapped 127/8. */
bool wk_host_is_loopback(const char *host);

#endif
