// Builds the page into web/dist: one ES module bundle (our code + noVNC's
// core), the stylesheet and index.html.  Everything the page needs is in
// dist; nothing is fetched from elsewhere at run time.
import { build } from "esbuild";
import { copyFile, mkdir, readdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const src = join(here, "src");
const out = process.argv[2] ? process.argv[2] : join(here, "dist");

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
