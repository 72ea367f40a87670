// Starts what the browser tests need, each on a free loopback port: the
// daemon (webkvmd --board sim, with a control socket), the proxy serving
// web/dist, and headless Chromium; plus helpers that read the target's
// screen from the page's canvas.  Every wait is bounded.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve, isAbsolute } from "node:path";
import { fileURLToPath } from "node:url";
import { readRows, readRowsTolerant, geometry } from "./ocr.mjs";

export const REPO = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const BUILD = process.env.BUILD || "build";
export const BUILD_DIR = isAbsolute(BUILD) ? BUILD : join(REPO, BUILD);
export const WEB_DIR = process.env.WEBKVM_WEB || join(REPO, "web", "dist");
export const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
// Sanitizer builds run slower; waits stretch with them.
export const SLOW = BUILD_DIR.replace(/\/+$/, "").endsWith("/san") ? 3 : 1;

export const TITLE = "webkvm virtual target - Setup Utility";
export const BIOS_BANNER = "webkvm virtual BIOS v1.0";
export const MENU = ["Main", "Advanced", "Boot", "Security", "Exit"];
export const MENU_FIRST_ROW = 2;
export const MENU_COL = 3;
export const OUTPUT_ROW = 8;

// Chromium counts http://127.0.0.1 and localhost as secure contexts; this
// name, mapped to 127.0.0.1 by launchBrowser, is not.
export const INSECURE_HOST = "webkvm.test";

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls fn until it returns a truthy value; throws after ms with what and
// the last value seen.
export async function waitFor(fn, ms, what) {
	const end = Date.now() + ms * SLOW;
	let last, lastErr;
	for (;;) {
		try {
			last = await fn();
			lastErr = null;
			if (last)
				return last;
		} catch (err) {
			lastErr = err;
		}
		if (Date.now() > end) {
			const seen = lastErr ? `error ${lastErr.message}` : JSON.stringify(last);
			throw new Error(`timed out after ${ms * SLOW} ms waiting for ${what} (last: ${seen})`);
		}
		await sleep(100);
	}
}

export function freePort() {
	return new Promise((res, rej) => {
		const srv = createServer();
		srv.on("error", rej);
		srv.listen(0, "127.0.0.1", () => {
			const { port } = srv.address();
			srv.close(() => res(port));
		});
	});
}

// Any sanitizer's report: its first line, a UBSan finding, or the summary
// line every report ends with.
const SANITIZER_RE = /ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:|SUMMARY: \w*Sanitizer/g;

// Sanitizer report lines in text whose match ends after byte `from`.
function sanitizerLines(text, from = 0) {
	const out = [];
	for (const m of text.matchAll(SANITIZER_RE)) {
		if (m.index + m[0].length > from) {
			const a = text.lastIndexOf("\n", m.index) + 1;
			const b = text.indexOf("\n", m.index);
			out.push(text.slice(a, b < 0 ? undefined : b));
		}
	}
	return out;
}

// Why a process we started counts as crashed, or null: a sanitizer report,
// or (once it has exited) any end but exit status 0 — which is what our
// binaries do on SIGTERM.
export function crashOf(name, exited, log) {
	const san = sanitizerLines(log);
	if (san.length)
		return `${name} printed a sanitizer report: ${san.slice(0, 5).join(" | ")}`;
	if (exited && (exited.code !== 0 || exited.sig !== null))
		return `${name} ended ${exited.sig ? "by signal " + exited.sig : "with status " + exited.code}`;
	return null;
}

