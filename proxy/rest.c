/* The REST API's bodies: a strict JSON reader, and the request line for the
 * daemon's control socket. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/proxy.h"

#define JSON_DEPTH_MAX 16
#define REST_MEMBERS_MAX 8
#define REST_KEYS_MAX 32

struct jp {
	const char *s;
	size_t len, pos;
	const char *why;
};

static void
ws(struct jp *j)
{
	while (j->pos < j->len && (j->s[j->pos] == ' ' || j->s[j->pos] == '\t' ||
				   j->s[j->pos] == '\n' || j->s[j->pos] == '\r'))
		j->pos++;
}

static int
bad(struct jp *j, const char *why)
{
	if (j->why == NULL)
		j->why = why;
	return -EINVAL;
}

static int
hex4(struct jp *j, unsigned *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++, j->pos++) {
		char c = j->pos < j->len ? j->s[j->pos] : '\0';

		*v <<= 4;
		if (c >= '0' && c <= '9')
			*v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			*v |= (unsigned)(c - 'A' + 10);
		else
			return bad(j, "bad \\u escape");
	}
	return 0;
}

/* Checks UTF-8 strictly (no overlongs, no surrogates). */
static int
utf8_char(struct jp *j)
{
	const unsigned char *p = (const unsigned char *)j->s + j->pos;
	size_t left = j->len - j->pos, n;
	unsigned cp;

	if (p[0] < 0x80) {
		j->pos++;
		return 0;
	} else if ((p[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = p[0] & 0x07;
	} else {
		return bad(j, "invalid UTF-8");
	}
	if (left < n)
		return bad(j, "truncated UTF-8");
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return bad(j, "invalid UTF-8");
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return bad(j, "invalid UTF-8");
	j->pos += n;
	return 0;
}

static int
string(struct jp *j)
{
	if (j->pos >= j->len || j->s[j->pos] != '"')
		return bad(j, "expected a string");
	j->pos++;
	while (j->pos < j->len) {
		unsigned char c = (unsigned char)j->s[j->pos];

		if (c == '"') {
			j->pos++;
			return 0;
		}
		if (c < 0x20)
			return bad(j, "control character in string");
		if (c == '\\') {
			char e;

			if (++j->pos >= j->len)
				break;
			e = j->s[j->pos++];
			if (e == 'u') {
				unsigned v, lo;

				if (hex4(j, &v) < 0)
					return -EINVAL;
				if (v >= 0xdc00 && v <= 0xdfff)
					return bad(j, "lone low surrogate");
				if (v >= 0xd800 && v <= 0xdbff) {
					if (j->pos + 2 > j->len || j->s[j->pos] != '\\' || j->s[j->pos + 1] != 'u')
						return bad(j, "lone high surrogate");
					j->pos += 2;
					if (hex4(j, &lo) < 0)
						return -EINVAL;
					if (lo < 0xdc00 || lo > 0xdfff)
						return bad(j, "bad surrogate pair");
				}
			} else if (!strchr("\"\\/bfnrt", e) || e == '\0') {
				return bad(j, "bad escape in string");
			}
			continue;
		}
		if (utf8_char(j) < 0)
			return -EINVAL;
	}
	return bad(j, "unterminated string");
}

static int
number(struct jp *j)
{
	size_t start = j->pos;

	if (j->pos < j->len && j->s[j->pos] == '-')
		j->pos++;
	if (j->pos >= j->len)
		return bad(j, "bad number");
	if (j->s[j->pos] == '0') {
		j->pos++;
	} else if (j->s[j->pos] >= '1' && j->s[j->pos] <= '9') {
		while (j->pos < j->len && j->s[j->pos] >= '0' && j->s[j->pos] <= '9')
			j->pos++;
	} else {
		return bad(j, "bad number");
	}
	if (j->pos < j->len && j->s[j->pos] == '.') {
		j->pos++;
		if (j->pos >= j->len || j->s[j->pos] < '0' || j->s[j->pos] > '9')
			return bad(j, "bad number");
		while (j->pos < j->len && j->s[j->pos] >= '0' && j->s[j->pos] <= '9')
			j->pos++;
	}
	if (j->pos < j->len && (j->s[j->pos] == 'e' || j->s[j->pos] == 'E')) {
		j->pos++;
		if (j->pos < j->len && (j->s[j->pos] == '+' || j->s[j->pos] == '-'))
			j->pos++;
		if (j->pos >= j->len || j->s[j->pos] < '0' || j->s[j->pos] > '9')
			return bad(j, "bad number");
		while (j->pos < j->len && j->s[j->pos] >= '0' && j->s[j->pos] <= '9')
			j->pos++;
	}
	return j->pos > start ? 0 : bad(j, "bad number");
}

static int
literal(struct jp *j, const char *word)
{
	size_t n = strlen(word);

	if (j->len - j->pos < n || memcmp(j->s + j->pos, word, n) != 0)
		return bad(j, "unexpected character");
	j->pos += n;
	return 0;
}

static int value(struct jp *j, int depth);

static int
container(struct jp *j, int depth, char close)
{
	bool obj = close == '}';

	if (depth >= JSON_DEPTH_MAX)
		return bad(j, "nested too deeply");
	j->pos++;
	ws(j);
	if (j->pos < j->len && j->s[j->pos] == close) {
		j->pos++;
		return 0;
	}
	for (;;) {
		ws(j);
		if (obj) {
			if (string(j) < 0)
				return -EINVAL;
			ws(j);
			if (j->pos >= j->len || j->s[j->pos] != ':')
				return bad(j, "expected ':'");
			j->pos++;
		}
		if (value(j, depth + 1) < 0)
			return -EINVAL;
		ws(j);
		if (j->pos >= j->len)
			return bad(j, "unexpected end");
		if (j->s[j->pos] == ',') {
			j->pos++;
			continue;
		}
		if (j->s[j->pos] == close) {
			j->pos++;
			return 0;
		}
		return bad(j, obj ? "expected ',' or '}'" : "expected ',' or ']'");
	}
}

static int
value(struct jp *j, int depth)
{
	ws(j);
	if (j->pos >= j->len)
		return bad(j, "unexpected end");
	switch (j->s[j->pos]) {
	case '{': return container(j, depth, '}');
	case '[': return container(j, depth, ']');
	case '"': return string(j);
	case 't': return literal(j, "true");
	case 'f': return literal(j, "false");
	case 'n': return literal(j, "null");
	default: return number(j);
	}
}

int
proxy_json_check(const char *s, size_t len, char *err, size_t errlen)
{
	struct jp j = { s, len, 0, NULL };

	if (value(&j, 0) == 0) {
		ws(&j);
		if (j.pos == len)
			return 0;
		bad(&j, "trailing data");
	}
	snprintf(err, errlen, "bad JSON at byte %zu: %s", j.pos, j.why);
	return -EINVAL;
}

/* A top-level member: the key without quotes (escapes not decoded; a key
 * with escapes simply matches nothing) and the value's span. */
struct member {
	const char *key;
	size_t keylen;
	const char *val;
	size_t vallen;
};

/* Splits an already checked object into members. */
static int
members(const char *s, size_t len, struct member *m, int max, char *err, size_t errlen)
{
	struct jp j = { s, len, 0, NULL };
	int n = 0;

	ws(&j);
	if (j.pos >= len || s[j.pos] != '{') {
		snprintf(err, errlen, "body must be a JSON object");
		return -EINVAL;
	}
	j.pos++;
	ws(&j);
	if (s[j.pos] == '}')
		return 0;
	for (;;) {
		size_t k0, v0;

		ws(&j);
		k0 = j.pos;
		string(&j);
		if (n == max) {
			snprintf(err, errlen, "too many members in the object");
			return -EINVAL;
		}
		m[n].key = s + k0 + 1;
		m[n].keylen = j.pos - k0 - 2;
		ws(&j);
		j.pos++;	/* ':' */
		ws(&j);
		v0 = j.pos;
		value(&j, 1);
		m[n].val = s + v0;
		m[n].vallen = j.pos - v0;
		for (int i = 0; i < n; i++) {
			if (m[i].keylen == m[n].keylen && memcmp(m[i].key, m[n].key, m[n].keylen) == 0) {
				snprintf(err, errlen, "member \"%.*s\" appears twice", (int)(m[n].keylen > 40 ? 40 : m[n].keylen), m[n].key);
				return -EINVAL;
			}
		}
		n++;
		ws(&j);
		if (s[j.pos] == '}')
			return n;
		j.pos++;	/* ',' */
	}
}

/* Looks up a member by name; NULL when the body has none. */
static const struct member *
member_get(const struct member *m, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (m[i].keylen == strlen(name) && memcmp(m[i].key, name, m[i].keylen) == 0)
			return &m[i];
	return NULL;
}

/* "a", "b" or "c": the names a body may have, for an error message. */
static void
name_list(const char *const *names, char *out, size_t outlen)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t k = 0; names[k] != NULL && used < outlen; k++) {
		const char *sep = k == 0 ? "" : names[k + 1] == NULL ? " or " : ", ";

		used += (size_t)snprintf(out + used, outlen - used, "%s\"%s\"", sep, names[k]);
	}
}

