/* Guest CPUID filtering (Intel SDM vol. 2A, CPUID). */
#include "boot/cpuid.h"

#include <errno.h>
#include <string.h>

#include "boot/layout.h"

/* What the VM looks like: one package of ncpus logical CPUs. */
struct cpuid_topo {
	uint32_t apic_id;
	uint32_t ncpus;
	uint32_t threads;		/* per core: 1 or 2 */
	uint32_t cores;			/* per package */
	uint32_t smt_shift, core_shift; /* APIC id bits of each level */
};

static uint32_t cpuid_ceil_log2(uint32_t v)
{
	uint32_t s = 0;

	while ((1U << s) < v)
		s++;
	return s;
}

static uint32_t cpuid_min(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static void cpuid_leaf1(struct kvm_cpuid_entry2 *e, const struct cpuid_topo *t)
{
	e->ecx |= CPUID_1_ECX_HYPERVISOR;
	/* EBX: [31:24] initial APIC id, [23:16] logical CPUs per package,
	 * [15:8] CLFLUSH line size, [7:0] brand index (kept). */
	e->ebx = (e->ebx & 0xff) | (t->apic_id << 24) | (cpuid_min(t->ncpus, 255) << 16) |
		 (CPUID_CLFLUSH_LINES << 8);
	/* HTT means "EBX[23:16] is valid: more than one logical CPU per package",
	 * which holds for any multi-vCPU VM, with or without SMT. */
	if (t->ncpus > 1)
		e->edx |= CPUID_1_EDX_HTT;
	else
		e->edx &= ~CPUID_1_EDX_HTT;
}

static void cpuid_leaf4(struct kvm_cpuid_entry2 *e, const struct cpuid_topo *t)
{
	uint32_t level = (e->eax >> 5) & 0x7, sharing;

	if ((e->eax & 0x1f) == 0) /* no cache at this subleaf */
		return;
	/* L1 and L2 are per core, L3 and beyond per package. */
	sharing = level <= 2 ? t->threads : t->ncpus;
	e->eax &= 0x3fff; /* keep type, level, self-init, associativity bits */
	e->eax |= (cpuid_min(t->cores, 64) - 1) << 26;
	e->eax |= (cpuid_min(sharing, 4096) - 1) << 14;
}

static void cpuid_topology(struct kvm_cpuid_entry2 *e, const struct cpuid_topo *t)
{
	uint32_t sub = e->index & 0xff;

	e->edx = t->apic_id;
	if (sub == 0) {
		e->eax = t->smt_shift;
		e->ebx = t->threads;
		e->ecx = (CPUID_TOPO_SMT << 8) | sub;
	} else if (sub == 1) {
		e->eax = t->core_shift;
		e->ebx = t->ncpus;
		e->ecx = (CPUID_TOPO_CORE << 8) | sub;
	} else {
		e->eax = 0;
		e->ebx = 0;
		e->ecx = (CPUID_TOPO_INVALID << 8) | sub;
	}
}

static void cpuid_filter_one(struct kvm_cpuid_entry2 *e, const struct cpuid_topo *t)
{
	switch (e->function) {
	case CPUID_LEAF_FEATURES:
		cpuid_leaf1(e, t);
		break;
	case CPUID_LEAF_CACHE:
		cpuid_leaf4(e, t);
		break;
	case CPUID_LEAF_POWER:
		e->eax &= CPUID_6_EAX_ARAT;
		e->ebx = 0;
		e->ecx = 0;
		e->edx = 0;
		break;
	case CPUID_LEAF_PERFMON:
		e->eax = 0;
		e->ebx = 0;
		e->ecx = 0;
		e->edx = 0;
		break;
	case CPUID_LEAF_TOPOLOGY:
	case CPUID_LEAF_TOPOLOGY2:
		cpuid_topology(e, t);
		break;
	default:
		break;
	}
}

int cpuid_filter(struct kvm_cpuid_entry2 *e, int n, int cpu_index, int ncpus, bool smt)
{
	struct cpuid_topo t;

	if (n < 0 || (n > 0 && !e) || ncpus < 1 || ncpus > LAYOUT_MAX_VCPUS || cpu_index < 0 ||
	    cpu_index >= ncpus)
		return -EINVAL;
	t.apic_id = (uint32_t)cpu_index;
	t.ncpus = (uint32_t)ncpus;
	t.threads = smt && ncpus > 1 ? 2 : 1;
	t.cores = (t.ncpus + t.threads - 1) / t.threads;
	t.smt_shift = cpuid_ceil_log2(t.threads);
	t.core_shift = cpuid_ceil_log2(t.ncpus);
	if (t.core_shift < t.smt_shift)
		t.core_shift = t.smt_shift;
	for (int i = 0; i < n; i++) {
		/* The hypervisor leaves and everything above pass through. */
		if (e[i].function >= CPUID_LEAF_HYPERVISOR)
			continue;
		cpuid_filter_one(&e[i], &t);
	}
	return 0;
}

static bool cpuid_find(const struct kvm_cpuid_entry2 *e, int n, uint32_t fn, bool any_index,
		       uint32_t index)
{
	for (int i = 0; i < n; i++) {
		if (e[i].function == fn && (any_index || e[i].index == index))
			return true;
	}
	return false;
}

/* Add subleaves 0..CPUID_TOPO_SUBLEAVES-1 of leaf fn that are missing, if
 * KVM lists fn at all. Returns the new count or -E2BIG. */
static int cpuid_add_topology(struct kvm_cpuid_entry2 *e, int n, int max, uint32_t fn)
{
	if (!cpuid_find(e, n, fn, true, 0))
		return n;
	for (uint32_t sub = 0; sub < CPUID_TOPO_SUBLEAVES; sub++) {
		if (cpuid_find(e, n, fn, false, sub))
			continue;
		if (n >= max)
			return -E2BIG;
		memset(&e[n], 0, sizeof(e[n]));
		e[n].function = fn;
		e[n].index = sub;
		e[n].flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
		n++;
	}
	return n;
}

int cpuid_build(const struct kvm_cpuid_entry2 *in, int n, struct kvm_cpuid_entry2 *out, int max,
		int cpu_index, int ncpus, bool smt)
{
	int err;

	if (n < 0 || max < n || !out || (n > 0 && !in))
		return -EINVAL;
	if (n > 0)
		memmove(out, in, (size_t)n * sizeof(*in));
	n = cpuid_add_topology(out, n, max, CPUID_LEAF_TOPOLOGY);
	if (n >= 0)
		n = cpuid_add_topology(out, n, max, CPUID_LEAF_TOPOLOGY2);
	if (n < 0)
		return n;
	err = cpuid_filter(out, n, cpu_index, ncpus, smt);
	return err ? err : n;
}
