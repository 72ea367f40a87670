/* Static files under --web: path.c resolves the path, lws sends the file.
 * A "NAME.gz" beside NAME is sent instead to a client that takes gzip. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "proxy/server_int.h"

static bool
accepts_gzip(struct lws *wsi)
{
	char ae[256];

	if (lws_hdr_copy(wsi, ae, sizeof(ae), WSI_TOKEN_HTTP_ACCEPT_ENCODING) <= 0)
		return false;
	/* Good enough: "gzip;q=0" is never sent by browsers. */
	return strstr(ae, "gzip") != NULL;
}

/* The headers of a HEAD answer: lws_serve_http_file would send the body. */
static int
send_head(struct server *srv, struct lws *wsi, const char *mime, const struct stat *st,
	  const uint8_t *hdr, size_t hlen)
{
	uint8_t *start = srv->http + LWS_PRE, *q = start, *end = srv->http + sizeof(srv->http);

	if (lws_add_http_common_headers(wsi, 200, mime, (lws_filepos_t)st->st_size, &q, end))
		return -1;
	if ((size_t)(end - q) < hlen)
		return -1;
	memcpy(q, hdr, hlen);
	q += hlen;
	if (lws_finalize_write_http_header(wsi, start, &q, end))
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

int
proxy__serve_file(struct server *srv, struct lws *wsi, const char *uri, const struct proxy_http_decision *d)
{
	char real[PATH_MAX], gz[PATH_MAX + 4], gzreal[PATH_MAX];
	uint8_t hdr[512], *p = hdr, *end = hdr + sizeof(hdr);
	const char *method = proxy__req_method(wsi), *mime, *path, *cc;
	size_t rootlen = strlen(srv->web_root);
	bool head = d->head, is_gz = false;
	struct stat st;
	int rc;

	rc = proxy_path_resolve(srv->web_root, d->where, real, sizeof(real));
	if (rc == -EPERM || rc == -EACCES) {
		proxy_log(WK_LOG_INFO, "http: refused path \"%.200s\"", uri);
		return proxy__text_error(srv, wsi, 403, "Forbidden", head);
	}
	if (rc < 0) {
		proxy_log(WK_LOG_DEBUG, "http: %s %.200s: 404", method, uri);
		return proxy__text_error(srv, wsi, 404, "Not Found", head);
	}
	mime = proxy_mime_type(real);
	path = real;
	if (accepts_gzip(wsi) && snprintf(gz, sizeof(gz), "%s.gz", real) < (int)sizeof(gz) &&
	    realpath(gz, gzreal) != NULL && strncmp(gzreal, srv->web_root, rootlen) == 0 &&
	    gzreal[rootlen] == '/' && stat(gzreal, &st) == 0 && S_ISREG(st.st_mode)) {
		path = gzreal;
		is_gz = true;
	}
	if (stat(path, &st) < 0)
		return proxy__text_error(srv, wsi, 404, "Not Found", head);
	cc = strncmp(mime, "text/html", 9) == 0 ? "no-cache" : "max-age=3600";
	if ((is_gz && lws_add_http_header_by_name(wsi, (const uint8_t *)"content-encoding:",
						  (const uint8_t *)"gzip", 4, &p, end)) ||
	    proxy__add_hsts(wsi, &p, end) ||
	    lws_add_http_header_by_name(wsi, (const uint8_t *)"vary:",
					(const uint8_t *)"Accept-Encoding", 15, &p, end) ||
	    lws_add_http_header_by_name(wsi, (const uint8_t *)"cache-control:",
					(const uint8_t *)cc, (int)strlen(cc), &p, end))
		return -1;
	proxy_log(WK_LOG_DEBUG, "http: %s %.200s -> %s (%s%s)", method, uri, path, mime,
		  is_gz ? ", gzip" : "");
	if (head)
		return send_head(srv, wsi, mime, &st, hdr, (size_t)(p - hdr));
	rc = lws_serve_http_file(wsi, path, mime, (const char *)hdr, (int)(p - hdr));
	if (rc < 0 || (rc > 0 && lws_http_transaction_completed(wsi)))
		return -1;
	return 0;
}
