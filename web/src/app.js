// webkvm console: noVNC's RFB core plus a KVM toolbar.
//
// Hooks into noVNC internals (the pinned version is 1.7.0; re-check them
// when upgrading): Keyboard._allKeysUp to release held keys (the public
// viewOnly toggle drops the key-ups), RFB._handleLedEvent for the lock
// state (noVNC keeps Caps/Num private and discards Scroll), in stats.js
// Display.flip and Websock._recvMessage for the live figures, and in
// relmouse.js RFB.messages.pointerEvent, RFB._sock, RFB._sendMouse,
// Display.absX/absY and RFB._mouseButtonMask for the relative mouse, in
// codec.js RFB._sendEncodings and RFB.messages.clientEncodings for the
// codec and its caps and H264Parser.parse for pictures in several slices,
// in stats.js RFB._handleDataRect and H264Context.decode for the codec in
// use and the decode time, and in web/build.mjs the H.264 check of
// core/util/browser.js.
import RFB from "../node_modules/@novnc/novnc/core/rfb.js";
import { CODECS, checkH264, h264Support, hookEncodings, plan, resendEncodings } from "./codec.js";
import { COMBOS, MODIFIERS, NAMED_KEYS, sendCombo, typeText, charKeysym } from "./keys.js";
import { RelativeMouse } from "./relmouse.js";
import { Stats } from "./stats.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const token = params.get("token");

const RETRY_MIN_S = 1;
const RETRY_MAX_S = 30;
const API_TIMEOUT_MS = 3000;
const PROBE_EVERY_MS = 2000;
const PASTE_MAX = 65536;
const PASTE_POLL_MS = 250;	// progress of a paste being typed
const DELAY_MAX_MS = 1000;

let rfb = null;
let attempt = 0;		// failed connections since the last success
let retryTimer = null;
let countdownTimer = null;
let apiUp = false;		// the proxy answers /api/ (webkvm-proxy, not websockify)
let hid = null;			// the daemon's input settings (GET /api/hid), null: none

// ---- where things are ----

function wsUrl() {
	const scheme = location.protocol === "https:" ? "wss" : "ws";
	const path = (params.get("path") || "websockify").replace(/^\/+/, "");
	let url = `${scheme}://${location.host}/${path}`;
	if (token)
		url += (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token);
	return url;
}

// Relative, so the page also works under a prefix.
function apiUrl(what) {
	return "api/" + what + (token ? "?token=" + encodeURIComponent(token) : "");
}

async function api(method, what, body) {
	const ctl = new AbortController();
	const timer = setTimeout(() => ctl.abort(), API_TIMEOUT_MS);
	try {
		const res = await fetch(apiUrl(what), {
			method,
			signal: ctl.signal,
			cache: "no-store",
			headers: body ? { "Content-Type": "application/json" } : {},
			body: body ? JSON.stringify(body) : undefined,
		});
		const type = res.headers.get("Content-Type") || "";
		const json = type.includes("json") ? await res.json() : null;
		if (!res.ok || !json || json.ok === false) {
			const err = new Error(json && json.error ? json.error : `HTTP ${res.status}`);
			err.status = res.status;
			// The daemon's own refusal (not a missing API, a size limit or
			// an unreachable daemon).
			err.answer = json && json.ok === false && (res.status === 400 || res.status === 409) ? json : null;
			throw err;
		}
		return json;
	} finally {
		clearTimeout(timer);
	}
}

// ---- connection ----

function setState(state, title, detail) {
	const pill = $("state");
	pill.dataset.state = state;
	pill.textContent = state;
	document.body.dataset.state = state;
	$("banner").hidden = state === "connected";
	$("banner-title").textContent = title || "";
	$("banner-detail").textContent = detail || "";
	$("banner-retry").hidden = state !== "disconnected";
}