/* Checks the body and splits it into members, each of which must be one of
 * names (a NULL-terminated list); the error names the first one that is
 * not.  Returns the member count or -EINVAL. */
static int
known_members(const char *body, size_t len, const char *const *names, struct member *m,
	      char *err, size_t errlen)
{
	char want[96];
	int n;

	if (proxy_json_check(body, len, err, errlen) < 0)
		return -EINVAL;
	if ((n = members(body, len, m, REST_MEMBERS_MAX, err, errlen)) < 0)
		return -EINVAL;
	for (int i = 0; i < n; i++) {
		size_t k = 0;

		while (names[k] != NULL && member_get(&m[i], 1, names[k]) == NULL)
			k++;
		if (names[k] != NULL)
			continue;
		name_list(names, want, sizeof(want));
		snprintf(err, errlen, "unknown member \"%.*s\" (want %s)",
			 (int)(m[i].keylen > 40 ? 40 : m[i].keylen), m[i].key,
			 names[0] == NULL ? "no members" : want);
		return -EINVAL;
	}
	return n;
}

/* The only member of the body must be name; returns its value span. */
static int
only_member(const char *body, size_t len, const char *name, struct member *out,
	    char *err, size_t errlen)
{
	const char *const names[] = { name, NULL };
	struct member m[REST_MEMBERS_MAX];
	int n;

	if ((n = known_members(body, len, names, m, err, errlen)) < 0)
		return -EINVAL;
	if (n == 0) {
		snprintf(err, errlen, "missing member \"%s\"", name);
		return -EINVAL;
	}
	*out = m[0];
	return 0;
}

