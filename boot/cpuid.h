/* Per-vCPU guest CPUID: KVM_GET_SUPPORTED_CPUID's table with the topology
 * leaves made to describe this VM and a few leaves flint cannot back turned
 * off. Leaves 0x40000000 and above are never touched: a PVM-enlightened
 * guest recognises its host through KVM's hypervisor leaves. */
#ifndef FLINT_BOOT_CPUID_H
#define FLINT_BOOT_CPUID_H

#include <linux/kvm.h>
#include <stdbool.h>

#define CPUID_LEAF_FEATURES   0x1
#define CPUID_LEAF_CACHE      0x4
#define CPUID_LEAF_POWER      0x6
#define CPUID_LEAF_PERFMON    0xa
#define CPUID_LEAF_TOPOLOGY   0xb
#define CPUID_LEAF_TOPOLOGY2  0x1f
#define CPUID_LEAF_HYPERVISOR 0x40000000 /* this leaf and all above: unchanged */

#define CPUID_1_ECX_HYPERVISOR (1U << 31)
#define CPUID_1_EDX_HTT	       (1U << 28)
#define CPUID_6_EAX_ARAT       (1U << 2) /* APIC timer keeps running in deep C-states */
#define CPUID_CLFLUSH_LINES    8	 /* CLFLUSH line size in 8-byte units: 64 bytes */

/* Topology level types in leaf 0xb/0x1f ECX[15:8]. */
#define CPUID_TOPO_INVALID 0
#define CPUID_TOPO_SMT	   1
#define CPUID_TOPO_CORE	   2

/* Rewrite e[0..n) (a copy of KVM_GET_SUPPORTED_CPUID's entries) for vCPU
 * cpu_index of ncpus, one package, smt = two threads per core:
 *  - leaf 1: hypervisor bit, EBX APIC id / logical count / CLFLUSH size, HTT
 *    when the package has more than one logical CPU;
 *  - leaf 4: cores per package and threads sharing each cache;
 *  - leaves 0xb and 0x1f: x2APIC topology (SMT and core levels, EDX APIC id);
 *  - leaf 6: only ARAT kept (no thermal or power management is emulated);
 *  - leaf 0xa: zero (no PMU).
 * Nothing else changes. Entries cannot be added here: the topology leaves
 * are rewritten only at the subleaves listed (use cpuid_build to add the
 * missing ones). APIC id = cpu_index.
 * Returns 0 or -EINVAL (ncpus outside 1..LAYOUT_MAX_VCPUS, bad index). */
int cpuid_filter(struct kvm_cpuid_entry2 *e, int n, int cpu_index, int ncpus, bool smt);

/* Entries cpuid_build may add to KVM's table. */
#define CPUID_EXTRA_ENTRIES  6
#define CPUID_TOPO_SUBLEAVES 3 /* SMT level, core level, and the invalid level ending them */

/* cpuid_filter for a table that may lack topology subleaves: recent KVM
 * lists leaves 0xb and 0x1f with subleaf 0 only ("filled in by userspace"),
 * which would leave the guest without a core level. Copies in[0..n) to out
 * (in == out is allowed), adds the missing subleaves 0..2 of 0xb and 0x1f
 * when KVM lists the leaf at all, then filters. max: capacity of out, at
 * least n + CPUID_EXTRA_ENTRIES to be safe. Returns the new count, or
 * -E2BIG / -EINVAL. */
int cpuid_build(const struct kvm_cpuid_entry2 *in, int n, struct kvm_cpuid_entry2 *out, int max,
		int cpu_index, int ncpus, bool smt);

#endif
