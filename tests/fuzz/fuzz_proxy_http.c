/* The proxy's request path as far as our code handles it (proxy/http.c):
 * libwebsockets parses HTTP and every WebSocket frame, server_http.c copies the
 * headers out, and proxy_http_decide says what to do.  The first byte picks:
 *
 *   0 a request.  Byte 1: bit 0 TLS, 1 --ssl-only, 2 --auth none, 3 --web
 *     given, 4 WebSocket upgrade, 5 --token-plugin, 6 a valid session
 *     cookie is put in front of the Cookie header, 7 no users.  Byte 2:
 *     bit 0 Origin too long, 1 Sec-WebSocket-Protocol too long.  Then
 *     NUL-separated: method, path, Upgrade, Sec-WebSocket-Version, -Key,
 *     -Protocol, Origin, Host, Cookie, Content-Length, ?token=, one
 *     --allow-origin.  An empty field is an absent header.
 *   1 logins: up to 24 records of 1 byte (bits 0-1: client address, 2-3:
 *     the password check's result, 4: TLS, 5-7: seconds that pass) and a
 *     NUL-terminated login body, checked against a fixed users file.
 *   2 a body arriving in pieces: 2 bytes Content-Length (at most 1023),
 *     then piece sizes, one byte each.
 *   3 an error message made into a JSON answer.
 *
 * Besides crashes, the invariants are the security ones: nothing is
 * bridged, forwarded or logged in without a session (unless --auth none),
 * a foreign Origin never gets a WebSocket or a state-changing call, every
 * answer is well-formed (JSON answers pass proxy_json_check), log lines and
 * extra headers are printable ASCII (no log forging, no header injection),
 * and a file path never leaves the web root. */
#include <limits.h>

#include "tests/fuzz/fuzz_common.h"
#include "proxy/proxy.h"

#define HASH "$argon2id$v=19$m=65536,t=3,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNo"

static const char users[] = "# webkvm users\nadmin:" HASH "\nbob:" HASH "\nbad line\n";
static char token_path[64];
static struct proxy_sessions sessions;
static struct proxy_ratelimit rate;
static char session_id[PROXY_SESSION_ID_LEN + 1];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char tokens[] = "abc: 127.0.0.1:5901\n# comment\nbad line\nv6: [::1]:5902\n";
	int fd;

	(void)argc;
	(void)argv;
	fd = fuzz_memfd("tokens", token_path, sizeof(token_path));
	fuzz_memfd_set(fd, (const uint8_t *)tokens, sizeof(tokens) - 1);
	return 0;
}

static bool
is_printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

static void
check_answer(const struct proxy_http_answer *a)
{
	char err[160];

	FUZZ_CHECK(a->status >= 100 && a->status <= 599);
	FUZZ_CHECK(a->ctype != NULL);
	FUZZ_CHECK(a->len < sizeof(a->body) && a->body[a->len] == '\0' && strlen(a->body) == a->len);
	if (strcmp(a->ctype, "application/json") == 0)
		FUZZ_CHECK(proxy_json_check(a->body, a->len, err, sizeof(err)) == 0);
	if (a->hdr != NULL) {
		FUZZ_CHECK(a->hdr[strlen(a->hdr) - 1] == ':');
		FUZZ_CHECK(a->hdr_value[0] != '\0' && is_printable(a->hdr_value));
	}
}

/* Splits s (n bytes, NUL-terminated) on NUL into at most max fields; the
 * ones not present are "". */
static void
fields(char *s, size_t n, const char **out, int max)
{
	size_t i = 0;

	for (int k = 0; k < max; k++) {
		out[k] = i < n ? s + i : "";
		if (i < n)
			i += strlen(s + i) + 1;
	}
}

static const char *
opt(const char *s)
{
	return s[0] != '\0' ? s : NULL;
}

