/* The smp test: find the CPUs in the MP table (or take ncpus= from the
 * command line), start each AP with INIT + SIPI + SIPI through the xAPIC
 * ICR, and wait until every AP has reported from long mode. */
#include "arch.h"
#include "con.h"
#include "guest.h"
#include "lib.h"

#define LAPIC_BASE     0xfee00000ULL
#define LAPIC_ID       0x20
#define LAPIC_SVR      0xf0
#define LAPIC_ICR_LO   0x300
#define LAPIC_ICR_HI   0x310
#define LAPIC_SVR_ON   0x100
#define ICR_INIT       0x4500 /* INIT, level assert */
#define ICR_SIPI       0x4600 /* start-up, vector in bits 0-7 */
#define ICR_BUSY       0x1000
#define BDA_EBDA_SEG   0x40e
#define MP_ENTRY_CPU   0
#define MP_CPU_ENABLED 0x1
#define SMP_WAIT_TSC   (5000 * GUEST_TSC_MS)

struct mp_float {
	char sig[4];
	uint32_t physptr;
	uint8_t length; /* in 16-byte units */
	uint8_t spec;
	uint8_t checksum;
	uint8_t feature[5];
} __attribute__((packed));

struct mp_config {
	char sig[4];
	uint16_t length;
	uint8_t spec;
	uint8_t checksum;
	char oem[8];
	char product[12];
	uint32_t oem_ptr;
	uint16_t oem_size;
	uint16_t count;
	uint32_t lapic;
	uint16_t ext_len;
	uint8_t ext_sum;
	uint8_t reserved;
} __attribute__((packed));

struct mp_cpu {
	uint8_t type;
	uint8_t apic_id;
	uint8_t apic_ver;
	uint8_t flags;
	uint32_t signature;
	uint32_t features;
	uint32_t reserved[2];
} __attribute__((packed));

struct smp_cpus {
	uint8_t ids[GUEST_MAX_CPUS];
	unsigned n;
};

/* Shared with the APs, which start with no arguments: globals by need. */
static volatile uint32_t smp_up_count;
static volatile uint8_t smp_up[GUEST_MAX_CPUS];

static uint8_t smp_sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

static const struct mp_float *smp_find_float(uint64_t base, uint64_t len)
{
	for (uint64_t a = base; a + sizeof(struct mp_float) <= base + len; a += 16) {
		const struct mp_float *f = phys_ptr(a);

		if (!memcmp(f->sig, "_MP_", 4) && f->length == 1 &&
		    smp_sum((const uint8_t *)f, 16) == 0)
			return f;
	}
	return NULL;
}

static const struct mp_float *smp_search(void)
{
	uint64_t ebda = (uint64_t) * (volatile uint16_t *)phys_ptr(BDA_EBDA_SEG) << 4;
	const struct mp_float *f = NULL;

	if (ebda && ebda < 0xa0000)
		f = smp_find_float(ebda, 1024);
	if (!f)
		f = smp_find_float(0x9fc00, 1024);
	if (!f)
		f = smp_find_float(0xf0000, 0x10000);
	return f;
}

/* Walk the entries of a checked config table by its length, as Linux
 * does (qboot, QEMU microvm's firmware, leaves the entry count at 0);
 * collect enabled CPUs. Returns the number of entries, -1 if malformed. */
static int smp_walk(const struct mp_config *c, struct smp_cpus *cpus)
{
	const uint8_t *p = (const uint8_t *)(c + 1), *end = (const uint8_t *)c + c->length;
	int n = 0;

	for (; p < end; n++) {
		if (*p != MP_ENTRY_CPU) {
			if (*p > 4 || p + 8 > end)
				return -1;
			p += 8;
			continue;
		}
		if (p + sizeof(struct mp_cpu) > end)
			return -1;
		const struct mp_cpu *e = (const struct mp_cpu *)p;

		if ((e->flags & MP_CPU_ENABLED) && cpus->n < GUEST_MAX_CPUS)
			cpus->ids[cpus->n++] = e->apic_id;
		p += sizeof(*e);
	}
	return n;
}

/* 1: found and parsed, 0: no table, -1: a broken table. */
static int smp_read_mptable(struct test_ctx *t, struct smp_cpus *cpus)
{
	const struct mp_float *f = smp_search();
	const struct mp_config *c;
	int n;

	if (!f)
		return 0;
	if (!f->physptr || f->physptr > 0xfffff000u)
		return test_fail(t, "MP floating pointer at %p: bad table address", (void *)f);
	c = phys_ptr(f->physptr);
	if (memcmp(c->sig, "PCMP", 4) || c->length < sizeof(*c))
		return test_fail(t, "MP config table at 0x%x: bad signature/length", f->physptr);
	if (smp_sum((const uint8_t *)c, c->length) != 0)
		return test_fail(t, "MP config table at 0x%x: bad checksum", f->physptr);
	n = smp_walk(c, cpus);
	if (n < 0)
		return test_fail(t, "MP config table at 0x%x: malformed entries", f->physptr);
	con_printf("smp: mptable float=%p table=0x%x length=%u count=%u entries=%d cpus=%u\n",
		   (void *)f, f->physptr, c->length, c->count, n, cpus->n);
	return 1;
}

