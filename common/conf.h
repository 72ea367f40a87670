/* common/ — `key = value` files: board.conf and webkvmd's --config.
 *
 * One pair a line; blanks around key and value are dropped; blank lines and
 * lines whose first non-blank is '#' are skipped.  A line holds at most
 * WK_CONF_LINE_MAX - 2 characters.
 */
#ifndef WEBKVM_COMMON_CONF_H
#define WEBKVM_COMMON_CONF_H

#include <stddef.h>

#define WK_CONF_LINE_MAX 1024

/* Takes one pair (lineno counts from 1).  Returns 0 to go on, or < 0 with
 * why in msg; wk_conf_read puts "path:line: " before it. */
typedef int wk_conf_fn(void *ctx, int lineno, const char *key, const char *value,
		       char *msg, size_t msglen);

/* Reads path and hands each pair to fn, in order.  Returns 0, or with err
 * naming the file (and line): -errno when it cannot be opened, -EIO on a
 * read error, -EINVAL for a line too long or without '=', or what fn
 * returned. */
int wk_conf_read(const char *path, wk_conf_fn *fn, void *ctx, char *err, size_t errlen);

/* s without its leading blanks, its trailing ones cut off in place. */
char *wk_trim(char *s);

#endif
