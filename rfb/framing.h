/* rfb/ internal: how long is the next client message?
 *
 * libvncserver reads a message with blocking reads, so a viewer that sends
 * half a message would stall our single event loop.  We peek at what the
 * socket holds and let libvncserver read only once a whole message is
 * there.  Not a public header.
 */
#ifndef WEBKVM_RFB_FRAMING_H
#define WEBKVM_RFB_FRAMING_H

#include <stddef.h>
#include <stdint.h>

/* Protocol phases, as libvncserver's rfbClientRec.state. */
enum rfb__phase {
	RFB__PHASE_VERSION,	/* 12-byte "RFB 003.008\n" */
	RFB__PHASE_SECURITY,	/* 1-byte security type */
	RFB__PHASE_AUTH,	/* 16-byte VNC auth response */
	RFB__PHASE_INIT,	/* 1-byte ClientInit */
	RFB__PHASE_NORMAL,	/* client-to-server messages */
};

/* Longest message we accept: larger ones (a 1 MiB clipboard, 60000
 * encodings) are refused rather than buffered. */
#define RFB__MAX_MSG 65536
#define RFB__MAX_ENCODINGS 1024

enum {
	RFB__NEED_MORE = 0,
	RFB__BAD = -1,		/* unknown type or absurd length: drop the viewer */
};

/* Returns the length of the first message in buf[0..len) when it is all
 * there, RFB__NEED_MORE when more bytes are needed, or RFB__BAD with a
 * reason in *why. */
long rfb__msg_len(enum rfb__phase ph, const uint8_t *buf, size_t len, const char **why);

#endif