/* A JSON integer (no fraction, no exponent) in [lo, hi]. */
static int
int_member(const struct member *m, long lo, long hi, long *v, char *err, size_t errlen)
{
	char num[24], *end;

	/* The body is checked JSON: a number here has no fraction or
	 * exponent when it has no '.', 'e' or 'E'. */
	if (m->vallen == 0 || m->vallen >= sizeof(num) ||
	    !(m->val[0] == '-' || (m->val[0] >= '0' && m->val[0] <= '9')) ||
	    memchr(m->val, '.', m->vallen) != NULL || memchr(m->val, 'e', m->vallen) != NULL ||
	    memchr(m->val, 'E', m->vallen) != NULL)
		goto bad;
	memcpy(num, m->val, m->vallen);
	num[m->vallen] = '\0';
	errno = 0;
	*v = strtol(num, &end, 10);
	if (errno != 0 || *end != '\0' || *v < lo || *v > hi)
		goto bad;
	return 0;
bad:
	snprintf(err, errlen, "\"%.*s\" must be an integer from %ld to %ld",
		 (int)(m->keylen > 40 ? 40 : m->keylen), m->key, lo, hi);
	return -EINVAL;
}

/* A name such as a layout or a mode: a string of 1..32 characters from
 * [A-Za-z0-9_-], so it can be copied into the line as written.  The
 * daemon knows which names exist. */
static int
name_member(const struct member *m, char *err, size_t errlen)
{
	bool ok = m->vallen >= 3 && m->vallen <= 34 && m->val[0] == '"';

	for (size_t i = 1; ok && i < m->vallen - 1; i++) {
		char c = m->val[i];

		ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		     c == '-' || c == '_';
	}
	if (!ok) {
		snprintf(err, errlen, "\"%.*s\" must be a name: a string of 1 to 32 letters, digits, '-' or '_'",
			 (int)(m->keylen > 40 ? 40 : m->keylen), m->key);
		return -EINVAL;
	}
	return 0;
}

