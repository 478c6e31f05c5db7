/* Zero page, e820 and PVH start_info tests, for memory sizes around the
 * 32-bit MMIO hole. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "boot/kernel.h"
#include "boot/layout.h"
#include "boot/pvh.h"
#include "boot/zeropage.h"

struct e820_want {
	uint64_t addr, size;
	uint32_t type;
};

static void check_e820(const struct boot_e820_entry *got, int n, const struct e820_want *want,
		       int nwant)
{
	assert_int_equal(n, nwant);
	for (int i = 0; i < n; i++) {
		assert_int_equal(got[i].addr, want[i].addr);
		assert_int_equal(got[i].size, want[i].size);
		assert_int_equal(got[i].type, want[i].type);
	}
}

/* The map every size shares below 1 MiB. */
#define LOW_ENTRIES                                                                                \
	{0, LAYOUT_EBDA_START, E820_TYPE_RAM},                                                     \
	{                                                                                          \
		LAYOUT_EBDA_START, MiB(1) - LAYOUT_EBDA_START, E820_TYPE_RESERVED                  \
	}

static void e820_for(uint64_t ram, const struct e820_want *want, int nwant)
{
	struct guest_mem mem;
	struct boot_e820_entry e[E820_MAX_ENTRIES_ZEROPAGE];

	gm_layout(&mem, ram);
	check_e820(e, e820_build(&mem, e, E820_MAX_ENTRIES_ZEROPAGE), want, nwant);
}

static void test_e820_sizes(void **state)
{
	const struct e820_want m128[] = {LOW_ENTRIES, {MiB(1), MiB(127), E820_TYPE_RAM}};
	const struct e820_want g3[] = {LOW_ENTRIES, {MiB(1), GiB(3) - MiB(1), E820_TYPE_RAM}};
	const struct e820_want g3p[] = {
	    LOW_ENTRIES, {MiB(1), GiB(3) - MiB(1), E820_TYPE_RAM}, {GiB(4), MiB(2), E820_TYPE_RAM}};
	const struct e820_want g4[] = {
	    LOW_ENTRIES, {MiB(1), GiB(3) - MiB(1), E820_TYPE_RAM}, {GiB(4), GiB(1), E820_TYPE_RAM}};
	const struct e820_want g6[] = {
	    LOW_ENTRIES, {MiB(1), GiB(3) - MiB(1), E820_TYPE_RAM}, {GiB(4), GiB(3), E820_TYPE_RAM}};

	(void)state;
	e820_for(MiB(128), m128, 3);
	e820_for(GiB(3), g3, 3);
	e820_for(GiB(3) + MiB(2), g3p, 4);
	e820_for(GiB(4), g4, 4);
	e820_for(GiB(6), g6, 4);
}

static void test_e820_tiny_and_full(void **state)
{
	const struct e820_want k512[] = {{0, KiB(512), E820_TYPE_RAM}};
	const struct e820_want m1[] = {LOW_ENTRIES};
	struct guest_mem mem;
	struct boot_e820_entry e[4];

	(void)state;
	e820_for(KiB(512), k512, 1);
	e820_for(MiB(1), m1, 2);
	gm_layout(&mem, GiB(6));
	assert_int_equal(e820_build(&mem, e, 3), -E2BIG);
	assert_int_equal(e820_build(&mem, e, 0), -E2BIG);
}

static void kernel_elf(struct kernel_image *k)
{
	memset(k, 0, sizeof(*k));
	k->protocol = BOOT_LINUX64;
	k->entry = MiB(16);
	k->load_start = MiB(16);
	k->load_end = MiB(20);
	k->cmdline_max = LAYOUT_CMDLINE_MAX;
}

static void read_bp(const struct guest_mem *mem, struct boot_params *bp)
{
	assert_int_equal(gm_read(mem, bp, LAYOUT_ZERO_PAGE, sizeof(*bp)), 0);
}

