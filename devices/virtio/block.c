/* virtio-blk front-end: request parsing, execution, queue service. */
#include "devices/virtio/block.h"

#include <endian.h>
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <linux/virtio_ids.h>

#define BLK_BATCH 256 /* requests per loop turn before yielding */

/* Check [sector, sector + len/512) against the disk; len a multiple of 512. */
static int blk_check_range(uint64_t capacity, uint64_t sector, uint32_t len)
{
	uint64_t n = len / BLK_SECTOR_SIZE;

	if (len % BLK_SECTOR_SIZE != 0)
		return -EINVAL;
	if (sector > capacity || n > capacity - sector)
		return -ERANGE;
	return 0;
}

/* Data length and checks for each request type; r->type/sector already set. */
static int blk_parse_type(const struct vq_chain *c, uint64_t capacity, bool read_only,
			  struct blk_req *r)
{
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
		r->data_len = c->write_len - 1;
		return blk_check_range(capacity, r->sector, r->data_len);
	case VIRTIO_BLK_T_OUT:
		if (read_only)
			return -EROFS;
		r->data_len = c->read_len - BLK_HDR_SIZE;
		return blk_check_range(capacity, r->sector, r->data_len);
	case VIRTIO_BLK_T_FLUSH:
		return 0;
	case VIRTIO_BLK_T_GET_ID:
		r->data_len = c->write_len - 1;
		return 0;
	default:
		r->status = VIRTIO_BLK_S_UNSUPP;
		return -EOPNOTSUPP;
	}
}

int blk_parse(const struct vq_chain *c, const struct guest_mem *m, uint64_t capacity,
	      bool read_only, struct blk_req *r)
{
	struct virtio_blk_outhdr h; /* copied out once, then checked */

	memset(r, 0, sizeof(*r));
	r->status = VIRTIO_BLK_S_IOERR;
	if (c->write_len == 0)
		return -EINVAL; /* nowhere to report anything */
	r->has_status = true;
	r->status_off = c->write_len - 1;
	if (c->read_len < BLK_HDR_SIZE || vq_chain_read(c, m, 0, &h, sizeof(h)))
		return -EINVAL;
	r->type = le32toh(h.type);
	r->sector = le64toh(h.sector);
	return blk_parse_type(c, capacity, read_only, r);
}

static uint8_t blk_status_of(int err)
{
	return err ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
}

uint8_t blk_exec(const struct disk *d, const struct vq_chain *c, const struct guest_mem *m,
		 const struct blk_req *r, const char id[VIRTIO_BLK_ID_BYTES], struct iovec *iov,
		 int max_iov, uint32_t *written)
{
	uint64_t off = r->sector * BLK_SECTOR_SIZE; /* sector <= capacity: no overflow */
	uint32_t n;
	int cnt, err;

	*written = 0;
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
		cnt = vq_chain_iov(c, m, true, 0, r->data_len, iov, max_iov);
		err = cnt < 0 ? cnt : disk_read(d, off, iov, cnt);
		if (!err)
			*written = r->data_len;
		return blk_status_of(err);
	case VIRTIO_BLK_T_OUT:
		cnt = vq_chain_iov(c, m, false, BLK_HDR_SIZE, r->data_len, iov, max_iov);
		err = cnt < 0 ? cnt : disk_write(d, off, iov, cnt);
		return blk_status_of(err);
	case VIRTIO_BLK_T_FLUSH:
		return blk_status_of(disk_flush(d));
	case VIRTIO_BLK_T_GET_ID:
		n = r->data_len < VIRTIO_BLK_ID_BYTES ? r->data_len : VIRTIO_BLK_ID_BYTES;
		err = vq_chain_write(c, m, 0, id, n);
		if (!err)
			*written = n;
		return blk_status_of(err);
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}

void blk_count(struct blk_stats *s, const struct blk_req *r, uint8_t status)
{
	if (status != VIRTIO_BLK_S_OK) {
		s->io_errors++;
		return;
	}
	if (r->type == VIRTIO_BLK_T_IN) {
		s->read_count++;
		s->read_bytes += r->data_len;
	} else if (r->type == VIRTIO_BLK_T_OUT) {
		s->write_count++;
		s->write_bytes += r->data_len;
	} else if (r->type == VIRTIO_BLK_T_FLUSH) {
		s->flush_count++;
	} else {
		s->get_id_count++;
	}
}

/* Rate-limit a parsed request. False: it was given back to the queue and the
 * retry timer armed. */