static void
request(const uint8_t *d, size_t n)
{
	static long long now = 1000;
	struct proxy_options o;
	struct proxy_http_req r;
	struct proxy_http_ctx c;
	struct proxy_http_decision *dec = malloc(sizeof(*dec));
	const char *f[12];
	char *s, *cookie = NULL;
	uint8_t b1, b2;
	bool session, origin_ok;

	if (dec == NULL)
		abort();
	b1 = n > 0 ? d[0] : 0;
	b2 = n > 1 ? d[1] : 0;
	s = fuzz_strndup(d + (n > 2 ? 2 : n), n > 2 ? n - 2 : 0);
	fields(s, n > 2 ? n - 2 : 0, f, 12);

	memset(&o, 0, sizeof(o));
	o.has_target = !(b1 & 0x20);
	snprintf(o.target.host, sizeof(o.target.host), "127.0.0.1");
	o.target.port = 5900;
	o.tls = (b1 & 0x03) != 0;
	o.ssl_only = (b1 & 0x02) != 0;
	o.auth = (b1 & 0x04) ? PROXY_AUTH_NONE : PROXY_AUTH_DEFAULT;
	o.web = (b1 & 0x08) ? "/srv/web" : NULL;
	o.token_source = (b1 & 0x20) ? token_path : NULL;
	o.allow_origin[0] = f[11];
	o.n_allow_origin = f[11][0] != '\0';

	/* One live session; its id goes in front of the Cookie header when
	 * asked, so the fuzzer reaches what a logged-in user reaches. */
	now += 7;
	sessions.idle = 3600 * 1000LL;
	sessions.max = 12 * 3600 * 1000LL;
	if (proxy_session_get(&sessions, session_id, now) == NULL)
		FUZZ_CHECK(proxy_session_new(&sessions, "admin", now, session_id) == 0);
	session = (b1 & 0x40) != 0;
	if (session) {
		size_t l = strlen(f[8]) + sizeof(PROXY_SESSION_COOKIE) + PROXY_SESSION_ID_LEN + 8;

		if ((cookie = malloc(l)) == NULL)
			abort();
		snprintf(cookie, l, PROXY_SESSION_COOKIE "=%s; %s", session_id, f[8]);
	}

	memset(&r, 0, sizeof(r));
	r.method = f[0];
	r.uri = f[1];
	r.upgrade = (b1 & 0x10) ? f[2] : NULL;
	r.ws_version = opt(f[3]);
	r.ws_key = opt(f[4]);
	r.ws_protocol_long = (b2 & 2) != 0;
	r.ws_protocol = r.ws_protocol_long ? NULL : opt(f[5]);
	r.origin_long = (b2 & 1) != 0;
	r.origin = r.origin_long ? NULL : opt(f[6]);
	r.host = opt(f[7]);
	r.cookie = session ? cookie : opt(f[8]);
	r.content_length = opt(f[9]);
	r.token = opt(f[10]);
	r.tls = (b1 & 0x01) != 0;
	r.peer = "127.0.0.1:40000";
	r.ip = "127.0.0.1";

	memset(&c, 0, sizeof(c));
	c.o = &o;
	c.sessions = &sessions;
	c.rate = &rate;
	c.now = now;
	c.web = o.web != NULL;
	c.users = users;
	c.users_len = sizeof(users) - 1;
	c.nusers = (b1 & 0x80) ? 0 : 2;

	proxy_http_decide(&c, &r, dec);

	FUZZ_CHECK(is_printable(dec->log));
	origin_ok = !r.origin_long &&
		    (r.origin == NULL || proxy_origin_ok(r.origin, r.host ? r.host : "", r.tls,
							 o.allow_origin, o.n_allow_origin));
	switch (dec->action) {
	case PROXY_HTTP_ANSWER:
		check_answer(&dec->answer);
		if (dec->answer.status == 200) {
			FUZZ_CHECK(strcmp(r.uri, "/api/session") == 0);
			FUZZ_CHECK(o.auth == PROXY_AUTH_NONE || session);
		}
		break;
	case PROXY_HTTP_UPGRADE:
		FUZZ_CHECK(r.upgrade != NULL && strcmp(r.upgrade, "websocket") == 0);
		FUZZ_CHECK(r.ws_version != NULL && strcmp(r.ws_version, "13") == 0);
		FUZZ_CHECK(origin_ok);
		FUZZ_CHECK(!(o.ssl_only && !r.tls));
		FUZZ_CHECK(o.auth == PROXY_AUTH_NONE || session);
		FUZZ_CHECK(dec->target.port > 0 && dec->target.port <= 65535);
		if (o.token_source == NULL)
			FUZZ_CHECK(dec->target.port == 5900);
		break;
	case PROXY_HTTP_FILE:
		FUZZ_CHECK(r.upgrade == NULL);
		FUZZ_CHECK(strcmp(r.method, "GET") == 0 || strcmp(r.method, "HEAD") == 0);
		FUZZ_CHECK(c.web && !(o.ssl_only && !r.tls));
		FUZZ_CHECK(dec->where[0] != '/');
		FUZZ_CHECK(strcmp(dec->where, "..") != 0 && strncmp(dec->where, "../", 3) != 0 &&
			   strstr(dec->where, "/../") == NULL &&
			   (strlen(dec->where) < 3 || strcmp(dec->where + strlen(dec->where) - 3, "/..") != 0));
		break;
	case PROXY_HTTP_API:
	case PROXY_HTTP_BODY:
		FUZZ_CHECK(r.upgrade == NULL && strncmp(r.uri, "/api/", 5) == 0);
		FUZZ_CHECK(!(o.ssl_only && !r.tls));
		if (dec->action == PROXY_HTTP_BODY) {
			FUZZ_CHECK(strcmp(r.method, "POST") == 0 && origin_ok);
			FUZZ_CHECK(dec->body_len <= PROXY_BODY_DRAIN_MAX);
			FUZZ_CHECK(dec->body_too_big == (dec->body_len > PROXY_BODY_MAX));
			if (dec->post == PROXY_POST_LOGIN)
				FUZZ_CHECK(strcmp(r.uri, "/api/login") == 0);
			else
				FUZZ_CHECK(o.auth == PROXY_AUTH_NONE || session);
		} else {
			FUZZ_CHECK(strcmp(r.method, "POST") != 0);
			FUZZ_CHECK(o.auth == PROXY_AUTH_NONE || session);
		}
		break;
	default:
		FUZZ_CHECK(!"unknown action");
	}
	free(cookie);
	free(s);
	free(dec);
}

