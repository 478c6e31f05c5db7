/* virtio-mmio transport, version 2 (virtio 1.1 §4.2), owning the register
 * file of one device. Devices plug in through a static const ops table.
 *
 * Threads:
 *  - vCPU threads call the register handlers (through struct bus); they take
 *    t->lock, which protects the register file and nothing else.
 *  - the VMM thread (the ev_loop) owns the queues and all device I/O: queue
 *    notifications arrive as ioeventfds, and a status change that activates
 *    or resets the device is handed over through an eventfd (ctl_fd), so
 *    ops->activate/reset/notify all run on the VMM thread and the queues need
 *    no lock. Interrupts leave through an irqfd.
 *
 * The guest driver is hostile: every register write is checked against the
 * status machine; see mmio.c for the gating rules.
 *
 * The VMM adds the device to the kernel command line itself, with
 * cmdline_add_virtio_mmio(c, LAYOUT_VIRTIO_SIZE, base, irq) (boot/cmdline.h). */
#ifndef FLINT_DEVICES_VIRTIO_MMIO_H
#define FLINT_DEVICES_VIRTIO_MMIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/virtio/queue.h"
#include "vmm/bus.h"
#include "vmm/event_loop.h"
#include "vmm/guest_mem.h"
#include "vmm/log.h"

#define VIRTIO_MMIO_MAX_QUEUES 8
#define VIRTIO_MMIO_VENDOR     0x544e4c46 /* "FLNT" */

struct virtio_mmio;

/* One per device type, static const. Every callback gets the device's own
 * pointer (the dev given to virtio_mmio_register). */
struct virtio_dev_ops {
	const char *name;
	uint32_t device_id;  /* VIRTIO_ID_* */
	uint16_t num_queues; /* 1..VIRTIO_MMIO_MAX_QUEUES */
	uint16_t queue_max;  /* QueueNumMax, a power of two <= VQ_SIZE_LIMIT */
	/* Device-specific feature bits offered; the transport adds
	 * VIRTIO_F_VERSION_1, VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC.
	 * Called once, at registration. */
	uint64_t (*features)(const void *dev);
	/* Config space, off relative to 0x100. vCPU thread, t->lock held: keep
	 * it to copying (see virtio_config_read). write may be NULL (read-only). */
	void (*config_read)(void *dev, uint64_t off, uint8_t *data, uint32_t len);
	void (*config_write)(void *dev, uint64_t off, const uint8_t *data, uint32_t len);
	/* VMM thread, on DRIVER_OK: t->queues[] hold the driver's validated
	 * queues (ready = 0 for those it did not set up), t->features the
	 * negotiated features. 0, or -errno to refuse (the transport then sets
	 * DEVICE_NEEDS_RESET). */
	int (*activate)(void *dev, struct virtio_mmio *t);
	/* VMM thread: the driver reset the device; stop touching the queues and
	 * guest memory, drop in-flight work, be ready for a new activate. */
	void (*reset)(void *dev);
	/* VMM thread: the driver notified queue q (< num_queues) of an active device. */
	void (*notify)(void *dev, uint32_t q);
};

/* What the driver programmed for one queue (register file). */
struct virtio_mmio_qregs {
	uint32_t num;
	uint32_t ready;
	uint64_t desc;
	uint64_t driver;
	uint64_t device;
};

struct virtio_mmio_notify {
	struct virtio_mmio *t;
	uint32_t q;
};

struct virtio_mmio {
	/* Fixed after virtio_mmio_register. */
	const struct virtio_dev_ops *ops;
	void *dev;
	const struct guest_mem *mem;
	struct ev_loop *loop;
	struct logger *log; /* may be NULL */
	int vm_fd;	    /* -1: test mode, no KVM ioeventfd/irqfd */
	uint64_t base;
	uint32_t irq;
	uint64_t offered; /* device + transport feature bits */
	int notify_fd[VIRTIO_MMIO_MAX_QUEUES];
	bool notify_kvm[VIRTIO_MMIO_MAX_QUEUES]; /* registered as KVM ioeventfd */
	struct virtio_mmio_notify notify_ctx[VIRTIO_MMIO_MAX_QUEUES];
	int irq_fd; /* eventfd; a KVM irqfd on gsi irq unless test mode */
	int ctl_fd; /* eventfd: status changed, reconcile on the VMM thread */

