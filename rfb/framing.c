#include "rfb/framing.h"

static uint32_t
be16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Message of fixed header `hdr` bytes plus a count at `at` times `each`. */
static long
counted(size_t len, size_t hdr, uint32_t n, uint32_t each)
{
	long need = (long)hdr + (long)n * each;

	return (size_t)need <= len ? need : RFB__NEED_MORE;
}

long
rfb__msg_len(enum rfb__phase ph, const uint8_t *buf, size_t len, const char **why)
{
	long fixed;

	switch (ph) {
	case RFB__PHASE_VERSION: fixed = 12; goto fixed;
	case RFB__PHASE_SECURITY: fixed = 1; goto fixed;
	case RFB__PHASE_AUTH: fixed = 16; goto fixed;
	case RFB__PHASE_INIT: fixed = 1; goto fixed;
	case RFB__PHASE_NORMAL: break;
	}
	if (len < 1)
		return RFB__NEED_MORE;
	switch (buf[0]) {
	case 0: fixed = 20; goto fixed;		/* SetPixelFormat */
	case 3: fixed = 10; goto fixed;		/* FramebufferUpdateRequest */
	case 4: fixed = 8; goto fixed;		/* KeyEvent */
	case 5: fixed = 6; goto fixed;		/* PointerEvent */
	case 250: fixed = 4; goto fixed;	/* XVP */
	case 2:					/* SetEncodings */
		if (len < 4)
			return RFB__NEED_MORE;
		if (be16(buf + 2) > RFB__MAX_ENCODINGS) {
			*why = "SetEncodings with more than 1024 encodings";
			return RFB__BAD;
		}
		return counted(len, 4, be16(buf + 2), 4);
	case 6: {				/* ClientCutText */
		uint32_t n;

		if (len < 8)
			return RFB__NEED_MORE;
		n = be32(buf + 4);
		if (n & 0x80000000u)		/* extended clipboard: -length */
			n = 0u - n;
		if (n > RFB__MAX_MSG - 8) {
			*why = "ClientCutText longer than 64 KiB";
			return RFB__BAD;
		}
		return counted(len, 8, n, 1);
	}
	case 251:				/* SetDesktopSize */
		if (len < 8)
			return RFB__NEED_MORE;
		return counted(len, 8, buf[6], 16);
	case 255:				/* QEMU client message */
		if (len < 2)
			return RFB__NEED_MORE;
		if (buf[1] != 0) {
			*why = "QEMU message other than extended key event";
			return RFB__BAD;
		}
		fixed = 12;
		goto fixed;
	default:
		*why = "unsupported message type";
		return RFB__BAD;
	}
fixed:
	return len >= (size_t)fixed ? fixed : RFB__NEED_MORE;
}
