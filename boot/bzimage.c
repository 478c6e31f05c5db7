/* bzImage loader (Linux x86 boot protocol >= 2.12, 64-bit entry).
 *
 * The real-mode setup part is not loaded: flint enters the protected-mode
 * kernel directly at its 64-bit entry (load address + 0x200) with the zero
 * page built by zeropage_write() from the header copied here. */
#include "boot/kernel.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "boot/layout.h"

#define BZ_HDR_OFFSET	       0x1f1
#define BZ_JUMP_OFFSET	       0x200 /* "jmp short" to just past the header */
#define BZ_JUMP_SHORT	       0xeb
#define BZ_BOOT_FLAG	       0xAA55
#define BZ_HDR_MAGIC	       0x53726448 /* "HdrS" */
#define BZ_SECTOR	       512
#define BZ_DEFAULT_SETUP_SECTS 4 /* setup_sects 0 means 4, for old images */

bool bzimage_probe(const uint8_t *img, size_t len)
{
	return img && len >= BZ_JUMP_OFFSET && img[0x1fe] == 0x55 && img[0x1ff] == 0xaa;
}

/* Copy the setup header out of the image. Only the header's own bytes are
 * copied (it ends where the jump at 0x200 lands); the rest stays zero, so
 * fields newer than the image's protocol read as 0. */
static int bz_read_header(const uint8_t *img, size_t len, struct setup_header *h, struct fault *f)
{
	size_t n = sizeof(*h);

	if (len < BZ_HDR_OFFSET + sizeof(*h)) {
		fault_set(f, "bzImage truncated: %zu bytes", len);
		return -EINVAL;
	}
	if (img[BZ_JUMP_OFFSET] == BZ_JUMP_SHORT) {
		size_t end = BZ_JUMP_OFFSET + 2 + img[BZ_JUMP_OFFSET + 1];
		if (end - BZ_HDR_OFFSET < n)
			n = end - BZ_HDR_OFFSET;
	}
	memset(h, 0, sizeof(*h));
	memcpy(h, img + BZ_HDR_OFFSET, n);
	return 0;
}

static int bz_check_header(const struct setup_header *h, struct fault *f)
{
	if (h->boot_flag != BZ_BOOT_FLAG) {
		fault_set(f, "bzImage has no boot sector signature 0xAA55");
		return -EINVAL;
	}
	if (h->header != BZ_HDR_MAGIC) {
		fault_set(f, "bzImage has no \"HdrS\" setup header");
		return -EINVAL;
	}
	if (h->version < KERNEL_BZ_MIN_VERSION) {
		fault_set(f, "bzImage boot protocol %u.%02u is too old (need 2.12)",
			  h->version >> 8, h->version & 0xff);
		return -EINVAL;
	}
	if (!(h->loadflags & LOADED_HIGH)) {
		fault_set(f, "bzImage is not loaded high (a zImage?)");
		return -EINVAL;
	}
	if (!(h->xloadflags & XLF_KERNEL_64)) {
		fault_set(f, "bzImage has no 64-bit entry point (XLF_KERNEL_64)");
		return -EINVAL;
	}
	return 0;
}

/* Where the kernel runs once it has moved itself: a relocatable kernel aligns
 * its load address up to kernel_alignment, and neither kind goes below
 * pref_address (LOAD_PHYSICAL_ADDR). It needs init_size bytes from there. */
static int bz_runtime_end(const struct setup_header *h, uint64_t load, uint64_t *end,
			  struct fault *f)
{
	uint64_t run = load, align = h->kernel_alignment;

	if (h->relocatable_kernel && align && (align & (align - 1)) == 0 && align <= GiB(1))
		run = (load + align - 1) & ~(align - 1);
	if (h->pref_address > run)
		run = h->pref_address;
	if (__builtin_add_overflow(run, (uint64_t)h->init_size, end)) {
		fault_set(f, "bzImage pref_address 0x%" PRIx64 " + init_size overflows",
			  (uint64_t)h->pref_address);
		return -EINVAL;
	}
	return 0;
}

/* Check that the kernel and its run-time footprint fit in guest RAM. */
static int bz_place(const struct guest_mem *mem, const struct setup_header *h, size_t pm_len,
		    struct kernel_image *k, struct fault *f)
{
	uint64_t load = LAYOUT_HIMEM_START, end = load + pm_len, run_end;
	int err = bz_runtime_end(h, load, &run_end, f);

	if (err)
		return err;
	if (run_end > end)
		end = run_end;
	if (!gm_valid(mem, load, end - load)) {
		fault_set(f,
			  "bzImage (%zu bytes, init_size %u) needs guest RAM [0x%" PRIx64
			  ", 0x%" PRIx64 "): too large for guest memory",
			  pm_len, h->init_size, load, end);
		return -ENOMEM;
	}
	k->load_start = load;
	k->load_end = end;
	k->entry = load + KERNEL_BZ_ENTRY64_OFFSET;
	return 0;
}

int bzimage_load(const struct guest_mem *mem, const uint8_t *img, size_t len,
		 struct kernel_image *out, struct fault *f)
{
	struct setup_header h;
	size_t setup_len;
	int err;

	memset(out, 0, sizeof(*out));
	err = bz_read_header(img, len, &h, f);
	if (!err)
		err = bz_check_header(&h, f);
	if (err)
		return err;
	setup_len =
	    ((size_t)(h.setup_sects ? h.setup_sects : BZ_DEFAULT_SETUP_SECTS) + 1) * BZ_SECTOR;
	if (setup_len >= len) {
		fault_set(f, "bzImage truncated: %zu bytes, setup alone is %zu", len, setup_len);
		return -EINVAL;
	}
	if (len - setup_len <= KERNEL_BZ_ENTRY64_OFFSET) {
		fault_set(f,
			  "bzImage truncated: the kernel (%zu bytes) ends before its 64-bit entry",
			  len - setup_len);
		return -EINVAL;
	}
	err = bz_place(mem, &h, len - setup_len, out, f);
	if (err)
		return err;
	if (gm_load(mem, out->load_start, img + setup_len, len - setup_len)) {
		fault_set(f, "bzImage: guest memory is not mapped");
		return -EFAULT;
	}
	out->protocol = BOOT_LINUX64;
	out->is_bzimage = true;
	out->setup = h;
	out->cmdline_max =
	    h.cmdline_size < LAYOUT_CMDLINE_MAX ? h.cmdline_size + 1 : LAYOUT_CMDLINE_MAX;
	return 0;
}
