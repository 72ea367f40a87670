/* The control protocol's table and the checks every request goes through,
 * on the daemon's side of the socket and in the proxy's REST layer alike. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "firmware/ctlproto.h"

#define NAME_MAX_LEN 32

const char *const ctl_power_actions[] = { "on", "off", "force-off", "reset", "reboot", NULL };
static const char *const mice[] = { "absolute", "relative", NULL };

const struct ctl_cmd_def ctl_cmds[CTL_CMD_COUNT] = {
	[CTL_STATUS] = { .name = "status", .rest = CTL_REST_GET },
	/* Without fields it reads the settings; with some it changes them,
	 * all or none. */
	[CTL_HID] = { .name = "hid", .rest = CTL_REST_GET | CTL_REST_POST, .fields = {
		{ "layout", CTL_F_NAME, false, 1, NAME_MAX_LEN, NULL },
		{ "mouse", CTL_F_CHOICE, false, 0, 0, mice },
		{ "profile", CTL_F_NAME, false, 1, NAME_MAX_LEN, NULL },
	} },
	[CTL_TYPE] = { .name = "type", .rest = CTL_REST_POST, .fields = {
		{ "text", CTL_F_STR, true, 1, FW_CONTROL_MAX_LINE, NULL },
		{ "delay_ms", CTL_F_INT, false, 0, 1000, NULL },
	} },
	[CTL_CANCEL] = { .name = "cancel", .rest = CTL_REST_POST },
	/* A chord: pressed in order, released in reverse. */
	[CTL_KEY] = { .name = "key", .rest = CTL_REST_POST, .fields = {
		{ "keys", CTL_F_STRS, true, 1, CTL_ITEMS_MAX, NULL },
	} },
	[CTL_POWER] = { .name = "power", .rest = CTL_REST_POST, .fields = {
		{ "action", CTL_F_CHOICE, true, 0, 0, ctl_power_actions },
	} },
	[CTL_RELEASE] = { .name = "release", .rest = CTL_REST_POST },
	/* What the sim board's virtual target received: for tests. */
	[CTL_TARGET] = { .name = "target", .rest = 0 },
	/* A layout's character keys (the current one without a name). */
	[CTL_LAYOUT] = { .name = "layout", .rest = 0, .fields = { { "name", CTL_F_NAME, false, 1, NAME_MAX_LEN, NULL } } },
};

static void say(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
say(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Appends `"a", "b" or "c"` (quoted) or `a, b or c` to out. */
static void
list(char *out, size_t outlen, const char *const *names, size_t n, bool quoted)
{
	size_t used = strlen(out);

	for (size_t i = 0; i < n && used < outlen; i++) {
		const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";

		used += (size_t)snprintf(out + used, outlen - used, quoted ? "%s\"%s\"" : "%s%s", sep,
					 names[i]);
	}
}

static size_t
count(const char *const *names)
{
	size_t n = 0;

	while (names[n] != NULL)
		n++;
	return n;
}

static void
cmd_names(char *out, size_t outlen)
{
	const char *names[CTL_CMD_COUNT];

	for (int i = 0; i < CTL_CMD_COUNT; i++)
		names[i] = ctl_cmds[i].name;
	out[0] = '\0';
	list(out, outlen, names, CTL_CMD_COUNT, false);
}

int
ctl_cmd_find(const char *name)
{
	for (int i = 0; i < CTL_CMD_COUNT; i++)
		if (strcmp(ctl_cmds[i].name, name) == 0)
			return i;
	return -1;
}

static bool
is_name(const char *s)
{
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '-' || *s == '_'))
			return false;
	return true;
}

