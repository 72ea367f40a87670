/* webkvmd's options, chosen by the first byte of the input:
 *   0 one option: name NUL value          (fw_config_set)
 *   1 a config file                        (fw_config_load, from a memfd)
 *   2 a command line split on NUL          (fw_config_parse_args)
 *     with an optional config file before it: FILE NUL NUL ARGS; every
 *     --config value is pointed at that file, never at a fuzzed path.
 * fw_config_check is left out: it resolves listen host names (DNS). */
#include "tests/fuzz/fuzz_common.h"
#include "firmware/config.h"
#include "firmware/log.h"

static int cfg_fd;
static char cfg_path[64];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fw_set_log_level(-1);
	cfg_fd = fuzz_memfd("webkvmd.conf", cfg_path, sizeof(cfg_path));
	return 0;
}

static void
check_config(const struct fw_config *c)
{
	FUZZ_CHECK(memchr(c->board, '\0', sizeof(c->board)) != NULL);
	FUZZ_CHECK(memchr(c->source, '\0', sizeof(c->source)) != NULL);
	FUZZ_CHECK(memchr(c->device, '\0', sizeof(c->device)) != NULL);
	FUZZ_CHECK(memchr(c->rfb_listen, '\0', sizeof(c->rfb_listen)) != NULL);
	FUZZ_CHECK(memchr(c->desktop_name, '\0', sizeof(c->desktop_name)) != NULL);
	FUZZ_CHECK(memchr(c->control, '\0', sizeof(c->control)) != NULL);
	FUZZ_CHECK(c->width >= 0 && c->height >= 0 && c->fps >= 0);
}

/* "--config" or "--config=…" (what split_arg in config.c treats as it). */
static int
is_config_arg(const char *a)
{
	return strncmp(a, "--config", 8) == 0 && (a[8] == '\0' || a[8] == '=');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fw_config c;
	char err[600];
	int rc;

	if (size < 1)
		return 0;
	fw_config_defaults(&c);
	err[0] = '\0';
	data++;
	size--;
	switch (data[-1] % 3) {
	case 0: {
		char *s = fuzz_strndup(data, size);
		size_t nl = strlen(s);
		const char *val = nl < size ? s + nl + 1 : "";

		rc = fw_config_set(&c, s, val, err, sizeof(err));
		free(s);
		break;
	}
	case 1:
		fuzz_memfd_set(cfg_fd, data, size);
		rc = fw_config_load(&c, cfg_path, err, sizeof(err));
		break;
	default: {
		static char cfg_arg[80];
		char *argv[64], *store;
		const uint8_t *args = data;
		size_t n = size;
		int argc;

		for (size_t i = 0; i + 1 < size; i++) {
			if (data[i] == 0 && data[i + 1] == 0) {
				fuzz_memfd_set(cfg_fd, data, i);
				args = data + i + 2;
				n = size - i - 2;
				break;
			}
		}
		argc = fuzz_split_args(args, n, "webkvmd", argv, 64, &store);
		snprintf(cfg_arg, sizeof(cfg_arg), "--config=%s", cfg_path);
		for (int i = 1; i < argc; i++) {
			if (!is_config_arg(argv[i]))
				continue;
			if (argv[i][8] == '=')
				argv[i] = cfg_arg;
			else if (i + 1 < argc)
				argv[++i] = cfg_path;
		}
		rc = fw_config_parse_args(&c, argc, argv, err, sizeof(err));
		free(store);
		break;
	}
	}
	FUZZ_CHECK(rc == 0 || rc == -1);
	if (rc < 0)
		FUZZ_CHECK(err[0] != '\0' && memchr(err, '\0', sizeof(err)) != NULL);
	check_config(&c);
	return 0;
}
