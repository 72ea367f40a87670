/* Login: the users file, argon2id checks, the session table, the failed
 * login rate limit and the Origin check.  No libwebsockets here: server.c
 * calls these with what it read from the request, so they are unit-tested
 * and fuzzed on their own.  Times are monotonic milliseconds passed in by
 * the caller, for the same reason. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <argon2.h>

#include "common/json.h"
#include "proxy/proxy.h"

/* ---- users file ---- */

bool
proxy_user_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= PROXY_USER_MAX || name[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

int
proxy_users_parse_line(const char *line, char *name, size_t namelen,
		       char *hash, size_t hashlen, const char **why)
{
	const char *colon, *h;
	size_t n, hl;

	while (*line == ' ' || *line == '\t')
		line++;
	if (*line == '\0' || *line == '\n' || *line == '#')
		return 0;
	colon = strchr(line, ':');
	if (colon == NULL) {
		*why = "want name:$argon2id$...";
		return -EINVAL;
	}
	n = (size_t)(colon - line);
	if (n == 0 || n >= namelen || n >= PROXY_USER_MAX) {
		*why = "empty or long user name";
		return -EINVAL;
	}
	memcpy(name, line, n);
	name[n] = '\0';
	if (!proxy_user_name_ok(name)) {
		*why = "bad character in user name";
		return -EINVAL;
	}
	h = colon + 1;
	hl = strcspn(h, "\r\n");
	if (hl < 10 || strncmp(h, "$argon2id$", 10) != 0) {
		*why = "not an argon2id hash (write it with webkvm-passwd)";
		return -EINVAL;
	}
	if (hl >= hashlen || hl >= PROXY_HASH_MAX) {
		*why = "hash too long";
		return -EINVAL;
	}
	for (size_t i = 0; i < hl; i++) {
		if ((unsigned char)h[i] <= ' ' || (unsigned char)h[i] >= 0x7f) {
			*why = "bad character in hash";
			return -EINVAL;
		}
	}
	memcpy(hash, h, hl);
	hash[hl] = '\0';
	return 1;
}

int
proxy_users_find_buf(const char *buf, size_t len, const char *user,
		     char *hash, size_t hashlen, int *nusers)
{
	char line[PROXY_USER_MAX + PROXY_HASH_MAX + 8], name[PROXY_USER_MAX], h[PROXY_HASH_MAX];
	size_t i = 0;
	int found = 0, count = 0;

	while (i < len) {
		size_t start = i, n;
		const char *why;

		while (i < len && buf[i] != '\n')
			i++;
		n = i - start;
		i++;
		/* Too long for any valid line, or binary: not an entry. */
		if (n >= sizeof(line) || memchr(buf + start, '\0', n) != NULL)
			continue;
		memcpy(line, buf + start, n);
		line[n] = '\0';
		if (proxy_users_parse_line(line, name, sizeof(name), h, sizeof(h), &why) != 1)
			continue;
		count++;
		if (!found && user != NULL && strcmp(name, user) == 0) {
			if (strlen(h) >= hashlen)
				continue;
			strcpy(hash, h);
			found = 1;
		}
	}
	if (nusers)
		*nusers = count;
	return found;
}

int
proxy_password_verify(const char *hash, const char *password)
{
	int rc = argon2id_verify(hash, password, strlen(password));

	if (rc == ARGON2_OK)
		return 0;
	return rc == ARGON2_DECODING_FAIL ? -EINVAL : -EACCES;
}

/* ---- login body ---- */

int
proxy_login_parse(const char *body, size_t len, char *user, size_t userlen,
		  char *password, size_t passlen, char *err, size_t errlen)
{
	static const char *const names[] = { "user", "password", NULL };
	const char *u, *pw;
	size_t ul, pwl = 0;
	json_t *o;
	int rc = -EINVAL;

	if ((o = wk_json_parse_object(body, len, err, errlen)) == NULL)
		return -EINVAL;
	pw = NULL;
	if (wk_json_only(o, names, NULL, 0) < 0 ||
	    wk_json_get_str(o, "user", true, &u, &ul, NULL, 0) < 0 ||
	    wk_json_get_str(o, "password", true, &pw, &pwl, NULL, 0) < 0) {
		snprintf(err, errlen, "want {\"user\":\"...\",\"password\":\"...\"}");
		goto out;
	}
	if (ul >= userlen || pwl >= passlen) {
		snprintf(err, errlen, "\"%s\" too long", ul >= userlen ? "user" : "password");
		goto out;
	}
	memcpy(user, u, ul + 1);
	memcpy(password, pw, pwl + 1);
	rc = 0;
out:
	/* jansson frees without wiping: the password's copy is wiped here. */
	if (pw != NULL)
		explicit_bzero((char *)pw, pwl);
	json_decref(o);
	return rc;
}

int
proxy_cookie_value(const char *cookie, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);
	const char *p = cookie;

	while (*p != '\0') {
		const char *end;

		while (*p == ' ' || *p == '\t' || *p == ';')
			p++;
		end = strchr(p, ';');
		if (end == NULL)
			end = p + strlen(p);
		if ((size_t)(end - p) > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
			const char *v = p + nl + 1;
			size_t n = (size_t)(end - v);

			while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
				n--;
			if (n >= outlen)
				return -ENAMETOOLONG;
			memcpy(out, v, n);
			out[n] = '\0';
			return 1;
		}
		p = end;
	}
	return 0;
}