static void
logins(const uint8_t *d, size_t n)
{
	static const char *ips[4] = { "127.0.0.1", "10.0.0.2", "::1", "" };
	static const int results[4] = { 0, -EACCES, -EINVAL, -ENOSYS };
	struct proxy_http_decision *dec = malloc(sizeof(*dec));
	struct proxy_login *l = malloc(sizeof(*l));
	struct proxy_options o;
	struct proxy_http_ctx c;
	size_t i = 0;

	if (dec == NULL || l == NULL)
		abort();
	memset(&o, 0, sizeof(o));
	memset(&c, 0, sizeof(c));
	memset(&rate, 0, sizeof(rate));
	/* A fresh table: a full one costs 64 id comparisons per lookup. */
	memset(&sessions, 0, sizeof(sessions));
	c.o = &o;
	c.sessions = &sessions;
	c.rate = &rate;
	c.now = 1000;
	c.users = users;
	c.users_len = sizeof(users) - 1;
	c.nusers = 2;
	sessions.idle = 3600 * 1000LL;
	sessions.max = 12 * 3600 * 1000LL;
	/* The rate limit saturates after a dozen failures; longer sequences
	 * only slow the fuzzer down. */
	for (int k = 0; i < n && k < 24; k++) {
		uint8_t rec = d[i++];
		size_t blen = strnlen((const char *)d + i, n - i);
		char *body = fuzz_strndup(d + i, blen);
		const char *ip = ips[rec & 3];
		int rc = results[(rec >> 2) & 3], wait;

		i += blen + 1;
		c.now += ((rec >> 5) & 7) * 1000LL;
		memset(l, 0, sizeof(*l));
		snprintf(l->ip, sizeof(l->ip), "%s", ip);
		l->tls = (rec & 0x10) != 0;
		wait = proxy_rate_wait(&rate, ip, c.now);
		if (proxy_login_begin(&c, l, body, blen, dec) == 0) {
			FUZZ_CHECK(dec->action == PROXY_HTTP_ANSWER);
			FUZZ_CHECK(dec->answer.status != 200);
			if (wait > 0)
				FUZZ_CHECK(dec->answer.status == 429);
		} else {
			FUZZ_CHECK(wait == 0);
			FUZZ_CHECK(strcmp(l->hash, HASH) == 0 || strncmp(l->hash, "$argon2id$", 10) == 0);
			FUZZ_CHECK(l->known == (proxy_user_name_ok(l->user) &&
						(strcmp(l->user, "admin") == 0 || strcmp(l->user, "bob") == 0)));
			proxy_login_end(&c, l, rc, dec);
			FUZZ_CHECK(l->password[0] == '\0');
			FUZZ_CHECK(dec->action == PROXY_HTTP_ANSWER);
			if (dec->answer.status == 200) {
				char id[PROXY_SESSION_ID_LEN + 2];

				FUZZ_CHECK(rc == 0 && l->known);
				FUZZ_CHECK(dec->answer.hdr != NULL && strcmp(dec->answer.hdr, "set-cookie:") == 0);
				FUZZ_CHECK(proxy_cookie_value(dec->answer.hdr_value, PROXY_SESSION_COOKIE, id,
							      sizeof(id)) == 1);
				FUZZ_CHECK(proxy_session_get(&sessions, id, c.now) != NULL);
				FUZZ_CHECK((strstr(dec->answer.hdr_value, "; Secure") != NULL) == l->tls);
				FUZZ_CHECK(proxy_rate_wait(&rate, ip, c.now) == 0);
			} else {
				FUZZ_CHECK(dec->answer.hdr == NULL);
			}
			if (rc == -EACCES || rc == -EINVAL || (rc == 0 && !l->known))
				FUZZ_CHECK(dec->answer.status == 401);
		}
		check_answer(&dec->answer);
		FUZZ_CHECK(is_printable(dec->log));
		free(body);
	}
	free(l);
	free(dec);
}

