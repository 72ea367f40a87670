/* The control socket: one line read by ctl_req_parse (jansson, then the
 * protocol table's checks) and, when it is a request, written again with
 * ctl_req_line (which must read back the same) and answered by
 * fw_daemon_control of a real daemon on the sim board (so "type" text goes
 * through wk_utf8_next, fw_keysym_of_char and hid/ into the virtual
 * target).  First byte 0xff instead fuzzes the UTF-8 decoder alone. */
#include "tests/fuzz/fuzz_common.h"
#include "common/utf8.h"
#include "firmware/ctlproto.h"
#include "firmware/daemon.h"
#include "firmware/log.h"
#include "hid/hid.h"

static struct fw_daemon *daemon_;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct fw_config c;
	char err[256];

	(void)argc;
	(void)argv;
	fw_config_defaults(&c);
	snprintf(c.board, sizeof(c.board), "sim");
	snprintf(c.rfb_listen, sizeof(c.rfb_listen), "127.0.0.1:0");
	c.control[0] = '\0';
	fw_set_log_level(-1);
	if (fw_daemon_new(&c, &daemon_, err, sizeof(err)) < 0) {
		fprintf(stderr, "fuzz: fw_daemon_new: %s\n", err);
		abort();
	}
	return 0;
}

static void
utf8(const uint8_t *data, size_t size)
{
	char *s = fuzz_strndup(data, size);
	size_t pos = 0, last = 0;
	uint32_t cp;
	int rc;

	while ((rc = wk_utf8_next(s, size, &pos, &cp)) > 0) {
		FUZZ_CHECK(pos > last && pos <= size && pos - last <= 4);
		FUZZ_CHECK(cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff));
		(void)fw_keysym_of_char(cp);
		last = pos;
	}
	FUZZ_CHECK(rc == 0 || rc == -1);
	if (rc == 0)
		FUZZ_CHECK(pos == size);
	free(s);
}

/* Every value the checks let through is what its field says. */
static void
check_values(const struct ctl_req *r)
{
	const struct ctl_cmd_def *c;

	FUZZ_CHECK((unsigned)r->cmd < CTL_CMD_COUNT);
	c = &ctl_cmds[r->cmd];
	for (int i = 0; i < CTL_FIELDS_MAX && c->fields[i].name != NULL; i++) {
		const struct ctl_field *f = &c->fields[i];
		const struct ctl_value *v = &r->v[i];

		if (!v->set) {
			FUZZ_CHECK(!f->required);
			continue;
		}
		switch (f->type) {
		case CTL_F_STR:
		case CTL_F_NAME:
			FUZZ_CHECK(strlen(v->str) == v->len);
			FUZZ_CHECK(v->len >= (size_t)f->lo && v->len <= (size_t)f->hi);
			FUZZ_CHECK(wk_utf8_valid(v->str, v->len));
			break;
		case CTL_F_INT:
			FUZZ_CHECK(v->num >= f->lo && v->num <= f->hi);
			break;
		case CTL_F_CHOICE:
			FUZZ_CHECK(v->num >= 0 && strcmp(f->choices[v->num], v->str) == 0);
			break;
		case CTL_F_STRS:
			FUZZ_CHECK(v->n_items >= f->lo && v->n_items <= f->hi && v->n_items <= CTL_ITEMS_MAX);
			for (int k = 0; k < v->n_items; k++)
				FUZZ_CHECK(strlen(v->items[k]) >= 1 && strlen(v->items[k]) <= CTL_ITEM_MAX);
			break;
		}
	}
}

/* The line a request is written as reads back as the same request, and
 * writes the same line again. */
static void
round_trip(const struct ctl_req *r)
{
	static char line[FW_CONTROL_MAX_LINE + 2], again[FW_CONTROL_MAX_LINE + 2];
	struct ctl_req back;
	char err[512];
	int n = ctl_req_line(r, line, sizeof(line)), m;

	if (n < 0)
		return;	/* longer than a line may be: the proxy answers 413 */
	FUZZ_CHECK((size_t)n == strlen(line) && n > 0 && line[n - 1] == '\n');
	FUZZ_CHECK(memchr(line, '\n', (size_t)n - 1) == NULL);
	FUZZ_CHECK(ctl_req_parse(&back, line, (size_t)n - 1, err, sizeof(err)) == 0);
	FUZZ_CHECK(back.cmd == r->cmd);
	m = ctl_req_line(&back, again, sizeof(again));
	FUZZ_CHECK(m == n && memcmp(line, again, (size_t)n) == 0);
	ctl_req_free(&back);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_req r;
	char err[512], resp[4096];
	char *buf;

	if (size > 0 && data[0] == 0xff) {
		utf8(data + 1, size - 1);
		return 0;
	}
	/* Not NUL-terminated: the reader gets a length. */
	buf = malloc(size ? size : 1);
	if (buf == NULL)
		abort();
	if (size)
		memcpy(buf, data, size);
	err[0] = '\0';
	if (ctl_req_parse(&r, buf, size, err, sizeof(err)) == 0) {
		check_values(&r);
		round_trip(&r);
		resp[0] = '\0';
		fw_daemon_control(daemon_, &r, resp, sizeof(resp));
		FUZZ_CHECK(resp[0] == '{' && strlen(resp) < sizeof(resp));
		/* "type" starts typing that only the daemon's loop advances;
		 * cancelled here, so the next input's text is planned too. */
		{
			static const char cancel[] = "{\"cmd\":\"cancel\"}";
			struct ctl_req c;

			FUZZ_CHECK(ctl_req_parse(&c, cancel, sizeof(cancel) - 1, err, sizeof(err)) == 0);
			fw_daemon_control(daemon_, &c, resp, sizeof(resp));
			ctl_req_free(&c);
		}
	} else {
		FUZZ_CHECK(err[0] != '\0');
		ctl_reply_error(resp, sizeof(resp), err);
		FUZZ_CHECK(resp[0] == '{');
	}
	ctl_req_free(&r);
	free(buf);
	return 0;
}
