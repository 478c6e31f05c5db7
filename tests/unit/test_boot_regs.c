/* Boot register tests: GDT, IDT and page tables in guest memory, and the
 * sregs/regs/fpu/MSR values handed to KVM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "boot/layout.h"
#include "boot/msr.h"
#include "boot/regs.h"

#define ENTRY 0x1000000ULL

static uint64_t rd64(const struct guest_mem *mem, uint64_t gpa)
{
	uint64_t v = 0;

	assert_int_equal(gm_read(mem, &v, gpa, sizeof(v)), 0);
	return v;
}

static void test_gdt_entry(void **state)
{
	struct kvm_segment s;

	(void)state;
	/* Known encodings (as on real 64-bit boot GDTs). */
	assert_int_equal(regs_gdt_entry(0xa09b, 0, 0xfffff), 0x00af9b000000ffffULL);
	assert_int_equal(regs_gdt_entry(0xc093, 0, 0xfffff), 0x00cf93000000ffffULL);
	assert_int_equal(regs_gdt_entry(0x808b, 0, 0xfffff), 0x008f8b000000ffffULL);
	assert_int_equal(regs_gdt_entry(0x0093, 0x12345678, 0xabcde), 0x120a93345678bcdeULL);

	regs_segment_from_gdt(regs_gdt_entry(0xa09b, 0, 0xfffff), 1, &s);
	assert_int_equal(s.selector, 8);
	assert_int_equal(s.type, 0xb);
	assert_int_equal(s.present, 1);
	assert_int_equal(s.s, 1);
	assert_int_equal(s.l, 1);
	assert_int_equal(s.db, 0);
	assert_int_equal(s.g, 1);
	assert_int_equal(s.limit, 0xffffffff);
	assert_int_equal(s.unusable, 0);
	regs_segment_from_gdt(regs_gdt_entry(0x0093, 0x12345678, 0xabcde), 2, &s);
	assert_int_equal(s.base, 0x12345678);
	assert_int_equal(s.limit, 0xabcde);
	assert_int_equal(s.g, 0);
	assert_int_equal(s.selector, 16);
	regs_segment_from_gdt(0, 0, &s);
	assert_int_equal(s.unusable, 1);
}

static void test_long_mode(void **state)
{
	struct guest_mem mem;
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	(void)state;
	assert_int_equal(gm_create(&mem, MiB(64), GM_BACKING_ANON), 0);
	memset(&sregs, 0, sizeof(sregs));
	sregs.cr0 = 0x60000010; /* as after reset */
	sregs.apic_base = 0xfee00900;
	memset(&regs, 0xff, sizeof(regs));
	assert_int_equal(regs_setup_long_mode(&mem, ENTRY, LAYOUT_ZERO_PAGE, &sregs, &regs), 0);

	/* GDT and IDT in memory. */
	assert_int_equal(rd64(&mem, LAYOUT_GDT_START), 0);
	assert_int_equal(rd64(&mem, LAYOUT_GDT_START + 8), 0x00af9b000000ffffULL);
	assert_int_equal(rd64(&mem, LAYOUT_GDT_START + 16), 0x00cf93000000ffffULL);
	assert_int_equal(rd64(&mem, LAYOUT_GDT_START + 24), 0x008f8b000000ffffULL);
	assert_int_equal(rd64(&mem, LAYOUT_IDT_START), 0);
	assert_int_equal(sregs.gdt.base, LAYOUT_GDT_START);
	assert_int_equal(sregs.gdt.limit, 31);
	assert_int_equal(sregs.idt.base, LAYOUT_IDT_START);
	assert_int_equal(sregs.idt.limit, 7);

	/* Segments. */
	assert_int_equal(sregs.cs.selector, 8);
	assert_int_equal(sregs.cs.l, 1);
	assert_int_equal(sregs.ds.selector, 16);
	assert_int_equal(sregs.ss.selector, 16);
	assert_int_equal(sregs.es.type, 3);
	assert_int_equal(sregs.fs.present, 1);
	assert_int_equal(sregs.gs.db, 1);
	assert_int_equal(sregs.tr.selector, 24);
	assert_int_equal(sregs.tr.type, 0xb);

	/* Control registers: caller's bits kept, ours added. */
	assert_int_equal(sregs.cr0, 0x60000010 | X86_CR0_PE | X86_CR0_PG);
	assert_int_equal(sregs.cr3, LAYOUT_PML4_START);
	assert_true(sregs.cr4 & X86_CR4_PAE);
	assert_int_equal(sregs.efer, EFER_LME | EFER_LMA);
	assert_int_equal(sregs.apic_base, 0xfee00900);

	assert_int_equal(regs.rflags, 2);
	assert_int_equal(regs.rip, ENTRY);
	assert_int_equal(regs.rsp, LAYOUT_BOOT_STACK);
	assert_int_equal(regs.rbp, LAYOUT_BOOT_STACK);
	assert_int_equal(regs.rsi, LAYOUT_ZERO_PAGE);
	assert_int_equal(regs.rax, 0);
	gm_destroy(&mem);
}

