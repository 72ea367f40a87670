// The browser tests: each gets a fresh page on the console, connected and
// showing the setup screen, with an empty command line.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
	BIOS_BANNER, BUILD_DIR, WEB_DIR, Daemon, Proxy, crashOf, freePort, MENU, MENU_COL, MENU_FIRST_ROW, OUTPUT_ROW, TITLE,
	cellPoint, commandText, pixel, readScreen, sleep, targetPointer, waitFor, waitScreen,
} from "./harness.mjs";
import { geometry } from "./ocr.mjs";

const BLUE = 0x0000aa;
const GREY = 0xaaaaaa;

function assert(cond, msg) {
	if (!cond)
		throw new Error(msg);
}

function eq(a, b, what) {
	assert(JSON.stringify(a) === JSON.stringify(b), `${what}: got ${JSON.stringify(a)}, want ${JSON.stringify(b)}`);
}

const state = (page) => page.$eval("#state", (el) => el.dataset.state);
const led = (page, name) => page.$eval(`#led-${name}`, (el) => el.dataset.on);

// What a US keyboard needs Shift for.
const SHIFTED = /[A-Z~!@#$%^&*()_+{}|:"<>?]/;

// Types as a person does, Shift held for capitals and symbols (Playwright's
// type() sends "H" without Shift, which no keyboard does).
async function typeKeys(page, text) {
	for (const ch of text) {
		if (SHIFTED.test(ch)) {
			await page.keyboard.down("Shift");
			await page.keyboard.press(ch);
			await page.keyboard.up("Shift");
		} else {
			await page.keyboard.press(ch);
		}
	}
}

// Types through the page's keyboard: the canvas has the focus.
async function typeLine(page, text, enter = true) {
	await typeKeys(page, text);
	await waitScreen(page, [-2], (s) => commandText(s) === text, 5000, `"${text}" on the command line`);
	if (enter)
		await page.keyboard.press("Enter");
}

async function openMenu(page, button) {
	await page.click(button);
	await page.waitForSelector(`${button} + .menu:not([hidden])`, { timeout: 3000 });
}

// Collects the key events the page sends on its WebSocket, decoded from
// the RFB bytes: [keysym, down] for both plain KeyEvent (type 4) and QEMU
// extended key events (255/0, which also carry a scancode).  Reloads the
// page so the listener sees the connection from its start.
async function wireKeys(page) {
	const keys = [];
	page.on("websocket", (ws) => ws.on("framesent", ({ payload }) => {
		const b = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, "latin1");
		for (let i = 0; i < b.length;) {
			if (b[i] === 4 && i + 8 <= b.length) {
				keys.push([b.readUInt32BE(i + 4), b[i + 1] === 1]);
				i += 8;
			} else if (b[i] === 255 && b[i + 1] === 0 && i + 12 <= b.length) {
				keys.push([b.readUInt32BE(i + 4), b.readUInt16BE(i + 2) === 1, b.readUInt32BE(i + 8)]);
				i += 12;
			} else {
				break;	// another message: not a key
			}
		}
	}));
	await page.reload();
	await waitFor(async () => (await state(page)) === "connected", 10000, "the page to connect again");
	return keys;
}

const XK = { Control_L: 0xffe3, Alt_L: 0xffe9, Delete: 0xffff, F1: 0xffbe, F7: 0xffc4 };

// The daemon's input settings as the page's proxy reports them.
const apiHid = (page) => page.evaluate(async () => (await fetch("api/hid", { cache: "no-store" })).json());

// The daemon is shared by every test: put its input settings back.
async function resetInput(daemon) {
	await daemon.request({ cmd: "cancel" });
	const r = await daemon.request({ cmd: "hid", layout: "en-us", mouse: "absolute", profile: "full" });
	assert(r.ok === true, `resetting the input settings: ${JSON.stringify(r)}`);
}

// Sends page-level mouse motion in small steps, as a hand does; under
// pointer lock each step arrives as movementX/Y.
async function moveBy(page, from, dx, dy, steps = 10) {
	await page.mouse.move(from[0] + dx, from[1] + dy, { steps });
	return [from[0] + dx, from[1] + dy];
}

