#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "firmware/control.h"
#include "firmware/log.h"

struct conn {
	int fd;
	size_t len;		/* bytes in buf */
	char *buf;		/* FW_CONTROL_MAX_LINE + 1, allocated on accept */
};

struct fw_control {
	int fd;
	char path[108];
	fw_control_fn fn;
	void *ctx;
	struct conn conns[FW_CONTROL_MAX_CLIENTS];
};

/* A group from /etc/group itself.  The system groups we look up live
 * there (sysusers creates "webkvm"); asking NSS first would load its
 * modules (libnss_systemd and friends) into the daemon for good. */
static int
etc_group(const char *name, gid_t *gid)
{
	struct group gr, *res;
	char buf[4096];
	FILE *fp = fopen("/etc/group", "re");
	int found = -1;

	if (fp == NULL)
		return -1;
	while (fgetgrent_r(fp, &gr, buf, sizeof(buf), &res) == 0)
		if (strcmp(gr.gr_name, name) == 0) {
			*gid = gr.gr_gid;
			found = 0;
			break;
		}
	fclose(fp);
	return found;
}

/* The group the socket file gets: -1 = leave it (ours), or an error. */
static int
socket_group(const char *group, gid_t *gid, char *err, size_t errlen)
{
	struct group gr, *res = NULL;
	char buf[4096];
	const char *name = group && group[0] ? group : "webkvm";
	int rc;

	if (etc_group(name, gid) == 0)
		return 0;
	rc = getgrnam_r(name, &gr, buf, sizeof(buf), &res);

	if (rc == 0 && res != NULL) {
		*gid = gr.gr_gid;
		return 0;
	}
	*gid = (gid_t)-1;
	if (group == NULL || group[0] == '\0')
		return 0;
	snprintf(err, errlen, "control-group %s: %s", group,
		 rc ? strerror(rc) : "no such group");
	return -1;
}

struct fw_control *
fw_control_new(const char *path, const char *group, fw_control_fn fn, void *ctx,
	       char *err, size_t errlen)
{
	gid_t gid;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct fw_control *c;
	struct stat st;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "control socket %s: path too long (at most %zu bytes)",
			 path, sizeof(sa.sun_path) - 1);
		return NULL;
	}
	if (socket_group(group, &gid, err, errlen) < 0)
		return NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, errlen, "control socket: out of memory");
		return NULL;
	}
	for (int i = 0; i < FW_CONTROL_MAX_CLIENTS; i++)
		c->conns[i].fd = -1;
	c->fn = fn;
	c->ctx = ctx;
	snprintf(c->path, sizeof(c->path), "%s", path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	/* Replace a stale socket left by a previous run, never another file. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "control socket %s: exists and is not a socket", path);
			goto fail;
		}
		unlink(path);
	}
	if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
		snprintf(err, errlen, "control socket %s: socket: %s", path, strerror(errno));
		goto fail;
	}
	if (bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(err, errlen, "control socket %s: bind: %s", path, strerror(errno));
		goto fail_fd;
	}
	/* chown on the path: on a socket fd, fchown would change the socket
	 * inode, not the file others connect through. */
	if (gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) < 0) {
		if (group != NULL && group[0] != '\0') {
			snprintf(err, errlen, "control socket %s: group %s: %s", path, group, strerror(errno));
			unlink(path);
			goto fail_fd;
		}
		fw__log(FW_LOG_WARN, "control socket %s: cannot give it to group webkvm (%s); "
			"it keeps our group", path, strerror(errno));
		gid = (gid_t)-1;
	}
	if (chmod(path, 0660) < 0 || listen(c->fd, SOMAXCONN) < 0) {
		snprintf(err, errlen, "control socket %s: %s", path, strerror(errno));
		unlink(path);
		goto fail_fd;
	}
	if (lstat(path, &st) == 0)
		fw__log(FW_LOG_INFO, "control socket on %s (mode 0660, group %lu)", path,
			(unsigned long)st.st_gid);
	return c;
fail_fd:
	close(c->fd);
fail:
	free(c);
	return NULL;
}

static void
conn_close(struct conn *k)
{
	if (k->fd >= 0)
		close(k->fd);
	free(k->buf);
	k->fd = -1;
	k->buf = NULL;
	k->len = 0;
}

