/* MP tables (Intel MultiProcessor Specification 1.4, chapter 4). */
#include "boot/mptable.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "boot/layout.h"

#define MP_IRQ_COUNT (LAYOUT_IRQ_MAX + 1)
#define MP_ISA_BUS   0
#define MP_BYTES(ncpus)                                                                            \
	(sizeof(struct mpf_intel) + sizeof(struct mpc_table) +                                     \
	 (uint64_t)(ncpus) * sizeof(struct mpc_cpu) + sizeof(struct mpc_bus) +                     \
	 sizeof(struct mpc_ioapic) + MP_IRQ_COUNT * sizeof(struct mpc_intsrc) +                    \
	 2 * sizeof(struct mpc_lintsrc))

/* CPU signature (family 6) and feature flags (FPU, APIC) for processor
 * entries; Linux only looks at the APIC bit. */
#define MP_CPU_SIGNATURE 0x600
#define MP_CPU_FEATURES	 0x201

/* A byte cursor into the host-side copy of the tables. */
struct mp_buf {
	uint8_t *p;
	size_t off;
	uint16_t count; /* config table entries */
};

static void mp_put(struct mp_buf *b, const void *entry, size_t n)
{
	memcpy(b->p + b->off, entry, n);
	b->off += n;
	b->count++;
}

static uint8_t mp_checksum(const uint8_t *p, size_t n)
{
	uint8_t sum = 0;

	while (n--)
		sum += *p++;
	return (uint8_t)-sum;
}

uint64_t mptable_size(int ncpus)
{
	return MP_BYTES(ncpus);
}

static void mp_put_cpus(struct mp_buf *b, int ncpus)
{
	for (int i = 0; i < ncpus; i++) {
		struct mpc_cpu cpu = {
		    .type = MP_PROCESSOR,
		    .apicid = (uint8_t)i,
		    .apicver = MP_APIC_VERSION,
		    .cpuflag = MP_CPU_ENABLED | (i == 0 ? MP_CPU_BSP : 0),
		    .cpufeature = MP_CPU_SIGNATURE,
		    .featureflag = MP_CPU_FEATURES,
		};
		mp_put(b, &cpu, sizeof(cpu));
	}
}

static void mp_put_bus_ioapic(struct mp_buf *b, int ncpus)
{
	struct mpc_bus bus = {.type = MP_BUS, .busid = MP_ISA_BUS};
	struct mpc_ioapic io = {
	    .type = MP_IOAPIC,
	    .apicid = (uint8_t)ncpus,
	    .apicver = MP_IOAPIC_VERSION,
	    .flags = 1,
	    .apicaddr = (uint32_t)LAYOUT_IOAPIC_ADDR,
	};

	memcpy(bus.bustype, "ISA   ", 6);
	mp_put(b, &bus, sizeof(bus));
	mp_put(b, &io, sizeof(io));
}

static void mp_put_irqs(struct mp_buf *b, int ncpus)
{
	struct mpc_lintsrc lint0 = {.type = MP_LINTSRC,
				    .irqtype = MP_EXTINT,
				    .srcbusid = MP_ISA_BUS,
				    .destapic = 0,
				    .destapiclint = 0};
	struct mpc_lintsrc lint1 = {.type = MP_LINTSRC,
				    .irqtype = MP_NMI,
				    .srcbusid = MP_ISA_BUS,
				    .destapic = 0xff,
				    .destapiclint = 1};

	for (int irq = 0; irq < MP_IRQ_COUNT; irq++) {
		struct mpc_intsrc src = {
		    .type = MP_INTSRC,
		    .irqtype = MP_INT,
		    .srcbus = MP_ISA_BUS,
		    .srcbusirq = (uint8_t)irq,
		    .dstapic = (uint8_t)ncpus,
		    .dstirq = (uint8_t)irq,
		};
		mp_put(b, &src, sizeof(src));
	}
	mp_put(b, &lint0, sizeof(lint0));
	mp_put(b, &lint1, sizeof(lint1));
}

/* Build both structures in buf (MP_BYTES(ncpus) bytes) for address base. */
static void mp_build(uint8_t *buf, uint64_t base, int ncpus)
{
	struct mp_buf b = {.p = buf, .off = sizeof(struct mpf_intel) + sizeof(struct mpc_table)};
	struct mpf_intel mpf = {
	    .physptr = (uint32_t)(base + sizeof(mpf)), .length = 1, .specification = MP_SPEC_REV};
	struct mpc_table mpc = {.spec = MP_SPEC_REV, .lapic = (uint32_t)LAYOUT_LAPIC_ADDR};

	mp_put_cpus(&b, ncpus);
	mp_put_bus_ioapic(&b, ncpus);
	mp_put_irqs(&b, ncpus);

	memcpy(mpc.signature, "PCMP", 4);
	memcpy(mpc.oem, "FLINT   ", 8);
	memcpy(mpc.productid, "MICROVM     ", 12);
	mpc.length = (uint16_t)(b.off - sizeof(mpf));
	mpc.oemcount = b.count;
	memcpy(buf + sizeof(mpf), &mpc, sizeof(mpc));
	buf[sizeof(mpf) + offsetof(struct mpc_table, checksum)] =
	    mp_checksum(buf + sizeof(mpf), mpc.length);

	memcpy(mpf.signature, "_MP_", 4);
	mpf.checksum = mp_checksum((const uint8_t *)&mpf, sizeof(mpf));
	memcpy(buf, &mpf, sizeof(mpf));
}

int mptable_write(const struct guest_mem *mem, int ncpus, struct fault *f)
{
	uint8_t buf[MP_BYTES(LAYOUT_MAX_VCPUS)];
	uint64_t len;

	if (ncpus < 1 || ncpus > LAYOUT_MAX_VCPUS) {
		fault_set(f, "MP table: %d vCPUs is outside 1..%d", ncpus, LAYOUT_MAX_VCPUS);
		return -EINVAL;
	}
	len = MP_BYTES(ncpus);
	if (LAYOUT_EBDA_START + len > LAYOUT_HIMEM_START) {
		fault_set(f, "MP table for %d vCPUs does not fit below 1 MiB", ncpus);
		return -ENOMEM;
	}
	memset(buf, 0, sizeof(buf));
	mp_build(buf, LAYOUT_EBDA_START, ncpus);
	if (gm_write(mem, LAYOUT_EBDA_START, buf, len)) {
		fault_set(f, "MP table: guest memory at 0x%llx is not RAM",
			  (unsigned long long)LAYOUT_EBDA_START);
		return -EFAULT;
	}
	return 0;
}
