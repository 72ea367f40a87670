/* firmware/ — the control protocol, declared once.
 *
 * The daemon's control socket takes one JSON object per line,
 * {"cmd":NAME, FIELD:VALUE, ...}, and answers each with one JSON object
 * line: {"ok":true, ...} or {"ok":false,"error":TEXT, ...}.  ctl_cmds is
 * the whole protocol: the daemon checks every request against it before a
 * handler runs, and the proxy's REST API turns a body into a request with
 * the same checks and writes its line from the same table.  This file and
 * ctlproto.c hold no daemon state, so the proxy links ctlproto.o alone.
 *
 * Adding a command: an enum ctl_cmd value, its row in ctl_cmds
 * (ctlproto.c), and its handler in firmware/ctl.c.
 */
#ifndef WEBKVM_FW_CTLPROTO_H
#define WEBKVM_FW_CTLPROTO_H

#include <stdbool.h>
#include <stddef.h>

#include "common/json.h"

/* Longest request line, newline not counted; a longer one is answered with
 * an error and its connection is closed. */
#define FW_CONTROL_MAX_LINE 65536

enum ctl_cmd {
	CTL_STATUS,
	CTL_HID,
	CTL_TYPE,
	CTL_CANCEL,
	CTL_KEY,
	CTL_POWER,
	CTL_RELEASE,
	CTL_TARGET,
	CTL_LAYOUT,
	CTL_CMD_COUNT
};

/* The "power" command's actions, in the order of ctl_power_actions; the
 * names are the board interface's (board_power_parse() reads them). */
enum ctl_power { CTL_POWER_ON, CTL_POWER_OFF, CTL_POWER_FORCE_OFF, CTL_POWER_RESET, CTL_POWER_REBOOT };
extern const char *const ctl_power_actions[];	/* NULL-terminated */

enum ctl_ftype {
	CTL_F_STR,	/* a string of lo..hi bytes of UTF-8 */
	CTL_F_NAME,	/* a string of lo..hi letters, digits, '-' or '_' */
	CTL_F_INT,	/* an integer from lo to hi */
	CTL_F_CHOICE,	/* one of the strings in choices */
	CTL_F_STRS,	/* an array of lo..hi strings of 1..CTL_ITEM_MAX bytes */
};

#define CTL_FIELDS_MAX 4
#define CTL_ITEMS_MAX 32
#define CTL_ITEM_MAX 32

struct ctl_field {
	const char *name;
	enum ctl_ftype type;
	bool required;
	long lo, hi;
	const char *const *choices;	/* CTL_F_CHOICE: NULL-terminated */
};

/* How the REST API reaches a command, at /api/<name>. */
enum {
	CTL_REST_GET = 1,	/* GET: the command without fields */
	CTL_REST_POST = 2,	/* POST: the fields are the JSON body */
};

struct ctl_cmd_def {
	const char *name;
	unsigned rest;		/* CTL_REST_*; 0: the control socket only */
	struct ctl_field fields[CTL_FIELDS_MAX];	/* ends at a NULL name */
};

extern const struct ctl_cmd_def ctl_cmds[CTL_CMD_COUNT];

/* One field of a checked request; strings point into the request. */
struct ctl_value {
	bool set;
	const char *str;	/* STR, NAME, CHOICE */
	size_t len;
	long num;		/* INT; CHOICE: the index in choices */
	int n_items;		/* STRS */
	const char *items[CTL_ITEMS_MAX];
};

/* A request checked against its command's row: every member known, every
 * required one present, every value of its type and range. */
struct ctl_req {
	enum ctl_cmd cmd;
	struct ctl_value v[CTL_FIELDS_MAX];	/* by the field's index in its row */
	json_t *obj;		/* owns the strings */
};

/* Reads one control line (without its newline).  0, or -1 with an answer
 * text for the sender in err.  Free with ctl_req_free() in both cases. */
int ctl_req_parse(struct ctl_req *r, const char *line, size_t len, char *err, size_t errlen);
/* Reads the fields of cmd from a JSON object without "cmd" (a REST body).
 * Same return and freeing as ctl_req_parse. */
int ctl_req_fields(struct ctl_req *r, enum ctl_cmd cmd, const char *body, size_t len, char *err,
		   size_t errlen);
void ctl_req_free(struct ctl_req *r);
/* The field of that name when the request has it, else NULL. */
const struct ctl_value *ctl_get(const struct ctl_req *r, const char *field);
/* Writes the request as its control line, newline included, fields in the
 * table's order.  The length, or -ENOSPC when it is longer than
 * FW_CONTROL_MAX_LINE or than len allows (line then holds ""). */
int ctl_req_line(const struct ctl_req *r, char *line, size_t len);

/* The command named name, or -1. */
int ctl_cmd_find(const char *name);
/* Writes {"ok":false,"error":msg} into resp (size len). */
void ctl_reply_error(char *resp, size_t len, const char *msg);

#endif
