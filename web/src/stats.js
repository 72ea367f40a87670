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
//         figure is a lower bound; the REST one is exact;
//   codec the encoding the last pixel rectangle came in (RFB._handleDataRect
//         sees each one; CopyRect says nothing of the codec);
//   decode H.264 only: the mean, over the frames that came out in the last
//         second, of the time from handing a rectangle's payload to
//         noVNC's VideoDecoder (H264Context.decode) until its last frame
//         came out of the decoder: decoding plus any queue in front of it,
//         not the drawing.  A frame the decoder never gives back counts
//         nothing.
import Websock from "../node_modules/@novnc/novnc/core/websock.js";
import RFB from "../node_modules/@novnc/novnc/core/rfb.js";
import { H264Context } from "../node_modules/@novnc/novnc/core/decoders/h264.js";
import { codecName } from "./codec.js";

let rxBytes = 0;
let decodeMs = 0;	// sum over the frames counted in decodes
let decodes = 0;
let decodedTotal = 0;	// H.264 frames out of the decoder since the page loaded

// Every Websock the page makes goes through this one prototype, which
// saves hooking each connection.
const recv = Websock.prototype._recvMessage;
Websock.prototype._recvMessage = function (e) {
	rxBytes += e.data.byteLength || 0;
	return recv.call(this, e);
};

const decode = H264Context.prototype.decode;
H264Context.prototype.decode = function (payload) {
	const t0 = performance.now();
	const pending = decode.call(this, payload);
	if (pending)
		pending.promise.then(() => {
			decodeMs += performance.now() - t0;
			decodes++;
			decodedTotal++;
		});
	return pending;
};

export class Stats {
	constructor(show) {
		this._show = show;
		this.firstFrameMs = null;
		this._flips = 0;
		this._rfb = null;
		this._rttStart = 0;
		this._rtt = null;
		this.codec = null;
		this._decode = null;
		this._lastBytes = rxBytes;
		this._lastTick = performance.now();
		this._timer = setInterval(() => this._tick(), 1000);
	}

	get h264Frames() {
		return decodedTotal;
	}

	// Counts the updates of a new connection.
	attach(rfb) {
		this._rfb = rfb;
		this._rttStart = 0;
		this.codec = null;
		this._decode = null;
		const stats = this;
		const handle = rfb._handleDataRect;
		rfb._handleDataRect = function () {
			const encoding = this._FBU.encoding;
			const done = handle.call(this);
			if (done && codecName(encoding) && stats._rfb === rfb)
				stats.codec = codecName(encoding);
			return done;
		};
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
		this.codec = null;
		this._decode = null;
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
		// A second without H.264 frames keeps the last figure.
		if (decodes)
			this._decode = decodeMs / decodes;
		decodeMs = 0;
		decodes = 0;
		const on = this._rfb !== null;
		this._show({ fps, kbps, rtt: on ? this._rtt : null, codec: on ? this.codec : null,
			decode: on && this.codec && this.codec.startsWith("H.264") ? this._decode : null });
	}
}
