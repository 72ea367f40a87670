/* WebSocket proxy benchmarks: build/webkvm-proxy against Debian's websockify
 * on the same target and the same client, interleaved.
 *
 *   proxy_throughput    payload bytes/s target → 32 WebSocket viewers, the
 *                       target writing 256 KiB at a time (large updates)
 *   proxy_throughput_vs_direct  the same, against the same client reading
 *                       the target's streams over plain TCP (the limit)
 *   proxy_rss_per_conn  (PSS streaming to 32 viewers − PSS idle) / 32; for
 *                       websockify the PSS summed over its process tree (it
 *                       forks a process per connection, sharing pages)
 *   proxy_added_p99     p99 round trip of a 16-byte message through the
 *                       proxy minus the p99 of direct TCP to the target
 *   proxy_rtt_p99       the proxy's p99 round trip itself, vs direct TCP
 *
 * The target is in this program: a connection's first byte chooses 'S'
 * (stream forever) or 'E' (echo).  The client side is a poll() loop that
 * parses the proxy's frames and counts payload bytes.
 *
 * usage: bench_proxy --proxy PATH --websockify PATH [--smoke]
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench.h"

#define MAX_CONN 64
#define CHUNK (256 * 1024)

static void
die(const char *fmt, const char *arg)
{
	fprintf(stderr, "bench_proxy: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	exit(1);
}

static int
listen_any(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 128) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		die("listen on loopback: %s", strerror(errno));
	*port = ntohs(a.sin_port);
	return fd;
}

static int
free_port(void)
{
	int port, fd = listen_any(&port);

	close(fd);
	return port;
}

static int
connect_to(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static void
set_nonblock(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);

	fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
}

/* ---- the target ---- */

struct target {
	int lfd, port;
	pthread_t th;
	atomic_bool stop;
};

static void *
target_main(void *arg)
{
	struct target *t = arg;
	struct pollfd pfd[MAX_CONN * 2 + 1];
	char mode[MAX_CONN * 2 + 1] = { 0 };
	static uint8_t chunk[CHUNK];
	int n = 1, mfd;

	/* The stream leaves from a memory file with sendfile(): the kernel
	 * hands its pages to the socket, so the target costs the cores the
	 * proxies share as little as possible. */
	memset(chunk, 'x', sizeof(chunk));
	if ((mfd = memfd_create("bench-stream", 0)) < 0 ||
	    write(mfd, chunk, sizeof(chunk)) != (ssize_t)sizeof(chunk))
		die("memfd: %s", strerror(errno));
	pfd[0] = (struct pollfd){ .fd = t->lfd, .events = POLLIN };
	while (!atomic_load(&t->stop)) {
		if (poll(pfd, (nfds_t)n, 50) <= 0)
			continue;
		if ((pfd[0].revents & POLLIN) && n < MAX_CONN * 2 + 1) {
			int fd = accept(t->lfd, NULL, NULL), one = 1;

			if (fd >= 0) {
				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				set_nonblock(fd, true);
				mode[n] = 0;
				pfd[n++] = (struct pollfd){ .fd = fd, .events = POLLIN };
			}
		}
		for (int i = 1; i < n; i++) {
			uint8_t buf[4096];
			ssize_t r;
			bool gone = false;

			if (pfd[i].revents == 0)
				continue;
			if (pfd[i].revents & POLLIN) {
				r = read(pfd[i].fd, buf, sizeof(buf));
				if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
					gone = true;
				} else if (r > 0) {
					int off = 0;

					if (mode[i] == 0) {
						mode[i] = (char)buf[0];
						off = 1;
						if (mode[i] == 'S')
							pfd[i].events = POLLIN | POLLOUT;
					}
					if (mode[i] == 'E' && r > off)
						send(pfd[i].fd, buf + off, (size_t)(r - off), MSG_NOSIGNAL);
				}
			}
			if (!gone && (pfd[i].revents & POLLOUT)) {
				off_t off = 0;

				r = sendfile(pfd[i].fd, mfd, &off, sizeof(chunk));
				if (r < 0 && errno != EAGAIN && errno != EINTR)
					gone = true;
			}
			if (gone || (pfd[i].revents & (POLLERR | POLLHUP))) {
				close(pfd[i].fd);
				pfd[i] = pfd[n - 1];
				mode[i] = mode[n - 1];
				n--;
				i--;
			}
		}
	}
	for (int i = 1; i < n; i++)
		close(pfd[i].fd);
	close(mfd);
	return NULL;
}

