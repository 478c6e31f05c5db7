/* virtio-blk io_engine "Async": the io_uring back-end on a memfd, then the
 * whole device with requests in flight: completion only from the ring,
 * many at once (more than the slots), flush, errors, reset, image swap and
 * the snapshot quiesce with I/O outstanding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>
#include <sys/mman.h>
#include <cmocka.h>

#include "devices/disk_uring.h"

#include "blk_fx.h"

static uint8_t pat_byte(uint64_t sector, unsigned i)
{
	return (uint8_t)(sector * 7 + i);
}

/* Fill the image at path with pat_byte. */
static void fill_image(const char *path, uint64_t sectors)
{
	uint8_t sec[BLK_SECTOR_SIZE];
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	for (uint64_t s = 0; s < sectors; s++) {
		for (unsigned i = 0; i < sizeof(sec); i++)
			sec[i] = pat_byte(s, i);
		assert_int_equal(pwrite(fd, sec, sizeof(sec), (off_t)(s * sizeof(sec))),
				 sizeof(sec));
	}
	close(fd);
}

static void read_image(const char *path, uint64_t sector, uint8_t *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, (off_t)(sector * BLK_SECTOR_SIZE)), (ssize_t)len);
	close(fd);
}

static void check_slot_data(struct dev_fx *x, int slot, uint64_t sector)
{
	uint8_t buf[BLK_SECTOR_SIZE];

	assert_int_equal(gm_read(&x->m, buf, DATA + 0x1000 * (uint64_t)slot, sizeof(buf)), 0);
	for (unsigned i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], pat_byte(sector, i));
}

/* --- the back-end alone --- */

static void test_du_ops_and_limits(void **state)
{
	struct disk_uring u;
	struct disk d, ro;
	uint8_t a[1024], b[512];
	struct iovec wv[1] = {{a, sizeof(a)}}, rv[1] = {{b, sizeof(b)}};
	uint64_t tag;
	int32_t res;
	int fd = memfd_create("du", MFD_CLOEXEC);

	(void)state;
	assert_true(fd >= 0 && ftruncate(fd, 4096) == 0);
	assert_int_equal(disk_from_fd(&d, fd, false, CFG_CACHE_WRITEBACK), 0);
	assert_int_equal(disk_from_fd(&ro, dup(fd), true, CFG_CACHE_UNSAFE), 0);
	assert_int_equal(du_init(&u, 0), -EINVAL);
	assert_int_equal(du_init(&u, 100000), -EINVAL);
	assert_int_equal(du_init(&u, 2), 0);
	/* the back-end re-checks what the parser already bounded */
	assert_int_equal(du_queue_read(&u, &d, 4096 - 512, wv, 1, 9), -EINVAL);
	assert_int_equal(du_queue_read(&u, &d, UINT64_MAX - 10, rv, 1, 9), -EINVAL);
	assert_int_equal(du_queue_write(&u, &ro, 0, rv, 1, 9), -EROFS);
	assert_int_equal(u.inflight, 0);
	memset(a, 0x3c, sizeof(a));
	assert_int_equal(du_queue_write(&u, &d, 1024, wv, 1, 7), 0);
	assert_int_equal(du_queue_flush(&u, &d, 8), 0);
	assert_int_equal(du_queue_read(&u, &d, 0, rv, 1, 9), -EBUSY); /* depth 2 */
	assert_int_equal(du_reap(&u, &tag, &res), 0);		      /* nothing submitted */
	assert_int_equal(du_submit(&u), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(du_wait(&u, &tag, &res), 1);
		assert_true(tag == 7 || tag == 8);
		assert_int_equal(res, tag == 7 ? (int32_t)sizeof(a) : 0);
	}
	assert_int_equal(du_wait(&u, &tag, &res), 0); /* nothing in flight */
	/* the eventfd was signalled; ack clears it */
	du_ack(&u);
	assert_int_equal(read(u.efd, &tag, sizeof(tag)), -1);
	assert_int_equal(du_queue_read(&u, &d, 1024 + 512, rv, 1, 11), 0);
	assert_int_equal(du_wait(&u, &tag, &res), 1); /* submits what is queued */
	assert_int_equal(tag, 11);
	assert_int_equal(res, 512);
	assert_int_equal(b[0], 0x3c);
	assert_int_equal(b[511], 0x3c);
	du_destroy(&u);
	du_destroy(&u); /* idempotent */
	disk_close(&ro);
	disk_close(&d);
}

