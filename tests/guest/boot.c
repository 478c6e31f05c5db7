/* Boot information and CPU tables: the PVH start_info (command line and
 * memory map), page tables for RAM above 4 GiB, and the exception IDT. */
#include "arch.h"
#include "con.h"
#include "guest.h"
#include "lib.h"

#define GIB	      (1ULL << 30)
#define MIB2	      (1ULL << 21)
#define IDT_GATE_INTR 0x8e /* present, DPL 0, 64-bit interrupt gate */

/* The Xen PVH boot ABI (xen/include/public/arch-x86/hvm/start_info.h),
 * written out here because no installed header carries it. */
struct pvh_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr; /* version >= 1 */
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct pvh_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

struct idt_gate {
	uint16_t off_lo;
	uint16_t sel;
	uint8_t ist;
	uint8_t attr;
	uint16_t off_mid;
	uint32_t off_hi;
	uint32_t zero;
} __attribute__((packed));

struct idt_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

/* Written once by the boot CPU, then only read (by every CPU). */
static struct idt_gate idt[32] __attribute__((aligned(16)));

/* Everything the loader handed over must lie below 4 GiB, which is all
 * that is mapped this early. */
static bool boot_range_ok(uint64_t pa, uint64_t len)
{
	uint64_t end;

	return !__builtin_add_overflow(pa, len, &end) && end <= 4 * GIB;
}

static void boot_copy_cmdline(struct guest *g, uint64_t pa)
{
	const char *src = phys_ptr(pa);
	size_t n = 0;

	if (pa && boot_range_ok(pa, GUEST_CMDLINE_MAX)) {
		while (n < GUEST_CMDLINE_MAX - 1 && src[n])
			n++;
		memcpy(g->cmdline, src, n);
	} else if (pa) {
		con_printf("guest: cmdline address 0x%llx out of range\n", (unsigned long long)pa);
	}
	g->cmdline[n] = '\0';
}

static void boot_copy_memmap(struct guest *g, const struct pvh_start_info *si)
{
	const struct pvh_memmap_entry *e;
	uint32_t n = si->memmap_entries;

	if (si->version < 1 || !si->memmap_paddr || !n) {
		con_printf("guest: no memory map in start_info (version %u)\n", si->version);
		return;
	}
	if (n > GUEST_MEMMAP_MAX) {
		con_printf("guest: memmap has %u entries, using %u\n", n, GUEST_MEMMAP_MAX);
		n = GUEST_MEMMAP_MAX;
	}
	if (!boot_range_ok(si->memmap_paddr, (uint64_t)n * sizeof(*e))) {
		con_printf("guest: memmap address out of range\n");
		return;
	}
	e = phys_ptr(si->memmap_paddr);
	for (uint32_t i = 0; i < n; i++) {
		g->regions[i].addr = e[i].addr;
		g->regions[i].size = e[i].size;
		g->regions[i].type = e[i].type;
	}
	g->nregions = n;
}

int boot_read_start_info(struct guest *g, uint32_t pa)
{
	struct pvh_start_info si;

	if (!pa || !boot_range_ok(pa, sizeof(si))) {
		con_printf("guest: FATAL bad start_info address 0x%x\n", pa);
		return -1;
	}
	memcpy(&si, phys_ptr(pa), sizeof(si));
	if (si.magic != GUEST_PVH_MAGIC) {
		con_printf("guest: FATAL start_info magic 0x%x\n", si.magic);
		return -1;
	}
	con_printf("guest: pvh: version=%u flags=0x%x nr_modules=%u cmdline=0x%llx "
		   "memmap=0x%llx entries=%u\n",
		   si.version, si.flags, si.nr_modules, (unsigned long long)si.cmdline_paddr,
		   (unsigned long long)si.memmap_paddr, si.memmap_entries);
	boot_copy_cmdline(g, si.cmdline_paddr);
	boot_copy_memmap(g, &si);
	return 0;
}

static void boot_map_gib(unsigned gi)
{
	uint64_t *pd = pd_tables[gi];

	for (unsigned j = 0; j < 512; j++)
		pd[j] = ((uint64_t)gi * GIB + (uint64_t)j * MIB2) | GUEST_PTE_P | GUEST_PTE_RW |
			GUEST_PTE_PS;
	pdpt[gi] = (uint64_t)(uintptr_t)pd | GUEST_PTE_P | GUEST_PTE_RW;
}

void boot_map_high(struct guest *g)
{
	uint64_t limit = (uint64_t)GUEST_MAP_GIB * GIB;

	g->mapped_end = 4 * GIB; /* entry.S mapped the first 4 GiB */
	for (unsigned i = 0; i < g->nregions; i++) {
		const struct guest_region *r = &g->regions[i];
		uint64_t end;

		if (r->type != GUEST_E820_RAM || __builtin_add_overflow(r->addr, r->size, &end) ||
		    end <= 4 * GIB)
			continue;
		if (end > limit) {
			con_printf("guest: RAM above %u GiB is not mapped\n", GUEST_MAP_GIB);
			end = limit;
		}
		for (uint64_t gi = (r->addr < 4 * GIB ? 4 * GIB : r->addr) / GIB;
		     gi < (end + GIB - 1) / GIB; gi++) {
			if (!pdpt[gi])
				boot_map_gib((unsigned)gi);
		}
		if (end > g->mapped_end)
			g->mapped_end = (end + GIB - 1) & ~(GIB - 1);
	}
	/* New entries only: no stale TLB entries to flush. */
	barrier();
}

void boot_setup_idt(void)
{
	for (unsigned v = 0; v < 32; v++) {
		uint64_t h = isr_table[v];

		idt[v].off_lo = (uint16_t)h;
		idt[v].sel = GUEST_SEL_CODE64;
		idt[v].ist = 0;
		idt[v].attr = IDT_GATE_INTR;
		idt[v].off_mid = (uint16_t)(h >> 16);
		idt[v].off_hi = (uint32_t)(h >> 32);
		idt[v].zero = 0;
	}
	boot_load_idt();
}

/* Also loaded by APs: the same IDT serves every CPU. */
void boot_load_idt(void)
{
	struct idt_ptr p = {.limit = sizeof(idt) - 1, .base = (uint64_t)(uintptr_t)idt};

	__asm__ volatile("lidt %0" : : "m"(p));
}

void trap_report(const uint64_t *frame)
{
	uint64_t cr2;
	uint32_t a = 1, b, c = 0, d;

	__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
	__asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
	con_printf("EXCEPTION vector=%llu error=0x%llx rip=0x%llx cr2=0x%llx rsp=0x%llx cpu=%u\n",
		   (unsigned long long)frame[0], (unsigned long long)frame[1],
		   (unsigned long long)frame[2], (unsigned long long)cr2,
		   (unsigned long long)frame[5], b >> 24);
	guest_stop(RESET_I8042);
}
