#!/bin/sh
# Regenerates bench/desktop-1080p.yuyv.gz, the realistic desktop the encode
# and memory benchmarks feed through the YUYV capture path: a terminal full
# of text on the left, a window with a photo-like picture (netpbm's
# ppmforge clouds and planet, fixed seeds) on the right, on a plain root.
# The frame is committed; this script is only needed to make it again.
#
#   bench/make-desktop-frame.sh [OUT.yuyv.gz]
#
# Debian packages: xvfb xterm x11-apps (xwd, xwud) netpbm python3.
# The YUYV bytes are BT.601 limited range with each pixel pair's chroma
# averaged, what a capture bridge sends and what libyuv's YUY2ToARGB reads.
set -eu

cd "$(dirname "$0")/.."
OUT=${1:-bench/desktop-1080p.yuyv.gz}
W=1920
H=1080
for tool in Xvfb xterm xwd xwud xwdtopnm ppmforge pnmtoxwd pnmcat pamdepth python3; do
	command -v "$tool" >/dev/null 2>&1 ||
		{ echo "make-desktop-frame: $tool missing (apt-get install xvfb xterm x11-apps netpbm)" >&2; exit 1; }
done

TMP=$(mktemp -d)
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

# A display number nobody uses.
D=77
while [ -e "/tmp/.X11-unix/X$D" ] || [ -e "/tmp/.X$D-lock" ]; do D=$((D + 1)); done
Xvfb ":$D" -screen 0 "${W}x${H}x24" -nolisten tcp -br >"$TMP/xvfb.log" 2>&1 &
PIDS="$PIDS $!"
for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X$D" ] && break; sleep 0.1; done
export DISPLAY=":$D"

# The terminal: a listing and a source file of this tree, as fixed as the
# commit it is run at.
cat >"$TMP/term.sh" <<'EOF'
printf '$ ls -l capture rfb\n'
ls -l capture rfb | sed 's/ [A-Z][a-z][a-z] [ 0-9][0-9] [0-9:]* / Dec  1 12:00 /'
printf '$ head -n 60 capture/convert.c\n'
head -n 60 capture/convert.c
printf '$ '
exec sleep 600
EOF
xterm -geometry 118x74+8+8 -fn fixed -bg '#101418' -fg '#d8dee9' -e sh "$TMP/term.sh" &
PIDS="$PIDS $!"

# The picture window: clouds over a planet, 960x720.
ppmforge -clouds -seed 11 -width 960 -height 400 >"$TMP/clouds.ppm" 2>/dev/null
ppmforge -seed 5 -width 960 -height 320 >"$TMP/planet.ppm" 2>/dev/null
pnmcat -tb "$TMP/clouds.ppm" "$TMP/planet.ppm" | pnmtoxwd >"$TMP/photo.xwd" 2>/dev/null
xwud -in "$TMP/photo.xwd" -geometry +930+160 &
PIDS="$PIDS $!"
sleep 3

xwd -root -silent >"$TMP/desktop.xwd"
# xwdtopnm writes 16-bit samples for some visuals: 8 bits, as capture has.
xwdtopnm "$TMP/desktop.xwd" 2>/dev/null | pamdepth 255 >"$TMP/desktop.ppm"
[ -n "${PNG:-}" ] && pnmtopng "$TMP/desktop.ppm" >"$PNG"
python3 - "$TMP/desktop.ppm" "$OUT" "$W" "$H" <<'EOF'
import gzip, re, sys
src, out, w, h = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
data = open(src, "rb").read()
m = re.match(rb"P6\s+(\d+)\s+(\d+)\s+255\s", data)
if not m or (int(m.group(1)), int(m.group(2))) != (w, h):
    sys.exit("make-desktop-frame: xwd gave no %dx%d PPM" % (w, h))
rgb = memoryview(data)[m.end():]
yuyv = bytearray(w * h * 2)
o = 0
for i in range(0, w * h * 3, 6):
    r0, g0, b0, r1, g1, b1 = rgb[i:i + 6]
    r, g, b = (r0 + r1 + 1) >> 1, (g0 + g1 + 1) >> 1, (b0 + b1 + 1) >> 1
    yuyv[o] = ((66 * r0 + 129 * g0 + 25 * b0 + 128) >> 8) + 16
    yuyv[o + 1] = ((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128
    yuyv[o + 2] = ((66 * r1 + 129 * g1 + 25 * b1 + 128) >> 8) + 16
    yuyv[o + 3] = ((112 * r - 94 * g - 18 * b + 128) >> 8) + 128
    o += 4
# mtime 0: the same picture gives the same file.
with open(out, "wb") as f, gzip.GzipFile(fileobj=f, mode="wb", compresslevel=9, mtime=0) as z:
    z.write(yuyv)
EOF
echo "make-desktop-frame: wrote $OUT ($(wc -c <"$OUT") bytes)"
