/* virtio-blk io_engine "Async": requests in flight on an io_uring, completed
 * from the ring's eventfd on the VMM thread. See block.h for the contract. */
#include "devices/virtio/block.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

int blk_async_create(struct virtio_blk *b, const char *drive_id, struct fault *f)
{
	struct blk_async *a = calloc(1, sizeof(*a));
	int err;

	if (!a) {
		fault_set(f, "drive %s: out of memory", drive_id);
		return -ENOMEM;
	}
	err = du_init(&a->du, BLK_ASYNC_SLOTS);
	if (err) {
		fault_set(f, "drive %s: io_engine Async: cannot set up io_uring: %s", drive_id,
			  strerror(-err));
		free(a);
		return err;
	}
	for (uint32_t i = 0; i < BLK_ASYNC_SLOTS; i++)
		a->free[i] = (uint16_t)(BLK_ASYNC_SLOTS - 1 - i);
	a->nfree = BLK_ASYNC_SLOTS;
	b->async = a;
	return 0;
}

/* One request done: count it and, unless dropped, write its status and
 * return its chain. Returns true if it was pushed. */
static bool blk_async_complete(struct virtio_blk *b, uint64_t tag, int32_t res, bool push)
{
	struct blk_async *a = b->async;
	struct blk_slot *s;
	struct blk_req r = {0};
	uint32_t want, written;
	uint8_t status;

	if (tag >= BLK_ASYNC_SLOTS || !a->slots[tag].busy)
		return false; /* tags are slot indices we issued: cannot happen */
	s = &a->slots[tag];
	r.type = s->type;
	r.data_len = s->data_len;
	want = s->type == VIRTIO_BLK_T_FLUSH ? 0 : s->data_len;
	/* A short transfer means the image shrank under us: an I/O error, as
	 * disk_read reports it on the synchronous path. */
	status = res >= 0 && (uint32_t)res == want ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
	blk_count(&b->stats, &r, status);
	push = push && !s->discard && b->mmio.active;
	if (push) {
		*s->status = status;
		written =
		    (status == VIRTIO_BLK_S_OK && s->type == VIRTIO_BLK_T_IN ? s->data_len : 0);
		vq_push(&b->mmio.queues[0], b->mmio.mem, s->head, written + 1);
	}
	s->busy = false;
	a->free[a->nfree++] = (uint16_t)tag;
	return push;
}

static void blk_async_signal(struct virtio_blk *b)
{
	struct virtq *q = &b->mmio.queues[0];

	if (b->mmio.active && vq_needs_interrupt(q, b->mmio.mem))
		virtio_mmio_signal_used(&b->mmio);
}

/* The ring's eventfd: push what completed, then take more requests if
 * we had stopped for want of a slot. */
static void blk_async_event(void *opaque, uint32_t events)
{
	struct virtio_blk *b = opaque;
	struct blk_async *a = b->async;
	bool pushed = false;
	uint64_t tag;
	int32_t res;

	(void)events;
	du_ack(&a->du); /* before reaping: a later completion signals again */
	while (du_reap(&a->du, &tag, &res) == 1)
		pushed |= blk_async_complete(b, tag, res, true);
	if (pushed)
		blk_async_signal(b);
	if (a->stalled && b->mmio.active && !b->throttled) {
		a->stalled = false;
		blk_process(b);
	}
}

int blk_async_register(struct virtio_blk *b)
{
	int err = ev_add(b->mmio.loop, b->async->du.efd, EPOLLIN, blk_async_event, b);

	b->async->on_loop = err == 0;
	return err;
}

/* Host address of the status byte: the request keeps it until completion. */
static int blk_async_status(const struct vq_chain *c, const struct guest_mem *m,
			    const struct blk_req *r, uint8_t **status)
{
	struct iovec st;
	int n = vq_chain_iov(c, m, true, r->status_off, 1, &st, 1);

	if (n != 1)
		return n < 0 ? n : -EFAULT;
	*status = st.iov_base;
	return 0;
}

