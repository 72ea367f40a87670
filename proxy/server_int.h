/* webkvm-proxy's libwebsockets glue, shared by the server*.c files only.
 *
 * One event loop (lws_service) owns everything here; the one other thread,
 * the password check worker (server_login.c), touches only the job it was
 * handed, under verifier.lock.  Internal functions that cross files are
 * proxy__*.
 *
 *   server.c         the lws dispatcher (cb_http_ws), timers, proxy_run
 *   server_lws.c     lws's log lines, and the 431 for oversized headers
 *   server_http.c    request headers out of lws, small HTTP answers
 *   server_api.c     /api/: the REST client of the daemon's control socket
 *   server_login.c   /api/login: the password check worker
 *   server_files.c   static files under --web
 *   server_bridge.c  WebSocket <-> target bridging
 *   server_splice.c  target -> viewer frames without copies (splice)
 *   ring.c           the bounded byte queue (no lws: unit-tested) */
#ifndef WEBKVM_PROXY_SERVER_INT_H
#define WEBKVM_PROXY_SERVER_INT_H

#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <libwebsockets.h>

#include "proxy/proxy.h"
#include "proxy/ring.h"

#define PROXY_QUEUE_BOUND (256 * 1024)	/* per direction, per connection; also the
					 * most one spliced frame carries */
#define PROXY_IO_CHUNK (64 * 1024)	/* largest read lws hands us / write we make */
#define PROXY_QUEUE_CAP (PROXY_QUEUE_BOUND + 2 * PROXY_IO_CHUNK)
#define PROXY_HEADER_MAX 8192		/* request headers above this get 431 */
#define PROXY_CTL_TIMEOUT_S 2		/* the daemon's answer to an /api/ call */
#define LOGIN_QUEUE_MAX 16		/* logins waiting for the worker; more get 503 */

struct server;

/* One bridged connection, shared by the viewer's WebSocket (ws) and the
 * target's socket (raw); freed when both are gone. */
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
	uint64_t last_ping;		/* ms */
	unsigned long long up, down;	/* bytes viewer->target, target->viewer */
	unsigned long long spliced, lws_ends;	/* frames spliced; of those, finished by lws */
};

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

/* An /api/ request waiting for the daemon's one-line answer. */
struct api_call {
	struct lws *http, *ctl;		/* NULL once that side has closed */
	char path[32];
	uint64_t started;		/* ms */
	bool answered;
	size_t len, alen;
	uint8_t *line;			/* LWS_PRE + request line */
	char ans[PROXY_CTL_LINE_MAX + 2];
};

