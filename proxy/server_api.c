/* /api/: the REST client of the daemon's control socket.
 *
 * One request line, one answer line, on a fresh connection per request;
 * rest.c validates the request and builds the line.  The control socket is
 * adopted into lws as a raw socket like a target, so a daemon that is slow
 * or stopped never stalls the viewers: the HTTP request simply waits (at
 * most PROXY_CTL_TIMEOUT_S) for its answer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/clock.h"
#include "proxy/server_int.h"

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
			 wk_now_ms() - call->started >= PROXY_CTL_TIMEOUT_S * 1000 ?
			 "no answer within 2 s" : "closed without answering");
		proxy_log(WK_LOG_WARN, "api: %s: %s", call->path, err);
		return proxy__json_error(srv, wsi, 502, err);
	}
	status = proxy_rest_status(call->path, call->ans, call->alen);
	if (status == 502) {
		proxy_log(WK_LOG_WARN, "api: %s: daemon answered something that is not a JSON object",
			  call->path);
		return proxy__json_error(srv, wsi, 502, "daemon answered something that is not a JSON object");
	}
	proxy_log(WK_LOG_DEBUG, "api: %s: %d", call->path, status);
	call->ans[call->alen++] = '\n';
	return proxy__http_reply(srv, wsi, (unsigned)status, "application/json", call->ans, call->alen,
				 false);
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
		proxy_log(WK_LOG_DEBUG, "api: %s %s: %d %s", method, path, status, err);
		return proxy__json_error(srv, wsi, (unsigned)status, err);
	}
	if (srv->o->control == NULL)
		return proxy__json_error(srv, wsi, 503,
					 "no daemon control socket (start the proxy with --control PATH)");
	if (strlen(srv->o->control) >= sizeof(sa.sun_path))
		return proxy__json_error(srv, wsi, 502, "control socket path too long");
	strcpy(sa.sun_path, srv->o->control);
	/* A local connect either succeeds or fails at once. */
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(err, sizeof(err), "daemon unreachable: %s: %s", srv->o->control, strerror(errno));
		if (fd >= 0)
			close(fd);
		proxy_log(WK_LOG_WARN, "api: %s %s: %s", method, path, err);
		return proxy__json_error(srv, wsi, 502, err);
	}
	if ((call = calloc(1, sizeof(*call))) == NULL ||
	    (call->line = malloc(LWS_PRE + strlen(line))) == NULL) {
		free(call);
		close(fd);
		return proxy__json_error(srv, wsi, 500, "out of memory");
	}
	call->len = strlen(line);
	memcpy(call->line + LWS_PRE, line, call->len);
	snprintf(call->path, sizeof(call->path), "%s", path);
	call->started = wk_now_ms();
	call->http = wsi;
	ad.vh = srv->vh;
	ad.type = LWS_ADOPT_SOCKET;
	ad.fd.sockfd = fd;
	ad.vh_prot_name = "webkvm-control";
	ad.opaque = call;
	if ((call->ctl = lws_adopt_descriptor_vhost_via_info(&ad)) == NULL) {
		api_call_free(call);
		return proxy__json_error(srv, wsi, 500, "cannot watch the control socket");
	}
	lws_set_timeout(call->ctl, PENDING_TIMEOUT_USER_OK, PROXY_CTL_TIMEOUT_S);
	lws_callback_on_writable(call->ctl);
	pss->call = call;
	return 0;
}

int
proxy__cb_control(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
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
			proxy_log(WK_LOG_WARN, "api: %s: daemon answer longer than %d bytes", call->path,
				  PROXY_CTL_LINE_MAX);
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

int
proxy__api_writeable(struct server *srv, struct lws *wsi, struct pss *pss)
{
	struct api_call *call = pss->call;
	int rc;

	if (call == NULL || call->ctl != NULL)
		return 1;
	pss->call = NULL;
	rc = api_answer(srv, wsi, call);
	api_call_free(call);
	return rc;
}

void
proxy__api_forget(struct pss *pss)
{
	if (pss->call == NULL)
		return;
	/* The client left before the daemon answered. */
	pss->call->http = NULL;
	if (pss->call->ctl == NULL)
		api_call_free(pss->call);
	pss->call = NULL;
}

int
proxy__api_post_done(struct server *srv, struct lws *wsi, struct pss *pss, char *body, size_t len)
{
	struct proxy_http_decision d;
	struct proxy_http_ctx c;
	char cookie[2048];
	int rc;

	switch (pss->post) {
	case PROXY_POST_LOGIN:
		return proxy__login_submit(srv, wsi, pss, body, len);
	case PROXY_POST_LOGOUT:
		proxy__http_ctx(srv, &c);
		proxy_http_logout(&c, proxy__hdr_get(wsi, WSI_TOKEN_HTTP_COOKIE, cookie, sizeof(cookie), NULL),
				  &d);
		free(body);
		return proxy__http_answer(srv, wsi, &d.answer);
	default:
		rc = api_finish(srv, wsi, pss, "POST", pss->api_path, body, len);
		free(body);
		return rc;
	}
}

int
proxy__api_request(struct server *srv, struct lws *wsi, struct pss *pss, const char *path,
		   const struct proxy_http_decision *d)
{
	if (d->action == PROXY_HTTP_API)
		return api_finish(srv, wsi, pss, proxy__req_method(wsi), path, NULL, 0);
	snprintf(pss->api_path, sizeof(pss->api_path), "%s",
		 strlen(path) < sizeof(pss->api_path) ? path : "/api/?");
	pss->post = d->post;
	free(pss->body.buf);
	memset(&pss->body, 0, sizeof(pss->body));
	pss->body.want = d->body_len;
	if (d->body_too_big)
		pss->body.status = 413;	/* drained, then refused */
	else if (d->body_len > 0 && (pss->body.buf = malloc(d->body_len)) == NULL)
		return proxy__json_error(srv, wsi, 500, "out of memory");
	/* Even a body of 0 bytes ends with LWS_CALLBACK_HTTP_BODY_COMPLETION:
	 * answering here too would run the request twice. */
	return 0;
}
