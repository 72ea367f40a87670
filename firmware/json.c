#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "firmware/json.h"

struct parser {
	const char *p, *end, *start;
	char *out;		/* next free byte of scratch */
	char *err;
	size_t errlen;
};

static int
fail(struct parser *ps, const char *what)
{
	snprintf(ps->err, ps->errlen, "bad JSON at byte %td: %s", ps->p - ps->start, what);
	return -1;
}

static void
skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static int
hex4(struct parser *ps, uint32_t *v)
{
	*v = 0;
	if (ps->end - ps->p < 4)
		return fail(ps, "truncated \\u escape");
	for (int i = 0; i < 4; i++) {
		char c = *ps->p++;

		*v <<= 4;
		if (c >= '0' && c <= '9')
			*v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			*v |= (uint32_t)(c - 'A' + 10);
		else
			return fail(ps, "bad hex digit in \\u escape");
	}
	return 0;
}

static void
put_utf8(struct parser *ps, uint32_t cp)
{
	if (cp < 0x80) {
		*ps->out++ = (char)cp;
	} else if (cp < 0x800) {
		*ps->out++ = (char)(0xc0 | cp >> 6);
		*ps->out++ = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*ps->out++ = (char)(0xe0 | cp >> 12);
		*ps->out++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*ps->out++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*ps->out++ = (char)(0xf0 | cp >> 18);
		*ps->out++ = (char)(0x80 | ((cp >> 12) & 0x3f));
		*ps->out++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*ps->out++ = (char)(0x80 | (cp & 0x3f));
	}
}

/* Reads a string literal into scratch.  An escape never produces more bytes
 * than it takes in the input, so scratch of the input's size suffices. */
static int
parse_string(struct parser *ps, const char **out, size_t *len)
{
	char *start;

	if (ps->p >= ps->end || *ps->p != '"')
		return fail(ps, "expected a string");
	ps->p++;
	start = ps->out;
	for (;;) {
		unsigned char c;

		if (ps->p >= ps->end)
			return fail(ps, "unterminated string");
		c = (unsigned char)*ps->p++;
		if (c == '"')
			break;
		if (c < 0x20)
			return fail(ps, "control character in string");
		if (c != '\\') {
			*ps->out++ = (char)c;
			continue;
		}
		if (ps->p >= ps->end)
			return fail(ps, "unterminated escape");
		c = (unsigned char)*ps->p++;
		switch (c) {
		case '"': case '\\': case '/': *ps->out++ = (char)c; break;
		case 'b': *ps->out++ = '\b'; break;
		case 'f': *ps->out++ = '\f'; break;
		case 'n': *ps->out++ = '\n'; break;
		case 'r': *ps->out++ = '\r'; break;
		case 't': *ps->out++ = '\t'; break;
		case 'u': {
			uint32_t cp, lo;

			if (hex4(ps, &cp) < 0)
				return -1;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return fail(ps, "lone low surrogate");
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u')
					return fail(ps, "high surrogate without low surrogate");
				ps->p += 2;
				if (hex4(ps, &lo) < 0)
					return -1;
				if (lo < 0xdc00 || lo > 0xdfff)
					return fail(ps, "bad low surrogate");
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			}
			if (cp == 0)
				return fail(ps, "U+0000 in string");
			put_utf8(ps, cp);
			break;
		}
		default:
			return fail(ps, "unknown escape");
		}
	}
	*ps->out++ = '\0';
	*out = start;
	*len = (size_t)(ps->out - start - 1);
	return 0;
}

static int
parse_number(struct parser *ps, double *v)
{
	char buf[64], *end;
	size_t n = 0;

	while (ps->p + n < ps->end && n < sizeof(buf) - 1 &&
	       strchr("+-0123456789.eE", ps->p[n]) != NULL)
		n++;
	if (n == 0 || n == sizeof(buf) - 1)
		return fail(ps, "bad number");
	memcpy(buf, ps->p, n);
	buf[n] = '\0';
	errno = 0;
	*v = strtod(buf, &end);
	if (end != buf + n || errno != 0 || !isfinite(*v))
		return fail(ps, "bad number");
	ps->p += n;
	return 0;
}

static int
match(struct parser *ps, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return 0;
	ps->p += n;
	return 1;
}

