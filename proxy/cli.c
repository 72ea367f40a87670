/* websockify's command line, and the rules for where the proxy may listen. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/hostport.h"
#include "common/parse.h"
#include "proxy/proxy.h"

void
proxy_cli_usage(FILE *f)
{
	fprintf(f,
"usage: webkvm-proxy [options] [source_addr:]source_port [target_addr:target_port]\n"
"\n"
"A websockify-compatible WebSocket <-> TCP bridge that serves the web UI.\n"
"  source_addr:source_port  where to listen; a bare port listens on every\n"
"                           address (IPv4 and IPv6); IPv6 as [::1]:6080\n"
"  target_addr:target_port  the RFB server to bridge to\n"
"\n"
"options:\n"
"  --web DIR                serve static files from DIR\n"
"  --cert FILE              TLS certificate (PEM); enables TLS\n"
"  --key FILE               TLS private key (if not in --cert)\n"
"  --ssl-only               TLS only: plain HTTP is redirected to https://\n"
"  --tls                    TLS without --cert: a self-signed certificate is\n"
"                           made on first start and kept in the state dir\n"
"  --state-dir DIR          where it is kept (default " PROXY_STATE_DIR_DEFAULT ")\n"
"  --token-plugin TokenFile --token-source FILE_OR_DIR\n"
"                           route by token (?token= or the token cookie);\n"
"                           lines 'token: host:port'\n"
"  --unix-target PATH       bridge to a Unix socket instead of TCP\n"
"  --idle-timeout SECS      exit after SECS without any connection\n"
"  --timeout SECS           stop listening SECS after start (exit when idle)\n"
"  --heartbeat SECS         send a WebSocket ping every SECS\n"
"  --sndbuf BYTES           each viewer socket's send buffer, 4096..67108864\n"
"                           (default: the kernel sizes it); a small one keeps\n"
"                           less stale video queued on a slow link\n"
"  --control PATH           the daemon's control socket, for /api/\n"
"  --auth none              no login (only with a loopback listen address)\n"
"  --users FILE             users file (default " PROXY_USERS_DEFAULT "), written\n"
"                           by webkvm-passwd; login is on by default\n"
"  --session-idle SECS      end a session unused this long (default 1800)\n"
"  --session-max SECS       end a session this long after login (default 43200)\n"
"  --allow-origin URL       also accept WebSocket upgrades and API calls from\n"
"                           this Origin (scheme://host[:port]); repeatable\n"
"  --user NAME              drop to this user after binding the port\n"
"  --verbose, -v            log every connection\n"
"  --help, -h               this text\n");
}

static int
fail(char *err, size_t errlen, const char *fmt, const char *arg)
{
	snprintf(err, errlen, fmt, arg);
	return -EINVAL;
}

int
proxy_addr_parse(const char *s, bool allow_bare_port, struct proxy_addr *a,
		 char *err, size_t errlen)
{
	struct wk_hostport hp;
	char why[320];

	memset(a, 0, sizeof(*a));
	if (wk_hostport_parse(s, allow_bare_port ? WK_HOSTPORT_BARE_PORT : 0, &hp, why, sizeof(why)) < 0) {
		/* websockify's users know the port as the thing they got wrong. */
		if (strstr(why, "want a port") != NULL)
			return fail(err, errlen, "bad port in \"%.200s\": want 1..65535", s);
		snprintf(err, errlen, "%s", why);
		return -EINVAL;
	}
	_Static_assert(sizeof(a->host) >= sizeof(hp.host), "proxy_addr holds any host");
	memcpy(a->host, hp.host, sizeof(hp.host));
	a->port = hp.port;
	return 0;
}

int
proxy_listen_check(const struct proxy_options *o, int nusers, const char *resolved,
		   char *err, size_t errlen)
{
	const char *host = resolved ? resolved : o->listen.host;
	bool v6 = strchr(o->listen.host, ':') != NULL;
	char where[PROXY_HOST_MAX * 2 + 80];

	if (o->auth == PROXY_AUTH_DEFAULT && nusers > 0)
		return 0;
	if (host[0] != '\0' && wk_host_is_loopback(host))
		return 0;
	if (o->auth == PROXY_AUTH_NONE) {
		if (resolved != NULL)
			snprintf(err, errlen, "--auth none: %s resolves to %s, which is not a loopback address",
				 o->listen.host, resolved);
		else
			snprintf(err, errlen, "--auth none is allowed only on a loopback listen address "
				 "(e.g. 127.0.0.1:%d)", o->listen.port);
		return -EPERM;
	}
	snprintf(where, sizeof(where), "%s%s%s:%d", v6 ? "[" : "", o->listen.host[0] ? o->listen.host : "*",
		 v6 ? "]" : "", o->listen.port);
	if (resolved != NULL) {
		size_t n = strlen(where);

		snprintf(where + n, sizeof(where) - n, " (%s, not a loopback address)", resolved);
	}
	/* No default password exists: on a reachable address a server without
	 * users would be useless at best. */
	snprintf(err, errlen, "refusing to listen on %s: no users are configured; add one with: "
		 "webkvm-passwd add --file %s NAME", where, o->users ? o->users : PROXY_USERS_DEFAULT);
	return -EPERM;
}

