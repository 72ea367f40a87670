/* Whole RFB client byte streams through our real server: libvncserver's
 * message parsing behind our framing (rfb__msg_len) and our QEMU extension
 * handlers (-258 extended key events, -261 LED state) and XVP.
 *
 * One server for the whole run (64×48, loopback, port chosen by the
 * kernel); each input is a new viewer connection.  Byte 0 of the input:
 *   bit 0   0 = the harness does the RFB 3.8 handshake (security None,
 *           shared) and the rest of the input is client messages;
 *           1 = the rest is sent from the very first byte (handshake
 *           phases fuzzed too)
 *   bits 1-3 LED state set on the server between reads
 * The rest is written to the socket in one go; the server then runs a
 * bounded number of rfb_process() rounds while the harness drains what it
 * sends.  Encoding 50 in SetEncodings takes the H.264 path (rfb/stream.c),
 * whose encoder threads end their frames asynchronously.  The connection is a viewer once the handshake is done; after it
 * hangs up, the server must count it gone. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include "tests/fuzz/fuzz_common.h"
#include "rfb/rfb_server.h"

#define W 64
#define H 48

static struct rfb_server *srv;
static uint8_t frame[W * H * 4];
static uint64_t seq;

static int
in_key_sym(void *ctx, int viewer, uint32_t keysym, bool down)
{
	(void)ctx;
	(void)keysym;
	(void)down;
	FUZZ_CHECK(viewer >= 0 && viewer < 64);
	return 0;
}

static int
in_key_xt(void *ctx, int viewer, uint32_t xt, uint32_t keysym, bool down)
{
	(void)ctx;
	(void)keysym;
	(void)down;
	FUZZ_CHECK(viewer >= 0 && viewer < 64);
	/* 1..0xff, extended 0xe0xx, or Pause 0xe11d. */
	FUZZ_CHECK((xt >= 1 && xt <= 0xff) || (xt >= 0xe000 && xt <= 0xe07f) || xt == 0xe11d);
	return 0;
}

static int
in_pointer(void *ctx, int viewer, int x, int y, int w, int h, uint32_t buttons)
{
	(void)ctx;
	(void)buttons;
	FUZZ_CHECK(viewer >= 0 && viewer < 64);
	FUZZ_CHECK(w == W && h == H);
	FUZZ_CHECK(x >= 0 && x < w && y >= 0 && y < h);
	return 0;
}

static int
in_release(void *ctx, int viewer)
{
	(void)ctx;
	FUZZ_CHECK(viewer >= 0 && viewer < 64);
	return 0;
}

static int
in_power(void *ctx, enum rfb_power action)
{
	(void)ctx;
	FUZZ_CHECK(action == RFB_POWER_OFF || action == RFB_POWER_REBOOT ||
		   action == RFB_POWER_RESET);
	return 0;
}

static const struct rfb_input input = {
	.key_sym = in_key_sym,
	.key_xt = in_key_xt,
	.pointer = in_pointer,
	.release = in_release,
	.power = in_power,
};

static void
new_frame(uint8_t salt)
{
	struct cap_frame f = {
		.fmt = CAP_FMT_XRGB32, .width = W, .height = H, .stride = W * 4,
		.size = sizeof(frame), .data = frame, .seq = seq,
	};

	seq++;
	for (size_t i = 0; i < sizeof(frame); i += 4) {
		frame[i] = (uint8_t)(i / 4 * 7 + salt);
		frame[i + 1] = (uint8_t)(i / 256 + salt);
		frame[i + 2] = salt;
	}
	FUZZ_CHECK(rfb_frame(srv, &f) >= 0);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct rfb_options o = {
		.listen = "127.0.0.1:0", .desktop_name = "fuzz", .width = W, .height = H,
	};
	int err = 0;

	(void)argc;
	(void)argv;
	fuzz_quiet();
	if ((srv = rfb_new(&o, &input, &err)) == NULL) {
		fprintf(stderr, "fuzz: rfb_new: %s\n", rfb_strerror(err));
		abort();
	}
	new_frame(0);
	return 0;
}

/* Reads and drops what the server sent so far. */
static size_t
drain(int fd)
{
	uint8_t buf[65536];
	size_t total = 0;
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		total += (size_t)n;
	return total;
}

/* Reads exactly n bytes the server answers with, running it meanwhile.
 * 0, or -1 when it closed or did not answer. */
static int
expect(int fd, uint8_t *buf, size_t n)
{
	size_t got = 0;

	for (int round = 0; round < 50 && got < n; round++) {
		ssize_t r = recv(fd, buf + got, n - got, MSG_DONTWAIT);

		if (r > 0) {
			got += (size_t)r;
			continue;
		}
		if (r == 0)
			return -1;
		rfb_process(srv);
	}
	return got == n ? 0 : -1;
}