static void test_zeropage_elf(void **state)
{
	struct guest_mem mem;
	struct kernel_image k;
	struct boot_params bp;
	struct fault f = {{0}};

	(void)state;
	kernel_elf(&k);
	assert_int_equal(gm_create(&mem, MiB(128), GM_BACKING_ANON), 0);
	assert_int_equal(zeropage_write(&mem, &k, LAYOUT_CMDLINE_START, 40, MiB(100), 12345, &f),
			 0);
	read_bp(&mem, &bp);
	assert_int_equal(bp.hdr.type_of_loader, 0xff);
	assert_int_equal(bp.hdr.boot_flag, 0xAA55);
	assert_int_equal(bp.hdr.header, 0x53726448);
	assert_int_equal(bp.hdr.kernel_alignment, 0x1000000);
	assert_int_equal(bp.hdr.cmd_line_ptr, LAYOUT_CMDLINE_START);
	assert_int_equal(bp.ext_cmd_line_ptr, 0);
	assert_int_equal(bp.hdr.cmdline_size, 40);
	assert_int_equal(bp.hdr.ramdisk_image, MiB(100));
	assert_int_equal(bp.hdr.ramdisk_size, 12345);
	assert_int_equal(bp.ext_ramdisk_image, 0);
	assert_true(bp.hdr.loadflags & LOADED_HIGH);
	assert_int_equal(bp.sentinel, 0);
	assert_int_equal(bp.e820_entries, 3);
	assert_int_equal(bp.e820_table[2].addr, MiB(1));
	assert_int_equal(bp.e820_table[2].size, MiB(127));
	/* No initrd: the fields stay zero. */
	assert_int_equal(zeropage_write(&mem, &k, LAYOUT_CMDLINE_START, 40, 0, 0, &f), 0);
	read_bp(&mem, &bp);
	assert_int_equal(bp.hdr.ramdisk_image, 0);
	assert_int_equal(bp.hdr.ramdisk_size, 0);
	gm_destroy(&mem);
}

static void test_zeropage_bzimage_6g(void **state)
{
	struct guest_mem mem;
	struct kernel_image k;
	struct boot_params bp;
	struct fault f = {{0}};

	(void)state;
	kernel_elf(&k);
	k.is_bzimage = true;
	k.setup.version = 0x020f;
	k.setup.kernel_alignment = 0x200000;
	k.setup.init_size = 0x1234000;
	k.setup.cmdline_size = 2047;
	k.setup.loadflags = LOADED_HIGH | QUIET_FLAG;
	k.setup.heap_end_ptr = 0x9e00;
	assert_int_equal(gm_create(&mem, GiB(6), GM_BACKING_ANON), 0);
	/* An initrd above 4 GiB needs the ext_ fields. */
	assert_int_equal(
	    zeropage_write(&mem, &k, LAYOUT_CMDLINE_START, 10, GiB(5) + 0x3000, 0x2000, &f), 0);
	read_bp(&mem, &bp);
	assert_int_equal(bp.hdr.version, 0x020f);
	assert_int_equal(bp.hdr.kernel_alignment, 0x200000);
	assert_int_equal(bp.hdr.init_size, 0x1234000);
	assert_int_equal(bp.hdr.cmdline_size, 2047);
	assert_int_equal(bp.hdr.loadflags, LOADED_HIGH | QUIET_FLAG);
	assert_int_equal(bp.hdr.heap_end_ptr, 0);
	assert_int_equal(bp.hdr.type_of_loader, 0xff);
	assert_int_equal(bp.hdr.ramdisk_image, 0x3000 + (uint32_t)GiB(1));
	assert_int_equal(bp.ext_ramdisk_image, 1);
	assert_int_equal(bp.hdr.ramdisk_size, 0x2000);
	assert_int_equal(bp.e820_entries, 4);
	assert_int_equal(bp.e820_table[3].addr, GiB(4));
	assert_int_equal(bp.e820_table[3].size, GiB(3));
	gm_destroy(&mem);
}

