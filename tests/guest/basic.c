/* The timer and mem tests. */
#include "arch.h"
#include "con.h"
#include "guest.h"
#include "lib.h"

#define BOOT_TIMER_ADDR	 0xc0000000ULL
#define BOOT_TIMER_MAGIC 123

/* flint logs the boot time when this byte arrives; elsewhere (QEMU) the
 * write lands in an unbacked hole and is dropped. Nothing to read back. */
int test_timer(struct test_ctx *t)
{
	(void)t;
	mmio_write8(BOOT_TIMER_ADDR, BOOT_TIMER_MAGIC);
	con_printf("timer: wrote %u to 0x%llx\n", BOOT_TIMER_MAGIC,
		   (unsigned long long)BOOT_TIMER_ADDR);
	return 0;
}

/* Pattern for the 8-byte word at pa: depends on the address, so aliasing
 * (two addresses hitting the same backing page) shows up as a mismatch. */
static uint64_t mem_pattern(uint64_t pa, uint64_t salt)
{
	return (pa * 0x9e3779b97f4a7c15ULL) ^ salt;
}

/* Write, read back and restore one page; 0 if the page kept the pattern. */
static int mem_check_page(struct test_ctx *t, uint64_t pa)
{
	static uint64_t save[GUEST_PAGE / 8];
	volatile uint64_t *p = phys_ptr(pa);
	int bad = -1;

	for (unsigned i = 0; i < GUEST_PAGE / 8; i++)
		save[i] = p[i];
	for (unsigned i = 0; i < GUEST_PAGE / 8; i++)
		p[i] = mem_pattern(pa + i * 8, 0x5a5aa5a5f00dULL);
	mb();
	for (unsigned i = 0; i < GUEST_PAGE / 8 && bad < 0; i++) {
		if (p[i] != mem_pattern(pa + i * 8, 0x5a5aa5a5f00dULL))
			bad = (int)i;
	}
	for (unsigned i = 0; i < GUEST_PAGE / 8; i++)
		p[i] = save[i];
	if (bad >= 0)
		return test_fail(t, "mismatch at 0x%llx", (unsigned long long)(pa + bad * 8));
	return 0;
}

#define MEM_NO_PAGE (~0ULL)

/* Move a candidate page off the guest's own image (code, data, stacks,
 * page tables); MEM_NO_PAGE if the region has no other page. */
static uint64_t mem_avoid_self(uint64_t pa, uint64_t lo, uint64_t hi)
{
	uint64_t img_lo = (uintptr_t)_image_start, img_hi = (uintptr_t)_image_end;

	if (pa + GUEST_PAGE > img_lo && pa < img_hi)
		pa = pa < (lo + hi) / 2 && img_hi + GUEST_PAGE <= hi ? img_hi : img_lo - GUEST_PAGE;
	if (pa < lo || pa + GUEST_PAGE > hi)
		return MEM_NO_PAGE;
	return pa;
}

static int mem_check_region(struct test_ctx *t, const struct guest_region *r)
{
	uint64_t lo = (r->addr + GUEST_PAGE - 1) & ~(uint64_t)(GUEST_PAGE - 1);
	uint64_t hi = (r->addr + r->size) & ~(uint64_t)(GUEST_PAGE - 1);
	uint64_t pages[3];

	if (hi <= lo) {
		con_printf("mem: region 0x%llx has no whole page\n", (unsigned long long)r->addr);
		return 0;
	}
	if (hi > t->g->mapped_end)
		return test_fail(t, "region 0x%llx-0x%llx not mapped", (unsigned long long)lo,
				 (unsigned long long)hi);
	pages[0] = lo;
	pages[1] = lo + (((hi - lo) / 2) & ~(uint64_t)(GUEST_PAGE - 1));
	pages[2] = hi - GUEST_PAGE;
	for (unsigned i = 0; i < 3; i++) {
		pages[i] = mem_avoid_self(pages[i], lo, hi);
		if (pages[i] != MEM_NO_PAGE && mem_check_page(t, pages[i]) < 0)
			return -1;
	}
	con_printf("mem: ok 0x%llx-0x%llx pages 0x%llx 0x%llx 0x%llx\n", (unsigned long long)lo,
		   (unsigned long long)hi, (unsigned long long)pages[0],
		   (unsigned long long)pages[1], (unsigned long long)pages[2]);
	return 0;
}

int test_mem(struct test_ctx *t)
{
	unsigned nram = 0;

	for (unsigned i = 0; i < t->g->nregions; i++) {
		if (t->g->regions[i].type != GUEST_E820_RAM)
			continue;
		nram++;
		if (mem_check_region(t, &t->g->regions[i]) < 0)
			return -1;
	}
	if (!nram)
		return test_fail(t, "no RAM regions in the memory map");
	return 0;
}

/* Deliberately fault (a #GP from a non-canonical load) to exercise the
 * exception report: prints EXCEPTION vector=13 ... and stops the VM. */
int test_fault(struct test_ctx *t)
{
	volatile uint64_t *p = phys_ptr(0x8000000000000000ULL);

	(void)*p;
	return test_fail(t, "no exception");
}
