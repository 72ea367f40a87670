/* webkvm-passwd: manages webkvm-proxy's users file.
 *
 *   webkvm-passwd add [--file FILE] USER    add or change USER's password
 *   webkvm-passwd del [--file FILE] USER
 *   webkvm-passwd list [--file FILE]
 *
 * Lines are "name:$argon2id$v=19$m=65536,t=3,p=1$salt$hash".  The cost
 * (3 passes over 64 MiB, one lane) takes about 0.2 s on a small ARM board's
 * core, which the proxy pays once per login, and makes each guess of an
 * offline attacker as expensive.  The salt is 16 bytes from getrandom().
 * The file is replaced atomically (temporary file, fsync, rename) with mode
 * 0600: only the proxy, before it drops root, reads it. */
#include <argon2.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "proxy/proxy.h"

#define T_COST 3
#define M_COST_KIB (64 * 1024)
#define LANES 1
#define SALT_LEN 16
#define HASH_LEN 32
#define FILE_MAX (1024 * 1024)

static void
usage(FILE *f)
{
	fprintf(f, "usage: webkvm-passwd add|del|list [--file FILE] [USER]\n"
		   "  FILE defaults to " PROXY_USERS_DEFAULT "; add reads the password from the\n"
		   "  terminal (twice, not echoed) or, when stdin is not a terminal, one line of it\n");
}

/* Reads the file; a missing one is empty.  *buf is malloc'd, NUL-ended;
 * NULL on failure. */
static int
read_file(const char *path, char **buf, size_t *len)
{
	FILE *f = fopen(path, "r");
	struct stat st;
	size_t n;

	*buf = NULL;
	*len = 0;
	if (f == NULL) {
		if (errno != ENOENT) {
			fprintf(stderr, "webkvm-passwd: %s: %s\n", path, strerror(errno));
			return -errno;
		}
		*buf = calloc(1, 1);
		return *buf ? 0 : -ENOMEM;
	}
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > FILE_MAX) {
		fprintf(stderr, "webkvm-passwd: %s: not a regular file of at most 1 MiB\n", path);
		fclose(f);
		return -EINVAL;
	}
	*buf = malloc((size_t)st.st_size + 1);
	if (*buf == NULL) {
		fclose(f);
		return -ENOMEM;
	}
	n = fread(*buf, 1, (size_t)st.st_size, f);
	if (ferror(f)) {
		fprintf(stderr, "webkvm-passwd: %s: %s\n", path, strerror(errno));
		fclose(f);
		free(*buf);
		*buf = NULL;
		return -EIO;
	}
	fclose(f);
	(*buf)[n] = '\0';
	*len = n;
	return 0;
}

/* The user name a line is for, or "" when it is not an entry. */
static void
line_user(const char *line, size_t len, char *name, size_t namelen)
{
	size_t n = 0;

	while (n < len && line[n] != ':')
		n++;
	name[0] = '\0';
	if (n < len && n > 0 && n < namelen && line[0] != '#') {
		memcpy(name, line, n);
		name[n] = '\0';
	}
}

/* Writes buf without USER's line, plus newline (may be NULL), atomically. */
static int
write_file(const char *path, const char *buf, size_t len, const char *user, const char *newline)
{
	char tmp[4096], name[PROXY_USER_MAX];
	FILE *f;
	int fd, bad = 0;
	size_t i = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp)) {
		fprintf(stderr, "webkvm-passwd: %s: path too long\n", path);
		return -ENAMETOOLONG;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "webkvm-passwd: %s: %s\n", tmp, strerror(errno));
		return -errno;
	}
	f = fdopen(fd, "w");
	if (f == NULL) {
		fprintf(stderr, "webkvm-passwd: %s: %s\n", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -ENOMEM;
	}
	while (i < len) {
		size_t n = strcspn(buf + i, "\n");

		line_user(buf + i, n, name, sizeof(name));
		if (strcmp(name, user) != 0 && n > 0)
			bad |= fprintf(f, "%.*s\n", (int)n, buf + i) < 0;
		i += n + 1;
	}
	if (newline)
		bad |= fprintf(f, "%s\n", newline) < 0;
	bad |= fflush(f) != 0;
	bad |= fsync(fd) != 0;
	if (fclose(f) != 0 || bad) {
		fprintf(stderr, "webkvm-passwd: %s: %s\n", tmp, strerror(errno));
		unlink(tmp);
		return -EIO;
	}
	if (rename(tmp, path) < 0) {
		fprintf(stderr, "webkvm-passwd: %s: %s\n", path, strerror(errno));
		unlink(tmp);
		return -errno;
	}
	return 0;
}

