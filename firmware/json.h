/* firmware/ — the small JSON subset of the control socket.
 *
 * A request is one flat object whose values are strings, numbers, booleans,
 * null or arrays of strings.  Anything else is refused with a message.
 */
#ifndef WEBKVM_FW_JSON_H
#define WEBKVM_FW_JSON_H

#include <stdbool.h>
#include <stddef.h>

enum fw_json_type { FW_JSON_STRING, FW_JSON_NUMBER, FW_JSON_BOOL, FW_JSON_NULL, FW_JSON_ARRAY };

#define FW_JSON_MAX_MEMBERS 16
#define FW_JSON_MAX_ITEMS 32

struct fw_json_member {
	const char *key;
	enum fw_json_type type;
	const char *str;	/* STRING (UTF-8, unescaped, NUL-terminated) */
	size_t str_len;		/* may contain U+0000? no: refused */
	double num;		/* NUMBER */
	bool b;			/* BOOL */
	int n_items;		/* ARRAY of strings */
	const char *items[FW_JSON_MAX_ITEMS];
};

struct fw_json {
	int n;
	struct fw_json_member m[FW_JSON_MAX_MEMBERS];
	char *scratch;		/* unescaped strings live here (owned) */
};

/* Parses buf[0..len).  Returns 0, or -1 with a message (naming the byte
 * offset) in err.  Free with fw_json_free() in both cases. */
int fw_json_parse(struct fw_json *j, const char *buf, size_t len, char *err, size_t errlen);
void fw_json_free(struct fw_json *j);
const struct fw_json_member *fw_json_get(const struct fw_json *j, const char *key);

/* Appends s as a JSON string literal (with quotes) to out (size outlen,
 * always NUL-terminated).  Returns the length it would need, like snprintf. */
size_t fw_json_quote(char *out, size_t outlen, const char *s);

#endif