static int
parse_secs(const char *name, const char *s, int *out, char *err, size_t errlen)
{
	if (wk_parse_int(s, 0, 86400 * 365, out) < 0) {
		snprintf(err, errlen, "%s: bad number of seconds \"%.100s\"", name, s);
		return -EINVAL;
	}
	return 0;
}

/* Options that take a value, as "--opt value" or "--opt=value". */
enum opt_id { O_WEB, O_CERT, O_KEY, O_TOKEN_PLUGIN, O_TOKEN_SOURCE, O_UNIX_TARGET,
	      O_IDLE, O_HEARTBEAT, O_TIMEOUT, O_CONTROL, O_AUTH, O_USERS, O_SESSION_IDLE,
	      O_SESSION_MAX, O_ALLOW_ORIGIN, O_RUN_AS, O_STATE_DIR, O_SNDBUF };
static const struct { const char *name; enum opt_id id; } value_opts[] = {
	{ "--web", O_WEB }, { "--cert", O_CERT }, { "--key", O_KEY },
	{ "--token-plugin", O_TOKEN_PLUGIN }, { "--token-source", O_TOKEN_SOURCE },
	{ "--unix-target", O_UNIX_TARGET }, { "--idle-timeout", O_IDLE },
	{ "--heartbeat", O_HEARTBEAT }, { "--timeout", O_TIMEOUT },
	{ "--control", O_CONTROL }, { "--auth", O_AUTH }, { "--users", O_USERS },
	{ "--session-idle", O_SESSION_IDLE }, { "--session-max", O_SESSION_MAX },
	{ "--allow-origin", O_ALLOW_ORIGIN }, { "--user", O_RUN_AS }, { "--state-dir", O_STATE_DIR },
	{ "--sndbuf", O_SNDBUF },
};

static int
set_value(struct proxy_options *o, enum opt_id id, const char *name, const char *v,
	  const char **plugin, char *err, size_t errlen)
{
	if (*v == '\0' && id != O_AUTH)
		return fail(err, errlen, "%s: empty value", name);
	switch (id) {
	case O_WEB: o->web = v; break;
	case O_CERT: o->cert = v; break;
	case O_KEY: o->key = v; break;
	case O_TOKEN_PLUGIN: *plugin = v; break;
	case O_TOKEN_SOURCE: o->token_source = v; break;
	case O_UNIX_TARGET: o->unix_target = v; break;
	case O_CONTROL: o->control = v; break;
	case O_IDLE: return parse_secs(name, v, &o->idle_timeout, err, errlen);
	case O_HEARTBEAT: return parse_secs(name, v, &o->heartbeat, err, errlen);
	case O_TIMEOUT: return parse_secs(name, v, &o->timeout, err, errlen);
	case O_USERS: o->users = v; break;
	case O_RUN_AS: o->run_as = v; break;
	case O_STATE_DIR: o->state_dir = v; break;
	case O_SNDBUF:
		if (wk_parse_int(v, 4096, 64 << 20, &o->sndbuf) < 0)
			return fail(err, errlen, "--sndbuf: want a number of bytes from 4096 to 67108864, "
				    "not \"%.100s\"", v);
		break;
	case O_SESSION_IDLE:
	case O_SESSION_MAX: {
		int *t = id == O_SESSION_IDLE ? &o->session_idle : &o->session_max;

		if (parse_secs(name, v, t, err, errlen) < 0)
			return -EINVAL;
		if (*t < 1)
			return fail(err, errlen, "%s: must be at least 1 second", name);
		break;
	}
	case O_ALLOW_ORIGIN:
		if (o->n_allow_origin == PROXY_ORIGINS_MAX)
			return fail(err, errlen, "--allow-origin: at most 8%s", "");
		if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
			return fail(err, errlen, "--allow-origin: \"%.200s\" is not http://... or https://...", v);
		o->allow_origin[o->n_allow_origin++] = v;
		break;
	case O_AUTH:
		if (strcmp(v, "none") != 0)
			return fail(err, errlen, "--auth: unknown mode \"%.100s\" (this build knows only \"none\")", v);
		o->auth = PROXY_AUTH_NONE;
		break;
	}
	return 0;
}

