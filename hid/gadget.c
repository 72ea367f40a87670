/* USB HID gadget transport: configfs gadget + non-blocking /dev/hidgN.
 *
 * f_hid accepts one report in flight per function: write() returns EAGAIN
 * until the host has polled the previous one, and ESHUTDOWN while no host
 * has configured the device.  So reports wait in a small queue per
 * interface and leave on POLLOUT.  While no host is known, f_hid itself
 * is asked whether one has come, twice a second and before each report;
 * a host's leaving shows in the UDC's state in sysfs or as a failed write. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "hid/gadget.h"
#include "hid/hid_int.h"

#define QUEUE_LEN 64
#define REPORT_MAX 8
#define ALL_IFACES ((1u << HID_IFACE_COUNT) - 1)
#define TICK_MS 500

struct report_queue {
	uint8_t r[QUEUE_LEN][REPORT_MAX];
	uint8_t len[QUEUE_LEN];
	int head, count;
};

struct hid_gadget {
	struct hid_gadget_options opt;
	char dir[256];		/* configfs gadget directory */
	char udc[64];		/* UDC it is bound to */
	enum hid_profile profile;
	unsigned ifaces;	/* 1 << HID_IFACE_* of the profile */
	int fd[HID_IFACE_COUNT];
	int tfd;		/* timerfd: host presence checks, reopening */
	bool present;
	bool announce;		/* on_host(true) owed: the host was found inside a send */
	struct report_queue q[HID_IFACE_COUNT];
	uint8_t last_ptr[HID_PTR_REPORT_LEN];	/* last pointer report written */
	bool reopen_failing[HID_IFACE_COUNT];	/* failure logged, retrying quietly */
	unsigned long dropped[HID_IFACE_COUNT];
};

static const char *const fn_name[HID_IFACE_COUNT] = { "hid.usb0", "hid.usb1", "hid.usb2" };
static const char *const if_name[HID_IFACE_COUNT] = { "keyboard", "pointer", "mouse" };

/* ---- configfs ---- */

static int
put_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[512];
	int fd, err;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0) {
		err = errno;
		hid__log(WK_LOG_ERROR, "gadget: %s: open: %s", path, strerror(err));
		return -err;
	}
	n = write(fd, data, len);
	err = errno;
	close(fd);
	if (n != (ssize_t)len) {
		hid__log(WK_LOG_ERROR, "gadget: %s: write: %s", path,
			 n < 0 ? strerror(err) : "short write");
		return n < 0 ? -err : -EIO;
	}
	return 0;
}

static int
put_str(const char *dir, const char *name, const char *value)
{
	return put_file(dir, name, value, strlen(value));
}

/* Reads a small sysfs/configfs text file, trailing newline removed. */
static int
get_str(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	err = errno;
	close(fd);
	if (n < 0)
		return -err;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return 0;
}

static int
make_dir(const char *path)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		int err = errno;

		hid__log(WK_LOG_ERROR, "gadget: mkdir %s: %s", path, strerror(err));
		return -err;
	}
	return 0;
}

/* Removes a gadget directory in the order configfs demands: unbind,
 * function links, config strings, configs, functions, strings, gadget. */
static void
remove_gadget(const char *dir)
{
	char path[512];
	struct stat st;
	DIR *d;
	struct dirent *e;

	if (stat(dir, &st) < 0)
		return;
	snprintf(path, sizeof(path), "%s/UDC", dir);
	{
		char cur[64];

		if (get_str(path, cur, sizeof(cur)) == 0 && cur[0] != '\0')
			put_str(dir, "UDC", "\n");
	}
	snprintf(path, sizeof(path), "%s/configs", dir);
	if ((d = opendir(path)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			char cfg[512], sub[800];
			DIR *cd;
			struct dirent *ce;

			if (e->d_name[0] == '.')
				continue;
			snprintf(cfg, sizeof(cfg), "%s/configs/%s", dir, e->d_name);
			if ((cd = opendir(cfg)) != NULL) {
				while ((ce = readdir(cd)) != NULL) {
					snprintf(sub, sizeof(sub), "%s/%s", cfg, ce->d_name);
					if (lstat(sub, &st) == 0 && S_ISLNK(st.st_mode) && unlink(sub) < 0)
						hid__log(WK_LOG_WARN, "gadget: unlink %s: %s", sub, strerror(errno));
				}
				closedir(cd);
			}
			snprintf(sub, sizeof(sub), "%s/strings/0x409", cfg);
			rmdir(sub);
			if (rmdir(cfg) < 0)
				hid__log(WK_LOG_WARN, "gadget: rmdir %s: %s", cfg, strerror(errno));
		}
		closedir(d);
	}
	snprintf(path, sizeof(path), "%s/functions", dir);
	if ((d = opendir(path)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			char fn[800];

			if (e->d_name[0] == '.')
				continue;
			snprintf(fn, sizeof(fn), "%s/functions/%s", dir, e->d_name);
			if (rmdir(fn) < 0)
				hid__log(WK_LOG_WARN, "gadget: rmdir %s: %s", fn, strerror(errno));
		}
		closedir(d);
	}
	snprintf(path, sizeof(path), "%s/strings/0x409", dir);
	rmdir(path);
	if (rmdir(dir) < 0)
		hid__log(WK_LOG_WARN, "gadget: rmdir %s: %s", dir, strerror(errno));
}