/* An operation the kernel completes later, from task work in the
 * submitting thread rather than inside the submit or in an io-wq worker
 * (buffered reads of an uncached image do this): its completion must still
 * wake the event loop through the eventfd. A pipe read with no data yet
 * takes that path every time. */
static void test_du_late_completion_signals(void **state)
{
	struct disk_uring u;
	struct disk d = {.size = 1 << 20, .read_only = true, .cache = CFG_CACHE_UNSAFE};
	uint8_t b[16];
	struct iovec rv[1] = {{b, sizeof(b)}};
	struct pollfd pfd;
	uint64_t tag;
	int32_t res;
	int p[2];

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	d.fd = p[0];
	assert_int_equal(du_init(&u, 2), 0);
	assert_int_equal(du_queue_read(&u, &d, 0, rv, 1, 5), 0);
	assert_int_equal(du_submit(&u), 0);
	assert_int_equal(du_reap(&u, &tag, &res), 0); /* still waiting for data */
	du_ack(&u);
	assert_int_equal(write(p[1], "0123456789abcdef", 16), 16);
	pfd = (struct pollfd){.fd = u.efd, .events = POLLIN};
	assert_int_equal(poll(&pfd, 1, 10000), 1);
	du_ack(&u);
	assert_int_equal(du_reap(&u, &tag, &res), 1);
	assert_int_equal(tag, 5);
	assert_int_equal(res, 16);
	assert_memory_equal(b, "0123456789abcdef", 16);
	du_destroy(&u);
	close(p[0]);
	close(p[1]);
}

/* --- the whole device --- */

static const struct cfg_drive async_wb = {
    .drive_id = "async", .cache_type = CFG_CACHE_WRITEBACK, .io_engine = CFG_IO_ASYNC};