/* ---- the proxies ---- */

struct proxy {
	const char *name;
	pid_t pid;
	int port;
};

static void
proxy_start(struct proxy *p, const char *path, int target_port)
{
	char listen_a[32], target_a[32];
	uint64_t t0 = bench_now_ns();

	p->port = free_port();
	snprintf(listen_a, sizeof(listen_a), "127.0.0.1:%d", p->port);
	snprintf(target_a, sizeof(target_a), "127.0.0.1:%d", target_port);
	if ((p->pid = fork()) < 0)
		die("fork: %s", strerror(errno));
	if (p->pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		/* Ours logs in by default; the benchmark measures the bridge,
		 * as websockify (which has no login) does. */
		if (strcmp(p->name, "webkvm-proxy") == 0)
			execl(path, path, "--auth", "none", listen_a, target_a, (char *)NULL);
		else
			execl(path, path, listen_a, target_a, (char *)NULL);
		_exit(127);
	}
	for (;;) {
		int fd = connect_to(p->port), st;

		if (fd >= 0) {
			close(fd);
			return;
		}
		if (waitpid(p->pid, &st, WNOHANG) == p->pid)
			die("%s exited at start", path);
		if (bench_now_ns() - t0 > 10000000000ull)
			die("%s did not listen within 10 s", path);
		usleep(20000);
	}
}

static void
proxy_stop(struct proxy *p)
{
	/* websockify's children are in its process group only when it made
	 * one; kill the tree we can see first. */
	kill(p->pid, SIGTERM);
	waitpid(p->pid, NULL, 0);
}

static pid_t
parent_of(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL)
		return -1;
	return (pid_t)strtol(p + 4, NULL, 10);	/* ") S ppid" */
}

