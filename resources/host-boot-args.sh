#!/bin/sh
# Print the extra kernel arguments a stock Linux guest needs on this host,
# on one line (nothing, and exit 0, where none are needed).
#
# On a kvm_pvm host (/sys/module/kvm_pvm; see /work/shared/HOST.md) a stock
# kernel runs through KVM's instruction emulator, which cannot execute
# XSAVE/XRSTOR(S), POPCNT, CLAC and a few others. Make the guest not use them:
#   noxsave          no XSAVE family
#   mitigations=off  no speculation work-arounds (they use unsupported
#                    instructions and slow the boot)
#   clearcpuid=N,..  X86_FEATURE_* bit numbers (word*32+bit) from the 6.1
#                    kernel's arch/x86/include/asm/cpufeatures.h:
#     59  RDTSCP   ( 1*32+27)    151 POPCNT   ( 4*32+23)
#     141 CX16     ( 4*32+13)    158 RDRAND   ( 4*32+30)
#     145 PCID     ( 4*32+17)
#     288 FSGSBASE ( 9*32+ 0)    298 INVPCID  ( 9*32+10)
#     306 RDSEED   ( 9*32+18)    308 SMAP     ( 9*32+20, i.e. no CLAC/STAC)
#   CX16 (CMPXCHG16B) is not in HOST.md's list: found here with a SLUB kernel,
#   whose lockless free lists use it (KVM emulation failure on lock cmpxchg16b).
#   rodata=off       not needed for correctness, but write-protecting the
#                    kernel's 10 MiB of text and rodata remaps it page by
#                    page through the emulator: ~14 s of a ~40 s boot here
# The INT3 boot self-test cannot be turned off by an argument: the guest
# kit's kernel carries a patch for it (skip-int3-selftest.patch).
# FLINT_SYSFS overrides /sys, for tests.
set -eu

if [ -d "${FLINT_SYSFS:-/sys}/module/kvm_pvm" ]; then
	echo "noxsave mitigations=off clearcpuid=59,141,145,151,158,288,298,306,308 rodata=off"
fi
