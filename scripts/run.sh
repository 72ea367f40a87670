#!/bin/sh
# `make run`: the product on the virtual target (board sim): webkvmd with
# the simulated PC, and webkvm-proxy serving the page and bridging the
# browser's WebSocket to RFB.  Ctrl-C stops both.
set -eu
BUILD=${1:-build}
WEB=${WEBKVM_WEB:-127.0.0.1:6080}
RFB=${WEBKVM_RFB_LISTEN:-127.0.0.1:5900}
CTL=${WEBKVM_CONTROL:-$BUILD/webkvmd.sock}

GNUTLS_NO_IMPLICIT_INIT=1 "$BUILD/webkvmd" --board sim --rfb-listen "$RFB" --control "$CTL" &
daemon=$!
# Login is for the security issue; on loopback the page is open, as a
# local demo should be.
"$BUILD/webkvm-proxy" --web web/dist --control "$CTL" --auth none "$WEB" "$RFB" &
proxy=$!
trap 'kill $daemon $proxy 2>/dev/null; wait $daemon $proxy 2>/dev/null; exit 0' INT TERM EXIT

echo
echo "webkvm is running on the virtual target (board sim):"
echo "  browser:  http://$WEB/"
echo "  VNC:      $RFB  (native clients, e.g. gvncviewer ${RFB%:*}:$(( ${RFB##*:} - 5900 )))"
echo "  control:  $CTL  (JSON lines: {\"cmd\":\"status\"})"
echo "  Ctrl-C stops both."
echo
# Whichever stops first (or Ctrl-C) ends the demo.
while kill -0 $daemon 2>/dev/null && kill -0 $proxy 2>/dev/null; do
	sleep 1
done
