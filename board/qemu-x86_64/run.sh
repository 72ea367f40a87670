#!/bin/sh
# Boots the QEMU board (TCG, no KVM needed).
#   board/qemu-x86_64/run.sh [-i] [BUILD_DIR]
#   -i  interactive: serial console on this terminal (Ctrl-A X quits)
#   otherwise headless: console to BUILD_DIR/qemu/serial.log, runs until killed
# env: RFB_PORT (host port forwarded to the guest's RFB, 5900),
#      SHELL_PORT (host port of the guest's test shell, 7000),
#      APPEND (extra kernel arguments), QEMU_ACCEL (tcg)
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
interactive=0
if [ "${1:-}" = -i ]; then interactive=1; shift; fi
build=${1:-build}
case $build in /*) ;; *) build="$top/$build" ;; esac
out="$build/qemu"
rfb=${RFB_PORT:-5900}
shell=${SHELL_PORT:-7000}

[ -f "$out/vmlinuz" ] && [ -f "$out/initrd.cpio.gz" ] ||
	{ echo "run.sh: no image in $out: run board/qemu-x86_64/mkimage.sh" >&2; exit 1; }

# loglevel=1: under TCG vivid's threads overrun and the kernel logs it with
# a stack dump each time; on a 115200 baud console that costs CPU the
# board's tests need (dmesg still has everything).
append="console=ttyS0 quiet loglevel=${LOGLEVEL:-1} panic=-1 webkvm.interactive=$interactive ${APPEND:-}"
net="user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:$rfb-:5900,hostfwd=tcp:127.0.0.1:$shell-:7000"
if [ $interactive = 1 ]; then
	echo "run.sh: RFB on 127.0.0.1:$rfb, guest shell on 127.0.0.1:$shell; Ctrl-A X quits" >&2
	console="-serial mon:stdio"
else
	console="-serial file:$out/serial.log -monitor none"
fi
# shellcheck disable=SC2086
exec qemu-system-x86_64 -accel "${QEMU_ACCEL:-tcg}" -m 1024 -smp 2 -nographic -no-reboot \
	-kernel "$out/vmlinuz" -initrd "$out/initrd.cpio.gz" -append "$append" \
	$console -netdev "$net" -device virtio-net-pci,netdev=n0,romfile=
