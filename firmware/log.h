/* firmware/ logging: the daemon's own lines ("webkvmd: msg") go through
 * the one logger in common/log.h, whose level the daemon sets for every
 * module at once. */
#ifndef WEBKVM_FW_LOG_H
#define WEBKVM_FW_LOG_H

#include "common/log.h"

enum {
	FW_LOG_ERROR = WK_LOG_ERROR,
	FW_LOG_WARN = WK_LOG_WARN,
	FW_LOG_INFO = WK_LOG_INFO,
	FW_LOG_DEBUG = WK_LOG_DEBUG,
};

#define fw__log(level, ...) wk_log("webkvmd", (level), __VA_ARGS__)

/* Sets the level of the daemon and of every module; below FW_LOG_ERROR
 * nothing is logged at all (the fuzz harnesses). */
void fw_set_log_level(int level);
/* "error", "warn", "info", "debug" → level, or -1. */
int fw_log_level_parse(const char *s);

#endif