// A child process whose output is kept for the report of a failed test.
// Sanitizer report lines are collected as they arrive (the kept log is
// trimmed), so each is reported once, for the test that was running.
export class Child {
	constructor(name, cmd, args) {
		this.name = name;
		this.log = "";
		this.exited = null;
		this.reports = [];	// sanitizer lines seen so far
		this.reported = 0;	// how many of them a test has been failed for
		this.exitReported = false;
		this.proc = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
		const keep = (d) => {
			const old = this.log.length;
			// A mark may straddle two chunks: look back a little.
			const back = Math.max(0, old - 100);
			this.log += d.toString();
			this.reports.push(...sanitizerLines(this.log.slice(back), old - back));
			if (this.log.length > 200000)
				this.log = this.log.slice(-100000);
		};
		this.proc.stdout.on("data", keep);
		this.proc.stderr.on("data", keep);
		this.done = new Promise((res) => {
			this.proc.on("exit", (code, sig) => { this.exited = { code, sig }; res(); });
			this.proc.on("error", (err) => {
				this.log += `${name}: cannot start ${cmd}: ${err.message}\n`;
				this.exited = { code: -1, sig: null };
				res();
			});
		});
	}

	alive() {
		return this.exited === null;
	}

	async stop() {
		if (!this.alive())
			return this.exited;
		this.proc.kill("SIGTERM");
		const t = setTimeout(() => this.proc.kill("SIGKILL"), 5000 * SLOW);
		await this.done;
		clearTimeout(t);
		return this.exited;
	}

	// What went wrong since the last call, or null: sanitizer lines not yet
	// reported, an exit not yet reported (any exit: a process the runner
	// did not stop has died).
	news() {
		const out = [];
		if (this.reports.length > this.reported) {
			out.push(`${this.name} printed a sanitizer report: `
				+ this.reports.slice(this.reported, this.reported + 5).join(" | "));
			this.reported = this.reports.length;
		}
		if (this.exited && !this.exitReported) {
			out.push(`${this.name} died (${JSON.stringify(this.exited)})`);
			this.exitReported = true;
		}
		return out.length ? out.join("; ") : null;
	}

	// SIGTERM, wait, then throw unless it exited with status 0 and printed
	// no sanitizer report (LeakSanitizer reports only at exit).
	async stopChecked() {
		const died = !this.alive() && !this.exitReported;
		const st = await this.stop();
		this.exitReported = true;
		const problem = died ? `${this.name} had died before it was stopped (${JSON.stringify(st)})`
			: crashOf(this.name, st, this.reports.length > this.reported ? this.reports.join("\n") : "");
		this.reported = this.reports.length;
		if (problem)
			throw new Error(`${problem}\n${this.log.slice(-2000)}`);
		return st;
	}
}

export class Daemon {
	constructor(port, sock, extraArgs = []) {
		this.port = port;
		this.sock = sock;
		this.extraArgs = extraArgs;
		this.child = null;
	}

	async start() {
		const bin = join(BUILD_DIR, "webkvmd");
		if (!existsSync(bin))
			throw new Error(`${bin} is missing: run make`);
		rmSync(this.sock, { force: true });
		this.child = new Child("webkvmd", bin, ["--board", "sim",
			"--rfb-listen", `127.0.0.1:${this.port}`, "--control", this.sock, ...this.extraArgs]);
		await waitFor(async () => {
			if (!this.child.alive())
				throw new Error(`webkvmd exited ${JSON.stringify(this.child.exited)}: ${this.child.log}`);
			// The control socket answers once the RFB port listens; probing
			// the RFB port itself would log a dropped viewer.
			if (!existsSync(this.sock))
				return false;
			const st = await this.request({ cmd: "status" }, 1000);
			return st.ok === true;
		}, 10000, "webkvmd to listen");
	}

	// SIGTERM; throws unless it exits 0 without a sanitizer report.
	async stop() {
		return this.child.stopChecked();
	}

	// One JSON-lines request on the control socket.
	request(obj, ms = 5000) {
		return new Promise((res, rej) => {
			const s = createConnection(this.sock);
			let buf = "";
			const t = setTimeout(() => { s.destroy(); rej(new Error(`control: no answer to ${JSON.stringify(obj)}`)); }, ms * SLOW);
			s.on("connect", () => s.write(JSON.stringify(obj) + "\n"));
			s.on("data", (d) => {
				buf += d.toString();
				const nl = buf.indexOf("\n");
				if (nl < 0)
					return;
				clearTimeout(t);
				s.destroy();
				try {
					res(JSON.parse(buf.slice(0, nl)));
				} catch (err) {
					rej(new Error(`control: bad answer ${buf.slice(0, nl)}: ${err.message}`));
				}
			});
			s.on("error", (err) => { clearTimeout(t); rej(new Error(`control: ${this.sock}: ${err.message}`)); });
		});
	}
}

