/* libFuzzer target: arbitrary bytes as a kernel image, loaded into a small
 * guest memory both with and without the PVH preference. Any outcome but a
 * crash or sanitizer report is fine; a success must describe a kernel that
 * lies inside guest RAM. */
#include <stdint.h>
#include <stdlib.h>

#include "boot/kernel.h"
#include "boot/layout.h"

#define FUZZ_MEM MiB(24)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* One guest memory for the whole run: mapping it per input would
	 * dominate the time. Loads only ever write inside it. */
	static struct guest_mem mem;
	static int ready;

	if (!ready) {
		if (gm_create(&mem, FUZZ_MEM, GM_BACKING_ANON) != 0)
			abort();
		ready = 1;
	}
	for (int pvh = 0; pvh < 2; pvh++) {
		struct kernel_image k;
		struct fault f = {{0}};

		if (kernel_load(&mem, data, size, pvh, &k, &f) != 0)
			continue;
		if (k.load_end <= k.load_start ||
		    !gm_valid(&mem, k.load_start, k.load_end - k.load_start))
			abort();
		if (k.entry < k.load_start || k.entry >= k.load_end || k.cmdline_max == 0 ||
		    k.cmdline_max > LAYOUT_CMDLINE_MAX)
			abort();
	}
	return 0;
}
