/* webkvm-proxy's event loop: the libwebsockets dispatcher, the timers and
 * signals, and proxy_run.  What each callback does is in the server_*.c
 * files (see server_int.h for the map); this file only routes. */
#include <errno.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "common/clock.h"
#include "proxy/server_int.h"

static struct server *g_srv;	/* for the signal handler */

/* ---- the HTTP / WebSocket protocol ---- */

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

		proxy__pending_del(wsi);
		proxy__req_copy(wsi, &q, upgrade ? NULL : in, upgrade ? (in ? in : "") : NULL);
		proxy__http_ctx(srv, &c);
		proxy_http_decide(&c, &q.r, &d);
		if (d.log[0] != '\0')
			proxy_log(WK_LOG_INFO, "%s", d.log);
		switch (d.action) {
		case PROXY_HTTP_UPGRADE:
			return 0;
		case PROXY_HTTP_FILE:
			return proxy__serve_file(srv, wsi, q.r.uri, &d);
		case PROXY_HTTP_API:
		case PROXY_HTTP_BODY:
			return proxy__api_request(srv, wsi, pss, q.r.uri, &d);
		default:
			if (upgrade)
				return proxy__refuse_upgrade(srv, wsi, &d.answer);
			if (d.answer.status >= 400)
				proxy_log(WK_LOG_DEBUG, "http: %s %.200s: %u", q.r.method, q.r.uri, d.answer.status);
			return proxy__http_answer(srv, wsi, &d.answer);
		}
	}
	case LWS_CALLBACK_HTTP_BODY:
		proxy_http_body_add(&pss->body, in, len);
		return 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION: {
		/* Taken out of pss first: an answer given right away ends the
		 * transaction, and lws may free pss with it. */
		struct proxy_http_body b = pss->body;
		char msg[64];

		memset(&pss->body, 0, sizeof(pss->body));
		if (b.status) {
			if (b.buf != NULL)
				explicit_bzero(b.buf, b.len);	/* it may hold a password */
			free(b.buf);
			snprintf(msg, sizeof(msg), "body larger than %d bytes", PROXY_BODY_MAX);
			return proxy__json_error(srv, wsi, (unsigned)b.status, msg);
		}
		return proxy__api_post_done(srv, wsi, pss, b.buf, b.len);
	}
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		/* The password check thread has a result (or a signal came). */
		proxy__login_pump(srv);
		return 0;
	case LWS_CALLBACK_HTTP_FILE_COMPLETION:
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
		proxy__pending_add(wsi);
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		proxy__pending_del(wsi);
		return 0;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		if (pss != NULL) {
			int rc = proxy__login_writeable(srv, wsi, pss);

			if (rc == 1)
				rc = proxy__api_writeable(srv, wsi, pss);
			if (rc != 1)
				return rc;
		}
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		proxy__pending_del(wsi);
		if (pss)
			proxy__api_forget(pss);
		if (pss && pss->login) {
			proxy__login_forget(srv, pss->login);
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
		return proxy__ws_established(srv, wsi, pss);
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (pss->conn == NULL)
			return -1;
		return proxy__ws_writeable(srv, wsi, pss->conn);
	case LWS_CALLBACK_RECEIVE:
		if (pss->conn == NULL)
			return -1;
		return proxy__ws_receive(wsi, pss->conn, in, len);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (pss->conn && len >= 2)
			proxy_log(WK_LOG_DEBUG, "#%u %s: viewer closed with code %u", pss->conn->id, pss->conn->peer,
				  ((const uint8_t *)in)[0] << 8 | ((const uint8_t *)in)[1]);
		return 0;
	case LWS_CALLBACK_CLOSED:
		if (pss->conn) {
			proxy__ws_closed(pss->conn);
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
	{ "webkvm-target", proxy__cb_target, 0, PROXY_IO_CHUNK, 0, NULL, 0 },
	{ "webkvm-control", proxy__cb_control, 0, 4096, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};


/* ---- timers, signals ---- */

static void
tick(lws_sorted_usec_list_t *sul)
{
	struct server *srv = lws_container_of(sul, struct server, tick);
	const struct proxy_options *o = srv->o;
	uint64_t t = wk_now_ms();

	if (o->heartbeat > 0) {
		for (struct conn *c = srv->conns; c; c = c->next) {
			if (c->ws && !c->close_code && t - c->last_ping >= (uint64_t)o->heartbeat * 1000) {
				c->last_ping = t;
				c->ping_due = true;
				lws_callback_on_writable(c->ws);
			}
		}
	}
	if (o->idle_timeout > 0 && srv->nconns == 0 &&
	    t - srv->idle_since >= (uint64_t)o->idle_timeout * 1000) {
		proxy_log(WK_LOG_INFO, "exiting: no connection for %d s (--idle-timeout)", o->idle_timeout);
		srv->stop = 1;
	}
	if (o->timeout > 0 && srv->nconns == 0 && t - srv->started >= (uint64_t)o->timeout * 1000) {
		proxy_log(WK_LOG_INFO, "exiting: --timeout %d s reached", o->timeout);
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

/* ---- start-up ---- */

static void
token_warn(void *ctx, const char *file, int line, const char *why)
{
	(void)ctx;
	if (line > 0)
		proxy_log(WK_LOG_WARN, "%s:%d: %s; line ignored", file, line, why);
	else
		proxy_log(WK_LOG_WARN, "%s: %s", file, why);
}

/* Reports every bad line of the users file in srv. */
static void
users_warn(const struct server *srv, const char *path)
{
	char line[PROXY_USER_MAX + PROXY_HASH_MAX + 8], name[PROXY_USER_MAX], hash[PROXY_HASH_MAX];
	const char *p = srv->users, *why;
	int lineno = 0;

	while (*p != '\0') {
		size_t len = strcspn(p, "\n");

		lineno++;
		if (len >= sizeof(line)) {
			proxy_log(WK_LOG_WARN, "%s:%d: line too long; ignored", path, lineno);
		} else {
			memcpy(line, p, len);
			line[len] = '\0';
			if (proxy_users_parse_line(line, name, sizeof(name), hash, sizeof(hash), &why) < 0)
				proxy_log(WK_LOG_WARN, "%s:%d: %s; line ignored", path, lineno, why);
		}
		p += len + (p[len] == '\n');
	}
}

/* Reads the whole users file into srv; a missing file is no users. */
static int
load_users(struct server *srv, const char *path)
{
	FILE *f = fopen(path, "r");
	struct stat st;
	size_t n;
	int e;

	if (f == NULL) {
		if (errno == ENOENT)
			return 0;
		e = errno;
		proxy_log(WK_LOG_ERROR, "--users %s: %s", path, strerror(e));
		return -e;
	}
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > 1024 * 1024) {
		proxy_log(WK_LOG_ERROR, "--users %s: not a regular file of at most 1 MiB", path);
		fclose(f);
		return -EINVAL;
	}
	if (st.st_mode & 077)
		proxy_log(WK_LOG_WARN, "%s is readable by others (mode %03o); webkvm-passwd writes it 0600",
			  path, (unsigned)(st.st_mode & 0777));
	srv->users = malloc((size_t)st.st_size + 1);
	if (srv->users == NULL) {
		fclose(f);
		return -ENOMEM;
	}
	n = fread(srv->users, 1, (size_t)st.st_size, f);
	if (ferror(f)) {
		proxy_log(WK_LOG_ERROR, "--users %s: read failed", path);
		fclose(f);
		return -EIO;
	}
	fclose(f);
	srv->users[n] = '\0';
	srv->users_len = n;
	users_warn(srv, path);
	proxy_users_find_buf(srv->users, srv->users_len, NULL, NULL, 0, &srv->nusers);
	return 0;
}

/* --user: the listening socket is bound and every file the proxy needs
 * (users, certificate) is read, so root is no longer needed. */
static int
drop_privileges(const char *name)
{
	struct passwd *pw;
	int e;

	errno = 0;
	if ((pw = getpwnam(name)) == NULL) {
		proxy_log(WK_LOG_ERROR, "--user %s: %s", name, errno ? strerror(errno) : "no such user");
		return -EINVAL;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) < 0 && geteuid() == 0) {
		e = errno;
		proxy_log(WK_LOG_ERROR, "--user %s: initgroups: %s", name, strerror(e));
		return -e;
	}
	if (setgid(pw->pw_gid) < 0) {
		e = errno;
		proxy_log(WK_LOG_ERROR, "--user %s: setgid(%u): %s", name, (unsigned)pw->pw_gid, strerror(e));
		return -e;
	}
	if (setuid(pw->pw_uid) < 0) {
		e = errno;
		proxy_log(WK_LOG_ERROR, "--user %s: setuid(%u): %s", name, (unsigned)pw->pw_uid, strerror(e));
		return -e;
	}
	/* A drop that can be undone is no drop. */
	if (pw->pw_uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		proxy_log(WK_LOG_ERROR, "--user %s: could regain root after dropping it; refusing to run", name);
		return -EPERM;
	}
	proxy_log(WK_LOG_INFO, "running as user %s (uid %u, gid %u)", name, (unsigned)pw->pw_uid, (unsigned)pw->pw_gid);
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
		proxy_log(WK_LOG_ERROR, "listen address %s: %s", a->host, gai_strerror(g));
		return -EINVAL;
	}
	g = getnameinfo(ai->ai_addr, ai->ai_addrlen, out, (socklen_t)outlen, NULL, 0, NI_NUMERICHOST);
	freeaddrinfo(ai);
	if (g != 0) {
		proxy_log(WK_LOG_ERROR, "listen address %s: %s", a->host, gai_strerror(g));
		return -EINVAL;
	}
	return 0;
}


/* The checks of the command line that need the file system.  0 or -1
 * (said why). */
static int
check_files(struct server *srv)
{
	const struct proxy_options *o = srv->o;
	struct stat st;

	if (o->web != NULL) {
		if (realpath(o->web, srv->web_root) == NULL || stat(srv->web_root, &st) < 0) {
			proxy_log(WK_LOG_ERROR, "--web %s: %s", o->web, strerror(errno));
			return -1;
		}
		if (!S_ISDIR(st.st_mode)) {
			proxy_log(WK_LOG_ERROR, "--web %s: not a directory", o->web);
			return -1;
		}
	}
	if (o->token_source != NULL) {
		int rc = proxy_token_lookup(o->token_source, NULL, NULL, token_warn, NULL);

		if (rc < 0) {
			proxy_log(WK_LOG_ERROR, "--token-source %s: %s", o->token_source, strerror(-rc));
			return -1;
		}
	}
	return 0;
}

/* The users file, and whether a server without users may listen where it
 * was asked to.  0 or -1 (said why). */
static int
setup_users(struct server *srv)
{
	const struct proxy_options *o = srv->o;
	const char *path = o->users ? o->users : PROXY_USERS_DEFAULT;
	char why[512];

	if (o->auth != PROXY_AUTH_DEFAULT)
		return 0;
	if (load_users(srv, path) < 0)
		return -1;
	srv->sessions.idle = o->session_idle * 1000LL;
	srv->sessions.max = o->session_max * 1000LL;
	if (srv->nusers > 0)
		return 0;
	if (proxy_listen_check(o, srv->nusers, NULL, why, sizeof(why)) < 0) {
		proxy_log(WK_LOG_ERROR, "%s", why);
		return -1;
	}
	proxy_log(WK_LOG_WARN, "no users are configured; add one with: webkvm-passwd add --file %s NAME; "
		  "every login is refused until then", path);
	return 0;
}

/* The certificate: --cert, or the self-signed one of --tls.  0 or -1. */
static int
setup_cert(struct server *srv)
{
	const struct proxy_options *o = srv->o;
	const char *dir = o->state_dir ? o->state_dir : PROXY_STATE_DIR_DEFAULT;
	char err[400];
	int rc;

	if (o->cert != NULL) {
		snprintf(srv->cert, sizeof(srv->cert), "%s", o->cert);
		snprintf(srv->key, sizeof(srv->key), "%s", o->key ? o->key : o->cert);
		return 0;
	}
	if (!o->tls)
		return 0;
	rc = proxy_tls_selfsigned(dir, srv->cert, sizeof(srv->cert), srv->key, sizeof(srv->key),
				  err, sizeof(err));
	if (rc < 0) {
		proxy_log(WK_LOG_ERROR, "--tls: %s", err);
		return -1;
	}
	proxy_log(WK_LOG_INFO, "%s self-signed certificate %s", rc == 1 ? "made a" : "using the", srv->cert);
	return 0;
}

/* lws's settings for the listening socket.  iface (of ifacelen) holds the
 * address it listens on.  0 or -1 (said why). */
static int
context_info(struct server *srv, struct lws_context_creation_info *ci, char *iface, size_t ifacelen)
{
	const struct proxy_options *o = srv->o;
	char why[512];

	memset(ci, 0, sizeof(*ci));
	ci->port = o->listen.port;
	if (o->listen.host[0] != '\0') {
		if (listen_iface(&o->listen, iface, ifacelen) < 0)
			return -1;
		/* The name passed the command line's check; the address it
		 * resolved to must pass it too. */
		if (proxy_listen_check(o, srv->nusers, iface, why, sizeof(why)) < 0) {
			proxy_log(WK_LOG_ERROR, "%s", why);
			return -1;
		}
		ci->iface = iface;
		if (strchr(iface, ':') == NULL)
			ci->options |= LWS_SERVER_OPTION_DISABLE_IPV6;
	}
	ci->protocols = protocols;
	ci->user = srv;
	ci->pt_serv_buf_size = PROXY_IO_CHUNK;
	ci->max_http_header_data = PROXY_HEADER_MAX;
	ci->timeout_secs = 20;
	ci->alpn = "http/1.1";
	ci->vhost_name = "webkvm";
	if (o->tls) {
		ci->options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		ci->ssl_cert_filepath = srv->cert;
		ci->ssl_private_key_filepath = srv->key;
		/* TLS 1.2 is the floor: 1.0 and 1.1 are deprecated (RFC 8996). */
		ci->ssl_options_set = SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1;
		/* websockify answers TLS and plain HTTP on one port. */
		if (!o->ssl_only)
			ci->options |= LWS_SERVER_OPTION_ALLOW_NON_SSL_ON_SSL_PORT |
				       LWS_SERVER_OPTION_ALLOW_HTTP_ON_HTTPS_LISTENER;
		else
			ci->options |= LWS_SERVER_OPTION_ALLOW_NON_SSL_ON_SSL_PORT |
				       LWS_SERVER_OPTION_REDIRECT_HTTP_TO_HTTPS;
	}
	return 0;
}

static void
log_start(const struct server *srv)
{
	const struct proxy_options *o = srv->o;
	char tgt[PROXY_HOST_MAX + 32];
	bool v6 = strchr(o->listen.host, ':') != NULL;

	if (o->unix_target)
		snprintf(tgt, sizeof(tgt), "unix:%s", o->unix_target);
	else if (o->token_source)
		snprintf(tgt, sizeof(tgt), "tokens in %s", o->token_source);
	else
		snprintf(tgt, sizeof(tgt), strchr(o->target.host, ':') ? "[%s]:%d" : "%s:%d",
			 o->target.host, o->target.port);
	proxy_log(WK_LOG_INFO, "listening on %s%s%s:%d%s, bridging to %s", v6 ? "[" : "",
		  o->listen.host[0] ? o->listen.host : "*", v6 ? "]" : "", o->listen.port,
		  o->tls ? (o->ssl_only ? " (TLS only)" : " (TLS or plain)") : "", tgt);
	if (o->web)
		proxy_log(WK_LOG_INFO, "serving %s", srv->web_root);
	if (o->auth == PROXY_AUTH_DEFAULT)
		proxy_log(WK_LOG_INFO, "login required: %d user%s in %s", srv->nusers,
			  srv->nusers == 1 ? "" : "s", o->users ? o->users : PROXY_USERS_DEFAULT);
	else
		proxy_log(WK_LOG_INFO, "--auth none: no login; anyone who reaches this port controls the target");
}

/* ---- main loop ---- */

int
proxy_run(const struct proxy_options *o)
{
	static struct server srv;	/* large buffers; one per process */
	struct lws_context_creation_info ci;
	char iface[INET6_ADDRSTRLEN + 8];
	struct sigaction sa;
	bool ran = false;
	int rc = 2;		/* a bad setting */

	memset(&srv, 0, sizeof(srv));
	srv.o = o;
	proxy__verifier_init(&srv);
	lws_set_log_level(LLL_ERR | (wk_log_on(WK_LOG_DEBUG) ? LLL_WARN : 0), proxy__lws_emit);
	if (check_files(&srv) < 0 || setup_users(&srv) < 0 || setup_cert(&srv) < 0 ||
	    context_info(&srv, &ci, iface, sizeof(iface)) < 0)
		goto out;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	rc = 1;			/* from here on, a failure to run */
	srv.ctx = lws_create_context(&ci);
	if (srv.ctx == NULL) {
		bool v6 = strchr(o->listen.host, ':') != NULL;

		proxy_log(WK_LOG_ERROR, "cannot listen on %s%s%s:%d (see the lws line above)", v6 ? "[" : "",
			  o->listen.host[0] ? o->listen.host : "*", v6 ? "]" : "", o->listen.port);
		goto out;
	}
	srv.vh = lws_get_vhost_by_name(srv.ctx, "webkvm");
	if (srv.vh == NULL) {
		proxy_log(WK_LOG_ERROR, "internal: no vhost");
		goto out;
	}
	if (o->run_as != NULL && drop_privileges(o->run_as) < 0)
		goto out;
	if (o->auth == PROXY_AUTH_DEFAULT && proxy__verifier_start(&srv) < 0)
		goto out;
	g_srv = &srv;
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	srv.started = srv.idle_since = wk_now_ms();
	lws_sul_schedule(srv.ctx, 0, &srv.tick, tick, LWS_US_PER_SEC);
	log_start(&srv);
	ran = true;
	rc = 0;
	while (!srv.stop) {
		if (lws_service(srv.ctx, 0) < 0) {
			proxy_log(WK_LOG_ERROR, "lws_service failed; exiting");
			rc = 1;
			break;
		}
	}
	lws_sul_schedule(srv.ctx, 0, &srv.tick, NULL, LWS_SET_TIMER_USEC_CANCEL);
out:
	g_srv = NULL;
	proxy__verifier_stop(&srv);
	if (srv.ctx != NULL)
		lws_context_destroy(srv.ctx);
	proxy__verifier_free(&srv);
	proxy__pending_free();
	free(srv.users);
	if (ran)
		proxy_log(WK_LOG_INFO, "stopped");
	return rc;
}
