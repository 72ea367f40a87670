#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/hostport.h"
#include "common/parse.h"

static int
bad(char *err, size_t errlen, const char *s, const char *why)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "bad address \"%.200s\": %s", s, why);
	return -EINVAL;
}

static int
take_port(const char *p, const char *s, unsigned flags, struct wk_hostport *hp, char *err,
	  size_t errlen)
{
	long v;

	if (flags & WK_HOSTPORT_PORT_ZERO) {
		if (wk_parse_long(p, 0, 65535, &v) < 0)
			return bad(err, errlen, s, "want a port 0..65535");
	} else if (wk_parse_long(p, 1, 65535, &v) < 0) {
		return bad(err, errlen, s, "want a port 1..65535");
	}
	hp->port = (int)v;
	return 0;
}

int
wk_hostport_parse(const char *s, unsigned flags, struct wk_hostport *hp, char *err, size_t errlen)
{
	const char *colon;
	size_t hostlen;
	struct in6_addr a6;

	memset(hp, 0, sizeof(*hp));
	if (s == NULL || *s == '\0')
		return bad(err, errlen, "", "empty");
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL || close[1] != ':')
			return bad(err, errlen, s, "want [ipv6]:port");
		hostlen = (size_t)(close - s - 1);
		if (hostlen == 0 || hostlen >= sizeof(hp->host))
			return bad(err, errlen, s, "empty or long IPv6 address");
		memcpy(hp->host, s + 1, hostlen);
		if (inet_pton(AF_INET6, hp->host, &a6) != 1)
			return bad(err, errlen, s, "not an IPv6 address");
		hp->ipv6 = true;
		return take_port(close + 2, s, flags, hp, err, errlen);
	}
	colon = strrchr(s, ':');
	if (colon == NULL) {
		if (!(flags & WK_HOSTPORT_BARE_PORT))
			return bad(err, errlen, s, "want host:port");
		return take_port(s, s, flags, hp, err, errlen);
	}
	if (strchr(s, ':') != colon)
		return bad(err, errlen, s, "IPv6 addresses need brackets, e.g. [::1]:6080");
	hostlen = (size_t)(colon - s);
	if (hostlen == 0) {
		if (!(flags & WK_HOSTPORT_EMPTY_HOST))
			return bad(err, errlen, s, "empty host");
		return take_port(colon + 1, s, flags, hp, err, errlen);
	}
	if (hostlen >= sizeof(hp->host))
		return bad(err, errlen, s, "host name too long");
	for (size_t i = 0; i < hostlen; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == '_'))
			return bad(err, errlen, s, "bad character in host");
	}
	memcpy(hp->host, s, hostlen);
	return take_port(colon + 1, s, flags, hp, err, errlen);
}

int
wk_hostport_format(const struct wk_hostport *hp, char *out, size_t outlen)
{
	if (hp->ipv6)
		return snprintf(out, outlen, "[%s]:%d", hp->host, hp->port);
	return snprintf(out, outlen, "%s:%d", hp->host, hp->port);
}

bool
wk_host_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (strcasecmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1) {
		if (IN6_IS_ADDR_LOOPBACK(&a6))
			return true;
		return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
	}
	return false;
}
