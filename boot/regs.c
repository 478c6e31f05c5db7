/* Boot vCPU state: GDT, IDT, identity page tables, segment and control
 * registers, FPU and MSRs. */
#include "boot/regs.h"

#include <errno.h>
#include <string.h>

#include "boot/layout.h"
#include "boot/msr.h"

#define REGS_PAGE_ENTRIES 512
#define REGS_PTE_P	  0x01ULL
#define REGS_PTE_RW	  0x02ULL
#define REGS_PTE_PS	  0x80ULL /* 2 MiB page in a PD entry */
#define REGS_RFLAGS_RSVD  0x2ULL  /* bit 1 is always set */
#define REGS_IDT_LIMIT	  7	  /* one zero entry: no vectors */

_Static_assert(LAYOUT_GDT_START + REGS_GDT_ENTRIES * 8ULL <= LAYOUT_IDT_START,
	       "GDT overlaps the IDT");
_Static_assert(LAYOUT_PDE_START + LAYOUT_PDE_PAGES * 0x1000ULL <= LAYOUT_CMDLINE_START,
	       "page tables overlap the command line");

uint64_t regs_gdt_entry(uint16_t flags, uint32_t base, uint32_t limit)
{
	return (((uint64_t)base & 0xff000000) << 32) | (((uint64_t)flags & 0xf0ff) << 40) |
	       (((uint64_t)limit & 0xf0000) << 32) | (((uint64_t)base & 0xffffff) << 16) |
	       ((uint64_t)limit & 0xffff);
}

void regs_segment_from_gdt(uint64_t e, uint8_t index, struct kvm_segment *seg)
{
	uint32_t limit = (uint32_t)((e & 0xffff) | ((e >> 32) & 0xf0000));

	memset(seg, 0, sizeof(*seg));
	seg->base = ((e >> 16) & 0xffffff) | ((e >> 32) & 0xff000000);
	seg->type = (e >> 40) & 0xf;
	seg->s = (e >> 44) & 1;
	seg->dpl = (e >> 45) & 3;
	seg->present = (e >> 47) & 1;
	seg->avl = (e >> 52) & 1;
	seg->l = (e >> 53) & 1;
	seg->db = (e >> 54) & 1;
	seg->g = (e >> 55) & 1;
	seg->limit = seg->g ? (limit << 12) | 0xfff : limit;
	seg->selector = (uint16_t)(index * 8);
	seg->unusable = !seg->present;
}

/* Write gdt at LAYOUT_GDT_START and a zero IDT; load them and the segment
 * registers into sregs. */
static int regs_load_gdt(const struct guest_mem *mem, const uint64_t gdt[REGS_GDT_ENTRIES],
			 struct kvm_sregs *sregs)
{
	uint64_t idt = 0;
	struct kvm_segment data;

	if (gm_write(mem, LAYOUT_GDT_START, gdt, REGS_GDT_ENTRIES * sizeof(gdt[0])) ||
	    gm_write(mem, LAYOUT_IDT_START, &idt, sizeof(idt)))
		return -EFAULT;
	sregs->gdt.base = LAYOUT_GDT_START;
	sregs->gdt.limit = REGS_GDT_ENTRIES * sizeof(gdt[0]) - 1;
	sregs->idt.base = LAYOUT_IDT_START;
	sregs->idt.limit = REGS_IDT_LIMIT;
	regs_segment_from_gdt(gdt[REGS_GDT_CODE], REGS_GDT_CODE, &sregs->cs);
	regs_segment_from_gdt(gdt[REGS_GDT_DATA], REGS_GDT_DATA, &data);
	sregs->ds = data;
	sregs->es = data;
	sregs->fs = data;
	sregs->gs = data;
	sregs->ss = data;
	regs_segment_from_gdt(gdt[REGS_GDT_TSS], REGS_GDT_TSS, &sregs->tr);
	return 0;
}

/* PML4 -> one PDPT -> LAYOUT_PDE_PAGES PDs of 2 MiB pages: identity map of
 * the first LAYOUT_PDE_PAGES GiB. */