static void test_async_roundtrip(void **state)
{
	struct dev_fx x;
	uint8_t pat[512], back[512];
	uint32_t used[4];

	(void)state;
	dev_up(&x, &async_wb);
	assert_non_null(x.b.async);
	memset(pat, 0x5c, sizeof(pat));
	assert_int_equal(gm_write(&x.m, DATA, pat, sizeof(pat)), 0);
	dev_submit(&x, 0, VIRTIO_BLK_T_OUT, 9, 512);
	dev_submit(&x, 1, 77, 0, 512);		       /* unknown type: at once */
	dev_submit(&x, 2, VIRTIO_BLK_T_GET_ID, 0, 20); /* served in place */
	dev_submit(&x, 3, VIRTIO_BLK_T_IN, 9, 512);
	w32(&x, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(ev_run_once(&x.loop, 0), 0);
	/* Each chain is either held in flight or completed (cached data is
	 * often done inside the submit call), never lost or pushed twice. */
	assert_int_equal(used_idx(&x) + dev_in_flight(&x), 4);
	assert_int_equal(status_of(&x, 1), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(status_of(&x, 2), VIRTIO_BLK_S_OK);
	dev_settle(&x);
	assert_int_equal(used_idx(&x), 4);
	assert_int_equal(status_of(&x, 0), VIRTIO_BLK_S_OK);
	assert_int_equal(status_of(&x, 3), VIRTIO_BLK_S_OK);
	/* the read ran after the write was queued, not necessarily after it
	 * finished: check the file, then read again */
	read_image(x.path, 9, back, sizeof(back));
	assert_memory_equal(back, pat, sizeof(back));
	/* the in-place ones first: unknown type (status only), GET_ID (id + status) */
	assert_int_equal(gm_read(&x.m, used, USED + 4, 16), 0);
	assert_int_equal(used[0], 3);
	assert_int_equal(used[1], 1);
	assert_int_equal(used[2], 6);
	assert_int_equal(used[3], 21);
	assert_int_equal(x.b.stats.write_count, 1);
	assert_int_equal(x.b.stats.read_count, 1);
	assert_int_equal(x.b.stats.get_id_count, 1);
	assert_int_equal(x.b.stats.invalid_reqs, 1);
	assert_int_equal(r32(&x, VIRTIO_MMIO_INTERRUPT_STATUS), 1);
	dev_down(&x);
}

/* More requests than slots: the device stops taking them, and the
 * completions bring it back until the queue is empty. */
static void test_async_many_in_flight(void **state)
{
	struct dev_fx x;
	const int n = 80; /* > BLK_ASYNC_SLOTS, 3 descriptors each in a 256 queue */
	uint32_t e[2];

	(void)state;
	dev_up_q(&x, &async_wb, 256);
	fill_image(x.path, CAP);
	for (int i = 0; i < n; i++)
		dev_submit(&x, i, VIRTIO_BLK_T_IN, (uint64_t)(i * 5) % CAP, 512);
	w32(&x, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(ev_run_once(&x.loop, 0), 0);
	/* all taken, or every slot busy and the rest waiting in the ring */
	assert_true(used_idx(&x) + dev_in_flight(&x) == n ||
		    (x.b.async->stalled && dev_in_flight(&x) == BLK_ASYNC_SLOTS));
	dev_settle(&x);
	for (int i = 0; i < 10 && used_idx(&x) < n; i++) {
		assert_int_equal(ev_run_once(&x.loop, 10), 0);
		dev_settle(&x);
	}
	assert_int_equal(used_idx(&x), n);
	assert_false(x.b.async->stalled);
	for (int i = 0; i < n; i++) {
		assert_int_equal(status_of(&x, i), VIRTIO_BLK_S_OK);
		check_slot_data(&x, i, (uint64_t)(i * 5) % CAP);
	}
	/* every used element names a head we queued, with 513 bytes written */
	for (int i = 0; i < n; i++) {
		assert_int_equal(gm_read(&x.m, e, USED + 4 + 8ULL * (uint64_t)i, 8), 0);
		assert_int_equal(e[0] % 3, 0);
		assert_true(e[0] < 3U * (uint32_t)n);
		assert_int_equal(e[1], 513);
	}
	assert_int_equal(x.b.stats.read_count, n);
	dev_down(&x);
}

static void test_async_flush_and_errors(void **state)
{
	struct dev_fx x;
	struct cfg_drive ro = {.drive_id = "ro", .is_read_only = true, .io_engine = CFG_IO_ASYNC};
	struct cfg_drive unsafe = {.drive_id = "u", .io_engine = CFG_IO_ASYNC};

	(void)state;
	dev_up(&x, &async_wb);
	dev_submit(&x, 0, VIRTIO_BLK_T_OUT, 1, 512);
	dev_submit(&x, 1, VIRTIO_BLK_T_FLUSH, 0, 0);
	w32(&x, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(ev_run_once(&x.loop, 0), 0);
	/* Writeback: fdatasync on the ring (always finished by an io_uring
	 * worker, so it completes through the eventfd) */
	assert_int_equal(used_idx(&x) + dev_in_flight(&x), 2);
	dev_settle(&x);
	assert_int_equal(status_of(&x, 1), VIRTIO_BLK_S_OK);
	assert_int_equal(x.b.stats.flush_count, 1);
	/* The image shrinks under the device: a short read is an I/O error. */
	assert_int_equal(truncate(x.path, 8 * BLK_SECTOR_SIZE), 0);
	dev_submit(&x, 2, VIRTIO_BLK_T_IN, 20, 512);
	dev_submit(&x, 3, VIRTIO_BLK_T_IN, 7, 1024);
	w32(&x, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(ev_run_once(&x.loop, 0), 0);
	dev_settle(&x);
	assert_int_equal(used_idx(&x), 4);
	assert_int_equal(status_of(&x, 2), VIRTIO_BLK_S_IOERR);
	assert_int_equal(status_of(&x, 3), VIRTIO_BLK_S_IOERR);
	assert_int_equal(x.b.stats.io_errors, 2);
	dev_down(&x);

	/* read-only: writes refused, flush has nothing to do */
	dev_up(&x, &ro);
	dev_submit(&x, 0, VIRTIO_BLK_T_OUT, 0, 512);
	dev_submit(&x, 1, VIRTIO_BLK_T_FLUSH, 0, 0);
	w32(&x, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(ev_run_once(&x.loop, 0), 0);
	assert_int_equal(used_idx(&x), 2);
	assert_int_equal(status_of(&x, 0), VIRTIO_BLK_S_IOERR);
	assert_int_equal(status_of(&x, 1), VIRTIO_BLK_S_OK);
	dev_down(&x);

	/* Unsafe: flush is a no-op served in place */
	dev_up(&x, &unsafe);
	dev_submit(&x, 0, VIRTIO_BLK_T_FLUSH, 0, 0);
	w32(&x, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(ev_run_once(&x.loop, 0), 0);
	assert_int_equal(dev_in_flight(&x), 0);
	assert_int_equal(used_idx(&x), 1);
	assert_int_equal(status_of(&x, 0), VIRTIO_BLK_S_OK);
	dev_down(&x);
}

/* A reset with requests in flight waits for them (their writes land), then
 * drops them: nothing reaches the reset queue; the device comes back. The
 * flush keeps at least that request in flight (an io_uring worker does it). */
static void test_async_reset_in_flight(void **state)
{
	struct dev_fx x;
	uint8_t pat[512], back[512];
	uint16_t before;

	(void)state;
	dev_up(&x, &async_wb);
	memset(pat, 0xa7, sizeof(pat));
	assert_int_equal(gm_write(&x.m, DATA + 0x1000, pat, sizeof(pat)), 0);
	dev_submit(&x, 0, VIRTIO_BLK_T_FLUSH, 0, 0);
	dev_submit(&x, 1, VIRTIO_BLK_T_OUT, 5, 512);
	dev_submit(&x, 2, VIRTIO_BLK_T_FLUSH, 0, 0);
	w32(&x, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(ev_run_once(&x.loop, 0), 0);
	before = used_idx(&x);
	assert_int_equal(before + dev_in_flight(&x), 3);
	/* Reconcile at once, so the reset (not a completion that may already
	 * be waiting on the loop) is what the device sees next. */
	w32(&x, VIRTIO_MMIO_STATUS, 0);
	virtio_mmio_reconcile(&x.b.mmio);
	assert_false(x.b.mmio.active);
	assert_int_equal(dev_in_flight(&x), 0);
	assert_int_equal(used_idx(&x), before);
	read_image(x.path, 5, back, sizeof(back));
	assert_memory_equal(back, pat, sizeof(back));
	/* stale completions must not appear later either */
	assert_int_equal(ev_run_once(&x.loop, 20), 0);
	assert_int_equal(used_idx(&x), before);
	/* the driver sets the device up again and it serves requests */
	assert_int_equal(gm_write(&x.m, USED + 2, &(uint16_t){0}, 2), 0);
	x.avail_idx = 0;
	dev_driver_up(&x);
	dev_submit(&x, 0, VIRTIO_BLK_T_IN, 5, 512);
	w32(&x, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(ev_run_once(&x.loop, 0), 0);
	dev_settle(&x);
	assert_int_equal(used_idx(&x), 1);
	assert_int_equal(gm_read(&x.m, back, DATA, sizeof(back)), 0);
	assert_memory_equal(back, pat, sizeof(back));
	dev_down(&x);
}

/* PATCH /drives and a snapshot both complete what is in flight first. */
static void test_async_swap_and_quiesce(void **state)
{
	struct dev_fx x;
	struct fault fl = {{0}};
	char path2[] = "/tmp/flint-blk2-XXXXXX";
	int fd = mkstemp(path2);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	dev_up(&x, &async_wb);
	fill_image(x.path, CAP);
	assert_int_equal(truncate(path2, 2 * CAP * BLK_SECTOR_SIZE), 0);
	fill_image(path2, 2 * CAP);
	dev_submit(&x, 0, VIRTIO_BLK_T_IN, 3, 512);
	dev_submit(&x, 1, VIRTIO_BLK_T_IN, 4, 512);
	dev_submit(&x, 2, VIRTIO_BLK_T_FLUSH, 0, 0); /* done by a worker: in flight */
	w32(&x, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(ev_run_once(&x.loop, 0), 0);
	assert_int_equal(used_idx(&x) + dev_in_flight(&x), 3);
	blk_quiesce(&x.b);
	assert_int_equal(dev_in_flight(&x), 0);
	assert_int_equal(used_idx(&x), 3);
	assert_int_equal(r32(&x, VIRTIO_MMIO_INTERRUPT_STATUS), 1);
	check_slot_data(&x, 0, 3);
	check_slot_data(&x, 1, 4);
	/* in flight across an image swap: completed against the old image */
	dev_submit(&x, 3, VIRTIO_BLK_T_OUT, 6, 512);
	dev_submit(&x, 4, VIRTIO_BLK_T_FLUSH, 0, 0);
	w32(&x, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(ev_run_once(&x.loop, 0), 0);
	assert_int_equal(used_idx(&x) + dev_in_flight(&x), 5);
	assert_int_equal(blk_update_path(&x.b, path2, &fl), 0);
	assert_int_equal(dev_in_flight(&x), 0);
	assert_int_equal(used_idx(&x), 5);
	assert_int_equal(status_of(&x, 3), VIRTIO_BLK_S_OK);
	assert_int_equal(status_of(&x, 4), VIRTIO_BLK_S_OK);
	/* and the next request goes to the new one, past the old end */
	dev_submit(&x, 0, VIRTIO_BLK_T_IN, CAP + 1, 512);
	w32(&x, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(ev_run_once(&x.loop, 0), 0);
	dev_settle(&x);
	assert_int_equal(used_idx(&x), 6);
	assert_int_equal(status_of(&x, 0), VIRTIO_BLK_S_OK);
	check_slot_data(&x, 0, CAP + 1);
	blk_quiesce(&x.b); /* nothing in flight: a no-op */
	dev_down(&x);
	unlink(path2);
}

/* The rate limiter still gates requests before they reach the ring. */
static void test_async_rate_limited(void **state)
{
	struct dev_fx x;
	struct cfg_drive cfg = async_wb;

	(void)state;
	cfg.rate_limiter.ops.set = true;
	cfg.rate_limiter.ops.size = 1;
	cfg.rate_limiter.ops.refill_time_ms = 20;
	dev_up(&x, &cfg);
	dev_submit(&x, 0, VIRTIO_BLK_T_IN, 0, 512);
	dev_submit(&x, 1, VIRTIO_BLK_T_IN, 1, 512);
	w32(&x, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(ev_run_once(&x.loop, 0), 0);
	assert_int_equal(used_idx(&x) + dev_in_flight(&x), 1);
	assert_true(x.b.throttled);
	dev_settle(&x);
	for (int i = 0; i < 100 && used_idx(&x) < 2; i++)
		assert_int_equal(ev_run_once(&x.loop, 10), 0);
	dev_settle(&x);
	assert_int_equal(used_idx(&x), 2);
	assert_int_equal(x.b.stats.rate_limited, 1);
	dev_down(&x);
}

/* Destroying a device with requests in flight waits for them first (ASan
 * would see the ring writing freed or unmapped memory otherwise). */
static void test_async_destroy_in_flight(void **state)
{
	struct dev_fx x;

	(void)state;
	dev_up_q(&x, &async_wb, 64);
	for (int i = 0; i < 20; i++)
		dev_submit(&x, i, i % 2 ? VIRTIO_BLK_T_FLUSH : VIRTIO_BLK_T_OUT, (uint64_t)i,
			   i % 2 ? 0 : 512);
	w32(&x, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(ev_run_once(&x.loop, 0), 0);
	assert_int_equal(used_idx(&x) + dev_in_flight(&x), 20);
	dev_down(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_du_ops_and_limits),
	    cmocka_unit_test(test_du_late_completion_signals),
	    cmocka_unit_test(test_async_roundtrip),
	    cmocka_unit_test(test_async_many_in_flight),
	    cmocka_unit_test(test_async_flush_and_errors),
	    cmocka_unit_test(test_async_reset_in_flight),
	    cmocka_unit_test(test_async_swap_and_quiesce),
	    cmocka_unit_test(test_async_rate_limited),
	    cmocka_unit_test(test_async_destroy_in_flight),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
