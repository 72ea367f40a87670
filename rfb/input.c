/* RFB input to the rfb_input interface: keys, pointer, XVP power, and
 * the extensions libvncserver lacks on the server side, added with
 * rfbProtocolExtension: QEMU Extended Key Event (-258) and QEMU LED state
 * (-261).  XVP uses libvncserver's own xvpHook.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <rfb/rfb.h>

#include "rfb/log.h"
#include "rfb/server_int.h"

#define ENC_QEMU_EXT_KEY	(-258)
#define ENC_QEMU_LED_STATE	(-261)
#define MSG_QEMU		255
#define QEMU_SUB_EXT_KEY	0

/* libvncserver keeps its extension list globally; our handlers find their
 * server through cl->screen->screenData. */
static rfbProtocolExtension qemu_ext;
static int qemu_ext_registered;

/* ---- input ---- */

void
rfb__on_key(rfbBool down, rfbKeySym keysym, rfbClientPtr cl)
{
	struct rfb_viewer *v = rfb__viewer_of(cl);
	struct rfb_server *s;
	int rc;

	if (v == NULL || v->pending || cl->viewOnly)
		return;
	s = v->srv;
	if ((rc = s->in.key_sym(s->in.ctx, v->id, keysym, down)) < 0)
		rfb__log(WK_LOG_DEBUG, "viewer %d: keysym 0x%x not sent (%d)", v->id, (unsigned)keysym, rc);
}

/* The RFB button mask: bit0 left, bit1 middle, bit2 right, bit3/4 wheel
 * up/down, bit5/6 wheel left/right, bit7 back, bit8 forward (as noVNC and
 * TigerVNC send them). */
uint32_t
rfb_buttons_to_wk(uint32_t mask)
{
	static const uint32_t wk[9] = {
		WK_BTN_LEFT, WK_BTN_MIDDLE, WK_BTN_RIGHT, WK_WHEEL_UP, WK_WHEEL_DOWN,
		WK_WHEEL_LEFT, WK_WHEEL_RIGHT, WK_BTN_BACK, WK_BTN_FORWARD,
	};
	uint32_t b = 0;

	for (int i = 0; i < 9; i++)
		if (mask & 1u << i)
			b |= wk[i];
	return b;
}

void
rfb__on_pointer(int mask, int x, int y, rfbClientPtr cl)
{
	struct rfb_viewer *v = rfb__viewer_of(cl);
	struct rfb_server *s;

	if (v == NULL || v->pending || cl->viewOnly)
		return;
	s = v->srv;
	if (x >= s->width)
		x = s->width - 1;
	if (y >= s->height)
		y = s->height - 1;
	s->in.pointer(s->in.ctx, v->id, x, y, s->width, s->height, rfb_buttons_to_wk((uint32_t)mask));
}

rfbBool
rfb__on_xvp(rfbClientPtr cl, uint8_t version, uint8_t code)
{
	struct rfb_viewer *v = rfb__viewer_of(cl);
	struct rfb_server *s;
	enum rfb_power act;

	if (v == NULL || v->pending || cl->viewOnly || version != 1)
		return FALSE;
	s = v->srv;
	switch (code) {
	case rfbXvp_Shutdown: act = RFB_POWER_OFF; break;
	case rfbXvp_Reboot: act = RFB_POWER_REBOOT; break;
	case rfbXvp_Reset: act = RFB_POWER_RESET; break;
	default:
		rfb__log(WK_LOG_WARN, "viewer %d: unknown XVP operation %u", v->id, code);
		return FALSE;
	}
	rfb__log(WK_LOG_INFO, "viewer %d: XVP %s", v->id,
		 act == RFB_POWER_OFF ? "shutdown" : act == RFB_POWER_REBOOT ? "reboot" : "reset");
	return s->in.power(s->in.ctx, act) == 0;
}

/* ---- QEMU extensions ---- */

/* A FramebufferUpdate holding one pseudo-encoding rectangle. */
static int
send_pseudo_rect(rfbClientPtr cl, int32_t encoding, const uint8_t *payload, int len)
{
	uint8_t msg[4 + 12 + 4];

	msg[0] = rfbFramebufferUpdate;
	msg[1] = 0;
	msg[2] = 0;
	msg[3] = 1;
	memset(msg + 4, 0, 8);	/* x, y, w, h = 0 */
	msg[12] = (uint8_t)((uint32_t)encoding >> 24);
	msg[13] = (uint8_t)((uint32_t)encoding >> 16);
	msg[14] = (uint8_t)((uint32_t)encoding >> 8);
	msg[15] = (uint8_t)encoding;
	if (len > 4)
		return -1;
	if (len > 0)
		memcpy(msg + 16, payload, (size_t)len);
	if (rfbWriteExact(cl, (const char *)msg, 16 + len) < 0) {
		rfbCloseClient(cl);
		return -1;
	}
	return 0;
}

