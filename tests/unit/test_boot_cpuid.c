/* CPUID filtering tests on a synthetic KVM_GET_SUPPORTED_CPUID table shaped
 * like a real one (an Intel host under KVM: leaf 4 caches, leaves 0xb/0x1f
 * listed with subleaf 0 only, KVM's hypervisor leaves). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "boot/cpuid.h"

#define SIG  KVM_CPUID_FLAG_SIGNIFCANT_INDEX
#define NMAX 64

static const struct kvm_cpuid_entry2 supported[] = {
    {.function = 0x0, .eax = 0x20, .ebx = 0x756e6547, .ecx = 0x6c65746e, .edx = 0x49656e69},
    {.function = 0x1, .eax = 0x000a0678, .ebx = 0x00020800, .ecx = 0x01202000, .edx = 0x0f8bfbff},
    {.function = 0x2, .eax = 0x00feff01, .ebx = 0xf0},
    {.function = 0x4, .index = 0, .flags = SIG, .eax = 0x04000121, .ebx = 0x02c0003f, .ecx = 0x3f},
    {.function = 0x4, .index = 1, .flags = SIG, .eax = 0x04000122, .ebx = 0x01c0003f, .ecx = 0x3f},
    {.function = 0x4, .index = 2, .flags = SIG, .eax = 0x04000143, .ebx = 0x03c0003f, .ecx = 0x7ff},
    {.function = 0x4,
     .index = 3,
     .flags = SIG,
     .eax = 0x04004163,
     .ebx = 0x0380003f,
     .ecx = 0x1bfff,
     .edx = 4},
    {.function = 0x4, .index = 4, .flags = SIG},
    {.function = 0x6, .eax = 0x00000077, .ecx = 0x9},
    {.function = 0x7,
     .index = 0,
     .flags = SIG,
     .eax = 2,
     .ebx = 0x01802042,
     .ecx = 0x1a010104,
     .edx = 0xbc010400},
    {.function = 0xa, .eax = 0x07300404, .edx = 0x603},
    {.function = 0xb, .index = 0, .flags = SIG},
    {.function = 0xd, .index = 0, .flags = SIG, .eax = 0x2e7, .ebx = 0xa88, .ecx = 0xa88},
    {.function = 0x1f, .index = 0, .flags = SIG},
    {.function = 0x40000000, .eax = 0x40000001, .ebx = 0x4b4d564b, .ecx = 0x564b4d56, .edx = 0x4d},
    {.function = 0x40000001, .eax = 0x01007efb, .edx = 0x1},
    {.function = 0x40000100, .eax = 0xdeadbeef, .ebx = 1, .ecx = 2, .edx = 3},
    {.function = 0x80000000, .eax = 0x80000008},
    {.function = 0x80000001, .ecx = 0x101, .edx = 0x20100800},
    {.function = 0x80000008, .eax = 0x392e, .ebx = 0x0100d200},
};
#define NSUP ((int)(sizeof(supported) / sizeof(supported[0])))

static const struct kvm_cpuid_entry2 *find(const struct kvm_cpuid_entry2 *e, int n, uint32_t fn,
					   uint32_t index)
{
	for (int i = 0; i < n; i++) {
		if (e[i].function == fn && e[i].index == index)
			return &e[i];
	}
	fail_msg("leaf 0x%x.%u missing", fn, index);
	return NULL;
}

static bool touched(uint32_t fn)
{
	return fn == 1 || fn == 4 || fn == 6 || fn == 0xa || fn == 0xb || fn == 0x1f;
}

/* Filter a copy for one vCPU; check everything not ours is unchanged. */
static int run(struct kvm_cpuid_entry2 *e, int cpu, int ncpus, bool smt)
{
	int n = cpuid_build(supported, NSUP, e, NMAX, cpu, ncpus, smt);

	assert_true(n >= NSUP);
	for (int i = 0; i < NSUP; i++) {
		if (!touched(supported[i].function))
			assert_memory_equal(&e[i], &supported[i], sizeof(e[i]));
	}
	return n;
}

