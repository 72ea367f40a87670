/* The libwebsockets glue: one event loop (lws_service), and one worker
 * thread that checks passwords (see "login" below).
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
 * plain (not TLS) WebSocket they are never copied: splice() moves them from
 * the target's socket into a pipe and from the pipe into the viewer's
 * socket behind a WebSocket frame header we write ourselves (see "frames
 * without copies" below).  Through TLS, the target is read straight into
 * the queue and lws_write frames and encrypts it. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <pthread.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>
#include <openssl/ssl.h>

#include "proxy/proxy.h"

#define PROXY_QUEUE_BOUND (256 * 1024)	/* per direction, per connection; also the
					 * most one spliced frame carries */
#define PROXY_IO_CHUNK (64 * 1024)	/* largest read lws hands us / write we make */
#define PROXY_QUEUE_CAP (PROXY_QUEUE_BOUND + 2 * PROXY_IO_CHUNK)
#define PROXY_HEADER_MAX 8192		/* request headers above this get 431 */

/* ---- logging ---- */

static bool verbose;

static void __attribute__((format(printf, 1, 2)))
plog(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "proxy: %s\n", buf);
}

#define vlog(...) do { if (verbose) plog(__VA_ARGS__); } while (0)

/* Set when lws gives up on a request whose headers overflow its buffer;
 * lws then closes that connection at once, in the same service call, and
 * offers no way to answer it, so we answer 431 ourselves from its log line,
 * before lws shuts the socket down. */
static void answer_431(struct lws *wsi);

/* HTTP connections whose request head has not been dispatched yet. */
#define PENDING_MAX 64
static struct lws *pending[PENDING_MAX];

static void
pending_del(struct lws *wsi)
{
	for (int i = 0; i < PENDING_MAX; i++)
		if (pending[i] == wsi)
			pending[i] = NULL;
}

static void
pending_add(struct lws *wsi)
{
	for (int i = 0; i < PENDING_MAX; i++) {
		if (pending[i] == NULL) {
			pending[i] = wsi;
			return;
		}
	}
}

static void
lws_emit(int level, const char *line)
{
	size_t n = strlen(line);

	(void)level;
	if (strstr(line, "Ran out of header data space") != NULL) {
		/* We are inside lws's parser for the connection that overflowed;
		 * with one undispatched request head it can only be that one.
		 * With several we cannot tell which, and lws just hangs up. */
		struct lws *only = NULL;
		int n = 0;

		for (int i = 0; i < PENDING_MAX; i++)
			if (pending[i] != NULL && n++ == 0)
				only = pending[i];
		if (n == 1) {
			pending_del(only);
			answer_431(only);
		} else {
			plog("request headers larger than %d bytes; connection closed", PROXY_HEADER_MAX);
		}
		return;
	}
	while (n > 0 && line[n - 1] == '\n')
		n--;
	fprintf(stderr, "proxy: lws: %.*s\n", (int)n, line);
}

/* ---- bounded byte queue ---- */

struct ring {
	uint8_t *buf;
	size_t cap, head, len;
};

static int
ring_init(struct ring *r, size_t cap)
{
	r->buf = malloc(cap);
	r->cap = cap;
	r->head = r->len = 0;
	return r->buf ? 0 : -ENOMEM;
}

static int
ring_put(struct ring *r, const void *data, size_t n)
{
	size_t tail, first;

	if (n > r->cap - r->len)
		return -ENOBUFS;
	tail = (r->head + r->len) % r->cap;
	first = n < r->cap - tail ? n : r->cap - tail;
	memcpy(r->buf + tail, data, first);
	memcpy(r->buf, (const uint8_t *)data + first, n - first);
	r->len += n;
	return 0;
}

/* Copies up to max queued bytes to out without consuming them. */
static size_t
ring_peek(const struct ring *r, uint8_t *out, size_t max)
{
	size_t n = r->len < max ? r->len : max;
	size_t first = n < r->cap - r->head ? n : r->cap - r->head;

	memcpy(out, r->buf + r->head, first);
	memcpy(out + first, r->buf, n - first);
	return n;
}

/* Reads what fd has, up to the queue's free space, straight into the
 * queue.  Returns bytes read, 0 at end of stream, -errno on error
 * (-EAGAIN: nothing to read now). */
static ssize_t
ring_read(struct ring *r, int fd)
{
	size_t tail = (r->head + r->len) % r->cap, free_ = r->cap - r->len;
	size_t first = free_ < r->cap - tail ? free_ : r->cap - tail;
	struct iovec iov[2] = {
		{ r->buf + tail, first },
		{ r->buf, free_ - first },
	};
	ssize_t n;

	if (free_ == 0)
		return -ENOBUFS;
	n = readv(fd, iov, iov[1].iov_len ? 2 : 1);
	if (n < 0)
		return -errno;
	r->len += (size_t)n;
	return n;
}

/* Writes what the queue holds to fd; returns bytes written or -errno. */
static ssize_t
ring_send(struct ring *r, int fd)
{
	size_t first = r->len < r->cap - r->head ? r->len : r->cap - r->head;
	struct iovec iov[2] = {
		{ r->buf + r->head, first },
		{ r->buf, r->len - first },
	};
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = iov[1].iov_len ? 2 : 1 };
	ssize_t n = sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);

	return n < 0 ? -errno : n;
}

static void
ring_drop(struct ring *r, size_t n)
{
	r->head = (r->head + n) % r->cap;
	r->len -= n;
	if (r->len == 0)
		r->head = 0;
}

/* ---- state ---- */

struct server;

struct conn {
	struct server *srv;
	struct conn *prev, *next;
	struct lws *ws, *raw;
	int refs;			/* ws + raw: freed when both are gone */
	int tfd;			/* the target's socket (raw's descriptor) */
	int pipe[2];			/* target -> viewer without copies; -1 without */
	size_t piped;			/* bytes in the pipe: the next frame's payload */
	lws_sorted_usec_list_t rearm;	/* asks for raw's POLLOUT again (see cb_target) */
	bool rearm_set;
	unsigned id;
	char peer[64];
	char target[PROXY_HOST_MAX + 16];
	struct ring to_viewer, to_target;
	bool target_connected, raw_paused, ws_paused, ping_due;
	int close_code;			/* close the WebSocket once to_viewer drains */
	char close_reason[120];
	time_t last_ping;
	unsigned long long up, down;	/* bytes viewer->target, target->viewer */
	unsigned long long spliced, lws_ends;	/* frames spliced; of those, finished by lws */
};

#define LOGIN_QUEUE_MAX 16

struct login_job {
	struct login_job *next;
	struct lws *wsi;		/* NULL once the client has gone */
	char *body;			/* the login body, until proxy_login_begin */
	size_t body_len;
	struct proxy_login l;
	int rc;				/* the check's result (worker) */
	bool answered;			/* d holds the answer */
	struct proxy_http_decision d;
};

struct verifier {
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	/* Under lock: */
	struct login_job *job;		/* handed to the worker */
	bool job_done;
	bool stop;
	/* Loop only: */
	struct login_job *head, *tail;
	int queued;
};

struct server {
	const struct proxy_options *o;
	struct lws_context *ctx;
	struct lws_vhost *vh;
	char web_root[PATH_MAX];
	struct conn *conns;
	int nconns;
	unsigned next_id;
	time_t started, idle_since;
	lws_sorted_usec_list_t tick;
	volatile sig_atomic_t stop;
	char *users;			/* the users file, read at start */
	size_t users_len;
	int nusers;
	char cert[PATH_MAX], key[PATH_MAX];
	struct proxy_sessions sessions;
	struct proxy_ratelimit rate;
	struct verifier verifier;
	uint8_t tx[LWS_PRE + PROXY_IO_CHUNK];
	uint8_t http[LWS_PRE + 4096 + PROXY_CTL_LINE_MAX];
};

