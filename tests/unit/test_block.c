/* virtio-blk: blk_parse on hand-built chains, blk_exec on a memfd disk, and
 * the whole device through the transport (test mode) and a real ring. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#include "boot/layout.h"
#include "devices/virtio/block.h"

#include "blk_fx.h"

struct fx {
	struct guest_mem m;
	struct vq_seg segs[8];
	struct vq_chain c;
	struct disk d;
	struct iovec iov[8];
};

static int memfd_disk(uint64_t sectors)
{
	int fd = memfd_create("flint-test-disk", MFD_CLOEXEC);
	uint8_t sec[BLK_SECTOR_SIZE];

	if (fd < 0)
		return -1;
	for (uint64_t s = 0; s < sectors; s++) {
		memset(sec, (int)(s & 0xff), sizeof(sec));
		if (pwrite(fd, sec, sizeof(sec), (off_t)(s * BLK_SECTOR_SIZE)) != sizeof(sec))
			return -1;
	}
	return fd;
}

static int fx_setup(void **state)
{
	static struct fx f;

	memset(&f, 0, sizeof(f));
	if (gm_create(&f.m, RAM, GM_BACKING_ANON))
		return -1;
	f.c.segs = f.segs;
	f.c.cap = 8;
	if (disk_from_fd(&f.d, memfd_disk(CAP), false, CFG_CACHE_WRITEBACK))
		return -1;
	*state = &f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	disk_close(&f->d);
	gm_destroy(&f->m);
	return 0;
}

static void chain_add(struct fx *f, uint64_t gpa, uint32_t len, bool w)
{
	f->segs[f->c.nsegs].gpa = gpa;
	f->segs[f->c.nsegs].len = len;
	f->segs[f->c.nsegs].writable = w;
	f->c.nsegs++;
	if (w) {
		f->c.write_len += len;
	} else {
		f->c.nread++;
		f->c.read_len += len;
	}
}

static void put_hdr(struct fx *f, uint32_t type, uint64_t sector)
{
	struct virtio_blk_outhdr h = {.type = type, .ioprio = 0, .sector = sector};

	assert_int_equal(gm_write(&f->m, HDR, &h, sizeof(h)), 0);
}

/* header, data (writable for IN/GET_ID), 1-byte status */
static void std_chain(struct fx *f, uint32_t type, uint64_t sector, uint32_t data_len)
{
	f->c.nsegs = f->c.nread = f->c.read_len = f->c.write_len = 0;
	put_hdr(f, type, sector);
	chain_add(f, HDR, BLK_HDR_SIZE, false);
	if (data_len)
		chain_add(f, DATA, data_len,
			  type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID);
	chain_add(f, STATUS, 1, true);
}

static void test_parse_valid(void **state)
{
	struct fx *f = *state;
	struct blk_req r;

	std_chain(f, VIRTIO_BLK_T_IN, 3, 1024);
	assert_int_equal(blk_parse(&f->c, &f->m, CAP, false, &r), 0);
	assert_int_equal(r.type, VIRTIO_BLK_T_IN);
	assert_int_equal(r.sector, 3);
	assert_int_equal(r.data_len, 1024);
	assert_int_equal(r.status_off, 1024);
	std_chain(f, VIRTIO_BLK_T_OUT, CAP - 1, 512); /* the last sector */
	assert_int_equal(blk_parse(&f->c, &f->m, CAP, false, &r), 0);
	assert_int_equal(r.data_len, 512);
	assert_int_equal(r.status_off, 0);
	std_chain(f, VIRTIO_BLK_T_FLUSH, 0, 0);
	assert_int_equal(blk_parse(&f->c, &f->m, CAP, false, &r), 0);
	std_chain(f, VIRTIO_BLK_T_GET_ID, 0, VIRTIO_BLK_ID_BYTES);
	assert_int_equal(blk_parse(&f->c, &f->m, CAP, false, &r), 0);
	assert_int_equal(r.data_len, VIRTIO_BLK_ID_BYTES);
	std_chain(f, VIRTIO_BLK_T_IN, CAP, 0); /* empty read at the end */
	assert_int_equal(blk_parse(&f->c, &f->m, CAP, false, &r), 0);
	/* header split over two buffers, status inside the data buffer's tail */
	f->c.nsegs = f->c.nread = f->c.read_len = f->c.write_len = 0;
	put_hdr(f, VIRTIO_BLK_T_IN, 1);
	chain_add(f, HDR, 5, false);
	chain_add(f, HDR + 5, 11, false);
	chain_add(f, DATA, 513, true);
	assert_int_equal(blk_parse(&f->c, &f->m, CAP, false, &r), 0);
	assert_int_equal(r.data_len, 512);
	assert_int_equal(r.sector, 1);
}

