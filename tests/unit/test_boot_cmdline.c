/* Command line builder and initrd placement tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "boot/cmdline.h"
#include "boot/initrd.h"
#include "boot/layout.h"

static void test_cmdline_append(void **state)
{
	struct cmdline c;

	(void)state;
	cmdline_init(&c, LAYOUT_CMDLINE_MAX);
	assert_int_equal(c.len, 0);
	assert_string_equal(c.buf, "");
	assert_int_equal(cmdline_append(&c, LAYOUT_DEFAULT_CMDLINE), 0);
	assert_int_equal(cmdline_append(&c, ""), 0);
	assert_int_equal(cmdline_append(&c, "root=/dev/vda"), 0);
	assert_string_equal(c.buf, "console=ttyS0 reboot=k panic=1 pci=off root=/dev/vda");
	assert_int_equal(c.len, strlen(c.buf));
	/* Control characters would smuggle in arguments or break the console. */
	assert_int_equal(cmdline_append(&c, "a\nb"), -EINVAL);
	assert_int_equal(cmdline_append(&c, "a\tb"), -EINVAL);
	assert_int_equal(cmdline_append(&c, "a\x7f"), -EINVAL);
	assert_string_equal(c.buf, "console=ttyS0 reboot=k panic=1 pci=off root=/dev/vda");
}

/* What flint adds goes before init's arguments, which stay intact. */
static void test_cmdline_keeps_init_args_last(void **state)
{
	struct cmdline c;

	(void)state;
	cmdline_init(&c, LAYOUT_CMDLINE_MAX);
	assert_int_equal(cmdline_append(&c, "console=ttyS0 -- echo hi; cat x"), 0);
	assert_int_equal(cmdline_add_virtio_mmio(&c, 0x1000, 0xc0001000, 5), 0);
	assert_int_equal(cmdline_append(&c, "root=/dev/vda"), 0);
	assert_string_equal(c.buf, "console=ttyS0 virtio_mmio.device=4K@0xc0001000:5 "
				   "root=/dev/vda -- echo hi; cat x");
	assert_int_equal(c.len, strlen(c.buf));

	cmdline_init(&c, LAYOUT_CMDLINE_MAX);
	assert_int_equal(cmdline_append(&c, "-- uname -a"), 0);
	assert_int_equal(cmdline_append(&c, "ro"), 0);
	assert_string_equal(c.buf, "ro -- uname -a");

	cmdline_init(&c, LAYOUT_CMDLINE_MAX);
	assert_int_equal(cmdline_append(&c, "quiet --"), 0);
	assert_int_equal(cmdline_append(&c, "rw"), 0);
	assert_string_equal(c.buf, "quiet rw --");

	/* The limit still holds when inserting. */
	cmdline_init(&c, 20);
	assert_int_equal(cmdline_append(&c, "a -- b"), 0);
	assert_int_equal(cmdline_append(&c, "0123456789012"), -E2BIG);
	assert_string_equal(c.buf, "a -- b");
	assert_int_equal(cmdline_append(&c, "012345678901"), 0);
	assert_string_equal(c.buf, "a 012345678901 -- b");
}

static void test_cmdline_limit(void **state)
{
	struct cmdline c;
	char big[LAYOUT_CMDLINE_MAX + 10];

	(void)state;
	cmdline_init(&c, 16); /* 15 characters + NUL */
	assert_int_equal(cmdline_append(&c, "0123456"), 0);
	assert_int_equal(cmdline_append(&c, "0123456"), 0); /* 7 + 1 + 7 = 15 */
	assert_int_equal(c.len, 15);
	assert_int_equal(cmdline_append(&c, "x"), -E2BIG);
	assert_string_equal(c.buf, "0123456 0123456");

	cmdline_init(&c, 16);
	assert_int_equal(cmdline_append(&c, "0123456789abcdef"), -E2BIG);
	assert_int_equal(cmdline_append(&c, "0123456789abcde"), 0);
	assert_int_equal(c.len, 15);

	/* The limit is clamped to the buffer. */
	cmdline_init(&c, 1 << 20);
	assert_int_equal(c.limit, LAYOUT_CMDLINE_MAX);
	memset(big, 'a', sizeof(big));
	big[LAYOUT_CMDLINE_MAX] = '\0';
	assert_int_equal(cmdline_append(&c, big), -E2BIG);
	big[LAYOUT_CMDLINE_MAX - 1] = '\0';
	assert_int_equal(cmdline_append(&c, big), 0);
	assert_int_equal(c.len, LAYOUT_CMDLINE_MAX - 1);
	cmdline_init(&c, 0);
	assert_int_equal(c.limit, LAYOUT_CMDLINE_MAX);
}