/* Per HTTP/WebSocket connection (lws allocates and zeroes it). */
struct pss {
	struct conn *conn;
	struct proxy_http_body body;
	enum proxy_http_post post;	/* what the body is for */
	char api_path[32];
	struct api_call *call;		/* waiting for the daemon's answer */
	struct login_job *login;	/* waiting for its password check */
};

static struct server *g_srv;	/* for the signal handler */

static void peer_name(struct lws *wsi, char *out, size_t outlen);

static time_t
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- HTTP responses ---- */

/* Writes a whole small response (headers and body).  Returns 0 or -1. */
/* HSTS on every answer over TLS: a browser that once reached us over
 * https never falls back to plain http for a year. */
static int
add_hsts(struct lws *wsi, uint8_t **p, uint8_t *end)
{
	static const char v[] = "max-age=31536000";

	if (!lws_is_ssl(wsi))
		return 0;
	return lws_add_http_header_by_name(wsi, (const uint8_t *)"strict-transport-security:",
					   (const uint8_t *)v, (int)sizeof(v) - 1, p, end);
}

/* Extra headers for http_send_hdrs: NULL-terminated "name:", value pairs. */
static int
http_send_hdrs(struct server *srv, struct lws *wsi, unsigned status, const char *ctype,
	       const char *body, size_t len, bool head, const char *const *hdrs)
{
	uint8_t *start = srv->http + LWS_PRE, *p = start, *end = srv->http + sizeof(srv->http);

	if (lws_add_http_common_headers(wsi, status, ctype, len, &p, end) ||
	    lws_add_http_header_by_name(wsi, (const uint8_t *)"cache-control:",
					(const uint8_t *)"no-store", 8, &p, end) ||
	    add_hsts(wsi, &p, end))
		return -1;
	for (int i = 0; hdrs != NULL && hdrs[i] != NULL; i += 2)
		if (lws_add_http_header_by_name(wsi, (const uint8_t *)hdrs[i], (const uint8_t *)hdrs[i + 1],
						(int)strlen(hdrs[i + 1]), &p, end))
			return -1;
	if (lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	if (!head && len > 0) {
		if (len > (size_t)(end - p) - LWS_PRE)
			return -1;
		memcpy(p + LWS_PRE, body, len);
		if (lws_write(wsi, p + LWS_PRE, len, LWS_WRITE_HTTP_FINAL) != (int)len)
			return -1;
	}
	return 0;
}

static int
http_send(struct server *srv, struct lws *wsi, unsigned status, const char *ctype,
	  const char *body, size_t len, bool head)
{
	return http_send_hdrs(srv, wsi, status, ctype, body, len, head, NULL);
}

/* http_send, then ends the transaction; the return value is the
 * callback's. */
static int
http_reply(struct server *srv, struct lws *wsi, unsigned status, const char *ctype,
	   const char *body, size_t len, bool head)
{
	if (http_send(srv, wsi, status, ctype, body, len, head) < 0)
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* Sends a (after http_send_hdrs), then ends the transaction, or hangs up
 * when a says so; the return value is the callback's. */
static int
http_answer(struct server *srv, struct lws *wsi, const struct proxy_http_answer *a)
{
	const char *hdrs[] = { a->hdr, a->hdr_value, NULL };

	if (http_send_hdrs(srv, wsi, a->status, a->ctype, a->body, a->len, a->head,
			   a->hdr ? hdrs : NULL) < 0 || a->close)
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int
json_error(struct server *srv, struct lws *wsi, unsigned status, const char *msg)
{
	struct proxy_http_answer a = { 0 };

	proxy_http_json_error(&a, status, msg);
	return http_answer(srv, wsi, &a);
}

static int
text_error(struct server *srv, struct lws *wsi, unsigned status, const char *msg, bool head)
{
	struct proxy_http_answer a = { 0 };

	proxy_http_text(&a, status, msg, head);
	return http_answer(srv, wsi, &a);
}

/* Refuses a WebSocket upgrade from LWS_CALLBACK_HTTP_CONFIRM_UPGRADE, whose
 * caller ends the transaction itself. */
static int
refuse_upgrade(struct server *srv, struct lws *wsi, const struct proxy_http_answer *a)
{
	if (http_send(srv, wsi, a->status, a->ctype, a->body, a->len, false) < 0)
		return -1;
	return 1;
}

/* ---- REST API -> control socket ----
 *
 * One request line, one answer line, on a fresh connection per request.
 * The control socket is adopted into lws as a raw socket like a target, so
 * a daemon that is slow or stopped never stalls the viewers: the HTTP
 * request simply waits (at most PROXY_CTL_TIMEOUT_S) for its answer. */

#define PROXY_CTL_TIMEOUT_S 2

struct api_call {
	struct lws *http, *ctl;		/* NULL once that side has closed */
	char path[32];
	time_t started;
	bool answered;
	size_t len, alen;
	uint8_t *line;			/* LWS_PRE + request line */
	char ans[PROXY_CTL_LINE_MAX + 2];
};

static void
api_call_free(struct api_call *call)
{
	free(call->line);
	free(call);
}

/* Answers the HTTP request from what the daemon said (or did not say). */
static int
api_answer(struct server *srv, struct lws *wsi, struct api_call *call)
{
	char err[256];
	int status;

	if (!call->answered) {
		snprintf(err, sizeof(err), "daemon unreachable: %s: %s", srv->o->control,
			 now_s() - call->started >= PROXY_CTL_TIMEOUT_S ? "no answer within 2 s"
									: "closed without answering");
		plog("api: %s: %s", call->path, err);
		return json_error(srv, wsi, 502, err);
	}
	status = proxy_rest_status(call->path, call->ans, call->alen);
	if (status == 502) {
		plog("api: %s: daemon answered something that is not a JSON object", call->path);
		return json_error(srv, wsi, 502, "daemon answered something that is not a JSON object");
	}
	vlog("api: %s: %d", call->path, status);
	call->ans[call->alen++] = '\n';
	return http_reply(srv, wsi, (unsigned)status, "application/json", call->ans, call->alen, false);
}

static int
api_finish(struct server *srv, struct lws *wsi, struct pss *pss, const char *method,
	   const char *path, const char *body, size_t body_len)
{
	struct proxy_rest_req r = { method, path, body, body_len };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	static char line[PROXY_CTL_LINE_MAX + 256];
	lws_adopt_desc_t ad = { 0 };
	struct api_call *call;
	char err[256];
	int status, fd;

	status = proxy_rest_build(&r, line, sizeof(line), err, sizeof(err));
	if (status != 0) {
		vlog("api: %s %s: %d %s", method, path, status, err);
		return json_error(srv, wsi, (unsigned)status, err);
	}
	if (srv->o->control == NULL)
		return json_error(srv, wsi, 503, "no daemon control socket (start the proxy with --control PATH)");
	if (strlen(srv->o->control) >= sizeof(sa.sun_path))
		return json_error(srv, wsi, 502, "control socket path too long");
	strcpy(sa.sun_path, srv->o->control);
	/* A local connect either succeeds or fails at once. */
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(err, sizeof(err), "daemon unreachable: %s: %s", srv->o->control, strerror(errno));
		if (fd >= 0)
			close(fd);
		plog("api: %s %s: %s", method, path, err);
		return json_error(srv, wsi, 502, err);
	}
	if ((call = calloc(1, sizeof(*call))) == NULL ||
	    (call->line = malloc(LWS_PRE + strlen(line))) == NULL) {
		free(call);
		close(fd);
		return json_error(srv, wsi, 500, "out of memory");
	}
	call->len = strlen(line);
	memcpy(call->line + LWS_PRE, line, call->len);
	snprintf(call->path, sizeof(call->path), "%s", path);
	call->started = now_s();
	call->http = wsi;
	ad.vh = srv->vh;
	ad.type = LWS_ADOPT_SOCKET;
	ad.fd.sockfd = fd;
	ad.vh_prot_name = "webkvm-control";
	ad.opaque = call;
	if ((call->ctl = lws_adopt_descriptor_vhost_via_info(&ad)) == NULL) {
		api_call_free(call);
		return json_error(srv, wsi, 500, "cannot watch the control socket");
	}
	lws_set_timeout(call->ctl, PENDING_TIMEOUT_USER_OK, PROXY_CTL_TIMEOUT_S);
	lws_callback_on_writable(call->ctl);
	pss->call = call;
	return 0;
}

static int
cb_control(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct api_call *call = lws_get_opaque_user_data(wsi);

	(void)user;
	switch (reason) {
	case LWS_CALLBACK_RAW_WRITEABLE:
		if (call == NULL)
			return -1;
		if (lws_write(wsi, call->line + LWS_PRE, call->len, LWS_WRITE_RAW) < (int)call->len)
			return -1;
		return 0;
	case LWS_CALLBACK_RAW_RX: {
		const char *nl;

		if (call == NULL)
			return -1;
		if (len > sizeof(call->ans) - 1 - call->alen) {
			plog("api: %s: daemon answer longer than %d bytes", call->path, PROXY_CTL_LINE_MAX);
			return -1;
		}
		memcpy(call->ans + call->alen, in, len);
		call->alen += len;
		if ((nl = memchr(call->ans, '\n', call->alen)) != NULL) {
			call->alen = (size_t)(nl - call->ans);
			call->answered = true;
			return -1;	/* one answer per connection: done */
		}
		return 0;
	}
	case LWS_CALLBACK_RAW_CLOSE:
		if (call == NULL)
			return 0;
		lws_set_opaque_user_data(wsi, NULL);
		call->ctl = NULL;
		if (call->http)
			lws_callback_on_writable(call->http);
		else
			api_call_free(call);
		return 0;
	default:
		return 0;
	}
}

static const char *
req_method(struct lws *wsi)
{
	if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI))
		return "GET";
	if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI))
		return "POST";
	if (lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI))
		return "HEAD";
	return "OTHER";
}