static int
parse_value(struct parser *ps, struct fw_json_member *m)
{
	skip_ws(ps);
	if (ps->p >= ps->end)
		return fail(ps, "expected a value");
	switch (*ps->p) {
	case '"':
		m->type = FW_JSON_STRING;
		return parse_string(ps, &m->str, &m->str_len);
	case 't':
	case 'f':
		m->type = FW_JSON_BOOL;
		if (match(ps, "true"))
			m->b = true;
		else if (match(ps, "false"))
			m->b = false;
		else
			return fail(ps, "bad literal");
		return 0;
	case 'n':
		m->type = FW_JSON_NULL;
		return match(ps, "null") ? 0 : fail(ps, "bad literal");
	case '[':
		m->type = FW_JSON_ARRAY;
		ps->p++;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ']') {
			ps->p++;
			return 0;
		}
		for (;;) {
			size_t len;

			skip_ws(ps);
			if (m->n_items >= FW_JSON_MAX_ITEMS)
				return fail(ps, "too many array items");
			if (parse_string(ps, &m->items[m->n_items], &len) < 0)
				return -1;
			m->n_items++;
			skip_ws(ps);
			if (ps->p < ps->end && *ps->p == ',') {
				ps->p++;
				continue;
			}
			if (ps->p < ps->end && *ps->p == ']') {
				ps->p++;
				return 0;
			}
			return fail(ps, "expected , or ] in array");
		}
	case '{':
		return fail(ps, "nested objects are not supported");
	default:
		m->type = FW_JSON_NUMBER;
		return parse_number(ps, &m->num);
	}
}

int
fw_json_parse(struct fw_json *j, const char *buf, size_t len, char *err, size_t errlen)
{
	struct parser ps = { buf, buf + len, buf, NULL, err, errlen };

	memset(j, 0, sizeof(*j));
	if ((j->scratch = malloc(len + 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	ps.out = j->scratch;
	skip_ws(&ps);
	if (ps.p >= ps.end || *ps.p != '{')
		return fail(&ps, "expected an object");
	ps.p++;
	skip_ws(&ps);
	if (ps.p < ps.end && *ps.p == '}') {
		ps.p++;
		goto tail;
	}
	for (;;) {
		struct fw_json_member *m;
		size_t klen;

		if (j->n >= FW_JSON_MAX_MEMBERS)
			return fail(&ps, "too many members");
		m = &j->m[j->n];
		skip_ws(&ps);
		if (parse_string(&ps, &m->key, &klen) < 0)
			return -1;
		for (int i = 0; i < j->n; i++)
			if (strcmp(j->m[i].key, m->key) == 0)
				return fail(&ps, "duplicate key");
		skip_ws(&ps);
		if (ps.p >= ps.end || *ps.p != ':')
			return fail(&ps, "expected :");
		ps.p++;
		if (parse_value(&ps, m) < 0)
			return -1;
		j->n++;
		skip_ws(&ps);
		if (ps.p < ps.end && *ps.p == ',') {
			ps.p++;
			continue;
		}
		if (ps.p < ps.end && *ps.p == '}') {
			ps.p++;
			break;
		}
		return fail(&ps, "expected , or } in object");
	}
tail:
	skip_ws(&ps);
	if (ps.p != ps.end)
		return fail(&ps, "trailing bytes after the object");
	return 0;
}

void
fw_json_free(struct fw_json *j)
{
	free(j->scratch);
	j->scratch = NULL;
	j->n = 0;
}

const struct fw_json_member *
fw_json_get(const struct fw_json *j, const char *key)
{
	for (int i = 0; i < j->n; i++)
		if (strcmp(j->m[i].key, key) == 0)
			return &j->m[i];
	return NULL;
}

size_t
fw_json_quote(char *out, size_t outlen, const char *s)
{
	size_t n = 0;

#define PUT(c) do { if (n + 1 < outlen) out[n] = (c); n++; } while (0)
	PUT('"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\') {
			PUT('\\');
			PUT((char)*p);
		} else if (*p < 0x20) {
			char esc[8];

			snprintf(esc, sizeof(esc), "\\u%04x", *p);
			for (char *e = esc; *e; e++)
				PUT(*e);
		} else {
			PUT((char)*p);
		}
	}
	PUT('"');
#undef PUT
	if (outlen > 0)
		out[n < outlen ? n : outlen - 1] = '\0';
	return n;
}