static void
body(const uint8_t *d, size_t n)
{
	static char buf[1024];
	struct proxy_http_body b = { 0 };
	size_t total = 0;

	if (n < 2)
		return;
	b.want = (size_t)(d[0] | d[1] << 8) % sizeof(buf);
	b.buf = buf;
	for (size_t i = 2; i < n; i++) {
		size_t piece = d[i];
		uint8_t *chunk = malloc(piece + 1);

		if (chunk == NULL)
			abort();
		memset(chunk, 'x', piece);
		proxy_http_body_add(&b, chunk, piece);
		free(chunk);
		total += piece;
		FUZZ_CHECK(b.len <= b.want);
		FUZZ_CHECK((b.status == 413) == (total > b.want));
		if (b.status == 0)
			FUZZ_CHECK(b.len == total);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 4) {
	case 0:
		request(data + 1, size - 1);
		break;
	case 1:
		logins(data + 1, size - 1);
		break;
	case 2:
		body(data + 1, size - 1);
		break;
	default: {
		struct proxy_http_answer a;
		char *msg = fuzz_strndup(data + 1, size - 1);

		memset(&a, 0, sizeof(a));
		proxy_http_json_error(&a, 400 + data[0] % 100, msg);
		check_answer(&a);
		free(msg);
		break;
	}
	}
	return 0;
}
