#!/bin/sh
# Runs every benchmark and rewrites BENCHMARKS.md from their BENCH lines.
#
#   bench/run.sh            full run (under ~10 minutes)
#   BENCH_QUICK=1 bench/run.sh   same figures, fewer repetitions (< 60 s)
#   bench/run.sh --smoke    tiny sizes, one repetition: proves each benchmark
#                           still builds, runs and prints its BENCH lines;
#                           asserts nothing about timing, leaves BENCHMARKS.md
#
# BUILD (default build) is where the module objects and the daemon are; the
# benchmark programs go to $BUILD/bench/.  Everything is optimised as the
# Makefile builds it (-O2).
set -u

cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
SMOKE=0
[ "${1:-}" = "--smoke" ] && SMOKE=1
OUT=$BUILD/bench
LOG=$OUT/bench.log
mkdir -p "$OUT" || exit 1

fail() {
	echo "bench: $*" >&2
	exit 1
}

# ---- build ----

objs() {
	for f in "$@"; do
		printf '%s/obj/%s.o\n' "$BUILD" "${f%.c}"
	done
}
# common/ is the leaf every module may use: linked into both, as the
# Makefile links it into every binary.
PIX_OBJ="$(objs common/*.c capture/*.c rfb/*.c hid/*.c board/sim/*.c) $BUILD/obj/gen/font_vga16.o"
SRV_OBJ="$(objs common/*.c capture/*.c rfb/*.c)"
PKGS="libturbojpeg libxxhash libvncserver jansson x264"
# build/san holds the sanitizer objects (make SAN=1): link the benchmarks
# the same way.
MAKEVARS=""
SANFLAGS=""
if [ "$(basename "$BUILD")" = san ]; then
	MAKEVARS="SAN=1"
	SANFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
fi
# shellcheck disable=SC2086
CFLAGS_B="-std=c11 -O2 -g -Wall -Wextra -Werror -Wshadow -pthread $SANFLAGS -I. -I$BUILD/gen -D_GNU_SOURCE $(pkg-config --cflags $PKGS)"
# shellcheck disable=SC2086
LIBS_B="$(pkg-config --libs $PKGS) -lyuv -lz -lm"

PROXY=$BUILD/webkvm-proxy
targets="$PIX_OBJ $BUILD/webkvmd"
[ -f proxy/main.c ] && targets="$targets $PROXY"
# shellcheck disable=SC2086
${MAKE:-make} --no-print-directory -s $MAKEVARS $targets || fail "make of the module objects failed"
# bench_pixels: capture, tile diff, sim; bench_server: capture + rfb;
# bench_proxy: nothing of ours (it runs the proxy binaries).
# shellcheck disable=SC2086
cc $CFLAGS_B -o "$OUT/bench_pixels" bench/bench_pixels.c $PIX_OBJ $LIBS_B ||
	fail "building bench/bench_pixels.c failed"
# shellcheck disable=SC2086
cc $CFLAGS_B -o "$OUT/bench_server" bench/bench_server.c $SRV_OBJ $LIBS_B ||
	fail "building bench/bench_server.c failed"
# bench_h264: capture + rfb, and libavcodec to decode what its H.264
# viewer got.
# shellcheck disable=SC2086
cc $CFLAGS_B $(pkg-config --cflags libavcodec libavutil) -o "$OUT/bench_h264" bench/bench_h264.c \
	$SRV_OBJ $LIBS_B $(pkg-config --libs libavcodec libavutil) ||
	fail "building bench/bench_h264.c failed"
# shellcheck disable=SC2086
cc $CFLAGS_B -o "$OUT/bench_proxy" bench/bench_proxy.c ||
	fail "building bench/bench_proxy.c failed"
# bench_h264_cpu: the H.264 encoder alone (rfb/h264.c, common/log.c), built
# for this machine and for arm64 (build/arm64 is make ARCH=arm64's: the
# Debian aarch64 cross compiler and the arm64 libraries), the latter run
# under qemu-user.
H264_OBJ="$(objs rfb/h264.c common/log.c)"
ARM64_OBJ="build/arm64/obj/rfb/h264.o build/arm64/obj/common/log.o"
arm64_pkg() {
	PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig pkg-config "$@"
}
# shellcheck disable=SC2086
cc $CFLAGS_B -o "$OUT/bench_h264_cpu" bench/bench_h264_cpu.c $H264_OBJ $LIBS_B ||
	fail "building bench/bench_h264_cpu.c failed"
