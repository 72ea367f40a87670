/* What to do with an HTTP request or WebSocket upgrade, decided from the
 * headers server.c copies out of libwebsockets.  No lws here, so every
 * branch is fuzzed on its own (tests/fuzz/fuzz_proxy_http.c).
 *
 * Order of checks, kept from when this lived inline in server.c: the shape
 * of the request (method, handshake), then --ssl-only, then Origin, then
 * the session, then the token or path.  A foreign Origin is refused before
 * the session is even looked at, so a cross-site request learns nothing
 * about whether the user is logged in. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/parse.h"
#include "proxy/proxy.h"

/* An unknown user name costs the same argon2 run as a known one, so the
 * answer's timing does not tell which names exist.  The hash is of random
 * bytes nobody kept. */
static const char decoy_hash[] =
	"$argon2id$v=19$m=65536,t=3,p=1$8l3Z5+A/1Y1dnNma9H2V8g$"
	"fc8hDIYlzBNM++ptSIyQ8O+5lBiG7nNwewo5nUsOopA";

enum req_kind { REQ_UPGRADE, REQ_API, REQ_API_STATE, REQ_LOGIN };

/* Client bytes quoted in a log line: printable ASCII only, so a crafted
 * header cannot forge or split log lines. */
static void
printable(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
}

static void __attribute__((format(printf, 2, 3)))
say(struct proxy_http_decision *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->log, sizeof(d->log), fmt, ap);
	va_end(ap);
	printable(d->log);
}

void
proxy_http_text(struct proxy_http_answer *a, unsigned status, const char *msg, bool head)
{
	int n = snprintf(a->body, sizeof(a->body), "%u %s\n", status, msg);

	a->status = status;
	a->ctype = "text/plain; charset=utf-8";
	a->len = n < 0 ? 0 : (size_t)n < sizeof(a->body) ? (size_t)n : sizeof(a->body) - 1;
	a->head = head;
}

static void
answer_text(struct proxy_http_decision *d, unsigned status, const char *msg, bool head)
{
	d->action = PROXY_HTTP_ANSWER;
	proxy_http_text(&d->answer, status, msg, head);
}

void
proxy_http_json_error(struct proxy_http_answer *a, unsigned status, const char *msg)
{
	size_t o = 0;

	o += (size_t)snprintf(a->body, sizeof(a->body), "{\"ok\":false,\"error\":\"");
	for (const char *s = msg; *s != '\0' && o < sizeof(a->body) - 8; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			a->body[o++] = '\\';
		/* Messages may quote what the client sent: keep the JSON
		 * valid whatever the bytes. */
		a->body[o++] = ch < 0x20 || ch >= 0x7f ? '?' : (char)ch;
	}
	o += (size_t)snprintf(a->body + o, sizeof(a->body) - o, "\"}\n");
	a->status = status;
	a->ctype = "application/json";
	a->len = o;
}

static void
answer_json_error(struct proxy_http_decision *d, unsigned status, const char *msg)
{
	d->action = PROXY_HTTP_ANSWER;
	proxy_http_json_error(&d->answer, status, msg);
}

/* A JSON answer made of trusted text. */
static void __attribute__((format(printf, 3, 4)))
answer_json(struct proxy_http_decision *d, unsigned status, const char *fmt, ...)
{
	struct proxy_http_answer *a = &d->answer;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(a->body, sizeof(a->body), fmt, ap);
	va_end(ap);
	d->action = PROXY_HTTP_ANSWER;
	a->status = status;
	a->ctype = "application/json";
	a->len = n < 0 ? 0 : (size_t)n < sizeof(a->body) ? (size_t)n : sizeof(a->body) - 1;
}

static void
rate_limited(struct proxy_http_decision *d, int wait)
{
	answer_json(d, 429, "{\"ok\":false,\"error\":\"too many failed logins; try again in %d s\","
		    "\"retry_after\":%d}\n", wait, wait);
	d->answer.hdr = "retry-after:";
	snprintf(d->answer.hdr_value, sizeof(d->answer.hdr_value), "%d", wait);
}

static void
no_users_hint(const struct proxy_http_ctx *c, char *out, size_t outlen)
{
	snprintf(out, outlen, "no users are configured; add one with: webkvm-passwd add --file %s NAME",
		 c->o->users ? c->o->users : PROXY_USERS_DEFAULT);
}

