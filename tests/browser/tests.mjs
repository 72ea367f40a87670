// The browser tests: each gets a fresh page on the console, connected and
// showing the setup screen, with an empty command line.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
	BIOS_BANNER, BUILD_DIR, WEB_DIR, Daemon, Proxy, freePort, MENU, MENU_COL, MENU_FIRST_ROW, OUTPUT_ROW, TITLE,
	cellPoint, commandText, pixel, readScreen, sleep, waitFor, waitScreen,
} from "./harness.mjs";

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

	["no key stays down when the page loses focus", async ({ page, daemon }) => {
		// Ctrl held on the target swallows typed characters (a shortcut),
		// so text typed through the control socket shows whether it is up.
		const heldThen = async (release, what) => {
			await page.keyboard.down("Control");
			await sleep(200);
			await daemon.request({ cmd: "type", text: "q" });
			await sleep(500);
			const before = commandText(await readScreen(page, [-2]));
			eq(before, "", `command line while Ctrl is held (${what})`);
			await release();
			// The key-ups travel over RFB, the "z" over the control socket:
			// give the first a head start.
			await sleep(500);
			await daemon.request({ cmd: "type", text: "z" });
			await waitScreen(page, [-2], (s) => commandText(s) === "z", 5000, `Ctrl released by ${what}`);
			await page.keyboard.up("Control");
			await page.keyboard.press("Escape");
			await waitScreen(page, [-2], (s) => commandText(s) === "", 5000, "an empty command line");
			await page.evaluate(() => window.webkvm.rfb.focus());
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
			const figures = await page.$eval("#stats", (el) => el.textContent.replace(/\s+/g, " ").trim());
			const m = /^([\d.]+) fps ([\d.]+) kB\/s ([\d.]+) ms$/.exec(figures);
			return m && Number(m[1]) > 0 && Number(m[2]) > 0 ? figures : null;
		}, 5000, "live figures: fps, kB/s and round-trip time");
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

	["the WebSocket URL follows ?path= and ?token=", async ({ page, url }) => {
		const seen = [];
		page.on("websocket", (ws) => seen.push(ws.url()));
		// websockify and webkvm-proxy bridge any path.
		await page.goto(url + "?path=some/where&token=t%20k");
		await waitFor(async () => (await state(page)) === "connected", 10000, "the page to connect");
		const want = url.replace(/^http/, "ws") + "some/where?token=t%20k";
		eq(seen, [want], "WebSocket URLs");
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
			await page.goto(`http://127.0.0.1:${proxy.port}/`);
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
			await page.goto(`http://127.0.0.1:${port}/`);
			await waitFor(() => page.url().endsWith("/login.html"), 10000, "the redirect to the login page");
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
			await waitFor(() => page.url().endsWith("/login.html"), 10000, "the login page after logout");
			const res = await fetch(`http://127.0.0.1:${port}/api/session`);
			eq(res.status, 401, "session without a cookie");
			assert(log.includes('logged in as "admin"'), `proxy log: ${log}`);
		} finally {
			child.kill("SIGTERM");
			await exited;
		}
		assert(!/AddressSanitizer|runtime error:/.test(log), `proxy log: ${log}`);
	}],
];
