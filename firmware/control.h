/* firmware/ — the control socket: a Unix stream socket speaking one JSON
 * object per line, each answered by one JSON line.  The proxy's REST API
 * reaches the devices only through it.
 */
#ifndef WEBKVM_FW_CONTROL_H
#define WEBKVM_FW_CONTROL_H

#include <poll.h>
#include <stddef.h>

#include "firmware/ctlproto.h"

#define FW_CONTROL_MAX_CLIENTS 32

/* Writes the answer to `req` (one JSON object, no newline) into resp.  A
 * line that is not a request the protocol's table allows is answered by
 * control.c itself and never reaches it. */
typedef void (*fw_control_fn)(void *ctx, const struct ctl_req *req, char *resp, size_t resplen);

struct fw_control;

/* Listens on path (an old socket file there is replaced; mode 0660, so the
 * socket's group is who may use it).  group names that group (an unknown
 * one, or one we may not give the file to, is an error); NULL or "" means
 * "webkvm" when that group exists and we may use it, else our own group.
 * NULL with a message in err. */
struct fw_control *fw_control_new(const char *path, const char *group, fw_control_fn fn,
				  void *ctx, char *err, size_t errlen);
/* Closes every connection and removes the socket file. */
void fw_control_free(struct fw_control *c);
int fw_control_pollfds(struct fw_control *c, struct pollfd *pfd, int max);
/* Accepts, reads and answers whatever is ready; never blocks. */
void fw_control_process(struct fw_control *c);

#endif
