/* Requests and small answers: the headers http.c decides on, copied out of
 * lws, and the whole small HTTP answers the other files send. */
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "common/clock.h"
#include "proxy/server_int.h"

/* ---- answers ---- */

/* HSTS on every answer over TLS: a browser that once reached us over
 * https never falls back to plain http for a year. */
int
proxy__add_hsts(struct lws *wsi, uint8_t **p, uint8_t *end)
{
	static const char v[] = "max-age=31536000";

	if (!lws_is_ssl(wsi))
		return 0;
	return lws_add_http_header_by_name(wsi, (const uint8_t *)"strict-transport-security:",
					   (const uint8_t *)v, (int)sizeof(v) - 1, p, end);
}

/* Writes a whole small response (headers and body).  Returns 0 or -1.
 * hdrs: extra headers, NULL-terminated "name:", value pairs (may be NULL). */
static int
http_send_hdrs(struct server *srv, struct lws *wsi, unsigned status, const char *ctype,
	       const char *body, size_t len, bool head, const char *const *hdrs)
{
	uint8_t *start = srv->http + LWS_PRE, *p = start, *end = srv->http + sizeof(srv->http);

	if (lws_add_http_common_headers(wsi, status, ctype, len, &p, end) ||
	    lws_add_http_header_by_name(wsi, (const uint8_t *)"cache-control:",
					(const uint8_t *)"no-store", 8, &p, end) ||
	    proxy__add_hsts(wsi, &p, end))
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

/* http_send_hdrs without extra headers, then ends the transaction. */
int
proxy__http_reply(struct server *srv, struct lws *wsi, unsigned status, const char *ctype,
		  const char *body, size_t len, bool head)
{
	if (http_send_hdrs(srv, wsi, status, ctype, body, len, head, NULL) < 0)
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* Sends a, then ends the transaction, or hangs up when a says so. */
int
proxy__http_answer(struct server *srv, struct lws *wsi, const struct proxy_http_answer *a)
{
	const char *hdrs[] = { a->hdr, a->hdr_value, NULL };

	if (http_send_hdrs(srv, wsi, a->status, a->ctype, a->body, a->len, a->head,
			   a->hdr ? hdrs : NULL) < 0 || a->close)
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

int
proxy__json_error(struct server *srv, struct lws *wsi, unsigned status, const char *msg)
{
	struct proxy_http_answer a = { 0 };

	proxy_http_json_error(&a, status, msg);
	return proxy__http_answer(srv, wsi, &a);
}

int
proxy__text_error(struct server *srv, struct lws *wsi, unsigned status, const char *msg, bool head)
{
	struct proxy_http_answer a = { 0 };

	proxy_http_text(&a, status, msg, head);
	return proxy__http_answer(srv, wsi, &a);
}

int
proxy__refuse_upgrade(struct server *srv, struct lws *wsi, const struct proxy_http_answer *a)
{
	if (http_send_hdrs(srv, wsi, a->status, a->ctype, a->body, a->len, false, NULL) < 0)
		return -1;
	return 1;
}

/* ---- requests: headers out of lws, decision in http.c ---- */

const char *
proxy__req_method(struct lws *wsi)
{
	if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI))
		return "GET";
	if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI))
		return "POST";
	if (lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI))
		return "HEAD";
	return "OTHER";
}

void
proxy__peer_name(struct lws *wsi, char *out, size_t outlen)
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

void
proxy__peer_ip(struct lws *wsi, char *out, size_t outlen)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getpeername(lws_get_socket_fd(wsi), (struct sockaddr *)&ss, &len) < 0 ||
	    getnameinfo((struct sockaddr *)&ss, len, out, (socklen_t)outlen, NULL, 0, NI_NUMERICHOST) != 0)
		lws_get_peer_simple(wsi, out, outlen);
}

const char *
proxy__hdr_get(struct lws *wsi, enum lws_token_indexes t, char *buf, size_t len, bool *toolong)
{
	int n = lws_hdr_copy(wsi, buf, (int)len, t);

	if (n < 0) {
		if (toolong)
			*toolong = true;
		return NULL;
	}
	return n == 0 ? NULL : buf;
}

void
proxy__req_copy(struct lws *wsi, struct req_copy *q, const char *uri, const char *upgrade)
{
	struct proxy_http_req *r = &q->r;
	const char *tok;

	memset(r, 0, sizeof(*r));
	r->method = proxy__req_method(wsi);
	if (uri == NULL)
		uri = proxy__hdr_get(wsi, WSI_TOKEN_GET_URI, q->uri, sizeof(q->uri), NULL);
	r->uri = uri ? uri : "/";
	r->upgrade = upgrade;
	if (upgrade != NULL) {
		r->ws_version = proxy__hdr_get(wsi, WSI_TOKEN_VERSION, q->version, sizeof(q->version), NULL);
		r->ws_key = proxy__hdr_get(wsi, WSI_TOKEN_KEY, q->key, sizeof(q->key), NULL);
		r->ws_protocol = proxy__hdr_get(wsi, WSI_TOKEN_PROTOCOL, q->prot, sizeof(q->prot),
						&r->ws_protocol_long);
		/* lws leaves "token=" in the buffer and points past it. */
		tok = lws_get_urlarg_by_name(wsi, "token=", q->token, sizeof(q->token));
		r->token = tok && *tok ? tok : NULL;
	}
	r->origin = proxy__hdr_get(wsi, WSI_TOKEN_ORIGIN, q->origin, sizeof(q->origin), &r->origin_long);
	r->host = proxy__hdr_get(wsi, WSI_TOKEN_HOST, q->host, sizeof(q->host), NULL);
	r->cookie = proxy__hdr_get(wsi, WSI_TOKEN_HTTP_COOKIE, q->cookie, sizeof(q->cookie), NULL);
	r->content_length = proxy__hdr_get(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, q->cl, sizeof(q->cl), NULL);
	r->tls = lws_is_ssl(wsi) != 0;
	proxy__peer_name(wsi, q->peer, sizeof(q->peer));
	proxy__peer_ip(wsi, q->ip, sizeof(q->ip));
	r->peer = q->peer;
	r->ip = q->ip;
}

void
proxy__http_ctx(struct server *srv, struct proxy_http_ctx *c)
{
	c->o = srv->o;
	c->sessions = &srv->sessions;
	c->rate = &srv->rate;
	c->now = (long long)wk_now_ms();
	c->web = srv->web_root[0] != '\0';
	c->users = srv->users;
	c->users_len = srv->users_len;
	c->nusers = srv->nusers;
}