static int
first_udc(char *buf, size_t len)
{
	DIR *d = opendir("/sys/class/udc");
	struct dirent *e;
	int rc = -ENODEV;

	if (d == NULL) {
		hid__log(WK_LOG_ERROR, "gadget: /sys/class/udc: %s (no USB device controller driver?)",
			 strerror(errno));
		return -ENODEV;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (strlen(e->d_name) >= len)
			continue;
		memcpy(buf, e->d_name, strlen(e->d_name) + 1);
		rc = 0;
		break;
	}
	closedir(d);
	if (rc < 0)
		hid__log(WK_LOG_ERROR, "gadget: no UDC in /sys/class/udc");
	return rc;
}

static int
make_function(struct hid_gadget *g, int iface)
{
	/* The keyboard and the relative mouse are boot devices (subclass 1,
	 * protocols 1 and 2): a BIOS talks only to those.  The tablet is not
	 * and cannot be one: the boot protocol has no absolute pointer. */
	static const struct {
		const char *subclass, *protocol;
		const uint8_t *desc;
		const size_t *len;
	} fn[HID_IFACE_COUNT] = {
		{ "1", "1", hid_kbd_report_desc, &hid_kbd_report_desc_len },
		{ "0", "0", hid_ptr_report_desc, &hid_ptr_report_desc_len },
		{ "1", "2", hid_mouse_report_desc, &hid_mouse_report_desc_len },
	};
	char fdir[512], link[512], rlen[8];
	int rc;

	snprintf(fdir, sizeof(fdir), "%s/functions/%s", g->dir, fn_name[iface]);
	snprintf(rlen, sizeof(rlen), "%zu", hid_report_len(iface));
	if ((rc = make_dir(fdir)) < 0)
		return rc;
	if ((rc = put_str(fdir, "protocol", fn[iface].protocol)) < 0 ||
	    (rc = put_str(fdir, "subclass", fn[iface].subclass)) < 0 ||
	    (rc = put_str(fdir, "report_length", rlen)) < 0 ||
	    (rc = put_file(fdir, "report_desc", fn[iface].desc, *fn[iface].len)) < 0)
		return rc;
	snprintf(link, sizeof(link), "%s/configs/c.1/%s", g->dir, fn_name[iface]);
	if (symlink(fdir, link) < 0) {
		rc = -errno;
		hid__log(WK_LOG_ERROR, "gadget: symlink %s: %s", link, strerror(-rc));
		return rc;
	}
	return 0;
}

