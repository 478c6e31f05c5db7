/* virtio-mmio v2 register file, status machine and KVM plumbing.
 *
 * Gating rules (virtio 1.1 §2.1, §3.1, §4.2.2):
 *  - Status moves only along the table below; 0 resets; FAILED may be set
 *    at any time; anything else is ignored.
 *  - DriverFeatures[Sel] are writable only while DRIVER is set and
 *    FEATURES_OK is not; acks are masked to what was offered. FEATURES_OK is
 *    refused (stays clear) unless VIRTIO_F_VERSION_1 was acked.
 *  - Queue registers (QueueNum, QueueReady, Queue{Desc,Driver,Device}*) are
 *    writable only between FEATURES_OK and DRIVER_OK, and (but QueueReady)
 *    only for a queue that is not ready. QueueReady=1 validates the ring
 *    against guest RAM (vq_validate) and stays 0 if it fails.
 *  - Registers are 32 bits: other widths or unaligned offsets read as zero
 *    and writes are dropped. Unknown offsets read zero. */
#include "devices/virtio/mmio.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kvm.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#include "boot/layout.h"
#include "vmm/cond.h"

#define S_ACK	VIRTIO_CONFIG_S_ACKNOWLEDGE
#define S_DRV	VIRTIO_CONFIG_S_DRIVER
#define S_FEAT	VIRTIO_CONFIG_S_FEATURES_OK
#define S_OK	VIRTIO_CONFIG_S_DRIVER_OK
#define S_NEEDS VIRTIO_CONFIG_S_NEEDS_RESET
#define S_FAIL	VIRTIO_CONFIG_S_FAILED

/* How long a vCPU's reset write waits for the VMM thread to stop the
 * device. The VMM thread answers in microseconds unless it is itself
 * waiting for this vCPU (pausing it for a snapshot, stopping the VM):
 * then the wait runs out, the vCPU pauses, and the reset completes on the
 * next loop turn, as it would have without waiting. */
#define VMMIO_RESET_WAIT_MS 200

#define VMMIO_TRANSPORT_FEATURES                                                                   \
	((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_RING_F_EVENT_IDX) |                        \
	 (1ULL << VIRTIO_RING_F_INDIRECT_DESC))

/* The driver's initialisation sequence, §3.1.1, one step per write. */
static const struct {
	uint32_t from, to;
} vmmio_status_moves[] = {
    {0, S_ACK},
    {S_ACK, S_ACK | S_DRV},
    {S_ACK | S_DRV, S_ACK | S_DRV | S_FEAT},
    {S_ACK | S_DRV | S_FEAT, S_ACK | S_DRV | S_FEAT | S_OK},
};

static void vmmio_kick(int fd)
{
	uint64_t one = 1;

	/* Only fails if the counter would overflow: the reader is behind anyway. */
	if (write(fd, &one, sizeof(one)) < 0)
		return;
}

static void vmmio_drain(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0)
		return;
}

void virtio_config_read(const void *cfg, uint64_t cfg_len, uint64_t off, uint8_t *data,
			uint32_t len)
{
	memset(data, 0, len);
	if (off >= cfg_len)
		return;
	memcpy(data, (const uint8_t *)cfg + off, cfg_len - off < len ? cfg_len - off : len);
}

/* --- register reads (t->lock held) --- */

static uint32_t vmmio_queue_reg(const struct virtio_mmio *t, uint64_t off)
{
	const struct virtio_mmio_qregs *q;

	if (t->queue_sel >= t->ops->num_queues)
		return 0;
	q = &t->qregs[t->queue_sel];
	switch (off) {
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		return t->ops->queue_max;
	case VIRTIO_MMIO_QUEUE_READY:
		return q->ready;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
		return (uint32_t)q->desc;
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		return (uint32_t)(q->desc >> 32);
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
		return (uint32_t)q->driver;
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		return (uint32_t)(q->driver >> 32);
	case VIRTIO_MMIO_QUEUE_USED_LOW:
		return (uint32_t)q->device;
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		return (uint32_t)(q->device >> 32);
	default:
		return 0;
	}
}

