// Which video codec the page asks the KVM for, and why.
//
// H.264 (RFB encoding 50) is decoded by noVNC with WebCodecs, which exists
// only in secure contexts (HTTPS, http://localhost, http://127.0.0.1).
// noVNC decides whether to offer it from its own check (a test frame
// decoded by VideoDecoder, core/util/browser.js); web/build.mjs turns that
// check's top-level await into the promise webCodecsH264Check, so a
// browser whose VideoDecoder never answers (Android Chrome with noVNC
// 1.7.0) still gets a page.  We wait for it at most CHECK_MS.
//
// Hooks into noVNC internals (pinned 1.7.0): RFB._sendEncodings is
// replaced per connection and RFB.messages.clientEncodings is swapped for
// the length of one call, so noVNC's own list is kept and only edited;
// H264Parser.prototype.parse is replaced (below).
import RFB from "../node_modules/@novnc/novnc/core/rfb.js";
import { encodings } from "../node_modules/@novnc/novnc/core/encodings.js";
import { webCodecsH264Check } from "../node_modules/@novnc/novnc/core/util/browser.js";
import { H264Parser } from "../node_modules/@novnc/novnc/core/decoders/h264.js";

export const CHECK_MS = 1000;

// webkvm's private pseudo-encodings (rfb/ in the daemon): a viewer's H.264
// bitrate cap in 100 kbit/s steps and its frame-rate cap in fps.
export const KBPS_BASE = 0x574B1000;
export const KBPS_STEP = 100;
export const KBPS_MAX = 255 * KBPS_STEP;
export const FPS_BASE = 0x574B2000;
export const FPS_MAX = 60;

export const CODECS = ["auto", "h264", "tight"];

// webkvm's pseudo-encoding for what this viewer's decoder takes beyond one
// Constrained Baseline slice per picture, CAPS + bits: 1 High 4:4:4
// Predictive (the daemon then sends full-resolution colour, sharper
// coloured text for more bytes, instead of 4:2:0), 2 pictures in several
// slices (the daemon then encodes on several threads; this page joins the
// slices before decoding, which noVNC 1.7.0 does not).
export const CAPS_BASE = 0x574B3000;
export const CAP_444 = 1;
export const CAP_SLICES = 2;

// A 16x16 High 4:4:4 Predictive IDR (SPS, PPS, one slice), made with x264,
// for the browser to prove it decodes that profile.
const TEST_444 = "AAAAAWf0AAqRlp7ARAAAAwAEAAADAAo8SJqAAAAAAWjODxkgAAABZYiEOiRQABB9igACCtFAAECP";

// Whether a High 4:4:4 Predictive frame decodes here: the profile at
// 1080p is supported and the test frame comes out without an error.
async function decodes444() {
	const at1080 = await VideoDecoder.isConfigSupported({
		codec: "avc1.f40028", codedWidth: 1920, codedHeight: 1080, optimizeForLatency: true });
	if (!at1080.supported)
		return false;
	let frames = 0, error = null;
	const dec = new VideoDecoder({
		output: (f) => { frames++; f.close(); },
		error: (e) => { error = e; },
	});
	try {
		dec.configure({ codec: "avc1.f4000a", codedWidth: 16, codedHeight: 16, optimizeForLatency: true });
		const data = Uint8Array.from(atob(TEST_444), (c) => c.charCodeAt(0));
		dec.decode(new EncodedVideoChunk({ type: "key", timestamp: 0, data }));
		await dec.flush();
	} finally {
		if (dec.state !== "closed")
			dec.close();
	}
	return frames === 1 && error === null;
}

// What the browser can do, once known: { ok, why, chroma444 } where why
// says, in a few words, why H.264 cannot be used ("" when it can) and
// chroma444 whether it decodes High 4:4:4 Predictive too.  null until the
// checks answered or CHECK_MS passed.
let support = null;
let checking = null;	// the one check, started by the first checkH264()

const CANNOT = "this browser cannot decode H.264";

// Resolves to the support above within CHECK_MS: noVNC's own check for
// H.264 (Constrained Baseline) and ours for 4:4:4, side by side.
// onLate(support) is called if noVNC's answers after that (the page may
// switch then).
export function checkH264(onLate) {
	if (checking)
		return checking;
	if (!window.isSecureContext)
		support = { ok: false, why: "H.264 needs HTTPS (this page is not a secure context)", chroma444: false };
	else if (!("VideoDecoder" in window))
		support = { ok: false, why: "this browser has no WebCodecs VideoDecoder for H.264", chroma444: false };
	if (support) {
		checking = Promise.resolve(support);
		return checking;
	}
	const full = decodes444().catch(() => false);
	let timer;
	const deadline = new Promise((res) => {
		timer = setTimeout(() => res(null), CHECK_MS);
	});
	const answer = (ok, c444) => ({ ok, why: ok ? "" : CANNOT, chroma444: ok && c444 === true });
	checking = Promise.all([Promise.race([webCodecsH264Check, deadline]), Promise.race([full, deadline])])
		.then(([ok, c444]) => {
			clearTimeout(timer);
			if (ok !== null) {
				support = answer(ok, c444);
				return support;
			}
			support = { ok: false, why: `the browser's H.264 check did not answer within ${CHECK_MS / 1000} s`,
				chroma444: false };
			Promise.all([webCodecsH264Check, full]).then(([v, c]) => {
				support = answer(v, c);
				if (onLate)
					onLate(support);
			});
			return support;
		});
	return checking;
}