static bool blk_admit(struct virtio_blk *b, struct virtq *q, const struct blk_req *r)
{
	uint64_t wait;
	uint64_t bytes =
	    r->type == VIRTIO_BLK_T_IN || r->type == VIRTIO_BLK_T_OUT ? r->data_len : 0;

	if (rl_unlimited(&b->rl) || rl_consume(&b->rl, bytes, 1, rl_now_ns(), &wait))
		return true;
	vq_undo_pop(q);
	b->throttled = true;
	b->stats.rate_limited++;
	if (rl_timer_arm(b->timer_fd, wait))
		b->throttled = false; /* cannot wait: retry on the next notification */
	return false;
}

/* Serve one popped chain. Returns false if it was deferred (rate limited). */
static bool blk_serve(struct virtio_blk *b, struct virtq *q, const struct vq_chain *c)
{
	const struct guest_mem *m = b->mmio.mem;
	struct blk_req r;
	uint32_t written = 0;
	uint8_t status;
	int err = blk_parse(c, m, le64toh(b->config.capacity), b->disk.read_only, &r);

	if (err) {
		b->stats.invalid_reqs++;
		status = r.status;
	} else {
		if (!blk_admit(b, q, &r))
			return false;
		if (b->async && blk_async_start(b, c, &r) == 0)
			return true; /* pushed when the ring completes it */
		status = blk_exec(&b->disk, c, m, &r, b->id, b->iov, BLK_QUEUE_SIZE, &written);
		blk_count(&b->stats, &r, status);
	}
	if (r.has_status && vq_chain_write(c, m, r.status_off, &status, 1) == 0)
		written++;
	else
		written = 0;
	vq_push(q, m, c->head, written);
	return true;
}

void blk_process(struct virtio_blk *b)
{
	struct virtq *q = &b->mmio.queues[0];
	struct vq_chain c = {.segs = b->segs, .cap = BLK_QUEUE_SIZE};
	bool pushed = false;

	for (int done = 0; !b->throttled;) {
		int n;

		if (b->async && b->async->nfree == 0 && !blk_async_flush(b, &pushed)) {
			b->async->stalled = true; /* a completion calls us again */
			break;
		}
		n = vq_pop(q, b->mmio.mem, &c);

		if (n == 0) {
			if (vq_enable_notify(q, b->mmio.mem))
				continue;
			break;
		}
		if (n == -EIO) {
			if (!b->broken_logged)
				LOG_ERROR(b->log,
					  "virtio-blk %.20s: queue broken by the guest, stopped",
					  b->id);
			b->broken_logged = true;
			break;
		}
		if (n < 0) {
			b->stats.invalid_reqs++;
			vq_push(q, b->mmio.mem, c.head, 0);
			pushed = true;
		} else if (blk_serve(b, q, &c)) {
			pushed = true;
		} else if (!b->throttled) {
			break; /* no timer: wait for the next notification */
		}
		if (++done == BLK_BATCH) {
			virtio_mmio_requeue(&b->mmio, 0);
			break;
		}
	}
	if (b->async)
		blk_async_flush(b, &pushed);
	if (pushed && vq_needs_interrupt(q, b->mmio.mem))
		virtio_mmio_signal_used(&b->mmio);
}

void blk_quiesce(struct virtio_blk *b)
{
	if (b->async)
		blk_async_drain(b, true);
}

/* --- transport glue --- */

static uint64_t blk_features(const void *dev)
{
	const struct virtio_blk *b = dev;

	return b->features;
}

static void blk_config_read(void *dev, uint64_t off, uint8_t *data, uint32_t len)
{
	const struct virtio_blk *b = dev;

	virtio_config_read(&b->config, sizeof(b->config), off, data, len);
}

static int blk_activate(void *dev, struct virtio_mmio *t)
{
	struct virtio_blk *b = dev;

	if (!t->queues[0].ready)
		return -EINVAL;
	b->throttled = false;
	b->broken_logged = false;
	return 0;
}

static void blk_reset(void *dev)
{
	struct virtio_blk *b = dev;

	/* A pending retry timer may still fire: it finds nothing throttled. */
	b->throttled = false;
	/* Requests in flight may still write guest memory: wait for them, and
	 * drop them, since the queue they came from is gone. */
	if (b->async)
		blk_async_drain(b, false);
}

static void blk_notify(void *dev, uint32_t q)
{
	(void)q;
	blk_process(dev);
}

static const struct virtio_dev_ops blk_ops = {
    .name = "block",
    .device_id = VIRTIO_ID_BLOCK,
    .num_queues = 1,
    .queue_max = BLK_QUEUE_SIZE,
    .features = blk_features,
    .config_read = blk_config_read,
    .config_write = NULL,
    .activate = blk_activate,
    .reset = blk_reset,
    .notify = blk_notify,
};

