/* bench/ — helpers shared by the benchmark programs.
 *
 * Every figure is measured next to its reference in the same run,
 * interleaved (ours, reference, ours, reference, ...), and the median of the
 * repetitions is reported: the machine is shared, so only ratios taken
 * under the same load mean something.  Each program prints one line per
 * figure in the form bench/run.sh collects:
 *
 *   BENCH name=<id> value=<v> unit=<u> ref=<ref id> ref_value=<v> ratio=<r>
 *
 * and, where a figure has parts worth knowing when it misses its goal
 * (where its time or memory went), one line
 *
 *   DETAIL name=<id> <key>=<number> ...
 *
 * that bench/report.py explains the miss from: the explanation is computed
 * from the run's own numbers, never written in advance.
 *
 * Modes: `--smoke` (tiny sizes, one repetition: only proves the program
 * runs), BENCH_QUICK=1 in the environment (fewer repetitions), default
 * (full).  Header-only: each program is one .c file plus this.
 */
#ifndef WEBKVM_BENCH_H
#define WEBKVM_BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum bench_mode { BENCH_SMOKE, BENCH_QUICK, BENCH_FULL };

static inline enum bench_mode
bench_mode(int argc, char **argv)
{
	const char *q = getenv("BENCH_QUICK");

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--smoke") == 0)
			return BENCH_SMOKE;
	return q != NULL && q[0] != '\0' && strcmp(q, "0") != 0 ? BENCH_QUICK : BENCH_FULL;
}

/* Repetitions for a mode: smoke 1, quick q, full f. */
static inline int
bench_reps(enum bench_mode m, int q, int f)
{
	return m == BENCH_SMOKE ? 1 : m == BENCH_QUICK ? q : f;
}

static inline uint64_t
bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int
bench__cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The q-quantile (0..1, nearest rank) of n samples; sorts v in place. */
static inline double
bench_quantile(double *v, int n, double q)
{
	int i;

	if (n <= 0)
		return 0;
	qsort(v, (size_t)n, sizeof(*v), bench__cmp_double);
	i = (int)(q * n + 0.999999) - 1;
	if (i < 0)
		i = 0;
	if (i >= n)
		i = n - 1;
	return v[i];
}

static inline double
bench_median(double *v, int n)
{
	return bench_quantile(v, n, 0.5);
}

static inline void
bench_line(const char *name, double value, const char *unit,
	   const char *ref, double ref_value, double ratio)
{
	printf("BENCH name=%s value=%.6g unit=%s ref=%s ref_value=%.6g ratio=%.4g\n",
	       name, value, unit, ref, ref_value, ratio);
	fflush(stdout);
}

/* Keeps the compiler from dropping a computation whose result is unused. */
static inline void
bench_use(const void *p)
{
	__asm__ volatile("" : : "r"(p) : "memory");
}

#endif
