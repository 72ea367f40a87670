/* webkvmd — the webkvm board daemon. */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "firmware/config.h"
#include "firmware/daemon.h"
#include "firmware/log.h"

int
main(int argc, char **argv)
{
	struct fw_config cfg;
	struct fw_daemon *d;
	char err[512];
	sigset_t sigs;
	int rc;

	fw_config_defaults(&cfg);
	if (fw_config_parse_args(&cfg, argc, argv, err, sizeof(err)) < 0) {
		fprintf(stderr, "webkvmd: %s\n", err);
		return 2;
	}
	if (cfg.help) {
		fw_config_usage(stdout, argv[0]);
		return 0;
	}
	if (cfg.list_boards)
		return fw_config_list_boards(stdout, &cfg) < 0 ? 1 : 0;
	fw_set_log_level(cfg.log_level);

	/* Frames are megabytes and change size with the picture.  A fixed
	 * mmap threshold keeps every one of them in its own mapping, returned
	 * to the system when freed; glibc's sliding threshold would move them
	 * into the heap after the first free, where a resize leaves holes
	 * that stay resident. */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);

	/* A viewer that vanishes must not kill us with SIGPIPE; SIGINT and
	 * SIGTERM are read from a signalfd by the event loop. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigprocmask(SIG_BLOCK, &sigs, NULL);

	if (fw_daemon_new(&cfg, &d, err, sizeof(err)) < 0) {
		fprintf(stderr, "webkvmd: %s\n", err);
		return 1;
	}
	rc = fw_daemon_run(d);
	fw_daemon_free(d);
	fw__log(FW_LOG_INFO, "stopped");
	return rc == 0 ? 0 : 1;
}