	/* Register file: vCPU threads, under lock. */
	pthread_mutex_t lock;
	uint32_t status;
	uint32_t dev_features_sel;
	uint32_t drv_features_sel;
	uint64_t acked;
	uint32_t queue_sel;
	uint32_t config_generation;
	uint32_t reset_epoch; /* bumped by every reset */
	/* The last reset_epoch the VMM thread has acted on (written by it,
	 * under lock): a reset of a live device is complete once this
	 * catches up, and the vCPU that wrote it waits for that, see
	 * vmmio_wait_settled. */
	uint32_t settled_epoch;
	pthread_cond_t settled;
	uint32_t reset_wait_ms; /* 0: a reset does not wait (test mode) */
	struct virtio_mmio_qregs qregs[VIRTIO_MMIO_MAX_QUEUES];
	uint32_t isr; /* InterruptStatus; atomic builtins, no lock */

	/* VMM thread only. */
	bool active;
	bool tried; /* activation attempted in tried_epoch */
	uint32_t tried_epoch;
	uint64_t features; /* negotiated, valid while active */
	struct virtq queues[VIRTIO_MMIO_MAX_QUEUES];
};

/* Everything the transport knows about a running device, plain and
 * fixed-width for snapshots. A restored state is untrusted. */
struct virtio_mmio_state {
	uint32_t status;
	uint32_t dev_features_sel;
	uint32_t drv_features_sel;
	uint32_t queue_sel;
	uint32_t config_generation;
	uint32_t isr;
	uint64_t acked;
	uint64_t features;
	uint8_t active;
	uint8_t pad[7];
	struct virtio_mmio_qregs qregs[VIRTIO_MMIO_MAX_QUEUES];
	struct virtq queues[VIRTIO_MMIO_MAX_QUEUES];
};

/* Create the eventfds, add [base, base + LAYOUT_VIRTIO_SIZE) to mmio_bus and
 * the notification/control eventfds to loop; unless vm_fd < 0, register one
 * KVM ioeventfd per queue (QueueNotify, 4 bytes, datamatch = queue index)
 * and a KVM irqfd on gsi irq (the VM needs its in-kernel irqchip by then).
 * Start-up only (before vCPUs run, on the VMM thread). 0 or -errno. */
int virtio_mmio_register(struct virtio_mmio *t, struct bus *mmio_bus, int vm_fd,
			 struct ev_loop *loop, const struct guest_mem *mem, uint64_t base,
			 uint32_t irq, const struct virtio_dev_ops *ops, void *dev,
			 struct logger *log);
/* Undo register (the bus range stays: the bus has no removal). */
void virtio_mmio_destroy(struct virtio_mmio *t);

/* Bus handlers (exported for tests; normally reached through the bus). */
void virtio_mmio_read(void *opaque, uint64_t off, uint8_t *data, uint32_t len);
void virtio_mmio_write(void *opaque, uint64_t off, const uint8_t *data, uint32_t len);

/* VMM thread: apply a pending activation/reset now (the ctl_fd callback). */
void virtio_mmio_reconcile(struct virtio_mmio *t);

/* VMM thread, vCPUs paused: apply any status change still pending (as
 * virtio_mmio_reconcile), then copy the transport state out. */
void virtio_mmio_save(struct virtio_mmio *t, struct virtio_mmio_state *st);
/* VMM thread, before the vCPUs run, on a freshly registered t: check st
 * (status reachable, acks within the offer, ready queues valid in guest RAM,
 * an active device has DRIVER_OK) and load it; an active device is
 * re-activated through ops->activate. 0 or -EINVAL (t left reset). */
int virtio_mmio_restore(struct virtio_mmio *t, const struct virtio_mmio_state *st);

/* Any thread: the device put buffers in a used ring / changed its config.
 * Sets the InterruptStatus bit and fires the irqfd. */
void virtio_mmio_signal_used(struct virtio_mmio *t);
void virtio_mmio_signal_config(struct virtio_mmio *t);

/* VMM thread: come back to queue q on the next loop turn (a device that
 * stops after a batch, so one busy queue cannot starve the loop). */
void virtio_mmio_requeue(struct virtio_mmio *t, uint32_t q);

/* Device helper for config_read: copy [off, off+len) of cfg (cfg_len bytes)
 * to data; bytes outside cfg read as zero. */
void virtio_config_read(const void *cfg, uint64_t cfg_len, uint64_t off, uint8_t *data,
			uint32_t len);

#endif
