#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "firmware/log.h"

extern int cap_log_level;
extern int hid_log_level;
extern int rfb_log_level;

int fw_log_level = FW_LOG_INFO;

void
fw__log(int level, const char *fmt, ...)
{
	static const char *names[] = { "error", "warn", "info", "debug" };
	va_list ap;

	if (level > fw_log_level)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "webkvmd: %s: ", names[level]);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

void
fw_set_log_level(int level)
{
	/* The modules number their levels the same way: 0 error … 3 debug. */
	fw_log_level = level;
	cap_log_level = level;
	hid_log_level = level;
	rfb_log_level = level;
}

int
fw_log_level_parse(const char *s)
{
	static const char *names[] = { "error", "warn", "info", "debug" };

	for (int i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}
