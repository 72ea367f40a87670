/* webkvm-proxy: the network edge.  A websockify-compatible WebSocket <-> TCP
 * bridge on libwebsockets that also serves web/ and a small REST API that
 * forwards to the daemon's control socket.
 *
 * The pure parts (command line, addresses, token files, URL paths, MIME
 * types, REST bodies) live in their own files without libwebsockets so they
 * are unit-tested and fuzzed on their own; server.c is the lws glue.
 * Every function returns 0 or a negative errno unless it says otherwise. */
#ifndef WEBKVM_PROXY_H
#define WEBKVM_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define PROXY_HOST_MAX 256
#define PROXY_TOKEN_MAX 256
#define PROXY_BODY_MAX 65536		/* REST bodies above this get 413 */
#define PROXY_CTL_LINE_MAX 65536	/* the daemon's FW_CONTROL_MAX_LINE */

/* host:port.  host is "" for "every address" (a bare listen port); an IPv6
 * literal is stored without its brackets. */
struct proxy_addr {
	char host[PROXY_HOST_MAX];
	int port;
};

enum proxy_auth {
	PROXY_AUTH_DEFAULT,	/* login once the security issue lands */
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
	const char *token_source;	/* set with --token-plugin TokenFile */
	const char *control;
	int idle_timeout;		/* s; exit after this long with no connection */
	int heartbeat;			/* s between WebSocket pings; 0 = none */
	int timeout;			/* s after start to stop listening; 0 = never */
	bool verbose;
	enum proxy_auth auth;
};

/* ---- cli.c ---- */

/* Parses websockify's command line.  Returns 0, 1 when --help was asked
 * (usage already printed to stdout), or -EINVAL with a one-line reason in
 * err.  Does not touch the file system or the network. */
int proxy_cli_parse(int argc, char **argv, struct proxy_options *o, char *err, size_t errlen);
void proxy_cli_usage(FILE *f);

/* "host:port", "[v6]:port" or, when allow_bare_port, "port".  -EINVAL with
 * the reason in err. */
int proxy_addr_parse(const char *s, bool allow_bare_port, struct proxy_addr *a,
		     char *err, size_t errlen);
/* True for localhost, 127.0.0.0/8 and ::1 (and v4-mapped loopback). */
bool proxy_addr_is_loopback(const char *host);

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
 * status to answer with (400, 404, 405, 413) and the reason in err. */
int proxy_rest_build(const struct proxy_rest_req *r, char *line, size_t linelen,
		     char *err, size_t errlen);
/* HTTP status for the daemon's answer line to cmd ("status", "type", ...):
 * 200 when "ok":true, 409 for a refused power action, 400 otherwise, 502
 * when the answer is not a JSON object. */
int proxy_rest_status(const char *path, const char *answer, size_t len);

/* ---- server.c ---- */

/* Runs the proxy until SIGINT/SIGTERM or a --timeout/--idle-timeout.
 * Returns the process exit status. */
int proxy_run(const struct proxy_options *o);

#endif
