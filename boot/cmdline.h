/* The kernel command line builder: the boot arguments from the API plus the
 * parts flint adds (virtio-mmio devices, root=). Plain data, owned by the
 * VM-building thread. */
#ifndef FLINT_BOOT_CMDLINE_H
#define FLINT_BOOT_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boot/layout.h"
#include "vmm/config.h"
#include "vmm/guest_mem.h"

struct cmdline {
	char buf[LAYOUT_CMDLINE_MAX]; /* always NUL-terminated */
	size_t len;		      /* strlen(buf) */
	size_t limit;		      /* bytes allowed including the NUL */
};

/* Start an empty command line of at most limit bytes including the NUL
 * (normally kernel_image.cmdline_max). limit is clamped to 1..LAYOUT_CMDLINE_MAX. */
void cmdline_init(struct cmdline *c, size_t limit);

/* Append s, separated from what is there by one space; if the line holds
 * init's arguments (after " -- "), s goes just before the "--" so the kernel
 * still parses it and init's arguments stay intact. An empty s is a no-op. Returns 0, -EINVAL if s
 * holds control characters (newline, tab, ... which would let one argument smuggle in others), or
 * -E2BIG if the result would not fit; c is unchanged on error. */
int cmdline_append(struct cmdline *c, const char *s);

/* Append a virtio-mmio device, Firecracker's form:
 * "virtio_mmio.device=4K@0xc0001000:5" (size in KiB, base as 0x%08x).
 * -EINVAL unless size is a non-zero multiple of 1 KiB; -E2BIG as above. */
int cmdline_add_virtio_mmio(struct cmdline *c, uint64_t size, uint64_t base, uint32_t irq);

/* Whether a word "key" or "key=..." is on the command line (a quoted value
 * is one word), e.g. so root= is not added twice. */
bool cmdline_has(const struct cmdline *c, const char *key);

/* Write the command line and its NUL at gpa. 0, or -EFAULT with f set. */
int cmdline_write(const struct guest_mem *mem, const struct cmdline *c, uint64_t gpa,
		  struct fault *f);

#endif