int
proxy_cli_parse(int argc, char **argv, struct proxy_options *o, char *err, size_t errlen)
{
	const char *pos[2] = { NULL, NULL };
	const char *plugin = NULL;
	int npos = 0, rc;
	bool only_pos = false;

	memset(o, 0, sizeof(*o));
	o->session_idle = PROXY_SESSION_IDLE_DEFAULT;
	o->session_max = PROXY_SESSION_MAX_DEFAULT;
	snprintf(err, errlen, "no error");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		size_t k;

		if (only_pos || a[0] != '-' || a[1] == '\0') {
			if (npos == 2)
				return fail(err, errlen, "unexpected argument \"%.200s\" (wrapping a program is not supported)", a);
			pos[npos++] = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			only_pos = true;
			continue;
		}
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			proxy_cli_usage(stdout);
			return 1;
		}
		if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0) {
			o->verbose = true;
			continue;
		}
		if (strcmp(a, "--ssl-only") == 0) {
			o->ssl_only = true;
			continue;
		}
		if (strcmp(a, "--tls") == 0) {
			o->tls = true;
			continue;
		}
		for (k = 0; k < sizeof(value_opts) / sizeof(value_opts[0]); k++) {
			size_t n = strlen(value_opts[k].name);

			if (strncmp(a, value_opts[k].name, n) == 0 && (a[n] == '\0' || a[n] == '='))
				break;
		}
		if (k == sizeof(value_opts) / sizeof(value_opts[0]))
			return fail(err, errlen, "unknown option \"%.200s\" (see --help)", a);
		{
			const char *name = value_opts[k].name;
			size_t n = strlen(name);
			const char *v;

			if (a[n] == '=') {
				v = a + n + 1;
			} else {
				if (i + 1 >= argc)
					return fail(err, errlen, "%s needs a value", name);
				v = argv[++i];
			}
			if ((rc = set_value(o, value_opts[k].id, name, v, &plugin, err, errlen)) < 0)
				return rc;
		}
	}

	if (npos == 0)
		return fail(err, errlen, "missing [source_addr:]source_port%s (see --help)", "");
	if ((rc = proxy_addr_parse(pos[0], true, &o->listen, err, errlen)) < 0)
		return rc;
	if (npos == 2) {
		if ((rc = proxy_addr_parse(pos[1], false, &o->target, err, errlen)) < 0)
			return rc;
		o->has_target = true;
	}
	if (plugin != NULL) {
		/* websockify names it by Python path; accept both spellings. */
		const char *base = strrchr(plugin, '.');

		base = base ? base + 1 : plugin;
		if (strcmp(base, "TokenFile") != 0 && strcmp(base, "ReadOnlyTokenFile") != 0)
			return fail(err, errlen, "--token-plugin: \"%.200s\" is not supported (only TokenFile)", plugin);
		if (o->token_source == NULL)
			return fail(err, errlen, "--token-plugin needs --token-source FILE_OR_DIR%s", "");
	} else if (o->token_source != NULL) {
		return fail(err, errlen, "--token-source needs --token-plugin TokenFile%s", "");
	}
	{
		int targets = o->has_target + (o->unix_target != NULL) + (o->token_source != NULL);

		if (targets == 0)
			return fail(err, errlen, "no target: give target_addr:target_port, --unix-target or --token-plugin%s", "");
		if (targets > 1)
			return fail(err, errlen, "give only one of target_addr:target_port, --unix-target and --token-plugin%s", "");
	}
	if (o->key != NULL && o->cert == NULL)
		return fail(err, errlen, "--key needs --cert%s", "");
	/* --ssl-only without a certificate means the self-signed one. */
	if (o->ssl_only)
		o->tls = true;
	if (o->cert != NULL)
		o->tls = true;
	if (o->auth == PROXY_AUTH_NONE)
		return proxy_listen_check(o, 0, NULL, err, errlen) < 0 ? -EINVAL : 0;
	return 0;
}
