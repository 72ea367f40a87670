#!/bin/sh
# Runs the test suites and ends with one line "N passed, N failed" (the CI
# reads it).  Exit status is non-zero when anything failed or nothing ran.
#
#   BUILD=build tests/run-all.sh [static|unit|unit-arm64|integration|browser|hil|bench|fuzz]   (default: all)
#
# static:      tests/static.sh: cppcheck and clang's scan-build (its own
#              build in build/scan), each one test that passes with no
#              finding.  Only in the normal pass: the sanitizer pass
#              (BUILD=build/san) analyses the same sources, so it skips it.
# unit:        every $BUILD/tests/test_* (cmocka), each in its own process
#              with a timeout; a crash, timeout or non-zero exit is a failure,
#              and so is a tests/unit/test_*.c whose binary was not built.
# unit-arm64:  the same unit tests of the arm64 build (build/arm64/tests,
#              `make ARCH=arm64`) under qemu-user (qemu-aarch64-static), so
#              the NEON paths of libyuv, TurboJPEG, xxhash, x264 and our own
#              code run on arm64.  Only in the normal pass: the arm64 build
#              has no sanitizers.
# integration: every tests/integration/test_*.py with Debian's python3 and
#              a timeout, against $BUILD/webkvmd.  Every daemon and proxy a
#              test starts is stopped with SIGTERM and must exit 0 without a
#              sanitizer report, also when the test stops it itself.
# browser:     tests/browser/run.mjs: Playwright driving Debian's Chromium
#              against $BUILD/webkvmd + $BUILD/webkvm-proxy + web/dist; a
#              death or sanitizer line fails the running test, and both
#              must stop cleanly on SIGTERM at the end.
# hil:         tests/hil/run.sh: the QEMU board (vivid + dummy_hcd), real
#              V4L2 and USB gadget drivers under the unchanged firmware; the
#              guest's daemon is stopped cleanly before QEMU goes and every
#              exit status, sanitizer report and kernel BUG/WARNING counts.
# bench:       bench/run.sh --smoke: every benchmark once at tiny sizes.
#              Timing is not asserted there, so a program passes only when
#              it ran, printed BENCH lines, and every figure is sane: value,
#              ref_value and ratio finite numbers within +-1e9, a measured
#              reference (ref_value > 0 unless ref=none), and no negative
#              value except a difference ("added" in its name).  A program
#              with an insane figure counts as failed, not passed.
# fuzz:        tests/fuzz/run.sh: every libFuzzer harness replays its
#              regressions and corpus, then fuzzes for FUZZ_SECONDS (5).
set -u

cd "$(dirname "$0")/.." || exit 2
BUILD=${BUILD:-build}
export BUILD
# No __pycache__ in the source tree.
export PYTHONDONTWRITEBYTECODE=1
PY=/usr/bin/python3
UNIT_TIMEOUT=${UNIT_TIMEOUT:-120}
IT_TIMEOUT=${IT_TIMEOUT:-600}
what=${1:-all}

case $what in
static|unit|unit-arm64|integration|browser|hil|bench|fuzz|all) ;;
*) echo "usage: BUILD=build $0 [static|unit|unit-arm64|integration|browser|hil|bench|fuzz]" >&2; exit 2 ;;
esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/webkvm-run-all.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM

total_pass=0
total_fail=0
summary=""

# note SUITE PASSED FAILED
note() {
	summary="$summary$(printf '  %-28s %4d passed, %4d failed' "$1" "$2" "$3")
"
	total_pass=$((total_pass + $2))
	total_fail=$((total_fail + $3))
}

# Sum of the N in lines "[  <tag>  ] N test(s)" of a cmocka log.
cmocka_count() {
	sed -n "s/^\[  $1  \] \([0-9][0-9]*\) test(s).*/\1/p" "$2" |
		awk '{ n += $1 } END { print n + 0 }'
}

