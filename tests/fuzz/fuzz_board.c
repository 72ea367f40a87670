/* board.conf as board_def_load reads it: the input is the whole file (from
 * a memfd).  A definition that loads holds only what the parser allows; one
 * that does not has a message naming the file. */
#include "tests/fuzz/fuzz_common.h"
#include "board/board.h"

static int conf_fd;
static char conf_path[64];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	conf_fd = fuzz_memfd("board.conf", conf_path, sizeof(conf_path));
	return 0;
}

#define TERMINATED(f) FUZZ_CHECK(memchr((f), '\0', sizeof(f)) != NULL)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct board_def d;
	char err[600];
	int rc, n = 0;

	fuzz_memfd_set(conf_fd, data, size);
	err[0] = '\0';
	rc = board_def_load(conf_path, "fuzzed", &d, err, sizeof(err));
	if (rc < 0) {
		FUZZ_CHECK(strncmp(err, conf_path, strlen(conf_path)) == 0);
		FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL);
		return 0;
	}
	FUZZ_CHECK(rc == 0);
	TERMINATED(d.name);
	TERMINATED(d.description);
	TERMINATED(d.source);
	TERMINATED(d.device);
	TERMINATED(d.edid);
	TERMINATED(d.udc);
	FUZZ_CHECK(d.ops == BOARD_OPS_GENERIC || d.ops == BOARD_OPS_SIM);
	FUZZ_CHECK(strcmp(d.source, "sim") != 0 || d.ops == BOARD_OPS_SIM);
	FUZZ_CHECK(d.device[0] == '\0' || d.device[0] == '/');
	FUZZ_CHECK(d.edid[0] == '\0' || d.edid[0] == '/');
	FUZZ_CHECK((d.width == 0 && d.height == 0) ||
		   (d.width >= 64 && d.width <= 8192 && d.height >= 64 && d.height <= 8192));
	FUZZ_CHECK(d.fps >= 0 && d.fps <= 240);
	FUZZ_CHECK(d.hid_profile >= 0 && d.hid_profile <= 3);
	while (n < 8 && d.formats[n] != CAP_FMT_NONE)
		n++;
	FUZZ_CHECK(n < 8);
	/* Hooks take no value until their code exists. */
	FUZZ_CHECK(!d.power_button[0] && !d.reset_button[0] && !d.power_led[0] && !d.hdd_led[0] &&
		   !d.mass_storage[0] && !d.serial_port[0]);
	return 0;
}
