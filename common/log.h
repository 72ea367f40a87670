/* common/ — the one logger.
 *
 * A line is "<module>: <message>" for info and debug, and
 * "<module>: warning: <message>" / "<module>: error: <message>" above them,
 * so a person reading a journal sees what went wrong and where.  One level
 * for the process (set by the program's main through wk_log_set_level), one
 * sink (stderr unless wk_log_set_sink replaced it).  Safe from any thread:
 * the level is atomic, and each line goes out in one write.
 */
#ifndef WEBKVM_COMMON_LOG_H
#define WEBKVM_COMMON_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum wk_log_level {
	WK_LOG_ERROR = 0,
	WK_LOG_WARN = 1,
	WK_LOG_INFO = 2,
	WK_LOG_DEBUG = 3,
};

/* Receives each whole line, without a trailing newline. */
typedef void wk_log_sink_fn(int level, const char *line);

/* Lines above `level` are dropped.  WK_LOG_INFO until set. */
void wk_log_set_level(int level);
int wk_log_get_level(void);
/* "error", "warn", "info" or "debug" → the level; -1 for anything else. */
int wk_log_level_parse(const char *name);
/* NULL restores stderr.  Set it before threads start. */
void wk_log_set_sink(wk_log_sink_fn *sink);

static inline bool
wk_log_on(int level)
{
	return level <= wk_log_get_level();
}

void wk_log(const char *module, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Log once, and its recovery: a device that fails 60 times a second says
 * so once.  A struct wk_log_once remembers the last few distinct messages
 * (by hash) it let through; a message it remembers is dropped.  After
 * wk_log_recovered() (when the thing works again) the same failure is worth
 * a line once more.  One owner per struct; not shared between threads. */
#define WK_LOG_ONCE_MEMORY 8
struct wk_log_once {
	uint64_t seen[WK_LOG_ONCE_MEMORY];
	unsigned n;		/* messages let through since the last recovery */
};

/* Returns true when the line went out (or would have, but for the level). */
bool wk_log_once(struct wk_log_once *o, const char *module, int level, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* When a failure was logged since the last recovery, logs the message at
 * info and forgets what was seen; otherwise does nothing. */
void wk_log_recovered(struct wk_log_once *o, const char *module, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
