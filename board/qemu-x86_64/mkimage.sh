#!/bin/sh
# Builds the QEMU board's boot image from Debian packages only:
#   build/qemu/vmlinuz and build/qemu/initrd.cpio.gz
# Downloads and unpacked trees are cached under build/qemu/ (never committed);
# the initramfs is rebuilt when a binary, the init script or this script
# changes.
#
# usage: board/qemu-x86_64/mkimage.sh [BUILD_DIR]
#   env WEBKVMD=path  daemon binary to put in the image [BUILD_DIR/webkvmd]
#       TARGET=path   virtual target binary [BUILD_DIR/webkvm-target]
#       BOOTHOST=path the tests' boot-protocol USB host [BUILD_DIR/boothost]
#       USTREAMER=path Debian's ustreamer, the benchmarks' reference [/usr/bin/ustreamer]
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
board="$top/board/qemu-x86_64"
build=${1:-build}
case $build in /*) ;; *) build="$top/$build" ;; esac
out="$build/qemu"
# Downloads and unpacked packages are shared by every build directory
# (build/ and build/san/ need the same kernel).
cache="$top/build/qemu"
dl="$cache/dl"
webkvmd=${WEBKVMD:-$build/webkvmd}
target=${TARGET:-$build/webkvm-target}
boothost=${BOOTHOST:-$build/boothost}
# Debian's ustreamer, the reference the benchmarks measure ours against in
# the guest.
ustreamer=${USTREAMER:-/usr/bin/ustreamer}

# Modules the board needs; their dependencies come from modules.dep.
# virtio_pci/virtio_net: the user-mode network that carries the forwards.
MODULES="configfs vivid dummy_hcd libcomposite usb_f_hid usbhid hid_generic virtio_pci virtio_net"

die() { echo "mkimage: $*" >&2; exit 1; }

for tool in apt-get dpkg-deb cpio gzip busybox; do
	command -v "$tool" >/dev/null || die "$tool not found (apt-get install cpio busybox-static)"
done
[ -x "$webkvmd" ] || die "$webkvmd missing: run make first"
[ -x "$target" ] || die "$target missing: run make build/webkvm-target first"
[ -x "$boothost" ] || die "$boothost missing: run make build/boothost first"
[ -x "$ustreamer" ] || die "$ustreamer missing (apt-get install ustreamer)"
mkdir -p "$dl" "$out"

# ---- the kernel: linux-image-amd64 names the versioned package ----
kpkg_deb() {
	ls "$dl"/linux-image-[0-9]*-amd64_*.deb 2>/dev/null | head -n 1
}
# The package lists may be missing or older than the mirror (a kernel
# update replaces the versioned package): update them once and retry.
updated=0
apt_update_once() {
	[ "$updated" -eq 0 ] || return 1
	updated=1
	echo "mkimage: apt-get update (package lists missing or stale)"
	if [ "$(id -u)" -eq 0 ]; then apt-get update -q >/dev/null; else sudo apt-get update -q >/dev/null; fi
}
resolve_kernel() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n 1
}
download() {	# download PACKAGE
	(cd "$dl" && apt-get download "$1" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
}
if [ -z "$(kpkg_deb)" ]; then
	kpkg=$(resolve_kernel)
	if [ -z "$kpkg" ] && apt_update_once; then kpkg=$(resolve_kernel); fi
	[ -n "$kpkg" ] || die "cannot resolve linux-image-amd64 in the package lists"
	echo "mkimage: downloading $kpkg"
	download "$kpkg"
	if [ -z "$(kpkg_deb)" ] && apt_update_once; then
		kpkg=$(resolve_kernel)
		download "$kpkg"
	fi
	[ -n "$(kpkg_deb)" ] || die "apt-get download $kpkg failed"
fi
if [ -z "$(ls "$dl"/busybox-static_*.deb 2>/dev/null)" ]; then
	echo "mkimage: downloading busybox-static"
	download busybox-static
	if [ -z "$(ls "$dl"/busybox-static_*.deb 2>/dev/null)" ] && apt_update_once; then
		download busybox-static
	fi
	[ -n "$(ls "$dl"/busybox-static_*.deb 2>/dev/null)" ] || die "apt-get download busybox-static failed"
fi

kx="$cache/kernel"
if [ ! -f "$kx/.done" ]; then
	rm -rf "$kx"
	mkdir -p "$kx"
	dpkg-deb -x "$(kpkg_deb)" "$kx"
	kver=$(ls "$kx/lib/modules")
	# The package ships no modules.dep (depmod runs at install time).
	busybox depmod -b "$kx" "$kver" || die "depmod failed"
	touch "$kx/.done"
fi
kver=$(ls "$kx/lib/modules")
cp -u "$kx/boot/vmlinuz-$kver" "$out/vmlinuz"

bbx="$cache/busybox"
if [ ! -f "$bbx/.done" ]; then
	rm -rf "$bbx"
	mkdir -p "$bbx"
	dpkg-deb -x "$(ls "$dl"/busybox-static_*.deb | head -n 1)" "$bbx"
	touch "$bbx/.done"
fi

# ---- is the initramfs up to date? ----
# Its inputs by path, size and modification time: another binary (a
# sanitizer build, say) rebuilds it as well as a newer one.
img="$out/initrd.cpio.gz"
inputs=$(for f in "$webkvmd" "$target" "$boothost" "$ustreamer" "$board/init" "$board/webkvm-svc" "$board/mkimage.sh" \
		"$board/guest.env" "$board/board.conf"; do
	printf '%s %s\n' "$f" "$(stat -L -c '%s %Y' "$f")"
done)
if [ -f "$img" ] && [ "$(cat "$out/initrd.inputs" 2>/dev/null)" = "$inputs" ]; then
	echo "mkimage: $img is up to date"
	exit 0
fi

root="$out/root"
rm -rf "$root"
mkdir -p "$root/bin" "$root/sbin" "$root/etc" "$root/proc" "$root/sys" "$root/dev" \
	"$root/run" "$root/tmp" "$root/lib/modules/$kver" "$root/usr/bin"

# ---- modules and everything they need ----
dep="$kx/lib/modules/$kver/modules.dep"
resolve() {	# name -> path relative to lib/modules/KVER, or nothing if built in
	n=$(echo "$1" | tr '_' '-')
	u=$(echo "$1" | tr '-' '_')
	grep -E "/($n|$u)\.ko(\.[a-z]+)?:" "$dep" | head -n 1 | cut -d: -f1
}
for m in $MODULES; do
	p=$(resolve "$m")
	if [ -z "$p" ]; then
		grep -qE "/($m|$(echo "$m" | tr '_' '-'))\.ko" "$kx/lib/modules/$kver/modules.builtin" ||
			die "module $m neither in modules.dep nor built in"
		continue
	fi
	for f in $p $(grep -E "^$p:" "$dep" | cut -d: -f2); do
		mkdir -p "$root/lib/modules/$kver/$(dirname "$f")"
		cp "$kx/lib/modules/$kver/$f" "$root/lib/modules/$kver/$f"
	done
done
find "$root/lib/modules/$kver" -name '*.ko.xz' -exec xz -d {} +
cp "$kx/lib/modules/$kver/modules.builtin" "$kx/lib/modules/$kver/modules.order" "$root/lib/modules/$kver/"
busybox depmod -b "$root" "$kver" || die "depmod of the image's modules failed"

# ---- busybox ----
cp "$bbx/bin/busybox" "$root/bin/busybox"
for a in $("$root/bin/busybox" --list); do
	[ "$a" = busybox ] || ln -sf busybox "$root/bin/$a"
done

# ---- the project's binaries and their shared libraries ----
cp "$webkvmd" "$root/usr/bin/webkvmd"
cp "$target" "$root/usr/bin/webkvm-target"
cp "$boothost" "$root/usr/bin/boothost"
cp "$ustreamer" "$root/usr/bin/ustreamer"
# libturbojpeg is dlopen()ed by capture/jpeg.c, so ldd does not list it.
dlopened=$(ldconfig -p | awk '/libturbojpeg\.so\.0 .*x86-64/{print $NF; exit}')
[ -n "$dlopened" ] || die "libturbojpeg.so.0 not found (apt-get install libturbojpeg0)"
{ echo "$dlopened"; for b in "$webkvmd" "$target" "$boothost" "$ustreamer" "$dlopened"; do
	ldd "$b" | awk '/=> \//{print $3} /^\t\/lib/{print $1}'
done; } | sort -u | while read -r lib; do
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
done
# The loader path compiled into the binaries.
[ -e "$root/lib64/ld-linux-x86-64.so.2" ] || {
	mkdir -p "$root/lib64"
	cp -L /lib64/ld-linux-x86-64.so.2 "$root/lib64/"
}

cp "$board/init" "$root/init"
cp "$board/webkvm-svc" "$root/usr/bin/webkvm-svc"
chmod 755 "$root/init"
cp "$board/guest.env" "$root/etc/webkvm-board.conf"
# webkvmd reads its board from where an installed daemon looks (board/board.h).
mkdir -p "$root/usr/share/webkvm/board/qemu-x86_64"
cp "$board/board.conf" "$root/usr/share/webkvm/board/qemu-x86_64/board.conf"
echo "root:x:0:0:root:/:/bin/sh" > "$root/etc/passwd"

(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) > "$img.tmp"
mv "$img.tmp" "$img"
printf '%s\n' "$inputs" > "$out/initrd.inputs"
echo "mkimage: $img ($(du -h "$img" | cut -f1)), kernel $kver"
