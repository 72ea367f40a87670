// Browser tests of the webkvm page: starts webkvmd --board sim and the
// proxy on free ports, drives Debian's Chromium headless with
// playwright-core, runs every test and ends with "N passed, N failed".
//
//   node tests/browser/run.mjs [name filter]
//   BUILD=build WEBKVM_PROXY=websockify node tests/browser/run.mjs
//
// Environment: BUILD (build), WEBKVM_PROXY (default $BUILD/webkvm-proxy),
// WEBKVM_PROXY_ARGS, CHROMIUM (/usr/bin/chromium), WEBKVM_WEB (web/dist),
// WEBKVM_SHOTS (a folder: a screenshot of each test's page goes there).
import { createRequire } from "node:module";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Daemon, Proxy, REPO, SLOW, TITLE, freePort, launchBrowser, waitFor, waitScreen } from "./harness.mjs";
import { tests } from "./tests.mjs";

const TEST_TIMEOUT_MS = 90000 * SLOW;
const require = createRequire(join(REPO, "web", "package.json"));

function withTimeout(promise, ms, what) {
	let t;
	return Promise.race([promise, new Promise((_, rej) => {
		t = setTimeout(() => rej(new Error(`${what}: no result after ${ms} ms`)), ms);
	})]).finally(() => clearTimeout(t));
}

const SANITIZER_MARKS = ["ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"];

// A proxy that died or a sanitizer report from either fails the test.
function checkChildren(daemon, proxy) {
	if (!proxy.child.alive())
		throw new Error(`the proxy exited ${JSON.stringify(proxy.child.exited)}: ${proxy.child.log.slice(-2000)}`);
	for (const c of [daemon.child, proxy.child]) {
		const mark = SANITIZER_MARKS.find((m) => c.log.includes(m));
		if (mark)
			throw new Error(`${c.name}: sanitizer report:\n${c.log.slice(c.log.indexOf(mark) - 200, c.log.indexOf(mark) + 3000)}`);
	}
}

async function main() {
	const filter = process.argv[2] || "";
	const shots = process.env.WEBKVM_SHOTS;
	if (shots)
		mkdirSync(shots, { recursive: true });
	let chromium;
	try {
		({ chromium } = require("playwright-core"));
	} catch (err) {
		console.error(`browser: playwright-core is not installed (npm ci in web/): ${err.message}`);
		return [0, 1];
	}
	const tmp = mkdtempSync(join(tmpdir(), "webkvm-browser-"));
	const daemon = new Daemon(await freePort(), join(tmp, "control.sock"));
	const proxy = new Proxy(await freePort(), daemon.port, daemon.sock);
	let browser = null, passed = 0, failed = 0;
	try {
		await daemon.start();
		await proxy.start();
		browser = await launchBrowser(chromium);
		const url = `http://127.0.0.1:${proxy.port}/`;
		for (const [name, fn] of tests) {
			if (!name.includes(filter))
				continue;
			const page = await browser.ctx.newPage();
			const errors = [];
			page.on("pageerror", (e) => errors.push(e.message));
			const t0 = Date.now();
			try {
				await withTimeout((async () => {
					if (!daemon.child.alive())
						await daemon.start();
					await page.goto(url, { timeout: 10000 * SLOW });
					await waitFor(() => page.$eval("#state", (el) => el.dataset.state === "connected"),
						10000, "the page to connect");
					await page.keyboard.press("Escape");	// the sim clears its command line
					await waitScreen(page, [0, -2], (s) => s[0].includes(TITLE) && s[-2] === ">",
						10000, "the setup screen with an empty command line");
					await fn({ page, daemon, proxy, url, tmp, usesOurProxy: !process.env.WEBKVM_PROXY });
					if (errors.length)
						throw new Error(`errors in the page: ${errors.join("; ")}`);
					checkChildren(daemon, proxy);
				})(), TEST_TIMEOUT_MS, name);
				passed++;
				console.log(`ok    ${name} (${Date.now() - t0} ms)`);
			} catch (err) {
				failed++;
				console.log(`FAIL  ${name} (${Date.now() - t0} ms)\n  ${err.message}`);
				if (daemon.child.log)
					console.log(`  webkvmd log (end):\n${daemon.child.log.slice(-2000).replace(/^/gm, "    ")}`);
			}
			if (shots)
				await page.screenshot({ path: join(shots, name.replace(/[^a-z0-9]+/gi, "-") + ".png") }).catch(() => {});
			await page.close().catch(() => {});
		}
	} catch (err) {
		failed++;
		console.log(`FAIL  setting up: ${err.message}`);
		if (proxy.child)
			console.log(`  proxy log (end):\n${proxy.child.log.slice(-2000)}`);
	} finally {
		if (browser)
			await browser.close();
		if (proxy.child)
			await proxy.stop();
		if (daemon.child) {
			try {
				await daemon.stop();
			} catch (err) {
				failed++;
				console.log(`FAIL  daemon stop: ${err.message}`);
			}
		}
		rmSync(tmp, { recursive: true, force: true });
	}
	return [passed, failed];
}

const [passed, failed] = await main();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed || !passed ? 1 : 0);