static void test_cmdline_virtio_mmio(void **state)
{
	struct cmdline c;

	(void)state;
	cmdline_init(&c, LAYOUT_CMDLINE_MAX);
	assert_int_equal(cmdline_add_virtio_mmio(&c, LAYOUT_VIRTIO_SIZE, LAYOUT_VIRTIO_START, 5),
			 0);
	assert_string_equal(c.buf, "virtio_mmio.device=4K@0xc0001000:5");
	assert_int_equal(cmdline_add_virtio_mmio(&c, 0x1000, 0x1000, 23), 0);
	assert_string_equal(
	    c.buf, "virtio_mmio.device=4K@0xc0001000:5 virtio_mmio.device=4K@0x00001000:23");
	assert_int_equal(cmdline_add_virtio_mmio(&c, 0, LAYOUT_VIRTIO_START, 5), -EINVAL);
	assert_int_equal(cmdline_add_virtio_mmio(&c, 1000, LAYOUT_VIRTIO_START, 5), -EINVAL);
	cmdline_init(&c, 20);
	assert_int_equal(cmdline_add_virtio_mmio(&c, 0x1000, LAYOUT_VIRTIO_START, 5), -E2BIG);
	assert_int_equal(c.len, 0);
}

static void test_cmdline_has(void **state)
{
	struct cmdline c;

	(void)state;
	cmdline_init(&c, LAYOUT_CMDLINE_MAX);
	assert_false(cmdline_has(&c, "root"));
	assert_int_equal(cmdline_append(&c, "console=ttyS0 rootfstype=ext4 quiet"), 0);
	assert_false(cmdline_has(&c, "root"));
	assert_true(cmdline_has(&c, "quiet"));
	assert_true(cmdline_has(&c, "console"));
	assert_false(cmdline_has(&c, "ttyS0"));
	assert_false(cmdline_has(&c, "qui"));
	assert_false(cmdline_has(&c, ""));
	assert_int_equal(cmdline_append(&c, "init.msg=\"root=x y\" root=/dev/vda"), 0);
	assert_true(cmdline_has(&c, "root"));
	assert_false(cmdline_has(&c, "y\""));
	cmdline_init(&c, LAYOUT_CMDLINE_MAX);
	assert_int_equal(cmdline_append(&c, "a=\"root=1 b\""), 0);
	assert_false(cmdline_has(&c, "root"));
	assert_false(cmdline_has(&c, "b\""));
}

static void test_cmdline_write(void **state)
{
	struct guest_mem mem;
	struct cmdline c;
	struct fault f = {{0}};
	char back[64];

	(void)state;
	assert_int_equal(gm_create(&mem, MiB(2), GM_BACKING_ANON), 0);
	cmdline_init(&c, LAYOUT_CMDLINE_MAX);
	assert_int_equal(cmdline_append(&c, "panic=1"), 0);
	memset(gm_ptr(&mem, LAYOUT_CMDLINE_START, 64), 'x', 64);
	assert_int_equal(cmdline_write(&mem, &c, LAYOUT_CMDLINE_START, &f), 0);
	assert_int_equal(gm_read(&mem, back, LAYOUT_CMDLINE_START, sizeof(back)), 0);
	assert_string_equal(back, "panic=1");
	assert_int_equal(cmdline_write(&mem, &c, MiB(2) - 4, &f), -EFAULT);
	gm_destroy(&mem);
}

static void kernel_at(struct kernel_image *k, uint64_t start, uint64_t end)
{
	memset(k, 0, sizeof(*k));
	k->load_start = start;
	k->load_end = end;
	k->cmdline_max = LAYOUT_CMDLINE_MAX;
}