static void test_page_tables(void **state)
{
	struct guest_mem mem;
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	(void)state;
	assert_int_equal(gm_create(&mem, MiB(64), GM_BACKING_ANON), 0);
	memset(gm_ptr(&mem, LAYOUT_PML4_START, 0x1000), 0xaa, 0x1000);
	memset(&sregs, 0, sizeof(sregs));
	assert_int_equal(regs_setup_long_mode(&mem, ENTRY, LAYOUT_ZERO_PAGE, &sregs, &regs), 0);
	assert_int_equal(rd64(&mem, LAYOUT_PML4_START), LAYOUT_PDPTE_START | 3);
	for (int i = 1; i < 512; i++)
		assert_int_equal(rd64(&mem, LAYOUT_PML4_START + i * 8), 0);
	for (int i = 0; i < LAYOUT_PDE_PAGES; i++)
		assert_int_equal(rd64(&mem, LAYOUT_PDPTE_START + i * 8),
				 (LAYOUT_PDE_START + i * 0x1000) | 3);
	/* No 1 GiB pages: the PS bit (0x80) is clear in every PDPT entry. */
	for (int i = 0; i < 512; i++)
		assert_int_equal(rd64(&mem, LAYOUT_PDPTE_START + i * 8) & 0x80, 0);
	assert_int_equal(rd64(&mem, LAYOUT_PDPTE_START + LAYOUT_PDE_PAGES * 8), 0);
	/* 2 MiB pages: PD entry n maps n * 2 MiB, up to 4 GiB. */
	assert_int_equal(rd64(&mem, LAYOUT_PDE_START), 0x83);
	assert_int_equal(rd64(&mem, LAYOUT_PDE_START + 8), MiB(2) | 0x83);
	assert_int_equal(rd64(&mem, LAYOUT_PDE_START + 0x1000 * 3 + 8 * 511),
			 (GiB(4) - MiB(2)) | 0x83);
	for (uint64_t n = 0; n < 2048; n++)
		assert_int_equal(rd64(&mem, LAYOUT_PDE_START + n * 8), (n << 21) | 0x83);
	gm_destroy(&mem);
}

