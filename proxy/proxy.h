/* webkvm-proxy: the network edge.  A websockify-compatible WebSocket <-> TCP
 * bridge on libwebsockets that also serves web/ and a small REST API that
 * forwards to the daemon's control socket.
 *
 * The pure parts (command line, addresses, token files, URL paths, MIME
 * types, REST bodies, logins, the byte queue) live in their own files
 * without libwebsockets so they are unit-tested and fuzzed on their own;
 * server*.c are the lws glue (map in server_int.h).
 * Every function returns 0 or a negative errno unless it says otherwise. */
#ifndef WEBKVM_PROXY_H
#define WEBKVM_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "common/log.h"

/* Every line the proxy logs: "proxy: ...", "proxy: warning: ...",
 * "proxy: error: ..." (common/log.h); WK_LOG_DEBUG lines with --verbose. */
#define proxy_log(level, ...) wk_log("proxy", (level), __VA_ARGS__)

#define PROXY_HOST_MAX 256
#define PROXY_TOKEN_MAX 256
#define PROXY_BODY_MAX 65536		/* REST bodies above this get 413 */
#define PROXY_CTL_LINE_MAX 65536	/* the daemon's FW_CONTROL_MAX_LINE */
#define PROXY_ORIGINS_MAX 8
#define PROXY_USERS_DEFAULT "/etc/webkvm/users"
#define PROXY_SESSION_IDLE_DEFAULT (30 * 60)
#define PROXY_SESSION_MAX_DEFAULT (12 * 3600)

/* host:port.  host is "" for "every address" (a bare listen port); an IPv6
 * literal is stored without its brackets. */
struct proxy_addr {
	char host[PROXY_HOST_MAX];
	int port;
};

enum proxy_auth {
	PROXY_AUTH_DEFAULT,	/* login with a users file (auth.c) */
	PROXY_AUTH_NONE,	/* tests and demos; loopback listen only */
};

/* What the user asked for; never changed by the running server.  Strings
 * point into argv. */
struct proxy_options {
	struct proxy_addr listen;
	bool has_target;
	struct proxy_addr target;
	const char *unix_target;
	const char *web;
	const char *cert;
	const char *key;
	bool ssl_only;
	bool tls;			/* --tls: TLS even without --cert */
	const char *state_dir;		/* for the self-signed certificate */
	const char *token_source;	/* set with --token-plugin TokenFile */
	const char *control;
	int idle_timeout;		/* s; exit after this long with no connection */
	int heartbeat;			/* s between WebSocket pings; 0 = none */
	int sndbuf;			/* SO_SNDBUF of viewer sockets; 0 = the kernel's */
	int timeout;			/* s after start to stop listening; 0 = never */
	bool verbose;
	enum proxy_auth auth;
	const char *users;		/* users file; NULL = PROXY_USERS_DEFAULT */
	int session_idle;		/* s; a session unused this long ends */
	int session_max;		/* s; a session ends this long after login */
	const char *allow_origin[PROXY_ORIGINS_MAX];	/* extra allowed Origins */
	int n_allow_origin;
	const char *run_as;		/* --user: drop to this user after binding */
};

/* ---- cli.c ---- */

/* Parses websockify's command line.  Returns 0, 1 when --help was asked
 * (usage already printed to stdout), or -EINVAL with a one-line reason in
 * err.  Does not touch the file system or the network. */
int proxy_cli_parse(int argc, char **argv, struct proxy_options *o, char *err, size_t errlen);
void proxy_cli_usage(FILE *f);

/* "host:port", "[v6]:port" or, when allow_bare_port, "port", by
 * common/hostport.h's rules.  -EINVAL with the reason in err. */
int proxy_addr_parse(const char *s, bool allow_bare_port, struct proxy_addr *a,
		     char *err, size_t errlen);
/* Whether the proxy may listen where o says: anywhere with users (nusers
 * > 0) to log in, else (--auth none, or a users file without users) only
 * on a loopback address.  resolved: the address the listen name resolved
 * to, or NULL to check the name itself ("" = every address).  0, or -EPERM
 * with the reason, written for the person who started it, in err. */
int proxy_listen_check(const struct proxy_options *o, int nusers, const char *resolved,
		       char *err, size_t errlen);

/* ---- token.c ---- */

/* Reports a bad line of a token file; line counts from 1. */
typedef void proxy_token_warn_fn(void *ctx, const char *file, int line, const char *why);

/* One line of a token file.  Returns 1 with tok/target set for an entry,
 * 0 for a blank or comment line, -EINVAL with *why set for a bad line. */
int proxy_token_parse_line(const char *line, char *tok, size_t toklen,
			   struct proxy_addr *target, const char **why);
/* Looks token up in a buffer holding a whole token file.  Returns 1 when
 * found (target set), 0 when not; bad lines go to warn (may be NULL). */
