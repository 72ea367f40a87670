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
import { h264Tests } from "./h264.mjs";
import { tests } from "./tests.mjs";

const TEST_TIMEOUT_MS = 90000 * SLOW;
const require = createRequire(join(REPO, "web", "package.json"));

function withTimeout(promise, ms, what) {
	let t;
	return Promise.race([promise, new Promise((_, rej) => {
		t = setTimeout(() => rej(new Error(`${what}: no result after ${ms} ms`)), ms);
	})]).finally(() => clearTimeout(t));
}

// What went wrong with the daemon or the proxy during a test: either one
// dying (the runner stops neither during a test; a test that stops one
// checks it itself) or printing a sanitizer report.  Each is reported once,
// for the test that was running.
function childNews(daemon, proxy) {
	const out = [];
	for (const c of [daemon.child, proxy.child]) {
		const news = c && c.news();
		if (news)
			out.push(`${news}\n${c.log.slice(-2000)}`);
	}
	return out.length ? out.join("\n") : null;
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
		// The screen tests read the console's text exactly, so they ask for
		// Tight (lossless on text); the H.264 tests load the page as it
		// comes (own: they open it themselves).
		const base = `http://127.0.0.1:${proxy.port}/`;
		const url = `${base}?codec=tight`;
		for (const [name, fn, opts = {}] of [...tests, ...h264Tests]) {
			if (!name.includes(filter))
				continue;
			const page = await browser.ctx.newPage();
			const errors = [];
			page.on("pageerror", (e) => errors.push(e.message));
			const t0 = Date.now();
			let failure = null;
			try {
				await withTimeout((async () => {
					if (!opts.own) {
						await page.goto(url, { timeout: 10000 * SLOW });
						await waitFor(() => page.$eval("#state", (el) => el.dataset.state === "connected"),
							10000, "the page to connect");
						await page.keyboard.press("Escape");	// the sim clears its command line
						await waitScreen(page, [0, -2], (s) => s[0].includes(TITLE) && s[-2] === ">",
							10000, "the setup screen with an empty command line");
					}
					await fn({ page, daemon, proxy, url, base, tmp, browser, usesOurProxy: !process.env.WEBKVM_PROXY });
					if (errors.length)
						throw new Error(`errors in the page: ${errors.join("; ")}`);
				})(), TEST_TIMEOUT_MS, name);
			} catch (err) {
				failure = err.message;
			}
			// A death or sanitizer report fails the test that was running,
			// whatever the test itself found.
			const news = childNews(daemon, proxy);
			if (news)
				failure = failure ? `${failure}\n  ${news}` : news;
			if (failure === null) {
				passed++;
				console.log(`ok    ${name} (${Date.now() - t0} ms)`);
			} else {
				failed++;
				console.log(`FAIL  ${name} (${Date.now() - t0} ms)\n  ${failure}`);
				if (daemon.child.log)
					console.log(`  webkvmd log (end):\n${daemon.child.log.slice(-2000).replace(/^/gm, "    ")}`);
			}
			// Then the suite goes on with fresh ones.
			if (!daemon.child.alive())
				await daemon.start().catch((err) => console.log(`  restarting webkvmd: ${err.message}`));
			if (!proxy.child.alive())
				await proxy.start().catch((err) => console.log(`  restarting the proxy: ${err.message}`));
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
		// Both stop with SIGTERM and must exit 0 without a sanitizer report
		// (LeakSanitizer reports at exit): each is one more check.
		for (const [what, p] of [["proxy", proxy], ["webkvmd", daemon]]) {
			if (!p.child)
				continue;
			try {
				await p.stop();
				passed++;
				console.log(`ok    ${what} stops cleanly on SIGTERM`);
			} catch (err) {
				failed++;
				console.log(`FAIL  ${what} stops cleanly on SIGTERM\n  ${err.message}`);
			}
		}
		rmSync(tmp, { recursive: true, force: true });
	}
	return [passed, failed];
}

const [passed, failed] = await main();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed || !passed ? 1 : 0);
