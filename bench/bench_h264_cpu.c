/* H.264 encode CPU per frame of the arm64 build, emulated (report only):
 *
 *   h264_encode_1080p_arm64_qemu      process CPU time of rfb_h264_load +
 *                        rfb_h264_encode per frame of the motion of
 *                        bench/motion.h at 1080p, 4:4:4 at its default
 *                        CRF (what the headline H.264 viewer gets), this
 *                        program built for arm64 (build/arm64, Debian's
 *                        aarch64 libx264 and libyuv with their NEON code)
 *                        and run under qemu-user; against the same program
 *                        built for this machine, run natively, on the same
 *                        frames with the same thread count: ratio = what
 *                        the emulation costs
 *   h264_420_encode_1080p_arm64_qemu  the same for the 4:2:0 encoder
 *
 * An emulated figure says nothing about a real Cortex-A72 by itself; what
 * it proves is that the arm64 build encodes, with its own SIMD paths.
 * bench/report.py estimates a Pi 4 from a published figure.
 *
 *   bench_h264_cpu [--smoke] [--frame F] --arm64 BINARY [--qemu QEMU]
 *       runs `BINARY --measure ...` under QEMU (qemu-aarch64-static) and
 *       itself with --measure, taking turns, and prints the BENCH lines
 *   bench_h264_cpu --measure 444|420 --frames N --threads T [--size WxH]
 *                  [--frame F]
 *       encodes frames 1..N (the first an IDR; 1080p unless --size) and prints
 *       "MEASURE cpu_ms=<CPU ms per frame> bytes=<total> arch=<arch>"
 *
 * CPU time is the process's (every thread's, CLOCK_PROCESS_CPUTIME_ID)
 * over the load and encode calls only: making the frames and starting up
 * (long under emulation) are left out.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "bench/motion.h"
#include "common/log.h"
#include "rfb/h264.h"

#define FPS 30

#if defined(__aarch64__)
#define ARCH "arm64"
#elif defined(__x86_64__)
#define ARCH "x86_64"
#else
#define ARCH "other"
#endif

static uint64_t
cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int
parse_int(const char *s, int lo, int hi, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

/* --measure: one encoder, frames 1..n of w×h. */
static int
measure(const char *path, int w, int h, bool chroma444, int n, int threads)
{
	struct motion mo;
	struct rfb_h264_params par = { .width = w, .height = h, .fps = FPS,
				       .kbps = RFB_H264_DEFAULT_KBPS, .crf = 0,
				       .chroma444 = chroma444, .threads = threads };
	struct rfb_h264 *e = NULL;
	uint8_t *frame = NULL;
	uint64_t cpu = 0;
	size_t bytes = 0;
	int rc, status = 1;

	if (motion_init(&mo, path, w, h) < 0)
		return 1;
	if ((frame = malloc((size_t)w * h * 4)) == NULL) {
		fprintf(stderr, "bench_h264_cpu: out of memory\n");
		goto out;
	}
	if ((e = rfb_h264_new(&par, &rc)) == NULL) {
		fprintf(stderr, "bench_h264_cpu: rfb_h264_new failed (%d)\n", rc);
		goto out;
	}
	for (int k = 1; k <= n; k++) {
		struct rfb_h264_frame fr;
		uint64_t t0;

		motion_frame(&mo, k, frame);
		t0 = cpu_ns();
		rfb_h264_load(e, frame, w * 4);
		if (rfb_h264_encode(e, k == 1, &fr) < 0 || fr.len == 0 || fr.idr != (k == 1)) {
			fprintf(stderr, "bench_h264_cpu: frame %d did not encode as it should\n", k);
			goto out;
		}
		cpu += cpu_ns() - t0;
		bytes += fr.len;
	}
	printf("MEASURE cpu_ms=%.3f bytes=%zu arch=%s\n", (double)cpu / 1e6 / n, bytes, ARCH);
	fflush(stdout);
	status = 0;
out:
	rfb_h264_free(e);
	free(frame);
	motion_free(&mo);
	return status;
}