static void test_initrd_fits(void **state)
{
	struct guest_mem mem;
	struct kernel_image k;
	struct fault f = {{0}};
	uint64_t gpa = 0;

	(void)state;
	gm_layout(&mem, MiB(128));
	kernel_at(&k, MiB(1), MiB(20));
	assert_int_equal(initrd_place(&mem, &k, 0x1000, &gpa, &f), 0);
	assert_int_equal(gpa, MiB(128) - 0x1000);
	assert_int_equal(initrd_place(&mem, &k, 0x1001, &gpa, &f), 0);
	assert_int_equal(gpa, MiB(128) - 0x2000);
	assert_int_equal(gpa % INITRD_ALIGN, 0);
	/* Memory above the hole: still placed below it. */
	gm_layout(&mem, GiB(6));
	assert_int_equal(initrd_place(&mem, &k, MiB(10), &gpa, &f), 0);
	assert_int_equal(gpa, GiB(3) - MiB(10));
	/* A bzImage's initrd_addr_max is the last byte it may use. */
	k.is_bzimage = true;
	k.setup.initrd_addr_max = 0x37ffffff;
	assert_int_equal(initrd_place(&mem, &k, 0x1800, &gpa, &f), 0);
	assert_int_equal(gpa, 0x38000000 - 0x2000);
	assert_true(gpa + 0x1800 - 1 <= 0x37ffffff);
}

static void test_initrd_beside_kernel(void **state)
{
	struct guest_mem mem;
	struct kernel_image k;
	struct fault f = {{0}};
	uint64_t gpa = 0;

	(void)state;
	gm_layout(&mem, MiB(64));
	/* Kernel at the top of RAM: the initrd goes below it. */
	kernel_at(&k, MiB(48), MiB(64));
	assert_int_equal(initrd_place(&mem, &k, MiB(4), &gpa, &f), 0);
	assert_int_equal(gpa, MiB(44));
	/* Does not fit below it either. */
	assert_int_equal(initrd_place(&mem, &k, MiB(48), &gpa, &f), -ENOMEM);
	assert_non_null(strstr(f.msg, "does not fit"));
	/* Kernel filling most of RAM. */
	kernel_at(&k, MiB(1), MiB(60));
	assert_int_equal(initrd_place(&mem, &k, MiB(4), &gpa, &f), 0);
	assert_int_equal(gpa, MiB(60));
	assert_int_equal(initrd_place(&mem, &k, MiB(4) + 1, &gpa, &f), -ENOMEM);
}

static void test_initrd_refused(void **state)
{
	struct guest_mem mem;
	struct kernel_image k;
	struct fault f = {{0}};
	uint64_t gpa = 0;

	(void)state;
	gm_layout(&mem, MiB(128));
	kernel_at(&k, MiB(1), MiB(20));
	assert_int_equal(initrd_place(&mem, &k, 0, &gpa, &f), -EINVAL);
	assert_int_equal(initrd_place(&mem, &k, MiB(200), &gpa, &f), -ENOMEM);
	assert_int_equal(initrd_place(&mem, &k, UINT64_MAX, &gpa, &f), -ENOMEM);
	k.is_bzimage = true;
	k.setup.initrd_addr_max = MiB(1) + 0x800; /* below the kernel's end */
	assert_int_equal(initrd_place(&mem, &k, 0x1000, &gpa, &f), -ENOMEM);
	/* Tiny guest: nothing above 1 MiB. */
	gm_layout(&mem, MiB(1));
	kernel_at(&k, MiB(1), MiB(1));
	assert_int_equal(initrd_place(&mem, &k, 0x1000, &gpa, &f), -ENOMEM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cmdline_append),
	    cmocka_unit_test(test_cmdline_keeps_init_args_last),
	    cmocka_unit_test(test_cmdline_limit),
	    cmocka_unit_test(test_cmdline_virtio_mmio),
	    cmocka_unit_test(test_cmdline_has),
	    cmocka_unit_test(test_cmdline_write),
	    cmocka_unit_test(test_initrd_fits),
	    cmocka_unit_test(test_initrd_beside_kernel),
	    cmocka_unit_test(test_initrd_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
