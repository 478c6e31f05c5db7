/* Guest RAM mappings and the one bounds-checked accessor. */
#include "vmm/guest_mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "boot/layout.h"

#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB (21 << MAP_HUGE_SHIFT)
#endif

#define GM_GUARD_BYTES MiB(2) /* a 2 MiB guard keeps hugetlb regions aligned */

void gm_layout(struct guest_mem *mem, uint64_t ram_size)
{
	uint64_t low = ram_size < LAYOUT_MMIO32_START ? ram_size : LAYOUT_MMIO32_START;

	memset(mem, 0, sizeof(*mem));
	mem->ram_size = ram_size;
	mem->regions[0].gpa = 0;
	mem->regions[0].size = low;
	mem->nregions = 1;
	if (ram_size > low) {
		mem->regions[1].gpa = LAYOUT_RAM_HIGH_START;
		mem->regions[1].size = ram_size - low;
		mem->nregions = 2;
	}
}

static int gm_map_region(struct gm_region *r, enum gm_backing backing)
{
	size_t len = r->size + 2 * GM_GUARD_BYTES;
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
	uint8_t *map;

	/* Reserve guard + region + guard as PROT_NONE, then open the middle. */
	map = mmap(NULL, len, PROT_NONE, flags, -1, 0);
	if (map == MAP_FAILED)
		return -errno;
	r->map = map;
	r->map_len = len;
	r->host = map + GM_GUARD_BYTES;
	if (backing == GM_BACKING_HUGETLB_2M) {
		/* Reserve the huge pages now (no MAP_NORESERVE): a shortage is
		 * an error here, not a SIGBUS when the guest touches its RAM. */
		void *p =
		    mmap(r->host, r->size, PROT_READ | PROT_WRITE,
			 (flags & ~MAP_NORESERVE) | MAP_FIXED | MAP_HUGETLB | MAP_HUGE_2MB, -1, 0);
		if (p == MAP_FAILED)
			return -errno;
	} else if (mprotect(r->host, r->size, PROT_READ | PROT_WRITE) != 0) {
		return -errno;
	}
	if (backing == GM_BACKING_THP)
		madvise(r->host, r->size, MADV_HUGEPAGE);
	/* Guest RAM is never useful in a host core dump, and may be secret. */
	madvise(r->host, r->size, MADV_DONTDUMP);
	return 0;
}

int gm_create(struct guest_mem *mem, uint64_t ram_size, enum gm_backing backing)
{
	uint64_t align = backing == GM_BACKING_HUGETLB_2M ? MiB(2) : (uint64_t)getpagesize();

	if (ram_size == 0 || ram_size % align != 0)
		return -EINVAL;
	gm_layout(mem, ram_size);
	mem->zero_by_discard = backing != GM_BACKING_HUGETLB_2M;
	for (int i = 0; i < mem->nregions; i++) {
		int err = gm_map_region(&mem->regions[i], backing);
		if (err) {
			gm_destroy(mem);
			return err;
		}
	}
	return 0;
}

void gm_destroy(struct guest_mem *mem)
{
	for (int i = 0; i < mem->nregions; i++) {
		free(mem->dirty[i]);
		mem->dirty[i] = NULL;
		if (mem->regions[i].map)
			munmap(mem->regions[i].map, mem->regions[i].map_len);
		mem->regions[i].map = NULL;
		mem->regions[i].host = NULL;
	}
}

int gm_region_of(const struct guest_mem *mem, uint64_t gpa)
{
	for (int i = 0; i < mem->nregions; i++) {
		const struct gm_region *r = &mem->regions[i];
		if (gpa >= r->gpa && gpa - r->gpa < r->size)
			return i;
	}
	return -1;
}

/* Index of the region that holds all of [gpa, gpa+len), or -1. */
static int gm_region_of_range(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	uint64_t end;

	if (__builtin_add_overflow(gpa, len, &end))
		return -1;
	for (int i = 0; i < mem->nregions; i++) {
		const struct gm_region *r = &mem->regions[i];
		if (gpa >= r->gpa && end <= r->gpa + r->size)
			return i;
	}
	return -1;
}

bool gm_valid(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	return gm_region_of_range(mem, gpa, len) >= 0;
}

#define GM_DIRTY_PAGE 4096u