function connect() {
	clearTimeout(retryTimer);
	clearInterval(countdownTimer);
	retryTimer = countdownTimer = null;
	if (rfb)
		return;
	setState("connecting", "Connecting…", wsUrl());

	let r;
	try {
		r = new RFB($("screen"), wsUrl(), { shared: true });
	} catch (err) {
		scheduleRetry(`cannot connect: ${err.message}`);
		return;
	}
	rfb = r;
	r.background = "#0b0e13";
	r.focusOnClick = true;
	applyView();
	hookEncodings(r, wantCodec);
	hookLeds(r);
	relMouse.watch(r);
	stats.attach(r);

	r.addEventListener("connect", () => {
		attempt = 0;
		setState("connected");
		showPointer(relMouse.state);
		r.focus();
		probeApi().then((st) => {
			if (!st)
				stats.probeRfb();
			loadHid();
		});
	});
	let refused = null;
	r.addEventListener("disconnect", (e) => {
		if (rfb === r)
			rfb = null;
		stats.detach();
		showLeds(null);
		showPointer(relMouse.state);
		// The same credentials would be refused again: wait for the user.
		if (refused !== null)
			setState("disconnected", "Access refused", refused);
		else
			scheduleRetry(e.detail.clean ? "the connection was closed" : "the connection was lost");
	});
	r.addEventListener("credentialsrequired", () => {
		const password = window.prompt("Password for the KVM");
		if (password === null)
			r.disconnect();
		else
			r.sendCredentials({ password });
	});
	r.addEventListener("securityfailure", (e) => {
		refused = e.detail.reason || `security failure (status ${e.detail.status})`;
	});
	r.addEventListener("desktopname", (e) => {
		document.title = e.detail.name ? `${e.detail.name} – webkvm` : "webkvm";
	});
}

// 1 s, 2 s, 4 s … 30 s between tries, reset by a successful connection.
function scheduleRetry(why) {
	const delay = Math.min(RETRY_MAX_S, RETRY_MIN_S * 2 ** attempt);
	attempt++;
	let left = delay;
	const show = () => setState("disconnected", "Disconnected",
		`${why}; reconnecting in ${left} s`);
	show();
	clearInterval(countdownTimer);
	countdownTimer = setInterval(() => { left = Math.max(0, left - 1); show(); }, 1000);
	clearTimeout(retryTimer);
	retryTimer = setTimeout(connect, delay * 1000);
}

async function probeApi() {
	try {
		const t0 = performance.now();
		const gen = pasteGen;
		const st = await api("GET", "status");
		apiUp = true;
		stats.setRtt(performance.now() - t0);
		// Another viewer or the control socket may have changed them.
		if (hid && st.mouse !== undefined) {
			showHid({ ...hid, mouse: st.mouse, mice: st.mice || hid.mice, layout: st.layout,
				profile: st.profile });
			if (gen === pasteGen)
				followPaste(st.paste);
		}
		return st;
	} catch {
		apiUp = false;
		return null;
	}
}

function connected() {
	return rfb && rfb._rfbConnectionState === "connected";
}

// ---- keyboard ----

function hookLeds(r) {
	const handle = r._handleLedEvent.bind(r);
	r._handleLedEvent = () => {
		if (r._sock.rQwait("LED status", 1))
			return false;
		const bits = r._sock.rQpeek8();
		const done = handle();
		if (done)
			showLeds(bits);
		return done;
	};
}

// bits as in the QEMU LED state pseudo-encoding: 1 Scroll, 2 Num, 4 Caps;
// null when unknown.
function showLeds(bits) {
	for (const [id, bit] of [["led-scroll", 1], ["led-num", 2], ["led-caps", 4]])
		$(id).dataset.on = bits === null ? "unknown" : String(!!(bits & bit));
}

function releaseAll() {
	if (!connected())
		return;
	rfb._keyboard._allKeysUp();
	for (const [sym, code] of MODIFIERS)
		rfb.sendKey(sym, code, false);
}

// The button also asks the daemon, which lets go of every viewer's keys
// and buttons, not only the ones this page knows it holds.
function releaseButton() {
	releaseAll();
	if (apiUp)
		api("POST", "release", {}).catch((err) => console.warn(`release through the API: ${err.message}`));
	rfb?.focus();
}

function combo(name) {
	if (!connected())
		return;
	sendCombo(rfb, COMBOS[name]);
	rfb.focus();
}

// noVNC releases its keys on window blur; a hidden tab does not always
// blur the window, so do it here as well.
document.addEventListener("visibilitychange", () => {
	if (document.hidden)
		releaseAll();
});
window.addEventListener("pagehide", releaseAll);

