/* Zero page and e820 map for the Linux 64-bit boot protocol
 * (Documentation/arch/x86/boot.rst, "64-bit boot protocol"). */
#include "boot/zeropage.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "boot/layout.h"

#define ZEROPAGE_BOOT_FLAG 0xAA55
#define ZEROPAGE_HDR_MAGIC 0x53726448 /* "HdrS" */

static int e820_add(struct boot_e820_entry *out, int max, int *n, uint64_t addr, uint64_t size,
		    uint32_t type)
{
	if (size == 0)
		return 0;
	if (*n >= max)
		return -E2BIG;
	out[*n].addr = addr;
	out[*n].size = size;
	out[*n].type = type;
	(*n)++;
	return 0;
}

int e820_build(const struct guest_mem *mem, struct boot_e820_entry *out, int max)
{
	uint64_t low_end = mem->nregions > 0 ? mem->regions[0].size : 0;
	int n = 0, err;

	/* Region 0 starts at 0 and ends at or below the MMIO hole (gm_layout). */
	err = e820_add(out, max, &n, 0, low_end < LAYOUT_EBDA_START ? low_end : LAYOUT_EBDA_START,
		       E820_TYPE_RAM);
	/* Not RAM to the guest: the MP table is found here, and Linux expects
	 * the legacy 640 KiB - 1 MiB range to be taken. */
	if (!err && low_end > LAYOUT_EBDA_START)
		err = e820_add(out, max, &n, LAYOUT_EBDA_START,
			       (low_end < LAYOUT_HIMEM_START ? low_end : LAYOUT_HIMEM_START) -
				   LAYOUT_EBDA_START,
			       E820_TYPE_RESERVED);
	if (!err && low_end > LAYOUT_HIMEM_START)
		err = e820_add(out, max, &n, LAYOUT_HIMEM_START, low_end - LAYOUT_HIMEM_START,
			       E820_TYPE_RAM);
	for (int i = 1; !err && i < mem->nregions; i++)
		err = e820_add(out, max, &n, mem->regions[i].gpa, mem->regions[i].size,
			       E820_TYPE_RAM);
	return err ? err : n;
}

/* The header fields a 64-bit-entry kernel reads, over the image's own. */
static void zeropage_fill_hdr(struct setup_header *h, const struct kernel_image *k)
{
	if (k->is_bzimage) {
		*h = k->setup;
	} else {
		h->kernel_alignment = ZEROPAGE_ELF_ALIGNMENT;
	}
	h->type_of_loader = ZEROPAGE_LOADER_OTHER;
	h->boot_flag = ZEROPAGE_BOOT_FLAG;
	h->header = ZEROPAGE_HDR_MAGIC;
	h->loadflags |= LOADED_HIGH;
	/* The kernel writes these on the real-mode path only; clear them so
	 * nothing stale is passed (no heap, no setup_data list). */
	h->heap_end_ptr = 0;
	h->setup_data = 0;
}

static int zeropage_check(const struct guest_mem *mem, const struct kernel_image *k,
			  uint64_t cmdline_gpa, uint32_t cmdline_len, uint64_t initrd_gpa,
			  uint64_t initrd_len, struct fault *f)
{
	if (cmdline_len > k->cmdline_max) {
		fault_set(f, "kernel command line is %u bytes, the kernel accepts %u", cmdline_len,
			  k->cmdline_max);
		return -EINVAL;
	}
	if (!gm_valid(mem, cmdline_gpa, cmdline_len ? cmdline_len : 1)) {
		fault_set(f, "command line at 0x%" PRIx64 " is not in guest RAM", cmdline_gpa);
		return -EINVAL;
	}
	if (initrd_len && !gm_valid(mem, initrd_gpa, initrd_len)) {
		fault_set(f, "initrd at 0x%" PRIx64 " is not in guest RAM", initrd_gpa);
		return -EINVAL;
	}
	return 0;
}

int zeropage_write(const struct guest_mem *mem, const struct kernel_image *k, uint64_t cmdline_gpa,
		   uint32_t cmdline_len, uint64_t initrd_gpa, uint64_t initrd_len, struct fault *f)
{
	struct boot_params bp;
	int n, err;

	err = zeropage_check(mem, k, cmdline_gpa, cmdline_len, initrd_gpa, initrd_len, f);
	if (err)
		return err;
	memset(&bp, 0, sizeof(bp));
	zeropage_fill_hdr(&bp.hdr, k);
	if (!k->is_bzimage)
		bp.hdr.cmdline_size = cmdline_len;
	bp.hdr.cmd_line_ptr = (uint32_t)cmdline_gpa;
	bp.ext_cmd_line_ptr = (uint32_t)(cmdline_gpa >> 32);
	if (initrd_len) {
		bp.hdr.ramdisk_image = (uint32_t)initrd_gpa;
		bp.ext_ramdisk_image = (uint32_t)(initrd_gpa >> 32);
		bp.hdr.ramdisk_size = (uint32_t)initrd_len;
		bp.ext_ramdisk_size = (uint32_t)(initrd_len >> 32);
	}
	n = e820_build(mem, bp.e820_table, E820_MAX_ENTRIES_ZEROPAGE);
	if (n < 0) {
		fault_set(f, "e820 map does not fit in the zero page");
		return n;
	}
	bp.e820_entries = (uint8_t)n;
	if (gm_write(mem, LAYOUT_ZERO_PAGE, &bp, sizeof(bp))) {
		fault_set(f, "zero page: guest memory is not mapped");
		return -EFAULT;
	}
	return 0;
}