static void check_leaf1(const struct kvm_cpuid_entry2 *e, int n, int cpu, int ncpus)
{
	const struct kvm_cpuid_entry2 *l = find(e, n, 1, 0);

	assert_int_equal(l->eax, supported[1].eax);
	assert_true(l->ecx & CPUID_1_ECX_HYPERVISOR);
	assert_int_equal(l->ecx & ~CPUID_1_ECX_HYPERVISOR, supported[1].ecx);
	assert_int_equal(l->ebx >> 24, cpu);
	assert_int_equal((l->ebx >> 16) & 0xff, ncpus);
	assert_int_equal((l->ebx >> 8) & 0xff, 8);
	assert_int_equal(l->ebx & 0xff, 0);
	assert_int_equal(!!(l->edx & CPUID_1_EDX_HTT), ncpus > 1);
	assert_int_equal(l->edx & ~CPUID_1_EDX_HTT, supported[1].edx & ~CPUID_1_EDX_HTT);
}

static void check_leaf4(const struct kvm_cpuid_entry2 *e, int n, int cores, int threads, int ncpus)
{
	for (uint32_t sub = 0; sub < 4; sub++) {
		const struct kvm_cpuid_entry2 *l = find(e, n, 4, sub);
		uint32_t level = (l->eax >> 5) & 7;

		assert_int_equal(l->eax & 0x3fff, supported[3 + sub].eax & 0x3fff);
		assert_int_equal((l->eax >> 26) + 1, cores);
		assert_int_equal(((l->eax >> 14) & 0xfff) + 1, level <= 2 ? threads : ncpus);
		assert_int_equal(l->ebx, supported[3 + sub].ebx);
		assert_int_equal(l->ecx, supported[3 + sub].ecx);
	}
	assert_int_equal(find(e, n, 4, 4)->eax, 0); /* the terminator stays */
}

static void check_topology(const struct kvm_cpuid_entry2 *e, int n, uint32_t fn, int cpu, int ncpus,
			   int threads, uint32_t core_shift)
{
	const struct kvm_cpuid_entry2 *smt = find(e, n, fn, 0), *core = find(e, n, fn, 1),
				      *end = find(e, n, fn, 2);

	assert_int_equal(smt->eax, threads == 2 ? 1 : 0);
	assert_int_equal(smt->ebx, threads);
	assert_int_equal(smt->ecx, 0x100);
	assert_int_equal(smt->edx, cpu);
	assert_int_equal(core->eax, core_shift);
	assert_int_equal(core->ebx, ncpus);
	assert_int_equal(core->ecx, 0x201);
	assert_int_equal(core->edx, cpu);
	assert_int_equal(core->flags, SIG);
	assert_int_equal(end->eax, 0);
	assert_int_equal(end->ebx, 0);
	assert_int_equal(end->ecx, 2); /* level type 0: invalid */
	assert_int_equal(end->edx, cpu);
}

static void check_misc(const struct kvm_cpuid_entry2 *e, int n)
{
	const struct kvm_cpuid_entry2 *pm = find(e, n, 6, 0), *pmu = find(e, n, 0xa, 0);

	assert_int_equal(pm->eax, CPUID_6_EAX_ARAT);
	assert_int_equal(pm->ecx, 0);
	assert_int_equal(pmu->eax | pmu->ebx | pmu->ecx | pmu->edx, 0);
	/* Hard requirement: KVM's hypervisor leaves pass through untouched. */
	for (int i = 0; i < NSUP; i++) {
		if (supported[i].function >= 0x40000000)
			assert_memory_equal(find(e, n, supported[i].function, 0), &supported[i],
					    sizeof(supported[i]));
	}
}

static void test_no_smt(void **state)
{
	struct kvm_cpuid_entry2 e[NMAX];

	(void)state;
	for (int cpu = 0; cpu < 4; cpu++) {
		int n = run(e, cpu, 4, false);

		assert_int_equal(n, NSUP + 4);
		check_leaf1(e, n, cpu, 4);
		check_leaf4(e, n, 4, 1, 4);
		check_topology(e, n, 0xb, cpu, 4, 1, 2);
		check_topology(e, n, 0x1f, cpu, 4, 1, 2);
		check_misc(e, n);
	}
}