struct server {
	const struct proxy_options *o;
	struct lws_context *ctx;
	struct lws_vhost *vh;
	char web_root[PATH_MAX];
	struct conn *conns;
	int nconns;
	unsigned next_id;
	uint64_t started, idle_since;	/* ms */
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

/* ---- server_lws.c ---- */

/* lws's log callback (lws_set_log_level). */
void proxy__lws_emit(int level, const char *line);
/* The HTTP connections whose request head lws has not dispatched yet: the
 * one to answer 431 when lws says a head overflowed.  Never drops one: a
 * connection it could not record (out of memory) turns the 431 answers off
 * for good rather than risk answering the wrong client. */
void proxy__pending_add(struct lws *wsi);
void proxy__pending_del(struct lws *wsi);
/* The only pending connection; NULL when there are none or several. */
struct lws *proxy__pending_only(void);
/* At exit. */
void proxy__pending_free(void);

/* ---- server_http.c ---- */

/* A header's value, NULL when absent; *toolong (may be NULL) is set when
 * it does not fit len. */
const char *proxy__hdr_get(struct lws *wsi, enum lws_token_indexes t, char *buf, size_t len,
			   bool *toolong);
const char *proxy__req_method(struct lws *wsi);
/* "ip:port" / "[ip6]:port" of the client, for log lines. */
void proxy__peer_name(struct lws *wsi, char *out, size_t outlen);
/* The client's address without its port: the rate limit's key. */
void proxy__peer_ip(struct lws *wsi, char *out, size_t outlen);

/* One request's headers, copied out of lws; r points into the buffers. */
struct req_copy {
	struct proxy_http_req r;
	char uri[PROXY_HEADER_MAX], version[16], key[64], prot[256];
	char origin[PROXY_HOST_MAX + 32], host[PROXY_HOST_MAX], cookie[2048], cl[32];
	char token[PROXY_TOKEN_MAX + 8], peer[64], ip[INET6_ADDRSTRLEN];
};
/* upgrade: LWS_CALLBACK_HTTP_CONFIRM_UPGRADE's "in" ("" when lws gave
 * none), or NULL for a plain request to uri. */
void proxy__req_copy(struct lws *wsi, struct req_copy *q, const char *uri, const char *upgrade);
void proxy__http_ctx(struct server *srv, struct proxy_http_ctx *c);

/* The answer helpers return the lws callback's return value. */
int proxy__add_hsts(struct lws *wsi, uint8_t **p, uint8_t *end);
int proxy__http_reply(struct server *srv, struct lws *wsi, unsigned status, const char *ctype,
		      const char *body, size_t len, bool head);
int proxy__http_answer(struct server *srv, struct lws *wsi, const struct proxy_http_answer *a);
int proxy__json_error(struct server *srv, struct lws *wsi, unsigned status, const char *msg);
int proxy__text_error(struct server *srv, struct lws *wsi, unsigned status, const char *msg,
		      bool head);
/* From LWS_CALLBACK_HTTP_CONFIRM_UPGRADE, whose caller ends the
 * transaction itself. */
int proxy__refuse_upgrade(struct server *srv, struct lws *wsi, const struct proxy_http_answer *a);

/* ---- server_api.c ---- */

/* An /api/ request http.c let through: forwarded now, or its body awaited. */
int proxy__api_request(struct server *srv, struct lws *wsi, struct pss *pss, const char *path,
		       const struct proxy_http_decision *d);
/* A POST whose body is in.  body is taken. */
int proxy__api_post_done(struct server *srv, struct lws *wsi, struct pss *pss, char *body,
			 size_t len);
/* HTTP writable: answers when the daemon has.  1 when pss has nothing to
 * answer yet. */
int proxy__api_writeable(struct server *srv, struct lws *wsi, struct pss *pss);
/* The HTTP client has gone. */
void proxy__api_forget(struct pss *pss);
int proxy__cb_control(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		      size_t len);

/* ---- server_login.c ---- */

void proxy__verifier_init(struct server *srv);
/* Starts the worker; with --auth none there is none, and every login is
 * answered by proxy_login_begin. */
int proxy__verifier_start(struct server *srv);
/* Before lws_context_destroy: the worker calls lws_cancel_service. */
void proxy__verifier_stop(struct server *srv);
/* After lws_context_destroy, whose close callbacks let go of every job
 * but the one the worker had. */
void proxy__verifier_free(struct server *srv);
/* Collects the worker's result, then hands it the next queued login. */
void proxy__login_pump(struct server *srv);
/* A login whose body is in: queued for the worker (503 past
 * LOGIN_QUEUE_MAX waiting).  body is taken. */
int proxy__login_submit(struct server *srv, struct lws *wsi, struct pss *pss, char *body,
			size_t len);
/* HTTP writable: answers when the check has.  1 when pss has nothing to
 * answer yet. */
int proxy__login_writeable(struct server *srv, struct lws *wsi, struct pss *pss);
/* The client of a login has gone. */
void proxy__login_forget(struct server *srv, struct login_job *j);

/* ---- server_files.c ---- */

/* d: http.c's PROXY_HTTP_FILE for uri. */
int proxy__serve_file(struct server *srv, struct lws *wsi, const char *uri,
		      const struct proxy_http_decision *d);

/* ---- server_bridge.c ---- */

int proxy__ws_established(struct server *srv, struct lws *wsi, struct pss *pss);
int proxy__ws_writeable(struct server *srv, struct lws *wsi, struct conn *c);
int proxy__ws_receive(struct lws *wsi, struct conn *c, const void *in, size_t len);
void proxy__ws_closed(struct conn *c);
int proxy__cb_target(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		     size_t len);

/* ---- server_splice.c ---- */

/* Target readable: moves what it has into c->pipe, up to one frame.
 * 1: bytes came, 0: none now (or the socket cannot splice: c->pipe is
 * closed and the queue takes over), -1: end of stream or error. */
int proxy__target_splice(struct conn *c);
/* Sends the pipe's bytes as one binary frame.  0, or -1 to close. */
int proxy__ws_send_piped(struct server *srv, struct lws *wsi, struct conn *c);
/* The header of an unmasked binary WebSocket frame (RFC 6455 5.2) of len
 * bytes into hdr; returns its length (2, 4 or 10). */
size_t proxy__ws_frame_header(uint8_t hdr[10], size_t len);

#endif
