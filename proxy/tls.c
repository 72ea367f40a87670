/* The self-signed certificate for --tls without --cert: made once with
 * openssl(1) into the state directory and reused on later starts, so
 * browsers that accepted it once keep accepting it.
 *
 * openssl(1) rather than libcrypto: the proxy links with libwebsockets
 * only, and a child process keeps key generation's failure modes out of
 * the server. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proxy/proxy.h"

extern char **environ;

/* mkdir -p with mode 0700 for what it creates. */
static int
make_dirs(const char *dir)
{
	char p[PATH_MAX];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(p))
		return -ENAMETOOLONG;
	memcpy(p, dir, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		p[i] = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			return -errno;
		p[i] = i == n ? '\0' : '/';
	}
	return 0;
}

static bool
exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
}

int
proxy_tls_selfsigned(const char *state_dir, char *cert, size_t certlen, char *key, size_t keylen,
		     char *err, size_t errlen)
{
	char tcert[PATH_MAX], tkey[PATH_MAX], host[256], subj[300], san[400];
	pid_t pid;
	int rc, status;
	mode_t old;

	if (snprintf(cert, certlen, "%s/cert.pem", state_dir) >= (int)certlen ||
	    snprintf(key, keylen, "%s/key.pem", state_dir) >= (int)keylen ||
	    snprintf(tcert, sizeof(tcert), "%s/cert.pem.new", state_dir) >= (int)sizeof(tcert) ||
	    snprintf(tkey, sizeof(tkey), "%s/key.pem.new", state_dir) >= (int)sizeof(tkey)) {
		snprintf(err, errlen, "--state-dir %.200s: path too long", state_dir);
		return -ENAMETOOLONG;
	}
	if (exists(cert) && exists(key)) {
		/* An admin may have loosened them; a private key stays private. */
		if (chmod(key, 0600) < 0 || chmod(cert, 0600) < 0) {
			snprintf(err, errlen, "%.200s: chmod: %s", key, strerror(errno));
			return -errno;
		}
		return 0;
	}
	if ((rc = make_dirs(state_dir)) < 0) {
		snprintf(err, errlen, "--state-dir %.200s: %s", state_dir, strerror(-rc));
		return rc;
	}
	if (gethostname(host, sizeof(host)) < 0 || host[0] == '\0')
		snprintf(host, sizeof(host), "webkvm");
	host[sizeof(host) - 1] = '\0';
	/* The CN goes into a "/CN=..." argument: keep it to host name
	 * characters so it cannot add other fields. */
	for (char *c = host; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		      *c == '-' || *c == '.'))
			*c = '-';
	snprintf(subj, sizeof(subj), "/CN=%s", host);
	snprintf(san, sizeof(san), "subjectAltName=DNS:%s,DNS:localhost,IP:127.0.0.1,IP:::1", host);
	{
		char *argv[] = { "openssl", "req", "-x509", "-newkey", "ec",
				 "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
				 "-days", "3650", "-subj", subj, "-addext", san,
				 "-keyout", tkey, "-out", tcert, NULL };
		posix_spawn_file_actions_t fa;

		unlink(tkey);
		unlink(tcert);
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
		posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
		old = umask(077);	/* the key is never readable by others, not even briefly */
		rc = posix_spawnp(&pid, "openssl", &fa, NULL, argv, environ);
		umask(old);
		posix_spawn_file_actions_destroy(&fa);
		if (rc != 0) {
			snprintf(err, errlen, "cannot run openssl to make a certificate: %s (install openssl, "
				 "or give --cert/--key)", strerror(rc));
			return -rc;
		}
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			snprintf(err, errlen, "openssl: waitpid: %s", strerror(errno));
			return -errno;
		}
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !exists(tkey) || !exists(tcert)) {
		snprintf(err, errlen, "openssl req failed (status %d) making a certificate in %.200s",
			 status, state_dir);
		unlink(tkey);
		unlink(tcert);
		return -EIO;
	}
	if (chmod(tkey, 0600) < 0 || chmod(tcert, 0600) < 0 ||
	    rename(tkey, key) < 0 || rename(tcert, cert) < 0) {
		snprintf(err, errlen, "%.200s: %s", state_dir, strerror(errno));
		return -errno;
	}
	return 1;
}