static void
send_leds(struct rfb_viewer *v)
{
	uint8_t b = v->srv->qemu_leds;

	if (!v->led || v->led_sent == b || v->cl->sock == RFB_INVALID_SOCKET)
		return;
	if (send_pseudo_rect(v->cl, ENC_QEMU_LED_STATE, &b, 1) == 0)
		v->led_sent = b;
}

static rfbBool
qemu_enable(rfbClientPtr cl, void **data, int enc)
{
	struct rfb_viewer *v = rfb__viewer_of(cl);

	if (v == NULL)
		return FALSE;
	*data = v;
	switch (enc) {
	case ENC_QEMU_EXT_KEY:
		if (!v->ext_key) {
			v->ext_key = true;
			rfb__log(WK_LOG_DEBUG, "viewer %d: QEMU extended key events on", v->id);
			send_pseudo_rect(cl, ENC_QEMU_EXT_KEY, NULL, 0);
		}
		return TRUE;
	case ENC_QEMU_LED_STATE:
		if (!v->led) {
			v->led = true;
			send_leds(v);
		}
		return TRUE;
	}
	return FALSE;
}

/* Converts QEMU's "qnum" keycode (extended keys as 0x80|code) to an XT
 * scancode with 0xe0 in the high byte.  QEMU sends Pause as 0xc6. */
static uint32_t
qnum_to_xt(uint32_t qnum)
{
	if (qnum == 0xc6)
		return 0xe11d;
	if (qnum >= 0x80 && qnum <= 0xff)
		return 0xe000 | (qnum & 0x7f);
	return qnum;
}

static rfbBool
qemu_message(rfbClientPtr cl, void *data, const rfbClientToServerMsg *msg)
{
	struct rfb_viewer *v = data;
	struct rfb_server *s;
	uint8_t sub, b[10];
	uint32_t keysym, code;
	int n;

	if (msg->type != MSG_QEMU || v == NULL || v->pending)
		return FALSE;
	s = v->srv;
	if ((n = rfbReadExact(cl, (char *)&sub, 1)) <= 0)
		goto gone;
	if (sub != QEMU_SUB_EXT_KEY || !v->ext_key) {
		rfb__log(WK_LOG_WARN, "viewer %d (%s): unsupported QEMU message subtype %u; closing",
			 v->id, v->addr, sub);
		rfbCloseClient(cl);
		return TRUE;
	}
	if ((n = rfbReadExact(cl, (char *)b, sizeof(b))) <= 0)
		goto gone;
	keysym = (uint32_t)b[2] << 24 | (uint32_t)b[3] << 16 | (uint32_t)b[4] << 8 | b[5];
	code = (uint32_t)b[6] << 24 | (uint32_t)b[7] << 16 | (uint32_t)b[8] << 8 | b[9];
	if (cl->viewOnly)
		return TRUE;
	if (code == 0 || code > 0xff) {
		/* No usable scancode: fall back to the keysym, as QEMU does. */
		if (s->in.key_sym(s->in.ctx, v->id, keysym, b[1] != 0) < 0)
			rfb__log(WK_LOG_DEBUG, "viewer %d: keysym 0x%x not sent", v->id, (unsigned)keysym);
		return TRUE;
	}
	if (s->in.key_xt(s->in.ctx, v->id, qnum_to_xt(code), keysym, b[1] != 0) < 0)
		rfb__log(WK_LOG_DEBUG, "viewer %d: scancode 0x%x not sent", v->id, (unsigned)code);
	return TRUE;
gone:
	if (n < 0)
		rfb__log(WK_LOG_INFO, "viewer %d (%s): read: %s", v->id, v->addr, strerror(errno));
	rfbCloseClient(cl);
	return TRUE;
}

static int qemu_encodings[] = { ENC_QEMU_EXT_KEY, ENC_QEMU_LED_STATE, 0 };

void
rfb__register_extensions(void)
{
	if (qemu_ext_registered)
		return;
	qemu_ext.pseudoEncodings = qemu_encodings;
	qemu_ext.enablePseudoEncoding = qemu_enable;
	qemu_ext.handleMessage = qemu_message;
	rfbRegisterProtocolExtension(&qemu_ext);
	qemu_ext_registered = 1;
}

uint8_t
rfb_leds_to_qemu(unsigned leds)
{
	/* QEMU LED state: bit0 scroll, bit1 num, bit2 caps. */
	return (uint8_t)((leds & WK_LED_SCROLL ? 1 : 0) | (leds & WK_LED_NUM ? 2 : 0) |
			 (leds & WK_LED_CAPS ? 4 : 0));
}

void
rfb_set_leds(struct rfb_server *s, unsigned leds)
{
	rfbClientIteratorPtr it;
	rfbClientPtr cl;

	s->qemu_leds = rfb_leds_to_qemu(leds);
	it = rfbGetClientIterator(s->scr);
	while ((cl = rfbClientIteratorNext(it)) != NULL)
		if (rfb__viewer_of(cl) != NULL)
			send_leds(rfb__viewer_of(cl));
	rfbReleaseClientIterator(it);
}
