#!/bin/sh
# HIL tests on the QEMU board: builds the binaries and the image, boots the
# guest once, runs tests/hil/test_hil.py, ends with `N passed, N failed`.
#   tests/hil/run.sh [test name filters...]     env BUILD=build
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
BUILD=${BUILD:-build}
case $BUILD in */san) san=1 ;; *) san=0 ;; esac
make --no-print-directory SAN=$san "$BUILD/webkvmd" "$BUILD/webkvm-target" "$BUILD/boothost" \
	"$BUILD/tests/h264dec" >&2
export BUILD
# No __pycache__ in the source tree.
export PYTHONDONTWRITEBYTECODE=1
exec timeout 900 python3 tests/hil/run.py "$@"