static uint32_t vmmio_reg_read(struct virtio_mmio *t, uint64_t off)
{
	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return 0x74726976; /* "virt" */
	case VIRTIO_MMIO_VERSION:
		return 2;
	case VIRTIO_MMIO_DEVICE_ID:
		return t->ops->device_id;
	case VIRTIO_MMIO_VENDOR_ID:
		return VIRTIO_MMIO_VENDOR;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		if (t->dev_features_sel > 1)
			return 0;
		return (uint32_t)(t->offered >> (32 * t->dev_features_sel));
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return __atomic_load_n(&t->isr, __ATOMIC_ACQUIRE);
	case VIRTIO_MMIO_STATUS:
		return t->status;
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return t->config_generation;
	default:
		return vmmio_queue_reg(t, off);
	}
}

void virtio_mmio_read(void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
	struct virtio_mmio *t = opaque;
	uint32_t v;

	memset(data, 0, len);
	pthread_mutex_lock(&t->lock);
	if (off >= VIRTIO_MMIO_CONFIG) {
		if (off < LAYOUT_VIRTIO_SIZE && len <= LAYOUT_VIRTIO_SIZE - off)
			t->ops->config_read(t->dev, off - VIRTIO_MMIO_CONFIG, data, len);
	} else if (len == 4 && off % 4 == 0) {
		v = vmmio_reg_read(t, off);
		memcpy(data, &v, 4);
	}
	pthread_mutex_unlock(&t->lock);
}

/* --- register writes (t->lock held) --- */

static void vmmio_reset_regs(struct virtio_mmio *t)
{
	t->status = 0;
	t->dev_features_sel = 0;
	t->drv_features_sel = 0;
	t->acked = 0;
	t->queue_sel = 0;
	memset(t->qregs, 0, sizeof(t->qregs));
	__atomic_store_n(&t->isr, 0, __ATOMIC_RELEASE);
	t->reset_epoch++;
}

static bool vmmio_status_allowed(uint32_t cur, uint32_t val)
{
	for (size_t i = 0; i < sizeof(vmmio_status_moves) / sizeof(vmmio_status_moves[0]); i++)
		if (vmmio_status_moves[i].from == cur && vmmio_status_moves[i].to == val)
			return true;
	return false;
}

/* Wait (t->lock held) until the VMM thread has acted on the reset that
 * made reset_epoch, or reset_wait_ms passed. The driver frees its
 * rings as soon as its reset write returns (Linux does not read the status
 * back), and virtio 1.2 section 2.4.1 lets a device touch its queues only
 * until the reset is complete: so it completes before the write returns,
 * as it does in QEMU and Firecracker, whose devices reset under the lock
 * their queue processing holds. */
static void vmmio_wait_settled(struct virtio_mmio *t)
{
	uint32_t want = t->reset_epoch;
	struct timespec deadline = cond_deadline_ms(t->reset_wait_ms);
	while ((int32_t)(want - t->settled_epoch) > 0)
		if (pthread_cond_timedwait(&t->settled, &t->lock, &deadline) == ETIMEDOUT) {
			LOG_WARN(t->log,
				 "virtio %s at %#llx: the VMM thread did not settle a reset within "
				 "%u ms; the driver goes on",
				 t->ops->name, (unsigned long long)t->base, t->reset_wait_ms);
			break;
		}
}

static void vmmio_write_status(struct virtio_mmio *t, uint32_t val)
{
	uint32_t cur = t->status & ~(uint32_t)S_NEEDS;

	val &= ~(uint32_t)S_NEEDS; /* device-owned bit */
	if (val == 0) {
		vmmio_reset_regs(t);
		vmmio_kick(t->ctl_fd);
		/* Only a device that reached DRIVER_OK can have running queues. */
		if ((cur & S_OK) && t->reset_wait_ms)
			vmmio_wait_settled(t);
		return;
	}
	if (val == (cur | S_FAIL)) {
		t->status |= S_FAIL;
		return;
	}
	if (cur & S_FAIL || !vmmio_status_allowed(cur, val))
		return;
	/* A legacy (pre-1.0) driver cannot drive a version 2 device. */
	if ((val & S_FEAT) && !(cur & S_FEAT) && !(t->acked & (1ULL << VIRTIO_F_VERSION_1)))
		return;
	t->status = val | (t->status & S_NEEDS);
	if (val & S_OK)
		vmmio_kick(t->ctl_fd);
}

/* QueueReady=1: check the programmed ring against guest RAM now, so a bad
 * one reads back as not ready. */
static void vmmio_write_ready(struct virtio_mmio *t, struct virtio_mmio_qregs *q, uint32_t val)
{
	struct virtq probe = {.max_size = t->ops->queue_max};

	if (val == 0 || q->num > UINT16_MAX) {
		q->ready = 0;
		return;
	}
	probe.size = (uint16_t)q->num;
	probe.desc_gpa = q->desc;
	probe.avail_gpa = q->driver;
	probe.used_gpa = q->device;
	q->ready = vq_validate(&probe, t->mem, t->acked) == 0;
}