static int
build_gadget(struct hid_gadget *g)
{
	char sub[512];
	int rc;

	remove_gadget(g->dir);	/* a stale one from a crashed run */
	if ((rc = make_dir(g->dir)) < 0)
		return rc;
	snprintf(sub, sizeof(sub), "%s/strings/0x409", g->dir);
	if ((rc = put_str(g->dir, "idVendor", "0x1d6b")) < 0 ||	/* Linux Foundation */
	    (rc = put_str(g->dir, "idProduct", "0x0104")) < 0 ||	/* Multifunction Composite Gadget */
	    (rc = put_str(g->dir, "bcdDevice", "0x0100")) < 0 ||
	    (rc = put_str(g->dir, "bcdUSB", "0x0200")) < 0 ||
	    (rc = make_dir(sub)) < 0 ||
	    (rc = put_str(sub, "manufacturer", "webkvm")) < 0 ||
	    (rc = put_str(sub, "product", "webkvm KVM")) < 0 ||
	    (rc = put_str(sub, "serialnumber", g->opt.serial)) < 0)
		return rc;
	snprintf(sub, sizeof(sub), "%s/configs/c.1", g->dir);
	if ((rc = make_dir(sub)) < 0 || (rc = put_str(sub, "MaxPower", "100")) < 0 ||
	    (rc = put_str(sub, "bmAttributes", "0x80")) < 0)
		return rc;
	snprintf(sub, sizeof(sub), "%s/configs/c.1/strings/0x409", g->dir);
	if ((rc = make_dir(sub)) < 0 ||
	    (rc = put_str(sub, "configuration", hid_profile_name(g->profile))) < 0)
		return rc;
	/* Interface numbers follow the order of the links: the keyboard is
	 * always interface 0. */
	for (int i = 0; i < HID_IFACE_COUNT; i++)
		if ((g->ifaces & 1u << i) && (rc = make_function(g, i)) < 0)
			return rc;
	if (g->opt.udc != NULL)
		snprintf(g->udc, sizeof(g->udc), "%s", g->opt.udc);
	else if ((rc = first_udc(g->udc, sizeof(g->udc))) < 0)
		return rc;
	if ((rc = put_str(g->dir, "UDC", g->udc)) < 0) {
		hid__log(WK_LOG_ERROR, "gadget: cannot bind to UDC %s", g->udc);
		return rc;
	}
	hid__log(WK_LOG_INFO, "gadget: %s (%s) bound to %s", g->dir, hid_profile_name(g->profile), g->udc);
	return 0;
}

#define fail_log(g, iface, ...) do {				\
	if (!(g)->reopen_failing[iface])				\
		hid__log(WK_LOG_ERROR, "gadget: " __VA_ARGS__);	\
	(g)->reopen_failing[iface] = true;				\
} while (0)

/* /dev node of a function, from its "dev" attribute (major:minor).  A
 * failure that repeats (the function is gone with its UDC) is logged once,
 * and the recovery too. */
static int
open_function(struct hid_gadget *g, int iface)
{
	char path[512], devno[32], uevent[512], node[300];
	const char *name;
	int rc;

	snprintf(path, sizeof(path), "%s/functions/%s/dev", g->dir, fn_name[iface]);
	if ((rc = get_str(path, devno, sizeof(devno))) < 0) {
		fail_log(g, iface, "%s: %s", path, strerror(-rc));
		return rc;
	}
	snprintf(path, sizeof(path), "/sys/dev/char/%s/uevent", devno);
	if ((rc = get_str(path, uevent, sizeof(uevent))) < 0 ||
	    (name = strstr(uevent, "DEVNAME=")) == NULL) {
		fail_log(g, iface, "%s: no DEVNAME", path);
		return rc < 0 ? rc : -ENOENT;
	}
	name += strlen("DEVNAME=");
	snprintf(node, sizeof(node), "/dev/%.*s", (int)strcspn(name, "\n"), name);
	if ((g->fd[iface] = open(node, O_RDWR | O_NONBLOCK | O_CLOEXEC)) < 0) {
		rc = -errno;
		fail_log(g, iface, "%s: open: %s", node, strerror(-rc));
		return rc;
	}
	hid__log(WK_LOG_INFO, "gadget: %s is %s", if_name[iface], node);
	g->reopen_failing[iface] = false;
	return 0;
}

/* ---- queue ---- */

static void
q_clear(struct report_queue *q)
{
	q->head = q->count = 0;
}

static uint8_t *
q_at(struct report_queue *q, int i)
{
	return q->r[(q->head + i) % QUEUE_LEN];
}

