/* kernel_load: pick the loader by the image's magic. */
#include "boot/kernel.h"

#include <errno.h>
#include <string.h>

int kernel_load(const struct guest_mem *mem, const uint8_t *img, size_t len, bool prefer_pvh,
		struct kernel_image *out, struct fault *f)
{
	if (!mem || !out || (!img && len)) {
		fault_set(f, "kernel_load: missing argument");
		return -EINVAL;
	}
	memset(out, 0, sizeof(*out));
	if (elf_probe(img, len))
		return elf_load(mem, img, len, prefer_pvh, out, f);
	if (bzimage_probe(img, len))
		return bzimage_load(mem, img, len, out, f);
	fault_set(f, "kernel image (%zu bytes) is neither an ELF vmlinux nor a bzImage", len);
	return -EINVAL;
}