/* Runs argv (a --measure run) and reads its MEASURE line. */
static int
run_measure(char *const *argv, double *ms, double *bytes)
{
	int pfd[2], status;
	char buf[4096];
	size_t len = 0;
	const char *line;
	pid_t pid;

	if (pipe(pfd) < 0)
		return -1;
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		dup2(pfd[1], 1);
		close(pfd[0]), close(pfd[1]);
		execvp(argv[0], argv);
		fprintf(stderr, "bench_h264_cpu: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		ssize_t r = read(pfd[0], buf + len, sizeof(buf) - 1 - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || (len += (size_t)r) == sizeof(buf) - 1)
			break;
	}
	buf[len] = '\0';
	close(pfd[0]);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "bench_h264_cpu: %s %s failed\n", argv[0], argv[1]);
		return -1;
	}
	if ((line = strstr(buf, "MEASURE ")) == NULL ||
	    sscanf(line, "MEASURE cpu_ms=%lf bytes=%lf", ms, bytes) != 2) {
		fprintf(stderr, "bench_h264_cpu: %s printed no MEASURE line:\n%s\n", argv[0], buf);
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	enum bench_mode m = bench_mode(argc, argv);
	const char *frame = "bench/desktop-1080p.yuyv.gz", *arm64 = NULL;
	const char *qemu = "qemu-aarch64-static", *csp = NULL;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int threads = ncpu < 1 ? 1 : ncpu > 4 ? 4 : (int)ncpu;	/* rfb/h264.c's default */
	int frames = m == BENCH_SMOKE ? 2 : m == BENCH_QUICK ? 15 : 30;
	int reps = bench_reps(m, 2, 3);
	/* --smoke: a corner of the motion, as the other programs' smoke runs */
	int w = m == BENCH_SMOKE ? 320 : MOTION_W, h = m == BENCH_SMOKE ? 200 : MOTION_H;
	char self[4096], size[32];
	ssize_t sl;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--frame") == 0 && i + 1 < argc) {
			frame = argv[++i];
		} else if (strcmp(argv[i], "--arm64") == 0 && i + 1 < argc) {
			arm64 = argv[++i];
		} else if (strcmp(argv[i], "--qemu") == 0 && i + 1 < argc) {
			qemu = argv[++i];
		} else if (strcmp(argv[i], "--measure") == 0 && i + 1 < argc) {
			csp = argv[++i];
		} else if (strcmp(argv[i], "--frames") == 0 && i + 1 < argc) {
			if (parse_int(argv[++i], 1, 10000, &frames) < 0)
				goto usage;
		} else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
			if (parse_int(argv[++i], 1, 64, &threads) < 0)
				goto usage;
		} else if (strcmp(argv[i], "--size") == 0 && i + 1 < argc) {
			char *x = strchr(argv[++i], 'x');

			if (x == NULL)
				goto usage;
			*x = '\0';
			if (parse_int(argv[i], 16, MOTION_W, &w) < 0 ||
			    parse_int(x + 1, 16, MOTION_H, &h) < 0 || (w & 1) || (h & 1))
				goto usage;
		} else if (strcmp(argv[i], "--smoke") != 0) {
			goto usage;
		}
	}
	wk_log_set_level(WK_LOG_WARN);
	if (csp != NULL) {
		if (strcmp(csp, "444") != 0 && strcmp(csp, "420") != 0)
			goto usage;
		return measure(frame, w, h, strcmp(csp, "444") == 0, frames, threads);
	}
	if (arm64 == NULL)
		goto usage;
	if ((sl = readlink("/proc/self/exe", self, sizeof(self) - 1)) <= 0) {
		fprintf(stderr, "bench_h264_cpu: /proc/self/exe: %s\n", strerror(errno));
		return 1;
	}
	self[sl] = '\0';
	snprintf(size, sizeof(size), "%dx%d", w, h);
	for (int s = 0; s < 2; s++) {
		const char *c = s == 0 ? "444" : "420";
		char nf[16], nt[16];
		char *nat[] = { self, "--measure", (char *)c, "--frames", nf, "--threads", nt,
				"--size", size, "--frame", (char *)frame, NULL };
		char *emu[] = { (char *)qemu, (char *)arm64, "--measure", (char *)c, "--frames", nf,
				"--threads", nt, "--size", size, "--frame", (char *)frame, NULL };
		double ms[2][8], bytes[2] = { 0, 0 }, ratio[8], q, n;

		snprintf(nf, sizeof(nf), "%d", frames);
		snprintf(nt, sizeof(nt), "%d", threads);
		/* Native and emulated take turns, the order swapping. */
		for (int r = 0; r < reps && r < 8; r++)
			for (int j = 0; j < 2; j++) {
				int k = (j + r) % 2;

				if (run_measure(k == 0 ? nat : emu, &ms[k][r], &bytes[k]) < 0)
					return 1;
			}
		for (int r = 0; r < reps && r < 8; r++)
			ratio[r] = ms[1][r] / ms[0][r];
		q = bench_median(ms[1], reps);
		n = bench_median(ms[0], reps);
		bench_line(s == 0 ? "h264_encode_1080p_arm64_qemu" : "h264_420_encode_1080p_arm64_qemu",
			   q, "ms", "x86_64_native", n, bench_median(ratio, reps));
		printf("DETAIL name=%s chroma=%s w=%d h=%d frames=%d threads=%d reps=%d "
		       "arm64_ms=%.3f native_ms=%.3f arm64_bytes=%.0f native_bytes=%.0f\n",
		       s == 0 ? "h264_encode_1080p_arm64_qemu" : "h264_420_encode_1080p_arm64_qemu", c,
		       w, h, frames, threads, reps, q, n, bytes[1], bytes[0]);
		fflush(stdout);
	}
	return 0;
usage:
	fprintf(stderr, "usage: bench_h264_cpu [--smoke] [--frame F] --arm64 BINARY [--qemu QEMU]\n"
			"       bench_h264_cpu --measure 444|420 [--frames N] [--threads T] "
			"[--size WxH] [--frame F]\n");
	return 2;
}
