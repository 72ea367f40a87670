/* webkvm-target: the virtual target (board/sim) as its own process on the
 * far side of real cables.  Its screen leaves through a V4L2 output (the
 * "HDMI out"), its keyboard and pointer arrive as USB HID reports on the
 * host side of the USB bus (/dev/hidrawN of the gadget's functions), and
 * its LED output report goes back the same way.
 *
 * Signals: SIGUSR1 freezes the screen (no new frames are queued) and
 * writes the frame on the output to /tmp/target-frame.ppm; SIGUSR2 thaws.
 *
 * Also a small tool for the board's scripts:
 *   webkvm-target --ctl SOCKET JSON          one control request to webkvmd
 *   webkvm-target --set-ctrl DEV 0xID VALUE  set a V4L2 control
 *   webkvm-target --get-ctrl DEV 0xID        print a V4L2 control
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/hidraw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "board/sim/sim.h"
#include "board/sim/target/target.h"
#include "common/parse.h"
#include "hid/hid.h"

#define HIDRAW_MAX 16
#define FRAME_DUMP "/tmp/target-frame.ppm"

struct target {
	struct sim_target *sim;
	struct vout *vout;
	const char *out_path, *cap_path;
	enum cap_pixfmt fmt;
	int fps;
	int hid_fd[HID_IFACE_COUNT];	/* host side of each gadget function */
	uint64_t next_frame_us, next_scan_us, next_vout_us;
	bool frozen;
	bool vout_failing;		/* reopening after a logged failure */
	struct cap_frame last;		/* last frame queued on the output */
	bool have_last;
	unsigned long reports[HID_IFACE_COUNT];
};

/* "WxH" within the sim's limits. */
static int
parse_size(const char *s, int *w, int *h)
{
	long a, b;

	if (wk_parse_dims(s, 200, 4096, &a, &b) < 0 || a < 320 || b > 2160)
		return -1;
	*w = (int)a;
	*h = (int)b;
	return 0;
}

/* ---- host side of the USB HID functions ---- */

static const char *const iface_name[HID_IFACE_COUNT] = { "keyboard", "pointer", "mouse" };

static void
hid_close(struct target *t, int iface)
{
	static const uint8_t none[8];

	if (t->hid_fd[iface] >= 0) {
		close(t->hid_fd[iface]);
		t->hid_fd[iface] = -1;
		target_log(WK_LOG_INFO, "hid: %s interface gone", iface_name[iface]);
		/* A PC releases whatever an unplugged keyboard held.  (A zero
		 * pointer report would also move an absolute pointer to 0,0.) */
		if (iface == HID_IFACE_KEYBOARD)
			sim_hid_input(t->sim, iface, none, HID_KBD_REPORT_LEN);
	}
}

/* Which function a hidraw node belongs to, by its report descriptor. */
static int
hidraw_iface(int fd)
{
	struct hidraw_report_descriptor d;
	int size;

	if (ioctl(fd, HIDIOCGRDESCSIZE, &size) < 0 || size <= 0 || size > HID_MAX_DESCRIPTOR_SIZE)
		return -1;
	d.size = (unsigned)size;
	if (ioctl(fd, HIDIOCGRDESC, &d) < 0)
		return -1;
	if ((size_t)size == hid_kbd_report_desc_len && memcmp(d.value, hid_kbd_report_desc, (size_t)size) == 0)
		return HID_IFACE_KEYBOARD;
	if ((size_t)size == hid_ptr_report_desc_len && memcmp(d.value, hid_ptr_report_desc, (size_t)size) == 0)
		return HID_IFACE_POINTER;
	if ((size_t)size == hid_mouse_report_desc_len && memcmp(d.value, hid_mouse_report_desc, (size_t)size) == 0)
		return HID_IFACE_MOUSE;
	return -1;
}

static void
hid_scan(struct target *t)
{
	for (int n = 0; n < HIDRAW_MAX; n++) {
		char path[32];
		int fd, iface;

		if (t->hid_fd[HID_IFACE_KEYBOARD] >= 0 && t->hid_fd[HID_IFACE_POINTER] >= 0 &&
		    t->hid_fd[HID_IFACE_MOUSE] >= 0)
			return;
		snprintf(path, sizeof(path), "/dev/hidraw%d", n);
		if ((fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC)) < 0)
			continue;
		iface = hidraw_iface(fd);
		if (iface < 0 || t->hid_fd[iface] >= 0) {
			close(fd);
			continue;
		}
		t->hid_fd[iface] = fd;
		target_log(WK_LOG_INFO, "hid: %s is the %s", path, iface_name[iface]);
	}
}