static void blk_timer_event(void *opaque, uint32_t events)
{
	struct virtio_blk *b = opaque;
	uint64_t ticks;

	(void)events;
	if (read(b->timer_fd, &ticks, sizeof(ticks)) < 0)
		return;
	if (!b->throttled || !b->mmio.active)
		return;
	b->throttled = false;
	blk_process(b);
}

int blk_create(struct virtio_blk *b, const struct cfg_drive *cfg, struct fault *f)
{
	int err;

	memset(b, 0, sizeof(*b));
	b->timer_fd = -1;
	err = disk_open(&b->disk, cfg->path_on_host, cfg->is_read_only, cfg->cache_type);
	if (err) {
		fault_set(f, "drive %s: cannot open %s: %s", cfg->drive_id, cfg->path_on_host,
			  strerror(-err));
		return err;
	}
	b->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (b->timer_fd < 0) {
		err = -errno;
		fault_set(f, "drive %s: timerfd: %s", cfg->drive_id, strerror(-err));
		blk_destroy(b);
		return err;
	}
	/* GET_ID: up to 20 bytes, NUL-padded, not necessarily terminated. */
	memcpy(b->id, cfg->drive_id, strnlen(cfg->drive_id, sizeof(b->id)));
	/* A partial last sector is not visible to the guest (as Firecracker). */
	b->config.capacity = htole64(b->disk.size / BLK_SECTOR_SIZE);
	b->config.seg_max = htole32(BLK_QUEUE_SIZE - 2); /* all but header and status */
	b->features = 1ULL << VIRTIO_BLK_F_SEG_MAX;
	if (cfg->is_read_only)
		b->features |= 1ULL << VIRTIO_BLK_F_RO;
	if (cfg->cache_type == CFG_CACHE_WRITEBACK)
		b->features |= 1ULL << VIRTIO_BLK_F_FLUSH;
	rl_init(&b->rl, &cfg->rate_limiter, rl_now_ns());
	if (cfg->io_engine == CFG_IO_ASYNC) {
		err = blk_async_create(b, cfg->drive_id, f);
		if (err)
			blk_destroy(b);
	}
	return err;
}

int blk_register(struct virtio_blk *b, struct bus *mmio_bus, int vm_fd, struct ev_loop *loop,
		 const struct guest_mem *mem, uint64_t base, uint32_t irq, struct logger *log)
{
	int err;

	b->log = log;
	err =
	    virtio_mmio_register(&b->mmio, mmio_bus, vm_fd, loop, mem, base, irq, &blk_ops, b, log);
	if (err)
		return err;
	err = ev_add(loop, b->timer_fd, EPOLLIN, blk_timer_event, b);
	if (!err && b->async && (err = blk_async_register(b)) != 0)
		ev_del(loop, b->timer_fd);
	if (!err && b->async)
		LOG_INFO(log, "virtio-blk %.20s: io_engine Async (io_uring, %d requests in flight)",
			 b->id, BLK_ASYNC_SLOTS);
	if (err)
		virtio_mmio_destroy(&b->mmio);
	return err;
}

int blk_update_path(struct virtio_blk *b, const char *path, struct fault *f)
{
	struct disk nd;
	int err = disk_open(&nd, path, b->disk.read_only, b->disk.cache);

	if (err) {
		fault_set(f, "drive %.20s: cannot open %s: %s", b->id, path, strerror(-err));
		return err;
	}
	/* Nothing may still be reading or writing the old fd. */
	blk_quiesce(b);
	disk_close(&b->disk);
	b->disk = nd;
	/* vCPU threads read the config under the register lock */
	pthread_mutex_lock(&b->mmio.lock);
	b->config.capacity = htole64(nd.size / BLK_SECTOR_SIZE);
	pthread_mutex_unlock(&b->mmio.lock);
	virtio_mmio_signal_config(&b->mmio);
	return 0;
}

void blk_update_rate_limiter(struct virtio_blk *b, const struct cfg_rate_limiter *cfg)
{
	rl_update(&b->rl, cfg, rl_now_ns());
	if (b->throttled && b->mmio.active) {
		b->throttled = false;
		blk_process(b); /* the new limits may admit the waiting request */
	}
}

void blk_destroy(struct virtio_blk *b)
{
	blk_async_destroy(b);
	if (b->mmio.ops && b->mmio.loop && b->timer_fd >= 0)
		ev_del(b->mmio.loop, b->timer_fd);
	virtio_mmio_destroy(&b->mmio);
	if (b->timer_fd >= 0)
		close(b->timer_fd);
	b->timer_fd = -1;
	disk_close(&b->disk);
}
