#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/json.h"
#include "common/utf8.h"

static void
say(char *err, size_t errlen, const char *fmt, const char *a, const char *b)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, fmt, a, b);
}

json_t *
wk_json_parse_object(const char *buf, size_t len, char *err, size_t errlen)
{
	json_error_t e;
	json_t *v;

	v = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &e);
	if (v == NULL) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "bad JSON at byte %d: %s", e.position, e.text);
		return NULL;
	}
	if (!json_is_object(v)) {
		json_decref(v);
		say(err, errlen, "want a JSON object%s%s", "", "");
		return NULL;
	}
	return v;
}

static const json_t *
member(const json_t *obj, const char *key, bool required, char *err, size_t errlen)
{
	const json_t *m = json_object_get(obj, key);

	if (m == NULL || json_is_null(m)) {
		if (required)
			say(err, errlen, "needs \"%s\"%s", key, "");
		return NULL;
	}
	return m;
}

int
wk_json_get_str(const json_t *obj, const char *key, bool required, const char **out, size_t *len,
		char *err, size_t errlen)
{
	const json_t *m = member(obj, key, required, err, errlen);

	if (m == NULL)
		return required ? -EINVAL : -ENOENT;
	if (!json_is_string(m)) {
		say(err, errlen, "\"%s\" must be a string%s", key, "");
		return -EINVAL;
	}
	*out = json_string_value(m);
	if (len != NULL)
		*len = json_string_length(m);
	return 0;
}

int
wk_json_get_int(const json_t *obj, const char *key, bool required, long lo, long hi, long *out,
		char *err, size_t errlen)
{
	const json_t *m = member(obj, key, required, err, errlen);
	json_int_t v;

	if (m == NULL)
		return required ? -EINVAL : -ENOENT;
	if (!json_is_integer(m)) {
		say(err, errlen, "\"%s\" must be an integer%s", key, "");
		return -EINVAL;
	}
	v = json_integer_value(m);
	if (v < lo || v > hi) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "\"%s\" must be %ld..%ld", key, lo, hi);
		return -EINVAL;
	}
	*out = (long)v;
	return 0;
}

int
wk_json_get_bool(const json_t *obj, const char *key, bool required, bool *out, char *err,
		 size_t errlen)
{
	const json_t *m = member(obj, key, required, err, errlen);

	if (m == NULL)
		return required ? -EINVAL : -ENOENT;
	if (!json_is_boolean(m)) {
		say(err, errlen, "\"%s\" must be true or false%s", key, "");
		return -EINVAL;
	}
	*out = json_is_true(m);
	return 0;
}

int
wk_json_only(const json_t *obj, const char *const *names, char *err, size_t errlen)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)obj, key, v) {
		size_t i, used;
		bool known = false;

		for (i = 0; names[i] != NULL; i++)
			if (strcmp(names[i], key) == 0)
				known = true;
		if (known)
			continue;
		if (err == NULL || errlen == 0)
			return -EINVAL;
		used = (size_t)snprintf(err, errlen, "unknown member \"%.64s\"; known:", key);
		for (i = 0; names[i] != NULL && used < errlen; i++)
			used += (size_t)snprintf(err + used, errlen - used, "%s %s", i ? "," : "", names[i]);
		return -EINVAL;
	}
	return 0;
}

int
wk_json_dump(const json_t *v, char *out, size_t outlen)
{
	size_t n = json_dumpb(v, out, outlen, JSON_COMPACT | JSON_PRESERVE_ORDER);

	if (n == 0 || n >= outlen) {
		if (outlen > 0)
			out[0] = '\0';
		return -ENOSPC;
	}
	out[n] = '\0';
	return (int)n;
}

static void
put(char *out, size_t outlen, size_t *used, const char *s, size_t n)
{
	if (*used < outlen) {
		size_t room = outlen - *used - 1;

		memcpy(out + *used, s, n < room ? n : room);
		out[*used + (n < room ? n : room)] = '\0';
	}
	*used += n;
}

size_t
wk_json_quote(char *out, size_t outlen, const char *s)
{
	size_t used = 0, len = strlen(s), pos = 0;

	if (outlen > 0)
		out[0] = '\0';
	put(out, outlen, &used, "\"", 1);
	while (pos < len) {
		size_t start = pos;
		uint32_t cp;
		char esc[8];

		if (wk_utf8_next(s, len, &pos, &cp) < 0) {
			pos++;
			put(out, outlen, &used, "\xef\xbf\xbd", 3);
			continue;
		}
		if (cp == '"' || cp == '\\') {
			esc[0] = '\\';
			esc[1] = (char)cp;
			put(out, outlen, &used, esc, 2);
		} else if (cp < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", (unsigned)cp);
			put(out, outlen, &used, esc, 6);
		} else {
			put(out, outlen, &used, s + start, pos - start);
		}
	}
	put(out, outlen, &used, "\"", 1);
	return used;
}
