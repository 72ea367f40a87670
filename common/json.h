/* common/ — JSON through jansson, with the checks every caller needs.
 *
 * jansson (Debian's libjansson) parses and writes; these helpers add what
 * each of our readers would otherwise repeat: one top-level object, no
 * duplicate keys, no NUL in strings, and member getters whose errors name
 * the member and what it must be.  Error texts go to `err` (size errlen)
 * and are meant for the person who sent the request.
 */
#ifndef WEBKVM_COMMON_JSON_H
#define WEBKVM_COMMON_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* Parses buf[0..len) as one JSON object.  Returns a new reference (the
 * caller json_decref()s it), or NULL with "at byte N: what" in err. */
json_t *wk_json_parse_object(const char *buf, size_t len, char *err, size_t errlen);

/* Member getters.  An absent member (or null) is -ENOENT with *out
 * untouched when !required, and an error when required; a member of the
 * wrong type or out of range is -EINVAL.  Strings are valid UTF-8 without
 * NUL (jansson checks) and point into obj. */
int wk_json_get_str(const json_t *obj, const char *key, bool required, const char **out,
		    size_t *len, char *err, size_t errlen);
int wk_json_get_int(const json_t *obj, const char *key, bool required, long lo, long hi, long *out,
		    char *err, size_t errlen);
int wk_json_get_bool(const json_t *obj, const char *key, bool required, bool *out, char *err,
		     size_t errlen);

/* -EINVAL naming the first member of obj whose key is not in names (a
 * NULL-terminated list) and listing those allowed; 0 when all are known. */
int wk_json_only(const json_t *obj, const char *const *names, char *err, size_t errlen);

/* Writes v compactly (keys in insertion order) into out, NUL-terminated.
 * Returns its length, or -ENOSPC when it does not fit (out then holds ""). */
int wk_json_dump(const json_t *v, char *out, size_t outlen);

/* Appends s as a JSON string literal (quotes included) to out, like
 * snprintf: returns the length it needs.  s must be valid UTF-8; an invalid
 * byte is written as U+FFFD. */
size_t wk_json_quote(char *out, size_t outlen, const char *s);

#endif
