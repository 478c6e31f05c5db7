#!/bin/bash
# Build flint's guest kit into OUTDIR: vmlinux, bzImage, kernel.config,
# rootfs.ext4, initramfs.cpio.gz, init, vsock-echo. See resources/README.md.
#
# The kernel is built from Debian's linux-source-6.1 with guest-kernel.config
# and skip-int3-selftest.patch, and cached outside the repo in
# ${FLINT_CACHE_DIR:-/var/cache/flint}/kernel-<hash>; a cache hit does not
# rebuild. The user-space parts take seconds and are rebuilt on every run.
set -euo pipefail

die() {
	echo "build-guest: ERROR: $*" >&2
	exit 1
}
step() { echo "build-guest: $*"; }

[ $# -eq 1 ] || die "usage: $0 OUTDIR"
OUTDIR=$1
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
CACHE=${FLINT_CACHE_DIR:-/var/cache/flint}
SRC_TAR=/usr/src/linux-source-6.1.tar.xz
BUSYBOX=/bin/busybox
FRAGMENT=$HERE/guest-kernel.config
PATCH=$HERE/skip-int3-selftest.patch
JOBS=$(nproc)
KSRC=
WORK=

check_inputs() {
	local t
	for t in tar xz make gcc ld flex bison bc lz4 patch sha256sum dpkg-query \
		mkfs.ext4 gzip strip flock; do
		command -v "$t" >/dev/null || die "missing tool: $t"
	done
	for t in "$SRC_TAR" "$BUSYBOX" "$FRAGMENT" "$PATCH" "$HERE/init/init.c" \
		"$HERE/guest-tools/vsock-echo.c" "$REPO/boot/layout.h"; do
		[ -f "$t" ] || die "missing file: $t"
	done
	[ -f /usr/include/linux/vm_sockets.h ] || die "missing linux-libc-dev (vm_sockets.h)"
	# A dynamic busybox would need a libc in the rootfs; insist on the static one.
	if LC_ALL=C readelf -l "$BUSYBOX" 2>/dev/null | grep -q 'INTERP'; then
		die "$BUSYBOX is dynamically linked; install busybox-static"
	fi
}

kernel_hash() {
	local ver
	ver=$(dpkg-query -W -f '${Version}' linux-source-6.1) || die "linux-source-6.1 not installed"
	{
		sha256sum <"$FRAGMENT"
		sha256sum <"$PATCH"
		sha256sum <"${BASH_SOURCE[0]}"
		echo "linux-source-6.1 $ver"
	} | sha256sum | cut -c1-16
}

# Every option the fragment asks for must be in the expanded .config:
# `CONFIG_X=v` exactly, and `# CONFIG_X is not set` as not enabled.
verify_config() {
	local config=$1 line name bad=0
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*)
			grep -qxF -- "$line" "$config" || {
				echo "build-guest: config: wanted '$line', got '$(grep -E "^(# )?${line%%=*}[= ]" "$config" || echo absent)'" >&2
				bad=1
			}
			;;
		"# CONFIG_"*" is not set")
			name=${line#\# }
			name=${name%% *}
			if grep -qE "^$name=" "$config"; then
				echo "build-guest: config: wanted $name off, got '$(grep -E "^$name=" "$config")'" >&2
				bad=1
			fi
			;;
		esac
	done <"$FRAGMENT"
	return $bad
}

# Removes the (1.5 GB) source tree of a failed build, keeping its logs.
kfail() {
	rm -rf "$KSRC"
	die "$@"
}

build_kernel() {
	local dst=$1 tmp=$1.tmp.$$ src
	rm -rf "$tmp"
	mkdir -p "$tmp"
	src=$tmp/linux
	KSRC=$src
	mkdir "$src"
	step "kernel: extracting $SRC_TAR"
	tar -xJf "$SRC_TAR" -C "$src" --strip-components=1
	step "kernel: applying $(basename "$PATCH")"
	patch -d "$src" -p1 --quiet --forward <"$PATCH"
	step "kernel: configuring (tinyconfig + $(basename "$FRAGMENT"))"
	make -C "$src" -s ARCH=x86_64 tinyconfig >"$tmp/config.log" 2>&1 ||
		kfail "tinyconfig failed, see $tmp/config.log"
	(cd "$src" && scripts/kconfig/merge_config.sh -m .config "$FRAGMENT") >>"$tmp/config.log" 2>&1 ||
		kfail "merge_config failed, see $tmp/config.log"
	make -C "$src" -s ARCH=x86_64 olddefconfig >>"$tmp/config.log" 2>&1 ||
		kfail "olddefconfig failed, see $tmp/config.log"
	cp "$src/.config" "$tmp/kernel.config"
	verify_config "$src/.config" || kfail "kernel config does not match $FRAGMENT"
	step "kernel: compiling with -j$JOBS (log: $tmp/build.log)"
	if ! make -C "$src" ARCH=x86_64 -j"$JOBS" KBUILD_BUILD_USER=flint KBUILD_BUILD_HOST=flint \
		bzImage >"$tmp/build.log" 2>&1; then
		tail -n 30 "$tmp/build.log" >&2
		kfail "kernel build failed, see $tmp/build.log"
	fi
	cp "$src/vmlinux" "$src/arch/x86/boot/bzImage" "$tmp/"
	# Kept for the initramfs: lets us put /dev/console in it without root.
	cp "$src/usr/gen_init_cpio" "$tmp/"
	rm -rf "$src"
	mv "$tmp" "$dst"
}

# Builds (or finds) the kernel; prints its cache directory on stdout.
kernel_cached() {
	local dir lock
	dir=$CACHE/kernel-$(kernel_hash)
	mkdir -p "$CACHE" || die "cannot create $CACHE"
	lock=$dir.lock
	exec 9>"$lock"
	flock 9 # another run may be building the same kernel
	if [ -f "$dir/vmlinux" ] && [ -f "$dir/bzImage" ] && [ -x "$dir/gen_init_cpio" ]; then
		step "kernel: cache hit $dir" >&2
	else
		rm -rf "$dir" "$dir".tmp.*
		build_kernel "$dir" >&2
		step "kernel: cached in $dir" >&2
	fi
	exec 9>&-
	echo "$dir"
}

build_user() {
	local out=$1
	local cflags=(-std=gnu11 -D_GNU_SOURCE -static -Os -Wall -Wextra -Werror -I"$REPO")
	step "user: compiling init and vsock-echo (static)"
	gcc "${cflags[@]}" -o "$out/init" "$HERE/init/init.c"
	gcc "${cflags[@]}" -o "$out/vsock-echo" "$HERE/guest-tools/vsock-echo.c"
	strip "$out/init" "$out/vsock-echo"
}

# Staging tree shared by both root file systems.
stage_rootfs() {
	local root=$1 bin=$2 app
	step "rootfs: staging busybox, init, vsock-echo"
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,root,etc,run,var,mnt}
	chmod 1777 "$root/tmp"
	cp "$BUSYBOX" "$root/bin/busybox"
	"$BUSYBOX" --list-full >"$root.applets" || die "$BUSYBOX --list-full failed"
	while IFS= read -r app; do
		case $app in
		sbin/init | linuxrc | bin/busybox | "") continue ;;
		esac
		[ -e "$root/$app" ] || ln -s /bin/busybox "$root/$app"
	done <"$root.applets"
	cp "$bin/init" "$root/sbin/init"
	cp "$bin/vsock-echo" "$root/bin/vsock-echo"
	echo "root:x:0:0:root:/root:/bin/sh" >"$root/etc/passwd"
	echo "root:x:0:" >"$root/etc/group"
	echo "flint" >"$root/etc/hostname"
}

