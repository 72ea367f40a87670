/* board/: board.conf, the folder boards live in, and the board_ops
 * dispatch with its "not on this board" answers. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "board/board.h"
#include "common/conf.h"
#include "common/parse.h"
#include "hid/hid.h"

struct board {
	struct board_def def;
	const struct board_ops *ops;
	void *impl;
};

const char *
board_strerror(int err)
{
	switch (err) {
	case 0: return "ok";
	case -ENOTSUP: return "not on this board";
	case -ENOENT: return "no such board";
	case -EINVAL: return "invalid argument";
	case -EIO: return "the board's hardware did not respond";
	case -ENOMEM: return "out of memory";
	default: return "board error";
	}
}

/* ---- board.conf ---- */

static bool
name_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n >= max || s[0] == '.' || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

/* Copies v into dst (len bytes); -1 when it does not fit. */
static int
put(char *dst, size_t len, const char *v)
{
	size_t n = strlen(v);

	if (n >= len)
		return -1;
	memcpy(dst, v, n + 1);
	return 0;
}

/* The keys of board.conf.  Hooks are keys whose code comes later: they
 * are documented, and refused when given a value until that code exists. */
enum key_id {
	K_DESCRIPTION, K_OPS, K_SOURCE, K_DEVICE, K_FORMAT, K_RESOLUTION, K_FPS, K_EDID,
	K_UDC, K_HID_PROFILE,
	K_POWER_BUTTON, K_RESET_BUTTON, K_POWER_LED, K_HDD_LED, K_MASS_STORAGE, K_SERIAL_PORT,
	K_COUNT
};

static const char *const key_names[K_COUNT] = {
	"description", "ops", "source", "device", "format", "resolution", "fps", "edid",
	"udc", "hid-profile",
	"power-button", "reset-button", "power-led", "hdd-led", "mass-storage", "serial-port",
};

/* Sets one key; 0, or -1 with what is wrong in msg. */
static int
set_key(struct board_def *d, enum key_id k, const char *v, char *msg, size_t msglen)
{
	long w, h;
	int n;

	/* An empty value leaves the key unset: "this board has none". */
	if (v[0] == '\0') {
		if (k == K_OPS || k == K_SOURCE) {
			snprintf(msg, msglen, "needs a value");
			return -1;
		}
		return 0;
	}
	switch (k) {
	case K_DESCRIPTION:
		if (put(d->description, sizeof(d->description), v) < 0)
			goto too_long;
		return 0;
	case K_OPS:
		if (strcmp(v, "sim") == 0)
			d->ops = BOARD_OPS_SIM;
		else if (strcmp(v, "generic") == 0)
			d->ops = BOARD_OPS_GENERIC;
		else {
			snprintf(msg, msglen, "\"%.32s\" is not sim or generic", v);
			return -1;
		}
		return 0;
	case K_SOURCE:
		if (strcmp(v, "sim") && strcmp(v, "v4l2") && strcmp(v, "pattern") && strcmp(v, "file")) {
			snprintf(msg, msglen, "\"%.32s\" is not one of sim, v4l2, pattern, file", v);
			return -1;
		}
		return put(d->source, sizeof(d->source), v);
	case K_DEVICE:
		if (v[0] != '/') {
			snprintf(msg, msglen, "\"%.64s\" is not an absolute path", v);
			return -1;
		}
		if (put(d->device, sizeof(d->device), v) < 0)
			goto too_long;
		return 0;
	case K_FORMAT:
		return cap_fmt_parse_list(v, d->formats, (int)(sizeof(d->formats) / sizeof(d->formats[0])),
					  msg, msglen) < 0 ? -1 : 0;
	case K_RESOLUTION:
		if (wk_parse_dims(v, 64, 8192, &w, &h) < 0) {
			snprintf(msg, msglen, "\"%.32s\" is not WxH with 64 <= W,H <= 8192", v);
			return -1;
		}
		d->width = (int)w;
		d->height = (int)h;
		return 0;
	case K_FPS:
		if (wk_parse_int(v, 1, 240, &n) < 0) {
			snprintf(msg, msglen, "\"%.32s\" is not a number from 1 to 240", v);
			return -1;
		}
		d->fps = n;
		return 0;
	case K_EDID:
		/* Relative to the board's folder, so a board carries its own. */
		if (v[0] == '/') {
			if (put(d->edid, sizeof(d->edid), v) < 0)
				goto too_long;
		} else if ((size_t)snprintf(d->edid, sizeof(d->edid), "%s/%s", d->dir, v) >= sizeof(d->edid)) {
			goto too_long;
		}
		return 0;
	case K_UDC:
		if (!name_ok(v, sizeof(d->udc))) {
			snprintf(msg, msglen, "\"%.64s\" is not a UDC name (as in /sys/class/udc)", v);
			return -1;
		}
		return put(d->udc, sizeof(d->udc), v);
	case K_HID_PROFILE:
		if ((n = hid_profile_find(v)) < 0) {
			snprintf(msg, msglen, "\"%.32s\" is not one of full, absolute, relative, keyboard", v);
			return -1;
		}
		d->hid_profile = n;
		return 0;
	case K_POWER_BUTTON:
	case K_RESET_BUTTON:
	case K_POWER_LED:
	case K_HDD_LED:
		snprintf(msg, msglen, "GPIO lines are not supported yet; leave it empty");
		return -1;
	case K_MASS_STORAGE:
		snprintf(msg, msglen, "virtual media is not supported yet; leave it empty");
		return -1;
	case K_SERIAL_PORT:
		snprintf(msg, msglen, "the serial console is not supported yet; leave it empty");
		return -1;
	case K_COUNT:
		break;
	}
	snprintf(msg, msglen, "unknown key");
	return -1;
too_long:
	snprintf(msg, msglen, "value too long");
	return -1;
}

