/* MP table tests: parse what mptable_write wrote back out of guest memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "boot/layout.h"
#include "boot/mptable.h"

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

static void check_cpus(const uint8_t *p, int ncpus)
{
	for (int i = 0; i < ncpus; i++) {
		struct mpc_cpu cpu;

		memcpy(&cpu, p + i * sizeof(cpu), sizeof(cpu));
		assert_int_equal(cpu.type, MP_PROCESSOR);
		assert_int_equal(cpu.apicid, i);
		assert_int_equal(cpu.apicver, MP_APIC_VERSION);
		assert_int_equal(cpu.cpuflag, MP_CPU_ENABLED | (i == 0 ? MP_CPU_BSP : 0));
		assert_true(cpu.featureflag & 0x200); /* APIC */
	}
}

static void check_irqs(const uint8_t *p, int ncpus)
{
	struct mpc_lintsrc lint;

	for (int irq = 0; irq <= LAYOUT_IRQ_MAX; irq++) {
		struct mpc_intsrc src;

		memcpy(&src, p, sizeof(src));
		p += sizeof(src);
		assert_int_equal(src.type, MP_INTSRC);
		assert_int_equal(src.irqtype, MP_INT);
		assert_int_equal(src.srcbus, 0);
		assert_int_equal(src.srcbusirq, irq);
		assert_int_equal(src.dstapic, ncpus);
		assert_int_equal(src.dstirq, irq);
	}
	memcpy(&lint, p, sizeof(lint));
	assert_int_equal(lint.type, MP_LINTSRC);
	assert_int_equal(lint.irqtype, MP_EXTINT);
	assert_int_equal(lint.destapiclint, 0);
	memcpy(&lint, p + sizeof(lint), sizeof(lint));
	assert_int_equal(lint.type, MP_LINTSRC);
	assert_int_equal(lint.irqtype, MP_NMI);
	assert_int_equal(lint.destapic, 0xff);
	assert_int_equal(lint.destapiclint, 1);
}

static void check_table(int ncpus)
{
	struct guest_mem mem;
	struct fault f = {{0}};
	struct mpf_intel mpf;
	struct mpc_table mpc;
	struct mpc_bus bus;
	struct mpc_ioapic io;
	const uint8_t *base, *p;

	assert_int_equal(gm_create(&mem, MiB(2), GM_BACKING_ANON), 0);
	assert_int_equal(mptable_write(&mem, ncpus, &f), 0);
	base = gm_ptr(&mem, LAYOUT_EBDA_START, mptable_size(ncpus));
	assert_non_null(base);
	assert_true(LAYOUT_EBDA_START + mptable_size(ncpus) <= MiB(1));

	memcpy(&mpf, base, sizeof(mpf));
	assert_memory_equal(mpf.signature, "_MP_", 4);
	assert_int_equal(mpf.length, 1);
	assert_int_equal(mpf.specification, 4);
	assert_int_equal(mpf.feature1, 0);
	assert_int_equal(sum(base, sizeof(mpf)), 0);
	assert_int_equal(mpf.physptr, LAYOUT_EBDA_START + sizeof(mpf));

	p = base + sizeof(mpf);
	memcpy(&mpc, p, sizeof(mpc));
	assert_memory_equal(mpc.signature, "PCMP", 4);
	assert_int_equal(mpc.spec, 4);
	assert_int_equal(mpc.lapic, LAYOUT_LAPIC_ADDR);
	assert_int_equal(mpc.length, mptable_size(ncpus) - sizeof(mpf));
	assert_int_equal(mpc.oemcount, ncpus + 2 + LAYOUT_IRQ_MAX + 1 + 2);
	assert_int_equal(sum(p, mpc.length), 0);
	p += sizeof(mpc);

	check_cpus(p, ncpus);
	p += ncpus * sizeof(struct mpc_cpu);
	memcpy(&bus, p, sizeof(bus));
	assert_int_equal(bus.type, MP_BUS);
	assert_memory_equal(bus.bustype, "ISA   ", 6);
	p += sizeof(bus);
	memcpy(&io, p, sizeof(io));
	assert_int_equal(io.type, MP_IOAPIC);
	assert_int_equal(io.apicid, ncpus);
	assert_int_equal(io.flags, 1);
	assert_int_equal(io.apicaddr, LAYOUT_IOAPIC_ADDR);
	p += sizeof(io);
	check_irqs(p, ncpus);
	gm_destroy(&mem);
}

static void test_mptable_1(void **state)
{
	(void)state;
	check_table(1);
}

static void test_mptable_2(void **state)
{
	(void)state;
	check_table(2);
}

static void test_mptable_32(void **state)
{
	(void)state;
	check_table(LAYOUT_MAX_VCPUS);
}

static void test_mptable_refused(void **state)
{
	struct guest_mem mem;
	struct fault f = {{0}};

	(void)state;
	assert_int_equal(gm_create(&mem, MiB(2), GM_BACKING_ANON), 0);
	assert_int_equal(mptable_write(&mem, 0, &f), -EINVAL);
	assert_non_null(strstr(f.msg, "outside 1..32"));
	assert_int_equal(mptable_write(&mem, LAYOUT_MAX_VCPUS + 1, &f), -EINVAL);
	assert_int_equal(mptable_write(&mem, -1, &f), -EINVAL);
	gm_destroy(&mem);
	/* Guest RAM ends before the EBDA. */
	assert_int_equal(gm_create(&mem, KiB(512), GM_BACKING_ANON), 0);
	assert_int_equal(mptable_write(&mem, 1, &f), -EFAULT);
	gm_destroy(&mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mptable_1),
	    cmocka_unit_test(test_mptable_2),
	    cmocka_unit_test(test_mptable_32),
	    cmocka_unit_test(test_mptable_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
