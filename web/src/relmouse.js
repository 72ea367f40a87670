// Relative mouse mode: the target has a plain (boot protocol) mouse that
// only knows motion, as BIOS setup screens and boot loaders want.
//
// The browser captures the pointer (Pointer Lock API) and its motion moves
// a virtual pointer over the framebuffer.  That position goes to the
// server as ordinary RFB PointerEvents, and the daemon turns the difference
// between consecutive positions into relative HID reports, so the target's
// own pointer (the local one is hidden under the lock) follows the virtual
// one as long as both start in the same place.  The virtual pointer starts
// where this page last put the pointer, and that position is sent as soon
// as the pointer is captured: the daemon takes a viewer's first position
// after a mode change as the starting point, not as a move.  It is clamped
// to the framebuffer as the target's pointer is to its screen, so pushing
// into a corner brings the two back together.
//
// noVNC internals used (pinned 1.7.0): RFB.messages.pointerEvent on
// rfb._sock to send a position in framebuffer pixels, rfb._sendMouse and
// rfb._display.absX/absY to learn the last position noVNC sent, and
// rfb._mouseButtonMask, reset so noVNC does not resend buttons held here.
// Every mouse event on the screen is taken in the capture phase before
// noVNC's canvas listeners see it.
import RFB from "../node_modules/@novnc/novnc/core/rfb.js";

const MOVE_EVERY_MS = 17;	// as noVNC: at most one move message a frame
const WHEEL_STEP = 50;		// CSS pixels of wheel travel per wheel click
const WHEEL_LINE = 19;		// pixels per line when the wheel counts lines

// RFB button bits: 1 left, 2 middle, 4 right, 8/16 wheel up/down, 32/64
// wheel left/right.  MouseEvent.buttons: 1 left, 2 right, 4 middle.
function rfbButtons(buttons) {
	return (buttons & 1) | (buttons & 4 ? 2 : 0) | (buttons & 2 ? 4 : 0);
}

export class RelativeMouse {
	// screen: the element holding noVNC's canvas; getRfb() the live RFB
	// (or null); onChange({enabled, locked}) after every change.
	constructor(screen, getRfb, onChange) {
		this._screen = screen;
		this._getRfb = getRfb;
		this._onChange = onChange;
		this._enabled = false;
		this._pos = null;		// {x, y}: framebuffer pixels, fractional
		this._sent = null;		// {x, y}: the last position sent
		this._mask = 0;
		this._wheelX = 0;
		this._wheelY = 0;
		this._moveTimer = null;
		this._lastMove = 0;
		const capture = { capture: true, passive: false };
		for (const type of ["mousedown", "mouseup", "mousemove", "wheel", "contextmenu"])
			screen.addEventListener(type, (e) => this._event(e), capture);
		document.addEventListener("pointerlockchange", () => this._lockChanged());
	}

	get enabled() { return this._enabled; }
	get locked() { return !!this._canvas() && document.pointerLockElement === this._canvas(); }
	get state() { return { enabled: this._enabled, locked: this.locked }; }
	// The virtual pointer in framebuffer pixels (sent at most
	// MOVE_EVERY_MS later); before relative mode moved it, the last
	// position sent; null before any.
	get position() {
		if (this._pos)
			return { x: Math.floor(this._pos.x), y: Math.floor(this._pos.y) };
		return this._sent ? { ...this._sent } : null;
	}

	// Follows noVNC's absolute moves so relative mode starts where the
	// target's pointer was left.  Call once per RFB object.
	watch(rfb) {
		const send = rfb._sendMouse.bind(rfb);
		rfb._sendMouse = (x, y, mask) => {
			if (rfb._display.scale)
				this._sent = { x: rfb._display.absX(x), y: rfb._display.absY(y) };
			send(x, y, mask);
		};
		this._pos = null;
	}

	setEnabled(on) {
		on = !!on;
		if (on === this._enabled)
			return;
		this._enabled = on;
		this._pos = null;
		if (!on) {
			this._release();
			if (this.locked)
				document.exitPointerLock();
		}
		this._onChange(this.state);
	}

	// Asks for the pointer; the browser grants it only in a user gesture.
	lock() {
		const canvas = this._canvas();
		if (!canvas || !this._enabled)
			return;
		const plain = () => canvas.requestPointerLock()?.catch?.((err) =>
			console.warn(`relative mouse: no pointer lock: ${err.message}`));
		// Raw motion, without the desktop's acceleration, where the
		// platform has it (headless Chromium refuses it; browsers that
		// return no promise ignore the option).
		let p;
		try {
			p = canvas.requestPointerLock({ unadjustedMovement: true });
		} catch {
			plain();
			return;
		}
		p?.catch?.(plain);
	}