struct load {
	struct board_def *def;
	int seen[K_COUNT];	/* the line of each key given, 0 when not yet */
};

static int
take_key(void *ctx, int lineno, const char *key, const char *val, char *msg, size_t msglen)
{
	struct load *l = ctx;
	char why[256];
	int k;

	for (k = 0; k < K_COUNT; k++)
		if (strcmp(key, key_names[k]) == 0)
			break;
	if (k == K_COUNT) {
		snprintf(msg, msglen, "unknown key \"%.40s\" (see board/README.md)", key);
		return -EINVAL;
	}
	if (l->seen[k]) {
		snprintf(msg, msglen, "%s given twice (first on line %d)", key, l->seen[k]);
		return -EINVAL;
	}
	l->seen[k] = lineno;
	if (set_key(l->def, (enum key_id)k, val, why, sizeof(why)) < 0) {
		snprintf(msg, msglen, "%s: %s", key, why);
		return -EINVAL;
	}
	return 0;
}

int
board_def_load(const char *path, const char *name, struct board_def *out, char *err, size_t errlen)
{
	struct load l = { .def = out };
	const char *slash;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!name_ok(name, sizeof(out->name))) {
		snprintf(err, errlen, "\"%.64s\" is not a board name (letters, digits, - _ .)", name);
		return -EINVAL;
	}
	put(out->name, sizeof(out->name), name);
	slash = strrchr(path, '/');
	snprintf(out->dir, sizeof(out->dir), "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
	out->ops = BOARD_OPS_GENERIC;
	snprintf(out->source, sizeof(out->source), "v4l2");
	out->hid_profile = HID_PROFILE_FULL;

	if ((rc = wk_conf_read(path, take_key, &l, err, errlen)) < 0)
		return rc;
	/* The sim source is the in-process target's screen. */
	if (strcmp(out->source, "sim") == 0 && out->ops != BOARD_OPS_SIM) {
		snprintf(err, errlen, "%s:%d: source = sim needs ops = sim (the in-process virtual target)",
			 path, l.seen[K_SOURCE]);
		return -EINVAL;
	}
	return 0;
}

/* ---- where boards are ---- */