// ---- paste ----
//
// Through the daemon when it is there: it checks the whole text against
// the target's layout before typing, paces the keys and can cancel.  Over
// RFB otherwise (websockify), as fast as noVNC sends.

let pasteTimer = null;
let pasteTotal = 0;
// Bumped when a paste starts or is cancelled: a status asked for before
// that says nothing about the paste now.
let pasteGen = 0;

function pasteDelay() {
	const el = $("paste-delay");
	const v = Number(el.value);
	if (el.value === "" || !Number.isInteger(v) || v < 0 || v > DELAY_MAX_MS)
		return null;
	return v;
}

// Lists what the layout cannot type and selects the first in the text.
function showUntypable(text, list) {
	const el = $("paste-untypable");
	if (!list || !list.length) {
		el.hidden = true;
		el.textContent = "";
		return;
	}
	const layout = hid ? ` (${hid.layout})` : "";
	const items = list.map((u) => {
		const ch = u.char === "\n" ? "↵" : u.char === " " ? "␣" : u.char;
		return `“${ch}”${u.code ? " " + u.code : ""} at character ${u.at + 1}`;
	});
	el.textContent = `Not on the target's keyboard layout${layout}, nothing was typed: ${items.join(", ")}`;
	el.hidden = false;
	// "at" counts characters (code points); the textarea counts UTF-16.
	const chars = [...text];
	const first = list[0].at;
	if (Number.isInteger(first) && first >= 0 && first < chars.length) {
		const from = chars.slice(0, first).join("").length;
		$("paste-text").setSelectionRange(from, from + chars[first].length);
	}
}

function showPasteBusy(active, left) {
	$("paste-busy").hidden = !active;
	$("paste-send").disabled = active;
	const bar = $("paste-progress");
	if (active) {
		const total = Math.max(pasteTotal, left);
		bar.max = total || 1;
		bar.value = total - left;
		$("paste-info").textContent = `typing: ${left} of ${total} characters left; keys you press wait until it ends`;
		$("btn-paste").dataset.busy = "true";
	} else {
		delete $("btn-paste").dataset.busy;
	}
}

function stopPastePoll() {
	clearTimeout(pasteTimer);
	pasteTimer = null;
}

// Follows a paste the daemon is typing until it ends.
function watchPaste() {
	stopPastePoll();
	const gen = pasteGen;
	const poll = async () => {
		pasteTimer = null;
		let st;
		try {
			st = await api("GET", "status");
			if (gen !== pasteGen)
				return;
		} catch (err) {
			if (gen !== pasteGen)
				return;
			$("paste-info").textContent = `progress unknown: ${err.message}`;
			pasteTimer = setTimeout(poll, PASTE_POLL_MS * 4);
			return;
		}
		const p = st.paste || { active: false, left: 0 };
		showPasteBusy(p.active, p.left);
		if (p.active) {
			pasteTimer = setTimeout(poll, PASTE_POLL_MS);
		} else if ($("paste-info").dataset.cancelled !== "true") {
			$("paste-info").textContent = `typed ${pasteTotal} characters`;
		}
	};
	pasteTimer = setTimeout(poll, PASTE_POLL_MS);
}

async function cancelPaste() {
	try {
		pasteGen++;
		// {} rather than no body: one request, one cancel, whatever the
		// proxy does with an empty POST.
		const r = await api("POST", "cancel", {});
		pasteGen++;
		const info = $("paste-info");
		info.dataset.cancelled = "true";
		info.textContent = `cancelled: ${r.cancelled} characters not typed`;
		stopPastePoll();
		showPasteBusy(false, 0);
	} catch (err) {
		$("paste-info").textContent = `cancel: ${err.message}`;
	}
}