static void vmmio_set_half(uint64_t *r, bool high, uint32_t val)
{
	if (high)
		*r = (*r & 0xffffffffULL) | ((uint64_t)val << 32);
	else
		*r = (*r & ~0xffffffffULL) | val;
}

static void vmmio_write_queue(struct virtio_mmio *t, uint64_t off, uint32_t val)
{
	struct virtio_mmio_qregs *q;

	if (t->queue_sel >= t->ops->num_queues)
		return;
	if (!(t->status & S_FEAT) || (t->status & (S_OK | S_FAIL)))
		return;
	q = &t->qregs[t->queue_sel];
	if (off == VIRTIO_MMIO_QUEUE_READY) {
		vmmio_write_ready(t, q, val);
		return;
	}
	if (q->ready)
		return;
	switch (off) {
	case VIRTIO_MMIO_QUEUE_NUM:
		q->num = val;
		break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		vmmio_set_half(&q->desc, off == VIRTIO_MMIO_QUEUE_DESC_HIGH, val);
		break;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		vmmio_set_half(&q->driver, off == VIRTIO_MMIO_QUEUE_AVAIL_HIGH, val);
		break;
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		vmmio_set_half(&q->device, off == VIRTIO_MMIO_QUEUE_USED_HIGH, val);
		break;
	default:
		break;
	}
}

static void vmmio_write_features(struct virtio_mmio *t, uint32_t val)
{
	uint64_t mask;

	if (!(t->status & S_DRV) || (t->status & (S_FEAT | S_FAIL)) || t->drv_features_sel > 1)
		return;
	mask = 0xffffffffULL << (32 * t->drv_features_sel);
	t->acked = (t->acked & ~mask) | (((uint64_t)val << (32 * t->drv_features_sel)) & mask);
	t->acked &= t->offered;
}

static void vmmio_reg_write(struct virtio_mmio *t, uint64_t off, uint32_t val)
{
	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		t->dev_features_sel = val;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		t->drv_features_sel = val;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		vmmio_write_features(t, val);
		break;
	case VIRTIO_MMIO_QUEUE_SEL:
		t->queue_sel = val;
		break;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		/* Reached only without a KVM ioeventfd (test mode, or a write
		 * KVM did not match): take the same path to the VMM thread. */
		if (val < t->ops->num_queues)
			vmmio_kick(t->notify_fd[val]);
		break;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		__atomic_fetch_and(&t->isr, ~val, __ATOMIC_ACQ_REL);
		break;
	case VIRTIO_MMIO_STATUS:
		vmmio_write_status(t, val);
		break;
	default:
		vmmio_write_queue(t, off, val);
		break;
	}
}

void virtio_mmio_write(void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct virtio_mmio *t = opaque;
	uint32_t v;

	pthread_mutex_lock(&t->lock);
	if (off >= VIRTIO_MMIO_CONFIG) {
		if (t->ops->config_write && off < LAYOUT_VIRTIO_SIZE &&
		    len <= LAYOUT_VIRTIO_SIZE - off)
			t->ops->config_write(t->dev, off - VIRTIO_MMIO_CONFIG, data, len);
	} else if (len == 4 && off % 4 == 0) {
		memcpy(&v, data, 4);
		vmmio_reg_write(t, off, v);
	}
	pthread_mutex_unlock(&t->lock);
}

/* --- VMM thread: activation and reset --- */