/* One line of the terminal with echo off, or of stdin. */
static int
read_password(const char *prompt, char *out, size_t outlen)
{
	bool tty = isatty(STDIN_FILENO);
	struct termios old, quiet;
	size_t n;
	int rc = 0;

	if (tty) {
		fprintf(stderr, "%s", prompt);
		if (tcgetattr(STDIN_FILENO, &old) < 0)
			return -errno;
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		quiet.c_lflag |= ECHONL;
		if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) < 0)
			return -errno;
	}
	if (fgets(out, (int)outlen, stdin) == NULL)
		rc = -EIO;
	if (tty)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	if (rc < 0) {
		fprintf(stderr, "webkvm-passwd: no password given\n");
		return rc;
	}
	n = strlen(out);
	if (n > 0 && out[n - 1] != '\n' && n == outlen - 1) {
		fprintf(stderr, "webkvm-passwd: password longer than %zu bytes\n", outlen - 2);
		return -E2BIG;
	}
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
		out[--n] = '\0';
	if (n == 0) {
		fprintf(stderr, "webkvm-passwd: empty password refused\n");
		return -EINVAL;
	}
	return 0;
}

static int
add(const char *path, const char *user)
{
	char pw[PROXY_PASSWORD_MAX], again[PROXY_PASSWORD_MAX], enc[PROXY_HASH_MAX];
	char line[PROXY_USER_MAX + PROXY_HASH_MAX + 2];
	unsigned char salt[SALT_LEN];
	char *buf;
	size_t len;
	int rc;

	if (read_password("Password: ", pw, sizeof(pw)) < 0)
		return 1;
	if (isatty(STDIN_FILENO)) {
		if (read_password("Again: ", again, sizeof(again)) < 0)
			return 1;
		if (strcmp(pw, again) != 0) {
			fprintf(stderr, "webkvm-passwd: the passwords differ\n");
			return 1;
		}
		explicit_bzero(again, sizeof(again));
	}
	if (getrandom(salt, sizeof(salt), 0) != (ssize_t)sizeof(salt)) {
		fprintf(stderr, "webkvm-passwd: getrandom: %s\n", strerror(errno));
		return 1;
	}
	rc = argon2id_hash_encoded(T_COST, M_COST_KIB, LANES, pw, strlen(pw), salt, sizeof(salt),
				   HASH_LEN, enc, sizeof(enc));
	explicit_bzero(pw, sizeof(pw));
	if (rc != ARGON2_OK) {
		fprintf(stderr, "webkvm-passwd: argon2id: %s\n", argon2_error_message(rc));
		return 1;
	}
	snprintf(line, sizeof(line), "%s:%s", user, enc);
	if (read_file(path, &buf, &len) < 0)
		return 1;
	rc = write_file(path, buf, len, user, line);
	free(buf);
	if (rc < 0)
		return 1;
	fprintf(stderr, "webkvm-passwd: %s: password set for %s\n", path, user);
	return 0;
}

static int
del(const char *path, const char *user)
{
	char *buf, name[PROXY_USER_MAX];
	size_t len, i = 0;
	bool found = false;
	int rc;

	if (read_file(path, &buf, &len) < 0)
		return 1;
	while (i < len) {
		size_t n = strcspn(buf + i, "\n");

		line_user(buf + i, n, name, sizeof(name));
		found |= strcmp(name, user) == 0;
		i += n + 1;
	}
	if (!found) {
		fprintf(stderr, "webkvm-passwd: %s: no user %s\n", path, user);
		free(buf);
		return 1;
	}
	rc = write_file(path, buf, len, user, NULL);
	free(buf);
	return rc < 0 ? 1 : 0;
}

static int
list(const char *path)
{
	char *buf, line[PROXY_USER_MAX + PROXY_HASH_MAX + 8], name[PROXY_USER_MAX], hash[PROXY_HASH_MAX];
	size_t len, i = 0;
	const char *why;

	if (read_file(path, &buf, &len) < 0)
		return 1;
	while (i < len) {
		size_t n = strcspn(buf + i, "\n");

		if (n < sizeof(line)) {
			memcpy(line, buf + i, n);
			line[n] = '\0';
			if (proxy_users_parse_line(line, name, sizeof(name), hash, sizeof(hash), &why) == 1)
				printf("%s\n", name);
		}
		i += n + 1;
	}
	free(buf);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *path = PROXY_USERS_DEFAULT, *cmd, *user = NULL;
	int i;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		usage(stdout);
		return 0;
	}
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--file") == 0 && i + 1 < argc) {
			path = argv[++i];
		} else if (strncmp(argv[i], "--file=", 7) == 0) {
			path = argv[i] + 7;
		} else if (argv[i][0] == '-' || user != NULL) {
			usage(stderr);
			return 2;
		} else {
			user = argv[i];
		}
	}
	if (strcmp(cmd, "list") == 0 && user == NULL)
		return list(path);
	if ((strcmp(cmd, "add") != 0 && strcmp(cmd, "del") != 0) || user == NULL) {
		usage(stderr);
		return 2;
	}
	if (!proxy_user_name_ok(user)) {
		fprintf(stderr, "webkvm-passwd: bad user name \"%.100s\": use 1-63 of A-Z a-z 0-9 . _ - "
				"(not starting with -)\n", user);
		return 2;
	}
	umask(077);
	return cmd[0] == 'a' ? add(path, user) : del(path, user);
}
