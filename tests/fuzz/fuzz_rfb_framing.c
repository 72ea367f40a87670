/* rfb__msg_len: how the server frames a viewer's bytes before libvncserver
 * reads them.  First byte: the protocol phase; the rest: what the socket
 * holds. */
#include "tests/fuzz/fuzz_common.h"
#include "rfb/framing.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why = NULL;
	enum rfb__phase ph;
	uint8_t *buf;
	size_t len;
	long m;

	if (size < 1)
		return 0;
	ph = (enum rfb__phase)(data[0] % (RFB__PHASE_NORMAL + 1));
	len = size - 1;
	buf = malloc(len ? len : 1);
	if (buf == NULL)
		abort();
	memcpy(buf, data + 1, len);
	m = rfb__msg_len(ph, buf, len, &why);
	FUZZ_CHECK(m == RFB__BAD || m >= 0);
	FUZZ_CHECK(m <= (long)len && m <= RFB__MAX_MSG);
	if (m == RFB__BAD)
		FUZZ_CHECK(why != NULL);
	if (m > 0) {
		/* The message alone frames the same, and a cut one asks for more. */
		FUZZ_CHECK(rfb__msg_len(ph, buf, (size_t)m, &why) == m);
		FUZZ_CHECK(rfb__msg_len(ph, buf, (size_t)m - 1, &why) == RFB__NEED_MORE);
		FUZZ_CHECK(rfb__msg_len(ph, buf, (size_t)m / 2, &why) == RFB__NEED_MORE);
	}
	free(buf);
	return 0;
}
