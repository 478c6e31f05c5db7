/* The microVM's virtio-mmio devices: each takes the next slot (base address
 * LAYOUT_VIRTIO_START + n * LAYOUT_VIRTIO_SIZE, IRQ LAYOUT_VIRTIO_IRQ_BASE
 * + n) and an entry on the kernel command line, and is remembered in a
 * table so the VM can report its metrics and destroy it. VMM thread, while
 * the VM is built. */
#ifndef FLINT_VMM_VM_DEVICES_H
#define FLINT_VMM_VM_DEVICES_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/config.h"
#include "vmm/metrics.h"

struct vm;
struct virtio_mmio;

struct vm_device {
	const char *kind; /* "block", "net", "vsock", "entropy" */
	char id[CFG_ID_MAX + 1];
	void *dev;
	/* The device's virtio-mmio transport (every device here has one). */
	struct virtio_mmio *transport;
	uint64_t base;
	uint32_t irq;
	/* Release everything the device holds, including dev itself. */
	void (*destroy)(void *dev);
	/* Add the device's metric group(s) to a flush; may be NULL. */
	void (*metrics)(void *dev, struct metrics_out *o);
	/* Snapshots (VMM thread). save: vCPUs paused; write the device's state
	 * (plain fixed-width data, at most cap bytes) to buf and its length to
	 * *len. restore: on the freshly built device of a restore, before the
	 * vCPUs run; the blob is untrusted and checked like guest input, and
	 * a device that had work queued picks it up again. NULL: this device
	 * kind cannot be snapshotted yet (a snapshot of the VM is refused). */
	int (*save)(void *dev, void *buf, size_t cap, size_t *len);
	int (*restore)(void *dev, const void *buf, size_t len, struct fault *f);
};

/* Reserve the next virtio-mmio slot and put it on the command line. */
int vm_virtio_slot(struct vm *vm, uint64_t *base, uint32_t *irq, struct fault *f);
/* Remember a registered device (takes over d->dev). */
int vm_add_device(struct vm *vm, const struct vm_device *d, struct fault *f);
/* Create every configured device: drives (root first), entropy, network
 * interfaces, vsock. */
int vm_add_virtio_devices(struct vm *vm, struct fault *f);
/* Act on every device's pending status change now (VMM thread): a vCPU
 * that reset a running device waits for that, see vm_pause. */
void vm_devices_settle(struct vm *vm);
/* Every device's metrics, in table order. */
void vm_devices_metrics(struct vm *vm, struct metrics_out *o);
void vm_destroy_devices(struct vm *vm);

/* Snapshot hooks for a virtio-mmio device whose state is its transport's
 * (struct virtio_mmio_state): block, entropy, and the base of the others. */
int vm_virtio_save(struct virtio_mmio *t, void *buf, size_t cap, size_t *len);
int vm_virtio_restore(struct virtio_mmio *t, const void *buf, size_t len, struct fault *f);

/* Per-kind adders (one file each). */
int vm_add_drives(struct vm *vm, struct fault *f);
int vm_add_entropy(struct vm *vm, struct fault *f);
int vm_add_vsock(struct vm *vm, struct fault *f);
int vm_add_nets(struct vm *vm, struct fault *f);

#endif