static int
enqueue(struct hid_gadget *g, enum hid_iface iface, const uint8_t *buf, size_t len)
{
	struct report_queue *q = &g->q[iface];
	int slot;

	if (iface == HID_IFACE_POINTER && q->count > 1) {
		/* A move with the same buttons and no wheel replaces the move
		 * still waiting: the host only needs the newest position.  The
		 * head is never touched, it may be half-way to the host. */
		uint8_t *tail = q_at(q, q->count - 1);

		if (tail[0] == buf[0] && tail[5] == 0 && tail[6] == 0 && buf[5] == 0 && buf[6] == 0) {
			memcpy(tail, buf, len);
			return 0;
		}
	}
	if (iface == HID_IFACE_MOUSE && q->count > 1) {
		/* Moves add up; merged while the sum fits one report and both
		 * go the same way on each axis: at a screen edge the host
		 * stops the pointer, and a move out and back merged into one
		 * would end elsewhere than the two one after the other. */
		uint8_t *tail = q_at(q, q->count - 1);
		int tx = (int8_t)tail[1], ty = (int8_t)tail[2], bx = (int8_t)buf[1], by = (int8_t)buf[2];
		int x = tx + bx, y = ty + by;

		if (tail[0] == buf[0] && !tail[3] && !tail[4] && !buf[3] && !buf[4] &&
		    tx * bx >= 0 && ty * by >= 0 &&
		    x >= -HID_REL_MAX && x <= HID_REL_MAX && y >= -HID_REL_MAX && y <= HID_REL_MAX) {
			tail[1] = (uint8_t)(int8_t)x;
			tail[2] = (uint8_t)(int8_t)y;
			return 0;
		}
	}
	if (q->count == QUEUE_LEN && iface == HID_IFACE_MOUSE) {
		/* Relative reports do not hold the whole state: keep the moves
		 * queued and lose only this one's, keeping its buttons. */
		uint8_t *tail = q_at(q, q->count - 1);

		if (g->dropped[iface]++ == 0 || tail[0] != buf[0])
			hid__log(WK_LOG_WARN, "gadget: mouse: host not reading, %d reports queued; a move is lost",
				 q->count);
		tail[0] = buf[0];
		return 0;
	}
	if (q->count == QUEUE_LEN) {
		/* The host stopped polling.  Each report holds the whole state,
		 * so the newest alone leaves the host right; the edges in
		 * between (typed characters) are lost. */
		g->dropped[iface] += (unsigned long)q->count;
		hid__log(WK_LOG_WARN, "gadget: %s: host not reading, %d queued reports replaced by the newest",
			 if_name[iface], q->count);
		q_clear(q);
	}
	slot = (q->head + q->count) % QUEUE_LEN;
	memcpy(q->r[slot], buf, len);
	q->len[slot] = (uint8_t)len;
	q->count++;
	return 0;
}

static void host_gone(struct hid_gadget *g, const char *why);

static void
flush(struct hid_gadget *g, int iface)
{
	struct report_queue *q = &g->q[iface];

	while (q->count > 0 && g->fd[iface] >= 0) {
		int slot = q->head;
		ssize_t n = write(g->fd[iface], q->r[slot], q->len[slot]);

		if (n == (ssize_t)q->len[slot]) {
			if (iface == HID_IFACE_POINTER)
				memcpy(g->last_ptr, q->r[slot], HID_PTR_REPORT_LEN);
			q->head = (q->head + 1) % QUEUE_LEN;
			q->count--;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0 && (errno == ESHUTDOWN || errno == EPIPE || errno == ENODEV ||
			      errno == ECONNRESET || errno == EIO)) {
			char why[96];

			snprintf(why, sizeof(why), "%s write: %s", if_name[iface], strerror(errno));
			host_gone(g, why);
			return;
		}
		hid__log(WK_LOG_ERROR, "gadget: %s write: %s", if_name[iface],
			 n < 0 ? strerror(errno) : "short write");
		q->head = (q->head + 1) % QUEUE_LEN;	/* drop it, keep going */
		q->count--;
	}
}

/* ---- host presence ---- */

static void
host_gone(struct hid_gadget *g, const char *why)
{
	for (int i = 0; i < HID_IFACE_COUNT; i++)
		q_clear(&g->q[i]);
	if (!g->present)
		return;
	g->present = false;
	g->announce = false;
	hid__log(WK_LOG_WARN, "gadget: USB host gone (%s)", why);
	if (g->opt.on_host != NULL)
		g->opt.on_host(g->opt.ctx, false);
}

/* Asks f_hid whether a host has configured the device, by offering it an
 * empty keyboard report: ESHUTDOWN means still nobody (f_hid has no
 * request until a host sets the configuration), success or EAGAIN means a
 * host is there, and empty is exactly what a host that just came should
 * see first.  On arrival the pointer's buttons go up too, and on_host(true)
 * is owed (g->announce): it is called by host_announce(), never from here,
 * since a send of hid/'s may be what found the host. */
