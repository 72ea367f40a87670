/* A bounded byte queue over one fixed buffer (a ring), filled and drained
 * from both memory and sockets.  Each bridged connection has two: one per
 * direction.  No libwebsockets here, so it is unit-tested on its own.
 *
 * One owner (the event loop); the buffer is freed with ring_free. */
#ifndef WEBKVM_PROXY_RING_H
#define WEBKVM_PROXY_RING_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ring {
	uint8_t *buf;
	size_t cap, head, len;
};

/* Allocates cap bytes.  0 or -ENOMEM. */
int ring_init(struct ring *r, size_t cap);
/* Frees the buffer; r may be zeroed, or initialised, or freed already. */
void ring_free(struct ring *r);
/* Queues all n bytes, or none: -ENOBUFS when they do not fit. */
int ring_put(struct ring *r, const void *data, size_t n);
/* Copies up to max queued bytes to out without consuming them; returns
 * how many. */
size_t ring_peek(const struct ring *r, uint8_t *out, size_t max);
/* Reads what fd has, up to the free space, straight into the queue.
 * Returns bytes read, 0 at end of stream, -errno on error (-EAGAIN:
 * nothing to read now; -ENOBUFS: the queue is full). */
ssize_t ring_read(struct ring *r, int fd);
/* Writes what the queue holds to fd without blocking (MSG_DONTWAIT,
 * MSG_NOSIGNAL: fd is a socket) and without consuming it; returns bytes
 * written or -errno.  ring_drop what went. */
ssize_t ring_send(struct ring *r, int fd);
/* Consumes n (at most len) bytes from the head. */
void ring_drop(struct ring *r, size_t n);

#endif