async function paste() {
	const text = $("paste-text").value;
	const info = $("paste-info");
	if (!text)
		return;
	if (text.length > PASTE_MAX) {
		info.textContent = `too long (${text.length} > ${PASTE_MAX} characters)`;
		return;
	}
	showUntypable(text, null);
	delete info.dataset.cancelled;
	if (apiUp) {
		const body = { text };
		const delay = pasteDelay();
		if (hid && delay === null) {
			info.textContent = `the pause must be a whole number from 0 to ${DELAY_MAX_MS} ms`;
			return;
		}
		if (hid)
			body.delay_ms = delay;
		try {
			pasteGen++;
			const r = await api("POST", "type", body);
			pasteTotal = r.typed;
			if (hid) {
				showPasteBusy(true, r.typed);
				watchPaste();
			} else {
				info.textContent = `typed ${r.typed} characters`;
				closeMenus();
			}
			return;
		} catch (err) {
			// The daemon said no: typing over RFB would type it wrong.
			if (err.answer) {
				info.textContent = err.message;
				showUntypable(text, err.answer.untypable);
				return;
			}
			info.textContent = `API: ${err.message}; typing over RFB`;
		}
	}
	if (!connected()) {
		info.textContent = "not connected";
		return;
	}
	const skipped = typeText(rfb, text);
	info.textContent = skipped ? `${skipped} characters have no key and were skipped`
		: `typed ${text.length} characters`;
	closeMenus();
	rfb.focus();
}

// ---- input settings: layout, mouse mode, gadget profile ----

const MOUSE_HELP = {
	absolute: "Absolute: the pointer goes where you point. For operating systems.",
	relative: "Relative: a plain mouse, for BIOS setup and boot loaders. Click the screen to capture the mouse; Esc lets it go.",
};

function fillSelect(el, values, current) {
	const have = [...el.options].map((o) => o.value);
	if (JSON.stringify(have) !== JSON.stringify(values)) {
		el.replaceChildren(...values.map((v) => new Option(v, v)));
	}
	el.value = current;
}

// Shows the daemon's input settings (an answer of GET/POST /api/hid, or
// the same fields from /api/status).
function showHid(h) {
	hid = h;
	document.body.dataset.hid = "true";
	fillSelect($("opt-layout"), h.layouts || [h.layout], h.layout);
	fillSelect($("opt-profile"), h.profiles || [h.profile], h.profile);
	const modes = $("mouse-modes");
	const mice = h.mice || [];
	if (JSON.stringify([...modes.children].map((b) => b.dataset.mouse)) !== JSON.stringify(mice)) {
		modes.replaceChildren(...mice.map((m) => {
			const b = document.createElement("button");
			b.dataset.mouse = m;
			b.setAttribute("role", "radio");
			b.textContent = m[0].toUpperCase() + m.slice(1);
			b.addEventListener("click", () => setHid({ mouse: m }));
			return b;
		}));
	}
	for (const b of modes.children) {
		b.setAttribute("aria-checked", String(b.dataset.mouse === h.mouse));
		b.disabled = mice.length < 2;
	}
	$("mouse-row").hidden = mice.length === 0;
	$("mouse-help").textContent = mice.length ? MOUSE_HELP[h.mouse] || "" : "";
	const delay = $("paste-delay");
	if (delay.value === "" && h.paste && Number.isInteger(h.paste.delay_ms))
		delay.value = String(h.paste.delay_ms);
	relMouse.setEnabled(h.mouse === "relative" && mice.includes("relative"));
}

// A paste started elsewhere (or before a reload) is shown and followed too.
function followPaste(p) {
	if (!p || !p.active || pasteTimer !== null || $("paste-send").disabled)
		return;
	pasteTotal = Math.max(pasteTotal, p.left);
	showPasteBusy(true, p.left);
	watchPaste();
}

function noHid() {
	hid = null;
	document.body.dataset.hid = "false";
	relMouse.setEnabled(false);
}

async function loadHid() {
	if (!apiUp) {
		noHid();
		return;
	}
	try {
		const gen = pasteGen;
		const h = await api("GET", "hid");
		showHid(h);
		if (gen === pasteGen)
			followPaste(h.paste);
	} catch (err) {
		console.warn(`input settings: ${err.message}`);
		noHid();
	}
}

async function setHid(change) {
	const info = $("input-info");
	if (change.profile && !window.confirm(
		`Switch the USB gadget to "${change.profile}"? The target sees its keyboard and mouse unplugged and plugged in again.`)) {
		$("opt-profile").value = hid.profile;
		return;
	}
	try {
		showHid(await api("POST", "hid", change));
		info.textContent = "";
	} catch (err) {
		info.textContent = err.message;
		if (hid)
			showHid(hid);	// back to what the daemon has
	}
}

const LOCK_HINT_MS = 3000;
let lockHintTimer = null;

