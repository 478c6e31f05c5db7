#!/usr/bin/env bash
# Install the Debian 12 packages flint needs to build, test and run its
# guest kit. Runs as root (or through sudo) with no terminal.
set -eu
packages=(
	# build and test flint
	build-essential gcc make libc6-dev clang libclang-rt-14-dev clang-format clang-tidy cppcheck
	libseccomp-dev libjsmn-dev libbpf-dev liburing-dev libcmocka-dev
	python3 python3-pytest iproute2 curl socat
	# build the guest kernel and rootfs
	linux-source-6.1 bc bison flex libelf-dev libssl-dev cpio xz-utils
	e2fsprogs busybox-static lz4 gzip patch
	# benchmarks compare against QEMU microvm
	qemu-system-x86
)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all packages present"
	exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