static void
hid_read(struct target *t, int iface)
{
	uint8_t buf[64];
	ssize_t n;

	while ((n = read(t->hid_fd[iface], buf, sizeof(buf))) > 0) {
		t->reports[iface]++;
		if (iface == HID_IFACE_KEYBOARD) {
			/* The board's tests measure the delay from this line. */
			target_log(WK_LOG_INFO, "hid: kbd %02x %02x %02x %02x %02x %02x %02x %02x at %llu",
				   buf[0], buf[1], buf[2], buf[3], buf[4], buf[5], buf[6], buf[7],
				   (unsigned long long)wk_now_us());
		} else if (iface == HID_IFACE_MOUSE && n == HID_MOUSE_REPORT_LEN) {
			target_log(WK_LOG_INFO, "hid: mouse %02x %02x %02x %02x %02x", buf[0], buf[1], buf[2], buf[3], buf[4]);
		}
		if (sim_hid_input(t->sim, iface, buf, (size_t)n) < 0)
			target_log(WK_LOG_WARN, "hid: malformed %zd-byte report on interface %d dropped", n, iface);
	}
	if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
		if (n < 0)
			target_log(WK_LOG_WARN, "hid: read interface %d: %s", iface, strerror(errno));
		hid_close(t, iface);
	}
}

/* The target's lock state changed: the USB host sends the LED output
 * report to the keyboard, as a PC does. */
static void
on_led_out(void *ctx, const uint8_t *report, size_t len)
{
	struct target *t = ctx;
	uint8_t buf[2];
	int fd = t->hid_fd[HID_IFACE_KEYBOARD];

	if (len < 1 || fd < 0)
		return;
	buf[0] = 0;	/* no report ids: hidraw wants a zero first */
	buf[1] = report[0];
	if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
		target_log(WK_LOG_WARN, "hid: LED report 0x%02x: %s", report[0], strerror(errno));
	else
		target_log(WK_LOG_INFO, "hid: LED report 0x%02x sent", report[0]);
}

/* ---- screen ---- */

static void
dump_frame(const struct target *t)
{
	const struct cap_frame *f = &t->last;
	FILE *fp;

	if (!t->have_last) {
		target_log(WK_LOG_WARN, "freeze: no frame on the output yet");
		return;
	}
	if ((fp = fopen(FRAME_DUMP ".tmp", "wb")) == NULL) {
		target_log(WK_LOG_WARN, "%s: %s", FRAME_DUMP, strerror(errno));
		return;
	}
	fprintf(fp, "P6\n%d %d\n255\n", f->width, f->height);
	for (int y = 0; y < f->height; y++) {
		const uint8_t *p = f->data + (size_t)y * f->stride;

		for (int x = 0; x < f->width; x++, p += 4) {
			fputc(p[2], fp);
			fputc(p[1], fp);
			fputc(p[0], fp);
		}
	}
	if (fclose(fp) != 0 || rename(FRAME_DUMP ".tmp", FRAME_DUMP) != 0)
		target_log(WK_LOG_WARN, "%s: %s", FRAME_DUMP, strerror(errno));
	else
		target_log(WK_LOG_INFO, "freeze: frame %dx%d written to %s", f->width, f->height, FRAME_DUMP);
}

static void
frame_step(struct target *t, uint64_t now)
{
	struct cap_frame f;
	int r, w, h;

	if (t->vout == NULL) {
		if (now < t->next_vout_us)
			return;
		t->next_vout_us = now + 1000000u;
		if ((t->vout = vout_open(t->out_path, t->cap_path, t->fmt, t->vout_failing)) == NULL) {
			t->vout_failing = true;
			return;
		}
		if (t->vout_failing)
			target_log(WK_LOG_INFO, "%s: output back", t->out_path);
		t->vout_failing = false;
	}
	if (t->frozen)
		return;
	vout_size(t->vout, &w, &h);
	if (w != 0 && (r = vout_ready(t->vout)) <= 0) {
		if (r < 0)
			goto lost;
		return;
	}
	if (sim_render(t->sim, now, &f) < 0)
		return;		/* powered off: the last picture stays */
	if (f.width != w || f.height != h) {
		t->have_last = false;
		if ((r = vout_configure(t->vout, f.width, f.height)) < 0)
			goto lost;
	}
	if ((r = vout_put(t->vout, &f)) < 0)
		goto lost;
	if (r > 0) {
		t->last = f;
		t->have_last = true;
	}
	return;
lost:
	/* Most often the driver went away (rmmod): start over in a second. */
	target_log(WK_LOG_WARN, "%s: output lost (%s), reopening", t->out_path, strerror(-r));
	t->vout_failing = true;
	vout_close(t->vout);
	t->vout = NULL;
	t->have_last = false;
	t->next_vout_us = now + 1000000u;
}