	// Moves the virtual pointer by (dx, dy) CSS pixels, as pointer-locked
	// mouse motion does.  Exposed for tests and for touch input.
	moveBy(dx, dy) {
		const rfb = this._live();
		if (!rfb)
			return;
		const canvas = this._canvas();
		const scale = canvas.getBoundingClientRect().width / canvas.width || 1;
		const pos = this._start(canvas);
		pos.x = Math.min(canvas.width - 1, Math.max(0, pos.x + dx / scale));
		pos.y = Math.min(canvas.height - 1, Math.max(0, pos.y + dy / scale));
		this._queueMove();
	}

	// Sends the virtual position with the buttons in mask (RFB bits).
	buttons(mask) {
		if (!this._live())
			return;
		this._start(this._canvas());
		this._flushMove();
		this._mask = mask;
		this._send();
	}

	_canvas() {
		const rfb = this._getRfb();
		return rfb ? rfb._canvas : null;
	}

	_live() {
		const rfb = this._getRfb();
		if (!this._enabled || !rfb || rfb._rfbConnectionState !== "connected" || rfb.viewOnly)
			return null;
		return rfb;
	}

	// The virtual pointer, starting where the last position sent was (or
	// the middle of the screen before any).
	_start(canvas) {
		if (!this._pos) {
			const from = this._sent || { x: canvas.width / 2, y: canvas.height / 2 };
			this._pos = {
				x: Math.min(canvas.width - 1, Math.max(0, from.x)),
				y: Math.min(canvas.height - 1, Math.max(0, from.y)),
			};
		}
		return this._pos;
	}

	_send() {
		const rfb = this._live();
		if (!rfb || !this._pos)
			return;
		const x = Math.floor(this._pos.x), y = Math.floor(this._pos.y);
		RFB.messages.pointerEvent(rfb._sock, x, y, this._mask);
		this._sent = { x, y };
	}

	_queueMove() {
		if (this._moveTimer !== null)
			return;
		const wait = MOVE_EVERY_MS - (performance.now() - this._lastMove);
		if (wait <= 0) {
			this._lastMove = performance.now();
			this._send();
			return;
		}
		this._moveTimer = setTimeout(() => {
			this._moveTimer = null;
			this._lastMove = performance.now();
			this._send();
		}, wait);
	}

	_flushMove() {
		if (this._moveTimer === null)
			return;
		clearTimeout(this._moveTimer);
		this._moveTimer = null;
		this._send();
	}

	// Lets go of whatever this mode holds, so leaving it never leaves a
	// button down on the target.
	_release() {
		if (this._mask && this._live()) {
			this._flushMove();
			this._mask = 0;
			this._send();
		}
		this._mask = 0;
		clearTimeout(this._moveTimer);
		this._moveTimer = null;
		const rfb = this._getRfb();
		if (rfb)
			rfb._mouseButtonMask = 0;
	}

	_lockChanged() {
		if (!this.locked) {
			this._release();
		} else if (this._live()) {
			// The daemon takes a viewer's first position after a mode
			// change as where it is, not as a move: give it the start
			// before any motion, so none is lost.
			this._start(this._canvas());
			this._send();
		}
		this._onChange(this.state);
	}

	_wheel(e) {
		const unit = e.deltaMode === 0 ? 1 : WHEEL_LINE;
		this._wheelX += e.deltaX * unit;
		this._wheelY += e.deltaY * unit;
		const click = (bit) => {
			this.buttons(this._mask | bit);
			this.buttons(this._mask & ~bit);
		};
		if (Math.abs(this._wheelY) >= WHEEL_STEP) {
			click(this._wheelY < 0 ? 8 : 16);
			this._wheelY = 0;
		}
		if (Math.abs(this._wheelX) >= WHEEL_STEP) {
			click(this._wheelX < 0 ? 32 : 64);
			this._wheelX = 0;
		}
	}

	_event(e) {
		if (!this._enabled || !this._canvas())
			return;
		// Nothing reaches noVNC in this mode: its positions are absolute.
		e.stopPropagation();
		e.preventDefault();
		if (!this.locked) {
			if (e.type === "mousedown" && e.button === 0) {
				this._getRfb().focus();
				this.lock();
			}
			return;
		}
		switch (e.type) {
		case "mousemove":
			if (e.movementX || e.movementY)
				this.moveBy(e.movementX, e.movementY);
			break;
		case "mousedown":
		case "mouseup":
			this.buttons(rfbButtons(e.buttons));
			break;
		case "wheel":
			this._wheel(e);
			break;
		}
	}
}