static bool
host_probe(struct hid_gadget *g)
{
	static const uint8_t zero[REPORT_MAX];
	uint8_t ptr[HID_PTR_REPORT_LEN];
	int fd;
	ssize_t n;

	if ((fd = g->fd[HID_IFACE_KEYBOARD]) < 0)
		return false;
	n = write(fd, zero, HID_KBD_REPORT_LEN);
	if (n != HID_KBD_REPORT_LEN && !(n < 0 && errno == EAGAIN))
		return false;
	g->present = true;
	g->announce = true;
	hid__log(WK_LOG_INFO, "gadget: USB host present on %s", g->udc);
	if (n < 0)
		enqueue(g, HID_IFACE_KEYBOARD, zero, HID_KBD_REPORT_LEN);
	/* Buttons up where the pointer was; the mouse still. */
	memcpy(ptr, g->last_ptr, sizeof(ptr));
	ptr[0] = ptr[5] = ptr[6] = 0;
	if (g->ifaces & 1u << HID_IFACE_POINTER)
		enqueue(g, HID_IFACE_POINTER, ptr, HID_PTR_REPORT_LEN);
	if (g->ifaces & 1u << HID_IFACE_MOUSE)
		enqueue(g, HID_IFACE_MOUSE, zero, HID_MOUSE_REPORT_LEN);
	return true;
}

static void
host_announce(struct hid_gadget *g)
{
	if (!g->announce)
		return;
	g->announce = false;
	if (g->opt.on_host != NULL)
		g->opt.on_host(g->opt.ctx, true);
}

/* Twice a second: while no host is known it is asked for (host_probe; a
 * send asks too, see gadget_send).  The UDC's state in sysfs tells when a
 * host leaves, where the UDC driver keeps it (dummy_hcd does not: there a
 * failed write tells). */
static void
host_check(struct hid_gadget *g)
{
	/* A node that vanished with its function (UDC driver reloaded) is
	 * looked up again. */
	for (int i = 0; i < HID_IFACE_COUNT; i++)
		if ((g->ifaces & 1u << i) && g->fd[i] < 0)
			open_function(g, i);
	if (g->present) {
		char path[160], st[64];

		snprintf(path, sizeof(path), "/sys/class/udc/%s/state", g->udc);
		if (get_str(path, st, sizeof(st)) == 0 && strcmp(st, "configured") != 0)
			host_gone(g, st);
		return;
	}
	host_probe(g);
	host_announce(g);
}

/* ---- public ---- */

static int
open_functions(struct hid_gadget *g)
{
	int rc;

	for (int i = 0; i < HID_IFACE_COUNT; i++)
		if ((g->ifaces & 1u << i) && (rc = open_function(g, i)) < 0)
			return rc;
	return 0;
}

static int
gadget_send(void *ctx, enum hid_iface iface, const uint8_t *buf, size_t len)
{
	struct hid_gadget *g = ctx;

	if ((unsigned)iface >= HID_IFACE_COUNT || len != hid_report_len(iface))
		return -EINVAL;
	if (!(g->ifaces & 1u << iface))
		return -ENODEV;
	if (g->fd[iface] < 0)
		return -ESHUTDOWN;
	/* The tick looks for a host only twice a second: one that has just
	 * configured the device (replugged, or reset by the target's
	 * firmware or OS) gets the keys typed before the next tick too.
	 * hid/ is told of it after this send (hid_gadget_process). */
	if (!g->present && !host_probe(g))
		return -ESHUTDOWN;
	enqueue(g, iface, buf, len);
	flush(g, iface);
	return 0;
}

int
hid_gadget_open(const struct hid_gadget_options *opt, struct hid_gadget **out)
{
	struct hid_gadget *g = calloc(1, sizeof(*g));
	const char *base;
	struct itimerspec its = {
		.it_interval = { .tv_nsec = TICK_MS * 1000000L },
		.it_value = { .tv_nsec = TICK_MS * 1000000L },
	};

	if (g == NULL)
		return HID_ENOMEM;
	g->opt = *opt;
	g->fd[0] = g->fd[1] = g->fd[2] = g->tfd = -1;
	if (hid_profile_ifaces(opt->profile) == 0) {
		hid__log(WK_LOG_ERROR, "gadget: bad profile %d", (int)opt->profile);
		free(g);
		return HID_EINVAL;
	}
	g->profile = opt->profile;
	g->ifaces = hid_profile_ifaces(opt->profile);
	if (g->opt.name == NULL || g->opt.name[0] == '\0' || strchr(g->opt.name, '/') != NULL) {
		if (g->opt.name != NULL) {
			hid__log(WK_LOG_ERROR, "gadget: bad name \"%s\"", g->opt.name);
			free(g);
			return HID_EINVAL;
		}
		g->opt.name = "webkvm";
	}
	if (g->opt.serial == NULL)
		g->opt.serial = "0001";
	base = g->opt.configfs ? g->opt.configfs : "/sys/kernel/config/usb_gadget";
	snprintf(g->dir, sizeof(g->dir), "%s/%s", base, g->opt.name);
	if (access(base, F_OK) < 0) {
		hid__log(WK_LOG_ERROR, "gadget: %s: %s (configfs mounted? libcomposite loaded?)",
			 base, strerror(errno));
		free(g);
		return HID_EIO;
	}
	if (build_gadget(g) < 0 || open_functions(g) < 0)
		goto fail;
	if ((g->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) < 0 ||
	    timerfd_settime(g->tfd, 0, &its, NULL) < 0) {
		hid__log(WK_LOG_ERROR, "gadget: timerfd: %s", strerror(errno));
		goto fail;
	}
	host_check(g);
	*out = g;
	return 0;
fail:
	hid_gadget_close(g);
	return HID_EIO;
}