static int
build_type(const char *body, size_t len, char *line, size_t linelen, char *err, size_t errlen)
{
	static const char *const names[] = { "text", "delay_ms", NULL };
	struct member m[REST_MEMBERS_MAX];
	const struct member *text, *delay;
	char extra[32] = "";
	long ms;
	int n;

	if ((n = known_members(body, len, names, m, err, errlen)) < 0)
		return 400;
	if ((text = member_get(m, n, "text")) == NULL) {
		snprintf(err, errlen, "missing member \"text\"");
		return 400;
	}
	if (text->val[0] != '"') {
		snprintf(err, errlen, "\"text\" must be a string");
		return 400;
	}
	if (text->vallen == 2) {
		snprintf(err, errlen, "\"text\" is empty");
		return 400;
	}
	if ((delay = member_get(m, n, "delay_ms")) != NULL) {
		if (int_member(delay, 0, 1000, &ms, err, errlen) < 0)
			return 400;
		snprintf(extra, sizeof(extra), ",\"delay_ms\":%ld", ms);
	}
	if ((size_t)snprintf(line, linelen, "{\"cmd\":\"type\",\"text\":%.*s%s}\n",
			     (int)text->vallen, text->val, extra) >= linelen) {
		snprintf(err, errlen, "\"text\" is too long");
		return 413;
	}
	return 0;
}

/* POST /api/hid: any of layout, mouse, profile; the daemon applies them
 * together or not at all. */
static int
build_hid(const char *body, size_t len, char *line, size_t linelen, char *err, size_t errlen)
{
	static const char *const names[] = { "layout", "mouse", "profile", NULL };
	struct member m[REST_MEMBERS_MAX];
	size_t used;
	int n;

	if ((n = known_members(body, len, names, m, err, errlen)) < 0)
		return 400;
	if (n == 0) {
		snprintf(err, errlen, "needs one or more of \"layout\", \"mouse\" and \"profile\" (GET reads them)");
		return 400;
	}
	used = (size_t)snprintf(line, linelen, "{\"cmd\":\"hid\"");
	for (int i = 0; i < n; i++) {
		if (name_member(&m[i], err, errlen) < 0)
			return 400;
		/* The key is one of names, the value at most 34 bytes. */
		if (used < linelen)
			used += (size_t)snprintf(line + used, linelen - used, ",\"%.*s\":%.*s",
						 (int)m[i].keylen, m[i].key, (int)m[i].vallen, m[i].val);
	}
	if (used + 2 >= linelen) {
		snprintf(err, errlen, "request too long");
		return 413;
	}
	snprintf(line + used, linelen - used, "}\n");
	return 0;
}

/* An endpoint without parameters: no body, an empty one or {}. */
static int
build_plain(const char *cmd, const char *body, size_t len, char *line, size_t linelen,
	    char *err, size_t errlen)
{
	static const char *const none[] = { NULL };
	struct member m[REST_MEMBERS_MAX];

	if (body != NULL && len > 0 && known_members(body, len, none, m, err, errlen) < 0)
		return 400;
	snprintf(line, linelen, "{\"cmd\":\"%s\"}\n", cmd);
	return 0;
}

static int
build_cancel(const char *body, size_t len, char *line, size_t linelen, char *err, size_t errlen)
{
	return build_plain("cancel", body, len, line, linelen, err, errlen);
}

static int
build_release(const char *body, size_t len, char *line, size_t linelen, char *err, size_t errlen)
{
	return build_plain("release", body, len, line, linelen, err, errlen);
}

static int
build_key(const char *body, size_t len, char *line, size_t linelen, char *err, size_t errlen)
{
	struct member m;
	struct jp j;
	int n = 0;

	if (only_member(body, len, "keys", &m, err, errlen) < 0)
		return 400;
	if (m.val[0] != '[') {
		snprintf(err, errlen, "\"keys\" must be an array of key names, e.g. [\"ctrl\",\"alt\",\"delete\"]");
		return 400;
	}
	/* Every item a non-empty string of at most 32 characters. */
	j = (struct jp){ m.val, m.vallen, 1, NULL };
	ws(&j);
	if (j.s[j.pos] != ']') {
		for (;;) {
			size_t s0;

			ws(&j);
			s0 = j.pos;
			if (j.s[j.pos] != '"' || string(&j) < 0) {
				snprintf(err, errlen, "\"keys\" items must be strings");
				return 400;
			}
			if (j.pos - s0 <= 2 || j.pos - s0 > 34) {
				snprintf(err, errlen, "\"keys\" item %d: empty or longer than 32 characters", n + 1);
				return 400;
			}
			n++;
			ws(&j);
			if (j.s[j.pos] == ']')
				break;
			j.pos++;
		}
	}
	if (n == 0 || n > REST_KEYS_MAX) {
		snprintf(err, errlen, "\"keys\" needs 1 to %d key names", REST_KEYS_MAX);
		return 400;
	}
	if ((size_t)snprintf(line, linelen, "{\"cmd\":\"key\",\"keys\":%.*s}\n", (int)m.vallen, m.val) >= linelen) {
		snprintf(err, errlen, "\"keys\" is too long");
		return 413;
	}
	/* The array is copied as written, and JSON allows newlines between
	 * its items: one request must stay one control line.  (Strings
	 * cannot hold a raw newline, so only whitespace is touched.) */
	for (char *c = line; c[0] != '\0' && c[1] != '\0'; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	return 0;
}

static int
build_power(const char *body, size_t len, char *line, size_t linelen, char *err, size_t errlen)
{
	static const char *const actions[] = { "on", "off", "reset", "reboot" };
	struct member m;

	if (only_member(body, len, "action", &m, err, errlen) < 0)
		return 400;
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
		size_t n = strlen(actions[i]);

		if (m.vallen == n + 2 && m.val[0] == '"' && memcmp(m.val + 1, actions[i], n) == 0) {
			snprintf(line, linelen, "{\"cmd\":\"power\",\"action\":\"%s\"}\n", actions[i]);
			return 0;
		}
	}
	snprintf(err, errlen, "\"action\" must be \"on\", \"off\", \"reset\" or \"reboot\"");
	return 400;
}

