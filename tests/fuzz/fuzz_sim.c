/* The virtual target must take any report stream: records of
 * [0] iface/len byte, then the report bytes; a frame is rendered every few
 * reports (so typed console commands like `res WxH` take effect) and the
 * simulated clock moves with the input. */
#include "tests/fuzz/fuzz_common.h"
#include "board/sim/sim.h"
#include "hid/hid.h"

static struct sim_target *sim;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t now = 10000000;	/* past the simulated POST */
	size_t i = 0;
	int n = 0;

	/* A fresh target per input: a crash replays from its input alone. */
	if ((sim = sim_new(320, 200)) == NULL)
		abort();
	if (size > 0)
		sim_set_layout(sim, data[0] % 11);
	i = 1;
	while (i < size) {
		uint8_t h = data[i++];
		/* Bit 0: a pointer report; bit 3 then picks the relative
		 * mouse over the tablet. */
		int iface = !(h & 1) ? HID_IFACE_KEYBOARD : h & 0x08 ? HID_IFACE_MOUSE : HID_IFACE_POINTER;
		size_t want = hid_report_len((enum hid_iface)iface);
		size_t len = h & 0x80 ? (size_t)((h >> 1) & 0xf) : want;
		struct cap_frame f;
		uint8_t *r;

		if (len > size - i)
			len = size - i;
		r = malloc(len ? len : 1);
		memcpy(r, data + i, len);
		(void)sim_hid_input(sim, iface, r, len);
		free(r);
		i += len;
		if ((h & 0x70) == 0x70)
			sim_power(sim, (enum sim_power)((h >> 1) & 3));
		now += 1000 + (uint64_t)h * 5000;
		if (++n % 32 == 0 && sim_render(sim, now, &f) == 0) {
			FUZZ_CHECK(f.fmt == CAP_FMT_XRGB32 && f.width >= 320 && f.height >= 200);
			FUZZ_CHECK(f.stride >= f.width * 4 && f.size >= (size_t)f.stride * (size_t)f.height);
		}
	}
	sim_free(sim);
	return 0;
}
