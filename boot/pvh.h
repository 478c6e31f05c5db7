/* Xen PVH boot ABI, as used by Linux's and other kernels' PVH entry: the
 * kernel starts in 32-bit protected mode with ebx = the guest-physical
 * address of struct hvm_start_info. Layouts follow the public ABI
 * description (Xen's public/arch-x86/hvm/start_info.h), version 1; these are
 * not in the Linux uapi headers. */
#ifndef FLINT_BOOT_PVH_H
#define FLINT_BOOT_PVH_H

#include <stdint.h>

#include "vmm/config.h"
#include "vmm/guest_mem.h"

#define HVM_START_MAGIC_VALUE	 0x336ec578
#define HVM_START_INFO_VERSION	 1 /* version 1 adds the memory map */
#define HVM_MEMMAP_TYPE_RAM	 1
#define HVM_MEMMAP_TYPE_RESERVED 2

struct hvm_start_info {
	uint32_t magic;		/* HVM_START_MAGIC_VALUE */
	uint32_t version;	/* HVM_START_INFO_VERSION */
	uint32_t flags;		/* SIF_xxx, 0 here */
	uint32_t nr_modules;	/* entries in the modlist */
	uint64_t modlist_paddr; /* struct hvm_modlist_entry[nr_modules] */
	uint64_t cmdline_paddr; /* NUL-terminated command line, 0 = none */
	uint64_t rsdp_paddr;	/* ACPI RSDP, 0 = none (flint has no ACPI) */
	uint64_t memmap_paddr;	/* struct hvm_memmap_table_entry[memmap_entries] */
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr; /* 0 = none */
	uint64_t reserved;
};

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type; /* HVM_MEMMAP_TYPE_xxx, the e820 numbers */
	uint32_t reserved;
};

_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info ABI size");
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "hvm_modlist_entry ABI size");
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "hvm_memmap_table_entry ABI size");

/* Write hvm_start_info at LAYOUT_PVH_INFO_START, the initrd (if initrd_len)
 * as the one module at LAYOUT_PVH_MODLIST, and the memory map (e820_build's)
 * at LAYOUT_PVH_MEMMAP. The command line and initrd must already be in guest
 * RAM. Returns 0, or -EINVAL / -EFAULT with f set. */
int pvh_write_start_info(const struct guest_mem *mem, uint64_t cmdline_gpa, uint64_t initrd_gpa,
			 uint64_t initrd_len, struct fault *f);

#endif