// What the page tells the user about the captured pointer: how to capture
// it while it is not, and for a moment after, how to let it go.
function showPointer({ enabled, locked }) {
	const was = document.body.dataset.pointer;
	const now = !enabled ? "absolute" : locked ? "locked" : "relative";
	document.body.dataset.pointer = now;
	const hint = $("lock-hint");
	hint.textContent = locked ? "Mouse captured: Esc lets it go"
		: "Relative mouse: click the screen to capture the mouse";
	clearTimeout(lockHintTimer);
	hint.hidden = !enabled || !connected();
	if (locked && was !== "locked")
		lockHintTimer = setTimeout(() => { hint.hidden = true; }, LOCK_HINT_MS);
	else if (locked)
		hint.hidden = true;
}

const relMouse = new RelativeMouse($("screen"), () => rfb, showPointer);

// ---- power ----

async function power(action) {
	if (action !== "on" && !window.confirm(`Power ${action} the target?`))
		return;
	if (apiUp) {
		try {
			await api("POST", "power", { action });
			closeMenus();
			return;
		} catch (err) {
			console.warn(`power ${action} through the API: ${err.message}; trying XVP`);
		}
	}
	if (!connected())
		return;
	// XVP has no power-on; a reset boots a target that is off.
	if (action === "off")
		rfb.machineShutdown();
	else
		rfb.machineReset();
	closeMenus();
}

// ---- view ----

function applyView() {
	if (!rfb)
		return;
	const fit = $("opt-fit").checked;
	rfb.scaleViewport = fit;
	rfb.clipViewport = false;
	rfb.resizeSession = false;
	rfb.qualityLevel = Number($("opt-quality").value);
	rfb.compressionLevel = Number($("opt-compression").value);
	document.body.dataset.fit = String(fit);
}

// A select shows the stored value if it is one of its options.
function setSelect(el, value) {
	if ([...el.options].some((o) => o.value === value))
		el.value = value;
}

function loadSettings() {
	const get = (k, d) => {
		const v = localStorage.getItem("webkvm." + k);
		return v === null ? d : v;
	};
	$("opt-fit").checked = get("fit", "true") === "true";
	$("opt-quality").value = get("quality", "6");
	$("opt-compression").value = get("compression", "2");
	$("out-quality").textContent = $("opt-quality").value;
	$("out-compression").textContent = $("opt-compression").value;
	setSelect($("opt-codec"), get("codec", "auto"));
	setSelect($("opt-kbps"), get("kbps", "0"));
	setSelect($("opt-fps"), get("fps", "0"));
	$("opt-444").checked = get("444", "true") === "true";
	// ?codec= picks one for this page without storing it (a link, a test).
	const codec = params.get("codec");
	if (CODECS.includes(codec))
		$("opt-codec").value = codec;
}

function saveSettings() {
	localStorage.setItem("webkvm.fit", String($("opt-fit").checked));
	localStorage.setItem("webkvm.quality", $("opt-quality").value);
	localStorage.setItem("webkvm.compression", $("opt-compression").value);
	$("out-quality").textContent = $("opt-quality").value;
	$("out-compression").textContent = $("opt-compression").value;
}

// ---- video codec ----

let noticeHidden = false;	// the user closed the notice

// What the daemon is asked for (codec.js editEncodings).
function wantCodec() {
	const p = plan($("opt-codec").value, h264Support());
	const sup = h264Support();
	return { h264: p.h264, kbps: Number($("opt-kbps").value), fps: Number($("opt-fps").value),
		chroma444: p.h264 && sup.chroma444 && $("opt-444").checked };
}

// The notice under the bar says why the page uses Tight when the user
// did not choose it; the View menu says what is asked for.
function showCodec() {
	const choice = $("opt-codec").value;
	const sup = h264Support();
	const p = plan(choice, sup);
	const notice = noticeHidden ? "" : p.notice;
	$("notice-text").textContent = notice;
	$("notice").hidden = !notice;
	document.body.dataset.notice = String(!!notice);
	$("codec-info").textContent = p.h264 ? "Asking the KVM for H.264; Tight if it has none."
		: choice === "tight" ? "Asking the KVM for Tight." : p.notice || "Checking for H.264…";
	for (const id of ["opt-kbps", "opt-fps"])
		$(id).disabled = !p.h264;
	$("opt-444").disabled = !p.h264 || !sup || !sup.chroma444;
	$("info-444").textContent = !sup || !p.h264 ? "" : sup.chroma444 ? ""
		: "this browser does not decode H.264 4:4:4";
}

