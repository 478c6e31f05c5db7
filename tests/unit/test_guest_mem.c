/* Guest memory layout and the bounds-checked accessor. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "boot/layout.h"
#include "vmm/guest_mem.h"

static void layout_small(void **state)
{
	struct guest_mem m;

	(void)state;
	gm_layout(&m, MiB(128));
	assert_int_equal(m.nregions, 1);
	assert_int_equal(m.regions[0].gpa, 0);
	assert_int_equal(m.regions[0].size, MiB(128));
}

static void layout_split_around_hole(void **state)
{
	struct guest_mem m;

	(void)state;
	gm_layout(&m, LAYOUT_MMIO32_START);
	assert_int_equal(m.nregions, 1);
	gm_layout(&m, LAYOUT_MMIO32_START + MiB(2));
	assert_int_equal(m.nregions, 2);
	assert_int_equal(m.regions[0].size, LAYOUT_MMIO32_START);
	assert_int_equal(m.regions[1].gpa, GiB(4));
	assert_int_equal(m.regions[1].size, MiB(2));
	assert_int_equal(m.ram_size, LAYOUT_MMIO32_START + MiB(2));
}

static void accessor_edges(void **state)
{
	struct guest_mem m;
	uint8_t *base;

	(void)state;
	assert_int_equal(gm_create(&m, MiB(2), GM_BACKING_ANON), 0);
	base = gm_ptr(&m, 0, 1);
	assert_non_null(base);
	assert_ptr_equal(gm_ptr(&m, MiB(2) - 1, 1), base + MiB(2) - 1);
	assert_null(gm_ptr(&m, MiB(2) - 1, 2));	 /* straddles the end */
	assert_null(gm_ptr(&m, MiB(2), 1));	 /* just past the end */
	assert_non_null(gm_ptr(&m, MiB(2), 0));	 /* zero length at the end */
	assert_null(gm_ptr(&m, MiB(2) + 1, 0));	 /* zero length past the end */
	assert_null(gm_ptr(&m, UINT64_MAX, 2));	 /* wraps around */
	assert_null(gm_ptr(&m, 16, UINT64_MAX)); /* length overflows */
	assert_null(gm_ptr(&m, 0, MiB(2) + 1));	 /* longer than RAM */
	assert_non_null(gm_ptr(&m, 0, MiB(2)));	 /* all of RAM */
	gm_destroy(&m);
}

static void accessor_copy(void **state)
{
	struct guest_mem m;
	uint8_t in[16] = "flint guest mem", out[16] = {0};

	(void)state;
	assert_int_equal(gm_create(&m, MiB(2), GM_BACKING_ANON), 0);
	assert_int_equal(gm_write(&m, 4096, in, sizeof(in)), 0);
	assert_int_equal(gm_read(&m, out, 4096, sizeof(out)), 0);
	assert_memory_equal(in, out, sizeof(in));
	assert_int_equal(gm_write(&m, MiB(2) - 8, in, sizeof(in)), -EFAULT);
	assert_int_equal(gm_read(&m, out, MiB(2) - 8, sizeof(out)), -EFAULT);
	gm_destroy(&m);
}

/* gm_load: the same bounds as gm_write, any alignment, pages around the
 * copy untouched. */
static void accessor_load(void **state)
{
	struct guest_mem m;
	uint8_t img[9000], out[9000];

	(void)state;
	for (size_t i = 0; i < sizeof(img); i++)
		img[i] = (uint8_t)(i * 7 + 1);
	assert_int_equal(gm_create(&m, MiB(2), GM_BACKING_ANON), 0);
	assert_int_equal(gm_load(&m, 4096 + 13, img, sizeof(img)), 0);
	assert_int_equal(gm_read(&m, out, 4096 + 13, sizeof(out)), 0);
	assert_memory_equal(img, out, sizeof(img));
	assert_int_equal(gm_read(&m, out, 4096, 13), 0);
	for (int i = 0; i < 13; i++)
		assert_int_equal(out[i], 0);
	assert_int_equal(gm_load(&m, 0, img, 0), 0);
	assert_int_equal(gm_load(&m, MiB(2) - 8, img, 16), -EFAULT);
	assert_int_equal(gm_load(&m, UINT64_MAX - 4, img, 16), -EFAULT);
	gm_destroy(&m);
}