export function h264Support() {
	return support;
}

// What to ask the KVM for, from the user's choice and what the browser
// can do: { h264, notice } where notice is the one line shown when the
// page falls back to Tight although the user did not choose Tight.
export function plan(choice, sup) {
	if (choice === "tight")
		return { h264: false, notice: "" };
	if (!sup)
		return { h264: false, notice: "" };
	if (sup.ok)
		return { h264: true, notice: "" };
	return { h264: false, notice: `Using Tight: ${sup.why}` };
}

// Edits noVNC's encoding list: 50 goes right after CopyRect when H.264 is
// wanted (the daemon takes it when it comes before every other pixel
// encoding), and nowhere otherwise, whatever noVNC's own check found;
// the caps and 4:4:4 follow when set.  Only at full depth: noVNC lists Tight then.
export function editEncodings(encs, want) {
	const out = encs.filter((e) => e !== encodings.encodingH264);
	if (!want.h264 || !out.includes(encodings.encodingTight))
		return out;
	const at = out.indexOf(encodings.encodingCopyRect);
	out.splice(at + 1, 0, encodings.encodingH264);
	if (want.kbps)
		out.push(KBPS_BASE + Math.round(want.kbps / KBPS_STEP));
	if (want.fps)
		out.push(FPS_BASE + want.fps);
	out.push(CAPS_BASE + CAP_SLICES + (want.chroma444 ? CAP_444 : 0));
	return out;
}

// Makes rfb send noVNC's encodings as edited by editEncodings(list,
// getWant()), now and whenever noVNC sends them (connect, quality or
// compression changed).  The list sent last is kept in rfb.webkvmEncodings.
export function hookEncodings(rfb, getWant) {
	const own = rfb._sendEncodings;
	rfb._sendEncodings = function () {
		const send = RFB.messages.clientEncodings;
		RFB.messages.clientEncodings = (sock, encs) => {
			const edited = editEncodings(encs, getWant());
			rfb.webkvmEncodings = edited;
			return send.call(RFB.messages, sock, edited);
		};
		try {
			return own.call(this);
		} finally {
			RFB.messages.clientEncodings = send;
		}
	};
}

// Sends the encodings again on a live connection (a setting changed).
export function resendEncodings(rfb) {
	if (rfb && rfb._rfbConnectionState === "connected")
		rfb._sendEncodings();
}

export function codecName(encoding) {
	switch (encoding) {
	case encodings.encodingH264: return lastProfile === 244 ? "H.264 4:4:4" : "H.264";
	case encodings.encodingTight: return "Tight";
	case encodings.encodingTightPNG: return "TightPNG";
	case encodings.encodingZRLE: return "ZRLE";
	case encodings.encodingHextile: return "Hextile";
	case encodings.encodingZlib: return "Zlib";
	case encodings.encodingRRE: return "RRE";
	case encodings.encodingJPEG: return "JPEG";
	case encodings.encodingRaw: return "Raw";
	default: return null;	// CopyRect and the like say nothing of the codec
	}
}

// The profile_idc of the last SPS seen (244: High 4:4:4 Predictive).
let lastProfile = null;

export function h264Profile() {
	return lastProfile;
}

// noVNC 1.7.0's H264Parser.parse ends a frame at the first slice, so a
// picture coded in several slices (x264 with sliced threads, as its
// zerolatency tuning sets; many hardware encoders) reaches VideoDecoder
// as several chunks, each decoded as a picture of its own: the page shows
// the last slice over a green screen.  This one ends a frame where the
// next picture starts: a slice whose first_mb_in_slice is 0 (ue(v) 0 is
// the single bit 1) or any other unit after a slice (SPS, PPS, SEI, AUD
// open an access unit).  What it returns is as before: { frame, key }.
H264Parser.prototype.parse = function () {
	const data = this._data;
	const start = this._index;
	let key = false;
	let slices = 0;
	while (this._index < data.length) {
		const startLen = this._getStartSequenceLen(this._index);
		if (startLen === 0)
			throw new Error("Invalid start sequence in bit stream");
		const nal = this._index + startLen;
		const type = data[nal] & 0x1f;
		const slice = type === 1 || type === 5;
		if (slices && (!slice || (data[nal + 1] & 0x80)))
			break;
		this._parseNalUnit(nal);
		if (type === 7)
			lastProfile = this.profileIdc;
		if (type === 5)
			key = true;
		if (slice)
			slices++;
		const next = this._indexOfNextNalUnit(nal);
		this._index = next < 0 ? data.length : next;
	}
	if (start === this._index)
		return null;
	return { frame: data.subarray(start, this._index), key };
};
