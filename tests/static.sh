#!/bin/sh
# Static analysers over every C file of ours, run by `make test` (suite
# "static"); each analyser is one test and passes only with no finding.
#
#   cppcheck   (Debian's cppcheck): warning and portability checks
#   scan-build (clang-14's static analyser): a full build of every binary
#              and unit test into build/scan with --status-bugs
#
# A finding that is wrong gets an inline suppression next to the code
# (`// cppcheck-suppress id` with the reason) or a change that makes the
# code plainer; never a blanket switch here.
set -u
cd "$(dirname "$0")/.." || exit 2
pass=0
fail=0
SRC="common capture rfb hid firmware proxy board bench tests/unit tests/integration tests/hil tests/fuzz"

echo "== cppcheck"
# $SRC is a list of folders, split on purpose.
# shellcheck disable=SC2086
if ! command -v cppcheck >/dev/null 2>&1; then
	echo "cppcheck: not installed (scripts/install-deps.sh installs it)"
	fail=$((fail + 1))
elif cppcheck -q --std=c11 -D_GNU_SOURCE -I. --enable=warning,portability --inline-suppr \
	--error-exitcode=1 -j2 $SRC; then
	echo "cppcheck: clean"
	pass=$((pass + 1))
else
	echo "cppcheck: FAILED: findings above"
	fail=$((fail + 1))
fi

echo "== scan-build (clang static analyser)"
if ! command -v scan-build-14 >/dev/null 2>&1; then
	echo "scan-build-14: not installed (scripts/install-deps.sh installs clang-tools-14)"
	fail=$((fail + 1))
else
	out=build/scan
	rm -rf "$out" "$out-report"
	if scan-build-14 -o "$out-report" --status-bugs --use-cc=clang-14 \
		make --no-print-directory -j2 BUILD="$out" O=1 all >"$out.log" 2>&1; then
		echo "scan-build: clean"
		pass=$((pass + 1))
	else
		grep -E 'warning:|error:|bugs? found' "$out.log" | sort -u
		echo "scan-build: FAILED: findings above (HTML in $out-report)"
		fail=$((fail + 1))
	fi
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
