/* Initrd placement: as high as possible in low RAM, like other loaders, so
 * the kernel's own early allocations (which grow up from its end) do not
 * collide with it. */
#include "boot/initrd.h"

#include <errno.h>
#include <inttypes.h>

#include "boot/layout.h"

/* End of usable low RAM for the initrd, or 0 if there is none. */
static uint64_t initrd_top(const struct guest_mem *mem, const struct kernel_image *k)
{
	uint64_t top = 0;

	for (int i = 0; i < mem->nregions; i++) {
		const struct gm_region *r = &mem->regions[i];
		if (r->gpa < LAYOUT_MMIO32_START && r->gpa + r->size > top)
			top = r->gpa + r->size;
	}
	if (top > LAYOUT_MMIO32_START)
		top = LAYOUT_MMIO32_START;
	/* initrd_addr_max is the highest address the initrd's last byte may use. */
	if (k->is_bzimage && (uint64_t)k->setup.initrd_addr_max + 1 < top)
		top = (uint64_t)k->setup.initrd_addr_max + 1;
	return top;
}

/* Highest aligned start for len bytes ending at or below top, or 0. */
static uint64_t initrd_below(uint64_t top, uint64_t len)
{
	uint64_t gpa;

	if (len > top)
		return 0;
	gpa = (top - len) & ~(INITRD_ALIGN - 1);
	return gpa >= LAYOUT_HIMEM_START ? gpa : 0;
}

int initrd_place(const struct guest_mem *mem, const struct kernel_image *k, uint64_t initrd_len,
		 uint64_t *gpa_out, struct fault *f)
{
	uint64_t top, gpa;

	if (initrd_len == 0) {
		fault_set(f, "initrd is empty");
		return -EINVAL;
	}
	top = initrd_top(mem, k);
	gpa = initrd_below(top, initrd_len);
	/* Overlapping the kernel: try the space below it instead. */
	if (gpa && gpa < k->load_end && gpa + initrd_len > k->load_start)
		gpa = initrd_below(k->load_start, initrd_len);
	if (!gpa || !gm_valid(mem, gpa, initrd_len)) {
		fault_set(f,
			  "initrd of %" PRIu64 " bytes does not fit in low guest memory "
			  "(below 0x%" PRIx64 ", beside the kernel at [0x%" PRIx64 ", 0x%" PRIx64
			  "))",
			  initrd_len, top, k->load_start, k->load_end);
		return -ENOMEM;
	}
	*gpa_out = gpa;
	return 0;
}
