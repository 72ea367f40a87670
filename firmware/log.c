#include <stddef.h>

#include "firmware/log.h"

static void
sink_nowhere(int level, const char *line)
{
	(void)level;
	(void)line;
}

void
fw_set_log_level(int level)
{
	wk_log_set_sink(level < WK_LOG_ERROR ? sink_nowhere : NULL);
	wk_log_set_level(level);
}

int
fw_log_level_parse(const char *s)
{
	return wk_log_level_parse(s);
}