# run_unit [DIR SUITE RUNNER]: DIR's test_* binaries, counted as SUITE/name,
# each started through RUNNER (nothing: directly).
run_unit() {
	dir=${1:-$BUILD}
	suite=${2:-unit}
	runner=${3:-}
	echo "== unit tests ($dir/tests${runner:+, under $runner})"
	for src in tests/unit/test_*.c; do
		[ -e "$src" ] || continue
		name=$(basename "$src" .c)
		if [ ! -x "$dir/tests/$name" ]; then
			echo "$name: FAILED: $dir/tests/$name was not built"
			note "$suite/$name" 0 1
		fi
	done
	for bin in "$dir"/tests/test_*; do
		if [ ! -f "$bin" ] || [ ! -x "$bin" ]; then continue; fi
		name=$(basename "$bin")
		log="$tmp/$suite-$name.log"
		# shellcheck disable=SC2086
		CMOCKA_MESSAGE_OUTPUT=stdout timeout -k 5 "$UNIT_TIMEOUT" $runner "$bin" >"$log" 2>&1
		rc=$?
		pass=$(cmocka_count PASSED "$log")
		fail=$(cmocka_count FAILED "$log")
		why=""
		if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
			why="timed out after ${UNIT_TIMEOUT}s"
		elif [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then
			why="exited with status $rc"
		elif [ "$pass" -eq 0 ] && [ "$fail" -eq 0 ]; then
			why="ran no tests"
		fi
		# A crash, timeout or sanitizer exit counts once on top of what
		# cmocka reported.
		[ -n "$why" ] && fail=$((fail + 1))
		if [ "$fail" -ne 0 ]; then
			echo "---- $name: FAILED${why:+ ($why)}; its output:"
			cat "$log"
			echo "---- end of $name"
		else
			echo "$name: $pass passed"
		fi
		note "$suite/$name" "$pass" "$fail"
	done
}

run_unit_arm64() {
	if [ "$(basename "$BUILD")" = san ]; then
		echo "unit-arm64: not in the sanitizer pass: the arm64 build has no sanitizers (same binaries as the normal pass)"
		return
	fi
	if ! command -v qemu-aarch64-static >/dev/null 2>&1; then
		echo "unit-arm64: qemu-aarch64-static not found (scripts/install-deps.sh installs qemu-user-static)"
		note "unit-arm64" 0 1
		return
	fi
	if [ ! -d build/arm64/tests ]; then
		echo "unit-arm64: build/arm64/tests missing (make ARCH=arm64)"
		note "unit-arm64" 0 1
		return
	fi
	run_unit build/arm64 unit-arm64 qemu-aarch64-static
}

# run_counted SUITE TIMEOUT CMD...: runs a command whose output ends with a
# line "N passed, N failed" and counts it; a timeout or an exit without that
# line is one more failure.
run_counted() {
	name=$1
	limit=$2
	shift 2
	log="$tmp/$(echo "$name" | tr / _).log"
	timeout -k 5 "$limit" "$@" >"$log" 2>&1
	rc=$?
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
	if [ -n "$line" ]; then
		pass=${line%% *}
		fail=$(echo "$line" | sed 's/.* \([0-9][0-9]*\) failed$/\1/')
	else
		pass=0
		fail=0
	fi
	why=""
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		why="timed out after ${limit}s"
	elif [ -z "$line" ]; then
		why="exited with status $rc and no summary"
	elif [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then
		why="exited with status $rc"
	fi
	[ -n "$why" ] && fail=$((fail + 1))
	if [ "$fail" -ne 0 ]; then
		echo "---- $name: FAILED${why:+ ($why)}; its output:"
		cat "$log"
		echo "---- end of $name"
	else
		echo "$name: $pass passed"
	fi
	# unittest's verbose lines may precede a test's print on its line.
	grep -o 'MEASURE: .*' "$log" >>"$tmp/measure"
	note "$name" "$pass" "$fail"
}

run_static() {
	if [ "$(basename "$BUILD")" = san ]; then
		echo "static: not in the sanitizer pass: the analysers read the same sources in the normal pass (BUILD=build)"
		return
	fi
	echo "== static analysers (cppcheck, scan-build into build/scan)"
	run_counted static "${STATIC_TIMEOUT:-900}" tests/static.sh
}

run_integration() {
	echo "== integration tests ($BUILD/webkvmd)"
	if [ ! -x "$PY" ]; then
		echo "integration: $PY not found (install python3)"
		note "integration" 0 1
		return
	fi
	for t in tests/integration/test_*.py; do
		[ -e "$t" ] || continue
		run_counted "integration/$(basename "$t" .py)" "$IT_TIMEOUT" "$PY" -u tests/integration/runner.py "$t"
	done
}

run_browser() {
	echo "== browser tests (headless Chromium, Playwright)"
	run_counted browser "${BROWSER_TIMEOUT:-600}" node tests/browser/run.mjs
}

run_fuzz() {
	echo "== fuzz harnesses, ${FUZZ_SECONDS:-5} s each (tests/fuzz/run.sh)"
	run_counted fuzz "${FUZZ_TIMEOUT:-400}" tests/fuzz/run.sh --seconds "${FUZZ_SECONDS:-5}"
}

run_hil() {
	echo "== hardware-in-the-loop tests (QEMU board: vivid + dummy_hcd)"
	run_counted hil "${HIL_TIMEOUT:-900}" tests/hil/run.sh
}

# bench_insane LOG: prints each BENCH line of LOG whose figures are not
# sane (see the header) and, last, the number of benchmark programs ("== NAME"
# sections of bench/run.sh's output) that printed one.
bench_insane() {
	awk '
	function num(v) { return v ~ /^-?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/ }
	/^== / { prog = $2 }
	/^BENCH / {
		delete f
		for (i = 2; i <= NF; i++) {
			eq = index($i, "=")
			f[substr($i, 1, eq - 1)] = substr($i, eq + 1)
		}
		why = ""
		split("value ref_value ratio", keys, " ")
		for (k = 1; k <= 3; k++) {
			v = f[keys[k]]
			if (!num(v) || v + 0 > 1e9 || v + 0 < -1e9)
				why = why " " keys[k] "=" v " is not a finite number within +-1e9;"
		}
		if (why == "" && f["ref"] != "none" && f["ref_value"] + 0 <= 0)
			why = " the reference measured nothing;"
		if (why == "" && f["value"] + 0 < 0 && f["name"] !~ /added/)
			why = " a negative value;"
		if (why != "") {
			print "bench-smoke: " prog ": insane figure:" why " " $0
			bad[prog] = 1
		}
	}
	END { n = 0; for (p in bad) n++; print n }' "$1"
}

run_bench_smoke() {
	echo "== benchmark programs, tiny sizes (figures checked for sanity, timing not asserted)"
	run_counted bench-smoke "${BENCH_TIMEOUT:-300}" bench/run.sh --smoke
	out=$(bench_insane "$tmp/bench-smoke.log")
	n=$(echo "$out" | tail -n 1)
	echo "$out" | sed '$d'
	if [ "$n" -gt 0 ]; then
		# Those programs were counted as passed: move them to failed.
		summary=$(printf '%s' "$summary" | sed '$d')
		[ -n "$summary" ] && summary="$summary
"
		total_pass=$((total_pass - pass))
		total_fail=$((total_fail - fail))
		pass=$((pass - n))
		[ "$pass" -lt 0 ] && pass=0
		note bench-smoke "$pass" "$((fail + n))"
	fi
}

case $what in
static) run_static ;;
unit) run_unit ;;
unit-arm64) run_unit_arm64 ;;
integration) run_integration ;;
browser) run_browser ;;
hil) run_hil ;;
bench) run_bench_smoke ;;
fuzz) run_fuzz ;;
all) run_static; run_unit; run_unit_arm64; run_fuzz; run_integration; run_browser; run_hil; run_bench_smoke ;;
esac

if [ -s "$tmp/measure" ]; then
	echo "== measurements"
	sed 's/^MEASURE: /  /' "$tmp/measure"
fi
echo "== summary"
printf '%s' "$summary"
status=0
if [ "$total_fail" -ne 0 ]; then
	status=1
elif [ "$total_pass" -eq 0 ]; then
	echo "no tests ran"
	status=1
fi
echo "$total_pass passed, $total_fail failed"
exit "$status"