export const tests = [
	["the page shows the target's screen", async ({ page }) => {
		const size = await page.$eval("#screen canvas", (c) => [c.width, c.height]);
		eq(size, [1280, 720], "canvas size");
		eq(await pixel(page, 640, 360), BLUE, "colour in the middle");
		eq(await pixel(page, 2, 2), GREY, "colour of the title bar");
		const s = await readScreen(page, [0, 2, 3, 4, 5, 6]);
		assert(s[0].includes(TITLE), `title row reads ${JSON.stringify(s[0])}`);
		eq([2, 3, 4, 5, 6].map((r) => s[r].trim()), MENU, "menu rows");
		const ms = await page.evaluate(() => window.webkvm.firstFrameMs);
		assert(ms > 0, `first-frame time ${ms}`);
		console.log(`MEASURE: browser first frame ${ms.toFixed(0)} ms after navigation start`);
		// The canvas fills the window's width (scale to fit).
		const box = await (await page.$("#screen canvas")).boundingBox();
		assert(Math.abs(box.width - 1280) < 2, `canvas shown ${box.width} px wide in a 1280 px window`);
	}],

	["typing on the page shows on the target", async ({ page }) => {
		await typeLine(page, "echo Hello, Browser 42!");
		await waitScreen(page, [OUTPUT_ROW, -4], (s) => s[OUTPUT_ROW] === "Hello, Browser 42!"
			&& s[-4] === "Last: echo Hello, Browser 42!", 5000, "the echo output");
	}],

	["a click on a menu item of the target works", async ({ page }) => {
		const row = MENU_FIRST_ROW + MENU.indexOf("Boot");
		const [x, y] = await cellPoint(page, row, MENU_COL + 1);
		await page.mouse.click(x, y);
		await waitScreen(page, [OUTPUT_ROW], (s) => s[OUTPUT_ROW] === "Selected: Boot", 5000, "Selected: Boot");
		const [x2, y2] = await cellPoint(page, MENU_FIRST_ROW + MENU.indexOf("Security"), MENU_COL + 2);
		await page.mouse.click(x2, y2);
		await waitScreen(page, [OUTPUT_ROW], (s) => s[OUTPUT_ROW] === "Selected: Security", 5000, "Selected: Security");
	}],

	["Ctrl-Alt-Del and the special keys reach the target", async ({ page, daemon }) => {
		// The page must send exactly the chord; the sim reboots on
		// Ctrl-Alt-Del as a PC's firmware does; and the target must be left
		// with no key held (typing afterwards gives plain characters).
		const keys = await wireKeys(page);
		await typeLine(page, "xy", false);
		keys.length = 0;
		await page.click("#btn-cad");
		await waitFor(() => keys.length >= 6, 3000, "six key events on the WebSocket");
		eq(keys.map((k) => [k[0], k[1]]), [[XK.Control_L, true], [XK.Alt_L, true], [XK.Delete, true],
			[XK.Delete, false], [XK.Alt_L, false], [XK.Control_L, false]], "key events of Ctrl-Alt-Del on the wire");
		// With QEMU extended key events each carries the key's scancode.
		assert(keys.every((k) => k.length === 3 && k[2] !== 0), `scancodes missing: ${JSON.stringify(keys)}`);
		await waitScreen(page, [0], (s) => s[0].includes(BIOS_BANNER), 5000,
			"the target to reboot on Ctrl-Alt-Del");
		await waitScreen(page, [0], (s) => s[0].includes(TITLE), 10000,
			"the setup screen after the reboot");
		keys.length = 0;
		await openMenu(page, "#btn-keys");
		await page.click('[data-combo="caf7"]');
		await waitFor(() => keys.length >= 6, 3000, "six key events on the WebSocket");
		eq(keys.map((k) => [k[0], k[1]]), [[XK.Control_L, true], [XK.Alt_L, true], [XK.F7, true],
			[XK.F7, false], [XK.Alt_L, false], [XK.Control_L, false]], "key events of Ctrl-Alt-F7 on the wire");
		await page.evaluate(() => window.webkvm.rfb.focus());
		const st = await daemon.request({ cmd: "type", text: "ab" });
		assert(st.ok === true, `control type: ${JSON.stringify(st)}`);
		await waitScreen(page, [-2], (s) => commandText(s) === "ab", 5000,
			"typing after the chords to give plain text");
	}],

	["paste types the text on the target", async ({ page }) => {
		await openMenu(page, "#btn-paste");
		await page.fill("#paste-text", "echo Pasted {text} & more_symbols: ~!@#$%^*()\n");
		await page.click("#paste-send");
		await waitScreen(page, [OUTPUT_ROW], (s) => s[OUTPUT_ROW] === "Pasted {text} & more_symbols: ~!@#$%^*()",
			10000, "the pasted echo");
	}],

	["paste and power fall back to RFB when the proxy has no /api/", async ({ page, usesOurProxy }) => {
		if (usesOurProxy)
			eq(await page.evaluate(() => window.webkvm.apiUp), true, "the page found webkvm-proxy's /api/");
		// As behind websockify: every /api/ request gets a 404.
		await page.route("**/api/**", (route) => route.fulfill({ status: 404, body: "not here" }));
		await page.reload();
		await waitFor(async () => (await state(page)) === "connected", 10000, "the page to connect again");
		await waitFor(() => page.evaluate(() => window.webkvm.apiUp === false), 5000, "the page to see no API");
		await openMenu(page, "#btn-paste");
		await page.fill("#paste-text", "echo Over RFB: 1+1=2?\n");
		await page.click("#paste-send");
		await waitScreen(page, [OUTPUT_ROW], (s) => s[OUTPUT_ROW] === "Over RFB: 1+1=2?", 10000,
			"the echo pasted over RFB");
		page.on("dialog", (d) => d.accept());
		await openMenu(page, "#btn-power");
		await page.click('[data-power="reset"]');
		await waitScreen(page, [0], (s) => s[0].includes(BIOS_BANNER), 5000, "the POST screen after an XVP reset");
		await waitScreen(page, [0], (s) => s[0].includes(TITLE), 10000, "the setup screen after POST");
		await waitFor(async () => /^[\d.]+$/.test(await page.$eval("#stat-rtt", (el) => el.textContent)),
			5000, "a round-trip time measured over RFB");
	}],

	["Caps Lock lights the LED indicator", async ({ page, daemon }) => {
		eq(await led(page, "caps"), "false", "Caps LED before");
		await page.keyboard.press("CapsLock");
		await waitFor(async () => (await led(page, "caps")) === "true", 5000, "the Caps LED to light");
		await waitScreen(page, [-3], (s) => s[-3].includes("[CAPS]"), 5000, "[CAPS] on the target");
		const st = await daemon.request({ cmd: "status" });
		eq(st.leds && st.leds.caps, true, "daemon's caps state");
		await page.keyboard.press("CapsLock");
		await waitFor(async () => (await led(page, "caps")) === "false", 5000, "the Caps LED to go out");
		await page.keyboard.press("NumLock");
		await waitFor(async () => (await led(page, "num")) === "true", 5000, "the Num LED to light");
		await page.keyboard.press("NumLock");
		await waitFor(async () => (await led(page, "num")) === "false", 5000, "the Num LED to go out");
		await page.keyboard.press("ScrollLock");
		await waitFor(async () => (await led(page, "scroll")) === "true", 5000, "the Scroll LED to light");
		await waitScreen(page, [-3], (s) => s[-3].includes("[SCRL]"), 5000, "[SCRL] on the target");
		await page.keyboard.press("ScrollLock");
		await waitFor(async () => (await led(page, "scroll")) === "false", 5000, "the Scroll LED to go out");
	}],

	["no key stays down when the page loses focus", async ({ page }) => {
		// Ctrl held on the target swallows typed characters (a shortcut),
		// so a character typed on the page shows whether it is up.  (The
		// control socket's "type" starts from no key held, so it cannot
		// tell.)  Playwright keeps its own Ctrl down throughout: noVNC
		// sends no key-down for a modifier it only sees in the flags.
		const heldThen = async (release, what) => {
			await page.keyboard.down("Control");
			await page.keyboard.press("q");
			await sleep(500);
			eq(commandText(await readScreen(page, [-2])), "", `command line while Ctrl is held (${what})`);
			await release();
			await page.evaluate(() => window.webkvm.rfb.focus());
			await page.keyboard.press("z");
			await waitScreen(page, [-2], (s) => commandText(s) === "z", 5000, `Ctrl released by ${what}`);
			await page.keyboard.up("Control");
			await page.keyboard.press("Escape");
			await waitScreen(page, [-2], (s) => commandText(s) === "", 5000, "an empty command line");
		};
		await heldThen(() => page.evaluate(() => window.dispatchEvent(new Event("blur"))), "window blur");
		await heldThen(() => page.evaluate(() => {
			Object.defineProperty(document, "hidden", { value: true, configurable: true });
			document.dispatchEvent(new Event("visibilitychange"));
			delete document.hidden;
		}), "a hidden tab");
		await heldThen(async () => {
			await openMenu(page, "#btn-keys");
			await page.click("#btn-release");
		}, "the release-all button");
	}],

	["quality, compression and 1:1 view", async ({ page }) => {
		await openMenu(page, "#btn-view");
		await page.fill("#opt-quality", "3");
		await page.fill("#opt-compression", "8");
		eq(await page.evaluate(() => [window.webkvm.rfb.qualityLevel, window.webkvm.rfb.compressionLevel]),
			[3, 8], "rfb quality and compression");
		await page.setViewportSize({ width: 800, height: 600 });
		await waitFor(async () => {
			const b = await (await page.$("#screen canvas")).boundingBox();
			return Math.round(b.width) === 800 && b.height < 600;
		}, 3000, "the screen scaled down to fit 800 px");
		await page.uncheck("#opt-fit");
		await waitFor(async () => {
			const b = await (await page.$("#screen canvas")).boundingBox();
			return Math.round(b.width) === 1280 && Math.round(b.height) === 720;
		}, 3000, "1:1 view");
		await page.check("#opt-fit");
		await page.click("#btn-full");
		await waitFor(() => page.evaluate(() => document.fullscreenElement === document.documentElement),
			3000, "fullscreen");
		await page.click("#btn-full");
		await waitFor(() => page.evaluate(() => document.fullscreenElement === null), 3000, "leaving fullscreen");
		// Back to the screen, as a person clicks it (on an empty cell).
		const [x, y] = await cellPoint(page, 12, 60);
		await page.mouse.click(x, y);
		// Still a working screen with these settings.
		await typeLine(page, "echo q3c8");
		await waitScreen(page, [OUTPUT_ROW], (s) => s[OUTPUT_ROW] === "q3c8", 5000, "echo at quality 3");
		await waitFor(async () => {
			const figures = await page.$eval("#stats", (el) => [...el.children].filter((c) => !c.hidden)
				.map((c) => c.textContent).join(" ").replace(/\s+/g, " ").trim());
			const m = /^Tight ([\d.]+) fps ([\d.]+) kB\/s ([\d.]+) ms$/.exec(figures);
			return m && Number(m[1]) > 0 && Number(m[2]) > 0 ? figures : null;
		}, 5000, "live figures: codec (Tight), fps, kB/s and round-trip time");
	}],

	["on a phone: tools in a menu and the on-screen keyboard types", async ({ page }) => {
		await page.setViewportSize({ width: 390, height: 844 });
		assert(!(await page.isVisible("#btn-cad")), "toolbar buttons visible before opening the menu");
		await page.click("#menu-toggle");
		await page.waitForSelector("#btn-cad", { state: "visible", timeout: 3000 });
		await page.click("#btn-osk");
		eq(await page.evaluate(() => document.activeElement.id), "osk-input", "focus after the keyboard button");
		assert(!(await page.isVisible("#btn-cad")), "the tools panel still open over the screen");
		await page.keyboard.type("echo from phone", { delay: 10 });
		await waitScreen(page, [-2], (s) => commandText(s) === "echo from phone", 5000, "text from the on-screen keyboard");
		await page.keyboard.press("Backspace");
		await waitScreen(page, [-2], (s) => commandText(s) === "echo from phon", 5000, "Backspace from the on-screen keyboard");
		await page.keyboard.press("Enter");
		await waitScreen(page, [OUTPUT_ROW], (s) => s[OUTPUT_ROW] === "from phon", 5000, "Enter from the on-screen keyboard");
	}],

	["a res 1920x1080 resize is followed", async ({ page }) => {
		await typeLine(page, "res 1920x1080");
		await waitFor(async () => {
			const size = await page.$eval("#screen canvas", (c) => [c.width, c.height]);
			return size[0] === 1920 && size[1] === 1080;
		}, 5000, "a 1920x1080 canvas");
		const s = await waitScreen(page, [0, -4], (s) => s[0].includes(TITLE) && s[-4] === "Last: res 1920x1080",
			5000, "the setup screen at 1920x1080");
		eq([s.geo.scale, s.geo.cols, s.geo.rows], [3, 80, 22], "console grid at 1920x1080");
		await waitFor(async () => {
			const box = await (await page.$("#screen canvas")).boundingBox();
			return Math.round(box.width) === 1280 && Math.round(box.height) === 720;
		}, 3000, "the 1920x1080 screen scaled to 1280x720 in a 1280 px window");
		await typeLine(page, "res 1280x720");
		await waitFor(async () => {
			const size = await page.$eval("#screen canvas", (c) => [c.width, c.height]);
			return size[0] === 1280 && size[1] === 720;
		}, 5000, "back to 1280x720");
	}],

	["power buttons reach the target", async ({ page }) => {
		page.on("dialog", (d) => d.accept());
		await openMenu(page, "#btn-power");
		await page.click('[data-power="reset"]');
		await waitScreen(page, [0], (s) => s[0].includes(BIOS_BANNER), 5000, "the POST screen after reset");
		await waitScreen(page, [0], (s) => s[0].includes(TITLE), 10000, "the setup screen after POST");
		await openMenu(page, "#btn-power");
		await page.click('[data-power="off"]');
		await waitScreen(page, [0], (s) => !s[0].includes(TITLE), 5000, "the screen to go dark after power off");
		await openMenu(page, "#btn-power");
		await page.click('[data-power="on"]');
		await waitScreen(page, [0], (s) => s[0].includes(BIOS_BANNER) || s[0].includes(TITLE), 8000,
			"the target to boot after power on");
		await waitScreen(page, [0], (s) => s[0].includes(TITLE), 10000, "the setup screen after power on");
	}],

	["the WebSocket URL follows ?path= and ?token=", async ({ page, base }) => {
		const seen = [];
		page.on("websocket", (ws) => seen.push(ws.url()));
		// websockify and webkvm-proxy bridge any path.
		await page.goto(base + "?codec=tight&path=some/where&token=t%20k");
		await waitFor(async () => (await state(page)) === "connected", 10000, "the page to connect");
		const want = base.replace(/^http/, "ws") + "some/where?token=t%20k";
		eq(seen, [want], "WebSocket URLs");
	}],

	["the layout selector sets the target's keyboard layout", async ({ page, daemon, usesOurProxy }) => {
		if (!usesOurProxy)
			return;		// the input settings live behind webkvm-proxy's /api/
		try {
			await waitFor(() => page.evaluate(() => document.body.dataset.hid === "true"), 5000,
				"the input settings to show");
			await openMenu(page, "#btn-input");
			const layouts = await page.$$eval("#opt-layout option", (os) => os.map((o) => o.value));
			eq(layouts, (await daemon.request({ cmd: "hid" })).layouts, "layouts offered");
			eq(await page.inputValue("#opt-layout"), "en-us", "layout shown at first");
			await page.selectOption("#opt-layout", "de");
			await waitFor(async () => (await apiHid(page)).layout === "de", 5000, "the daemon's layout to be de");
			eq((await daemon.request({ cmd: "status" })).layout, "de", "layout in the status");
			// On a German keyboard Y and Z trade places: typing "zy" by
			// keysym must still give "zy" on a target that reads German.
			await page.evaluate(() => window.webkvm.rfb.focus());
			const st = await daemon.request({ cmd: "type", text: "zy" });
			assert(st.ok === true, `control type: ${JSON.stringify(st)}`);
			await waitScreen(page, [-2], (s) => commandText(s) === "zy", 5000, "zy typed on the de layout");
			// A change made elsewhere shows up in the page.
			eq((await daemon.request({ cmd: "hid", layout: "fr" })).layout, "fr", "layout set by the control socket");
			await waitFor(async () => (await page.inputValue("#opt-layout")) === "fr", 5000,
				"the selector to follow the daemon to fr");
		} finally {
			await resetInput(daemon);
		}
	}],

	["paste shows its progress and Cancel stops it", async ({ page, daemon, usesOurProxy }) => {
		if (!usesOurProxy)
			return;		// the input settings live behind webkvm-proxy's /api/
		const text = "echo " + "abcdefghij".repeat(6);
		try {
			await openMenu(page, "#btn-paste");
			await waitFor(async () => (await page.inputValue("#paste-delay")) !== "", 5000,
				"the daemon's default pause in the paste panel");
			await page.fill("#paste-delay", "150");
			await page.fill("#paste-text", text);
			await page.click("#paste-send");
			await page.waitForSelector("#paste-busy:not([hidden])", { timeout: 3000 });
			// Progress: some characters typed, some left, shown as such.
			const seen = await waitFor(async () => {
				const v = await page.$eval("#paste-progress", (el) => [el.value, el.max]);
				return v[0] >= 3 && v[0] < v[1] ? v : null;
			}, 10000, "the progress bar to move");
			eq(seen[1], text.length, "progress bar length");
			const info = await page.$eval("#paste-info", (el) => el.textContent);
			assert(/typing: \d+ of \d+ characters left/.test(info), `paste info reads ${JSON.stringify(info)}`);
			const st = await daemon.request({ cmd: "status" });
			assert(st.paste && st.paste.active === true && st.paste.left > 0, `status while typing: ${JSON.stringify(st.paste)}`);
			// Another paste is refused while this one runs.
			const busy = await page.evaluate(async () => (await fetch("api/type", { method: "POST",
				headers: { "Content-Type": "application/json" }, body: JSON.stringify({ text: "x" }) })).json());
			assert(busy.ok === false && /paste is running/.test(busy.error), `second paste: ${JSON.stringify(busy)}`);
			await page.click("#paste-cancel");
			const done = await waitFor(async () => {
				const m = /^cancelled: (\d+) characters not typed$/.exec(await page.$eval("#paste-info", (el) => el.textContent));
				return m ? Number(m[1]) : null;
			}, 5000, "the cancelled message");
			assert(done > 0 && done <= text.length - seen[0], `characters not typed: ${done}`);
			assert(await page.isHidden("#paste-busy"), "progress still shown after cancelling");
			eq((await daemon.request({ cmd: "status" })).paste.active, false, "a paste active after cancelling");
			// What was typed stays, and nothing more comes.
			const typed = text.length - done;
			await sleep(600);
			const line = commandText(await readScreen(page, [-2]));
			assert(line !== null && text.startsWith(line) && (line.length === typed || line.length === typed + 1),
				`command line ${JSON.stringify(line)} after ${typed} characters typed`);
			await sleep(600);
			eq(commandText(await readScreen(page, [-2])), line, "command line a moment later");
		} finally {
			await resetInput(daemon);
		}
	}],

	["paste names the characters the target's layout cannot type", async ({ page, daemon, usesOurProxy }) => {
		if (!usesOurProxy)
			return;		// the input settings live behind webkvm-proxy's /api/
		try {
			await openMenu(page, "#btn-paste");
			await page.fill("#paste-text", "echo a€b ok");
			await page.click("#paste-send");
			await page.waitForSelector("#paste-untypable:not([hidden])", { timeout: 3000 });
			const msg = await page.$eval("#paste-untypable", (el) => el.textContent);
			assert(msg.includes("“€”") && msg.includes("U+20AC") && msg.includes("at character 7") && msg.includes("en-us"),
				`untypable message reads ${JSON.stringify(msg)}`);
			eq(await page.evaluate(() => {
				const t = document.getElementById("paste-text");
				return t.value.slice(t.selectionStart, t.selectionEnd);
			}), "€", "selection in the text");
			// Nothing at all was typed, over the API or over RFB.
			await sleep(800);
			eq(commandText(await readScreen(page, [-2])), "", "command line after the refused paste");
			// On a layout that has it, it goes through.
			eq((await daemon.request({ cmd: "hid", layout: "de" })).layout, "de", "layout de");
			await page.fill("#paste-text", "echo ok\n");
			await page.click("#paste-send");
			await waitScreen(page, [OUTPUT_ROW], (s) => s[OUTPUT_ROW] === "ok", 5000, "the paste after the refusal");
			assert(await page.isHidden("#paste-untypable"), "untypable list still shown after a good paste");
		} finally {
			await resetInput(daemon);
		}
	}],

	["relative mouse: pointer lock moves the target's pointer with the viewer's", async ({ page, daemon, usesOurProxy }) => {
		if (!usesOurProxy)
			return;		// the input settings live behind webkvm-proxy's /api/
		try {
			await waitFor(() => page.evaluate(() => document.body.dataset.hid === "true"), 5000,
				"the input settings to show");
			// Put the target's pointer somewhere known in absolute mode.
			const canvas = await page.$("#screen canvas");
			const box = await canvas.boundingBox();
			const size = await canvas.evaluate((el) => [el.width, el.height]);
			const scale = box.width / size[0];
			let at = [box.x + 300 * scale, box.y + 200 * scale];
			await page.mouse.move(at[0], at[1]);
			let p0 = null;
			await waitFor(async () => {
				p0 = await targetPointer(page);
				return p0 && Math.abs(p0.x - 300) <= 1 && Math.abs(p0.y - 200) <= 1;
			}, 5000, "the target's pointer at 300,200 in absolute mode").catch((err) => {
				err.message += `; it is at ${JSON.stringify(p0)}`;
				throw err;
			});

			await openMenu(page, "#btn-input");
			const modes = await page.$$eval("#mouse-modes [data-mouse]", (bs) => bs.map((b) => b.dataset.mouse));
			eq(modes, ["absolute", "relative"], "mouse modes offered by the full profile");
			await page.click('#mouse-modes [data-mouse="relative"]');
			await waitFor(async () => (await apiHid(page)).mouse === "relative", 5000, "relative mode in the daemon");
			eq(await page.$eval('[data-mouse="relative"]', (b) => b.getAttribute("aria-checked")), "true", "switch shows relative");
			assert(await page.isVisible("#lock-hint"), "no hint to click the screen");
			// Moves before the lock do nothing on the target.
			await page.mouse.move(at[0] + 200, at[1] + 100);
			at = [at[0] + 200, at[1] + 100];
			await sleep(300);
			const still = await targetPointer(page);
			eq([still.x, still.y], [p0.x, p0.y], "pointer after a move without the lock");
			// A click into the screen captures the pointer.
			await page.mouse.down();
			await page.mouse.up();
			const locked = await waitFor(() => page.evaluate(() =>
				document.pointerLockElement === window.webkvm.rfb._canvas), 3000, "pointer lock").catch(() => false);
			// Headless Chromium grants it, and turns the page's mouse moves
			// into movementX/Y under it.
			assert(locked, "headless Chromium did not grant the pointer lock");
			eq(await page.evaluate(() => document.body.dataset.pointer), "locked", "page state");
			assert(/Esc/.test(await page.$eval("#lock-hint", (el) => el.textContent)), "hint while captured");
			const start = await page.evaluate(() => window.webkvm.relativeMouse.position);
			assert(Math.abs(start.x - p0.x) <= 1 && Math.abs(start.y - p0.y) <= 1,
				`virtual pointer starts at ${JSON.stringify(start)}, the target's pointer was left at ${JSON.stringify(p0)}`);

			const follow = async (what) => {
				const v = await page.evaluate(() => window.webkvm.relativeMouse.position);
				let p = null;
				try {
					await waitFor(async () => {
						p = await targetPointer(page);
						return p && p.x !== undefined && Math.abs(p.x - v.x) <= 1 && Math.abs(p.y - v.y) <= 1;
					}, 5000, `the target's pointer at the viewer's ${JSON.stringify(v)} (${what})`);
				} catch (err) {
					const t = await daemon.request({ cmd: "target" }).catch(() => null);
					err.message += `; the target's pointer is drawn at ${JSON.stringify(p)}`
						+ ` and is at ${JSON.stringify(t && t.pointer)}`;
					throw err;
				}
				return [v, p];
			};
			at = await moveBy(page, at, 120, 45);
			let [v] = await follow("after a move right and down");
			eq([v.x, v.y], [start.x + Math.floor(120 / scale), start.y + Math.floor(45 / scale)], "virtual pointer after the move");
			at = await moveBy(page, at, -260, 30, 20);
			await follow("after a move left");
			// Past the top-left corner both stop at 0,0: that is how a lost
			// pointer is found again.
			at = await moveBy(page, at, -2000, -2000, 40);
			[v] = await follow("pushed into the corner");
			eq([v.x, v.y], [0, 0], "virtual pointer in the corner");
			// Buttons work at the virtual position: click the Boot menu line.
			const geo = geometry(size[0], size[1]);
			const [bx, by] = geo.centre(MENU_FIRST_ROW + MENU.indexOf("Boot"), MENU_COL + 1);
			at = await moveBy(page, at, bx * scale, by * scale, 20);
			await follow("on the Boot menu line");
			await page.mouse.down();
			await page.mouse.up();
			await waitScreen(page, [OUTPUT_ROW], (s) => s[OUTPUT_ROW] === "Selected: Boot", 5000,
				"a click in relative mode to select Boot");
			// The wheel too, without moving the pointer.  The sim's status
			// line counts wheel steps ("W:n").
			const wheelSteps = (s) => Number((/ W:(-?\d+) /.exec(s[-3]) || [])[1]);
			const w0 = wheelSteps(await readScreen(page, [-3]));
			assert(Number.isInteger(w0), `no wheel count on the status line: ${JSON.stringify((await readScreen(page, [-3]))[-3])}`);
			await page.mouse.wheel(0, -120);
			await waitScreen(page, [-3], (s) => wheelSteps(s) === w0 + 1, 5000, "one wheel step up on the target");
			await follow("after the wheel");
			// Leaving the lock (Esc in a browser with a window; headless
			// has none, so the page lets it go) stops the motion.
			await page.evaluate(() => document.exitPointerLock());
			await waitFor(() => page.evaluate(() => document.body.dataset.pointer === "relative"), 3000, "the lock released");
			const before = await targetPointer(page);
			await page.mouse.move(at[0] + 50, at[1] + 50);
			await sleep(300);
			const after = await targetPointer(page);
			eq([after.x, after.y], [before.x, before.y], "pointer after moving without the lock");
		} finally {
			await page.evaluate(() => document.exitPointerLock()).catch(() => {});
			await resetInput(daemon);
		}
		await waitFor(() => page.evaluate(() => document.body.dataset.pointer === "absolute"), 5000,
			"the page back in absolute mode");
	}],

	["a gadget profile without a mouse hides the mouse switch", async ({ page, daemon, usesOurProxy }) => {
		if (!usesOurProxy)
			return;		// the input settings live behind webkvm-proxy's /api/
		page.on("dialog", (d) => d.accept());
		try {
			await openMenu(page, "#btn-input");
			await page.click("#advanced summary");
			await page.selectOption("#opt-profile", "keyboard");
			await waitFor(async () => (await apiHid(page)).profile === "keyboard", 5000, "the keyboard-only profile");
			await waitFor(() => page.isHidden("#mouse-row"), 3000, "the mouse switch to hide");
			await page.selectOption("#opt-profile", "relative");
			await waitFor(async () => (await apiHid(page)).profile === "relative", 5000, "the relative profile");
			await waitFor(async () => JSON.stringify(await page.$$eval("#mouse-modes [data-mouse]",
				(bs) => bs.map((b) => [b.dataset.mouse, b.disabled]))) === JSON.stringify([["relative", true]]),
			3000, "only the relative mode, fixed");
			eq((await apiHid(page)).mouse, "relative", "the daemon's mouse mode on a relative-only gadget");
			eq(await page.evaluate(() => document.body.dataset.pointer), "relative", "the page in relative mode");
		} finally {
			await resetInput(daemon);
		}
	}],

	["the input settings hide without the daemon's /api/hid", async ({ page, usesOurProxy }) => {
		if (usesOurProxy) {
			await waitFor(() => page.evaluate(() => document.body.dataset.hid === "true"), 5000,
				"the input settings to show");
			assert(await page.isVisible("#btn-input"), "Input menu hidden with the API");
		}
		// As behind websockify.
		await page.route("**/api/**", (route) => route.fulfill({ status: 404, body: "not here" }));
		await page.reload();
		await waitFor(async () => (await state(page)) === "connected", 10000, "the page to connect again");
		await waitFor(() => page.evaluate(() => document.body.dataset.hid === "false"), 5000, "the page to see no API");
		assert(!(await page.isVisible("#btn-input")), "Input menu shown without the API");
		await openMenu(page, "#btn-paste");
		assert(!(await page.isVisible("#paste-delay")), "paste pause shown without the API");
	}],

	["the page reconnects by itself after the daemon restarts", async ({ page, daemon }) => {
		eq(await state(page), "connected", "state before");
		await daemon.stop();
		await waitFor(async () => (await state(page)) === "disconnected", 10000, "the disconnected state");
		assert(await page.isVisible("#banner"), "no banner while disconnected");
		const text = await page.$eval("#banner", (el) => el.textContent);
		assert(/reconnecting in \d+ s/.test(text), `banner reads ${JSON.stringify(text)}`);
		// While the daemon is away every try fails, each waiting twice as
		// long as the one before: 1 s, 2 s, then 4 s.
		await waitFor(async () => /reconnecting in 4 s/.test(await page.$eval("#banner", (el) => el.textContent)),
			12000, "the third try to wait 4 s");
		await daemon.start();
		await waitFor(async () => (await state(page)) === "connected", 10000, "the page to reconnect");
		assert(!(await page.isVisible("#banner")), "banner still shown after reconnecting");
		await waitScreen(page, [0], (s) => s[0].includes(TITLE), 10000, "the target's screen after reconnecting");
		await typeLine(page, "echo back again");
		await waitScreen(page, [OUTPUT_ROW], (s) => s[OUTPUT_ROW] === "back again", 5000, "typing after reconnecting");
	}],

	["a VNC password is asked for; a wrong one is refused without retrying", async ({ page, tmp }) => {
		const file = join(tmp, "password");
		writeFileSync(file, "s3cret\n");
		const daemon = new Daemon(await freePort(), join(tmp, "password.sock"), ["--rfb-password-file", file]);
		await daemon.start();
		const proxy = new Proxy(await freePort(), daemon.port, daemon.sock);
		try {
			await proxy.start();
			let answer = "wrong";
			let asked = 0;
			page.on("dialog", (d) => { asked++; d.accept(answer); });
			let sockets = 0;
			page.on("websocket", () => sockets++);
			await page.goto(`http://127.0.0.1:${proxy.port}/?codec=tight`);
			await waitFor(async () => (await state(page)) === "disconnected"
				&& (await page.$eval("#banner-title", (el) => el.textContent)) === "Access refused",
			10000, "the wrong password refused");
			eq(asked, 1, "password prompts");
			await sleep(3000);
			eq([sockets, await state(page)], [1, "disconnected"], "connections and state 3 s after a refusal");
			answer = "s3cret";
			await page.click("#banner-retry");
			await waitFor(async () => (await state(page)) === "connected", 10000, "the right password accepted");
			await waitScreen(page, [0], (s) => s[0].includes(TITLE), 5000, "the screen after logging in");
		} finally {
			await proxy.stop();
			await daemon.stop();
		}
	}],

	["log in through the login page, then the screen shows; log out", async ({ page, daemon, tmp, usesOurProxy }) => {
		if (!usesOurProxy)
			return;		// websockify has no login
		// webkvm-passwd's line for admin / "correct horse" (a test fixture).
		const users = join(tmp, "users");
		writeFileSync(users, "admin:$argon2id$v=19$m=65536,t=3,p=1$+Jgh1IRAHbtnFUkqyh5XZw$"
			+ "nIpYPq9ZvbUJe0ePW53zRmekdTMlZigD0ZapD4aCjuk\n", { mode: 0o600 });
		const port = await freePort();
		const child = spawn(join(BUILD_DIR, "webkvm-proxy"), ["--control", daemon.sock, "--users", users,
			"--web", WEB_DIR, `127.0.0.1:${port}`, `127.0.0.1:${daemon.port}`], { stdio: ["ignore", "pipe", "pipe"] });
		let log = "";
		child.stdout.on("data", (d) => { log += d; });
		child.stderr.on("data", (d) => { log += d; });
		const exited = once(child, "exit");
		try {
			await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/`)).ok, 10000, "the proxy with login");
			await page.goto(`http://127.0.0.1:${port}/?codec=tight`);
			await waitFor(() => page.url().endsWith("/login.html?codec=tight"), 10000, "the redirect to the login page");
			await page.fill("#login-user", "admin");
			await page.fill("#login-password", "wrong");
			await page.click("#login-submit");
			await waitFor(() => page.$eval("#login-error", (el) => !el.hidden && /Wrong/.test(el.textContent)),
				10000, "the error for a wrong password");
			await page.fill("#login-password", "correct horse");
			await page.click("#login-submit");
			await waitFor(async () => (await state(page)) === "connected", 15000, "the console after login");
			await waitScreen(page, [0], (s) => s[0].includes(TITLE), 10000, "the screen after logging in");
			await page.click("#btn-logout");
			await waitFor(() => page.url().endsWith("/login.html?codec=tight"), 10000, "the login page after logout");
			const res = await fetch(`http://127.0.0.1:${port}/api/session`);
			eq(res.status, 401, "session without a cookie");
			assert(log.includes('logged in as "admin"'), `proxy log: ${log}`);
		} finally {
			child.kill("SIGTERM");
			const [code, sig] = await exited;
			const crash = crashOf("the login proxy", { code, sig }, log);
			assert(!crash, `${crash}: ${log.slice(-2000)}`);
		}
	}],
];