static int regs_write_page_tables(const struct guest_mem *mem)
{
	uint64_t page[REGS_PAGE_ENTRIES];

	memset(page, 0, sizeof(page));
	page[0] = LAYOUT_PDPTE_START | REGS_PTE_P | REGS_PTE_RW;
	if (gm_write(mem, LAYOUT_PML4_START, page, sizeof(page)))
		return -EFAULT;
	memset(page, 0, sizeof(page));
	for (int i = 0; i < LAYOUT_PDE_PAGES; i++)
		page[i] = (LAYOUT_PDE_START + i * sizeof(page)) | REGS_PTE_P | REGS_PTE_RW;
	if (gm_write(mem, LAYOUT_PDPTE_START, page, sizeof(page)))
		return -EFAULT;
	for (int pd = 0; pd < LAYOUT_PDE_PAGES; pd++) {
		for (int i = 0; i < REGS_PAGE_ENTRIES; i++)
			page[i] = ((uint64_t)(pd * REGS_PAGE_ENTRIES + i) << 21) | REGS_PTE_P |
				  REGS_PTE_RW | REGS_PTE_PS;
		if (gm_write(mem, LAYOUT_PDE_START + pd * sizeof(page), page, sizeof(page)))
			return -EFAULT;
	}
	return 0;
}

int regs_setup_long_mode(const struct guest_mem *mem, uint64_t entry, uint64_t boot_params_gpa,
			 struct kvm_sregs *sregs, struct kvm_regs *regs)
{
	const uint64_t gdt[REGS_GDT_ENTRIES] = {
	    0, regs_gdt_entry(0xa09b, 0, 0xfffff), /* code: 64-bit, present, exec/read */
	    regs_gdt_entry(0xc093, 0, 0xfffff),	   /* data: 32-bit, present, read/write */
	    regs_gdt_entry(0x808b, 0, 0xfffff),	   /* tss: present, busy 64-bit TSS */
	};
	int err = regs_load_gdt(mem, gdt, sregs);

	if (!err)
		err = regs_write_page_tables(mem);
	if (err)
		return err;
	sregs->cr3 = LAYOUT_PML4_START;
	sregs->cr4 |= X86_CR4_PAE;
	sregs->cr0 |= X86_CR0_PE | X86_CR0_PG | X86_CR0_ET;
	sregs->efer |= EFER_LME | EFER_LMA;

	memset(regs, 0, sizeof(*regs));
	regs->rflags = REGS_RFLAGS_RSVD;
	regs->rip = entry;
	regs->rsp = LAYOUT_BOOT_STACK;
	regs->rbp = LAYOUT_BOOT_STACK;
	regs->rsi = boot_params_gpa;
	return 0;
}

int regs_setup_pvh(const struct guest_mem *mem, uint64_t entry, uint64_t start_info_gpa,
		   struct kvm_sregs *sregs, struct kvm_regs *regs)
{
	const uint64_t gdt[REGS_GDT_ENTRIES] = {
	    0, regs_gdt_entry(0xc09b, 0, 0xfffff), /* code: flat 4 GiB, 32-bit */
	    regs_gdt_entry(0xc093, 0, 0xfffff),	   /* data: flat 4 GiB, 32-bit */
	    regs_gdt_entry(0x008b, 0, 0x67),	   /* tss: present, busy */
	};
	int err;

	if (entry >= GiB(4) || start_info_gpa >= GiB(4))
		return -EINVAL;
	err = regs_load_gdt(mem, gdt, sregs);
	if (err)
		return err;
	sregs->cr0 = X86_CR0_PE;
	sregs->cr3 = 0;
	sregs->cr4 = 0;
	sregs->efer = 0;

	memset(regs, 0, sizeof(*regs));
	regs->rflags = REGS_RFLAGS_RSVD;
	regs->rip = entry;
	regs->rbx = start_info_gpa;
	return 0;
}

void regs_fpu(struct kvm_fpu *fpu)
{
	memset(fpu, 0, sizeof(*fpu));
	fpu->fcw = 0x37f;
	fpu->mxcsr = 0x1f80;
}

int regs_boot_msrs(struct kvm_msr_entry *out, int max)
{
	static const struct kvm_msr_entry boot[] = {
	    {.index = MSR_IA32_SYSENTER_CS},
	    {.index = MSR_IA32_SYSENTER_ESP},
	    {.index = MSR_IA32_SYSENTER_EIP},
	    {.index = MSR_STAR},
	    {.index = MSR_CSTAR},
	    {.index = MSR_KERNEL_GS_BASE},
	    {.index = MSR_SYSCALL_MASK},
	    {.index = MSR_LSTAR},
	    {.index = MSR_IA32_TSC},
	    {.index = MSR_IA32_MISC_ENABLE, .data = MSR_IA32_MISC_ENABLE_FAST_STRING},
	    /* Without enabled MTRRs a guest may treat RAM as uncached. */
	    {.index = MSR_MTRR_DEF_TYPE, .data = MSR_MTRR_DEF_TYPE_E | MSR_MTRR_DEF_TYPE_WB},
	};
	int n = (int)(sizeof(boot) / sizeof(boot[0]));

	if (!out || max < n)
		return -E2BIG;
	memcpy(out, boot, sizeof(boot));
	return n;
}