// The proxy command: WEBKVM_PROXY (e.g. "websockify" while developing),
// else $BUILD/webkvm-proxy with the daemon's control socket for /api/;
// WEBKVM_PROXY_ARGS adds options before the websockify-style arguments.
// "{control}" in either stands for the control socket's path.
export function proxyCommand(controlSock) {
	const words = (s) => (s || "").split(/\s+/).filter(Boolean)
		.map((w) => w.replaceAll("{control}", controlSock));
	const cmd = words(process.env.WEBKVM_PROXY);
	if (!cmd.length) {
		const bin = join(BUILD_DIR, "webkvm-proxy");
		if (!existsSync(bin))
			throw new Error(`${bin} is missing: run make, or set WEBKVM_PROXY=websockify`);
		cmd.push(bin, "--control", controlSock, "--auth", "none");
	}
	return [...cmd, ...words(process.env.WEBKVM_PROXY_ARGS)];
}

export class Proxy {
	constructor(port, rfbPort, controlSock) {
		this.port = port;
		this.rfbPort = rfbPort;
		this.controlSock = controlSock;
	}

	async start() {
		if (!existsSync(join(WEB_DIR, "index.html")))
			throw new Error(`${WEB_DIR}/index.html is missing: build the page (make web)`);
		const [cmd, ...opts] = proxyCommand(this.controlSock);
		this.child = new Child("proxy", cmd, [...opts, "--web", WEB_DIR,
			`127.0.0.1:${this.port}`, `127.0.0.1:${this.rfbPort}`]);
		await waitFor(async () => {
			if (!this.child.alive())
				throw new Error(`proxy exited ${JSON.stringify(this.child.exited)}: ${this.child.log}`);
			const res = await fetch(`http://127.0.0.1:${this.port}/`, { signal: AbortSignal.timeout(1000) });
			return res.ok;
		}, 10000, "the proxy to serve the page");
	}

	// SIGTERM; throws unless it exits 0 without a sanitizer report.
	stop() {
		return this.child.stopChecked();
	}
}

export async function launchBrowser(chromium) {
	const profile = mkdtempSync(join(tmpdir(), "webkvm-chromium-"));
	const ctx = await chromium.launchPersistentContext(profile, {
		executablePath: CHROMIUM,
		headless: true,
		viewport: { width: 1280, height: 800 },
		args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync",
			// A name that is not loopback to the browser (so not a secure
			// context over http) but reaches the proxy on 127.0.0.1.
			`--host-resolver-rules=MAP ${INSECURE_HOST} 127.0.0.1`],
		timeout: 30000 * SLOW,
	});
	return {
		ctx,
		async close() {
			await ctx.close().catch(() => {});
			rmSync(profile, { recursive: true, force: true });
		},
	};
}

// ---- reading the page ----

// Framebuffer lines of the given console rows (negative counts from the
// bottom), read from noVNC's canvas in the page; null before a canvas.
async function canvasBand(page, rows) {
	return page.evaluate((rows) => {
		const c = document.querySelector("#screen canvas");
		if (!c || !c.width || !c.height)
			return null;
		const w = c.width, h = c.height;
		const scale = Math.max(1, Math.min(Math.floor(w / 640), Math.floor(h / 360)));
		const cellH = 16 * scale;
		const nrows = Math.floor(h / cellH);
		const abs = rows.map((r) => (r < 0 ? nrows + r : r));
		const lo = Math.min(...abs), hi = Math.max(...abs);
		const data = c.getContext("2d").getImageData(0, lo * cellH, w, (hi - lo + 1) * cellH).data;
		let bin = "";
		for (let i = 0; i < data.length; i += 0x8000)
			bin += String.fromCharCode.apply(null, data.subarray(i, i + 0x8000));
		return { w, h, y0: lo * cellH, rows: abs, data: btoa(bin) };
	}, rows);
}