int
board_dir_resolve(const char *dir, char *out, size_t len)
{
	char exe[PATH_MAX], cand[PATH_MAX + 32], real[PATH_MAX];
	ssize_t n;

	if (dir != NULL && dir[0] != '\0')
		return put(out, len, dir);
	/* A binary run from the source tree (build/webkvmd, build/san/webkvmd,
	 * build/san/tests/test_board) reads the tree's own boards, so a
	 * checkout needs no install.  The tree's board/ is told from any other
	 * by the source it holds. */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		static const char *const up[] = { "..", "../..", "../../.." };
		char *slash;

		exe[n] = '\0';
		if ((slash = strrchr(exe, '/')) != NULL)
			*slash = '\0';
		for (size_t i = 0; i < sizeof(up) / sizeof(up[0]); i++) {
			struct stat st;

			if ((size_t)snprintf(cand, sizeof(cand), "%s/%s/board/board.h", exe, up[i]) >= sizeof(cand) ||
			    stat(cand, &st) < 0 || !S_ISREG(st.st_mode))
				continue;
			cand[strlen(cand) - strlen("/board.h")] = '\0';
			if (realpath(cand, real) != NULL)
				return put(out, len, real);
		}
	}
	return put(out, len, BOARD_DIR_INSTALLED);
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