static void test_pvh(void **state)
{
	struct guest_mem mem;
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	(void)state;
	assert_int_equal(gm_create(&mem, MiB(64), GM_BACKING_ANON), 0);
	memset(&sregs, 0, sizeof(sregs));
	sregs.cr0 = 0x60000010;
	sregs.cr4 = X86_CR4_PAE;
	sregs.efer = EFER_LME;
	assert_int_equal(regs_setup_pvh(&mem, 0x1000abc, LAYOUT_PVH_INFO_START, &sregs, &regs), 0);
	assert_int_equal(rd64(&mem, LAYOUT_GDT_START + 8), 0x00cf9b000000ffffULL);
	assert_int_equal(rd64(&mem, LAYOUT_GDT_START + 16), 0x00cf93000000ffffULL);
	assert_int_equal(sregs.cs.selector, 8);
	assert_int_equal(sregs.cs.db, 1);
	assert_int_equal(sregs.cs.l, 0);
	assert_int_equal(sregs.cs.limit, 0xffffffff);
	assert_int_equal(sregs.cs.base, 0);
	assert_int_equal(sregs.ds.selector, 16);
	assert_int_equal(sregs.ds.limit, 0xffffffff);
	assert_int_equal(sregs.ss.db, 1);
	assert_int_equal(sregs.tr.selector, 24);
	assert_int_equal(sregs.tr.present, 1);
	assert_int_equal(sregs.cr0, X86_CR0_PE);
	assert_int_equal(sregs.cr4, 0);
	assert_int_equal(sregs.efer, 0);
	assert_int_equal(regs.rip, 0x1000abc);
	assert_int_equal(regs.rbx, LAYOUT_PVH_INFO_START);
	assert_int_equal(regs.rflags, 2);
	assert_int_equal(regs.rsi, 0);
	assert_int_equal(regs_setup_pvh(&mem, GiB(4), LAYOUT_PVH_INFO_START, &sregs, &regs),
			 -EINVAL);
	assert_int_equal(regs_setup_pvh(&mem, ENTRY, GiB(5), &sregs, &regs), -EINVAL);
	gm_destroy(&mem);
}

static void test_unmapped(void **state)
{
	struct guest_mem mem;
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	(void)state;
	memset(&sregs, 0, sizeof(sregs));
	gm_layout(&mem, MiB(64)); /* nothing mapped */
	assert_int_equal(regs_setup_long_mode(&mem, ENTRY, LAYOUT_ZERO_PAGE, &sregs, &regs),
			 -EFAULT);
	assert_int_equal(regs_setup_pvh(&mem, ENTRY, LAYOUT_PVH_INFO_START, &sregs, &regs),
			 -EFAULT);
	/* RAM ends inside the page tables. */
	assert_int_equal(gm_create(&mem, 0xc000, GM_BACKING_ANON), 0);
	assert_int_equal(regs_setup_long_mode(&mem, ENTRY, LAYOUT_ZERO_PAGE, &sregs, &regs),
			 -EFAULT);
	gm_destroy(&mem);
}

static void test_fpu_msrs(void **state)
{
	struct kvm_fpu fpu;
	struct kvm_msr_entry m[32];
	int n;
	bool misc = false, tsc = false, lstar = false;

	(void)state;
	memset(&fpu, 0xff, sizeof(fpu));
	regs_fpu(&fpu);
	assert_int_equal(fpu.fcw, 0x37f);
	assert_int_equal(fpu.mxcsr, 0x1f80);
	assert_int_equal(fpu.fsw, 0);
	assert_int_equal(fpu.xmm[3][5], 0);

	n = regs_boot_msrs(m, 32);
	assert_true(n >= 10);
	for (int i = 0; i < n; i++) {
		assert_int_equal(m[i].reserved, 0);
		if (m[i].index == MSR_IA32_MISC_ENABLE) {
			misc = true;
			assert_int_equal(m[i].data, MSR_IA32_MISC_ENABLE_FAST_STRING);
		} else if (m[i].index == MSR_MTRR_DEF_TYPE) {
			assert_int_equal(m[i].data, (1 << 11) | 6);
		} else {
			assert_int_equal(m[i].data, 0);
		}
		tsc |= m[i].index == MSR_IA32_TSC;
		lstar |= m[i].index == MSR_LSTAR;
	}
	assert_true(misc && tsc && lstar);
	assert_int_equal(regs_boot_msrs(m, n - 1), -E2BIG);
	assert_int_equal(regs_boot_msrs(NULL, 32), -E2BIG);
	assert_int_equal(regs_boot_msrs(m, n), n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_gdt_entry),	cmocka_unit_test(test_long_mode),
	    cmocka_unit_test(test_page_tables), cmocka_unit_test(test_pvh),
	    cmocka_unit_test(test_unmapped),	cmocka_unit_test(test_fpu_msrs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
