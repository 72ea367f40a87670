/* board/sim: struct board_ops of the sim board, the virtual target
 * in-process.  Its power button is sim_power(); its power LED is lit while
 * it is on.  It has no disk LED, no media and no serial console. */
#include <errno.h>
#include <stdio.h>

#include "board/board.h"
#include "board/sim/sim.h"

static int
sim_ops_open(const struct board_def *def, int width, int height, void **impl, char *err, size_t errlen)
{
	struct sim_target *s = sim_new(width, height);

	if (s == NULL) {
		snprintf(err, errlen, "board %s: cannot make a %dx%d virtual target (320x200 to 4096x2160)",
			 def->name, width, height);
		return -EINVAL;
	}
	*impl = s;
	return 0;
}

static void
sim_ops_close(void *impl)
{
	sim_free(impl);
}

static int
sim_ops_power(void *impl, enum board_power action)
{
	switch (action) {
	case BOARD_POWER_ON:
		sim_power(impl, SIM_POWER_ON);
		return 0;
	/* Nothing runs on the sim that could shut down in order. */
	case BOARD_POWER_OFF:
	case BOARD_POWER_FORCE_OFF:
		sim_power(impl, SIM_POWER_OFF);
		return 0;
	case BOARD_POWER_RESET:
		sim_power(impl, SIM_POWER_RESET);
		return 0;
	case BOARD_POWER_REBOOT:
		sim_power(impl, SIM_POWER_REBOOT);
		return 0;
	case BOARD_POWER_COUNT:
		break;
	}
	return -EINVAL;
}

static int
sim_ops_leds(void *impl, unsigned *have, unsigned *lit)
{
	*have = BOARD_LED_POWER;
	*lit = sim_is_on(impl) ? BOARD_LED_POWER : 0;
	return 0;
}

const struct board_ops board_sim_ops = {
	.name = "sim",
	.open = sim_ops_open,
	.close = sim_ops_close,
	.power = sim_ops_power,
	.leds = sim_ops_leds,
};