/* Queue r on the ring in slot i. 0 or -errno (nothing queued). */
static int blk_async_queue(struct virtio_blk *b, const struct vq_chain *c, const struct blk_req *r,
			   uint16_t i)
{
	struct blk_async *a = b->async;
	struct blk_slot *s = &a->slots[i];
	const struct guest_mem *m = b->mmio.mem;
	uint64_t off = r->sector * BLK_SECTOR_SIZE; /* sector <= capacity: no overflow */
	int cnt;

	switch (r->type) {
	case VIRTIO_BLK_T_IN:
		cnt = vq_chain_iov(c, m, true, 0, r->data_len, s->iov, BLK_ASYNC_IOV);
		return cnt < 0 ? cnt : du_queue_read(&a->du, &b->disk, off, s->iov, cnt, i);
	case VIRTIO_BLK_T_OUT:
		cnt = vq_chain_iov(c, m, false, BLK_HDR_SIZE, r->data_len, s->iov, BLK_ASYNC_IOV);
		return cnt < 0 ? cnt : du_queue_write(&a->du, &b->disk, off, s->iov, cnt, i);
	default: /* FLUSH, checked by the caller */
		return du_queue_flush(&a->du, &b->disk, i);
	}
}

int blk_async_start(struct virtio_blk *b, const struct vq_chain *c, const struct blk_req *r)
{
	struct blk_async *a = b->async;
	struct blk_slot *s;
	uint8_t *status;
	uint16_t i;
	int err;

	if (r->type == VIRTIO_BLK_T_FLUSH
		? !disk_flush_needed(&b->disk)
		: (r->type != VIRTIO_BLK_T_IN && r->type != VIRTIO_BLK_T_OUT) || r->data_len == 0)
		return -EOPNOTSUPP; /* nothing worth a round trip through the ring */
	if (a->nfree == 0)
		return -EBUSY;
	err = blk_async_status(c, b->mmio.mem, r, &status);
	if (err)
		return err;
	i = a->free[a->nfree - 1];
	err = blk_async_queue(b, c, r, i); /* -E2BIG: too many segments */
	if (err)
		return err;
	a->nfree--;
	s = &a->slots[i];
	s->status = status;
	s->type = r->type;
	s->data_len = r->data_len;
	s->head = c->head;
	s->busy = true;
	s->discard = false;
	return 0;
}

bool blk_async_flush(struct virtio_blk *b, bool *pushed)
{
	struct blk_async *a = b->async;
	int err = du_submit(&a->du);
	uint64_t tag;
	int32_t res;

	if (err) {
		if (!a->submit_logged)
			LOG_ERROR(b->log,
				  "virtio-blk %.20s: io_uring submission failed (%s); retrying",
				  b->id, strerror(-err));
		a->submit_logged = true;
		/* The operations stay queued in the ring: try again next loop turn. */
		virtio_mmio_requeue(&b->mmio, 0);
	}
	/* Requests served from the page cache complete inside the submit:
	 * take them now, and clear the eventfd they signalled first, so the
	 * loop does not wake for nothing (one that completes after the ack
	 * signals again). */
	if (du_ready(&a->du)) {
		du_ack(&a->du);
		while (du_reap(&a->du, &tag, &res) == 1)
			*pushed |= blk_async_complete(b, tag, res, true);
	}
	return a->nfree > 0;
}

void blk_async_drain(struct virtio_blk *b, bool push)
{
	struct blk_async *a = b->async;
	bool pushed = false;
	uint64_t tag;
	int32_t res;
	int n;

	if (!push)
		for (uint32_t i = 0; i < BLK_ASYNC_SLOTS; i++)
			a->slots[i].discard = a->slots[i].busy;
	while ((n = du_wait(&a->du, &tag, &res)) == 1)
		pushed |= blk_async_complete(b, tag, res, push);
	if (n < 0)
		LOG_ERROR(b->log, "virtio-blk %.20s: waiting for io_uring completions: %s", b->id,
			  strerror(-n));
	else
		du_ack(&a->du); /* all reaped here: no wake-up for the loop */
	if (pushed)
		blk_async_signal(b);
	a->stalled = false;
}

void blk_async_destroy(struct virtio_blk *b)
{
	struct blk_async *a = b->async;

	if (!a)
		return;
	if (a->on_loop)
		ev_del(b->mmio.loop, a->du.efd);
	/* The kernel must be done with guest memory before it is unmapped. */
	blk_async_drain(b, false);
	du_destroy(&a->du);
	free(a);
	b->async = NULL;
}
