/* firmware/ — works around libvncserver 0.9.14 (Debian bookworm) where it
 * would stall or hang the daemon.
 *
 * rfbNewClient() runs webSocketsCheck() on every new connection: it waits up
 * to 100 ms, in our single event loop, for the peer to say whether it speaks
 * WebSocket — every other viewer freezes meanwhile.  Worse, a peer that sends
 * 1 to 3 bytes in that window makes rfbPeekExactTimeout() spin forever
 * (a partial MSG_PEEK is retried with a stale errno), so one TCP connection
 * hangs the daemon at 100% CPU and SIGTERM is never read.
 *
 * WebSocket is webkvm-proxy's job; our RFB port speaks plain RFB only.  The
 * library calls webSocketsCheck() through its PLT, so this definition in the
 * executable takes its place: every connection is a normal RFB one, at once.
 * (Move to rfb/server.c, which owns libvncserver, when convenient.)
 */
#include <rfb/rfb.h>

rfbBool webSocketsCheck(rfbClientPtr cl);

rfbBool
webSocketsCheck(rfbClientPtr cl)
{
	(void)cl;
	return TRUE;
}
