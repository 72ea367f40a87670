/* The bounded byte queue: see ring.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "proxy/ring.h"

int
ring_init(struct ring *r, size_t cap)
{
	r->buf = malloc(cap);
	r->cap = cap;
	r->head = r->len = 0;
	return r->buf ? 0 : -ENOMEM;
}

void
ring_free(struct ring *r)
{
	free(r->buf);
	r->buf = NULL;
	r->cap = r->head = r->len = 0;
}

int
ring_put(struct ring *r, const void *data, size_t n)
{
	size_t tail, first;

	if (n > r->cap - r->len)
		return -ENOBUFS;
	if (n == 0)
		return 0;
	tail = (r->head + r->len) % r->cap;
	first = n < r->cap - tail ? n : r->cap - tail;
	memcpy(r->buf + tail, data, first);
	memcpy(r->buf, (const uint8_t *)data + first, n - first);
	r->len += n;
	return 0;
}

size_t
ring_peek(const struct ring *r, uint8_t *out, size_t max)
{
	size_t n = r->len < max ? r->len : max;
	size_t first = n < r->cap - r->head ? n : r->cap - r->head;

	memcpy(out, r->buf + r->head, first);
	memcpy(out + first, r->buf, n - first);
	return n;
}

ssize_t
ring_read(struct ring *r, int fd)
{
	size_t tail, free_, first;
	struct iovec iov[2];
	ssize_t n;

	if (r->len == r->cap)
		return -ENOBUFS;
	tail = (r->head + r->len) % r->cap;
	free_ = r->cap - r->len;
	first = free_ < r->cap - tail ? free_ : r->cap - tail;
	iov[0] = (struct iovec){ r->buf + tail, first };
	iov[1] = (struct iovec){ r->buf, free_ - first };
	n = readv(fd, iov, iov[1].iov_len ? 2 : 1);
	if (n < 0)
		return -errno;
	r->len += (size_t)n;
	return n;
}

ssize_t
ring_send(struct ring *r, int fd)
{
	size_t first = r->len < r->cap - r->head ? r->len : r->cap - r->head;
	struct iovec iov[2] = {
		{ r->buf + r->head, first },
		{ r->buf, r->len - first },
	};
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = iov[1].iov_len ? 2 : 1 };
	ssize_t n = sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);

	return n < 0 ? -errno : n;
}

void
ring_drop(struct ring *r, size_t n)
{
	if (n > r->len)
		n = r->len;
	r->head = (r->head + n) % r->cap;
	r->len -= n;
	if (r->len == 0)
		r->head = 0;
}