make_ext4() {
	local root=$1 img=$2
	step "rootfs: $img (ext4, 32 MiB)"
	rm -f "$img"
	mkfs.ext4 -q -F -L flint-root -E root_owner=0:0 -d "$root" "$img" 32M >/dev/null ||
		die "mkfs.ext4 failed"
}

# gen_init_cpio takes a list of entries, so ownership (0:0) and the console
# node need no root.
make_initramfs() {
	local root=$1 img=$2 gen=$3 list=$1.list
	step "rootfs: $img (gzip newc cpio)"
	(
		cd "$root"
		echo "dir /dev 0755 0 0"
		echo "nod /dev/console 0600 0 0 c 5 1"
		echo "slink /init /sbin/init 0777 0 0"
		find . -mindepth 1 ! -path ./dev | sort | while IFS= read -r p; do
			p=${p#.}
			if [ -L ".$p" ]; then
				echo "slink $p $(readlink ".$p") 0777 0 0"
			elif [ -d ".$p" ]; then
				echo "dir $p $(stat -c %a ".$p") 0 0"
			else
				echo "file $p $root$p $(stat -c %a ".$p") 0 0"
			fi
		done
	) >"$list"
	"$gen" "$list" | gzip -9 -n >"$img" || die "gen_init_cpio failed"
}

# Hard-link from the cache when possible (same file system), else copy.
publish() {
	local f
	for f in "$@"; do
		ln -f "$f" "$OUTDIR/" 2>/dev/null || cp -f "$f" "$OUTDIR/"
	done
}

main() {
	local kdir f
	check_inputs
	mkdir -p "$OUTDIR" || die "cannot create $OUTDIR"
	OUTDIR=$(cd "$OUTDIR" && pwd)
	kdir=$(kernel_cached)
	WORK=$(mktemp -d)
	trap 'rm -rf "$WORK"' EXIT
	build_user "$WORK"
	stage_rootfs "$WORK/root" "$WORK"
	make_ext4 "$WORK/root" "$WORK/rootfs.ext4"
	make_initramfs "$WORK/root" "$WORK/initramfs.cpio.gz" "$kdir/gen_init_cpio"
	step "output: $OUTDIR"
	publish "$kdir/vmlinux" "$kdir/bzImage" "$kdir/kernel.config"
	cp -f "$WORK/rootfs.ext4" "$WORK/initramfs.cpio.gz" "$WORK/init" "$WORK/vsock-echo" "$OUTDIR/"
	for f in vmlinux bzImage kernel.config rootfs.ext4 initramfs.cpio.gz init vsock-echo; do
		[ -s "$OUTDIR/$f" ] || die "missing output $OUTDIR/$f"
	done
	step "done"
}

main
