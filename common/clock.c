#include <time.h>

#include "common/clock.h"

uint64_t
wk_now_us(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail with a valid pointer on Linux. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t
wk_now_ms(void)
{
	return wk_now_us() / 1000u;
}