/* ---- authorization ---- */

static const struct proxy_session *
request_session(struct proxy_http_ctx *c, const struct proxy_http_req *r)
{
	char id[PROXY_SESSION_ID_LEN + 2];

	if (r->cookie == NULL || proxy_cookie_value(r->cookie, PROXY_SESSION_COOKIE, id, sizeof(id)) != 1)
		return NULL;
	return proxy_session_get(c->sessions, id, c->now);
}

/* A browser always sends Origin on a WebSocket upgrade and on a POST, so a
 * foreign one is a cross-site request riding on the user's cookie.  A
 * request without Origin comes from a non-browser client (websockify's
 * clients, curl, our tests), which has no ambient cookie to abuse and
 * still needs a session: it is let through to the session check. */
static bool
origin_allowed(const struct proxy_http_ctx *c, const struct proxy_http_req *r)
{
	if (r->origin_long)
		return false;
	if (r->origin == NULL || r->origin[0] == '\0')
		return true;
	return proxy_origin_ok(r->origin, r->host ? r->host : "", r->tls, c->o->allow_origin,
			       c->o->n_allow_origin);
}

/* The one place every WebSocket upgrade and every /api/ request passes
 * through before anything is done for it.  Returns 0 to allow, or the HTTP
 * status to refuse with (*why says which): 403 for --ssl-only over plain
 * HTTP or a foreign Origin (even with a valid session), 401 without a
 * valid session. */
static unsigned
authorize(struct proxy_http_ctx *c, const struct proxy_http_req *r, enum req_kind kind,
	  struct proxy_http_decision *d, const char **why)
{
	/* lws redirects plain HTTP requests under --ssl-only but lets a
	 * WebSocket upgrade through. */
	if (c->o->ssl_only && !r->tls) {
		*why = "TLS only";
		return 403;
	}
	if (kind != REQ_API && !origin_allowed(c, r)) {
		char origin[128];

		snprintf(origin, sizeof(origin), "%s", r->origin ? r->origin : "(unreadable)");
		say(d, "%s: refused %s from foreign Origin %s", r->peer ? r->peer : "?",
		    kind == REQ_UPGRADE ? "WebSocket" : "API request", origin);
		*why = "foreign Origin";
		return 403;
	}
	if (c->o->auth == PROXY_AUTH_NONE || kind == REQ_LOGIN)
		return 0;
	if (request_session(c, r) == NULL) {
		*why = "not logged in";
		return 401;
	}
	return 0;
}

/* ---- WebSocket upgrade ---- */

static bool
b64_char(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
	       ch == '+' || ch == '/';
}

bool
proxy_http_handshake_ok(const char *version, const char *key, const char *protocol,
			bool protocol_long, char *why, size_t whylen)
{
	if (version == NULL || strcmp(version, "13") != 0) {
		snprintf(why, whylen, "Sec-WebSocket-Version must be 13");
		return false;
	}
	if (key == NULL || strlen(key) != 24 || key[22] != '=' || key[23] != '=') {
		snprintf(why, whylen, "Sec-WebSocket-Key must be 16 bytes in base64");
		return false;
	}
	for (int i = 0; i < 22; i++) {
		if (!b64_char(key[i])) {
			snprintf(why, whylen, "Sec-WebSocket-Key must be 16 bytes in base64");
			return false;
		}
	}
	if (protocol_long) {
		snprintf(why, whylen, "Sec-WebSocket-Protocol too long");
		return false;
	}
	/* No subprotocol (noVNC >= 1.0) or "binary" among those offered;
	 * websockify's old "base64" mode is gone from noVNC. */
	if (protocol != NULL && protocol[0] != '\0') {
		bool binary = false, internal = false;
		const char *p = protocol;

		while (*p != '\0') {
			size_t n;

			p += strspn(p, ", \t");
			n = strcspn(p, ", \t");
			if (n == 0)
				break;
			/* lws picks the first offer it knows: our internal
			 * protocol names must never be selectable. */
			if (n >= 6 && strncmp(p, "webkvm", 6) == 0)
				internal = true;
			if (n == 6 && strncmp(p, "binary", 6) == 0)
				binary = true;
			p += n;
		}
		if (!binary || internal) {
			snprintf(why, whylen, "unsupported WebSocket subprotocol (offer \"binary\" or none)");
			return false;
		}
	}
	return true;
}