/* ---- requests: headers out of lws, decision in http.c ---- */

/* The client's address without its port: the rate limit's key. */
static void
peer_ip(struct lws *wsi, char *out, size_t outlen)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getpeername(lws_get_socket_fd(wsi), (struct sockaddr *)&ss, &len) < 0 ||
	    getnameinfo((struct sockaddr *)&ss, len, out, (socklen_t)outlen, NULL, 0, NI_NUMERICHOST) != 0)
		lws_get_peer_simple(wsi, out, outlen);
}

/* One request's headers, copied out of lws; r points into the buffers. */
struct req_copy {
	struct proxy_http_req r;
	char uri[PROXY_HEADER_MAX], version[16], key[64], prot[256];
	char origin[PROXY_HOST_MAX + 32], host[PROXY_HOST_MAX], cookie[2048], cl[32];
	char token[PROXY_TOKEN_MAX + 8], peer[64], ip[INET6_ADDRSTRLEN];
};

/* A header's value, NULL when absent; *toolong (may be NULL) is set when
 * it does not fit len. */
static const char *
hdr_get(struct lws *wsi, enum lws_token_indexes t, char *buf, size_t len, bool *toolong)
{
	int n = lws_hdr_copy(wsi, buf, (int)len, t);

	if (n < 0) {
		if (toolong)
			*toolong = true;
		return NULL;
	}
	return n == 0 ? NULL : buf;
}

/* upgrade: LWS_CALLBACK_HTTP_CONFIRM_UPGRADE's "in" ("" when lws gave
 * none), or NULL for a plain request to uri. */
static void
req_copy(struct lws *wsi, struct req_copy *q, const char *uri, const char *upgrade)
{
	struct proxy_http_req *r = &q->r;
	const char *tok;

	memset(r, 0, sizeof(*r));
	r->method = req_method(wsi);
	if (uri == NULL)
		uri = hdr_get(wsi, WSI_TOKEN_GET_URI, q->uri, sizeof(q->uri), NULL);
	r->uri = uri ? uri : "/";
	r->upgrade = upgrade;
	if (upgrade != NULL) {
		r->ws_version = hdr_get(wsi, WSI_TOKEN_VERSION, q->version, sizeof(q->version), NULL);
		r->ws_key = hdr_get(wsi, WSI_TOKEN_KEY, q->key, sizeof(q->key), NULL);
		r->ws_protocol = hdr_get(wsi, WSI_TOKEN_PROTOCOL, q->prot, sizeof(q->prot),
					 &r->ws_protocol_long);
		/* lws leaves "token=" in the buffer and points past it. */
		tok = lws_get_urlarg_by_name(wsi, "token=", q->token, sizeof(q->token));
		r->token = tok && *tok ? tok : NULL;
	}
	r->origin = hdr_get(wsi, WSI_TOKEN_ORIGIN, q->origin, sizeof(q->origin), &r->origin_long);
	r->host = hdr_get(wsi, WSI_TOKEN_HOST, q->host, sizeof(q->host), NULL);
	r->cookie = hdr_get(wsi, WSI_TOKEN_HTTP_COOKIE, q->cookie, sizeof(q->cookie), NULL);
	r->content_length = hdr_get(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, q->cl, sizeof(q->cl), NULL);
	r->tls = lws_is_ssl(wsi) != 0;
	peer_name(wsi, q->peer, sizeof(q->peer));
	peer_ip(wsi, q->ip, sizeof(q->ip));
	r->peer = q->peer;
	r->ip = q->ip;
}

static void
http_ctx(struct server *srv, struct proxy_http_ctx *c)
{
	c->o = srv->o;
	c->sessions = &srv->sessions;
	c->rate = &srv->rate;
	c->now = now_ms();
	c->web = srv->web_root[0] != '\0';
	c->users = srv->users;
	c->users_len = srv->users_len;
	c->nusers = srv->nusers;
}

/* ---- login: the password check on a worker thread ----
 *
 * argon2id takes ~0.2 s and 64 MiB; run on the event loop it would stall
 * every viewer for that long per login attempt.  One worker checks one
 * password at a time; the loop keeps everything else (queue, rate limit,
 * sessions), so the only thing shared with the worker is the job being
 * checked.  One at a time keeps the rate limit exact: the next login is
 * let through or refused only after the previous one's result counted, as
 * when the check ran on the loop, and memory stays at one argon2 run. */

static void
login_job_free(struct login_job *j)
{
	if (j->body != NULL) {
		explicit_bzero(j->body, j->body_len);
		free(j->body);
	}
	explicit_bzero(&j->l, sizeof(j->l));
	free(j);
}

