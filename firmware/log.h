/* firmware/ logging: "webkvmd: " prefix, level filter shared with the
 * modules' own loggers through fw_set_log_level(). */
#ifndef WEBKVM_FW_LOG_H
#define WEBKVM_FW_LOG_H

enum { FW_LOG_ERROR = 0, FW_LOG_WARN, FW_LOG_INFO, FW_LOG_DEBUG };

extern int fw_log_level;
void fw__log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Sets the level of the daemon and of every module. */
void fw_set_log_level(int level);
/* "error", "warn", "info", "debug" → level, or -1. */
int fw_log_level_parse(const char *s);

#endif
