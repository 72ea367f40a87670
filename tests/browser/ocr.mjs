// Reads the virtual target's text console back out of canvas pixels, as
// tests/integration/ocr.py does: each cell is the VGA 8x16 font scaled by
// an integer factor with one background and one foreground colour, so the
// foreground mask sampled once per font pixel must equal a glyph of the
// same font exactly.  A cell that matches no glyph reads as "?".
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";

const FONT = process.env.WEBKVM_FONT || "/usr/share/consolefonts/Uni2-VGA16.psf.gz";
const GW = 8;
const GH = 16;
export const UNKNOWN = "?";

let table = null;

// {glyph bitmap as hex: character}; ASCII wins over other code points
// sharing a glyph, then the lowest code point.
function readPsf(path) {
	let data = readFileSync(path);
	if (path.endsWith(".gz"))
		data = gunzipSync(data);
	const rank = (cp) => [cp >= 128 ? 1 : 0, cp];
	const better = (a, b) => { const x = rank(a), y = rank(b); return x[0] < y[0] || (x[0] === y[0] && x[1] < y[1]); };
	let bitmaps, codes = [];
	if (data[0] === 0x36 && data[1] === 0x04) {
		const mode = data[2], size = data[3];
		const count = mode & 1 ? 512 : 256;
		if (size !== GH || !(mode & 6))
			throw new Error(`${path}: not an 8x16 PSF1 font with a unicode table`);
		bitmaps = data.subarray(4, 4 + count * size);
		let pos = 4 + count * size;
		for (let i = 0; i < count; i++) {
			const cps = [];
			let inSeq = false;
			for (;;) {
				if (pos + 2 > data.length)
					throw new Error(`${path}: unicode table truncated`);
				const v = data.readUInt16LE(pos);
				pos += 2;
				if (v === 0xffff)
					break;
				if (v === 0xfffe)
					inSeq = true;
				else if (!inSeq)
					cps.push(v);
			}
			codes.push(cps);
		}
	} else if (data.readUInt32LE(0) === 0x864ab572) {
		const hdr = data.readUInt32LE(8), flags = data.readUInt32LE(12);
		const count = data.readUInt32LE(16), size = data.readUInt32LE(20);
		const h = data.readUInt32LE(24), w = data.readUInt32LE(28);
		if (w !== GW || h !== GH || size !== GH || !(flags & 1))
			throw new Error(`${path}: not an 8x16 PSF2 font with a unicode table`);
		bitmaps = data.subarray(hdr, hdr + count * size);
		let pos = hdr + count * size;
		for (let i = 0; i < count; i++) {
			const end = data.indexOf(0xff, pos);
			if (end < 0)
				throw new Error(`${path}: unicode table truncated`);
			const entry = data.subarray(pos, end);
			pos = end + 1;
			const cut = entry.indexOf(0xfe);
			const text = entry.subarray(0, cut < 0 ? entry.length : cut).toString("utf8");
			codes.push([...text].map((c) => c.codePointAt(0)));
		}
	} else {
		throw new Error(`${path}: not a PSF font`);
	}
	const out = new Map();
	codes.forEach((cps, i) => {
		if (!cps.length)
			return;
		const key = Buffer.from(bitmaps.subarray(i * GH, (i + 1) * GH)).toString("hex");
		const best = cps.reduce((a, b) => (better(b, a) ? b : a));
		const old = out.get(key);
		if (old === undefined || better(best, old.codePointAt(0)))
			out.set(key, String.fromCodePoint(best));
	});
	out.set("00".repeat(GH), " ");
	return out;
}

function glyphs() {
	if (!table)
		table = readPsf(FONT);
	return table;
}

// The console grid of a w×h screen, as board/sim/sim.h defines it.
export function geometry(width, height) {
	const scale = Math.max(1, Math.min(Math.floor(width / 640), Math.floor(height / 360)));
	const cellW = GW * scale, cellH = GH * scale;
	return {
		width, height, scale, cellW, cellH,
		cols: Math.floor(width / cellW),
		rows: Math.floor(height / cellH),
		// Centre of a cell in framebuffer pixels.
		centre(row, col) {
			return [col * cellW + cellW / 2, row * cellH + cellH / 2];
		},
	};
}