# shellcheck disable=SC2086
${MAKE:-make} --no-print-directory -s ARCH=arm64 SAN=0 $ARM64_OBJ ||
	fail "make ARCH=arm64 of rfb/h264.o and common/log.o failed"
mkdir -p build/arm64/bench || exit 1
# shellcheck disable=SC2046,SC2086
aarch64-linux-gnu-gcc -std=c11 -O2 -g -Wall -Wextra -Werror -Wshadow -pthread -I. -D_GNU_SOURCE \
	$(arm64_pkg --cflags x264 libxxhash) -o build/arm64/bench/bench_h264_cpu \
	bench/bench_h264_cpu.c $ARM64_OBJ $(arm64_pkg --libs x264 libxxhash) -lyuv -lz -lm ||
	fail "building bench/bench_h264_cpu.c for arm64 failed"

# ---- run ----

: >"$LOG"
status=0
passed=0
failed=0
run() {
	name=$1
	shift
	echo "== $name" >&2
	ok=1
	if ! "$@" >"$OUT/$name.out" 2>"$OUT/$name.err"; then
		echo "bench: $name failed:" >&2
		cat "$OUT/$name.err" >&2
		ok=0
	fi
	grep -Ev '^(BENCH|DETAIL) ' "$OUT/$name.out" >&2
	if ! grep -q '^BENCH ' "$OUT/$name.out"; then
		echo "bench: $name printed no BENCH line" >&2
		ok=0
	fi
	if [ $ok = 1 ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		status=1
	fi
	# SKIP lines say a figure is not the comparison it claims; they go
	# into BENCHMARKS.md next to the table.  DETAIL lines carry the parts
	# of a figure (where its time or memory went) that bench/report.py
	# explains a missed goal with.
	grep -E '^(BENCH|SKIP|DETAIL)' "$OUT/$name.out" | tee -a "$LOG"
}

args=""
[ $SMOKE = 1 ] && args="--smoke"
# shellcheck disable=SC2086
run pixels "$OUT/bench_pixels" $args
# shellcheck disable=SC2086
run server "$OUT/bench_server" $args
# shellcheck disable=SC2086
run h264 "$OUT/bench_h264" $args
# shellcheck disable=SC2086
run h264_cpu "$OUT/bench_h264_cpu" --arm64 build/arm64/bench/bench_h264_cpu $args
# shellcheck disable=SC2086
run daemon python3 bench/bench_daemon.py --build "$BUILD" $args
# shellcheck disable=SC2086
run proxy "$OUT/bench_proxy" --proxy "$PROXY" $args
# CPU per frame against Debian's ustreamer inside the QEMU board (a boot
# of its own, ~1 minute).  Not in --smoke: the HIL suite runs the same
# measurement on the board it has booted, so it cannot rot.
if [ $SMOKE = 0 ]; then
	${MAKE:-make} --no-print-directory -s $MAKEVARS "$BUILD/webkvm-target" "$BUILD/boothost" ||
		fail "make of the QEMU board's binaries failed"
	# shellcheck disable=SC2086
	run qemu env BUILD="$BUILD" python3 bench/bench_qemu.py $([ -n "${BENCH_QUICK:-}" ] && [ "${BENCH_QUICK}" != 0 ] && echo --quick)
fi

# The summary line tests/run-all.sh counts (one per benchmark program).
echo "$passed passed, $failed failed"
[ $SMOKE = 1 ] && exit $status
cmd="make bench"
[ -n "${BENCH_QUICK:-}" ] && [ "${BENCH_QUICK}" != 0 ] && cmd="BENCH_QUICK=1 make bench"
python3 bench/report.py --log "$LOG" --cmd "$cmd (bench/run.sh)" --out BENCHMARKS.md ||
	fail "writing BENCHMARKS.md failed"
exit $status