static void smp_icr(uint32_t apic_id, uint32_t lo)
{
	mmio_write32(LAPIC_BASE + LAPIC_ICR_HI, apic_id << 24);
	mmio_write32(LAPIC_BASE + LAPIC_ICR_LO, lo);
	for (int i = 0; i < 100000 && (mmio_read32(LAPIC_BASE + LAPIC_ICR_LO) & ICR_BUSY); i++)
		cpu_relax();
}

static void smp_start_ap(uint32_t apic_id)
{
	smp_icr(apic_id, ICR_INIT);
	lib_delay_tsc(10 * GUEST_TSC_MS);
	for (int i = 0; i < 2 && !smp_up[apic_id]; i++) {
		smp_icr(apic_id, ICR_SIPI | (GUEST_TRAMPOLINE >> 12));
		lib_delay_tsc(GUEST_TSC_MS / 5);
	}
}

void smp_ap_main(uint32_t apic_id)
{
	boot_load_idt();
	con_printf("smp: cpu %u up\n", apic_id);
	smp_up[apic_id] = 1;
	__atomic_fetch_add(&smp_up_count, 1, __ATOMIC_SEQ_CST); /* lock xadd */
	cpu_halt_forever();
}

static void smp_list(const struct smp_cpus *cpus, const char *src)
{
	char ids[4 * GUEST_MAX_CPUS + 1];
	size_t n = 0;

	ids[0] = '\0';
	for (unsigned i = 0; i < cpus->n; i++)
		n += con_snprintf(ids + n, sizeof(ids) - n, "%s%u", i ? "," : "", cpus->ids[i]);
	con_printf("smp: source=%s cpus=%u apic_ids=%s\n", src, cpus->n, ids);
}

static int smp_get_cpus(struct test_ctx *t, struct smp_cpus *cpus)
{
	int rc = smp_read_mptable(t, cpus);

	if (rc < 0)
		return -1;
	if (rc > 0) {
		smp_list(cpus, "mptable");
		return 0;
	}
	if (!t->g->opts.ncpus || t->g->opts.ncpus > GUEST_MAX_CPUS)
		return test_fail(t, "no MP table and no valid ncpus= on the command line");
	for (unsigned i = 0; i < t->g->opts.ncpus; i++)
		cpus->ids[cpus->n++] = (uint8_t)i;
	smp_list(cpus, "cmdline");
	return 0;
}

static int smp_wait(struct test_ctx *t, const struct smp_cpus *cpus, uint32_t bsp, unsigned want)
{
	uint64_t start = rdtsc();

	while (__atomic_load_n(&smp_up_count, __ATOMIC_SEQ_CST) < want &&
	       rdtsc() - start < SMP_WAIT_TSC)
		cpu_relax();
	if (smp_up_count == want)
		return 0;
	for (unsigned i = 0; i < cpus->n; i++) {
		if (cpus->ids[i] != bsp && !smp_up[cpus->ids[i]])
			return test_fail(t, "%u of %u APs up, apic %u missing", smp_up_count, want,
					 cpus->ids[i]);
	}
	return test_fail(t, "%u of %u APs up", smp_up_count, want);
}

int test_smp(struct test_ctx *t)
{
	struct smp_cpus cpus = {.n = 0};
	uint32_t bsp;
	unsigned want = 0;

	if (smp_get_cpus(t, &cpus) < 0)
		return -1;
	bsp = mmio_read32(LAPIC_BASE + LAPIC_ID) >> 24;
	con_printf("smp: bsp apic id %u\n", bsp);
	memcpy(phys_ptr(GUEST_TRAMPOLINE), ap_tramp_start, ap_tramp_size);
	mmio_write32(LAPIC_BASE + LAPIC_SVR,
		     mmio_read32(LAPIC_BASE + LAPIC_SVR) | LAPIC_SVR_ON | 0xff);
	for (unsigned i = 0; i < cpus.n; i++) {
		if (cpus.ids[i] == bsp || cpus.ids[i] >= GUEST_MAX_CPUS || smp_up[cpus.ids[i]])
			continue;
		want++;
		smp_start_ap(cpus.ids[i]);
	}
	if (smp_wait(t, &cpus, bsp, want) < 0)
		return -1;
	con_printf("smp: %u cpus up\n", want + 1);
	return 0;
}