// Text of console rows from RGBA pixels: rgba covers framebuffer lines
// y0 .. y0 + rgba.length / (4 * width) of a width×height screen.
// Returns {row: text without trailing spaces}.
export function readRows(rgba, width, height, y0, rows) {
	const geo = geometry(width, height);
	const tab = glyphs();
	const off = Math.floor(geo.scale / 2);
	const px = (x, y) => {
		const i = ((y - y0) * width + x) * 4;
		return (rgba[i] << 16) | (rgba[i + 1] << 8) | rgba[i + 2];
	};
	const out = {};
	for (const r of rows) {
		if (r < 0 || r >= geo.rows)
			throw new RangeError(`row ${r} outside 0..${geo.rows - 1}`);
		let text = "";
		for (let c = 0; c < geo.cols; c++) {
			const vals = [];
			for (let gy = 0; gy < GH; gy++)
				for (let gx = 0; gx < GW; gx++)
					vals.push(px(c * geo.cellW + gx * geo.scale + off,
						r * geo.cellH + gy * geo.scale + off));
			const counts = new Map();
			for (const v of vals)
				counts.set(v, (counts.get(v) || 0) + 1);
			if (counts.size === 1) {
				text += " ";
				continue;
			}
			if (counts.size > 2) {
				text += UNKNOWN;	// the pointer or something else on top
				continue;
			}
			const [bg] = [...counts.entries()].sort((a, b) => b[1] - a[1])[0];
			const mask = Buffer.alloc(GH), inv = Buffer.alloc(GH);
			for (let gy = 0; gy < GH; gy++) {
				let m = 0;
				for (let gx = 0; gx < GW; gx++)
					m = (m << 1) | (vals[gy * GW + gx] !== bg ? 1 : 0);
				mask[gy] = m;
				inv[gy] = m ^ 0xff;
			}
			text += tab.get(mask.toString("hex")) ?? tab.get(inv.toString("hex")) ?? UNKNOWN;
		}
		out[r] = text.replace(/ +$/, "");
	}
	return out;
}

// As readRows, for a lossy picture (H.264): each sample is reduced to its
// luma and split at the middle between the cell's darkest and brightest;
// a cell whose samples differ by less than MIN_CONTRAST is blank; the
// glyph (or its inverse) nearest to the mask wins if at most MAX_WRONG of
// its 128 font pixels differ, else the cell reads as "?".
const MIN_CONTRAST = 48;
const MAX_WRONG = 8;

function popcount8(v) {
	let n = 0;
	for (; v; v &= v - 1)
		n++;
	return n;
}

export function readRowsTolerant(rgba, width, height, y0, rows) {
	const geo = geometry(width, height);
	const tab = [...glyphs().entries()].map(([hex, ch]) => [Buffer.from(hex, "hex"), ch]);
	const off = Math.floor(geo.scale / 2);
	const luma = (x, y) => {
		const i = ((y - y0) * width + x) * 4;
		return 0.299 * rgba[i] + 0.587 * rgba[i + 1] + 0.114 * rgba[i + 2];
	};
	const out = {};
	for (const r of rows) {
		if (r < 0 || r >= geo.rows)
			throw new RangeError(`row ${r} outside 0..${geo.rows - 1}`);
		let text = "";
		for (let c = 0; c < geo.cols; c++) {
			const vals = [];
			for (let gy = 0; gy < GH; gy++)
				for (let gx = 0; gx < GW; gx++)
					vals.push(luma(c * geo.cellW + gx * geo.scale + off, r * geo.cellH + gy * geo.scale + off));
			const lo = Math.min(...vals), hi = Math.max(...vals);
			if (hi - lo < MIN_CONTRAST) {
				text += " ";
				continue;
			}
			const mid = (lo + hi) / 2;
			const mask = Buffer.alloc(GH);
			for (let gy = 0; gy < GH; gy++) {
				let m = 0;
				for (let gx = 0; gx < GW; gx++)
					m = (m << 1) | (vals[gy * GW + gx] > mid ? 1 : 0);
				mask[gy] = m;
			}
			let best = UNKNOWN, bestWrong = MAX_WRONG + 1;
			for (const [bits, ch] of tab) {
				let fg = 0, bg = 0;	// wrong pixels if bright is ink, if dark is
				for (let gy = 0; gy < GH; gy++) {
					fg += popcount8(mask[gy] ^ bits[gy]);
					bg += popcount8((mask[gy] ^ 0xff) ^ bits[gy]);
				}
				const wrong = Math.min(fg, bg);
				if (wrong < bestWrong) {
					best = ch;
					bestWrong = wrong;
				}
			}
			text += best;
		}
		out[r] = text.replace(/ +$/, "");
	}
	return out;
}