/* Set the bits of the pages [off, off+len) touch (len > 0, inside the region). */
static void gm_dirty_mark(uint64_t *bits, uint64_t off, uint64_t len)
{
	uint64_t first = off / GM_DIRTY_PAGE, last = (off + len - 1) / GM_DIRTY_PAGE;

	for (uint64_t p = first; p <= last; p++) {
		uint64_t bit = 1ULL << (p % 64);

		/* relaxed: the reader runs on the VMM thread while devices are quiet */
		if (!(__atomic_load_n(&bits[p / 64], __ATOMIC_RELAXED) & bit))
			__atomic_fetch_or(&bits[p / 64], bit, __ATOMIC_RELAXED);
	}
}

void *gm_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	int i = gm_region_of_range(mem, gpa, len);
	uint64_t off;

	if (i < 0 || !mem->regions[i].host)
		return NULL;
	off = gpa - mem->regions[i].gpa;
	if (mem->dirty[i] && len)
		gm_dirty_mark(mem->dirty[i], off, len);
	return mem->regions[i].host + off;
}

static size_t gm_dirty_words(const struct gm_region *r)
{
	return (size_t)((r->size / GM_DIRTY_PAGE + 63) / 64);
}

int gm_dirty_enable(struct guest_mem *mem)
{
	for (int i = 0; i < mem->nregions; i++) {
		if (mem->dirty[i])
			continue;
		mem->dirty[i] = calloc(gm_dirty_words(&mem->regions[i]) + 1, sizeof(uint64_t));
		if (!mem->dirty[i])
			return -ENOMEM;
	}
	return 0;
}

void gm_dirty_take(struct guest_mem *mem, int i, uint64_t *bitmap)
{
	size_t n = gm_dirty_words(&mem->regions[i]);

	if (!mem->dirty[i])
		return;
	for (size_t w = 0; w < n; w++)
		bitmap[w] |= __atomic_exchange_n(&mem->dirty[i][w], 0, __ATOMIC_RELAXED);
}

int gm_map_file(struct guest_mem *mem, int fd)
{
	uint64_t off = 0;

	for (int i = 0; i < mem->nregions; i++) {
		struct gm_region *r = &mem->regions[i];
		void *p = mmap(r->host, r->size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE, fd, (off_t)off);

		if (p == MAP_FAILED)
			return -errno;
		madvise(r->host, r->size, MADV_DONTDUMP);
		off += r->size;
	}
	mem->zero_by_discard = false; /* a dropped page would read back the file */
	return 0;
}

int gm_zero(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	uint8_t *p = gm_ptr(mem, gpa, len);
	uint64_t page = (uint64_t)getpagesize();
	uint64_t head, tail;

	if (!p)
		return -EFAULT;
	/* [p, p + head) and [p + len - tail, p + len) are the partial pages. */
	head = (page - (uintptr_t)p % page) % page;
	tail = ((uintptr_t)p + len) % page;
	if (!mem->zero_by_discard || head + tail >= len ||
	    madvise(p + head, len - head - tail, MADV_DONTNEED) != 0) {
		memset(p, 0, len);
		return 0;
	}
	memset(p, 0, head);
	memset(p + len - tail, 0, tail);
	return 0;
}

int gm_read(const struct guest_mem *mem, void *dst, uint64_t gpa, uint64_t len)
{
	const void *src = gm_ptr(mem, gpa, len);

	if (!src)
		return -EFAULT;
	memcpy(dst, src, len);
	return 0;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

int gm_load(const struct guest_mem *mem, uint64_t gpa, const void *src, uint64_t len)
{
	uint8_t *dst = gm_ptr(mem, gpa, len);
	uintptr_t page = (uintptr_t)getpagesize();

	if (!dst)
		return -EFAULT;
	/* Best effort: without it (an older kernel) the copy faults the
	 * pages in itself, one by one. Regions are page-aligned, so the
	 * rounded range stays inside the mapping. */
	if (len) {
		uint8_t *start = dst - (uintptr_t)dst % page;
		uint64_t span = (uint64_t)(dst - start) + len;

		(void)madvise(start, (span + page - 1) / page * page, MADV_POPULATE_WRITE);
	}
	memcpy(dst, src, len);
	return 0;
}

int gm_write(const struct guest_mem *mem, uint64_t gpa, const void *src, uint64_t len)
{
	void *dst = gm_ptr(mem, gpa, len);

	if (!dst)
		return -EFAULT;
	memcpy(dst, src, len);
	return 0;
}