// {row: text} for the rows asked (negative from the bottom, keys as asked),
// plus geo; null while there is no canvas.
export async function readScreen(page, rows) {
	const band = await canvasBand(page, rows);
	if (!band)
		return null;
	const rgba = Buffer.from(band.data, "base64");
	const text = readRows(rgba, band.w, band.h, band.y0, band.rows);
	const out = { geo: geometry(band.w, band.h) };
	rows.forEach((r, i) => { out[r] = text[band.rows[i]]; });
	return out;
}

// As readScreen, for a lossy picture (H.264): see readRowsTolerant.
export async function readScreenTolerant(page, rows) {
	const band = await canvasBand(page, rows);
	if (!band)
		return null;
	const rgba = Buffer.from(band.data, "base64");
	const text = readRowsTolerant(rgba, band.w, band.h, band.y0, band.rows);
	const out = { geo: geometry(band.w, band.h) };
	rows.forEach((r, i) => { out[r] = text[band.rows[i]]; });
	return out;
}

// Waits until the rows asked satisfy pred(screen); returns that screen.
// opts.tolerant reads them with readScreenTolerant.
export async function waitScreen(page, rows, pred, ms, what, opts = {}) {
	const read = opts.tolerant ? readScreenTolerant : readScreen;
	let last = null;
	try {
		return await waitFor(async () => {
			last = await read(page, rows);
			return last && pred(last) ? last : null;
		}, ms, what);
	} catch (err) {
		if (last)
			err.message += `\n  screen: ${JSON.stringify(Object.fromEntries(rows.map((r) => [r, last[r]])))}`;
		throw err;
	}
}

// The typed text on the command line (row rows-2, "> text"), or null.
export function commandText(screen) {
	const row = screen[-2];
	if (row === undefined || !(row === ">" || row.startsWith("> ")))
		return null;
	return row.slice(2).replace(/ +$/, "");
}

// Page coordinates of a console cell's centre, through the page's scaling.
export async function cellPoint(page, row, col) {
	const c = await page.$("#screen canvas");
	const box = await c.boundingBox();
	const size = await c.evaluate((el) => [el.width, el.height]);
	const geo = geometry(size[0], size[1]);
	const [x, y] = geo.centre(row, col);
	return [box.x + x * box.width / size[0], box.y + y * box.height / size[1]];
}

// The whole canvas: { w, h, rgba (Buffer) }, or null before a canvas.
export async function canvasPixels(page) {
	const band = await page.evaluate(() => {
		const c = document.querySelector("#screen canvas");
		if (!c || !c.width || !c.height)
			return null;
		const data = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
		let bin = "";
		for (let i = 0; i < data.length; i += 0x8000)
			bin += String.fromCharCode.apply(null, data.subarray(i, i + 0x8000));
		return { w: c.width, h: c.height, data: btoa(bin) };
	});
	return band && { w: band.w, h: band.h, rgba: Buffer.from(band.data, "base64") };
}