static void *
verifier_main(void *arg)
{
	struct server *srv = arg;
	struct verifier *v = &srv->verifier;

	pthread_mutex_lock(&v->lock);
	for (;;) {
		struct login_job *j;
		int rc;

		while (!v->stop && (v->job == NULL || v->job_done))
			pthread_cond_wait(&v->wake, &v->lock);
		if (v->stop)
			break;
		j = v->job;
		pthread_mutex_unlock(&v->lock);
		rc = proxy_password_verify(j->l.hash, j->l.password);
		pthread_mutex_lock(&v->lock);
		j->rc = rc;
		v->job_done = true;
		/* Wakes lws_service: LWS_CALLBACK_EVENT_WAIT_CANCELLED on the
		 * loop collects the result. */
		lws_cancel_service(srv->ctx);
	}
	pthread_mutex_unlock(&v->lock);
	return NULL;
}

static void
verifier_init(struct server *srv)
{
	pthread_mutex_init(&srv->verifier.lock, NULL);
	pthread_cond_init(&srv->verifier.wake, NULL);
}

/* With --auth none there are no users and no worker: every login is
 * answered by proxy_login_begin. */
static int
verifier_start(struct server *srv)
{
	struct verifier *v = &srv->verifier;
	sigset_t all, old;
	int rc;

	/* Signals go to the loop thread, which handles SIGINT/SIGTERM. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&v->thread, NULL, verifier_main, srv);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		plog("login: cannot start the password check thread: %s", strerror(rc));
		return -rc;
	}
	v->started = true;
	return 0;
}

/* Before lws_context_destroy: the worker calls lws_cancel_service. */
static void
verifier_stop(struct server *srv)
{
	struct verifier *v = &srv->verifier;

	if (!v->started)
		return;
	pthread_mutex_lock(&v->lock);
	v->stop = true;
	pthread_cond_signal(&v->wake);
	pthread_mutex_unlock(&v->lock);
	pthread_join(v->thread, NULL);
	v->started = false;
}

/* After lws_context_destroy, whose close callbacks let go of every job
 * but the one the worker had. */
static void
verifier_free(struct server *srv)
{
	struct verifier *v = &srv->verifier;

	if (v->job != NULL)
		login_job_free(v->job);
	v->job = NULL;
	if (v->head != NULL || v->queued != 0)
		plog("internal: %d login(s) left queued at exit", v->queued);
	pthread_mutex_destroy(&v->lock);
	pthread_cond_destroy(&v->wake);
}

static void
login_answered(struct server *srv, struct login_job *j)
{
	(void)srv;
	if (j->d.log[0] != '\0')
		plog("%s", j->d.log);
	j->answered = true;
	if (j->wsi != NULL)
		lws_callback_on_writable(j->wsi);
	else
		login_job_free(j);
}

/* Collects the worker's result, then hands it the next queued login. */
static void
login_pump(struct server *srv)
{
	struct verifier *v = &srv->verifier;
	struct proxy_http_ctx c;
	struct login_job *j = NULL;
	bool busy;

	pthread_mutex_lock(&v->lock);
	if (v->job != NULL && v->job_done) {
		j = v->job;
		v->job = NULL;
		v->job_done = false;
	}
	busy = v->job != NULL;
	pthread_mutex_unlock(&v->lock);
	if (j != NULL) {
		http_ctx(srv, &c);
		/* Counted even when the client has gone: hanging up must not
		 * dodge the rate limit. */
		proxy_login_end(&c, &j->l, j->rc, &j->d);
		login_answered(srv, j);
	}
	while (!busy && (j = v->head) != NULL) {
		int need;

		v->head = j->next;
		if (v->head == NULL)
			v->tail = NULL;
		v->queued--;
		j->next = NULL;
		http_ctx(srv, &c);
		need = proxy_login_begin(&c, &j->l, j->body, j->body_len, &j->d);
		if (j->body != NULL) {
			explicit_bzero(j->body, j->body_len);
			free(j->body);
			j->body = NULL;
		}
		if (need == 0) {
			login_answered(srv, j);
			continue;
		}
		if (!v->started) {
			proxy_login_end(&c, &j->l, -ENOSYS, &j->d);
			login_answered(srv, j);
			continue;
		}
		pthread_mutex_lock(&v->lock);
		v->job = j;
		v->job_done = false;
		pthread_cond_signal(&v->wake);
		pthread_mutex_unlock(&v->lock);
		busy = true;
	}
}

/* A login whose body is in: queued for the worker.  body is taken. */
static int
login_submit(struct server *srv, struct lws *wsi, struct pss *pss, char *body, size_t len)
{
	struct verifier *v = &srv->verifier;
	struct login_job *j;

	if (v->queued >= LOGIN_QUEUE_MAX || (j = calloc(1, sizeof(*j))) == NULL) {
		if (body != NULL) {
			explicit_bzero(body, len);
			free(body);
		}
		plog("login: %d logins already waiting for a password check; refused", v->queued);
		return json_error(srv, wsi, 503, "too many logins in progress; try again");
	}
	j->wsi = wsi;
	j->body = body;
	j->body_len = len;
	peer_ip(wsi, j->l.ip, sizeof(j->l.ip));
	j->l.tls = lws_is_ssl(wsi) != 0;
	if (v->tail != NULL)
		v->tail->next = j;
	else
		v->head = j;
	v->tail = j;
	v->queued++;
	pss->login = j;
	login_pump(srv);
	return 0;
}

/* The client of a login has gone: its job is dropped, or, when the worker
 * has it, left for login_pump to count and free. */
static void
login_forget(struct server *srv, struct login_job *j)
{
	struct verifier *v = &srv->verifier;
	bool checking;

	pthread_mutex_lock(&v->lock);
	checking = v->job == j;
	pthread_mutex_unlock(&v->lock);
	j->wsi = NULL;
	if (checking)
		return;
	if (!j->answered) {
		struct login_job **pp = &v->head, *prev = NULL;

		while (*pp != NULL && *pp != j) {
			prev = *pp;
			pp = &(*pp)->next;
		}
		if (*pp == j) {
			*pp = j->next;
			if (v->tail == j)
				v->tail = prev;
			v->queued--;
		}
	}
	login_job_free(j);
}

/* ---- /api/ ---- */

/* A POST whose body is in.  body is taken. */
static int
api_post_done(struct server *srv, struct lws *wsi, struct pss *pss, char *body, size_t len)
{
	struct proxy_http_decision d;
	struct proxy_http_ctx c;
	char cookie[2048];
	int rc;

	switch (pss->post) {
	case PROXY_POST_LOGIN:
		return login_submit(srv, wsi, pss, body, len);
	case PROXY_POST_LOGOUT:
		http_ctx(srv, &c);
		proxy_http_logout(&c, hdr_get(wsi, WSI_TOKEN_HTTP_COOKIE, cookie, sizeof(cookie), NULL), &d);
		free(body);
		return http_answer(srv, wsi, &d.answer);
	default:
		rc = api_finish(srv, wsi, pss, "POST", pss->api_path, body, len);
		free(body);
		return rc;
	}
}

/* An /api/ request that http.c let through. */
static int
api_request(struct server *srv, struct lws *wsi, struct pss *pss, const char *path,
	    const struct proxy_http_decision *d)
{
	if (d->action == PROXY_HTTP_API)
		return api_finish(srv, wsi, pss, req_method(wsi), path, NULL, 0);
	snprintf(pss->api_path, sizeof(pss->api_path), "%s",
		 strlen(path) < sizeof(pss->api_path) ? path : "/api/?");
	pss->post = d->post;
	free(pss->body.buf);
	memset(&pss->body, 0, sizeof(pss->body));
	pss->body.want = d->body_len;
	if (d->body_too_big)
		pss->body.status = 413;	/* drained, then refused */
	else if (d->body_len > 0 && (pss->body.buf = malloc(d->body_len)) == NULL)
		return json_error(srv, wsi, 500, "out of memory");
	/* Even a body of 0 bytes ends with LWS_CALLBACK_HTTP_BODY_COMPLETION:
	 * answering here too would run the request twice. */
	return 0;
}

/* ---- static files ---- */

static bool
accepts_gzip(struct lws *wsi)
{
	char ae[256];

	if (lws_hdr_copy(wsi, ae, sizeof(ae), WSI_TOKEN_HTTP_ACCEPT_ENCODING) <= 0)
		return false;
	/* Good enough: "gzip;q=0" is never sent by browsers. */
	return strstr(ae, "gzip") != NULL;
}

/* d: http.c's PROXY_HTTP_FILE for uri. */
static int
serve_file(struct server *srv, struct lws *wsi, const char *uri, const struct proxy_http_decision *d)
{
	char real[PATH_MAX], gz[PATH_MAX + 4], gzreal[PATH_MAX];
	uint8_t hdr[512], *p = hdr, *end = hdr + sizeof(hdr);
	const char *method = req_method(wsi), *mime, *path;
	bool head = d->head, is_gz = false;
	struct stat st;
	int rc;

	rc = proxy_path_resolve(srv->web_root, d->where, real, sizeof(real));
	if (rc == -EPERM || rc == -EACCES) {
		plog("http: refused path \"%.200s\"", uri);
		return text_error(srv, wsi, 403, "Forbidden", head);
	}
	if (rc < 0) {
		vlog("http: %s %.200s: 404", method, uri);
		return text_error(srv, wsi, 404, "Not Found", head);
	}
	mime = proxy_mime_type(real);
	path = real;
	if (accepts_gzip(wsi) && snprintf(gz, sizeof(gz), "%s.gz", real) < (int)sizeof(gz) &&
	    realpath(gz, gzreal) != NULL && strncmp(gzreal, srv->web_root, strlen(srv->web_root)) == 0 &&
	    gzreal[strlen(srv->web_root)] == '/' && stat(gzreal, &st) == 0 && S_ISREG(st.st_mode)) {
		path = gzreal;
		is_gz = true;
	}
	if (stat(path, &st) < 0)
		return text_error(srv, wsi, 404, "Not Found", head);
	if ((is_gz && lws_add_http_header_by_name(wsi, (const uint8_t *)"content-encoding:",
						  (const uint8_t *)"gzip", 4, &p, end)) ||
	    add_hsts(wsi, &p, end) ||
	    lws_add_http_header_by_name(wsi, (const uint8_t *)"vary:",
					(const uint8_t *)"Accept-Encoding", 15, &p, end))
		return -1;
	{
		const char *cc = strncmp(mime, "text/html", 9) == 0 ? "no-cache" : "max-age=3600";

		if (lws_add_http_header_by_name(wsi, (const uint8_t *)"cache-control:",
						(const uint8_t *)cc, (int)strlen(cc), &p, end))
			return -1;
	}
	vlog("http: %s %.200s -> %s (%s%s)", method, uri, path, mime, is_gz ? ", gzip" : "");
	if (head) {
		uint8_t *start = srv->http + LWS_PRE, *q = start, *qend = srv->http + sizeof(srv->http);

		if (lws_add_http_common_headers(wsi, 200, mime, (lws_filepos_t)st.st_size, &q, qend))
			return -1;
		if ((size_t)(qend - q) < (size_t)(p - hdr))
			return -1;
		memcpy(q, hdr, (size_t)(p - hdr));
		q += p - hdr;
		if (lws_finalize_write_http_header(wsi, start, &q, qend))
			return -1;
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	}
	rc = lws_serve_http_file(wsi, path, mime, (const char *)hdr, (int)(p - hdr));
	if (rc < 0 || (rc > 0 && lws_http_transaction_completed(wsi)))
		return -1;
	return 0;
}

/* ---- bridging ---- */

static void
conn_unref(struct conn *c)
{
	struct server *srv = c->srv;

	if (--c->refs > 0)
		return;
	vlog("#%u %s: closed (%llu bytes to target, %llu to viewer; %llu frames spliced, "
	     "%llu of them finished by lws)", c->id, c->peer, c->up, c->down, c->spliced, c->lws_ends);
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (--srv->nconns == 0)
		srv->idle_since = now_s();
	if (c->rearm_set)
		lws_sul_schedule(srv->ctx, 0, &c->rearm, NULL, LWS_SET_TIMER_USEC_CANCEL);
	if (c->pipe[0] >= 0) {
		close(c->pipe[0]);
		close(c->pipe[1]);
	}
	free(c->to_viewer.buf);
	free(c->to_target.buf);
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
	plog("#%u %s: %s", c->id, c->peer, msg);
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

static int
ws_established(struct server *srv, struct lws *wsi, struct pss *pss)
{
	struct proxy_addr a;
	char why[200], cookie[2048], arg[PROXY_TOKEN_MAX + 8];
	const char *tok = lws_get_urlarg_by_name(wsi, "token=", arg, sizeof(arg));
	struct conn *c = calloc(1, sizeof(*c));

	if (c == NULL || ring_init(&c->to_viewer, PROXY_QUEUE_CAP) < 0 ||
	    ring_init(&c->to_target, PROXY_QUEUE_CAP) < 0) {
		plog("out of memory for a new connection");
		if (c) {
			free(c->to_viewer.buf);
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
	c->last_ping = now_s();
	peer_name(wsi, c->peer, sizeof(c->peer));
	if (srv->o->sndbuf > 0 &&
	    setsockopt(lws_get_socket_fd(wsi), SOL_SOCKET, SO_SNDBUF, &srv->o->sndbuf,
		       sizeof(srv->o->sndbuf)) < 0)
		vlog("#%u %s: --sndbuf: %s", c->id, c->peer, strerror(errno));
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
			      hdr_get(wsi, WSI_TOKEN_HTTP_COOKIE, cookie, sizeof(cookie), NULL),
			      &a, why, sizeof(why)) < 0) {
		conn_fail(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "refusing: %s", why);
		return 0;
	}
	if (connect_target(c, &a) == 0)
		vlog("#%u %s: WebSocket (%s) -> %s", c->id, c->peer,
		     lws_get_protocol(wsi)->name, c->target);
	return 0;
}

/* ---- frames without copies ----
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

/* Target readable: moves what it has into the pipe, up to one frame.
 * 1: bytes came, 0: none now, -1: end of stream or error (closes raw). */
static int
target_splice(struct conn *c)
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
		vlog("#%u %s: target %s cannot splice (%s); copying", c->id, c->peer, c->target,
		     strerror(errno));
		close(c->pipe[0]);
		close(c->pipe[1]);
		c->pipe[0] = c->pipe[1] = -1;
		return 0;
	}
	vlog("#%u %s: reading target %s: %s", c->id, c->peer, c->target, strerror(errno));
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
			plog("#%u %s: reading the frame back from its pipe: %s", c->id, c->peer,
			     n < 0 ? strerror(errno) : "empty");
			return -1;
		}
		if (lws_write(wsi, buf, (size_t)n, LWS_WRITE_HTTP) < 0)
			return -1;
		len -= (size_t)n;
	}
	return 0;
}