static void vmmio_deactivate(struct virtio_mmio *t)
{
	t->ops->reset(t->dev);
	t->active = false;
	for (int i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
		vq_reset(&t->queues[i]);
}

static int vmmio_activate(struct virtio_mmio *t, const struct virtio_mmio_qregs *qr, uint64_t acked)
{
	t->features = acked;
	for (int i = 0; i < t->ops->num_queues; i++) {
		struct virtq *q = &t->queues[i];

		vq_reset(q);
		if (!qr[i].ready)
			continue;
		q->size = (uint16_t)qr[i].num; /* checked <= queue_max at QueueReady */
		q->desc_gpa = qr[i].desc;
		q->avail_gpa = qr[i].driver;
		q->used_gpa = qr[i].device;
		if (vq_validate(q, t->mem, acked))
			return -EINVAL;
	}
	return t->ops->activate(t->dev, t);
}

/* The device no longer runs anything from before reset epoch: release a
 * vCPU waiting in vmmio_wait_settled. */
static void vmmio_settle(struct virtio_mmio *t, uint32_t epoch)
{
	pthread_mutex_lock(&t->lock);
	t->settled_epoch = epoch;
	pthread_cond_broadcast(&t->settled);
	pthread_mutex_unlock(&t->lock);
}

void virtio_mmio_reconcile(struct virtio_mmio *t)
{
	struct virtio_mmio_qregs qr[VIRTIO_MMIO_MAX_QUEUES];
	uint32_t status, epoch;
	uint64_t acked;
	int err;

	pthread_mutex_lock(&t->lock);
	status = t->status;
	epoch = t->reset_epoch;
	acked = t->acked;
	memcpy(qr, t->qregs, sizeof(qr));
	pthread_mutex_unlock(&t->lock);

	if (t->active && (epoch != t->tried_epoch || !(status & S_OK)))
		vmmio_deactivate(t);
	if (epoch != t->settled_epoch)
		vmmio_settle(t, epoch);
	if (t->active || !(status & S_OK) || (status & S_FAIL))
		return;
	if (t->tried && t->tried_epoch == epoch)
		return; /* failed once in this epoch: wait for a reset */
	t->tried = true;
	t->tried_epoch = epoch;
	err = vmmio_activate(t, qr, acked);
	if (err == 0) {
		t->active = true;
		return;
	}
	LOG_WARN(t->log, "virtio %s at %#llx: activation failed (%d)", t->ops->name,
		 (unsigned long long)t->base, err);
	for (int i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
		vq_reset(&t->queues[i]);
	pthread_mutex_lock(&t->lock);
	if (t->reset_epoch == epoch)
		t->status |= S_NEEDS;
	pthread_mutex_unlock(&t->lock);
	virtio_mmio_signal_config(t);
}

static void vmmio_ctl_event(void *opaque, uint32_t events)
{
	struct virtio_mmio *t = opaque;

	(void)events;
	vmmio_drain(t->ctl_fd);
	virtio_mmio_reconcile(t);
}

static void vmmio_notify_event(void *opaque, uint32_t events)
{
	struct virtio_mmio_notify *n = opaque;
	struct virtio_mmio *t = n->t;

	(void)events;
	vmmio_drain(t->notify_fd[n->q]);
	/* A notification can overtake the DRIVER_OK hand-over: settle first. */
	virtio_mmio_reconcile(t);
	if (t->active)
		t->ops->notify(t->dev, n->q);
}

void virtio_mmio_signal_used(struct virtio_mmio *t)
{
	__atomic_fetch_or(&t->isr, VIRTIO_MMIO_INT_VRING, __ATOMIC_ACQ_REL);
	vmmio_kick(t->irq_fd);
}

void virtio_mmio_signal_config(struct virtio_mmio *t)
{
	pthread_mutex_lock(&t->lock);
	t->config_generation++;
	pthread_mutex_unlock(&t->lock);
	__atomic_fetch_or(&t->isr, VIRTIO_MMIO_INT_CONFIG, __ATOMIC_ACQ_REL);
	vmmio_kick(t->irq_fd);
}

void virtio_mmio_requeue(struct virtio_mmio *t, uint32_t q)
{
	if (q < t->ops->num_queues)
		vmmio_kick(t->notify_fd[q]);
}

/* --- snapshots --- */

void virtio_mmio_save(struct virtio_mmio *t, struct virtio_mmio_state *st)
{
	/* The vCPUs may have changed the status after the last loop turn (a
	 * reset, a new DRIVER_OK): settle it first, or the saved registers
	 * and running queues disagree and the snapshot does not load. */
	virtio_mmio_reconcile(t);
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&t->lock);
	st->status = t->status;
	st->dev_features_sel = t->dev_features_sel;
	st->drv_features_sel = t->drv_features_sel;
	st->queue_sel = t->queue_sel;
	st->config_generation = t->config_generation;
	st->acked = t->acked;
	memcpy(st->qregs, t->qregs, sizeof(st->qregs));
	pthread_mutex_unlock(&t->lock);
	st->isr = __atomic_load_n(&t->isr, __ATOMIC_ACQUIRE);
	st->active = t->active;
	st->features = t->features;
	memcpy(st->queues, t->queues, sizeof(st->queues));
}

/* A status the driver can have reached: a prefix of the init sequence, plus
 * FAILED / NEEDS_RESET. */
static bool vmmio_status_reachable(uint32_t status)
{
	uint32_t base = status & ~(uint32_t)(S_FAIL | S_NEEDS);

	if (base == 0)
		return status == 0 || status == S_FAIL;
	for (size_t i = 0; i < sizeof(vmmio_status_moves) / sizeof(vmmio_status_moves[0]); i++)
		if (vmmio_status_moves[i].to == base)
			return true;
	return false;
}

static int vmmio_check_state(const struct virtio_mmio *t, const struct virtio_mmio_state *st)
{
	if (!vmmio_status_reachable(st->status) || (st->acked & ~t->offered) ||
	    (st->isr & ~(uint32_t)(VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG)))
		return -EINVAL;
	if ((st->status & S_FEAT) && !(st->acked & (1ULL << VIRTIO_F_VERSION_1)))
		return -EINVAL;
	if (st->active && (!(st->status & S_OK) || st->features != st->acked))
		return -EINVAL;
	for (int i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++) {
		const struct virtio_mmio_qregs *qr = &st->qregs[i];
		struct virtq q = st->queues[i];

		if (i >= t->ops->num_queues && (qr->ready || q.ready))
			return -EINVAL;
		if (qr->ready > 1 || (qr->ready && qr->num > UINT16_MAX))
			return -EINVAL;
		if (!st->active || !q.ready)
			continue;
		/* the running queue must be the one the registers describe */
		if (!qr->ready || q.size != qr->num || q.desc_gpa != qr->desc ||
		    q.avail_gpa != qr->driver || q.used_gpa != qr->device)
			return -EINVAL;
		q.max_size = t->ops->queue_max;
		if (vq_validate(&q, t->mem, st->features))
			return -EINVAL;
	}
	return 0;
}

static void vmmio_load_queues(struct virtio_mmio *t, const struct virtio_mmio_state *st)
{
	for (int i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++) {
		struct virtq *q = &t->queues[i];

		vq_reset(q);
		if (!st->active || !st->queues[i].ready)
			continue;
		*q = st->queues[i];
		q->max_size = t->ops->queue_max;
		/* re-derive the flags from the checked features, not the file */
		(void)vq_validate(q, t->mem, st->features);
	}
}

int virtio_mmio_restore(struct virtio_mmio *t, const struct virtio_mmio_state *st)
{
	int err = vmmio_check_state(t, st);

	if (err)
		return err;
	pthread_mutex_lock(&t->lock);
	t->status = st->status;
	t->dev_features_sel = st->dev_features_sel;
	t->drv_features_sel = st->drv_features_sel;
	t->queue_sel = st->queue_sel;
	t->config_generation = st->config_generation;
	t->acked = st->acked;
	memcpy(t->qregs, st->qregs, sizeof(t->qregs));
	for (int i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
		t->qregs[i].ready = i < t->ops->num_queues && st->qregs[i].ready;
	__atomic_store_n(&t->isr, st->isr, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&t->lock);
	t->features = st->features;
	/* a DRIVER_OK device that was not active had failed: do not retry */
	t->tried = st->active || (st->status & S_OK);
	t->tried_epoch = t->reset_epoch;
	vmmio_load_queues(t, st);
	if (!st->active)
		return 0;
	err = t->ops->activate(t->dev, t);
	if (err) {
		pthread_mutex_lock(&t->lock);
		vmmio_reset_regs(t);
		pthread_mutex_unlock(&t->lock);
		for (int i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
			vq_reset(&t->queues[i]);
		return -EINVAL;
	}
	t->active = true;
	return 0;
}

/* --- registration --- */

static int vmmio_kvm_ioeventfd(struct virtio_mmio *t, uint32_t q, bool assign)
{
	struct kvm_ioeventfd io = {
	    .datamatch = q,
	    .addr = t->base + VIRTIO_MMIO_QUEUE_NOTIFY,
	    .len = 4,
	    .fd = t->notify_fd[q],
	    .flags = KVM_IOEVENTFD_FLAG_DATAMATCH | (assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN),
	};

	return ioctl(t->vm_fd, KVM_IOEVENTFD, &io) ? -errno : 0;
}

static int vmmio_kvm_irqfd(struct virtio_mmio *t, bool assign)
{
	struct kvm_irqfd irqfd = {
	    .fd = (uint32_t)t->irq_fd,
	    .gsi = t->irq,
	    .flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN,
	};

	return ioctl(t->vm_fd, KVM_IRQFD, &irqfd) ? -errno : 0;
}

static int vmmio_check_ops(const struct virtio_dev_ops *ops)
{
	if (!ops->features || !ops->config_read || !ops->activate || !ops->reset || !ops->notify)
		return -EINVAL;
	if (ops->num_queues == 0 || ops->num_queues > VIRTIO_MMIO_MAX_QUEUES)
		return -EINVAL;
	if (ops->queue_max == 0 || ops->queue_max > VQ_SIZE_LIMIT ||
	    (ops->queue_max & (ops->queue_max - 1)))
		return -EINVAL;
	return 0;
}

static int vmmio_open_fds(struct virtio_mmio *t)
{
	t->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	t->ctl_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (t->irq_fd < 0 || t->ctl_fd < 0)
		return -errno;
	for (uint32_t q = 0; q < t->ops->num_queues; q++) {
		t->notify_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (t->notify_fd[q] < 0)
			return -errno;
		t->notify_ctx[q].t = t;
		t->notify_ctx[q].q = q;
	}
	return 0;
}

static int vmmio_hook_up(struct virtio_mmio *t)
{
	int err = ev_add(t->loop, t->ctl_fd, EPOLLIN, vmmio_ctl_event, t);

	for (uint32_t q = 0; q < t->ops->num_queues && !err; q++) {
		err = ev_add(t->loop, t->notify_fd[q], EPOLLIN, vmmio_notify_event,
			     &t->notify_ctx[q]);
		if (!err && t->vm_fd >= 0) {
			err = vmmio_kvm_ioeventfd(t, q, true);
			t->notify_kvm[q] = err == 0;
		}
	}
	if (!err && t->vm_fd >= 0)
		err = vmmio_kvm_irqfd(t, true);
	return err;
}

int virtio_mmio_register(struct virtio_mmio *t, struct bus *mmio_bus, int vm_fd,
			 struct ev_loop *loop, const struct guest_mem *mem, uint64_t base,
			 uint32_t irq, const struct virtio_dev_ops *ops, void *dev,
			 struct logger *log)
{
	struct bus_range r = {.base = base, .size = LAYOUT_VIRTIO_SIZE, .dev = t};
	int err = vmmio_check_ops(ops);

	memset(t, 0, sizeof(*t));
	t->irq_fd = t->ctl_fd = -1;
	for (int i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
		t->notify_fd[i] = -1;
	if (err)
		return err;
	t->ops = ops;
	t->dev = dev;
	t->mem = mem;
	t->loop = loop;
	t->log = log;
	t->vm_fd = vm_fd;
	t->base = base;
	t->irq = irq;
	t->offered = ops->features(dev) | VMMIO_TRANSPORT_FEATURES;
	for (int i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
		t->queues[i].max_size = ops->queue_max;
	pthread_mutex_init(&t->lock, NULL);
	cond_init_monotonic(&t->settled);
	t->reset_wait_ms = vm_fd >= 0 ? VMMIO_RESET_WAIT_MS : 0;
	r.read = virtio_mmio_read;
	r.write = virtio_mmio_write;
	err = vmmio_open_fds(t);
	if (!err)
		err = vmmio_hook_up(t);
	if (!err)
		err = bus_add(mmio_bus, &r);
	if (err)
		virtio_mmio_destroy(t);
	return err;
}

void virtio_mmio_destroy(struct virtio_mmio *t)
{
	if (!t->ops)
		return;
	if (t->vm_fd >= 0 && t->irq_fd >= 0)
		vmmio_kvm_irqfd(t, false);
	for (uint32_t q = 0; q < VIRTIO_MMIO_MAX_QUEUES; q++) {
		if (t->notify_fd[q] < 0)
			continue;
		if (t->notify_kvm[q])
			vmmio_kvm_ioeventfd(t, q, false);
		if (t->loop)
			ev_del(t->loop, t->notify_fd[q]);
		close(t->notify_fd[q]);
		t->notify_fd[q] = -1;
	}
	if (t->ctl_fd >= 0) {
		if (t->loop)
			ev_del(t->loop, t->ctl_fd);
		close(t->ctl_fd);
	}
	if (t->irq_fd >= 0)
		close(t->irq_fd);
	t->ctl_fd = t->irq_fd = -1;
	pthread_cond_destroy(&t->settled);
	pthread_mutex_destroy(&t->lock);
	t->ops = NULL;
}
