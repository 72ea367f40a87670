#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "common/log.h"

static atomic_int log_level = WK_LOG_INFO;
static wk_log_sink_fn *log_sink;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void
wk_log_set_level(int level)
{
	if (level < WK_LOG_ERROR)
		level = WK_LOG_ERROR;
	if (level > WK_LOG_DEBUG)
		level = WK_LOG_DEBUG;
	atomic_store_explicit(&log_level, level, memory_order_relaxed);
}

int
wk_log_get_level(void)
{
	return atomic_load_explicit(&log_level, memory_order_relaxed);
}

int
wk_log_level_parse(const char *name)
{
	for (int i = 0; i < 4; i++)
		if (name != NULL && strcmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

void
wk_log_set_sink(wk_log_sink_fn *sink)
{
	log_sink = sink;
}

static void
emit(const char *module, int level, const char *msg)
{
	char line[1024];
	const char *tag = level == WK_LOG_ERROR ? "error: " : level == WK_LOG_WARN ? "warning: " : "";
	int n;

	n = snprintf(line, sizeof(line), "%s: %s%s", module, tag, msg);
	if (n < 0)
		return;
	if (log_sink != NULL) {
		log_sink(level, line);
		return;
	}
	if ((size_t)n >= sizeof(line) - 1)
		n = (int)sizeof(line) - 2;
	line[n] = '\n';
	/* One write per line: lines of two threads never interleave. */
	if (write(STDERR_FILENO, line, (size_t)n + 1) < 0) {
		/* Nowhere left to say it. */
	}
}

void
wk_log(const char *module, int level, const char *fmt, ...)
{
	char msg[900];
	va_list ap;

	if (!wk_log_on(level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	emit(module, level, msg);
}

bool
wk_log_once(struct wk_log_once *o, const char *module, int level, const char *fmt, ...)
{
	char msg[900];
	va_list ap;
	uint64_t h;
	unsigned n;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	h = XXH3_64bits(msg, strlen(msg));
	n = o->n < WK_LOG_ONCE_MEMORY ? o->n : WK_LOG_ONCE_MEMORY;
	for (unsigned i = 0; i < n; i++)
		if (o->seen[i] == h)
			return false;
	o->seen[o->n % WK_LOG_ONCE_MEMORY] = h;
	o->n++;
	if (wk_log_on(level))
		emit(module, level, msg);
	return true;
}

void
wk_log_recovered(struct wk_log_once *o, const char *module, const char *fmt, ...)
{
	char msg[900];
	va_list ap;

	if (o->n == 0)
		return;
	o->n = 0;
	if (!wk_log_on(WK_LOG_INFO))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	emit(module, WK_LOG_INFO, msg);
}