static void test_parse_malformed(void **state)
{
	struct fx *f = *state;
	struct blk_req r;

	/* no writable byte at all: cannot even report */
	f->c.nsegs = f->c.nread = f->c.read_len = f->c.write_len = 0;
	put_hdr(f, VIRTIO_BLK_T_OUT, 0);
	chain_add(f, HDR, BLK_HDR_SIZE, false);
	chain_add(f, DATA, 512, false);
	assert_int_equal(blk_parse(&f->c, &f->m, CAP, false, &r), -EINVAL);
	assert_false(r.has_status);
	/* short header */
	f->c.nsegs = f->c.nread = f->c.read_len = f->c.write_len = 0;
	chain_add(f, HDR, 15, false);
	chain_add(f, STATUS, 1, true);
	assert_int_equal(blk_parse(&f->c, &f->m, CAP, false, &r), -EINVAL);
	assert_true(r.has_status);
	assert_int_equal(r.status, VIRTIO_BLK_S_IOERR);
	/* no header at all */
	f->c.nsegs = f->c.nread = f->c.read_len = f->c.write_len = 0;
	chain_add(f, STATUS, 1, true);
	assert_int_equal(blk_parse(&f->c, &f->m, CAP, false, &r), -EINVAL);
	/* data not a multiple of 512 */
	std_chain(f, VIRTIO_BLK_T_IN, 0, 511);
	assert_int_equal(blk_parse(&f->c, &f->m, CAP, false, &r), -EINVAL);
	assert_int_equal(r.status, VIRTIO_BLK_S_IOERR);
	std_chain(f, VIRTIO_BLK_T_OUT, 0, 513);
	assert_int_equal(blk_parse(&f->c, &f->m, CAP, false, &r), -EINVAL);
	/* beyond the end */
	std_chain(f, VIRTIO_BLK_T_IN, CAP, 512);
	assert_int_equal(blk_parse(&f->c, &f->m, CAP, false, &r), -ERANGE);
	std_chain(f, VIRTIO_BLK_T_OUT, CAP - 1, 1024);
	assert_int_equal(blk_parse(&f->c, &f->m, CAP, false, &r), -ERANGE);
	std_chain(f, VIRTIO_BLK_T_IN, CAP + 1, 0);
	assert_int_equal(blk_parse(&f->c, &f->m, CAP, false, &r), -ERANGE);
	/* sector + length overflowing 64 bits */
	std_chain(f, VIRTIO_BLK_T_IN, UINT64_MAX, 1024);
	assert_int_equal(blk_parse(&f->c, &f->m, UINT64_MAX, false, &r), -ERANGE);
	std_chain(f, VIRTIO_BLK_T_OUT, UINT64_MAX - 1, 1024);
	assert_int_equal(blk_parse(&f->c, &f->m, UINT64_MAX, false, &r), -ERANGE);
	/* read-only drive */
	std_chain(f, VIRTIO_BLK_T_OUT, 0, 512);
	assert_int_equal(blk_parse(&f->c, &f->m, CAP, true, &r), -EROFS);
	assert_int_equal(r.status, VIRTIO_BLK_S_IOERR);
	std_chain(f, VIRTIO_BLK_T_IN, 0, 512);
	assert_int_equal(blk_parse(&f->c, &f->m, CAP, true, &r), 0);
	/* unknown and unsupported types */
	std_chain(f, VIRTIO_BLK_T_DISCARD, 0, 0);
	assert_int_equal(blk_parse(&f->c, &f->m, CAP, false, &r), -EOPNOTSUPP);
	assert_int_equal(r.status, VIRTIO_BLK_S_UNSUPP);
	std_chain(f, 0xdeadbeef, 0, 0);
	assert_int_equal(blk_parse(&f->c, &f->m, CAP, false, &r), -EOPNOTSUPP);
}