// Peak signal-to-noise ratio of b against a, in dB (Infinity when equal),
// over R, G and B (db) and over luma alone (luma, BT.601 weights); both
// the same size.  With same (a picture of the same size), only the pixels
// where a and same are equal count: a reference taken before and after
// b, so what changed meanwhile (the sim's clock) is left out.  counted:
// the pixels counted.
export function psnr(a, b, same = null) {
	for (const o of same ? [b, same] : [b]) {
		if (a.w !== o.w || a.h !== o.h)
			throw new Error(`psnr: ${a.w}x${a.h} against ${o.w}x${o.h}`);
	}
	const A = a.rgba, B = b.rgba;
	let sum = 0, sumY = 0, counted = 0;
	for (let i = 0; i < A.length; i += 4) {
		if (same && A.readUInt32BE(i) !== same.rgba.readUInt32BE(i))
			continue;
		counted++;
		const dr = A[i] - B[i], dg = A[i + 1] - B[i + 1], db = A[i + 2] - B[i + 2];
		sum += dr * dr + dg * dg + db * db;
		const dy = 0.299 * dr + 0.587 * dg + 0.114 * db;
		sumY += dy * dy;
	}
	const dB = (mse) => (mse === 0 ? Infinity : 10 * Math.log10(255 * 255 / mse));
	return counted ? { db: dB(sum / (counted * 3)), luma: dB(sumY / counted), counted }
		: { db: Infinity, luma: Infinity, counted };
}

// The SetEncodings lists (RFB client message 2) a page sends, in order,
// decoded from its WebSocket frames as signed 32-bit numbers.  Call before
// the page connects.
export function watchEncodings(page) {
	const lists = [];
	page.on("websocket", (ws) => ws.on("framesent", ({ payload }) => {
		const b = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, "latin1");
		if (b.length >= 4 && b[0] === 2) {
			const n = b.readUInt16BE(2);
			if (b.length >= 4 + 4 * n)
				lists.push(Array.from({ length: n }, (_, i) => b.readInt32BE(4 + 4 * i)));
		}
	}));
	return lists;
}

export async function pixel(page, x, y) {
	return page.evaluate(([x, y]) => {
		const c = document.querySelector("#screen canvas");
		const d = c.getContext("2d").getImageData(x, y, 1, 1).data;
		return (d[0] << 16) | (d[1] << 8) | d[2];
	}, [x, y]);
}

// The sim's pointer sprite (board/sim/render.c): '#' black outline, '.'
// white fill, ' ' transparent; its top-left pixel is the pointer's hot
// spot.  The sprite is clipped at the right and bottom edges.
const SPRITE = [
	"#           ",
	"##          ",
	"#.#         ",
	"#..#        ",
	"#...#       ",
	"#....#      ",
	"#.....#     ",
	"#......#    ",
	"#.......#   ",
	"#........#  ",
	"#.........# ",
	"#......#####",
	"#...#..#    ",
	"#..##..#    ",
	"#.# #..#    ",
	"##   #..#   ",
	"#    #..#   ",
	"      #..#  ",
	"       ##   ",
];

// Where the target draws its pointer, in framebuffer pixels, read from the
// page's canvas: {x, y} of the hot spot, or null when no sprite is shown.
export async function targetPointer(page) {
	return page.evaluate((sprite) => {
		const c = document.querySelector("#screen canvas");
		if (!c || !c.width || !c.height)
			return null;
		const w = c.width, h = c.height;
		const d = c.getContext("2d").getImageData(0, 0, w, h).data;
		const at = (x, y) => {
			const i = (y * w + x) * 4;
			return (d[i] << 16) | (d[i + 1] << 8) | d[i + 2];
		};
		const fits = (x, y) => {
			for (let j = 0; j < sprite.length && y + j < h; j++) {
				for (let i = 0; i < sprite[j].length && x + i < w; i++) {
					const want = sprite[j][i];
					if (want === "#" && at(x + i, y + j) !== 0x000000)
						return false;
					if (want === "." && at(x + i, y + j) !== 0xffffff)
						return false;
				}
			}
			return true;
		};
		const found = [];
		for (let y = 0; y < h; y++) {
			for (let x = 0; x < w; x++) {
				// Cheap first test: the tip and the first white pixel.
				if (at(x, y) !== 0 || (y + 2 < h && x + 1 < w && at(x + 1, y + 2) !== 0xffffff))
					continue;
				if (fits(x, y))
					found.push({ x, y });
			}
		}
		return found.length === 1 ? found[0] : found.length ? { many: found.slice(0, 5) } : null;
	}, SPRITE);
}