function codecChanged(e) {
	const el = e.target;
	localStorage.setItem("webkvm." + el.id.replace(/^opt-/, ""), el.type === "checkbox" ? String(el.checked) : el.value);
	showCodec();
	resendEncodings(rfb);
}

function toggleFullscreen() {
	if (document.fullscreenElement)
		document.exitFullscreen();
	else
		document.documentElement.requestFullscreen().catch((err) =>
			console.warn(`fullscreen: ${err.message}`));
}

// ---- on-screen keyboard ----
//
// A phone raises its keyboard only for a focused text field, so a hidden
// textarea takes the input and each edit is forwarded as keys.  It is kept
// non-empty so Backspace always has something to delete.

const OSK_FILL = "  ";

function oskReset(el) {
	el.value = OSK_FILL;
	el.setSelectionRange(OSK_FILL.length, OSK_FILL.length);
}

function setupOsk() {
	const el = $("osk-input");
	oskReset(el);
	$("btn-osk").addEventListener("click", () => {
		closeMenus();
		foldTools();
		oskReset(el);
		el.focus();
	});
	el.addEventListener("input", (e) => {
		if (connected()) {
			if (e.inputType === "deleteContentBackward")
				rfb.sendKey(charKeysym("\b"), "Backspace");
			else if (e.inputType === "insertLineBreak")
				rfb.sendKey(charKeysym("\n"), "Enter");
			else if (e.data)
				typeText(rfb, e.data);
		}
		oskReset(el);
	});
	// Keys that type no text (arrows, Esc, Tab) arrive only as keydown.
	el.addEventListener("keydown", (e) => {
		const sym = NAMED_KEYS[e.key];
		if (!sym || !connected() || e.isComposing)
			return;
		e.preventDefault();
		rfb.sendKey(sym, e.code || null);
	});
}

// ---- toolbar ----

function closeMenus(except) {
	for (const m of document.querySelectorAll(".menu")) {
		if (m === except)
			continue;
		m.hidden = true;
		const b = m.previousElementSibling;
		if (b)
			b.setAttribute("aria-expanded", "false");
	}
}

// On a phone the tools are a panel over the screen: folded away once the
// user goes back to the screen.
function foldTools() {
	document.body.classList.remove("tools-open");
	$("menu-toggle").setAttribute("aria-expanded", "false");
}

function setupMenus() {
	for (const drop of document.querySelectorAll(".drop")) {
		const btn = drop.querySelector("button");
		const menu = drop.querySelector(".menu");
		btn.addEventListener("click", (e) => {
			e.stopPropagation();
			closeMenus(menu);
			menu.hidden = !menu.hidden;
			btn.setAttribute("aria-expanded", String(!menu.hidden));
			if (!menu.hidden && menu.id === "menu-paste")
				$("paste-text").focus();
		});
		menu.addEventListener("click", (e) => e.stopPropagation());
	}
	document.addEventListener("click", (e) => {
		closeMenus();
		if (!$("tools").contains(e.target))
			foldTools();
	});
	document.addEventListener("keydown", (e) => {
		if (e.key === "Escape" && document.activeElement !== rfb?._canvas)
			closeMenus();
	});

	const toggle = $("menu-toggle");
	toggle.addEventListener("click", (e) => {
		e.stopPropagation();
		const open = !document.body.classList.contains("tools-open");
		document.body.classList.toggle("tools-open", open);
		toggle.setAttribute("aria-expanded", String(open));
	});
}

