/* webkvm-proxy's main: the command line, then the event loop. */
#include <stdio.h>

#include "proxy/proxy.h"

int
main(int argc, char **argv)
{
	struct proxy_options o;
	char err[512];
	int rc;

	rc = proxy_cli_parse(argc, argv, &o, err, sizeof(err));
	if (rc == 1)
		return 0;
	if (rc < 0) {
		fprintf(stderr, "proxy: %s\n", err);
		return 2;
	}
	return proxy_run(&o);
}