/* ---- tools ---- */

static int
ctl_request(const char *sock, const char *json)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char buf[8192];
	size_t have = 0;
	int fd;

	if (strlen(sock) >= sizeof(a.sun_path)) {
		target_log(WK_LOG_ERROR, "%s: socket path too long", sock);
		return 1;
	}
	memcpy(a.sun_path, sock, strlen(sock));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		target_log(WK_LOG_ERROR, "%s: connect: %s", sock, strerror(errno));
		return 1;
	}
	printf("sent_us=%llu\n", (unsigned long long)wk_now_us());
	if (write(fd, json, strlen(json)) != (ssize_t)strlen(json) || write(fd, "\n", 1) != 1) {
		target_log(WK_LOG_ERROR, "%s: write: %s", sock, strerror(errno));
		close(fd);
		return 1;
	}
	while (have < sizeof(buf) - 1) {
		ssize_t n = read(fd, buf + have, sizeof(buf) - 1 - have);

		if (n <= 0)
			break;
		have += (size_t)n;
		if (memchr(buf, '\n', have) != NULL)
			break;
	}
	close(fd);
	buf[have] = '\0';
	fputs(buf, stdout);
	return have > 0 ? 0 : 1;
}

static int
ctrl_tool(int argc, char **argv, bool set)
{
	uint64_t id;
	long val = 0;
	int32_t got;
	int r;

	/* Control IDs are written in hex, as in videodev2.h; values in decimal. */
	if (argc != (set ? 3 : 2) || wk_parse_hex(argv[1], UINT32_MAX, &id) < 0 ||
	    (set && wk_parse_long(argv[2], INT32_MIN, INT32_MAX, &val) < 0)) {
		fprintf(stderr, "usage: webkvm-target --set-ctrl DEV 0xID VALUE | --get-ctrl DEV 0xID\n");
		return 2;
	}
	r = set ? vctl_set(argv[0], (uint32_t)id, (int32_t)val) : vctl_get(argv[0], (uint32_t)id, &got);
	if (r < 0) {
		target_log(WK_LOG_ERROR, "%s: control 0x%08llx: %s", argv[0], (unsigned long long)id, strerror(-r));
		return 1;
	}
	if (!set)
		printf("%d\n", got);
	return 0;
}

