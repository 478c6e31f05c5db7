#!/usr/bin/env bash
# make demo: boot the default Linux guest under flint, run `uname -a` in it
# and show the boot time. On a host whose KVM cannot run a stock guest's
# user space (kvm_pvm), boot Linux to `Run /init`, say why it stops there,
# then run flint's test guest to show the devices at work.
set -eu
build=$1
guest=$build/guest
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
here=$(cd "$(dirname "$0")" && pwd)
extra=$("$here/host-boot-args.sh")

cat >"$tmp/linux.json" <<JSON
{
  "boot-source": {
    "kernel_image_path": "$guest/vmlinux",
    "boot_args": "console=ttyS0 reboot=k panic=1 pci=off $extra -- uname -a"
  },
  "drives": [
    { "drive_id": "rootfs", "path_on_host": "$guest/rootfs.ext4",
      "is_root_device": true, "is_read_only": true }
  ],
  "machine-config": { "vcpu_count": 1, "mem_size_mib": 128 }
}
JSON

echo "== flint: booting Linux (vmlinux, root on virtio-blk rootfs.ext4, 1 vCPU, 128 MiB)"
start=$(date +%s%N)
"$build/flint" --no-api --boot-timer --config-file "$tmp/linux.json" </dev/null 2>"$tmp/log" |
	tee "$tmp/console"
end=$(date +%s%N)
grep -h "Guest-boot-time" "$tmp/log" || true
echo "== Linux ran for $(((end - start) / 1000000)) ms under flint"

if ! grep -q "flint-init: command exited" "$tmp/console"; then
	if [ -d /sys/module/kvm_pvm ]; then
		echo "== This host's /dev/kvm is kvm_pvm: a stock kernel runs in kernel mode only, so it"
		echo "   stops at 'Run /sbin/init' (its first system call faults); see shared/HOST.md."
	else
		echo "== The guest's user space did not run; see the console above."
	fi
	echo "== flint: booting the freestanding test guest (2 vCPUs, a virtio-blk disk, virtio-rng)"
	truncate -s 1M "$tmp/disk.img"
	cat >"$tmp/guest.json" <<JSON
{
  "boot-source": { "kernel_image_path": "$guest/test-guest.elf",
                   "boot_args": "tests=timer,mem,smp,blk,rng blk_pattern=0" },
  "machine-config": { "vcpu_count": 2, "mem_size_mib": 128 },
  "drives": [ { "drive_id": "disk", "path_on_host": "$tmp/disk.img",
                "is_root_device": false, "is_read_only": false } ],
  "entropy": {}
}
JSON
	"$build/flint" --no-api --boot-timer --config-file "$tmp/guest.json" </dev/null
fi
