#!/bin/sh
# Installs the Debian packages webkvm needs for building, running and
# testing, when they are missing.  apt-get update runs once, only when
# something has to be installed.  Uses sudo when not root.
set -eu

PKGS="build-essential pkg-config python3
libvncserver-dev libturbojpeg0-dev libjpeg62-turbo-dev libyuv-dev libxxhash-dev zlib1g-dev
libcmocka-dev console-setup-linux libwebsockets-dev xkb-data x11proto-dev
libargon2-dev libjansson-dev openssl libusb-1.0-0-dev
clang-14 libclang-rt-14-dev clang-tools-14 cppcheck
vncsnapshot gvncviewer tightvncpasswd chromium websockify novnc
qemu-system-x86 busybox-static cpio ustreamer
libx264-dev x264 ffmpeg libavcodec-dev
gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static"
# The arm64 build (make ARCH=arm64): Debian's arm64 -dev packages next to
# the machine's own (multiarch).  libwebsockets-dev and libvncserver-dev
# are not: the Makefile unpacks their arm64 headers under build/; their
# libraries are here.
ARM64_PKGS="libvncserver1 libturbojpeg0-dev libjpeg62-turbo-dev libyuv-dev libxxhash-dev
zlib1g-dev libcmocka-dev libwebsockets17 libargon2-dev libjansson-dev libx264-dev libusb-1.0-0-dev"
for p in $ARM64_PKGS; do PKGS="$PKGS $p:arm64"; done

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
# web/ and the browser tests need Node.js 20 or later with npm; a machine
# without one gets Debian's.
if ! command -v node >/dev/null 2>&1; then missing="$missing nodejs"; fi
if ! command -v npm >/dev/null 2>&1; then missing="$missing npm"; fi
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
echo "install-deps: installing:$missing"
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
	$SUDO dpkg --add-architecture arm64
fi
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
# shellcheck disable=SC2086
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