static void
usage(FILE *fp)
{
	fprintf(fp,
		"usage: webkvm-target --output DEV [options]\n"
		"  --output DEV     V4L2 output the screen goes to (vivid's HDMI output)\n"
		"  --capture DEV    vivid capture node whose controls select the timings\n"
		"  --format FMT     output pixel format: yuyv, uyvy, rgb24, bgr24, rgb565 [yuyv]\n"
		"  --size WxH       initial screen size [1280x720]\n"
		"  --fps N          frames rendered per second, 1..60 [30]\n"
		"  --layout NAME    the keyboard layout the target decodes keys with [en-us]\n"
		"tools:\n"
		"  --ctl SOCKET JSON, --set-ctrl DEV 0xID VALUE, --get-ctrl DEV 0xID\n");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "capture", required_argument, NULL, 'c' },
		{ "format", required_argument, NULL, 'f' },
		{ "size", required_argument, NULL, 's' },
		{ "fps", required_argument, NULL, 'r' },
		{ "layout", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct target t = { .fmt = CAP_FMT_YUYV, .fps = 30,
			    .hid_fd = { -1, -1, -1 } };
	const char *layout = NULL;
	int w = 1280, h = 720, c, sfd;
	sigset_t sigs;
	long v;

	if (argc >= 2 && strcmp(argv[1], "--ctl") == 0) {
		if (argc != 4) {
			usage(stderr);
			return 2;
		}
		return ctl_request(argv[2], argv[3]);
	}
	if (argc >= 2 && (strcmp(argv[1], "--set-ctrl") == 0 || strcmp(argv[1], "--get-ctrl") == 0))
		return ctrl_tool(argc - 2, argv + 2, argv[1][2] == 's');

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': t.out_path = optarg; break;
		case 'c': t.cap_path = optarg; break;
		case 'f':
			if ((t.fmt = cap_fmt_parse(optarg)) == CAP_FMT_NONE || t.fmt == CAP_FMT_MJPEG) {
				target_log(WK_LOG_ERROR, "--format: unknown or unusable pixel format \"%s\"", optarg);
				return 2;
			}
			break;
		case 's':
			if (parse_size(optarg, &w, &h) < 0) {
				target_log(WK_LOG_ERROR, "--size: \"%s\" is not WxH (320x200 to 4096x2160)", optarg);
				return 2;
			}
			break;
		case 'r':
			if (wk_parse_long(optarg, 1, 60, &v) < 0) {
				target_log(WK_LOG_ERROR, "--fps: \"%s\" is not 1..60", optarg);
				return 2;
			}
			t.fps = (int)v;
			break;
		case 'l':
			if (hid_layout_find(optarg) < 0) {
				target_log(WK_LOG_ERROR, "--layout: \"%s\" is not a layout we know", optarg);
				return 2;
			}
			layout = optarg;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (t.out_path == NULL || optind != argc) {
		usage(stderr);
		return 2;
	}
	if ((t.sim = sim_new(w, h)) == NULL) {
		target_log(WK_LOG_ERROR, "cannot make a %dx%d screen (320x200 to 4096x2160)", w, h);
		return 1;
	}
	sim_set_led_out(t.sim, on_led_out, &t);
	if (layout != NULL)
		sim_set_layout(t.sim, hid_layout_find(layout));
	setvbuf(stderr, NULL, _IOLBF, 0);

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGUSR1);
	sigaddset(&sigs, SIGUSR2);
	if (sigprocmask(SIG_BLOCK, &sigs, NULL) < 0 ||
	    (sfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
		target_log(WK_LOG_ERROR, "signalfd: %s", strerror(errno));
		return 1;
	}
	target_log(WK_LOG_INFO, "started: %s %s %dx%d %d fps", t.out_path, cap_fmt_name(t.fmt), w, h, t.fps);

	for (;;) {
		struct pollfd pfd[1 + HID_IFACE_COUNT];
		int n = 0, idx[HID_IFACE_COUNT], timeout;
		uint64_t now = wk_now_us(), next;

		if (now >= t.next_scan_us) {
			hid_scan(&t);
			/* A PC types with a keyboard the moment usbhid has bound
			 * it: without one, its hidraw node is looked for often. */
			t.next_scan_us = now + (t.hid_fd[HID_IFACE_KEYBOARD] < 0 ? 20000u : 500000u);
		}
		if (now >= t.next_frame_us) {
			frame_step(&t, now);
			t.next_frame_us = now + 1000000u / (unsigned)t.fps;
		}
		pfd[n++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		for (int i = 0; i < HID_IFACE_COUNT; i++) {
			idx[i] = -1;
			if (t.hid_fd[i] >= 0) {
				idx[i] = n;
				pfd[n++] = (struct pollfd){ .fd = t.hid_fd[i], .events = POLLIN };
			}
		}
		now = wk_now_us();
		next = t.next_frame_us < t.next_scan_us ? t.next_frame_us : t.next_scan_us;
		timeout = next > now ? (int)((next - now + 999) / 1000) : 0;
		if (poll(pfd, (nfds_t)n, timeout) < 0 && errno != EINTR) {
			target_log(WK_LOG_ERROR, "poll: %s", strerror(errno));
			break;
		}
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				if (si.ssi_signo == SIGUSR1) {
					t.frozen = true;
					dump_frame(&t);
				} else if (si.ssi_signo == SIGUSR2) {
					t.frozen = false;
					target_log(WK_LOG_INFO, "thawed");
				} else {
					target_log(WK_LOG_INFO, "signal %u: stopping", si.ssi_signo);
					break;
				}
			}
		}
		for (int i = 0; i < HID_IFACE_COUNT; i++)
			if (idx[i] >= 0 && (pfd[idx[i]].revents & (POLLIN | POLLERR | POLLHUP)))
				hid_read(&t, i);
	}
	vout_close(t.vout);
	for (int i = 0; i < HID_IFACE_COUNT; i++)
		hid_close(&t, i);
	close(sfd);
	sim_free(t.sim);
	return 0;
}
