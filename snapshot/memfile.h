/* The snapshot memory file: guest RAM, regions back to back (struct
 * snap_mem's offsets). A Full snapshot writes all of it; a Diff snapshot
 * writes only the pages whose bits are set, into a file of the full size
 * (a sparse file when it is new: Firecracker's diff format), so applying a
 * diff is copying its data extents onto the base file -- or writing the diff
 * straight into a copy of the base.
 *
 * Threads: the VMM thread with the vCPUs paused. */
#ifndef FLINT_SNAPSHOT_MEMFILE_H
#define FLINT_SNAPSHOT_MEMFILE_H

#include <stdbool.h>
#include <stdint.h>

#include "snapshot/state.h"
#include "vmm/config.h"
#include "vmm/guest_mem.h"

/* Per-region page bitmaps (bit n: 4 KiB page n of the region). */
struct snap_dirty {
	uint64_t *bits[GM_MAX_REGIONS];
	uint64_t npages[GM_MAX_REGIONS];
};

int snap_dirty_alloc(struct snap_dirty *d, const struct guest_mem *mem);
void snap_dirty_free(struct snap_dirty *d);
/* Number of set bits over all regions. */
uint64_t snap_dirty_count(const struct snap_dirty *d, const struct guest_mem *mem);

/* Write guest RAM to path. dirty NULL: a Full snapshot (the file is
 * truncated first, all-zero pages are left as holes); otherwise only the
 * marked pages, into a file of the full size (existing content kept).
 * anon: guest RAM is plain anonymous memory, so a page never touched
 * (neither present nor swapped, /proc/self/pagemap) is zero and is skipped
 * without being read. 0 or -errno with f set. */
int snap_mem_write(const struct guest_mem *mem, const char *path, const struct snap_dirty *dirty,
		   bool anon, struct fault *f);

/* Open a memory file for a restore: it must be a regular file of exactly
 * ram_size bytes. Returns the fd (O_RDONLY) or -errno with f set; fills
 * dev and ino with its identity. */
int snap_mem_open(const char *path, uint64_t ram_size, uint64_t *dev, uint64_t *ino,
		  struct fault *f);

/* Whether path names the file (dev, ino). */
bool snap_same_file(const char *path, uint64_t dev, uint64_t ino);

#endif