void
fw_control_free(struct fw_control *c)
{
	if (c == NULL)
		return;
	for (int i = 0; i < FW_CONTROL_MAX_CLIENTS; i++)
		conn_close(&c->conns[i]);
	close(c->fd);
	unlink(c->path);
	free(c);
}

int
fw_control_pollfds(struct fw_control *c, struct pollfd *pfd, int max)
{
	int n = 0;

	if (n < max)
		pfd[n++] = (struct pollfd){ .fd = c->fd, .events = POLLIN };
	for (int i = 0; i < FW_CONTROL_MAX_CLIENTS && n < max; i++)
		if (c->conns[i].fd >= 0)
			pfd[n++] = (struct pollfd){ .fd = c->conns[i].fd, .events = POLLIN };
	return n;
}

/* Sends one answer line.  Answers are small; a peer whose socket buffer
 * cannot take one is not reading and is dropped rather than waited for. */
static int
send_line(struct conn *k, const char *resp)
{
	size_t len = strlen(resp);
	char *line = malloc(len + 1);
	ssize_t w;

	if (line == NULL)
		return -1;
	memcpy(line, resp, len);
	line[len] = '\n';
	w = send(k->fd, line, len + 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	free(line);
	if (w != (ssize_t)(len + 1)) {
		fw__log(FW_LOG_WARN, "control: client not reading its answers; closing it");
		return -1;
	}
	return 0;
}

static void
handle_line(struct fw_control *c, struct conn *k, const char *line, size_t len)
{
	static char resp[65536];
	char err[512];
	struct ctl_req req;

	if (ctl_req_parse(&req, line, len, err, sizeof(err)) < 0) {
		ctl_reply_error(resp, sizeof(resp), err);
		fw__log(FW_LOG_WARN, "control: request dropped: %s", err);
	} else {
		c->fn(c->ctx, &req, resp, sizeof(resp));
	}
	ctl_req_free(&req);
	if (send_line(k, resp) < 0)
		conn_close(k);
}

static void
conn_read(struct fw_control *c, struct conn *k)
{
	for (;;) {
		ssize_t r = recv(k->fd, k->buf + k->len, FW_CONTROL_MAX_LINE + 1 - k->len, MSG_DONTWAIT);
		char *nl;

		if (r == 0) {
			conn_close(k);
			return;
		}
		if (r < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return;
			fw__log(FW_LOG_WARN, "control: recv: %s", strerror(errno));
			conn_close(k);
			return;
		}
		k->len += (size_t)r;
		while (k->fd >= 0 && (nl = memchr(k->buf, '\n', k->len)) != NULL) {
			size_t n = (size_t)(nl - k->buf);

			if (n > 0 && !(n == 1 && k->buf[0] == '\r'))
				handle_line(c, k, k->buf, n);
			if (k->fd < 0)
				return;
			memmove(k->buf, nl + 1, k->len - n - 1);
			k->len -= n + 1;
		}
		if (k->len > FW_CONTROL_MAX_LINE) {
			fw__log(FW_LOG_WARN, "control: request longer than %d bytes; closing", FW_CONTROL_MAX_LINE);
			send_line(k, "{\"ok\":false,\"error\":\"request line too long\"}");
			conn_close(k);
			return;
		}
	}
}

void
fw_control_process(struct fw_control *c)
{
	/* Read first: that also reaps connections their peers closed, so
	 * they do not count against the limit for the ones waiting. */
	for (int i = 0; i < FW_CONTROL_MAX_CLIENTS; i++)
		if (c->conns[i].fd >= 0)
			conn_read(c, &c->conns[i]);
	for (;;) {
		int fd = accept4(c->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		int i;

		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				fw__log(FW_LOG_WARN, "control: accept: %s", strerror(errno));
			break;
		}
		for (i = 0; i < FW_CONTROL_MAX_CLIENTS && c->conns[i].fd >= 0; i++)
			;
		if (i == FW_CONTROL_MAX_CLIENTS) {
			fw__log(FW_LOG_WARN, "control: %d clients already; refusing one", i);
			close(fd);
			continue;
		}
		if ((c->conns[i].buf = malloc(FW_CONTROL_MAX_LINE + 1)) == NULL) {
			close(fd);
			continue;
		}
		c->conns[i].fd = fd;
		c->conns[i].len = 0;
		conn_read(c, &c->conns[i]);
	}
}