static void test_exec_write_read(void **state)
{
	struct fx *f = *state;
	struct blk_req r;
	uint8_t pat[1024], back[1024];
	uint32_t written;
	char id[VIRTIO_BLK_ID_BYTES] = "rootfs";

	for (size_t i = 0; i < sizeof(pat); i++)
		pat[i] = (uint8_t)(i * 7 + 1);
	/* write two sectors at sector 5, data split over two buffers */
	f->c.nsegs = f->c.nread = f->c.read_len = f->c.write_len = 0;
	put_hdr(f, VIRTIO_BLK_T_OUT, 5);
	assert_int_equal(gm_write(&f->m, DATA, pat, 100), 0);
	assert_int_equal(gm_write(&f->m, DATA + 0x1000, pat + 100, 924), 0);
	chain_add(f, HDR, BLK_HDR_SIZE, false);
	chain_add(f, DATA, 100, false);
	chain_add(f, DATA + 0x1000, 924, false);
	chain_add(f, STATUS, 1, true);
	assert_int_equal(blk_parse(&f->c, &f->m, CAP, false, &r), 0);
	assert_int_equal(blk_exec(&f->d, &f->c, &f->m, &r, id, f->iov, 8, &written),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(written, 0);
	assert_int_equal(pread(f->d.fd, back, sizeof(back), 5 * 512), sizeof(back));
	assert_memory_equal(back, pat, sizeof(back));
	/* neighbours untouched */
	assert_int_equal(pread(f->d.fd, back, 1, 5 * 512 - 1), 1);
	assert_int_equal(back[0], 4);
	assert_int_equal(pread(f->d.fd, back, 1, 7 * 512), 1);
	assert_int_equal(back[0], 7);
	/* read it back into guest memory */
	std_chain(f, VIRTIO_BLK_T_IN, 5, 1024);
	assert_int_equal(blk_parse(&f->c, &f->m, CAP, false, &r), 0);
	memset(back, 0, sizeof(back));
	assert_int_equal(gm_write(&f->m, DATA, back, sizeof(back)), 0);
	assert_int_equal(blk_exec(&f->d, &f->c, &f->m, &r, id, f->iov, 8, &written),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(written, 1024);
	assert_int_equal(gm_read(&f->m, back, DATA, sizeof(back)), 0);
	assert_memory_equal(back, pat, sizeof(back));
	/* last sector */
	std_chain(f, VIRTIO_BLK_T_IN, CAP - 1, 512);
	assert_int_equal(blk_parse(&f->c, &f->m, CAP, false, &r), 0);
	assert_int_equal(blk_exec(&f->d, &f->c, &f->m, &r, id, f->iov, 8, &written),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(gm_read(&f->m, back, DATA + 511, 1), 0);
	assert_int_equal(back[0], CAP - 1);
	/* too few iovecs for the data: an I/O error, not an overrun */
	std_chain(f, VIRTIO_BLK_T_IN, 0, 512);
	assert_int_equal(blk_parse(&f->c, &f->m, CAP, false, &r), 0);
	assert_int_equal(blk_exec(&f->d, &f->c, &f->m, &r, id, f->iov, 0, &written),
			 VIRTIO_BLK_S_IOERR);
}

static void test_exec_flush_getid(void **state)
{
	struct fx *f = *state;
	struct blk_req r;
	uint8_t buf[VIRTIO_BLK_ID_BYTES];
	uint32_t written;
	char id[VIRTIO_BLK_ID_BYTES] = "rootfs";

	std_chain(f, VIRTIO_BLK_T_FLUSH, 0, 0);
	assert_int_equal(blk_parse(&f->c, &f->m, CAP, false, &r), 0);
	assert_int_equal(blk_exec(&f->d, &f->c, &f->m, &r, id, f->iov, 8, &written),
			 VIRTIO_BLK_S_OK);
	std_chain(f, VIRTIO_BLK_T_GET_ID, 0, VIRTIO_BLK_ID_BYTES);
	assert_int_equal(blk_parse(&f->c, &f->m, CAP, false, &r), 0);
	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(gm_write(&f->m, DATA, buf, sizeof(buf)), 0);
	assert_int_equal(blk_exec(&f->d, &f->c, &f->m, &r, id, f->iov, 8, &written),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(written, VIRTIO_BLK_ID_BYTES);
	assert_int_equal(gm_read(&f->m, buf, DATA, sizeof(buf)), 0);
	assert_memory_equal(buf, "rootfs\0\0\0\0\0\0\0\0\0\0\0\0\0\0", VIRTIO_BLK_ID_BYTES);
	/* a short id buffer gets a prefix */
	std_chain(f, VIRTIO_BLK_T_GET_ID, 0, 3);
	assert_int_equal(blk_parse(&f->c, &f->m, CAP, false, &r), 0);
	assert_int_equal(blk_exec(&f->d, &f->c, &f->m, &r, id, f->iov, 8, &written),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(written, 3);
}

static void test_exec_read_only_disk(void **state)
{
	struct fx *f = *state;
	struct disk ro;
	struct blk_req r;
	uint32_t written;
	char id[VIRTIO_BLK_ID_BYTES] = {0};

	assert_int_equal(disk_from_fd(&ro, memfd_disk(4), true, CFG_CACHE_UNSAFE), 0);
	/* even if parsing were bypassed, the back-end refuses the write */
	std_chain(f, VIRTIO_BLK_T_OUT, 0, 512);
	assert_int_equal(blk_parse(&f->c, &f->m, 4, false, &r), 0);
	assert_int_equal(blk_exec(&ro, &f->c, &f->m, &r, id, f->iov, 8, &written),
			 VIRTIO_BLK_S_IOERR);
	/* and beyond the end, likewise */
	r.sector = 4;
	r.type = VIRTIO_BLK_T_IN;
	r.data_len = 0;
	assert_int_equal(blk_exec(&ro, &f->c, &f->m, &r, id, f->iov, 8, &written), VIRTIO_BLK_S_OK);
	r.data_len = 512;
	std_chain(f, VIRTIO_BLK_T_IN, 4, 512);
	assert_int_equal(blk_exec(&ro, &f->c, &f->m, &r, id, f->iov, 8, &written),
			 VIRTIO_BLK_S_IOERR);
	disk_close(&ro);
}

/* --- whole device through the transport (blk_fx.h) --- */

static void test_device_roundtrip(void **state)
{
	struct dev_fx x;
	struct cfg_drive cfg = {.drive_id = "rootfs", .cache_type = CFG_CACHE_WRITEBACK};
	uint8_t pat[512], back[512];
	uint32_t used[2];
	uint64_t cap;

	(void)state;
	dev_up(&x, &cfg);
	/* config space: capacity; features: FLUSH offered, RO not */
	assert_int_equal(bus_read(&x.bus, BASE + 0x100, (uint8_t *)&cap, 8), 0);
	assert_int_equal(cap, CAP);
	assert_true(x.b.mmio.features & (1ULL << VIRTIO_BLK_F_FLUSH));
	assert_false(x.b.mmio.offered & (1ULL << VIRTIO_BLK_F_RO));
	memset(pat, 0x5c, sizeof(pat));
	assert_int_equal(gm_write(&x.m, DATA, pat, sizeof(pat)), 0);
	dev_submit(&x, 0, VIRTIO_BLK_T_OUT, 9, 512);
	dev_submit(&x, 1, VIRTIO_BLK_T_IN, 9, 512);
	dev_submit(&x, 2, VIRTIO_BLK_T_IN, CAP, 512); /* beyond the end */
	dev_submit(&x, 3, 77, 0, 512);		      /* unknown type */
	w32(&x, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(ev_run_once(&x.loop, 0), 0);
	assert_int_equal(used_idx(&x), 4);
	assert_int_equal(status_of(&x, 0), VIRTIO_BLK_S_OK);
	assert_int_equal(status_of(&x, 1), VIRTIO_BLK_S_OK);
	assert_int_equal(status_of(&x, 2), VIRTIO_BLK_S_IOERR);
	assert_int_equal(status_of(&x, 3), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(gm_read(&x.m, back, DATA + 0x1000, sizeof(back)), 0);
	assert_memory_equal(back, pat, sizeof(back));
	assert_int_equal(gm_read(&x.m, used, USED + 4 + 8, 8), 0);
	assert_int_equal(used[0], 3);
	assert_int_equal(used[1], 513);
	assert_int_equal(r32(&x, VIRTIO_MMIO_INTERRUPT_STATUS), 1);
	assert_int_equal(x.b.stats.write_count, 1);
	assert_int_equal(x.b.stats.read_count, 1);
	assert_int_equal(x.b.stats.invalid_reqs, 2);
	/* a hostile ring stops the queue, not the VMM */
	x.avail_idx = 100;
	assert_int_equal(gm_write(&x.m, AVAIL + 2, &x.avail_idx, 2), 0);
	w32(&x, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(ev_run_once(&x.loop, 0), 0);
	assert_true(x.b.mmio.queues[0].broken);
	assert_int_equal(used_idx(&x), 4);
	/* reset and the device comes back */
	w32(&x, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(ev_run_once(&x.loop, 0), 0);
	assert_false(x.b.mmio.active);
	dev_down(&x);
}

static void test_device_read_only(void **state)
{
	struct dev_fx x;
	struct cfg_drive cfg = {.drive_id = "ro", .is_read_only = true};

	(void)state;
	dev_up(&x, &cfg);
	assert_true(x.b.mmio.features & (1ULL << VIRTIO_BLK_F_RO));
	assert_false(x.b.mmio.offered & (1ULL << VIRTIO_BLK_F_FLUSH));
	dev_submit(&x, 0, VIRTIO_BLK_T_OUT, 0, 512);
	dev_submit(&x, 1, VIRTIO_BLK_T_FLUSH, 0, 0);
	w32(&x, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(ev_run_once(&x.loop, 0), 0);
	assert_int_equal(status_of(&x, 0), VIRTIO_BLK_S_IOERR);
	assert_int_equal(status_of(&x, 1), VIRTIO_BLK_S_OK); /* nothing to flush */
	dev_down(&x);
}

static void test_device_rate_limited(void **state)
{
	struct dev_fx x;
	struct cfg_drive cfg = {.drive_id = "rl"};

	(void)state;
	cfg.rate_limiter.ops.set = true;
	cfg.rate_limiter.ops.size = 1;
	cfg.rate_limiter.ops.refill_time_ms = 20;
	dev_up(&x, &cfg);
	dev_submit(&x, 0, VIRTIO_BLK_T_IN, 0, 512);
	dev_submit(&x, 1, VIRTIO_BLK_T_IN, 1, 512);
	w32(&x, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(ev_run_once(&x.loop, 0), 0);
	assert_int_equal(used_idx(&x), 1);
	assert_true(x.b.throttled);
	assert_int_equal(x.b.stats.rate_limited, 1);
	/* a notification while throttled does nothing */
	w32(&x, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(ev_run_once(&x.loop, 0), 0);
	assert_int_equal(used_idx(&x), 1);
	/* the retry timer serves the second request */
	assert_int_equal(ev_run_once(&x.loop, 1000), 0);
	assert_int_equal(used_idx(&x), 2);
	assert_int_equal(status_of(&x, 1), VIRTIO_BLK_S_OK);
	dev_down(&x);
}

static void test_device_update(void **state)
{
	struct dev_fx x;
	struct cfg_drive cfg = {.drive_id = "up"};
	struct cfg_rate_limiter none = {.ops = {.set = true, .size = 0}};
	struct fault fl = {{0}};
	char path2[] = "/tmp/flint-blk2-XXXXXX";
	int fd = mkstemp(path2);
	uint64_t cap;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 2 * CAP * BLK_SECTOR_SIZE), 0);
	close(fd);
	cfg.rate_limiter.ops.set = true;
	cfg.rate_limiter.ops.size = 1;
	cfg.rate_limiter.ops.refill_time_ms = 100000;
	dev_up(&x, &cfg);
	/* a new image: capacity and config interrupt */
	assert_int_equal(blk_update_path(&x.b, "/nonexistent", &fl), -ENOENT);
	assert_int_equal(blk_update_path(&x.b, path2, &fl), 0);
	assert_int_equal(bus_read(&x.bus, BASE + 0x100, (uint8_t *)&cap, 8), 0);
	assert_int_equal(cap, 2 * CAP);
	assert_int_equal(r32(&x, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	assert_int_equal(r32(&x, VIRTIO_MMIO_CONFIG_GENERATION), 1);
	/* throttled, then the limit is lifted */
	dev_submit(&x, 0, VIRTIO_BLK_T_IN, 2 * CAP - 1, 512);
	dev_submit(&x, 1, VIRTIO_BLK_T_IN, 0, 512);
	w32(&x, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(ev_run_once(&x.loop, 0), 0);
	assert_int_equal(used_idx(&x), 1);
	assert_int_equal(status_of(&x, 0), VIRTIO_BLK_S_OK);
	blk_update_rate_limiter(&x.b, &none);
	assert_int_equal(used_idx(&x), 2);
	dev_down(&x);
	unlink(path2);
}

static void test_create_missing_file(void **state)
{
	struct virtio_blk b;
	struct cfg_drive cfg = {.drive_id = "x", .path_on_host = "/nonexistent/flint.img"};
	struct fault fl = {{0}};

	(void)state;
	assert_int_equal(blk_create(&b, &cfg, &fl), -ENOENT);
	assert_non_null(strstr(fl.msg, "/nonexistent/flint.img"));
	blk_destroy(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
	    T(test_parse_valid),
	    T(test_parse_malformed),
	    T(test_exec_write_read),
	    T(test_exec_flush_getid),
	    T(test_exec_read_only_disk),
#undef T
	    cmocka_unit_test(test_device_roundtrip),
	    cmocka_unit_test(test_device_read_only),
	    cmocka_unit_test(test_device_rate_limited),
	    cmocka_unit_test(test_device_update),
	    cmocka_unit_test(test_create_missing_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
