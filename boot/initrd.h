/* Where the initrd goes in guest RAM. Called from the VM-building thread
 * after kernel_load. */
#ifndef FLINT_BOOT_INITRD_H
#define FLINT_BOOT_INITRD_H

#include <stdint.h>

#include "boot/kernel.h"
#include "vmm/config.h"
#include "vmm/guest_mem.h"

#define INITRD_ALIGN 0x1000ULL

/* Choose the guest-physical address for an initrd of initrd_len bytes: the
 * highest page-aligned address in low RAM (below the MMIO hole, at or above
 * 1 MiB, and for a bzImage ending at or below setup.initrd_addr_max) where
 * it does not overlap the kernel k. The caller copies the bytes there with
 * gm_write. Returns 0 with *gpa_out set, -EINVAL for an empty initrd, or
 * -ENOMEM (with f set) if it does not fit. */
int initrd_place(const struct guest_mem *mem, const struct kernel_image *k, uint64_t initrd_len,
		 uint64_t *gpa_out, struct fault *f);

#endif