int
board_list(const char *dir, char names[][BOARD_NAME_MAX], int max)
{
	DIR *dp = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (dp == NULL)
		return -errno;
	while ((e = readdir(dp)) != NULL && n < max) {
		char conf[PATH_MAX];
		struct stat st;

		if (!name_ok(e->d_name, BOARD_NAME_MAX))
			continue;
		if ((size_t)snprintf(conf, sizeof(conf), "%s/%s/board.conf", dir, e->d_name) >= sizeof(conf))
			continue;
		if (stat(conf, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		put(names[n++], BOARD_NAME_MAX, e->d_name);
	}
	closedir(dp);
	if (n > 1)
		qsort(names, (size_t)n, BOARD_NAME_MAX, cmp_name);
	return n;
}

/* "a, b, c" */
static void
join_names(const char *dir, char *out, size_t len)
{
	char names[BOARD_MAX][BOARD_NAME_MAX];
	int n = board_list(dir, names, BOARD_MAX);
	size_t used = 0;

	out[0] = '\0';
	for (int i = 0; i < n && used < len; i++)
		used += (size_t)snprintf(out + used, len - used, "%s%s", i ? ", " : "", names[i]);
}

int
board_find(const char *dir, const char *name, struct board_def *out, char *err, size_t errlen)
{
	char conf[PATH_MAX], names[512];
	struct stat st;

	if (!name_ok(name, BOARD_NAME_MAX) ||
	    (size_t)snprintf(conf, sizeof(conf), "%s/%s/board.conf", dir, name) >= sizeof(conf) ||
	    stat(conf, &st) < 0 || !S_ISREG(st.st_mode)) {
		join_names(dir, names, sizeof(names));
		if (names[0] != '\0')
			snprintf(err, errlen, "board \"%.40s\" not found in %s; boards there: %s", name, dir, names);
		else
			snprintf(err, errlen, "board \"%.40s\" not found: no boards in %s (--board-dir DIR)", name, dir);
		return -ENOENT;
	}
	return board_def_load(conf, name, out, err, errlen);
}

int
board_print_list(FILE *fp, const char *dir)
{
	/* Zeroed: the analyser cannot see that -errno is negative. */
	char names[BOARD_MAX][BOARD_NAME_MAX] = { { 0 } };
	int n = board_list(dir, names, BOARD_MAX);

	if (n < 0) {
		fprintf(fp, "no boards: %s: %s\n", dir, strerror(-n));
		return n;
	}
	fprintf(fp, "boards in %s:\n", dir);
	for (int i = 0; i < n; i++) {
		struct board_def d;
		char err[512];

		if (board_find(dir, names[i], &d, err, sizeof(err)) < 0)
			fprintf(fp, "  %-14s (unusable: %s)\n", names[i], err);
		else
			fprintf(fp, "  %-14s %s\n", names[i], d.description);
	}
	if (n == 0)
		fprintf(fp, "  (none)\n");
	return n;
}

/* ---- board_ops ---- */

const char *
board_power_name(enum board_power a)
{
	static const char *const names[BOARD_POWER_COUNT] = {
		"on", "off", "force-off", "reset", "reboot",
	};

	return (unsigned)a < BOARD_POWER_COUNT ? names[a] : "?";
}

int
board_power_parse(const char *name)
{
	for (int a = 0; a < BOARD_POWER_COUNT; a++)
		if (name != NULL && strcmp(name, board_power_name((enum board_power)a)) == 0)
			return a;
	return -EINVAL;
}

/* A real board's operations come from its hooks; none is built yet, so
 * each one is "not on this board" (the NULL entries). */
static int
generic_open(const struct board_def *def, int width, int height, void **impl, char *err, size_t errlen)
{
	(void)def, (void)width, (void)height, (void)err, (void)errlen;
	*impl = NULL;
	return 0;
}

const struct board_ops board_generic_ops = {
	.name = "generic",
	.open = generic_open,
};

int
board_open(const struct board_def *def, int width, int height, struct board **out,
	   char *err, size_t errlen)
{
	struct board *b = calloc(1, sizeof(*b));
	int rc;

	*out = NULL;
	if (b == NULL) {
		snprintf(err, errlen, "board %s: out of memory", def->name);
		return -ENOMEM;
	}
	b->def = *def;
	b->ops = def->ops == BOARD_OPS_SIM ? &board_sim_ops : &board_generic_ops;
	if (width <= 0 || height <= 0) {
		width = def->width;
		height = def->height;
	}
	if (width <= 0 || height <= 0) {
		width = 1280;
		height = 720;
	}
	if ((rc = b->ops->open(def, width, height, &b->impl, err, errlen)) < 0) {
		free(b);
		return rc;
	}
	*out = b;
	return 0;
}

void
board_close(struct board *b)
{
	if (b == NULL)
		return;
	if (b->ops->close != NULL)
		b->ops->close(b->impl);
	free(b);
}

const struct board_def *
board_def(const struct board *b)
{
	return &b->def;
}

bool
board_has_power(const struct board *b)
{
	return b != NULL && b->ops->power != NULL;
}

bool
board_has_media(const struct board *b)
{
	return b != NULL && b->ops->media_insert != NULL;
}

bool
board_has_serial(const struct board *b)
{
	return b != NULL && b->ops->serial_open != NULL;
}

int
board_power(struct board *b, enum board_power action)
{
	if ((unsigned)action >= BOARD_POWER_COUNT)
		return -EINVAL;
	if (b == NULL || b->ops->power == NULL)
		return -ENOTSUP;
	return b->ops->power(b->impl, action);
}

int
board_leds(struct board *b, unsigned *have, unsigned *lit)
{
	*have = *lit = 0;
	if (b == NULL || b->ops->leds == NULL)
		return -ENOTSUP;
	return b->ops->leds(b->impl, have, lit);
}

int
board_media_insert(struct board *b, const char *path, unsigned flags)
{
	if (b == NULL || b->ops->media_insert == NULL)
		return -ENOTSUP;
	if (path == NULL || path[0] == '\0')
		return -EINVAL;
	return b->ops->media_insert(b->impl, path, flags);
}

int
board_media_eject(struct board *b)
{
	if (b == NULL || b->ops->media_eject == NULL)
		return -ENOTSUP;
	return b->ops->media_eject(b->impl);
}

int
board_serial_open(struct board *b)
{
	if (b == NULL || b->ops->serial_open == NULL)
		return -ENOTSUP;
	return b->ops->serial_open(b->impl);
}

struct sim_target *
board_sim_target(struct board *b)
{
	return b != NULL && b->ops == &board_sim_ops ? b->impl : NULL;
}
