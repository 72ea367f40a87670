#!/bin/sh
# Builds the libFuzzer harnesses (tests/fuzz/fuzz_*.c) with clang into
# build/fuzz/, replays the regression inputs and the seed corpus, then fuzzes
# each harness for a bounded time or number of runs.  Ends with one line
# "N passed, N failed" (a harness passes when it ran without a crash, leak,
# timeout or sanitizer report); exit status non-zero when any failed.
#
#   tests/fuzz/run.sh [--seconds N | --runs N] [-j JOBS] [NAME...]
#
# NAME is a harness without the fuzz_ prefix (rfb, proxy, ...); default all.
# Default bound: --seconds 60.  Harnesses run JOBS at a time (default: the
# number of CPUs).
#
# Inputs:   tests/fuzz/regress/NAME/   crashes found and fixed: replayed
#           tests/fuzz/corpus/NAME/    seeds (tests/fuzz/mkseeds.py)
# Outputs:  build/fuzz/corpus/NAME/    the growing corpus, kept across runs
#           build/fuzz/crashes/NAME/   inputs that failed, to turn into
#                                      regression inputs once fixed
#           build/fuzz/logs/NAME.log   libFuzzer's output
set -u

cd "$(dirname "$0")/../.." || exit 2

usage() {
	echo "usage: $0 [--seconds N | --runs N] [-j JOBS] [NAME...]" >&2
	exit 2
}

seconds=60
runs=""
jobs=$(nproc 2>/dev/null || echo 2)
while [ $# -gt 0 ]; do
	case $1 in
	--seconds) [ $# -ge 2 ] || usage; seconds=$2; runs=""; shift 2 ;;
	--runs) [ $# -ge 2 ] || usage; runs=$2; shift 2 ;;
	-j) [ $# -ge 2 ] || usage; jobs=$2; shift 2 ;;
	-h|--help) usage ;;
	-*) usage ;;
	*) break ;;
	esac
done
case $seconds in ''|*[!0-9]*) echo "$0: --seconds: not a number: $seconds" >&2; exit 2 ;; esac
case $runs in *[!0-9]*) echo "$0: --runs: not a number: $runs" >&2; exit 2 ;; esac
case $jobs in ''|*[!0-9]*|0) echo "$0: -j: not a positive number: $jobs" >&2; exit 2 ;; esac

FUZZ_CC=${FUZZ_CC:-clang-14}
if ! command -v "$FUZZ_CC" >/dev/null 2>&1; then
	echo "fuzz: $FUZZ_CC not found (apt-get install clang-14 libclang-rt-14-dev)" >&2
	echo "0 passed, 1 failed"
	exit 1
fi

if [ $# -eq 0 ]; then
	set --
	for src in tests/fuzz/fuzz_*.c; do
		n=$(basename "$src" .c)
		set -- "$@" "${n#fuzz_}"
	done
fi
for name in "$@"; do
	if [ ! -f "tests/fuzz/fuzz_$name.c" ]; then
		echo "fuzz: no harness tests/fuzz/fuzz_$name.c" >&2
		exit 2
	fi
done

# Generated sources the modules include (the main Makefile's rules).
for gen in build/gen/font_vga16.c build/gen/layouts.c; do
	if [ ! -e "$gen" ] && ! make --no-print-directory -s "$gen"; then
		echo "fuzz: could not generate $gen" >&2
		echo "0 passed, $# failed"
		exit 1
	fi
done

echo "== fuzz: building with $FUZZ_CC into build/fuzz"
targets=""
for name in "$@"; do targets="$targets build/fuzz/fuzz_$name"; done
mkdir -p build/fuzz/logs
# shellcheck disable=SC2086
if ! make --no-print-directory -s -f tests/fuzz/fuzz.mk -j"$jobs" FUZZ_CC="$FUZZ_CC" $targets \
	>build/fuzz/logs/build.log 2>&1; then
	cat build/fuzz/logs/build.log >&2
	echo "fuzz: build failed" >&2
	echo "0 passed, $# failed"
	exit 1
fi

# Sanitizer reports are failures; leaks too.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

if [ -n "$runs" ]; then
	bound="-runs=$runs"
	wall=3600
else
	bound="-max_total_time=$seconds"
	wall=$((seconds * 2 + 120))
fi

# run_one NAME: replay, then fuzz; writes build/fuzz/logs/NAME.{log,result}
run_one() {
	name=$1
	bin=build/fuzz/fuzz_$name
	log=build/fuzz/logs/$name.log
	res=build/fuzz/logs/$name.result
	work=build/fuzz/corpus/$name
	crashes=build/fuzz/crashes/$name
	mkdir -p "$work" "$crashes"
	: >"$log"
	rm -f "$res"

	# Replay: every regression input and seed once (-runs=0 executes the
	# given corpus and stops).
	dirs=""
	for d in tests/fuzz/regress/$name tests/fuzz/corpus/$name; do
		[ -d "$d" ] && [ -n "$(ls -A "$d" 2>/dev/null)" ] && dirs="$dirs $d"
	done
	if [ -n "$dirs" ]; then
		# shellcheck disable=SC2086
		if ! timeout -k 5 300 "$bin" -runs=0 -timeout=10 \
			-artifact_prefix="$crashes/" $dirs >>"$log" 2>&1; then
			echo "FAILED replay" >"$res"
			return
		fi
	fi
	# shellcheck disable=SC2086
	timeout -k 5 "$wall" "$bin" $bound -timeout=10 -rss_limit_mb=2560 -print_final_stats=1 \
		-artifact_prefix="$crashes/" "$work" tests/fuzz/corpus/$name >>"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9][0-9]*\).*/\1/p' "$log" | tail -n 1)
	if [ "$rc" -eq 0 ]; then
		echo "ok ${execs:-0}" >"$res"
	elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		echo "FAILED timed-out ${execs:-0}" >"$res"
	else
		echo "FAILED crashed ${execs:-0}" >"$res"
	fi
}

echo "== fuzz: $* (${runs:+$runs runs}${runs:-${seconds}s} each, $jobs at a time)"
running=0
for name in "$@"; do
	run_one "$name" &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait -n 2>/dev/null || wait
		running=$((running - 1))
	fi
done
wait

pass=0
fail=0
for name in "$@"; do
	r=$(cat "build/fuzz/logs/$name.result" 2>/dev/null || echo "FAILED no-result")
	set -- $r
	if [ "$1" = ok ]; then
		pass=$((pass + 1))
		printf '  %-14s ok      %12s executions\n' "$name" "$2"
	else
		fail=$((fail + 1))
		printf '  %-14s FAILED  %s, %s executions; see build/fuzz/logs/%s.log\n' \
			"$name" "$2" "${3:-0}" "$name"
		grep -m 3 -E 'ERROR:|runtime error:|invariant broken|Test unit written' \
			"build/fuzz/logs/$name.log" | sed 's/^/      /'
	fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
