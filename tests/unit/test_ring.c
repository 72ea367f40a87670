/* proxy/ring.c: the bounded byte queue of each bridged direction. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "proxy/ring.h"

static void
fill(uint8_t *p, size_t n, uint8_t from)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(from + i);
}

static void
test_put_peek_drop_wraps(void **state)
{
	struct ring r;
	uint8_t in[16], out[16];

	(void)state;
	assert_int_equal(ring_init(&r, 10), 0);
	fill(in, sizeof(in), 1);
	assert_int_equal(ring_put(&r, in, 7), 0);
	assert_int_equal(r.len, 7);
	/* All or nothing: 4 more do not fit in the 3 left. */
	assert_int_equal(ring_put(&r, in, 4), -ENOBUFS);
	assert_int_equal(r.len, 7);
	assert_int_equal(ring_peek(&r, out, 5), 5);
	assert_memory_equal(out, in, 5);
	ring_drop(&r, 5);
	assert_int_equal(r.len, 2);
	/* 8 bytes from the tail at 7: 3 at the end, 5 wrapped to the start. */
	assert_int_equal(ring_put(&r, in + 7, 8), 0);
	assert_int_equal(r.len, 10);
	assert_int_equal(ring_put(&r, in, 1), -ENOBUFS);
	assert_int_equal(ring_peek(&r, out, sizeof(out)), 10);
	assert_memory_equal(out, in + 5, 10);
	/* Peeking consumes nothing. */
	assert_int_equal(ring_peek(&r, out, 3), 3);
	assert_memory_equal(out, in + 5, 3);
	ring_drop(&r, 10);
	assert_int_equal(r.len, 0);
	assert_int_equal(r.head, 0);
	assert_int_equal(ring_peek(&r, out, sizeof(out)), 0);
	/* Dropping more than is queued empties it, no further. */
	assert_int_equal(ring_put(&r, in, 3), 0);
	ring_drop(&r, 99);
	assert_int_equal(r.len, 0);
	assert_int_equal(ring_put(&r, in, 0), 0);
	ring_free(&r);
	assert_null(r.buf);
	ring_free(&r);
}

static void
test_read_and_send_through_a_socket(void **state)
{
	struct ring r;
	uint8_t in[12], out[32];
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(ring_init(&r, 8), 0);
	fill(in, sizeof(in), 40);

	/* Nothing to read yet. */
	assert_int_equal(ring_read(&r, sv[0]), -EAGAIN);
	/* Reads stop at the queue's free space; the rest waits in the socket. */
	assert_int_equal(write(sv[1], in, sizeof(in)), (ssize_t)sizeof(in));
	assert_int_equal(ring_read(&r, sv[0]), 8);
	assert_int_equal(ring_read(&r, sv[0]), -ENOBUFS);
	ring_drop(&r, 6);
	/* The free space is at the start now: what is queued wraps. */
	assert_int_equal(ring_read(&r, sv[0]), 4);
	assert_int_equal(r.len, 6);
	assert_int_equal(ring_peek(&r, out, sizeof(out)), 6);
	assert_memory_equal(out, in + 6, 6);

	/* Sending takes both parts of a wrapped queue, and consumes nothing. */
	assert_int_equal(ring_send(&r, sv[1]), 6);
	assert_int_equal(r.len, 6);
	ring_drop(&r, 6);
	assert_int_equal(read(sv[0], out, sizeof(out)), 6);
	assert_memory_equal(out, in + 6, 6);

	/* End of stream is 0; an error is -errno. */
	close(sv[1]);
	assert_int_equal(ring_read(&r, sv[0]), 0);
	assert_int_equal(ring_put(&r, in, 2), 0);
	assert_int_equal(ring_send(&r, sv[0]), -EPIPE);
	close(sv[0]);
	assert_int_equal(ring_read(&r, -1), -EBADF);
	ring_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_peek_drop_wraps),
		cmocka_unit_test(test_read_and_send_through_a_socket),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