int
proxy_rest_build(const struct proxy_rest_req *r, char *line, size_t linelen,
		 char *err, size_t errlen)
{
	static const struct {
		const char *path;
		int (*build)(const char *, size_t, char *, size_t, char *, size_t);
		bool body_optional;	/* no parameters: no body, "" or {} */
	} posts[] = {
		{ "/api/type", build_type, false },
		{ "/api/key", build_key, false },
		{ "/api/power", build_power, false },
		{ "/api/hid", build_hid, false },
		{ "/api/cancel", build_cancel, true },
		{ "/api/release", build_release, true },
	};
	/* Reads: GET, no body. */
	static const struct {
		const char *path, *line;
	} gets[] = {
		{ "/api/status", "{\"cmd\":\"status\"}\n" },
		{ "/api/hid", "{\"cmd\":\"hid\"}\n" },
	};
	bool known = false;

	if (strcmp(r->method, "GET") == 0) {
		for (size_t i = 0; i < sizeof(gets) / sizeof(gets[0]); i++) {
			if (strcmp(r->path, gets[i].path) == 0) {
				snprintf(line, linelen, "%s", gets[i].line);
				return 0;
			}
		}
	}
	if (strcmp(r->method, "POST") == 0) {
		for (size_t i = 0; i < sizeof(posts) / sizeof(posts[0]); i++) {
			if (strcmp(r->path, posts[i].path) != 0)
				continue;
			if (r->body_len > PROXY_BODY_MAX) {
				snprintf(err, errlen, "body larger than %d bytes", PROXY_BODY_MAX);
				return 413;
			}
			if ((r->body_len == 0 || r->body == NULL) && !posts[i].body_optional) {
				snprintf(err, errlen, "%s needs a JSON body", r->path);
				return 400;
			}
			return posts[i].build(r->body_len ? r->body : NULL, r->body_len,
					      line, linelen, err, errlen);
		}
	}
	/* A known path with the wrong method: say which one it takes. */
	for (size_t i = 0; i < sizeof(gets) / sizeof(gets[0]); i++)
		known = known || strcmp(r->path, gets[i].path) == 0;
	for (size_t i = 0; i < sizeof(posts) / sizeof(posts[0]); i++) {
		if (strcmp(r->path, posts[i].path) == 0) {
			snprintf(err, errlen, "%s needs %s", r->path, known ? "GET or POST" : "POST");
			return 405;
		}
	}
	if (known) {
		snprintf(err, errlen, "%s needs GET", r->path);
		return 405;
	}
	snprintf(err, errlen, "no such endpoint: %.100s", r->path);
	return 404;
}

int
proxy_rest_status(const char *path, const char *answer, size_t len)
{
	struct member m[64];
	char err[128];
	int n;

	if (proxy_json_check(answer, len, err, sizeof(err)) < 0)
		return 502;
	if ((n = members(answer, len, m, 64, err, sizeof(err))) < 0)
		return 502;
	for (int i = 0; i < n; i++) {
		if (m[i].keylen == 2 && memcmp(m[i].key, "ok", 2) == 0) {
			if (m[i].vallen == 4 && memcmp(m[i].val, "true", 4) == 0)
				return 200;
			break;
		}
	}
	return strcmp(path, "/api/power") == 0 ? 409 : 400;
}