static int
send_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };

			if (errno != EAGAIN)
				return -1;
			/* The server reads only in rfb_process: let it. */
			rfb_process(srv);
			drain(fd);
			(void)poll(&pfd, 1, 0);
			continue;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
handshake(int fd)
{
	uint8_t buf[256], n, one = 1, shared = 1;
	uint32_t name_len;

	if (expect(fd, buf, 12) < 0 || memcmp(buf, "RFB 003.0", 9) != 0)
		return -1;
	if (expect(fd, &n, 1) < 0 || n == 0 ||
	    expect(fd, buf, n) < 0 || memchr(buf, 1, n) == NULL)
		return -1;
	if (send_all(fd, &one, 1) < 0 || expect(fd, buf, 4) < 0 ||
	    memcmp(buf, "\0\0\0\0", 4) != 0)
		return -1;
	if (send_all(fd, &shared, 1) < 0 || expect(fd, buf, 24) < 0)
		return -1;
	FUZZ_CHECK((buf[0] << 8 | buf[1]) == W && (buf[2] << 8 | buf[3]) == H);
	name_len = (uint32_t)buf[20] << 24 | (uint32_t)buf[21] << 16 | (uint32_t)buf[22] << 8 | buf[23];
	FUZZ_CHECK(name_len < sizeof(buf));
	return expect(fd, buf, name_len);
}

/* connect(), where libFuzzer's timer signal may interrupt it: the
 * connection then completes in the background. */
static int
connect_to(int fd, const struct sockaddr_in *a)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	int err = 0;
	socklen_t len = sizeof(err);

	if (connect(fd, (const struct sockaddr *)a, sizeof(*a)) == 0)
		return 0;
	if (errno != EINTR)
		return -1;
	while (poll(&pfd, 1, 5000) < 0)
		if (errno != EINTR)
			return -1;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -1;
	errno = err;
	return err == 0 ? 0 : -1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)rfb_port(srv)) };
	struct pollfd pfd[8];
	int fd, gone, idle;
	bool raw;

	if (size < 1)
		return 0;
	raw = data[0] & 1;
	/* libvncserver's new-client path first waits up to 100 ms for 4
	 * bytes to tell a WebSocket or Flash policy request from RFB.  Bytes
	 * already there end the wait, so they go out before the accept;
	 * shorter raw inputs would only measure the timeout, and the
	 * WebSocket / Flash paths are libvncserver's own (its blocking
	 * reads stall the harness), so both are skipped. */
	if (raw && (size < 5 || memcmp(data + 1, "GET ", 4) == 0 ||
		    memcmp(data + 1, "<pol", 4) == 0))
		return 0;
	/* The sockets watched with nobody connected: the listener. */
	idle = rfb_pollfds(srv, pfd, 8);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 || connect_to(fd, &a) < 0) {
		perror("fuzz: connect");
		abort();
	}
	if (send_all(fd, raw ? data + 1 : (const uint8_t *)"RFB 003.008\n",
		     raw ? size - 1 : 12) < 0)
		abort();
	rfb_process(srv);	/* accepts; the server greets */
	/* The connection is watched but takes no viewer slot until its
	 * handshake ends; raw bytes may already have been refused in that
	 * same round. */
	FUZZ_CHECK((rfb_pollfds(srv, pfd, 8) == idle + 1 && rfb_viewer_count(srv) == 0) || raw);
	if (raw || handshake(fd) == 0) {
		FUZZ_CHECK(rfb_viewer_count(srv) == 1 || raw);
		if (raw || send_all(fd, data + 1, size - 1) == 0) {
			for (int i = 0; i < 6; i++) {
				if (i == 2)
					rfb_set_leds(srv, (data[0] >> 1) & 7);
				if (i == 3)
					new_frame((uint8_t)seq);
				rfb_process(srv);
				drain(fd);
			}
		}
	}
	shutdown(fd, SHUT_WR);
	for (gone = 0; gone < 20 && (rfb_viewer_count(srv) > 0 || rfb_pollfds(srv, pfd, 8) > idle);
	     gone++) {
		/* An H.264 frame still being encoded for it ends on the
		 * encoder's thread: wait for that like the daemon's loop. */
		(void)poll(pfd, (nfds_t)rfb_pollfds(srv, pfd, 8), 100);
		rfb_process(srv);
		drain(fd);
	}
	close(fd);
	/* A viewer or handshake that hung up is reaped within a few rounds. */
	FUZZ_CHECK(rfb_viewer_count(srv) == 0 && rfb_pollfds(srv, pfd, 8) == idle);
	return 0;
}
