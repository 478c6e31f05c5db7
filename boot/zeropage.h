/* The Linux zero page (struct boot_params) and the e820 memory map, which
 * the PVH start_info shares. Called from the VM-building thread. */
#ifndef FLINT_BOOT_ZEROPAGE_H
#define FLINT_BOOT_ZEROPAGE_H

#include <asm/bootparam.h>
#include <stdint.h>

#include "boot/kernel.h"
#include "vmm/config.h"
#include "vmm/guest_mem.h"

#define E820_TYPE_RAM	   1
#define E820_TYPE_RESERVED 2

/* Boot loader id "undefined" (0xff): flint has no assigned id. */
#define ZEROPAGE_LOADER_OTHER 0xff
/* kernel_alignment for ELF kernels: the x86_64 default (CONFIG_PHYSICAL_ALIGN). */
#define ZEROPAGE_ELF_ALIGNMENT 0x1000000

/* Fill out[0..max) with the guest's memory map from mem's layout:
 * [0, EBDA) RAM, [EBDA, 1 MiB) reserved (MP table, legacy ROM area),
 * [1 MiB, end of low RAM) RAM and, if there is memory above the MMIO hole,
 * [4 GiB, ...) RAM. Returns the number of entries or -E2BIG. */
int e820_build(const struct guest_mem *mem, struct boot_e820_entry *out, int max);

/* Write struct boot_params at LAYOUT_ZERO_PAGE for kernel k: its setup header
 * (bzImage) or a minimal one (ELF), the command line at cmdline_gpa
 * (cmdline_len bytes, at most k->cmdline_max), the initrd (initrd_len 0 =
 * none) and the e820 map. The command line and initrd must already be in
 * guest RAM. Returns 0, or -EINVAL / -EFAULT with f set. */
int zeropage_write(const struct guest_mem *mem, const struct kernel_image *k, uint64_t cmdline_gpa,
		   uint32_t cmdline_len, uint64_t initrd_gpa, uint64_t initrd_len, struct fault *f);

#endif
