/* The REST API as a thin mapping onto the control protocol: /api/<cmd>
 * with GET or POST, as firmware/ctlproto.c's table says, and a POST body
 * holding that command's fields.  The body is checked by the same code
 * that checks the daemon's requests, and the line is written from the
 * checked request, so nothing the body holds is copied into it as text. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/json.h"
#include "firmware/ctlproto.h"
#include "proxy/proxy.h"

#define JSON_DEPTH_MAX 16

static size_t
depth(const json_t *v)
{
	size_t d = 0, i;
	const char *key;
	json_t *m;

	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, key, m) {
			size_t k = depth(m);

			d = k > d ? k : d;
			if (d > JSON_DEPTH_MAX)
				break;
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, m) {
			size_t k = depth(m);

			d = k > d ? k : d;
			if (d > JSON_DEPTH_MAX)
				break;
		}
	} else {
		return 0;
	}
	return d + 1;
}

int
proxy_json_check(const char *s, size_t len, char *err, size_t errlen)
{
	json_error_t e;
	json_t *v = json_loadb(s, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &e);

	if (v == NULL) {
		snprintf(err, errlen, "bad JSON at byte %d: %s", e.position, e.text);
		return -EINVAL;
	}
	if (depth(v) > JSON_DEPTH_MAX) {
		json_decref(v);
		snprintf(err, errlen, "bad JSON: nested deeper than %d", JSON_DEPTH_MAX);
		return -EINVAL;
	}
	json_decref(v);
	return 0;
}

/* The command whose REST path this is, or -1. */
static int
cmd_of_path(const char *path)
{
	if (strncmp(path, "/api/", 5) != 0)
		return -1;
	for (int i = 0; i < CTL_CMD_COUNT; i++)
		if (ctl_cmds[i].rest != 0 && strcmp(path + 5, ctl_cmds[i].name) == 0)
			return i;
	return -1;
}

/* A POST's body: the command's fields.  Without fields, no body, an empty
 * one or {} will do; a command GET also reads must be given at least one,
 * or the POST would only read. */
static int
post(enum ctl_cmd cmd, const struct proxy_rest_req *r, struct ctl_req *req, char *err,
     size_t errlen)
{
	const struct ctl_cmd_def *c = &ctl_cmds[cmd];
	bool any_fields = c->fields[0].name != NULL;

	memset(req, 0, sizeof(*req));
	req->cmd = cmd;
	if (r->body == NULL || r->body_len == 0) {
		if (!any_fields)
			return 0;
		snprintf(err, errlen, "%s needs a JSON body", r->path);
		return 400;
	}
	if (ctl_req_fields(req, cmd, r->body, r->body_len, err, errlen) < 0)
		return 400;
	if (any_fields && (c->rest & CTL_REST_GET) && json_object_size(req->obj) == 0) {
		const char *names[CTL_FIELDS_MAX];
		size_t n = 0, used;

		while (n < CTL_FIELDS_MAX && c->fields[n].name != NULL) {
			names[n] = c->fields[n].name;
			n++;
		}
		used = (size_t)snprintf(err, errlen, "needs one or more of");
		for (size_t i = 0; i < n && used < errlen; i++)
			used += (size_t)snprintf(err + used, errlen - used, "%s\"%s\"",
						 i == 0 ? " " : i + 1 == n ? " and " : ", ", names[i]);
		if (used < errlen)
			snprintf(err + used, errlen - used, " (GET reads them)");
		return 400;
	}
	return 0;
}

int
proxy_rest_build(const struct proxy_rest_req *r, char *line, size_t linelen,
		 char *err, size_t errlen)
{
	int cmd = cmd_of_path(r->path), status;
	unsigned want = strcmp(r->method, "GET") == 0 ? CTL_REST_GET :
			strcmp(r->method, "POST") == 0 ? CTL_REST_POST : 0;
	struct ctl_req req;

	if (cmd < 0) {
		snprintf(err, errlen, "no such endpoint: %.100s", r->path);
		return 404;
	}
	if (!(ctl_cmds[cmd].rest & want)) {
		snprintf(err, errlen, "%s needs %s", r->path,
			 ctl_cmds[cmd].rest == (CTL_REST_GET | CTL_REST_POST) ? "GET or POST" :
			 ctl_cmds[cmd].rest == CTL_REST_GET ? "GET" : "POST");
		return 405;
	}
	if (want == CTL_REST_GET) {
		/* A read: the command alone, whatever the body. */
		memset(&req, 0, sizeof(req));
		req.cmd = (enum ctl_cmd)cmd;
	} else {
		if (r->body_len > PROXY_BODY_MAX) {
			snprintf(err, errlen, "body larger than %d bytes", PROXY_BODY_MAX);
			return 413;
		}
		if ((status = post((enum ctl_cmd)cmd, r, &req, err, errlen)) != 0) {
			ctl_req_free(&req);
			return status;
		}
	}
	status = 0;
	if (ctl_req_line(&req, line, linelen) < 0) {
		snprintf(err, errlen, "request longer than the control socket takes (%d bytes)",
			 FW_CONTROL_MAX_LINE);
		status = 413;
	}
	ctl_req_free(&req);
	return status;
}

int
proxy_rest_status(const char *path, const char *answer, size_t len)
{
	json_t *a = wk_json_parse_object(answer, len, NULL, 0);
	bool ok;

	if (a == NULL)
		return 502;
	ok = json_is_true(json_object_get(a, "ok"));
	json_decref(a);
	if (ok)
		return 200;
	return strcmp(path, "/api/power") == 0 ? 409 : 400;
}