int
proxy_http_target(const struct proxy_options *o, const char *token, const char *cookie,
		  struct proxy_addr *a, char *why, size_t whylen)
{
	char tok[PROXY_TOKEN_MAX];
	int rc;

	if (o->token_source == NULL) {
		*a = o->target;
		return 0;
	}
	if (token != NULL && token[0] != '\0') {
		snprintf(tok, sizeof(tok), "%s", token);
	} else if (cookie == NULL || proxy_cookie_token(cookie, tok, sizeof(tok)) <= 0) {
		snprintf(why, whylen, "no token (want ?token= or a token cookie)");
		return -ENOENT;
	}
	rc = proxy_token_lookup(o->token_source, tok, a, NULL, NULL);
	if (rc < 0) {
		snprintf(why, whylen, "token source %s: %s", o->token_source, strerror(-rc));
		return rc;
	}
	if (rc == 0) {
		/* The token goes into a log line. */
		printable(tok);
		snprintf(why, whylen, "unknown token \"%.64s\"", tok);
		return -ENOENT;
	}
	return 0;
}

static void
decide_upgrade(struct proxy_http_ctx *c, const struct proxy_http_req *r, struct proxy_http_decision *d)
{
	char why[200];
	const char *w;
	unsigned status;

	if (strcmp(r->upgrade, "websocket") != 0) {
		answer_text(d, 400, "Bad Request (only WebSocket upgrades)", false);
		return;
	}
	if (!proxy_http_handshake_ok(r->ws_version, r->ws_key, r->ws_protocol, r->ws_protocol_long,
				     why, sizeof(why))) {
		say(d, "%s: bad WebSocket handshake: %s", r->peer ? r->peer : "?", why);
		answer_text(d, 400, why, false);
		return;
	}
	if ((status = authorize(c, r, REQ_UPGRADE, d, &w)) != 0) {
		answer_text(d, status, status == 401 ? "Unauthorized (log in first)"
				       : strcmp(w, "TLS only") == 0 ? "Forbidden (TLS only)"
				       : "Forbidden (foreign Origin)", false);
		return;
	}
	/* Refuse an unknown token before the handshake so the client sees a
	 * plain 403 rather than an opened and closed WebSocket. */
	if (proxy_http_target(c->o, r->token, r->cookie, &d->target, why, sizeof(why)) < 0) {
		say(d, "%s: refusing WebSocket: %s", r->peer ? r->peer : "?", why);
		answer_text(d, 403, why, false);
		return;
	}
	d->action = PROXY_HTTP_UPGRADE;
}

/* ---- /api/ ---- */