/* ---- sessions ---- */

/* Constant time over the whole id: no early exit tells an attacker how
 * many leading characters of a guess were right. */
static bool
id_equal(const char *a, const char *b)
{
	unsigned char d = 0;

	for (size_t i = 0; i < PROXY_SESSION_ID_LEN; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

static bool
id_wellformed(const char *id)
{
	size_t n = strnlen(id, PROXY_SESSION_ID_LEN + 1);

	if (n != PROXY_SESSION_ID_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	return true;
}

static bool
expired(const struct proxy_sessions *t, const struct proxy_session *s, long long now)
{
	return now - s->used >= t->idle || now - s->created >= t->max;
}

int
proxy_session_new(struct proxy_sessions *t, const char *user, long long now,
		  char id[PROXY_SESSION_ID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char rnd[PROXY_SESSION_ID_LEN / 2];
	struct proxy_session *slot = NULL;
	ssize_t n;

	if (strlen(user) >= PROXY_USER_MAX)
		return -EINVAL;
	n = getrandom(rnd, sizeof(rnd), 0);
	if (n != (ssize_t)sizeof(rnd))
		return n < 0 ? -errno : -EIO;
	for (size_t i = 0; i < sizeof(rnd); i++) {
		id[2 * i] = hex[rnd[i] >> 4];
		id[2 * i + 1] = hex[rnd[i] & 15];
	}
	id[PROXY_SESSION_ID_LEN] = '\0';
	for (int i = 0; i < PROXY_SESSIONS_MAX; i++) {
		struct proxy_session *s = &t->s[i];

		if (s->id[0] != '\0' && expired(t, s, now))
			s->id[0] = '\0';
		if (s->id[0] == '\0') {
			if (slot == NULL || slot->id[0] != '\0')
				slot = s;
		} else if (slot == NULL || (slot->id[0] != '\0' && s->used < slot->used)) {
			slot = s;
		}
	}
	memcpy(slot->id, id, sizeof(slot->id));
	snprintf(slot->user, sizeof(slot->user), "%s", user);
	slot->created = slot->used = now;
	return 0;
}

const struct proxy_session *
proxy_session_get(struct proxy_sessions *t, const char *id, long long now)
{
	struct proxy_session *hit = NULL;

	if (!id_wellformed(id))
		return NULL;
	for (int i = 0; i < PROXY_SESSIONS_MAX; i++) {
		struct proxy_session *s = &t->s[i];

		if (s->id[0] == '\0')
			continue;
		if (expired(t, s, now)) {
			s->id[0] = '\0';
			continue;
		}
		if (id_equal(s->id, id))
			hit = s;
	}
	if (hit)
		hit->used = now;
	return hit;
}

int
proxy_session_end(struct proxy_sessions *t, const char *id)
{
	int found = 0;

	if (!id_wellformed(id))
		return 0;
	for (int i = 0; i < PROXY_SESSIONS_MAX; i++) {
		if (t->s[i].id[0] != '\0' && id_equal(t->s[i].id, id)) {
			t->s[i].id[0] = '\0';
			found = 1;
		}
	}
	return found;
}

/* ---- failed login rate limit ---- */

/* "" marks a free slot: a client whose address could not be read is
 * counted under a key of its own instead of never being counted. */
static const char *
rate_key(const char *addr)
{
	return addr[0] != '\0' ? addr : "?";
}

static int
rate_find(const struct proxy_ratelimit *rl, const char *addr)
{
	addr = rate_key(addr);
	for (int i = 0; i < PROXY_RATE_MAX; i++)
		if (rl->r[i].addr[0] != '\0' && strcmp(rl->r[i].addr, addr) == 0)
			return i;
	return -1;
}

int
proxy_rate_wait(const struct proxy_ratelimit *rl, const char *addr, long long now)
{
	int i = rate_find(rl, addr);

	if (i < 0 || rl->r[i].until <= now)
		return 0;
	return (int)((rl->r[i].until - now + 999) / 1000);
}

int
proxy_rate_fail(struct proxy_ratelimit *rl, const char *addr, long long now)
{
	int i = rate_find(rl, addr), delay = 0;
	struct proxy_rate *r;

	if (i < 0) {
		/* A free slot, else the entry idle the longest: an attacker
		 * who floods the table from many addresses only frees his own
		 * older entries' delays, never anyone's stored password. */
		int best = 0;

		for (i = 0; i < PROXY_RATE_MAX; i++) {
			if (rl->r[i].addr[0] == '\0') {
				best = i;
				break;
			}
			if (rl->r[i].last < rl->r[best].last)
				best = i;
		}
		i = best;
		memset(&rl->r[i], 0, sizeof(rl->r[i]));
		snprintf(rl->r[i].addr, sizeof(rl->r[i].addr), "%s", rate_key(addr));
	}
	r = &rl->r[i];
	r->fails++;
	r->last = now;
	if (r->fails >= PROXY_RATE_FREE_FAILS) {
		int k = r->fails - PROXY_RATE_FREE_FAILS;

		delay = k >= 6 ? PROXY_RATE_DELAY_CAP : 1 << k;
		if (delay > PROXY_RATE_DELAY_CAP)
			delay = PROXY_RATE_DELAY_CAP;
		r->until = now + delay * 1000LL;
	}
	return delay;
}

void
proxy_rate_ok(struct proxy_ratelimit *rl, const char *addr)
{
	int i = rate_find(rl, addr);

	if (i >= 0)
		memset(&rl->r[i], 0, sizeof(rl->r[i]));
}

/* ---- Origin ---- */

/* Compares an origin "scheme://host[:port]" with want, folding a default
 * port away on both sides. */
static bool
origin_equal(const char *origin, const char *want)
{
	char a[PROXY_HOST_MAX + 32], b[PROXY_HOST_MAX + 32];
	const char *in[2] = { origin, want };
	char *out[2] = { a, b };

	for (int k = 0; k < 2; k++) {
		size_t n = strlen(in[k]);
		char *s = out[k];

		while (n > 0 && in[k][n - 1] == '/')
			n--;
		if (n >= sizeof(a))
			return false;
		memcpy(s, in[k], n);
		s[n] = '\0';
		if (n > 3 && strcmp(s + n - 3, ":80") == 0 && strncasecmp(s, "http://", 7) == 0)
			s[n - 3] = '\0';
		else if (n > 4 && strcmp(s + n - 4, ":443") == 0 && strncasecmp(s, "https://", 8) == 0)
			s[n - 4] = '\0';
	}
	return strcasecmp(a, b) == 0;
}

bool
proxy_origin_ok(const char *origin, const char *host, bool tls,
		const char *const *allow, int nallow)
{
	char self[PROXY_HOST_MAX + 32];

	if (origin == NULL || origin[0] == '\0')
		return false;
	if (host != NULL && host[0] != '\0' && strlen(host) < PROXY_HOST_MAX &&
	    strpbrk(host, "/@ \t") == NULL) {
		snprintf(self, sizeof(self), "%s://%s", tls ? "https" : "http", host);
		if (origin_equal(origin, self))
			return true;
	}
	for (int i = 0; i < nallow; i++)
		if (origin_equal(origin, allow[i]))
			return true;
	return false;
}
