/* Helpers shared by the libFuzzer harnesses (tests/fuzz/fuzz_*.c).
 *
 * Inputs are copied into buffers of exactly their size, so ASan sees a read
 * one byte past what the fuzzer gave.  Harnesses abort() on a broken
 * invariant: libFuzzer reports that as a crash with the input saved. */
#ifndef WEBKVM_FUZZ_COMMON_H
#define WEBKVM_FUZZ_COMMON_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(cond)                                                        \
	do {                                                                    \
		if (!(cond)) {                                                  \
			fprintf(stderr, "fuzz: %s:%d: invariant broken: %s\n",   \
				__FILE__, __LINE__, #cond);                     \
			abort();                                                \
		}                                                               \
	} while (0)

/* A NUL-terminated copy of data[0..n) in a buffer of n + 1 bytes. */
static inline char *
fuzz_strndup(const uint8_t *data, size_t n)
{
	char *s = malloc(n + 1);

	if (s == NULL)
		abort();
	if (n > 0)
		memcpy(s, data, n);
	s[n] = '\0';
	return s;
}

/* Splits data on NUL bytes into at most max - 1 strings after argv0; the
 * strings point into *store (free it).  Returns argc. */
static inline int
fuzz_split_args(const uint8_t *data, size_t n, const char *argv0, char **argv, int max,
		char **store)
{
	char *s = fuzz_strndup(data, n);
	int argc = 0;
	size_t i = 0;

	*store = s;
	argv[argc++] = (char *)argv0;
	while (i < n && argc < max - 1) {
		argv[argc++] = s + i;
		i += strlen(s + i) + 1;
	}
	argv[argc] = NULL;
	return argc;
}

/* An in-memory file reachable by path (/proc/self/fd/N): for code that only
 * takes a file name.  Created once; fuzz_memfd_set() replaces its content. */
static inline int
fuzz_memfd(const char *name, char *path, size_t pathlen)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (fd < 0) {
		perror("fuzz: memfd_create");
		abort();
	}
	snprintf(path, pathlen, "/proc/self/fd/%d", fd);
	return fd;
}

static inline void
fuzz_memfd_set(int fd, const uint8_t *data, size_t n)
{
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, n, 0) != (ssize_t)n) {
		perror("fuzz: memfd write");
		abort();
	}
}

static inline void
fuzz_log_nowhere(int level, const char *line)
{
	(void)level;
	(void)line;
}

/* Log lines about bad input are the point of the input: not worth a write
 * per run. */
static inline void
fuzz_quiet(void)
{
	wk_log_set_sink(fuzz_log_nowhere);
}

#endif