/* Checks one member against its field; the message names the command. */
static int
check_value(const char *cmd, const struct ctl_field *f, json_t *m, struct ctl_value *v, char *err,
	    size_t errlen)
{
	char want[128] = "";

	switch (f->type) {
	case CTL_F_STR:
		if (!json_is_string(m)) {
			say(err, errlen, "%s: \"%s\" must be a string", cmd, f->name);
			return -1;
		}
		v->str = json_string_value(m);
		v->len = json_string_length(m);
		if (v->len == 0 && f->lo > 0) {
			say(err, errlen, "%s: \"%s\" is empty", cmd, f->name);
			return -1;
		}
		if (v->len > (size_t)f->hi) {
			say(err, errlen, "%s: \"%s\" is longer than %ld bytes", cmd, f->name, f->hi);
			return -1;
		}
		return 0;
	case CTL_F_NAME:
		if (!json_is_string(m) || json_string_length(m) < (size_t)f->lo ||
		    json_string_length(m) > (size_t)f->hi || !is_name(json_string_value(m))) {
			say(err, errlen, "%s: \"%s\" must be a name: a string of %ld to %ld letters, digits, '-' or '_'",
			    cmd, f->name, f->lo, f->hi);
			return -1;
		}
		v->str = json_string_value(m);
		v->len = json_string_length(m);
		return 0;
	case CTL_F_INT:
		if (!json_is_integer(m) || json_integer_value(m) < f->lo || json_integer_value(m) > f->hi) {
			say(err, errlen, "%s: \"%s\" must be an integer from %ld to %ld", cmd, f->name, f->lo,
			    f->hi);
			return -1;
		}
		v->num = (long)json_integer_value(m);
		return 0;
	case CTL_F_CHOICE:
		for (size_t i = 0; json_is_string(m) && f->choices[i] != NULL; i++) {
			if (strcmp(json_string_value(m), f->choices[i]) == 0) {
				v->str = f->choices[i];
				v->len = strlen(v->str);
				v->num = (long)i;
				return 0;
			}
		}
		list(want, sizeof(want), f->choices, count(f->choices), true);
		say(err, errlen, "%s: \"%s\" must be %s", cmd, f->name, want);
		return -1;
	case CTL_F_STRS:
		if (!json_is_array(m) || json_array_size(m) < (size_t)f->lo ||
		    json_array_size(m) > (size_t)f->hi || f->hi > CTL_ITEMS_MAX) {
			say(err, errlen, "%s: \"%s\" must be an array of %ld to %ld strings, e.g. [\"ctrl\",\"alt\",\"delete\"]",
			    cmd, f->name, f->lo, f->hi);
			return -1;
		}
		for (size_t i = 0; i < json_array_size(m); i++) {
			json_t *it = json_array_get(m, i);

			if (!json_is_string(it) || json_string_length(it) == 0 ||
			    json_string_length(it) > CTL_ITEM_MAX) {
				say(err, errlen, "%s: \"%s\" item %zu must be a string of 1 to %d bytes", cmd,
				    f->name, i + 1, CTL_ITEM_MAX);
				return -1;
			}
			v->items[v->n_items++] = json_string_value(it);
		}
		return 0;
	}
	return -1;
}

/* Checks r->obj against cmd's row; "cmd" itself is a member when in_line. */
static int
check(struct ctl_req *r, enum ctl_cmd cmd, bool in_line, char *err, size_t errlen)
{
	const struct ctl_cmd_def *c = &ctl_cmds[cmd];
	const char *key;
	json_t *m;
	int i;

	r->cmd = cmd;
	json_object_foreach(r->obj, key, m) {
		const char *names[CTL_FIELDS_MAX];
		char want[128] = "";

		if (in_line && strcmp(key, "cmd") == 0)
			continue;
		for (i = 0; i < CTL_FIELDS_MAX && c->fields[i].name != NULL; i++) {
			if (strcmp(c->fields[i].name, key) == 0)
				break;
			names[i] = c->fields[i].name;
		}
		if (i < CTL_FIELDS_MAX && c->fields[i].name != NULL)
			continue;
		if (i == 0)
			snprintf(want, sizeof(want), "no members");
		list(want, sizeof(want), names, (size_t)i, true);
		say(err, errlen, "%s: unknown member \"%.40s\" (want %s)", c->name, key, want);
		return -1;
	}
	for (i = 0; i < CTL_FIELDS_MAX && c->fields[i].name != NULL; i++) {
		const struct ctl_field *f = &c->fields[i];

		m = json_object_get(r->obj, f->name);
		if (m == NULL || json_is_null(m)) {
			if (f->required) {
				say(err, errlen, "%s: missing member \"%s\"", c->name, f->name);
				return -1;
			}
			continue;
		}
		if (check_value(c->name, f, m, &r->v[i], err, errlen) < 0)
			return -1;
		r->v[i].set = true;
	}
	return 0;
}

