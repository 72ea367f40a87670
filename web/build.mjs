// Builds the page into web/dist: one ES module bundle (our code + noVNC's
// core), the stylesheet and index.html.  Everything the page needs is in
// dist; nothing is fetched from elsewhere at run time.
import { build } from "esbuild";
import { copyFile, mkdir, readFile, readdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const src = join(here, "src");
const out = process.argv[2] ? process.argv[2] : join(here, "dist");

// noVNC 1.7.0's core/util/browser.js ends its H.264 detection with a
// top-level `await`: every module that imports it (rfb.js, so the whole
// page) waits until VideoDecoder has decoded a test frame, and on Android
// Chrome that never happens, so the page never starts (fixed upstream
// after 1.7.0).  This plugin rewrites that one statement: the check runs
// in the background, the live binding supportsWebCodecsH264Decode is set
// when it answers, and the promise is exported as webCodecsH264Check for
// the page to wait on for as long as it chooses (app.js: 1 s).  The build
// fails when the statement is not found exactly once, so a noVNC upgrade
// cannot slip past it; and `supported: top-level-await: false` makes
// esbuild refuse any top-level await left anywhere in the bundle.
const TLA = "supportsWebCodecsH264Decode = await _checkWebCodecsH264DecodeSupport();";
const noBlockingH264Check = {
	name: "no-blocking-h264-check",
	setup(b) {
		b.onLoad({ filter: /[\\/]@novnc[\\/]novnc[\\/]core[\\/]util[\\/]browser\.js$/ }, async (args) => {
			const text = await readFile(args.path, "utf8");
			const at = text.indexOf(TLA);
			if (at < 0 || text.indexOf(TLA, at + 1) >= 0)
				throw new Error(`${args.path}: the H.264 check's top-level await is not there exactly once; re-check it for this noVNC version`);
			const rewritten = "export const webCodecsH264Check = _checkWebCodecsH264DecodeSupport().then(\n"
				+ "    (ok) => { supportsWebCodecsH264Decode = ok; return ok; },\n"
				+ "    (err) => { Log.Warn(\"H.264 decode check failed: \" + err); return false; });";
			return { contents: text.slice(0, at) + rewritten + text.slice(at + TLA.length), loader: "js" };
		});
	},
};

try {
	// Emptied, not replaced: a server running on the folder keeps it.
	await mkdir(out, { recursive: true });
	for (const name of await readdir(out))
		await rm(join(out, name), { recursive: true, force: true });
	await build({
		entryPoints: [join(src, "app.js")],
		bundle: true,
		format: "esm",
		target: ["es2022"],
		supported: { "top-level-await": false },
		plugins: [noBlockingH264Check],
		minify: true,
		legalComments: "linked",
		outfile: join(out, "app.js"),
		logLevel: "warning",
	});
	await copyFile(join(src, "index.html"), join(out, "index.html"));
	await copyFile(join(src, "style.css"), join(out, "style.css"));
	await copyFile(join(src, "favicon.svg"), join(out, "favicon.svg"));
	// The login page is plain: no bundle, nothing of noVNC.
	for (const name of ["login.html", "login.js", "login.css"])
		await copyFile(join(src, name), join(out, name));
} catch (err) {
	console.error(`web: build into ${out} failed: ${err.message}`);
	process.exit(1);
}