static void
close_functions(struct hid_gadget *g)
{
	for (int i = 0; i < HID_IFACE_COUNT; i++) {
		if (g->fd[i] >= 0)
			close(g->fd[i]);
		g->fd[i] = -1;
		g->reopen_failing[i] = false;
		q_clear(&g->q[i]);
	}
}

int
hid_gadget_set_profile(struct hid_gadget *g, enum hid_profile profile)
{
	if (hid_profile_ifaces(profile) == 0)
		return HID_EINVAL;
	if (profile == g->profile)
		return 0;
	hid__log(WK_LOG_INFO, "gadget: profile %s -> %s: the host sees the device unplugged and plugged again",
		 hid_profile_name(g->profile), hid_profile_name(profile));
	close_functions(g);
	host_gone(g, "profile change");
	remove_gadget(g->dir);
	g->profile = profile;
	g->ifaces = hid_profile_ifaces(profile);
	memset(g->last_ptr, 0, sizeof(g->last_ptr));
	/* On failure the functions that exist are retried by each tick, and
	 * a missing gadget directory is the admin's to see in the log. */
	if (build_gadget(g) < 0 || open_functions(g) < 0)
		return HID_EIO;
	host_check(g);
	return 0;
}

void
hid_gadget_close(struct hid_gadget *g)
{
	if (g == NULL)
		return;
	close_functions(g);
	if (g->tfd >= 0)
		close(g->tfd);
	remove_gadget(g->dir);
	free(g);
}

struct hid_transport
hid_gadget_transport(struct hid_gadget *g)
{
	return (struct hid_transport){ .send = gadget_send, .ctx = g };
}

int
hid_gadget_pollfds(struct hid_gadget *g, struct pollfd *pfd, int max)
{
	int n = 0;

	if (n < max)
		pfd[n++] = (struct pollfd){ .fd = g->tfd, .events = POLLIN };
	for (int i = 0; i < HID_IFACE_COUNT && n < max; i++) {
		short ev = i == HID_IFACE_KEYBOARD ? POLLIN : 0;

		if (g->q[i].count > 0)
			ev |= POLLOUT;
		if (g->fd[i] >= 0 && ev != 0)
			pfd[n++] = (struct pollfd){ .fd = g->fd[i], .events = ev };
	}
	return n;
}

void
hid_gadget_process(struct hid_gadget *g)
{
	uint64_t ticks;
	uint8_t buf[64];
	ssize_t n;

	host_announce(g);
	if (read(g->tfd, &ticks, sizeof(ticks)) == (ssize_t)sizeof(ticks))
		host_check(g);
	if (g->fd[HID_IFACE_KEYBOARD] >= 0) {
		while ((n = read(g->fd[HID_IFACE_KEYBOARD], buf, sizeof(buf))) > 0)
			if (g->opt.on_led != NULL)
				g->opt.on_led(g->opt.ctx, buf, (size_t)n);
		if (n < 0 && errno != EAGAIN && errno != EINTR && errno != ESHUTDOWN) {
			hid__log(WK_LOG_WARN, "gadget: keyboard read: %s; reopening", strerror(errno));
			close(g->fd[HID_IFACE_KEYBOARD]);
			g->fd[HID_IFACE_KEYBOARD] = -1;
		}
	}
	for (int i = 0; i < HID_IFACE_COUNT; i++)
		if (g->present)
			flush(g, i);
	host_announce(g);
}

bool
hid_gadget_host_present(struct hid_gadget *g)
{
	return g->present || host_probe(g);
}

int
hid_gadget_queued(const struct hid_gadget *g, enum hid_iface iface)
{
	return (unsigned)iface < HID_IFACE_COUNT ? g->q[iface].count : 0;
}