static void
decide_api(struct proxy_http_ctx *c, const struct proxy_http_req *r, struct proxy_http_decision *d)
{
	bool post = strcmp(r->method, "POST") == 0;
	enum req_kind kind = post ? REQ_API_STATE : REQ_API;
	bool session = strcmp(r->uri, "/api/session") == 0;
	unsigned status;
	const char *why;
	char msg[64];
	long v;

	if (strcmp(r->uri, "/api/login") == 0 || strcmp(r->uri, "/api/logout") == 0) {
		if (!post) {
			answer_json_error(d, 405, "use POST");
			return;
		}
		if (strcmp(r->uri, "/api/login") == 0)
			kind = REQ_LOGIN;
	}
	if ((status = authorize(c, r, kind, d, &why)) != 0) {
		char hint[200];

		if (status == 401 && session && c->nusers == 0) {
			no_users_hint(c, hint, sizeof(hint));
			why = hint;
		}
		answer_json_error(d, status, why);
		return;
	}
	if (kind == REQ_LOGIN) {
		/* Refuse before reading the body or running argon2. */
		int wait = proxy_rate_wait(c->rate, r->ip ? r->ip : "", c->now);

		if (wait > 0) {
			rate_limited(d, wait);
			return;
		}
	}
	if (session) {
		const struct proxy_session *s;

		if (c->o->auth == PROXY_AUTH_NONE)
			answer_json(d, 200, "{\"ok\":true,\"auth\":false,\"user\":null}\n");
		else if ((s = request_session(c, r)) == NULL)
			answer_json_error(d, 401, "not logged in");
		else	/* s->user passed proxy_user_name_ok at login */
			answer_json(d, 200, "{\"ok\":true,\"auth\":true,\"user\":\"%s\"}\n", s->user);
		return;
	}
	if (!post) {
		d->action = PROXY_HTTP_API;
		return;
	}
	if (r->content_length == NULL) {
		answer_json_error(d, 411, "POST needs a Content-Length");
		return;
	}
	if (wk_parse_long(r->content_length, 0, LONG_MAX, &v) < 0) {
		answer_json_error(d, 400, "bad Content-Length");
		return;
	}
	if (v > PROXY_BODY_DRAIN_MAX) {
		/* Too big to even drain: answer and hang up. */
		snprintf(msg, sizeof(msg), "body larger than %d bytes", PROXY_BODY_MAX);
		answer_json_error(d, 413, msg);
		d->answer.close = true;
		return;
	}
	d->action = PROXY_HTTP_BODY;
	d->post = kind == REQ_LOGIN ? PROXY_POST_LOGIN
		: strcmp(r->uri, "/api/logout") == 0 ? PROXY_POST_LOGOUT : PROXY_POST_API;
	d->body_len = (size_t)v;
	d->body_too_big = v > PROXY_BODY_MAX;
}

/* ---- static files ---- */

static void
decide_file(struct proxy_http_ctx *c, const struct proxy_http_req *r, struct proxy_http_decision *d)
{
	bool head = strcmp(r->method, "HEAD") == 0;
	int rc;

	if (strcmp(r->method, "GET") != 0 && !head) {
		answer_text(d, 405, "Method Not Allowed", false);
		return;
	}
	/* lws itself redirects plain HTTP under --ssl-only before asking us;
	 * this is the same answer, should a request ever get past it. */
	if (c->o->ssl_only && !r->tls) {
		struct proxy_http_answer *a = &d->answer;
		int n;

		if (r->host == NULL || r->host[0] == '\0' || strpbrk(r->host, "/\\@ \t\r\n") != NULL) {
			answer_text(d, 403, "Forbidden (TLS only)", head);
			return;
		}
		n = snprintf(a->hdr_value, sizeof(a->hdr_value), "https://%s%s", r->host, r->uri);
		if (n < 0 || (size_t)n >= sizeof(a->hdr_value)) {
			answer_text(d, 414, "URI Too Long", head);
			return;
		}
		printable(a->hdr_value);
		answer_text(d, 301, "Moved Permanently", head);
		a->hdr = "location:";
		return;
	}
	if (!c->web) {
		answer_text(d, 404, "Not Found (no --web directory)", head);
		return;
	}
	rc = proxy_path_clean(r->uri, d->where, sizeof(d->where));
	if (rc == -EPERM || rc == -EACCES) {
		say(d, "http: refused path \"%.200s\"", r->uri);
		answer_text(d, 403, "Forbidden", head);
		return;
	}
	if (rc < 0) {
		answer_text(d, 404, "Not Found", head);
		return;
	}
	d->action = PROXY_HTTP_FILE;
	d->head = head;
}

void
proxy_http_decide(struct proxy_http_ctx *c, const struct proxy_http_req *r,
		  struct proxy_http_decision *d)
{
	memset(d, 0, sizeof(*d));
	if (r->method == NULL || r->uri == NULL) {
		answer_text(d, 400, "Bad Request", false);
		return;
	}
	if (r->upgrade != NULL)
		decide_upgrade(c, r, d);
	else if (strncmp(r->uri, "/api/", 5) == 0)
		decide_api(c, r, d);
	else
		decide_file(c, r, d);
}

/* ---- request bodies ---- */

void
proxy_http_body_add(struct proxy_http_body *b, const void *data, size_t n)
{
	if (b->status != 0 || b->buf == NULL)
		return;
	if (n > b->want - b->len) {
		b->status = 413;
		return;
	}
	memcpy(b->buf + b->len, data, n);
	b->len += n;
}

