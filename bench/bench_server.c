/* RFB server benchmarks, through the real server on a loopback port with
 * real viewers (one thread each, blocking reads, a Tight parser):
 *
 *   encode_1080p_tight_1t  a realistic desktop frame (bench/desktop-1080p.
 *                        yuyv.gz) that changed everywhere, in YUYV as
 *                        capture hands it over → the whole Tight-JPEG
 *                        quality-8 update written to the socket (rfb_frame:
 *                        conversion, diff, encode; rfb_process), one
 *                        encoding thread, vs YUY2ToARGB + tjCompress2 of the
 *                        same frame (JPEG 92, 4:4:4) on one thread
 *   encode_1080p_tight   the same with every encoding thread, against the
 *                        one-thread run times the threads (scaling per core)
 *   latency_server_p50/p99, latency_server_4v_p50/p99
 *                        YUYV frame with 10% of tiles changed handed to
 *                        rfb_frame → last byte of the FramebufferUpdate read
 *                        by the (last) viewer, 1 and 4 viewers, vs the
 *                        capture frame interval at 60 fps
 *
 * The latency content is photo-like (smooth colour fields plus grain), so
 * Tight takes its JPEG path everywhere: the expensive case.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libyuv/convert_argb.h>
#include <libyuv/convert_from_argb.h>
#include <turbojpeg.h>
#include <zlib.h>

#include "bench/bench.h"
#include "capture/capture.h"
#include "common/log.h"
#include "rfb/rfb_server.h"

#define MAX_VIEWERS 4
#define ENC_TIGHT 7
#define ENC_QUALITY_8 (-32 + 8)
#define ENC_COMPRESS_1 (-256 + 1)

static void
die(const char *what)
{
	fprintf(stderr, "bench_server: %s\n", what);
	exit(1);
}

/* ---- a viewer ---- */

struct viewer {
	pthread_t th;
	int fd;
	int port;
	atomic_int updates;		/* complete FramebufferUpdates read */
	atomic_ullong done_ns;		/* when the last one's last byte was read */
	atomic_ullong bytes;		/* bytes of the last update */
	atomic_bool stop;
	/* Updates the viewer may start reading (INT_MAX: all).  Holding it
	 * back keeps the viewer off the cores and the socket while the
	 * server's own encode-and-write is timed. */
	atomic_int go;
};

