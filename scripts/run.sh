#!/bin/sh
# `make run`: starts webkvmd on the virtual target (board sim).
# Ctrl-C stops everything.
set -eu
BUILD=${1:-build}
RFB=${WEBKVM_RFB_LISTEN:-127.0.0.1:5900}
CTL=${WEBKVM_CONTROL:-$BUILD/webkvmd.sock}

echo "webkvm: virtual target (board sim)"
echo "  VNC:     $RFB   (e.g. gvncviewer ${RFB%:*}:$(( ${RFB##*:} - 5900 )))"
echo "  control: $CTL   (JSON lines, e.g. echo '{\"cmd\":\"status\"}' | nc -U $CTL)"
echo "  Ctrl-C to stop"
exec "$BUILD/webkvmd" --board sim --rfb-listen "$RFB" --control "$CTL"