int
ctl_req_parse(struct ctl_req *r, const char *line, size_t len, char *err, size_t errlen)
{
	const char *name;
	char names[160];
	int cmd;

	memset(r, 0, sizeof(*r));
	if ((r->obj = wk_json_parse_object(line, len, err, errlen)) == NULL)
		return -1;
	if (wk_json_get_str(r->obj, "cmd", true, &name, NULL, NULL, 0) < 0) {
		cmd_names(names, sizeof(names));
		say(err, errlen, "request needs \"cmd\": %s", names);
		return -1;
	}
	if ((cmd = ctl_cmd_find(name)) < 0) {
		cmd_names(names, sizeof(names));
		say(err, errlen, "unknown cmd \"%.40s\" (want %s)", name, names);
		return -1;
	}
	return check(r, (enum ctl_cmd)cmd, true, err, errlen);
}

int
ctl_req_fields(struct ctl_req *r, enum ctl_cmd cmd, const char *body, size_t len, char *err,
	       size_t errlen)
{
	memset(r, 0, sizeof(*r));
	r->cmd = cmd;
	if ((r->obj = wk_json_parse_object(body, len, err, errlen)) == NULL)
		return -1;
	return check(r, cmd, false, err, errlen);
}

void
ctl_req_free(struct ctl_req *r)
{
	json_decref(r->obj);
	r->obj = NULL;
}

const struct ctl_value *
ctl_get(const struct ctl_req *r, const char *field)
{
	const struct ctl_cmd_def *c = &ctl_cmds[r->cmd];

	for (int i = 0; i < CTL_FIELDS_MAX && c->fields[i].name != NULL; i++)
		if (strcmp(c->fields[i].name, field) == 0)
			return r->v[i].set ? &r->v[i] : NULL;
	return NULL;
}

int
ctl_req_line(const struct ctl_req *r, char *line, size_t len)
{
	const struct ctl_cmd_def *c = &ctl_cmds[r->cmd];
	json_t *o = json_object();
	int n = -ENOSPC;

	if (len > 0)
		line[0] = '\0';
	if (o == NULL || json_object_set_new(o, "cmd", json_string(c->name)) < 0)
		goto out;
	for (int i = 0; i < CTL_FIELDS_MAX && c->fields[i].name != NULL; i++)
		if (r->v[i].set &&
		    json_object_set(o, c->fields[i].name, json_object_get(r->obj, c->fields[i].name)) < 0)
			goto out;
	/* Room for the newline. */
	n = len > 1 ? wk_json_dump(o, line, len - 1) : -ENOSPC;
	if (n > FW_CONTROL_MAX_LINE) {
		line[0] = '\0';
		n = -ENOSPC;
	}
	if (n >= 0) {
		line[n++] = '\n';
		line[n] = '\0';
	}
out:
	json_decref(o);
	return n;
}

void
ctl_reply_error(char *resp, size_t len, const char *msg)
{
	size_t n = (size_t)snprintf(resp, len, "{\"ok\":false,\"error\":");

	if (n < len)
		n += wk_json_quote(resp + n, len - n, msg);
	if (n < len)
		snprintf(resp + n, len - n, "}");
}
