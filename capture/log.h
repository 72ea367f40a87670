/* capture/ internal logging: "cap: " prefix, level filter.
 *
 * Not part of the public interface.  The daemon may set cap_log_level (from
 * --log-level) and cap_log_hook (to route lines into its own logger); both
 * are plain globals read by the capture thread.
 */
#ifndef WEBKVM_CAP_LOG_H
#define WEBKVM_CAP_LOG_H

enum { CAP_LOG_ERROR = 0, CAP_LOG_WARN, CAP_LOG_INFO, CAP_LOG_DEBUG };

/* Lines above this level are dropped.  Default CAP_LOG_INFO. */
extern int cap_log_level;

/* When set, receives each line (with the "cap: " prefix, without a trailing
 * newline) instead of stderr. */
extern void (*cap_log_hook)(int level, const char *line);

void cap__log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