static void test_zeropage_refusals(void **state)
{
	struct guest_mem mem;
	struct kernel_image k;
	struct fault f = {{0}};

	(void)state;
	kernel_elf(&k);
	assert_int_equal(gm_create(&mem, MiB(128), GM_BACKING_ANON), 0);
	k.cmdline_max = 256;
	assert_int_equal(zeropage_write(&mem, &k, LAYOUT_CMDLINE_START, 257, 0, 0, &f), -EINVAL);
	assert_non_null(strstr(f.msg, "accepts 256"));
	assert_int_equal(zeropage_write(&mem, &k, MiB(128), 10, 0, 0, &f), -EINVAL);
	assert_int_equal(zeropage_write(&mem, &k, LAYOUT_CMDLINE_START, 10, MiB(127), MiB(2), &f),
			 -EINVAL);
	assert_int_equal(zeropage_write(&mem, &k, LAYOUT_CMDLINE_START, 10, UINT64_MAX, 2, &f),
			 -EINVAL);
	gm_destroy(&mem);
	/* Layout only, nothing mapped: the write itself fails. */
	gm_layout(&mem, MiB(128));
	assert_int_equal(zeropage_write(&mem, &k, LAYOUT_CMDLINE_START, 10, 0, 0, &f), -EFAULT);
}

static void test_pvh_start_info(void **state)
{
	struct guest_mem mem;
	struct hvm_start_info si;
	struct hvm_modlist_entry mod;
	struct hvm_memmap_table_entry map[4];
	struct fault f = {{0}};

	(void)state;
	assert_int_equal(gm_create(&mem, GiB(3) + MiB(2), GM_BACKING_ANON), 0);
	assert_int_equal(pvh_write_start_info(&mem, LAYOUT_CMDLINE_START, MiB(64), 4096, &f), 0);
	assert_int_equal(gm_read(&mem, &si, LAYOUT_PVH_INFO_START, sizeof(si)), 0);
	assert_int_equal(si.magic, 0x336ec578);
	assert_int_equal(si.version, 1);
	assert_int_equal(si.flags, 0);
	assert_int_equal(si.cmdline_paddr, LAYOUT_CMDLINE_START);
	assert_int_equal(si.rsdp_paddr, 0);
	assert_int_equal(si.nr_modules, 1);
	assert_int_equal(si.modlist_paddr, LAYOUT_PVH_MODLIST);
	assert_int_equal(gm_read(&mem, &mod, LAYOUT_PVH_MODLIST, sizeof(mod)), 0);
	assert_int_equal(mod.paddr, MiB(64));
	assert_int_equal(mod.size, 4096);
	assert_int_equal(mod.cmdline_paddr, 0);
	assert_int_equal(si.memmap_paddr, LAYOUT_PVH_MEMMAP);
	assert_int_equal(si.memmap_entries, 4);
	assert_int_equal(gm_read(&mem, map, LAYOUT_PVH_MEMMAP, sizeof(map)), 0);
	assert_int_equal(map[0].addr, 0);
	assert_int_equal(map[0].size, LAYOUT_EBDA_START);
	assert_int_equal(map[0].type, HVM_MEMMAP_TYPE_RAM);
	assert_int_equal(map[1].type, HVM_MEMMAP_TYPE_RESERVED);
	assert_int_equal(map[2].addr, MiB(1));
	assert_int_equal(map[2].size, GiB(3) - MiB(1));
	assert_int_equal(map[3].addr, GiB(4));
	assert_int_equal(map[3].size, MiB(2));
	assert_int_equal(map[3].reserved, 0);

	/* No initrd: no modules. */
	assert_int_equal(pvh_write_start_info(&mem, LAYOUT_CMDLINE_START, 0, 0, &f), 0);
	assert_int_equal(gm_read(&mem, &si, LAYOUT_PVH_INFO_START, sizeof(si)), 0);
	assert_int_equal(si.nr_modules, 0);
	assert_int_equal(si.modlist_paddr, 0);
	/* Refusals: initrd or command line outside RAM. */
	assert_int_equal(pvh_write_start_info(&mem, LAYOUT_CMDLINE_START, GiB(3), 4096, &f),
			 -EINVAL);
	assert_int_equal(pvh_write_start_info(&mem, GiB(3) + 5, 0, 0, &f), -EINVAL);
	gm_destroy(&mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_e820_sizes),	      cmocka_unit_test(test_e820_tiny_and_full),
	    cmocka_unit_test(test_zeropage_elf),      cmocka_unit_test(test_zeropage_bzimage_6g),
	    cmocka_unit_test(test_zeropage_refusals), cmocka_unit_test(test_pvh_start_info),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