/* A range touching both sides of the MMIO hole is never one region. */
static void accessor_cross_region(void **state)
{
	struct guest_mem m;

	(void)state;
	gm_layout(&m, LAYOUT_MMIO32_START + MiB(4));
	assert_true(gm_valid(&m, LAYOUT_MMIO32_START - 4096, 4096));
	assert_false(gm_valid(&m, LAYOUT_MMIO32_START - 4096, 8192));
	assert_false(gm_valid(&m, LAYOUT_MMIO32_START, 1)); /* the hole */
	assert_true(gm_valid(&m, GiB(4), MiB(4)));
	assert_false(gm_valid(&m, GiB(4), MiB(4) + 1));
	assert_false(gm_valid(&m, LAYOUT_MMIO32_START - 1, GiB(1) + 2));
	assert_int_equal(gm_region_of(&m, GiB(4) + 5), 1);
	assert_int_equal(gm_region_of(&m, GiB(3) + 5), -1);
	/* gm_layout maps nothing: the accessor refuses to hand out pointers. */
	assert_null(gm_ptr(&m, 0, 1));
}

static void create_rejects_bad_sizes(void **state)
{
	struct guest_mem m;

	(void)state;
	assert_int_equal(gm_create(&m, 0, GM_BACKING_ANON), -EINVAL);
	assert_int_equal(gm_create(&m, 4097, GM_BACKING_ANON), -EINVAL);
	assert_int_equal(gm_create(&m, MiB(3), GM_BACKING_HUGETLB_2M), -EINVAL);
}

/* The guard pages really are there: the byte before RAM is PROT_NONE. */
static void guard_pages(void **state)
{
	struct guest_mem m;

	(void)state;
	assert_int_equal(gm_create(&m, MiB(2), GM_BACKING_ANON), 0);
	assert_true(m.regions[0].host > m.regions[0].map);
	assert_int_equal(m.regions[0].map_len, MiB(2) + 2 * MiB(2));
	gm_destroy(&m);
}

/* gm_zero clears exactly its range, whether pages are dropped (anonymous
 * memory) or written (any other backing), and leaves the bytes around it. */
static void zero_range(struct guest_mem *m, bool discard)
{
	const uint64_t gpa = 4096 + 100, len = 3 * 4096 + 50;
	uint8_t *p = gm_ptr(m, 0, MiB(1));

	m->zero_by_discard = discard;
	memset(p, 0xab, MiB(1));
	assert_int_equal(gm_zero(m, gpa, len), 0);
	for (uint64_t i = 0; i < MiB(1); i++) {
		bool inside = i >= gpa && i < gpa + len;

		if (p[i] != (inside ? 0 : 0xab))
			fail_msg("byte 0x%llx is 0x%02x", (unsigned long long)i, p[i]);
	}
	assert_int_equal(gm_zero(m, MiB(2) - 10, 20), -EFAULT);
	assert_int_equal(gm_zero(m, 0, 0), 0);
}

static void zero_discards_or_writes(void **state)
{
	struct guest_mem m;

	(void)state;
	assert_int_equal(gm_create(&m, MiB(2), GM_BACKING_ANON), 0);
	assert_true(m.zero_by_discard);
	zero_range(&m, true);
	zero_range(&m, false);
	gm_destroy(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(layout_small),
	    cmocka_unit_test(layout_split_around_hole),
	    cmocka_unit_test(accessor_edges),
	    cmocka_unit_test(accessor_copy),
	    cmocka_unit_test(accessor_load),
	    cmocka_unit_test(accessor_cross_region),
	    cmocka_unit_test(create_rejects_bad_sizes),
	    cmocka_unit_test(guard_pages),
	    cmocka_unit_test(zero_discards_or_writes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