static void test_smt(void **state)
{
	struct kvm_cpuid_entry2 e[NMAX];

	(void)state;
	for (int cpu = 0; cpu < 4; cpu++) {
		int n = run(e, cpu, 4, true);

		check_leaf1(e, n, cpu, 4);
		check_leaf4(e, n, 2, 2, 4);
		check_topology(e, n, 0xb, cpu, 4, 2, 2);
		check_misc(e, n);
	}
	for (int cpu = 0; cpu < 32; cpu += 31) {
		int n = run(e, cpu, 32, true);

		check_leaf1(e, n, cpu, 32);
		check_leaf4(e, n, 16, 2, 32);
		check_topology(e, n, 0xb, cpu, 32, 2, 5);
	}
	/* Odd counts: 3 vCPUs with SMT are 2 cores, the APIC ids need 2 bits. */
	{
		int n = run(e, 2, 3, true);

		check_leaf4(e, n, 2, 2, 3);
		check_topology(e, n, 0xb, 2, 3, 2, 2);
	}
}

static void test_one_cpu(void **state)
{
	struct kvm_cpuid_entry2 e[NMAX];
	int n;

	(void)state;
	/* SMT is meaningless with one vCPU: a single thread. */
	n = run(e, 0, 1, true);
	check_leaf1(e, n, 0, 1);
	check_leaf4(e, n, 1, 1, 1);
	check_topology(e, n, 0xb, 0, 1, 1, 0);
	check_misc(e, n);
}

static void test_filter_in_place(void **state)
{
	struct kvm_cpuid_entry2 e[NSUP];

	(void)state;
	/* cpuid_filter alone: same size table, subleaf 0 of 0xb rewritten. */
	memcpy(e, supported, sizeof(supported));
	assert_int_equal(cpuid_filter(e, NSUP, 1, 2, false), 0);
	assert_int_equal(find(e, NSUP, 0xb, 0)->edx, 1);
	assert_int_equal(find(e, NSUP, 0xb, 0)->ebx, 1);
	assert_int_equal(find(e, NSUP, 1, 0)->ebx >> 24, 1);
	check_misc(e, NSUP);
	/* cpuid_build may work in place. */
	{
		struct kvm_cpuid_entry2 big[NMAX];
		int n;

		memcpy(big, supported, sizeof(supported));
		n = cpuid_build(big, NSUP, big, NMAX, 3, 4, true);
		assert_int_equal(n, NSUP + 4);
		check_topology(big, n, 0xb, 3, 4, 2, 2);
		/* Building again adds nothing. */
		assert_int_equal(cpuid_build(big, n, big, n, 3, 4, true), n);
	}
}

static void test_refused(void **state)
{
	struct kvm_cpuid_entry2 e[NMAX];

	(void)state;
	memcpy(e, supported, sizeof(supported));
	assert_int_equal(cpuid_filter(e, NSUP, 0, 0, false), -EINVAL);
	assert_int_equal(cpuid_filter(e, NSUP, 0, 33, false), -EINVAL);
	assert_int_equal(cpuid_filter(e, NSUP, 4, 4, false), -EINVAL);
	assert_int_equal(cpuid_filter(e, NSUP, -1, 4, false), -EINVAL);
	assert_int_equal(cpuid_filter(e, -1, 0, 1, false), -EINVAL);
	assert_int_equal(cpuid_filter(NULL, 3, 0, 1, false), -EINVAL);
	assert_int_equal(cpuid_filter(NULL, 0, 0, 1, false), 0);
	assert_memory_equal(e, supported, sizeof(supported));
	assert_int_equal(cpuid_build(supported, NSUP, e, NSUP + 3, 0, 1, false), -E2BIG);
	assert_int_equal(cpuid_build(supported, NSUP, e, NSUP - 1, 0, 1, false), -EINVAL);
	assert_int_equal(cpuid_build(supported, NSUP, NULL, NMAX, 0, 1, false), -EINVAL);
	assert_int_equal(cpuid_build(supported, NSUP, e, NMAX, 1, 1, false), -EINVAL);
	/* A table without the topology leaves gets none added. */
	assert_int_equal(cpuid_build(supported, 3, e, NMAX, 0, 2, false), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_no_smt),  cmocka_unit_test(test_smt),
	    cmocka_unit_test(test_one_cpu), cmocka_unit_test(test_filter_in_place),
	    cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