int proxy_token_find_buf(const char *buf, size_t len, const char *name, const char *token,
			 struct proxy_addr *target, proxy_token_warn_fn *warn, void *ctx);
/* Looks token up in a file or every regular file of a directory (read
 * afresh on each call, so edits apply to the next connection).  Returns 1
 * found, 0 not found, negative errno when the source cannot be read.
 * token NULL only checks the files, reporting every bad line. */
int proxy_token_lookup(const char *source, const char *token, struct proxy_addr *target,
		       proxy_token_warn_fn *warn, void *ctx);
/* The value of the "token" cookie in a Cookie header.  Returns 1 found,
 * 0 not, -ENAMETOOLONG when it does not fit. */
int proxy_cookie_token(const char *cookie, char *out, size_t outlen);

/* ---- path.c ---- */

/* Turns a request path ("/a/b%20c.html") into a path relative to the web
 * root ("a/b c.html", "" for the root): decodes %XX, folds "//" and "/./".
 * Returns -EPERM for ".." segments (plain or encoded), NUL bytes and bad
 * escapes, -ENAMETOOLONG when out is too small. */
int proxy_path_clean(const char *uri, char *out, size_t outlen);
/* Resolves rel under root_real (a realpath) with realpath(3) and checks the
 * result is inside the root, so a symlink out of it is refused (-EPERM).
 * A directory resolves to its index.html.  -ENOENT when missing. */
int proxy_path_resolve(const char *root_real, const char *rel, char *out, size_t outlen);
/* MIME type for a file name; application/octet-stream when unknown. */
const char *proxy_mime_type(const char *path);

/* ---- rest.c ---- */

/* Strict RFC 8259 check of a whole document (depth-limited).  Returns 0 or
 * -EINVAL with the reason and byte offset in err. */
int proxy_json_check(const char *s, size_t len, char *err, size_t errlen);

struct proxy_rest_req {
	const char *method;	/* "GET", "POST", ... */
	const char *path;	/* "/api/status" */
	const char *body;	/* may be NULL when body_len is 0 */
	size_t body_len;
};

/* Validates a REST request and builds the control-socket line for it
 * (newline-terminated, NUL-terminated) into line.  Returns 0, or the HTTP
 * status to answer with (400, 404, 405, 413) and the reason in err.
 * Endpoints: GET status, GET hid; POST type {text, delay_ms?}, key {keys},
 * power {action}, hid {layout?, mouse?, profile?}; POST cancel and release
 * take no parameters (no body, or {}). */
int proxy_rest_build(const struct proxy_rest_req *r, char *line, size_t linelen,
		     char *err, size_t errlen);
/* HTTP status for the daemon's answer line to cmd ("status", "type", ...):
 * 200 when "ok":true, 409 for a refused power action, 400 otherwise, 502
 * when the answer is not a JSON object. */
int proxy_rest_status(const char *path, const char *answer, size_t len);

/* ---- auth.c: users, sessions, login rate limit, Origin ---- */

#define PROXY_USER_MAX 64		/* user name, NUL included */
#define PROXY_HASH_MAX 256		/* an encoded argon2id hash */
#define PROXY_PASSWORD_MAX 1024
#define PROXY_SESSION_ID_LEN 64		/* hex characters: 256 random bits */
#define PROXY_SESSIONS_MAX 64
#define PROXY_RATE_MAX 256
#define PROXY_RATE_FREE_FAILS 3		/* failures before delays start */
#define PROXY_RATE_DELAY_CAP 60		/* s */

/* A user name: 1..63 of [A-Za-z0-9._-], not starting with '-'. */
bool proxy_user_name_ok(const char *name);
/* One line of a users file, "name:$argon2id$...".  Returns 1 with name and
 * hash set, 0 for a blank or comment line, -EINVAL with *why for a bad one. */
int proxy_users_parse_line(const char *line, char *name, size_t namelen,
			   char *hash, size_t hashlen, const char **why);
/* Finds user in a buffer holding a whole users file.  Returns 1 with hash
 * set, 0 when absent.  Bad lines are skipped; *nusers (may be NULL) gets
 * the number of good entries. */
int proxy_users_find_buf(const char *buf, size_t len, const char *user,
			 char *hash, size_t hashlen, int *nusers);
/* Checks password against an encoded argon2id hash (libargon2).  Returns 0
 * when it matches, -EACCES when not, -EINVAL for a bad hash. */
int proxy_password_verify(const char *hash, const char *password);

/* {"user":"...","password":"..."} (jansson, common/json.h): both strings,
 * no other member, no duplicate.  Returns 0 or -EINVAL with the reason in
 * err. */
int proxy_login_parse(const char *body, size_t len, char *user, size_t userlen,
		      char *password, size_t passlen, char *err, size_t errlen);