/* Sends the pipe's bytes as one binary frame.  0, or -1 to close. */
static int
ws_send_piped(struct server *srv, struct lws *wsi, struct conn *c)
{
	uint8_t hdr[10];
	size_t len = c->piped, hlen;
	int fd = lws_get_socket_fd(wsi);
	ssize_t k, m;

	hdr[0] = 0x82;		/* FIN, binary */
	if (len < 126) {
		hdr[1] = (uint8_t)len;
		hlen = 2;
	} else if (len <= 0xffff) {
		hdr[1] = 126;
		hdr[2] = (uint8_t)(len >> 8);
		hdr[3] = (uint8_t)len;
		hlen = 4;
	} else {
		hdr[1] = 127;
		for (int i = 0; i < 8; i++)
			hdr[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
		hlen = 10;
	}
	k = send(fd, hdr, hlen, MSG_MORE | MSG_NOSIGNAL | MSG_DONTWAIT);
	if (k < 0) {
		if (errno == EAGAIN || errno == EINTR) {
			lws_callback_on_writable(wsi);
			return 0;	/* nothing of the frame went: try later */
		}
		vlog("#%u %s: WebSocket write failed: %s", c->id, c->peer, strerror(errno));
		return -1;
	}
	m = 0;
	if ((size_t)k < hlen) {
		if (lws_write(wsi, hdr + k, hlen - (size_t)k, LWS_WRITE_HTTP) < 0)
			return -1;
	} else {
		m = splice(c->pipe[0], NULL, fd, NULL, len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (m < 0 && errno != EAGAIN && errno != EINTR) {
			vlog("#%u %s: WebSocket write failed: %s", c->id, c->peer, strerror(errno));
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

static int
ws_writeable(struct server *srv, struct lws *wsi, struct conn *c)
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
			if (ws_send_piped(srv, wsi, c) < 0)
				return -1;
			if (c->piped > 0)
				return 0;	/* the socket was full; POLLOUT asked */
		} else {
			n = ring_peek(&c->to_viewer, buf, PROXY_IO_CHUNK);
			if (lws_write(wsi, buf, n, LWS_WRITE_BINARY) < (int)n) {
				vlog("#%u %s: WebSocket write failed", c->id, c->peer);
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

static int
ws_receive(struct lws *wsi, struct conn *c, const void *in, size_t len)
{
	if (c->close_code)
		return 0;	/* the target is gone; nothing to forward to */
	if (ring_put(&c->to_target, in, len) < 0) {
		plog("#%u %s: queue to target overflowed; closing", c->id, c->peer);
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

static void
ws_closed(struct conn *c)
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
		if ((rc = target_splice(c)) < 0)
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
			plog("#%u %s: queue to viewer overflowed; closing", c->id, c->peer);
		else
			vlog("#%u %s: reading target %s: %s", c->id, c->peer, c->target, strerror((int)-n));
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
		vlog("#%u %s: connected to %s", c->id, c->peer, c->target);
	}
	while (c->to_target.len > 0) {
		ssize_t n = ring_send(&c->to_target, c->tfd);

		if (n == -EAGAIN || n == -EINTR)
			break;
		if (n < 0) {
			vlog("#%u %s: writing to target %s: %s", c->id, c->peer, c->target,
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

static int
cb_target(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
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
				plog("#%u %s: target %s closed with more than the queue holds unread; "
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
				vlog("#%u %s: target %s closed the connection", c->id, c->peer, c->target);
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

/* ---- the HTTP / WebSocket protocol ---- */

/* "ip:port" or "[ip6]:port" of the client, for log lines. */
static void
peer_name(struct lws *wsi, char *out, size_t outlen)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN], port[8];

	if (getpeername(lws_get_socket_fd(wsi), (struct sockaddr *)&ss, &len) < 0 ||
	    getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), port, sizeof(port),
			NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		lws_get_peer_simple(wsi, out, outlen);
		return;
	}
	snprintf(out, outlen, strchr(host, ':') ? "[%s]:%s" : "%s:%s", host, port);
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

	peer_name(wsi, peer, sizeof(peer));
	plog("%s: request headers larger than %d bytes; answering 431", peer, PROXY_HEADER_MAX);
	if (fd < 0 || lws_is_ssl(wsi))
		return;
	/* Read what is left of the request, so that closing does not reset
	 * the connection before the client has read the answer. */
	for (int i = 0; i < 64 && recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0; i++)
		;
	if (send(fd, resp, sizeof(resp) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		vlog("%s: 431 answer: %s", peer, strerror(errno));
}

static int
cb_http_ws(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct server *srv = lws_context_user(lws_get_context(wsi));
	struct pss *pss = user;

	switch (reason) {
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
	case LWS_CALLBACK_HTTP: {
		bool upgrade = reason == LWS_CALLBACK_HTTP_CONFIRM_UPGRADE;
		struct proxy_http_decision d;
		struct proxy_http_ctx c;
		struct req_copy q;

		pending_del(wsi);
		req_copy(wsi, &q, upgrade ? NULL : in, upgrade ? (in ? in : "") : NULL);
		http_ctx(srv, &c);
		proxy_http_decide(&c, &q.r, &d);
		if (d.log[0] != '\0')
			plog("%s", d.log);
		switch (d.action) {
		case PROXY_HTTP_UPGRADE:
			return 0;
		case PROXY_HTTP_FILE:
			return serve_file(srv, wsi, q.r.uri, &d);
		case PROXY_HTTP_API:
		case PROXY_HTTP_BODY:
			return api_request(srv, wsi, pss, q.r.uri, &d);
		default:
			if (upgrade)
				return refuse_upgrade(srv, wsi, &d.answer);
			if (d.answer.status >= 400)
				vlog("http: %s %.200s: %u", q.r.method, q.r.uri, d.answer.status);
			return http_answer(srv, wsi, &d.answer);
		}
	}
	case LWS_CALLBACK_HTTP_BODY:
		proxy_http_body_add(&pss->body, in, len);
		return 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION: {
		/* Taken out of pss first: an answer given right away ends the
		 * transaction, and lws may free pss with it. */
		struct proxy_http_body b = pss->body;

		memset(&pss->body, 0, sizeof(pss->body));
		if (b.status) {
			if (b.buf != NULL)
				explicit_bzero(b.buf, b.len);	/* it may hold a password */
			free(b.buf);
			return json_error(srv, wsi, (unsigned)b.status, "body larger than 65536 bytes");
		}
		return api_post_done(srv, wsi, pss, b.buf, b.len);
	}
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		/* The password check thread has a result (or a signal came). */
		login_pump(srv);
		return 0;
	case LWS_CALLBACK_HTTP_FILE_COMPLETION:
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
		pending_add(wsi);
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		pending_del(wsi);
		return 0;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		if (pss && pss->login && pss->login->answered) {
			struct login_job *j = pss->login;
			int rc;

			pss->login = NULL;
			rc = http_answer(srv, wsi, &j->d.answer);
			login_job_free(j);
			return rc;
		}
		if (pss && pss->call && pss->call->ctl == NULL) {
			struct api_call *call = pss->call;
			int rc;

			pss->call = NULL;
			rc = api_answer(srv, wsi, call);
			api_call_free(call);
			return rc;
		}
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		pending_del(wsi);
		if (pss && pss->call) {
			/* The client left before the daemon answered. */
			pss->call->http = NULL;
			if (pss->call->ctl == NULL)
				api_call_free(pss->call);
			pss->call = NULL;
		}
		if (pss && pss->login) {
			login_forget(srv, pss->login);
			pss->login = NULL;
		}
		if (pss && pss->body.buf) {
			/* It may hold a password. */
			explicit_bzero(pss->body.buf, pss->body.len);
			free(pss->body.buf);
			memset(&pss->body, 0, sizeof(pss->body));
		}
		return 0;

	case LWS_CALLBACK_ESTABLISHED:
		return ws_established(srv, wsi, pss);
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (pss->conn == NULL)
			return -1;
		return ws_writeable(srv, wsi, pss->conn);
	case LWS_CALLBACK_RECEIVE:
		if (pss->conn == NULL)
			return -1;
		return ws_receive(wsi, pss->conn, in, len);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (pss->conn && len >= 2)
			vlog("#%u %s: viewer closed with code %u", pss->conn->id, pss->conn->peer,
			     ((const uint8_t *)in)[0] << 8 | ((const uint8_t *)in)[1]);
		return 0;
	case LWS_CALLBACK_CLOSED:
		if (pss->conn) {
			ws_closed(pss->conn);
			pss->conn = NULL;
		}
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

/* protocols[0] serves HTTP and WebSocket clients that offer no subprotocol
 * (noVNC >= 1.0); "binary" answers clients that offer it (older noVNC,
 * websockify's tests). */
static const struct lws_protocols protocols[] = {
	{ "webkvm", cb_http_ws, sizeof(struct pss), PROXY_IO_CHUNK, 0, NULL, 0 },
	{ "binary", cb_http_ws, sizeof(struct pss), PROXY_IO_CHUNK, 0, NULL, 0 },
	{ "webkvm-target", cb_target, 0, PROXY_IO_CHUNK, 0, NULL, 0 },
	{ "webkvm-control", cb_control, 0, 4096, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* ---- timers, signals, main loop ---- */

static void
tick(lws_sorted_usec_list_t *sul)
{
	struct server *srv = lws_container_of(sul, struct server, tick);
	const struct proxy_options *o = srv->o;
	time_t t = now_s();

	if (o->heartbeat > 0) {
		for (struct conn *c = srv->conns; c; c = c->next) {
			if (c->ws && !c->close_code && t - c->last_ping >= o->heartbeat) {
				c->last_ping = t;
				c->ping_due = true;
				lws_callback_on_writable(c->ws);
			}
		}
	}
	if (o->idle_timeout > 0 && srv->nconns == 0 && t - srv->idle_since >= o->idle_timeout) {
		plog("exiting: no connection for %d s (--idle-timeout)", o->idle_timeout);
		srv->stop = 1;
	}
	if (o->timeout > 0 && srv->nconns == 0 && t - srv->started >= o->timeout) {
		plog("exiting: --timeout %d s reached", o->timeout);
		srv->stop = 1;
	}
	if (srv->stop)
		lws_cancel_service(srv->ctx);
	else
		lws_sul_schedule(srv->ctx, 0, &srv->tick, tick, LWS_US_PER_SEC);
}

static void
on_signal(int sig)
{
	(void)sig;
	if (g_srv) {
		g_srv->stop = 1;
		lws_cancel_service(g_srv->ctx);
	}
}

static void
token_warn(void *ctx, const char *file, int line, const char *why)
{
	(void)ctx;
	if (line > 0)
		plog("%s:%d: %s; line ignored", file, line, why);
	else
		plog("%s: %s", file, why);
}

/* Reads the whole users file into srv; a missing file is no users. */
static int
load_users(struct server *srv, const char *path)
{
	FILE *f = fopen(path, "r");
	struct stat st;
	size_t n;

	if (f == NULL) {
		if (errno == ENOENT)
			return 0;
		plog("--users %s: %s", path, strerror(errno));
		return -errno;
	}
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > 1024 * 1024) {
		plog("--users %s: not a regular file of at most 1 MiB", path);
		fclose(f);
		return -EINVAL;
	}
	if (st.st_mode & 077)
		plog("warning: %s is readable by others (mode %03o); webkvm-passwd writes it 0600",
		     path, (unsigned)(st.st_mode & 0777));
	srv->users = malloc((size_t)st.st_size + 1);
	if (srv->users == NULL) {
		fclose(f);
		return -ENOMEM;
	}
	n = fread(srv->users, 1, (size_t)st.st_size, f);
	if (ferror(f)) {
		plog("--users %s: %s", path, strerror(errno));
		fclose(f);
		return -EIO;
	}
	fclose(f);
	srv->users[n] = '\0';
	srv->users_len = n;
	{
		char line[PROXY_USER_MAX + PROXY_HASH_MAX + 8], name[PROXY_USER_MAX], hash[PROXY_HASH_MAX];
		const char *p = srv->users, *why;
		int lineno = 0;

		while (*p != '\0') {
			size_t len = strcspn(p, "\n");

			lineno++;
			if (len >= sizeof(line)) {
				plog("%s:%d: line too long; ignored", path, lineno);
			} else {
				memcpy(line, p, len);
				line[len] = '\0';
				if (proxy_users_parse_line(line, name, sizeof(name), hash, sizeof(hash), &why) < 0)
					plog("%s:%d: %s; line ignored", path, lineno, why);
			}
			p += len + (p[len] == '\n');
		}
	}
	proxy_users_find_buf(srv->users, srv->users_len, NULL, NULL, 0, &srv->nusers);
	return 0;
}

/* --user: the listening socket is bound and every file the proxy needs
 * (users, certificate) is read, so root is no longer needed. */
static int
drop_privileges(const char *name)
{
	struct passwd *pw;

	errno = 0;
	if ((pw = getpwnam(name)) == NULL) {
		plog("--user %s: %s", name, errno ? strerror(errno) : "no such user");
		return -EINVAL;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) < 0 && geteuid() == 0) {
		plog("--user %s: initgroups: %s", name, strerror(errno));
		return -errno;
	}
	if (setgid(pw->pw_gid) < 0) {
		plog("--user %s: setgid(%u): %s", name, (unsigned)pw->pw_gid, strerror(errno));
		return -errno;
	}
	if (setuid(pw->pw_uid) < 0) {
		plog("--user %s: setuid(%u): %s", name, (unsigned)pw->pw_uid, strerror(errno));
		return -errno;
	}
	/* A drop that can be undone is no drop. */
	if (pw->pw_uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		plog("--user %s: could regain root after dropping it; refusing to run", name);
		return -EPERM;
	}
	plog("running as user %s (uid %u, gid %u)", name, (unsigned)pw->pw_uid, (unsigned)pw->pw_gid);
	return 0;
}

/* lws takes an interface name or an address literal: turn "localhost" and
 * other names into an address. */
static int
listen_iface(const struct proxy_addr *a, char *out, size_t outlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *ai;
	int g;

	if ((g = getaddrinfo(a->host, NULL, &hints, &ai)) != 0) {
		plog("listen address %s: %s", a->host, gai_strerror(g));
		return -EINVAL;
	}
	g = getnameinfo(ai->ai_addr, ai->ai_addrlen, out, (socklen_t)outlen, NULL, 0, NI_NUMERICHOST);
	freeaddrinfo(ai);
	if (g != 0) {
		plog("listen address %s: %s", a->host, gai_strerror(g));
		return -EINVAL;
	}
	return 0;
}

int
proxy_run(const struct proxy_options *o)
{
	static struct server srv;	/* large buffers; one per process */
	struct lws_context_creation_info ci;
	char iface[INET6_ADDRSTRLEN + 8];
	struct sigaction sa;
	int rc = 0;

	verbose = o->verbose;
	memset(&srv, 0, sizeof(srv));
	srv.o = o;
	lws_set_log_level(LLL_ERR | (o->verbose ? LLL_WARN : 0), lws_emit);

	if (o->web != NULL) {
		struct stat st;

		if (realpath(o->web, srv.web_root) == NULL || stat(srv.web_root, &st) < 0) {
			plog("--web %s: %s", o->web, strerror(errno));
			return 2;
		}
		if (!S_ISDIR(st.st_mode)) {
			plog("--web %s: not a directory", o->web);
			return 2;
		}
	}
	if (o->token_source != NULL) {
		int n = proxy_token_lookup(o->token_source, NULL, NULL, token_warn, NULL);

		if (n < 0) {
			plog("--token-source %s: %s", o->token_source, strerror(-n));
			return 2;
		}
	}

	if (o->auth == PROXY_AUTH_DEFAULT) {
		const char *path = o->users ? o->users : PROXY_USERS_DEFAULT;

		if (load_users(&srv, path) < 0)
			return 2;
		srv.sessions.idle = o->session_idle * 1000LL;
		srv.sessions.max = o->session_max * 1000LL;
		if (srv.nusers == 0) {
			char hint[300];

			snprintf(hint, sizeof(hint), "no users are configured; add one with: "
				 "webkvm-passwd add --file %s NAME", path);
			/* No default password exists: on a reachable address a
			 * server without users would be useless at best. */
			if (!proxy_addr_is_loopback(o->listen.host)) {
				plog("refusing to listen on %s:%d: %s", o->listen.host[0] ? o->listen.host : "*",
				     o->listen.port, hint);
				free(srv.users);
				return 2;
			}
			plog("warning: %s; every login is refused until then", hint);
		}
	}

	if (o->tls && o->cert == NULL) {
		const char *dir = o->state_dir ? o->state_dir : PROXY_STATE_DIR_DEFAULT;
		char err[400];

		rc = proxy_tls_selfsigned(dir, srv.cert, sizeof(srv.cert), srv.key, sizeof(srv.key),
					  err, sizeof(err));
		if (rc < 0) {
			plog("--tls: %s", err);
			free(srv.users);
			return 2;
		}
		plog("%s self-signed certificate %s", rc == 1 ? "made a" : "using the", srv.cert);
		rc = 0;
	} else if (o->cert != NULL) {
		snprintf(srv.cert, sizeof(srv.cert), "%s", o->cert);
		snprintf(srv.key, sizeof(srv.key), "%s", o->key ? o->key : o->cert);
	}

	memset(&ci, 0, sizeof(ci));
	ci.port = o->listen.port;
	if (o->listen.host[0] != '\0') {
		if (listen_iface(&o->listen, iface, sizeof(iface)) < 0)
			return 2;
		/* The name passed the command line's check; the address it
		 * resolved to must pass it too. */
		if ((o->auth == PROXY_AUTH_NONE || srv.nusers == 0) && !proxy_addr_is_loopback(iface)) {
			plog("--auth none: %s resolves to %s, which is not a loopback address", o->listen.host, iface);
			return 2;
		}
		ci.iface = iface;
		if (strchr(iface, ':') == NULL)
			ci.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
	}
	ci.protocols = protocols;
	ci.user = &srv;
	ci.pt_serv_buf_size = PROXY_IO_CHUNK;
	ci.max_http_header_data = PROXY_HEADER_MAX;
	ci.timeout_secs = 20;
	ci.alpn = "http/1.1";
	ci.vhost_name = "webkvm";
	if (o->tls) {
		ci.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		ci.ssl_cert_filepath = srv.cert;
		ci.ssl_private_key_filepath = srv.key;
		/* TLS 1.2 is the floor: 1.0 and 1.1 are deprecated (RFC 8996). */
		ci.ssl_options_set = SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1;
		/* websockify answers TLS and plain HTTP on one port. */
		if (!o->ssl_only)
			ci.options |= LWS_SERVER_OPTION_ALLOW_NON_SSL_ON_SSL_PORT |
				      LWS_SERVER_OPTION_ALLOW_HTTP_ON_HTTPS_LISTENER;
		else
			ci.options |= LWS_SERVER_OPTION_ALLOW_NON_SSL_ON_SSL_PORT |
				      LWS_SERVER_OPTION_REDIRECT_HTTP_TO_HTTPS;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	verifier_init(&srv);
	srv.ctx = lws_create_context(&ci);
	if (srv.ctx == NULL) {
		plog("cannot listen on %s%s%s:%d (see the lws line above)",
		     strchr(o->listen.host, ':') ? "[" : "", o->listen.host[0] ? o->listen.host : "*",
		     strchr(o->listen.host, ':') ? "]" : "", o->listen.port);
		return 1;
	}
	srv.vh = lws_get_vhost_by_name(srv.ctx, "webkvm");
	if (srv.vh == NULL) {
		plog("internal: no vhost");
		lws_context_destroy(srv.ctx);
		return 1;
	}
	if (o->run_as != NULL && drop_privileges(o->run_as) < 0) {
		lws_context_destroy(srv.ctx);
		free(srv.users);
		return 1;
	}
	if (o->auth == PROXY_AUTH_DEFAULT && verifier_start(&srv) < 0) {
		lws_context_destroy(srv.ctx);
		free(srv.users);
		return 1;
	}
	g_srv = &srv;
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	srv.started = srv.idle_since = now_s();
	lws_sul_schedule(srv.ctx, 0, &srv.tick, tick, LWS_US_PER_SEC);

	{
		char tgt[PROXY_HOST_MAX + 32];

		if (o->unix_target)
			snprintf(tgt, sizeof(tgt), "unix:%s", o->unix_target);
		else if (o->token_source)
			snprintf(tgt, sizeof(tgt), "tokens in %s", o->token_source);
		else
			snprintf(tgt, sizeof(tgt), strchr(o->target.host, ':') ? "[%s]:%d" : "%s:%d",
				 o->target.host, o->target.port);
		plog("listening on %s%s%s:%d%s, bridging to %s", strchr(o->listen.host, ':') ? "[" : "",
		     o->listen.host[0] ? o->listen.host : "*", strchr(o->listen.host, ':') ? "]" : "",
		     o->listen.port, o->tls ? (o->ssl_only ? " (TLS only)" : " (TLS or plain)") : "", tgt);
	}
	if (o->web)
		plog("serving %s", srv.web_root);
	if (o->auth == PROXY_AUTH_DEFAULT)
		plog("login required: %d user%s in %s", srv.nusers, srv.nusers == 1 ? "" : "s",
		     o->users ? o->users : PROXY_USERS_DEFAULT);
	else
		plog("--auth none: no login; anyone who reaches this port controls the target");

	while (!srv.stop) {
		if (lws_service(srv.ctx, 0) < 0) {
			plog("lws_service failed; exiting");
			rc = 1;
			break;
		}
	}
	lws_sul_schedule(srv.ctx, 0, &srv.tick, NULL, LWS_SET_TIMER_USEC_CANCEL);
	g_srv = NULL;
	verifier_stop(&srv);
	lws_context_destroy(srv.ctx);
	verifier_free(&srv);
	free(srv.users);
	plog("stopped");
	return rc;
}