/* Pss of one process from /proc/PID/smaps_rollup, KiB (0 when gone). */
static long
pss_kib(pid_t pid)
{
	char path[64], line[256];
	long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "Pss:", 4) == 0) {
			v = strtol(line + 4, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* PSS of pid and all its descendants, KiB: each page shared by k of them
 * counts 1/k in each, so websockify's forked children do not count the
 * interpreter they share with their parent 32 times over (as summing
 * VmRSS did), and ours is measured the same way. */
static long
tree_pss_kib(pid_t root)
{
	pid_t tree[1024];
	int n = 1, grown = 1;
	long sum = 0;

	tree[0] = root;
	while (grown) {
		DIR *d = opendir("/proc");
		struct dirent *e;

		grown = 0;
		if (d == NULL)
			break;
		while ((e = readdir(d)) != NULL && n < 1024) {
			char *end;
			long pid = strtol(e->d_name, &end, 10);
			pid_t pp;
			bool known = false;

			if (*end != '\0' || pid <= 0)
				continue;
			for (int i = 0; i < n; i++)
				known |= tree[i] == (pid_t)pid;
			if (known || (pp = parent_of((pid_t)pid)) <= 0)
				continue;
			for (int i = 0; i < n; i++)
				if (tree[i] == pp) {
					tree[n++] = (pid_t)pid;
					grown = 1;
					break;
				}
		}
		closedir(d);
	}
	for (int i = 0; i < n; i++)
		sum += pss_kib(tree[i]);
	return sum;
}

/* ---- the WebSocket client ---- */

struct wsconn {
	int fd;
	uint8_t hdr[14];
	int hdr_have, hdr_need;
	uint64_t left;		/* payload bytes of the current frame */
	uint64_t payload;	/* payload bytes so far */
};

static void
ws_send(int fd, const uint8_t *data, size_t n)
{
	uint8_t f[2 + 4 + 125];
	const uint8_t mask[4] = { 0x12, 0x34, 0x56, 0x78 };

	if (n > 125)
		die("%s", "client frame too long");
	f[0] = 0x82;
	f[1] = 0x80 | (uint8_t)n;
	memcpy(f + 2, mask, 4);
	for (size_t i = 0; i < n; i++)
		f[6 + i] = data[i] ^ mask[i & 3];
	if (send(fd, f, 6 + n, MSG_NOSIGNAL) != (ssize_t)(6 + n))
		die("client send: %s", strerror(errno));
}

/* Counts payload bytes of the server's frames in buf. */
static void
ws_parse(struct wsconn *c, const uint8_t *buf, size_t n)
{
	while (n > 0) {
		if (c->left > 0) {
			size_t k = c->left < n ? (size_t)c->left : n;

			c->left -= k, c->payload += k, buf += k, n -= k;
			continue;
		}
		c->hdr[c->hdr_have++] = *buf++;
		n--;
		if (c->hdr_have == 2) {
			int l7 = c->hdr[1] & 0x7f;

			if (c->hdr[1] & 0x80)
				die("%s", "masked frame from the server");
			c->hdr_need = 2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0);
		}
		if (c->hdr_have >= 2 && c->hdr_have == c->hdr_need) {
			int l7 = c->hdr[1] & 0x7f;
			uint64_t len = (uint64_t)l7;

			if (l7 == 126)
				len = (uint64_t)c->hdr[2] << 8 | c->hdr[3];
			else if (l7 == 127)
				for (int i = 0; i < 8; i++)
					len = len << 8 | c->hdr[2 + i];
			/* Only binary and continuation frames carry the stream. */
			if ((c->hdr[0] & 0x0f) > 2)
				die("%s", "control frame in the stream");
			c->left = len;
			c->hdr_have = 0;
			c->hdr_need = 2;
		}
	}
}

static void
ws_open(struct wsconn *c, int port)
{
	static const char req[] =
		"GET /websockify HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
		"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: binary\r\n\r\n";
	struct timeval tv = { .tv_sec = 10 };
	char buf[4096];
	size_t have = 0;
	char *end;

	memset(c, 0, sizeof(*c));
	c->hdr_need = 2;
	if ((c->fd = connect_to(port)) < 0)
		die("connect to the proxy: %s", strerror(errno));
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (send(c->fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != (ssize_t)sizeof(req) - 1)
		die("handshake send: %s", strerror(errno));
	/* Byte by byte up to the blank line: what follows is frames. */
	while (have < sizeof(buf) - 1) {
		ssize_t r = recv(c->fd, buf + have, 1, 0);

		if (r <= 0)
			die("handshake: %s", r == 0 ? "closed" : strerror(errno));
		have++;
		buf[have] = '\0';
		if (have >= 4 && memcmp(buf + have - 4, "\r\n\r\n", 4) == 0)
			break;
	}
	if (strncmp(buf, "HTTP/1.1 101", 12) != 0 || (end = strstr(buf, "\r\n\r\n")) == NULL)
		die("handshake refused: %.80s", buf);
}

/* Reads what one viewer has: frame headers into the parser, payload
 * discarded in the kernel (MSG_TRUNC on TCP drops the bytes without
 * copying them out), so the client costs the shared cores little. */
static void
ws_drain(struct wsconn *c, const char *who)
{
	for (int k = 0; k < 8; k++) {
		uint8_t hdr[14];
		ssize_t r;

		if (c->left > 0) {
			size_t want = c->left > (1u << 20) ? (1u << 20) : (size_t)c->left;

			r = recv(c->fd, NULL, want, MSG_TRUNC | MSG_DONTWAIT);
			if (r > 0) {
				c->left -= (uint64_t)r;
				c->payload += (uint64_t)r;
				continue;
			}
		} else {
			r = recv(c->fd, hdr, (size_t)(c->hdr_need - c->hdr_have), MSG_DONTWAIT);
			if (r > 0) {
				ws_parse(c, hdr, (size_t)r);
				continue;
			}
		}
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
			die("%s closed a viewer while streaming", who);
		return;
	}
}

/* Opens n viewers, has the target stream to each, and returns payload
 * bytes/s over `secs` after a warm-up; *rss_kib gets the proxy's PSS
 * measured while streaming.  A proxy with no process (pid 0) is the
 * target itself: the same client reads plain TCP streams, the limit any
 * proxy is held to. */
static double
throughput(struct proxy *p, int n, double secs, long *rss_kib)
{
	static struct wsconn c[MAX_CONN];
	struct pollfd pfd[MAX_CONN];
	uint64_t t_start = 0, t_end, base = 0, total = 0, warm_ns = (uint64_t)(secs * 0.2e9) + 1;

	for (int i = 0; i < n; i++) {
		if (p->pid != 0) {
			ws_open(&c[i], p->port);
			ws_send(c[i].fd, (const uint8_t *)"S", 1);
		} else {
			memset(&c[i], 0, sizeof(c[i]));
			if ((c[i].fd = connect_to(p->port)) < 0)
				die("connect to the target: %s", strerror(errno));
			if (send(c[i].fd, "S", 1, MSG_NOSIGNAL) != 1)
				die("direct send: %s", strerror(errno));
			/* No frames: the whole stream is payload. */
			c[i].left = UINT64_MAX / 2;
			c[i].hdr_need = 2;
		}
		set_nonblock(c[i].fd, true);
		pfd[i] = (struct pollfd){ .fd = c[i].fd, .events = POLLIN };
	}
	t_end = bench_now_ns() + warm_ns;
	for (int phase = 0; phase < 2; phase++) {
		while (bench_now_ns() < t_end) {
			if (poll(pfd, (nfds_t)n, 100) < 0 && errno != EINTR)
				die("poll: %s", strerror(errno));
			for (int i = 0; i < n; i++) {
				if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
					ws_drain(&c[i], p->name);
			}
		}
		if (phase == 0) {
			*rss_kib = p->pid != 0 ? tree_pss_kib(p->pid) : 0;
			for (int i = 0; i < n; i++)
				base += c[i].payload;
			t_start = bench_now_ns();
			t_end = t_start + (uint64_t)(secs * 1e9);
		}
	}
	for (int i = 0; i < n; i++) {
		total += c[i].payload;
		close(c[i].fd);
	}
	return (double)(total - base) / ((bench_now_ns() - t_start) / 1e9);
}

/* Round trips of 16-byte messages on one connection: through the proxy
 * (port of a proxy, ws true) or straight to the target.  Fills ms[n]. */
static void
round_trips(int port, bool ws, int n, double *ms)
{
	uint8_t msg[16], buf[256];
	struct wsconn c;
	int fd;

	memset(msg, 'p', sizeof(msg));
	if (ws) {
		ws_open(&c, port);
		fd = c.fd;
		ws_send(fd, (const uint8_t *)"E", 1);
	} else {
		struct timeval tv = { .tv_sec = 10 };

		memset(&c, 0, sizeof(c));
		c.hdr_need = 2;
		if ((fd = connect_to(port)) < 0)
			die("connect to the target: %s", strerror(errno));
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		send(fd, "E", 1, MSG_NOSIGNAL);
	}
	for (int i = 0; i < n; i++) {
		uint64_t t0 = bench_now_ns(), want = (uint64_t)(i + 1) * sizeof(msg), got;

		if (ws) {
			ws_send(fd, msg, sizeof(msg));
		} else if (send(fd, msg, sizeof(msg), MSG_NOSIGNAL) != sizeof(msg)) {
			die("direct send: %s", strerror(errno));
		}
		for (;;) {
			ssize_t r;

			got = c.payload;
			if (got >= want)
				break;
			r = recv(fd, buf, sizeof(buf), 0);
			if (r <= 0)
				die("round trip: %s", r == 0 ? "closed" : strerror(errno));
			if (ws)
				ws_parse(&c, buf, (size_t)r);
			else
				c.payload += (uint64_t)r;
		}
		ms[i] = (bench_now_ns() - t0) / 1e6;
	}
	close(fd);
}

int
main(int argc, char **argv)
{
	enum bench_mode m = bench_mode(argc, argv);
	const char *ours_path = NULL, *ws_path = "/usr/bin/websockify";
	int nconn = m == BENCH_SMOKE ? 2 : 32, reps = bench_reps(m, 3, 9);
	double secs = m == BENCH_SMOKE ? 0.3 : m == BENCH_QUICK ? 0.8 : 2.0;
	/* Many round trips: a p99 of a few hundred samples is one outlier. */
	int n_rtt = m == BENCH_SMOKE ? 20 : m == BENCH_QUICK ? 3000 : 20000, batch = n_rtt / bench_reps(m, 6, 20);
	struct target t = { 0 };
	/* px[2] is no proxy: the target read directly. */
	struct proxy px[3] = { { .name = "webkvm-proxy" }, { .name = "websockify" },
			       { .name = "direct TCP" } };
	double tp[3][16], *rtt[3];
	long rss_idle[2], rss[3] = { 0, 0, 0 };

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--proxy") == 0 && i + 1 < argc)
			ours_path = argv[++i];
		else if (strcmp(argv[i], "--websockify") == 0 && i + 1 < argc)
			ws_path = argv[++i];
	}
	/* Either side missing: measure the other against itself, so the
	 * benchmark keeps running (and `--smoke` keeps passing); the SKIP line
	 * says the figures are not comparisons. */
	if (ours_path == NULL || access(ours_path, X_OK) != 0) {
		if (access(ws_path, X_OK) != 0)
			die("%s", "neither build/webkvm-proxy nor websockify found");
		printf("SKIP: build/webkvm-proxy missing; measuring websockify against itself\n");
		ours_path = ws_path;
	} else if (access(ws_path, X_OK) != 0) {
		printf("SKIP: %s missing (apt-get install websockify); measuring webkvm-proxy "
		       "against itself\n", ws_path);
		ws_path = ours_path;
	}
	for (int k = 0; k < 3; k++)
		if ((rtt[k] = calloc((size_t)n_rtt, sizeof(double))) == NULL)
			die("%s", "out of memory");
	signal(SIGPIPE, SIG_IGN);
	t.lfd = listen_any(&t.port);
	if (pthread_create(&t.th, NULL, target_main, &t) != 0)
		die("%s", "pthread_create failed");
	proxy_start(&px[0], ours_path, t.port);
	proxy_start(&px[1], ws_path, t.port);
	px[2].port = t.port;
	usleep(200000);
	for (int k = 0; k < 2; k++)
		rss_idle[k] = tree_pss_kib(px[k].pid);

	for (int r = 0; r < reps; r++)
		for (int j = 0; j < 3; j++) {
			/* Rotated, forward and backward: no side always runs
			 * right after another. */
			int k = r % 2 == 0 ? (j + r / 2) % 3 : (2 - j + r / 2) % 3;
			long kib;

			tp[k][r] = throughput(&px[k], nconn, secs, &kib);
			if (kib > rss[k])
				rss[k] = kib;
			usleep(100000);	/* websockify's children exit */
		}
	/* Round trips in batches, interleaved: ours, websockify, direct. */
	for (int done = 0; done < n_rtt; done += batch) {
		int b = done + batch > n_rtt ? n_rtt - done : batch;

		round_trips(px[0].port, true, b, rtt[0] + done);
		round_trips(px[1].port, true, b, rtt[1] + done);
		round_trips(t.port, false, b, rtt[2] + done);
	}
	proxy_stop(&px[0]);
	proxy_stop(&px[1]);
	atomic_store(&t.stop, true);
	pthread_join(t.th, NULL);
	close(t.lfd);

	{
		double o, w, pr[16];

		/* Ratio of each pair (same load), then the median. */
		for (int r = 0; r < reps; r++)
			pr[r] = tp[0][r] / tp[1][r];
		o = bench_median(tp[0], reps) / 1e9;
		w = bench_median(tp[1], reps) / 1e9;
		double ro = (rss[0] - rss_idle[0]) / 1024.0 / nconn, rw = (rss[1] - rss_idle[1]) / 1024.0 / nconn;
		double p_o = bench_quantile(rtt[0], n_rtt, 0.99), p_w = bench_quantile(rtt[1], n_rtt, 0.99);
		double p_d = bench_quantile(rtt[2], n_rtt, 0.99);
		double add_o = p_o - p_d, add_w = p_w - p_d;

		if (ro < 0)
			ro = 0;
		bench_line("proxy_throughput", o, "GB/s", "websockify", w, bench_median(pr, reps));
		for (int r = 0; r < reps; r++)
			pr[r] = tp[0][r] / tp[2][r];
		bench_line("proxy_throughput_vs_direct", o, "GB/s", "direct_tcp",
			   bench_median(tp[2], reps) / 1e9, bench_median(pr, reps));
		bench_line("proxy_rss_per_conn", ro, "MiB", "websockify", rw, rw > 0 ? ro / rw : 0);
		bench_line("proxy_added_p99", add_o, "ms", "websockify_added_p99", add_w,
			   add_w > 0 ? add_o / add_w : 0);
		bench_line("proxy_rtt_p99", p_o, "ms", "direct_tcp_p99", p_d, p_d > 0 ? p_o / p_d : 0);
		p_o = bench_quantile(rtt[0], n_rtt, 0.5);
		p_w = bench_quantile(rtt[1], n_rtt, 0.5);
		p_d = bench_quantile(rtt[2], n_rtt, 0.5);
		bench_line("proxy_rtt_p50", p_o, "ms", "websockify_rtt_p50", p_w, p_w > 0 ? p_o / p_w : 0);
		bench_line("direct_rtt_p50", p_d, "ms", "none", 0, 0);
	}
	{
		/* The load generator's own cost, to tell whether it or the
		 * proxy was the limit. */
		struct rusage ru;

		getrusage(RUSAGE_SELF, &ru);
		fprintf(stderr, "bench_proxy: own CPU %.2f s user %.2f s system\n",
			ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
			ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
	}
	for (int k = 0; k < 3; k++)
		free(rtt[k]);
	return 0;
}