/* The value of cookie name in a Cookie header.  1 found, 0 not,
 * -ENAMETOOLONG when it does not fit out. */
int proxy_cookie_value(const char *cookie, const char *name, char *out, size_t outlen);

/* Times here are monotonic milliseconds: whole seconds would let a
 * session or a rate-limit delay end up to a second early. */
struct proxy_session {
	char id[PROXY_SESSION_ID_LEN + 1];	/* "" = free slot */
	char user[PROXY_USER_MAX];
	long long created, used;		/* ms */
};
struct proxy_sessions {
	struct proxy_session s[PROXY_SESSIONS_MAX];
	long long idle, max;			/* ms */
};
/* Makes a session for user with a fresh id from getrandom(); a full table
 * drops its least recently used session.  Returns 0 or negative errno. */
int proxy_session_new(struct proxy_sessions *t, const char *user, long long now,
		      char id[PROXY_SESSION_ID_LEN + 1]);
/* The live session with this id (compared in constant time), its use time
 * refreshed; expired ones are dropped on the way.  NULL when none. */
const struct proxy_session *proxy_session_get(struct proxy_sessions *t, const char *id,
					      long long now);
/* Ends the session with this id; 1 when there was one. */
int proxy_session_end(struct proxy_sessions *t, const char *id);

struct proxy_rate {
	char addr[64];				/* "" = free */
	int fails;
	long long until, last;			/* ms */
};
struct proxy_ratelimit {
	struct proxy_rate r[PROXY_RATE_MAX];
};
/* Seconds (rounded up) addr must still wait before it may try a login;
 * 0 = may. */
int proxy_rate_wait(const struct proxy_ratelimit *rl, const char *addr, long long now);
/* A failed login from addr; returns the delay now imposed (0 during the
 * first PROXY_RATE_FREE_FAILS, then 1, 2, 4 ... PROXY_RATE_DELAY_CAP). */
int proxy_rate_fail(struct proxy_ratelimit *rl, const char *addr, long long now);
/* A good login from addr forgets its failures. */
void proxy_rate_ok(struct proxy_ratelimit *rl, const char *addr);

/* Whether a request's Origin header may act on this server: the Origin's
 * scheme://host[:port] equals the one the request came to (tls says which
 * scheme; host is the Host header, default ports folded), or equals one of
 * allow (compared without a trailing '/', case-insensitively). */
bool proxy_origin_ok(const char *origin, const char *host, bool tls,
		     const char *const *allow, int nallow);

/* ---- http.c: what to do with a request ----
 *
 * libwebsockets parses the request and every WebSocket frame (our code never
 * sees a frame header, only payloads); server_http.c copies the headers it needs
 * out of lws into a proxy_http_req and acts on the proxy_http_decision made
 * here.  Everything from the request line to "serve this file", "bridge this
 * upgrade to that target" or "refuse with this status and why" is decided
 * here, without lws, so it is fuzzed (tests/fuzz/fuzz_proxy_http.c). */

#define PROXY_BODY_DRAIN_MAX (1024 * 1024)	/* larger bodies: 413 and hang up */
#define PROXY_SESSION_COOKIE "webkvm_session"

/* A request as lws parsed it.  A NULL header is absent.  A header present
 * but longer than the buffer server_http.c copies it into is NULL with its
 * *_long flag set.  All strings are the caller's. */
struct proxy_http_req {
	const char *method;		/* "GET", "POST", "HEAD" or "OTHER" */
	const char *uri;		/* the path, query removed */
	const char *upgrade;		/* NULL: plain HTTP; else the Upgrade value */
	const char *ws_version, *ws_key, *ws_protocol;
	bool ws_protocol_long;
	const char *origin;
	bool origin_long;
	const char *host;
	const char *cookie;
	const char *content_length;
	const char *token;		/* the ?token= argument */
	bool tls;			/* the request came over TLS */
	const char *peer;		/* "ip:port", for log lines */
	const char *ip;			/* the login rate limit's key */
};

/* The server's state a decision reads (and the session and rate tables it
 * updates).  Owned by the event loop. */
struct proxy_http_ctx {
	const struct proxy_options *o;
	struct proxy_sessions *sessions;
	struct proxy_ratelimit *rate;
	long long now;			/* monotonic ms */
	bool web;			/* a --web root is served */
	const char *users;		/* the users file's text (NUL-terminated) */
	size_t users_len;
	int nusers;			/* good entries in it */
};

enum proxy_http_action {
	PROXY_HTTP_ANSWER,	/* send answer (for an upgrade: refuse with it) */
	PROXY_HTTP_FILE,	/* serve where, a path under the web root */
	PROXY_HTTP_UPGRADE,	/* accept the WebSocket; target set */
	PROXY_HTTP_API,		/* forward method + uri to the daemon, no body */
	PROXY_HTTP_BODY,	/* read body_len bytes, then do post with them */
};

