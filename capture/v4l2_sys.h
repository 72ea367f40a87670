/* The system calls of the V4L2 source, replaceable so the unit test can put
 * a fake driver (and a fake clock) under the real source code.  Not a public
 * header; nothing but tests calls cap__v4l2_set_sys(). */
#ifndef WEBKVM_CAP_V4L2_SYS_H
#define WEBKVM_CAP_V4L2_SYS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct cap__v4l2_sys {
	int (*open)(const char *path, int flags);
	int (*close)(int fd);
	/* -1 with errno set on failure, like ioctl(2) */
	int (*ioctl)(int fd, unsigned long req, void *arg);
	void *(*mmap)(void *addr, size_t len, int prot, int flags, int fd, off_t off);
	int (*munmap)(void *addr, size_t len);
	uint64_t (*now_us)(void);	/* CLOCK_MONOTONIC */
};

/* Uses `sys` for every V4L2 source from now on; NULL restores the real
 * system calls.  Not thread-safe: call it with no V4L2 source open. */
void cap__v4l2_set_sys(const struct cap__v4l2_sys *sys);

#endif
