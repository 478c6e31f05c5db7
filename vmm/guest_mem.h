/* Guest physical memory: one or two anonymous (or hugetlbfs) mappings with
 * PROT_NONE guard pages around each, split around the 32-bit MMIO hole.
 *
 * Every access to guest RAM in flint goes through gm_ptr() (or the copy
 * helpers built on it): nothing else does pointer arithmetic on guest memory.
 * The accessors are thread-safe (the layout never changes after gm_create). */
#ifndef FLINT_VMM_GUEST_MEM_H
#define FLINT_VMM_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GM_MAX_REGIONS 2

struct gm_region {
	uint64_t gpa;  /* first guest-physical address */
	uint64_t size; /* bytes, a multiple of the page size */
	uint8_t *host; /* host address of gpa */
	uint8_t *map;  /* the whole mapping including guard pages (for munmap) */
	size_t map_len;
};

struct guest_mem {
	struct gm_region regions[GM_MAX_REGIONS];
	int nregions;
	uint64_t ram_size; /* total bytes of RAM over all regions */
	/* Pages flint itself may have written (one bit per 4 KiB page of each
	 * region), for Diff snapshots; NULL until gm_dirty_enable. KVM's dirty
	 * log sees only the vCPUs' writes. */
	uint64_t *dirty[GM_MAX_REGIONS];
	/* The regions are private anonymous memory of small or transparent huge
	 * pages, where dropping a page makes it read back as zeros (gm_zero).
	 * Not for hugetlbfs (whole huge pages only) or a mapped memory file. */
	bool zero_by_discard;
};

enum gm_backing {
	GM_BACKING_ANON,       /* 4 KiB anonymous pages */
	GM_BACKING_THP,	       /* anonymous with MADV_HUGEPAGE */
	GM_BACKING_HUGETLB_2M, /* MAP_HUGETLB | MAP_HUGE_2MB */
};

/* Lay out ram_size bytes of guest RAM: [0, min(ram, MMIO hole start)) and the
 * rest from 4 GiB up. Returns 0 or -errno. Start-up only. */
int gm_create(struct guest_mem *mem, uint64_t ram_size, enum gm_backing backing);
/* Same layout, without mapping anything (host pointers are NULL); for tests
 * and for computing e820 maps. */
void gm_layout(struct guest_mem *mem, uint64_t ram_size);
void gm_destroy(struct guest_mem *mem);

/* Host pointer for [gpa, gpa+len) or NULL unless the whole range lies inside
 * one region. len 0 is valid for any gpa inside a region or at its end.
 * Overflow-checked. This is where a guest value becomes a pointer.
 * With dirty tracking on, the range's pages are marked dirty: every device
 * write goes through a pointer from here, and telling reads from writes
 * apart is not possible at this level, so reads are marked too (a Diff
 * snapshot then holds a few pages more than needed, never fewer). */
void *gm_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len);

/* Zero [gpa, gpa+len) (a kernel's .bss): whole pages are given back to the
 * host where that zeroes them (zero_by_discard), so a large .bss costs no
 * page faults now, only when the guest uses it. 0 or -EFAULT. */
int gm_zero(const struct guest_mem *mem, uint64_t gpa, uint64_t len);

/* Copy between guest and host; 0 or -EFAULT if the range is not RAM. */
int gm_read(const struct guest_mem *mem, void *dst, uint64_t gpa, uint64_t len);
int gm_write(const struct guest_mem *mem, uint64_t gpa, const void *src, uint64_t len);

/* gm_write for a large image (kernel, initrd): the destination pages are
 * populated in one madvise(MADV_POPULATE_WRITE) first instead of being
 * faulted in one by one by the copy (2,500 faults for a 10 MiB vmlinux;
 * populating costs 1.2 us a page here, a fault 3). 0 or -EFAULT. */
int gm_load(const struct guest_mem *mem, uint64_t gpa, const void *src, uint64_t len);

/* True if [gpa, gpa+len) is RAM (in one region). */
bool gm_valid(const struct guest_mem *mem, uint64_t gpa, uint64_t len);

/* The region index holding gpa or -1. */
int gm_region_of(const struct guest_mem *mem, uint64_t gpa);

/* Start recording the pages gm_ptr hands out (see dirty above). 0 or
 * -ENOMEM. VMM thread, vCPUs paused or not yet running. */
int gm_dirty_enable(struct guest_mem *mem);
/* OR region i's record into bitmap (one bit per 4 KiB page) and clear it.
 * VMM thread; no device may write guest memory meanwhile (they run on
 * the VMM thread). */
void gm_dirty_take(struct guest_mem *mem, int i, uint64_t *bitmap);

/* Replace the RAM of every region, in place (same host addresses, so KVM's
 * memory slots stay valid), with a private copy-on-write mapping of fd:
 * region 0 at file offset 0, the next right after it. Pages load lazily
 * and clones mapping the same file share them until written; the file is
 * never written. fd may be closed afterwards. 0 or -errno. Before the vCPUs
 * run. */
int gm_map_file(struct guest_mem *mem, int fd);

#endif
