/* webkvm-proxy's main: the command line, then the event loop. */
#include <malloc.h>

#include "proxy/proxy.h"

int
main(int argc, char **argv)
{
	struct proxy_options o;
	char err[512];
	int rc;

	/* Each connection's queues are a few hundred KiB.  glibc raises its
	 * mmap threshold after such a block is freed, so later ones come from
	 * the heap, which does not shrink between them: memory crept up with
	 * connection churn.  A fixed threshold keeps them mmap'd and returned
	 * to the kernel when a connection ends. */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	rc = proxy_cli_parse(argc, argv, &o, err, sizeof(err));
	if (rc == 1)
		return 0;
	if (rc < 0) {
		proxy_log(WK_LOG_ERROR, "%s", err);
		return 2;
	}
	wk_log_set_level(o.verbose ? WK_LOG_DEBUG : WK_LOG_INFO);
	return proxy_run(&o);
}
