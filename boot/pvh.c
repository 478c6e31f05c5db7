/* PVH start_info, module list and memory map. */
#include "boot/pvh.h"

#include <asm/bootparam.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "boot/layout.h"
#include "boot/zeropage.h"

_Static_assert(LAYOUT_PVH_INFO_START + sizeof(struct hvm_start_info) <= LAYOUT_PVH_MODLIST,
	       "start_info overlaps the module list");

static int pvh_write_memmap(const struct guest_mem *mem, uint32_t *count, struct fault *f)
{
	struct boot_e820_entry e820[LAYOUT_PVH_MEMMAP_MAX];
	struct hvm_memmap_table_entry map[LAYOUT_PVH_MEMMAP_MAX];
	int n = e820_build(mem, e820, LAYOUT_PVH_MEMMAP_MAX);

	if (n < 0) {
		fault_set(f, "PVH memory map does not fit");
		return n;
	}
	memset(map, 0, sizeof(map));
	for (int i = 0; i < n; i++) {
		map[i].addr = e820[i].addr;
		map[i].size = e820[i].size;
		map[i].type = e820[i].type; /* same numbering */
	}
	if (gm_write(mem, LAYOUT_PVH_MEMMAP, map, (uint64_t)n * sizeof(map[0]))) {
		fault_set(f, "PVH memory map: guest memory is not mapped");
		return -EFAULT;
	}
	*count = (uint32_t)n;
	return 0;
}

int pvh_write_start_info(const struct guest_mem *mem, uint64_t cmdline_gpa, uint64_t initrd_gpa,
			 uint64_t initrd_len, struct fault *f)
{
	struct hvm_start_info si = {
	    .magic = HVM_START_MAGIC_VALUE,
	    .version = HVM_START_INFO_VERSION,
	    .cmdline_paddr = cmdline_gpa,
	    .memmap_paddr = LAYOUT_PVH_MEMMAP,
	};
	int err;

	if (cmdline_gpa && !gm_valid(mem, cmdline_gpa, 1)) {
		fault_set(f, "command line at 0x%" PRIx64 " is not in guest RAM", cmdline_gpa);
		return -EINVAL;
	}
	if (initrd_len) {
		struct hvm_modlist_entry mod = {.paddr = initrd_gpa, .size = initrd_len};

		if (!gm_valid(mem, initrd_gpa, initrd_len)) {
			fault_set(f, "initrd at 0x%" PRIx64 " is not in guest RAM", initrd_gpa);
			return -EINVAL;
		}
		if (gm_write(mem, LAYOUT_PVH_MODLIST, &mod, sizeof(mod))) {
			fault_set(f, "PVH module list: guest memory is not mapped");
			return -EFAULT;
		}
		si.nr_modules = 1;
		si.modlist_paddr = LAYOUT_PVH_MODLIST;
	}
	err = pvh_write_memmap(mem, &si.memmap_entries, f);
	if (err)
		return err;
	if (gm_write(mem, LAYOUT_PVH_INFO_START, &si, sizeof(si))) {
		fault_set(f, "PVH start_info: guest memory is not mapped");
		return -EFAULT;
	}
	return 0;
}
