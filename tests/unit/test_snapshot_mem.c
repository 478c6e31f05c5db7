/* Snapshot memory: guest_mem's record of device-written pages, Full and
 * Diff memory files, opening and privately mapping a memory file, and the
 * Uffd hand-over message. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "boot/layout.h"
#include "snapshot/memfile.h"
#include "snapshot/uffd.h"
#include "vmm/guest_mem.h"

#define PAGE 4096u

static char *tmp_path(void)
{
	static const char tmpl[] = "/tmp/flint-snapmem-XXXXXX";
	char *p = malloc(sizeof(tmpl));
	int fd;

	memcpy(p, tmpl, sizeof(tmpl));
	fd = mkstemp(p);
	assert_true(fd >= 0);
	close(fd);
	return p;
}

static void read_file(const char *path, uint8_t *buf, size_t len)
{
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, 0), (ssize_t)len);
	close(fd);
}

/* Bytes of the file that are data, not holes. */
static uint64_t data_bytes(const char *path)
{
	int fd = open(path, O_RDONLY);
	off_t off = 0, end = lseek(fd, 0, SEEK_END);
	uint64_t n = 0;

	while (off < end) {
		off_t d = lseek(fd, off, SEEK_DATA), h;

		if (d < 0)
			break;
		h = lseek(fd, d, SEEK_HOLE);
		n += (uint64_t)(h - d);
		off = h;
	}
	close(fd);
	return n;
}

static void dirty_record(void **state)
{
	struct guest_mem m;
	uint64_t bits[MiB(2) / PAGE / 64 + 1];
	uint8_t b = 1;

	(void)state;
	assert_int_equal(gm_create(&m, MiB(2), GM_BACKING_ANON), 0);
	assert_int_equal(gm_write(&m, 5 * PAGE, &b, 1), 0); /* not tracking yet */
	assert_int_equal(gm_dirty_enable(&m), 0);
	memset(bits, 0, sizeof(bits));
	gm_dirty_take(&m, 0, bits);
	assert_true(bits[0] == 0);
	assert_int_equal(gm_write(&m, 5 * PAGE + 10, &b, 1), 0);
	/* a range across a page boundary marks both pages */
	assert_non_null(gm_ptr(&m, 8 * PAGE - 1, 2));
	/* reads are marked too (gm_ptr cannot tell them apart) */
	assert_int_equal(gm_read(&m, &b, 70 * PAGE, 1), 0);
	/* out of range: nothing */
	assert_null(gm_ptr(&m, MiB(2), 1));
	gm_dirty_take(&m, 0, bits);
	assert_true(bits[0] == ((1ULL << 5) | (1ULL << 7) | (1ULL << 8)));
	assert_true(bits[1] == (1ULL << 6));
	memset(bits, 0, sizeof(bits));
	gm_dirty_take(&m, 0, bits); /* taking clears */
	assert_true(bits[0] == 0 && bits[1] == 0);
	gm_destroy(&m);
}

static void full_and_diff_files(void **state)
{
	struct guest_mem m;
	struct snap_dirty d;
	struct fault f = {""};
	char *path = tmp_path();
	uint8_t *back = malloc(MiB(2));
	uint8_t *host;

	(void)state;
	assert_int_equal(gm_create(&m, MiB(2), GM_BACKING_ANON), 0);
	host = gm_ptr(&m, 0, MiB(2));
	memset(host + 3 * PAGE, 0xaa, PAGE);
	memset(host + 4 * PAGE, 0xbb, 10);
	host[100 * PAGE + 7] = 0xcc;
	(void)host[200 * PAGE]; /* read: resident zero page, still a hole */
	assert_int_equal(snap_mem_write(&m, path, NULL, true, &f), 0);
	read_file(path, back, MiB(2));
	assert_memory_equal(back, host, MiB(2));
	assert_int_equal(data_bytes(path), 3 * PAGE);
	/* the same without the pagemap shortcut */
	assert_int_equal(snap_mem_write(&m, path, NULL, false, &f), 0);
	read_file(path, back, MiB(2));
	assert_memory_equal(back, host, MiB(2));
	/* a Diff writes only the marked pages into the existing file */
	host[3 * PAGE] = 0x11;	 /* marked */
	host[100 * PAGE] = 0x22; /* not marked: the file keeps the old page */
	assert_int_equal(snap_dirty_alloc(&d, &m), 0);
	d.bits[0][0] = 1ULL << 3;
	assert_int_equal(snap_dirty_count(&d, &m), 1);
	assert_int_equal(snap_mem_write(&m, path, &d, false, &f), 0);
	read_file(path, back, MiB(2));
	assert_int_equal(back[3 * PAGE], 0x11);
	assert_int_equal(back[100 * PAGE], 0);
	/* a new Diff file is sparse, of the full size */
	unlink(path);
	assert_int_equal(snap_mem_write(&m, path, &d, false, &f), 0);
	assert_int_equal(data_bytes(path), PAGE);
	snap_dirty_free(&d);
	assert_int_equal(snap_mem_write(&m, "/nonexistent/dir/x", NULL, true, &f), -ENOENT);
	assert_non_null(strstr(f.msg, "cannot create the memory file"));
	gm_destroy(&m);
	unlink(path);
	free(path);
	free(back);
}

