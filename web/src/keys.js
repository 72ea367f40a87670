// Key sequences the toolbar sends.  Each key is [keysym, code]: the code
// (a KeyboardEvent.code name) lets noVNC send the QEMU extended key event
// with the scancode, so the target gets the physical key and not a guess
// from the keysym.
import KeyTable from "../node_modules/@novnc/novnc/core/input/keysym.js";
import keysyms from "../node_modules/@novnc/novnc/core/input/keysymdef.js";

const CTRL = [KeyTable.XK_Control_L, "ControlLeft"];
const ALT = [KeyTable.XK_Alt_L, "AltLeft"];

export const COMBOS = {
	cad: [CTRL, ALT, [KeyTable.XK_Delete, "Delete"]],
	// The PC key labelled SysRq is PrtSc pressed with Alt held.
	sysrq: [ALT, [KeyTable.XK_Sys_Req, "PrintScreen"]],
	win: [[KeyTable.XK_Super_L, "MetaLeft"]],
	prtsc: [[KeyTable.XK_Print, "PrintScreen"]],
	alttab: [ALT, [KeyTable.XK_Tab, "Tab"]],
	esc: [[KeyTable.XK_Escape, "Escape"]],
};
for (let n = 1; n <= 12; n++)
	COMBOS["caf" + n] = [CTRL, ALT, [KeyTable["XK_F" + n], "F" + n]];

// Modifiers released by "release all keys" whether or not noVNC thinks
// they are down: a key-up for a key that is up is harmless, a key left
// down on the target is not.
export const MODIFIERS = [
	[KeyTable.XK_Shift_L, "ShiftLeft"], [KeyTable.XK_Shift_R, "ShiftRight"],
	[KeyTable.XK_Control_L, "ControlLeft"], [KeyTable.XK_Control_R, "ControlRight"],
	[KeyTable.XK_Alt_L, "AltLeft"], [KeyTable.XK_Alt_R, "AltRight"],
	[KeyTable.XK_Super_L, "MetaLeft"], [KeyTable.XK_Super_R, "MetaRight"],
];

// Presses the keys in order and releases them in reverse, as a person
// does a chord.
export function sendCombo(rfb, keys) {
	for (const [sym, code] of keys)
		rfb.sendKey(sym, code, true);
	for (const [sym, code] of [...keys].reverse())
		rfb.sendKey(sym, code, false);
}

// The keysym that types one character, 0 when there is none.  Without a
// code noVNC sends a plain RFB key event and the daemon adds Shift where
// the character needs it.
export function charKeysym(ch) {
	switch (ch) {
	case "\n": return KeyTable.XK_Return;
	case "\r": return 0;	// "\r\n" pastes as one Return
	case "\t": return KeyTable.XK_Tab;
	case "\b": return KeyTable.XK_BackSpace;
	}
	const cp = ch.codePointAt(0);
	return cp < 0x20 ? 0 : keysyms.lookup(cp);
}

// Types text through RFB key events; returns how many characters had no
// keysym and were skipped.
export function typeText(rfb, text) {
	let skipped = 0;
	for (const ch of text) {
		const sym = charKeysym(ch);
		if (sym)
			rfb.sendKey(sym, null);
		else if (ch !== "\r")
			skipped++;
	}
	return skipped;
}

// Keys that type no text, for the on-screen keyboard's keydown events.
export const NAMED_KEYS = {
	Escape: KeyTable.XK_Escape, Tab: KeyTable.XK_Tab, Delete: KeyTable.XK_Delete,
	ArrowUp: KeyTable.XK_Up, ArrowDown: KeyTable.XK_Down,
	ArrowLeft: KeyTable.XK_Left, ArrowRight: KeyTable.XK_Right,
	Home: KeyTable.XK_Home, End: KeyTable.XK_End,
	PageUp: KeyTable.XK_Prior, PageDown: KeyTable.XK_Next,
};
