/* Guest kernel loaders: an ELF vmlinux (optionally booted through its Xen PVH
 * entry) or a bzImage, checked and copied into guest RAM.
 *
 * The image bytes come from a file the API client named: they are untrusted,
 * and every offset, size and address in them is checked before use. Called
 * from the thread that builds the VM, before any vCPU runs. */
#ifndef FLINT_BOOT_KERNEL_H
#define FLINT_BOOT_KERNEL_H

#include <asm/bootparam.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/config.h"
#include "vmm/guest_mem.h"

/* XEN_ELFNOTE_PHYS32_ENTRY: the ELF note type holding the 32-bit PVH entry. */
#define KERNEL_XEN_ELFNOTE_PHYS32_ENTRY 18

/* Offset of the 64-bit entry point in a bzImage's protected-mode part. */
#define KERNEL_BZ_ENTRY64_OFFSET 0x200

/* Lowest boot protocol version flint accepts for bzImage: 2.12 introduced
 * xloadflags and with it XLF_KERNEL_64 (the 64-bit entry). */
#define KERNEL_BZ_MIN_VERSION 0x020c

enum boot_protocol { BOOT_LINUX64, BOOT_PVH };

struct kernel_image {
	enum boot_protocol protocol;   /* PVH if the ELF has the Xen PVH note and prefer_pvh */
	uint64_t entry;		       /* 64-bit entry (Linux) or 32-bit PVH entry */
	uint64_t load_start, load_end; /* guest-physical range the kernel occupies */
	bool is_bzimage;
	struct setup_header setup; /* bzImage: the image's header, to copy into the zero page */
	uint32_t cmdline_max;	   /* max command line bytes incl NUL the kernel accepts */
};

/* Detect ELF or bzImage, check it and copy it into guest memory.
 * img/len: the whole kernel file, owned by the caller (read only here).
 * prefer_pvh: boot an ELF through its PVH entry when it has one.
 * Returns 0 with *out filled, or -EINVAL (malformed image), -ENOMEM (does not
 * fit in guest RAM), -EFAULT (guest memory not mapped) with f->msg set. On
 * error guest memory may hold part of the image. */
int kernel_load(const struct guest_mem *mem, const uint8_t *img, size_t len, bool prefer_pvh,
		struct kernel_image *out, struct fault *f);

/* The two loaders behind kernel_load, same contract; elf_load expects the
 * ELF magic, bzimage_load the boot sector magic (each checks everything else). */
int elf_load(const struct guest_mem *mem, const uint8_t *img, size_t len, bool prefer_pvh,
	     struct kernel_image *out, struct fault *f);
int bzimage_load(const struct guest_mem *mem, const uint8_t *img, size_t len,
		 struct kernel_image *out, struct fault *f);

/* True if img starts with the ELF magic / looks like a bzImage boot sector. */
bool elf_probe(const uint8_t *img, size_t len);
bool bzimage_probe(const uint8_t *img, size_t len);

#endif