static void open_and_map_privately(void **state)
{
	struct guest_mem m;
	struct fault f = {""};
	char *path = tmp_path();
	uint64_t dev, ino;
	uint8_t *host, b;
	int fd;

	(void)state;
	assert_int_equal(gm_create(&m, MiB(2), GM_BACKING_ANON), 0);
	host = gm_ptr(&m, 0, MiB(2));
	memset(host, 0x5a, MiB(2));
	assert_int_equal(snap_mem_write(&m, path, NULL, true, &f), 0);
	gm_destroy(&m);

	assert_int_equal(snap_mem_open(path, MiB(4), &dev, &ino, &f), -EINVAL);
	assert_non_null(strstr(f.msg, "has 2097152 bytes, the snapshot's guest has 4194304"));
	assert_int_equal(snap_mem_open("/tmp", MiB(2), &dev, &ino, &f), -EINVAL);
	fd = snap_mem_open(path, MiB(2), &dev, &ino, &f);
	assert_true(fd >= 0);
	assert_true(snap_same_file(path, dev, ino));
	assert_false(snap_same_file("/tmp", dev, ino));

	assert_int_equal(gm_create(&m, MiB(2), GM_BACKING_ANON), 0);
	assert_int_equal(gm_map_file(&m, fd), 0);
	close(fd);
	host = gm_ptr(&m, 0, MiB(2));
	assert_int_equal(host[12345], 0x5a);
	host[12345] = 0x01; /* copy-on-write: the file keeps its byte */
	gm_destroy(&m);
	fd = open(path, O_RDONLY);
	assert_int_equal(pread(fd, &b, 1, 12345), 1);
	assert_int_equal(b, 0x5a);
	close(fd);
	unlink(path);
	free(path);
}

static void uffd_message(void **state)
{
	struct guest_mem m;
	char buf[SNAP_UFFD_MSG_MAX], want[256];
	int n;

	(void)state;
	gm_layout(&m, LAYOUT_MMIO32_START + MiB(2));
	m.regions[0].host = (uint8_t *)0x7f0000000000ULL;
	m.regions[1].host = (uint8_t *)0x7f1000000000ULL;
	n = snap_uffd_message(&m, 4096, buf, sizeof(buf));
	assert_true(n > 0 && (size_t)n == strlen(buf));
	snprintf(want, sizeof(want),
		 "[{\"base_host_virt_addr\":%llu,\"size\":%llu,\"offset\":0,\"page_size\":4096,"
		 "\"page_size_kib\":4096},",
		 0x7f0000000000ULL, (unsigned long long)LAYOUT_MMIO32_START);
	assert_memory_equal(buf, want, strlen(want));
	snprintf(want, sizeof(want), "\"offset\":%llu,", (unsigned long long)LAYOUT_MMIO32_START);
	assert_non_null(strstr(buf, want));
	assert_int_equal(buf[n - 1], ']');
	assert_int_equal(snap_uffd_message(&m, 4096, buf, 40), -ENOSPC);
	assert_int_equal(snap_uffd_message(&m, 4096, buf, (size_t)n), -ENOSPC);
	assert_int_equal(snap_uffd_message(&m, 4096, buf, (size_t)n + 1), n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(dirty_record),
	    cmocka_unit_test(full_and_diff_files),
	    cmocka_unit_test(open_and_map_privately),
	    cmocka_unit_test(uffd_message),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