void
proxy_http_logout(struct proxy_http_ctx *c, const char *cookie, struct proxy_http_decision *d)
{
	char id[PROXY_SESSION_ID_LEN + 2];

	memset(d, 0, sizeof(*d));
	if (cookie != NULL && proxy_cookie_value(cookie, PROXY_SESSION_COOKIE, id, sizeof(id)) == 1)
		proxy_session_end(c->sessions, id);
	answer_json(d, 200, "{\"ok\":true}\n");
	d->answer.hdr = "set-cookie:";
	snprintf(d->answer.hdr_value, sizeof(d->answer.hdr_value),
		 PROXY_SESSION_COOKIE "=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
}

/* ---- login ---- */

int
proxy_login_begin(struct proxy_http_ctx *c, struct proxy_login *l, const char *body, size_t len,
		  struct proxy_http_decision *d)
{
	char err[200];
	int wait;

	memset(d, 0, sizeof(*d));
	/* Checked again here: failures of this address may have been counted
	 * while this login waited for its turn. */
	if ((wait = proxy_rate_wait(c->rate, l->ip, c->now)) > 0) {
		rate_limited(d, wait);
		return 0;
	}
	if (proxy_login_parse(body ? body : "", len, l->user, sizeof(l->user), l->password,
			      sizeof(l->password), err, sizeof(err)) < 0) {
		answer_json_error(d, 400, err);
		return 0;
	}
	if (c->nusers == 0) {
		no_users_hint(c, err, sizeof(err));
		say(d, "%s: login as \"%.64s\" refused: %s", l->ip, l->user, err);
		explicit_bzero(l->password, sizeof(l->password));
		answer_json_error(d, 503, err);
		return 0;
	}
	l->known = proxy_user_name_ok(l->user) && c->users != NULL &&
		   proxy_users_find_buf(c->users, c->users_len, l->user, l->hash, sizeof(l->hash), NULL) == 1;
	if (!l->known)
		snprintf(l->hash, sizeof(l->hash), "%s", decoy_hash);
	return 1;
}

void
proxy_login_end(struct proxy_http_ctx *c, struct proxy_login *l, int rc, struct proxy_http_decision *d)
{
	char id[PROXY_SESSION_ID_LEN + 1];
	/* Printable user names only: the log must not be forged through a
	 * crafted name. */
	const char *shown = proxy_user_name_ok(l->user) ? l->user : "(bad name)";

	memset(d, 0, sizeof(*d));
	explicit_bzero(l->password, sizeof(l->password));
	if (!l->known && rc == 0)
		rc = -EACCES;	/* the decoy matched: impossible, but never a login */
	if (rc == -ENOSYS) {
		say(d, "login: libargon2.so.1 cannot be loaded (install libargon2-1)");
		answer_json_error(d, 500, "the server cannot check passwords (libargon2 missing)");
		return;
	}
	if (rc < 0) {
		int delay = proxy_rate_fail(c->rate, l->ip, c->now);

		if (delay > 0)
			say(d, "%s: failed login as \"%.64s\"; next try allowed in %d s", l->ip, shown, delay);
		else
			say(d, "%s: failed login as \"%.64s\"", l->ip, shown);
		answer_json_error(d, 401, "wrong user name or password");
		return;
	}
	proxy_rate_ok(c->rate, l->ip);
	if (proxy_session_new(c->sessions, l->user, c->now, id) < 0) {
		say(d, "login: getrandom: %s", strerror(errno));
		answer_json_error(d, 500, "cannot make a session");
		return;
	}
	/* Secure only on TLS: a browser does not send a Secure cookie back
	 * over plain http, so on http://127.0.0.1 (loopback, --auth default)
	 * the session would never work.  Off TLS the cookie is exposed to the
	 * network like everything else on that connection. */
	answer_json(d, 200, "{\"ok\":true,\"user\":\"%s\"}\n", l->user);
	d->answer.hdr = "set-cookie:";
	snprintf(d->answer.hdr_value, sizeof(d->answer.hdr_value),
		 PROXY_SESSION_COOKIE "=%s; HttpOnly; SameSite=Strict; Path=/%s", id, l->tls ? "; Secure" : "");
	say(d, "%s: logged in as \"%s\"", l->ip, l->user);
}