enum proxy_http_post { PROXY_POST_API, PROXY_POST_LOGIN, PROXY_POST_LOGOUT };

/* A complete small answer: status, one optional extra header, body. */
struct proxy_http_answer {
	unsigned status;
	const char *ctype;		/* a static string */
	const char *hdr;		/* "retry-after:", "set-cookie:", "location:" or NULL */
	char hdr_value[1024];
	char body[512];
	size_t len;
	bool head;			/* HEAD: headers only (Content-Length of body) */
	bool close;			/* hang up after it: the body is not drained */
};

struct proxy_http_decision {
	enum proxy_http_action action;
	struct proxy_http_answer answer;	/* ANSWER */
	char where[4096];			/* FILE: relative to the web root */
	bool head;				/* FILE: a HEAD request */
	struct proxy_addr target;		/* UPGRADE */
	enum proxy_http_post post;		/* BODY */
	size_t body_len;			/* BODY: bytes announced */
	bool body_too_big;			/* BODY: drain them, then 413 */
	char log[400];				/* non-empty: a line for the log, printable ASCII */
};

/* Decides what to do with a request.  May refresh or drop sessions (the
 * cookie's session is used) and reads the token source for a token; never
 * blocks otherwise. */
void proxy_http_decide(struct proxy_http_ctx *c, const struct proxy_http_req *r,
		       struct proxy_http_decision *d);

/* RFC 6455 section 4.2.1 checks lws leaves to us: version 13, a 16-byte
 * base64 key, and "binary" or no subprotocol.  false with why set. */
bool proxy_http_handshake_ok(const char *version, const char *key, const char *protocol,
			     bool protocol_long, char *why, size_t whylen);

/* The target for a WebSocket: the command line's, or the one the token
 * (the ?token= argument, else the "token" cookie) names in the token
 * source.  0, or negative errno with why set. */
int proxy_http_target(const struct proxy_options *o, const char *token, const char *cookie,
		      struct proxy_addr *a, char *why, size_t whylen);

/* POST /api/logout once its body is in: ends the cookie's session. */
void proxy_http_logout(struct proxy_http_ctx *c, const char *cookie, struct proxy_http_decision *d);

/* Fills a with status and the text body "STATUS msg\n". */
void proxy_http_text(struct proxy_http_answer *a, unsigned status, const char *msg, bool head);
/* Fills a with status and {"ok":false,"error":msg} (msg escaped, control and
 * non-ASCII bytes as '?'). */
void proxy_http_json_error(struct proxy_http_answer *a, unsigned status, const char *msg);

/* A body arriving in pieces: data beyond what Content-Length announced
 * marks it 413.  buf (want bytes, or NULL when too big) is the caller's. */
struct proxy_http_body {
	char *buf;
	size_t len, want;
	int status;			/* non-zero: answer this once it is in */
};
void proxy_http_body_add(struct proxy_http_body *b, const void *data, size_t n);

/* A login between its body arriving and its answer.  proxy_login_begin
 * runs on the event loop; the password check (proxy_password_verify of
 * hash and password, ~0.2 s) runs on a worker; proxy_login_end runs on the
 * event loop again with the check's result. */
struct proxy_login {
	char ip[64];
	bool tls;
	char user[PROXY_USER_MAX];
	char password[PROXY_PASSWORD_MAX];
	char hash[PROXY_HASH_MAX];	/* the user's, or a decoy for an unknown name */
	bool known;
};
/* Returns 1 when hash and password need checking, 0 when the login is
 * answered already (rate limited, bad body, no users) in d. */
int proxy_login_begin(struct proxy_http_ctx *c, struct proxy_login *l, const char *body,
		      size_t len, struct proxy_http_decision *d);
/* rc is proxy_password_verify's.  Counts a failure or clears the address's
 * failures, makes the session, answers in d; wipes the password. */
void proxy_login_end(struct proxy_http_ctx *c, struct proxy_login *l, int rc,
		     struct proxy_http_decision *d);

/* ---- tls.c ---- */

#define PROXY_STATE_DIR_DEFAULT "/var/lib/webkvm"

/* Sets cert and key to state_dir/cert.pem and key.pem, making them first
 * (self-signed, EC P-256, 10 years, CN = host name, SAN localhost,
 * 127.0.0.1, ::1; mode 0600) when they do not exist.  Returns 1 when made,
 * 0 when reused, negative errno with the reason in err. */
int proxy_tls_selfsigned(const char *state_dir, char *cert, size_t certlen, char *key, size_t keylen,
			 char *err, size_t errlen);

/* ---- server.c (and the other server_*.c) ---- */

/* Runs the proxy until SIGINT/SIGTERM or a --timeout/--idle-timeout.
 * Returns the process exit status. */
int proxy_run(const struct proxy_options *o);

#endif