static void
read_exact(struct viewer *v, void *buf, size_t n)
{
	uint8_t *p = buf;

	while (n > 0) {
		ssize_t r = recv(v->fd, p, n, 0);

		if (r > 0) {
			p += r, n -= (size_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (atomic_load(&v->stop))
			pthread_exit(NULL);
		fprintf(stderr, "bench_server: viewer: recv: %s\n", r == 0 ? "closed" : strerror(errno));
		exit(1);
	}
}

static void
skip(struct viewer *v, size_t n)
{
	uint8_t buf[65536];

	while (n > 0) {
		size_t k = n < sizeof(buf) ? n : sizeof(buf);

		read_exact(v, buf, k);
		n -= k;
	}
}

static void
send_all(struct viewer *v, const void *buf, size_t n)
{
	if (send(v->fd, buf, n, MSG_NOSIGNAL) != (ssize_t)n) {
		fprintf(stderr, "bench_server: viewer: send: %s\n", strerror(errno));
		exit(1);
	}
}

static uint8_t
u8(struct viewer *v)
{
	uint8_t b;

	read_exact(v, &b, 1);
	return b;
}

static uint32_t
be(struct viewer *v, int n)
{
	uint8_t b[4];
	uint32_t x = 0;

	read_exact(v, b, (size_t)n);
	for (int i = 0; i < n; i++)
		x = x << 8 | b[i];
	return x;
}

static size_t
compact_len(struct viewer *v)
{
	size_t n = 0;

	for (int shift = 0; shift <= 14; shift += 7) {
		uint8_t b = u8(v);

		n |= (size_t)(b & 0x7f) << shift;
		if (!(b & 0x80) || shift == 14)
			break;
	}
	return n;
}

/* Reads one Tight rectangle of w×h (pixel format 32 bpp depth 24, so
 * TPIXELs are 3 bytes); returns its payload size. */
static size_t
tight_rect(struct viewer *v, int w, int h)
{
	uint8_t cc = u8(v);
	int comp = cc >> 4, filter = 0, colors = 0;
	size_t rowbytes, n;

	if (comp == 8) {
		skip(v, 3);
		return 4;
	}
	if (comp == 9) {
		n = compact_len(v);
		skip(v, n);
		return n;
	}
	if (comp > 9)
		die("viewer: bad Tight compression control");
	if (comp & 4)
		filter = u8(v);
	if (filter == 1) {
		colors = u8(v) + 1;
		skip(v, (size_t)colors * 3);
		rowbytes = colors <= 2 ? (size_t)(w + 7) / 8 : (size_t)w;
	} else if (filter == 0 || filter == 2) {
		rowbytes = (size_t)w * 3;
	} else {
		die("viewer: bad Tight filter");
	}
	n = rowbytes * (size_t)h;
	if (n >= 12)
		n = compact_len(v);
	skip(v, n);
	return n;
}

static void
request(struct viewer *v, bool incremental, int w, int h)
{
	uint8_t m[10] = { 3, incremental, 0, 0, 0, 0, (uint8_t)(w >> 8), (uint8_t)w,
			  (uint8_t)(h >> 8), (uint8_t)h };

	send_all(v, m, sizeof(m));
}

static void *
viewer_main(void *arg)
{
	struct viewer *v = arg;
	uint8_t buf[64];
	int32_t encs[] = { ENC_TIGHT, ENC_QUALITY_8, ENC_COMPRESS_1 };
	uint8_t setenc[4 + sizeof(encs)] = { 2, 0, 0, sizeof(encs) / 4 };
	/* 32 bpp, depth 24, little endian, true colour, R<<16 G<<8 B */
	static const uint8_t setpf[20] = { 0, 0, 0, 0, 32, 24, 0, 1, 0, 255, 0, 255, 0, 255,
					   16, 8, 0, 0, 0, 0 };
	int w, h, n;

	read_exact(v, buf, 12);
	if (memcmp(buf, "RFB 003.008\n", 12) != 0)
		die("viewer: not an RFB 3.8 server");
	send_all(v, "RFB 003.008\n", 12);
	n = u8(v);
	if (n == 0)
		die("viewer: server refused the connection");
	read_exact(v, buf, (size_t)n);
	if (memchr(buf, 1, (size_t)n) == NULL)
		die("viewer: security type None not offered");
	send_all(v, "\x01", 1);
	if (be(v, 4) != 0)
		die("viewer: security failed");
	send_all(v, "\x01", 1);	/* shared */
	w = (int)be(v, 2);
	h = (int)be(v, 2);
	skip(v, 16);
	skip(v, be(v, 4));
	send_all(v, setpf, sizeof(setpf));
	for (size_t i = 0; i < sizeof(encs) / 4; i++) {
		uint32_t e = htonl((uint32_t)encs[i]);

		memcpy(setenc + 4 + 4 * i, &e, 4);
	}
	send_all(v, setenc, sizeof(setenc));
	request(v, false, w, h);
	for (;;) {
		size_t bytes = 4;
		int type, rects;

		while (atomic_load(&v->go) <= atomic_load(&v->updates) && !atomic_load(&v->stop))
			usleep(20);
		type = u8(v);

		if (type != 0)
			die("viewer: unexpected server message");
		skip(v, 1);
		rects = (int)be(v, 2);
		for (int i = 0; i < rects; i++) {
			int rw, rh;
			int32_t enc;

			skip(v, 4);
			rw = (int)be(v, 2);
			rh = (int)be(v, 2);
			enc = (int32_t)be(v, 4);
			bytes += 12;
			if (enc == ENC_TIGHT)
				bytes += tight_rect(v, rw, rh);
			else if (enc == 0)
				skip(v, (size_t)rw * rh * 4), bytes += (size_t)rw * rh * 4;
			else if (enc == -224)	/* LastRect */
				break;
			else
				die("viewer: rectangle in an encoding not asked for");
		}
		atomic_store(&v->bytes, bytes);
		atomic_store(&v->done_ns, bench_now_ns());
		atomic_fetch_add(&v->updates, 1);
		request(v, true, w, h);
	}
	return NULL;
}

static void
viewer_start(struct viewer *v, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	v->port = port;
	atomic_store(&v->go, INT_MAX);
	if ((v->fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		die("socket failed");
	setsockopt(v->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(v->fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("connect to the server failed");
	if (pthread_create(&v->th, NULL, viewer_main, v) != 0)
		die("pthread_create failed");
}

static void
viewer_stop(struct viewer *v)
{
	atomic_store(&v->stop, true);
	shutdown(v->fd, SHUT_RDWR);
	pthread_join(v->th, NULL);
	close(v->fd);
}

/* ---- the server side ---- */

static int in_key(void *c, int v, uint32_t k, bool d) { (void)c, (void)v, (void)k, (void)d; return 0; }
static int in_xt(void *c, int v, uint32_t x, uint32_t k, bool d) { (void)c, (void)v, (void)x, (void)k, (void)d; return 0; }
static int in_ptr(void *c, int v, int x, int y, int w, int h, uint32_t b) { (void)c, (void)v, (void)x, (void)y, (void)w, (void)h, (void)b; return 0; }
static int in_rel(void *c, int v) { (void)c, (void)v; return 0; }

/* Runs the server's loop for about `ms` (poll + process). */
static void
pump(struct rfb_server *s, int ms)
{
	struct pollfd pfd[MAX_VIEWERS + 8];
	int n = rfb_pollfds(s, pfd, MAX_VIEWERS + 8);

	poll(pfd, (nfds_t)n, ms);
	rfb_process(s);
}

static bool
all_have(struct viewer *v, int nv, int updates)
{
	for (int i = 0; i < nv; i++)
		if (atomic_load(&v[i].updates) < updates)
			return false;
	return true;
}

struct session {
	struct rfb_server *srv;
	struct viewer v[MAX_VIEWERS];
	int nv;
	int updates;		/* updates each viewer has had */
	bool hold;		/* viewers read only after the server's write */
};

/* threads: the server's encoding threads, 0 = its default (one per CPU). */
static void
session_open(struct session *ss, int w, int h, int nv, int threads)
{
	struct rfb_input in = { .key_sym = in_key, .key_xt = in_xt, .pointer = in_ptr, .release = in_rel };
	struct rfb_options o = { .listen = "127.0.0.1:0", .width = w, .height = h,
				 .desktop_name = "bench", .encoder_threads = threads };
	uint64_t t0;
	int err;

	memset(ss, 0, sizeof(*ss));
	if ((ss->srv = rfb_new(&o, &in, &err)) == NULL) {
		fprintf(stderr, "bench_server: rfb_new: %s\n", rfb_strerror(err));
		exit(1);
	}
	ss->nv = nv;
	for (int i = 0; i < nv; i++)
		viewer_start(&ss->v[i], rfb_port(ss->srv));
	/* Each viewer's first (full) update. */
	t0 = bench_now_ns();
	while (!all_have(ss->v, nv, 1)) {
		pump(ss->srv, 2);
		if (bench_now_ns() - t0 > 20000000000ull)
			die("viewers did not get their first update in 20 s");
	}
	ss->updates = 1;
}

static void
session_close(struct session *ss)
{
	for (int i = 0; i < ss->nv; i++)
		viewer_stop(&ss->v[i]);
	rfb_free(ss->srv);
}

/* Hands one frame to the server and runs its loop until every viewer has
 * read the update.  Returns ns from rfb_frame to the last viewer's last
 * byte; *write_ns gets ns to the end of the last rfb_process that sent
 * bytes. */
static uint64_t
session_frame(struct session *ss, const struct cap_frame *f, uint64_t *write_ns)
{
	uint64_t t0, t_write = 0, last = 0, sent;
	int rc;

	/* Let the server read the viewers' pending requests first, so the
	 * update leaves as soon as the frame is in. */
	for (int i = 0; i < 3; i++)
		pump(ss->srv, 0);
	sent = rfb_bytes_sent(ss->srv);
	for (int i = 0; ss->hold && i < ss->nv; i++)
		atomic_store(&ss->v[i].go, ss->updates);
	t0 = bench_now_ns();
	if ((rc = rfb_frame(ss->srv, f)) <= 0) {
		fprintf(stderr, "bench_server: rfb_frame: %s\n", rc < 0 ? cap_strerror(rc) : "no change seen");
		exit(1);
	}
	ss->updates++;
	while (!all_have(ss->v, ss->nv, ss->updates)) {
		rfb_process(ss->srv);
		if (rfb_bytes_sent(ss->srv) != sent) {
			sent = rfb_bytes_sent(ss->srv);
			t_write = bench_now_ns();
			for (int i = 0; i < ss->nv; i++)
				atomic_store(&ss->v[i].go, INT_MAX);
		}
		if (bench_now_ns() - t0 > 10000000000ull)
			die("an update took more than 10 s");
		/* Give the viewers' threads the cores once our part is done. */
		if (t_write != 0)
			pump(ss->srv, 1);
	}
	for (int i = 0; i < ss->nv; i++) {
		uint64_t d = atomic_load(&ss->v[i].done_ns);

		if (d > last)
			last = d;
	}
	if (write_ns != NULL)
		*write_ns = t_write - t0;
	return last - t0;
}

/* ---- content ---- */

/* Photo-like XRGB32: smooth colour fields plus grain; `seed` moves both. */
static uint8_t *
photo(int w, int h, unsigned seed)
{
	uint8_t *p = malloc((size_t)w * h * 4);
	uint32_t r = 2463534242u ^ seed * 2654435761u;

	if (p == NULL)
		die("out of memory");
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			uint8_t *q = p + ((size_t)y * w + x) * 4;
			int g;

			r ^= r << 13, r ^= r >> 17, r ^= r << 5;
			g = (int)(r & 15) - 8;
			q[0] = (uint8_t)(((x + (int)seed * 37) * 255 / (w + 1) + g) & 0xff);
			q[1] = (uint8_t)(((y * 255 / (h + 1)) ^ ((x + y + (int)seed * 11) >> 3)) + g);
			q[2] = (uint8_t)(((x * y + (int)seed * 101) >> 9) + g);
			q[3] = 0;
		}
	return p;
}

/* ---- figures ---- */

/* The realistic desktop of bench/make-desktop-frame.sh (a terminal of
 * text, a window with a photo-like picture), 1920x1080 YUYV as a capture
 * bridge sends it; a smaller w×h is its middle, where both meet. */
static uint8_t *
desktop_yuyv(const char *path, int w, int h)
{
	const int fw = 1920, fh = 1080;
	uint8_t *full = malloc((size_t)fw * fh * 2), *out = malloc((size_t)w * h * 2);
	gzFile z = gzopen(path, "rb");
	int x0 = (fw - w) / 2 & ~1, y0 = (fh - h) / 2, n;

	if (full == NULL || out == NULL)
		die("out of memory");
	if (z == NULL || w > fw || h > fh) {
		fprintf(stderr, "bench_server: %s: %s\n", path,
			z == NULL ? "cannot open (run from the top of the tree)" : "smaller than asked");
		exit(1);
	}
	n = gzread(z, full, (unsigned)((size_t)fw * fh * 2));
	if (n != fw * fh * 2 || gzread(z, out, 1) != 0) {
		fprintf(stderr, "bench_server: %s: not one %dx%d YUYV frame\n", path, fw, fh);
		exit(1);
	}
	gzclose(z);
	for (int y = 0; y < h; y++)
		memcpy(out + (size_t)y * w * 2, full + ((size_t)(y0 + y) * fw + x0) * 2, (size_t)w * 2);
	free(full);
	return out;
}

/* One encode of each, rotated: ours with every encoding thread, ours with
 * one, and the reference. */
enum { ENC_ALL, ENC_ONE, ENC_REF, ENC_N };

/* A frame that changed everywhere, through the YUYV capture path: the
 * desktop, alternately as grabbed and with every luma sample's low bit
 * flipped (the same picture, every tile different), handed to rfb_frame as
 * a capture buffer (not stable: rfb/ converts it into its framebuffer and
 * encodes from there).  The reference does the same job on the same bytes
 * on one thread: libyuv's YUY2ToARGB (what cap_convert_rect calls) and one
 * tjCompress2 of the whole frame at what libvncserver maps Tight quality 8
 * to (JPEG 92, 4:4:4, the viewer asks no other subsampling). */
static void
bench_encode(enum bench_mode m, int w, int h, const uint8_t *desktop)
{
	int reps = bench_reps(m, 8, 30);
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int nthreads = ncpu < 1 ? 1 : ncpu > 4 ? 4 : (int)ncpu;	/* rfb/'s default */
	size_t ysize = (size_t)w * h * 2;
	uint8_t *img[2] = { malloc(ysize), malloc(ysize) }, *argb = malloc((size_t)w * h * 4);
	double *t[ENC_N], *conv = calloc((size_t)reps, sizeof(double)), *pr;
	double bytes_ours = 0;
	unsigned char *jpg = NULL;
	unsigned long jlen = 0;
	tjhandle tj = tjInitCompress();
	struct session ss[2];
	uint64_t seq[2] = { 0, 0 };

	for (int k = 0; k < ENC_N; k++)
		t[k] = calloc((size_t)reps, sizeof(double));
	pr = calloc((size_t)reps, sizeof(double));
	if (img[0] == NULL || img[1] == NULL || argb == NULL || conv == NULL || pr == NULL ||
	    t[0] == NULL || t[1] == NULL || t[2] == NULL || tj == NULL)
		die("setup failed");
	memcpy(img[0], desktop, ysize);
	memcpy(img[1], desktop, ysize);
	for (size_t i = 0; i < ysize; i += 2)
		img[1][i] ^= 1;
	session_open(&ss[ENC_ALL], w, h, 1, 0);
	session_open(&ss[ENC_ONE], w, h, 1, 1);
	for (int k = 0; k < 2; k++)
		ss[k].hold = true;
	for (int r = 0; r < reps; r++) {
		for (int j = 0; j < ENC_N; j++) {
			int k = r % 2 == 0 ? (j + r / 2) % ENC_N : (ENC_N - 1 - j + r / 2) % ENC_N;
			uint64_t wr, t0, t1;

			if (k != ENC_REF) {
				struct cap_frame f = { .fmt = CAP_FMT_YUYV, .width = w, .height = h,
						       .stride = w * 2, .size = ysize,
						       .data = img[(seq[k] + 1) & 1], .seq = ++seq[k] };

				f.ts_us = bench_now_ns() / 1000;
				session_frame(&ss[k], &f, &wr);
				t[k][r] = wr / 1e9;
				if (k == ENC_ONE)
					bytes_ours = (double)atomic_load(&ss[k].v[0].bytes);
				continue;
			}
			t0 = bench_now_ns();
			YUY2ToARGB(img[r & 1], w * 2, argb, w * 4, w, h);
			bench_use(argb);
			t1 = bench_now_ns();
			if (tjCompress2(tj, argb, w, w * 4, h, TJPF_BGRX, &jpg, &jlen, TJSAMP_444,
					92, 0) < 0) {
				fprintf(stderr, "bench_server: tjCompress2: %s\n", tjGetErrorStr());
				exit(1);
			}
			conv[r] = (t1 - t0) / 1e9;
			t[ENC_REF][r] = (bench_now_ns() - t0) / 1e9;
		}
	}
	session_close(&ss[ENC_ALL]);
	session_close(&ss[ENC_ONE]);
	{
		/* Ratios of each repetition's own figures (same load), then
		 * the median. */
		double one, all, ref, c, bare;
		char scaled[32];

		for (int r = 0; r < reps; r++)
			pr[r] = t[ENC_REF][r] / t[ENC_ONE][r];
		bench_line("encode_1080p_tight_1t", 1 / bench_median(t[ENC_ONE], reps), "fps",
			   "yuy2toargb_tjCompress2_q92_444", 1 / bench_median(t[ENC_REF], reps),
			   bench_median(pr, reps));
		/* Scaling per core: all threads against the one-thread run
		 * times the threads. */
		for (int r = 0; r < reps; r++)
			pr[r] = t[ENC_ONE][r] / (t[ENC_ALL][r] * nthreads);
		one = bench_median(t[ENC_ONE], reps);
		all = bench_median(t[ENC_ALL], reps);
		snprintf(scaled, sizeof(scaled), "tight_1t_x%d", nthreads);
		bench_line("encode_1080p_tight", 1 / all, "fps", scaled, nthreads / one,
			   bench_median(pr, reps));
		/* Size on the wire next to the bare JPEG's: one JPEG per band
		 * of 64 lines costs its headers; fills and palettes save. */
		bench_line("encode_1080p_tight_bytes", bytes_ours, "B", "tjCompress2_q92_444_bytes",
			   (double)jlen, bytes_ours / (double)jlen);
		/* The reference without its conversion: how much of the gap
		 * the conversion both sides do is. */
		for (int r = 0; r < reps; r++)
			pr[r] = (t[ENC_REF][r] - conv[r]) / t[ENC_ONE][r];
		ref = bench_median(t[ENC_REF], reps);
		c = bench_median(conv, reps);
		for (int r = 0; r < reps; r++)
			conv[r] = t[ENC_REF][r] - conv[r];
		bare = bench_median(conv, reps);
		bench_line("encode_1080p_tight_1t_bare", 1 / one, "fps", "tjCompress2_q92_444",
			   1 / bare, bench_median(pr, reps));
		printf("DETAIL name=encode_1080p_tight_1t ours_ms=%.3f ref_ms=%.3f convert_ms=%.3f "
		       "jpeg_ms=%.3f all_threads_ms=%.3f threads=%d ncpu=%ld\n", one * 1e3, ref * 1e3,
		       c * 1e3, bare * 1e3, all * 1e3, nthreads, ncpu);
		fflush(stdout);
	}
	tjFree(jpg);
	tjDestroy(tj);
	free(img[0]), free(img[1]), free(argb), free(conv), free(pr);
	for (int k = 0; k < ENC_N; k++)
		free(t[k]);
}

/* Copies every tenth 32×32 tile, offset k, from src into dst (XRGB32). */
static void
copy_tenth(uint8_t *dst, const uint8_t *src, int w, int h, int k)
{
	int tx = (w + 31) / 32, ty = (h + 31) / 32;

	for (int t = k % 10; t < tx * ty; t += 10) {
		int x0 = (t % tx) * 32, y0 = (t / tx) * 32;
		int cw = x0 + 32 > w ? w - x0 : 32;

		for (int y = y0; y < y0 + 32 && y < h; y++)
			memcpy(dst + ((size_t)y * w + x0) * 4, src + ((size_t)y * w + x0) * 4,
			       (size_t)cw * 4);
	}
}

static void
bench_latency(enum bench_mode m, int w, int h, int nv, const char *p50, const char *p99,
	      const char *wr_name)
{
	int n = bench_reps(m, 60, 400);
	uint8_t *img[2] = { photo(w, h, 3), photo(w, h, 4) };
	uint8_t *cur = malloc((size_t)w * h * 4), *yuyv = malloc((size_t)w * h * 2);
	double *lat = calloc((size_t)n, sizeof(double));
	double *wr = calloc((size_t)n, sizeof(double));
	const double interval_ms = 1000.0 / 60;
	struct session ss;

	if (cur == NULL || yuyv == NULL || lat == NULL || wr == NULL)
		die("out of memory");
	memcpy(cur, img[0], (size_t)w * h * 4);
	session_open(&ss, w, h, nv, 0);
	for (int i = 0; i < n; i++) {
		struct cap_frame f = { .fmt = CAP_FMT_YUYV, .width = w, .height = h,
				       .stride = w * 2, .size = (size_t)w * h * 2, .data = yuyv,
				       .seq = (uint64_t)i + 1 };

		/* 10% of the tiles get the other picture's content. */
		copy_tenth(cur, img[(i / 10 + 1) & 1], w, h, i);
		ARGBToYUY2(cur, w * 4, yuyv, w * 2, w, h);
		f.ts_us = bench_now_ns() / 1000;
		uint64_t w_ns;

		lat[i] = session_frame(&ss, &f, &w_ns) / 1e6;
		wr[i] = w_ns / 1e6;
	}
	session_close(&ss);
	{
		double q50, q99;

		q99 = bench_quantile(lat, n, 0.99);
		q50 = bench_quantile(lat, n, 0.5);
		bench_line(p50, q50, "ms", "frame_interval_60fps", interval_ms, q50 / interval_ms);
		bench_line(p99, q99, "ms", "frame_interval_60fps", interval_ms, q99 / interval_ms);
		/* Where the time goes: the server's own part, rfb_frame until
		 * its last write returned. */
		q50 = bench_quantile(wr, n, 0.5);
		bench_line(wr_name, q50, "ms", "frame_interval_60fps", interval_ms, q50 / interval_ms);
		/* The server's own part at the tail, for a missed p99. */
		printf("DETAIL name=%s write_p99_ms=%.3f\n", p99, bench_quantile(wr, n, 0.99));
		fflush(stdout);
	}
	free(img[0]), free(img[1]), free(cur), free(yuyv), free(lat), free(wr);
}

int
main(int argc, char **argv)
{
	enum bench_mode m = bench_mode(argc, argv);
	int w = m == BENCH_SMOKE ? 320 : 1920, h = m == BENCH_SMOKE ? 200 : 1080;
	const char *frame = "bench/desktop-1080p.yuyv.gz";
	uint8_t *desktop;

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--frame") == 0 && i + 1 < argc)
			frame = argv[++i];
	wk_log_set_level(WK_LOG_WARN);	/* viewers coming and going are not news here */
	desktop = desktop_yuyv(frame, w, h);
	bench_encode(m, w, h, desktop);
	free(desktop);
	bench_latency(m, w, h, 1, "latency_server_p50", "latency_server_p99",
		      "latency_server_write_p50");
	bench_latency(m, w, h, 4, "latency_server_4v_p50", "latency_server_4v_p99",
		      "latency_server_4v_write_p50");
	return 0;
}