function setupToolbar() {
	$("btn-cad").addEventListener("click", () => combo("cad"));
	const fkeys = $("fkeys");
	for (let n = 1; n <= 12; n++) {
		const b = document.createElement("button");
		b.dataset.combo = "caf" + n;
		b.textContent = "F" + n;
		b.title = `Ctrl-Alt-F${n}`;
		fkeys.append(b);
	}
	for (const b of document.querySelectorAll("[data-combo]"))
		b.addEventListener("click", () => combo(b.dataset.combo));
	$("btn-release").addEventListener("click", releaseButton);
	$("paste-send").addEventListener("click", paste);
	$("paste-cancel").addEventListener("click", cancelPaste);
	$("opt-layout").addEventListener("change", (e) => setHid({ layout: e.target.value }));
	$("opt-profile").addEventListener("change", (e) => setHid({ profile: e.target.value }));
	$("paste-text").addEventListener("keydown", (e) => {
		if (e.key === "Enter" && (e.ctrlKey || e.metaKey))
			paste();
	});
	for (const b of document.querySelectorAll("[data-power]"))
		b.addEventListener("click", () => power(b.dataset.power));
	for (const id of ["opt-fit", "opt-quality", "opt-compression"])
		$(id).addEventListener("input", () => { saveSettings(); applyView(); });
	for (const id of ["opt-codec", "opt-kbps", "opt-fps", "opt-444"])
		$(id).addEventListener("change", codecChanged);
	$("notice-close").addEventListener("click", () => { noticeHidden = true; showCodec(); });
	$("btn-full").addEventListener("click", toggleFullscreen);
	$("banner-retry").addEventListener("click", () => { attempt = 0; connect(); });
}

// ---- figures ----

const stats = new Stats(({ fps, kbps, rtt, codec, decode }) => {
	$("stat-codec").textContent = codec || "–";
	$("stat-fps").textContent = fps.toFixed(fps < 10 ? 1 : 0);
	$("stat-kbps").textContent = kbps < 100 ? kbps.toFixed(1) : kbps.toFixed(0);
	$("stat-rtt").textContent = rtt === null ? "–" : rtt.toFixed(rtt < 10 ? 1 : 0);
	$("stat-decode-box").hidden = !(codec && codec.startsWith("H.264"));
	$("stat-decode").textContent = decode === null ? "–" : decode.toFixed(decode < 10 ? 1 : 0);
});

setInterval(() => {
	if (!connected())
		return;
	if (apiUp)
		probeApi();
	else
		stats.probeRfb();
}, PROBE_EVERY_MS);

// ---- session ----

// webkvm-proxy with login answers 401 without a session: go log in.  Under
// --auth none it says auth:false; websockify has no /api/ at all (404).
async function checkSession() {
	let res, json = null;
	try {
		res = await fetch(apiUrl("session"), { cache: "no-store" });
		json = await res.json().catch(() => null);
	} catch {
		return true;
	}
	if (res.status === 401) {
		location.replace("login.html" + location.search);
		return false;
	}
	if (res.ok && json && json.auth)
		addLogout(json.user);
	return true;
}

function addLogout(user) {
	const b = document.createElement("button");
	b.id = "btn-logout";
	b.textContent = "Log out";
	b.title = `Logged in as ${user}`;
	b.addEventListener("click", async () => {
		try {
			await api("POST", "logout");
		} finally {
			location.replace("login.html" + location.search);
		}
	});
	$("tools").appendChild(b);
}

// ---- start ----

loadSettings();
setupMenus();
setupToolbar();
setupOsk();
showLeds(null);
showCodec();
// Unless Tight is chosen, the connection waits for the browser's H.264
// check, at most CHECK_MS; should it answer later, a live connection
// switches.
const h264Checked = checkH264(() => { showCodec(); resendEncodings(rfb); });
h264Checked.then(() => { showCodec(); resendEncodings(rfb); });
Promise.all([checkSession(), $("opt-codec").value === "tight" ? null : h264Checked]).then(([ok]) => {
	if (ok)
		connect();
});

// For tests and the curious: the live connection.
Object.defineProperty(window, "webkvm", {
	value: Object.freeze({
		get rfb() { return rfb; },
		get apiUp() { return apiUp; },
		get firstFrameMs() { return stats.firstFrameMs; },
		get hid() { return hid; },
		// What the page asked the daemon for and what arrives.
		get codec() {
			return {
				choice: $("opt-codec").value,
				support: h264Support(),
				want: wantCodec(),
				encodings: rfb && rfb.webkvmEncodings ? [...rfb.webkvmEncodings] : null,
				inUse: stats.codec,
				h264Frames: stats.h264Frames,
			};
		},
		relativeMouse: relMouse,
	}),
});
