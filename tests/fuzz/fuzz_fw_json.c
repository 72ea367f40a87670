/* The control socket: one JSON line parsed by fw_json_parse and, when it
 * parses, answered by fw_daemon_control of a real daemon on the sim board
 * (so "type" text goes through wk_utf8_next, fw_keysym_of_char and hid/
 * into the virtual target).  First byte 0xff instead fuzzes the UTF-8
 * decoder alone. */
#include "tests/fuzz/fuzz_common.h"
#include "common/utf8.h"
#include "firmware/daemon.h"
#include "firmware/json.h"
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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fw_json j;
	char err[256], resp[4096];
	char *buf;

	if (size > 0 && data[0] == 0xff) {
		utf8(data + 1, size - 1);
		return 0;
	}
	/* Not NUL-terminated: the parser gets a length. */
	buf = malloc(size ? size : 1);
	if (buf == NULL)
		abort();
	if (size)
		memcpy(buf, data, size);
	err[0] = '\0';
	if (fw_json_parse(&j, buf, size, err, sizeof(err)) == 0) {
		FUZZ_CHECK(j.n >= 0 && j.n <= FW_JSON_MAX_MEMBERS);
		for (int i = 0; i < j.n; i++) {
			const struct fw_json_member *m = &j.m[i];

			FUZZ_CHECK(m->key != NULL);
			if (m->type == FW_JSON_STRING)
				FUZZ_CHECK(strlen(m->str) == m->str_len);
			if (m->type == FW_JSON_ARRAY)
				FUZZ_CHECK(m->n_items >= 0 && m->n_items <= FW_JSON_MAX_ITEMS);
		}
		resp[0] = '\0';
		fw_daemon_control(daemon_, &j, resp, sizeof(resp));
		FUZZ_CHECK(resp[0] == '{' && strlen(resp) < sizeof(resp));
		/* "type" starts typing that only the daemon's loop advances;
		 * cancelled here, so the next input's text is planned too. */
		{
			static const char cancel[] = "{\"cmd\":\"cancel\"}";
			struct fw_json c;

			if (fw_json_parse(&c, cancel, sizeof(cancel) - 1, err, sizeof(err)) == 0) {
				fw_daemon_control(daemon_, &c, resp, sizeof(resp));
				fw_json_free(&c);
			}
		}
	} else {
		FUZZ_CHECK(err[0] != '\0');
	}
	fw_json_free(&j);
	free(buf);
	return 0;
}
