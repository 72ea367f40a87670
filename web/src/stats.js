// Live figures for the toolbar.
//
//   fps   framebuffer updates the page finished per second (noVNC's
//         Display.flip runs once at the end of each FramebufferUpdate);
//   kB/s  bytes received on the WebSocket per second, counted in noVNC's
//         Websock before decoding;
//   rtt   round trip to the daemon: GET /api/status through the proxy when
//         the proxy has the REST API; otherwise over RFB, the time from a
//         non-incremental FramebufferUpdateRequest for one pixel (which the
//         server must answer at once) to the end of the next update.  An
//         update already on its way can end the RFB measure early, so that
//         figure is a lower bound; the REST one is exact.
import Websock from "../node_modules/@novnc/novnc/core/websock.js";
import RFB from "../node_modules/@novnc/novnc/core/rfb.js";

let rxBytes = 0;

// Every Websock the page makes goes through this one prototype, which
// saves hooking each connection.
const recv = Websock.prototype._recvMessage;
Websock.prototype._recvMessage = function (e) {
	rxBytes += e.data.byteLength || 0;
	return recv.call(this, e);
};

export class Stats {
	constructor(show) {
		this._show = show;
		this.firstFrameMs = null;
		this._flips = 0;
		this._rfb = null;
		this._rttStart = 0;
		this._rtt = null;
		this._lastBytes = rxBytes;
		this._lastTick = performance.now();
		this._timer = setInterval(() => this._tick(), 1000);
	}

	// Counts the updates of a new connection.
	attach(rfb) {
		this._rfb = rfb;
		this._rttStart = 0;
		const display = rfb._display;
		const flip = display.flip.bind(display);
		display.flip = (...args) => {
			this._flips++;
			// ms since the page started loading: the first-frame time.
			if (this.firstFrameMs === null)
				this.firstFrameMs = performance.now();
			if (this._rttStart) {
				this._rtt = performance.now() - this._rttStart;
				this._rttStart = 0;
			}
			return flip(...args);
		};
	}

	detach() {
		this._rfb = null;
		this._rttStart = 0;
	}

	// Measures one RFB round trip (see above); skipped while one is out.
	probeRfb() {
		const rfb = this._rfb;
		if (!rfb || this._rttStart || rfb._rfbConnectionState !== "connected")
			return;
		this._rttStart = performance.now();
		RFB.messages.fbUpdateRequest(rfb._sock, false, 0, 0, 1, 1);
	}

	setRtt(ms) {
		this._rtt = ms;
	}

	_tick() {
		const now = performance.now();
		const secs = Math.max(0.001, (now - this._lastTick) / 1000);
		const fps = this._flips / secs;
		const kbps = (rxBytes - this._lastBytes) / 1024 / secs;
		this._flips = 0;
		this._lastBytes = rxBytes;
		this._lastTick = now;
		this._show({ fps, kbps, rtt: this._rfb ? this._rtt : null });
	}
}
