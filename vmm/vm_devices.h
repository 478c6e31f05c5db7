/* The microVM's virtio-mmio devices: each takes the next slot (base address
 * LAYOUT_VIRTIO_START + n * LAYOUT_VIRTIO_SIZE, IRQ LAYOUT_VIRTIO_IRQ_BASE
 * + n) and an entry on the kernel command line, and is remembered in a
 * table so the VM can report its metrics and destroy it. VMM thread, while
 * the VM is built. */
#ifndef FLINT_VMM_VM_DEVICES_H
#define FLINT_VMM_VM_DEVICES_H

#include <stdint.h>

#include "vmm/config.h"
#include "vmm/metrics.h"

struct vm;

struct vm_device {
	const char *kind; /* "block", "net", "vsock", "entropy" */
	char id[CFG_ID_MAX + 1];
	void *dev;
	uint64_t base;
	uint32_t irq;
	/* Release everything the device holds, including dev itself. */
	void (*destroy)(void *dev);
	/* Add the device's metric group(s) to a flush; may be NULL. */
	void (*metrics)(void *dev, struct metrics_out *o);
};

/* Reserve the next virtio-mmio slot and put it on the command line. */
int vm_virtio_slot(struct vm *vm, uint64_t *base, uint32_t *irq, struct fault *f);
/* Remember a registered device (takes over d->dev). */
int vm_add_device(struct vm *vm, const struct vm_device *d, struct fault *f);
/* Create every configured device: drives (root first), entropy, network
 * interfaces, vsock. */
int vm_add_virtio_devices(struct vm *vm, struct fault *f);
/* Every device's metrics, in table order. */
void vm_devices_metrics(struct vm *vm, struct metrics_out *o);
void vm_destroy_devices(struct vm *vm);

/* Per-kind adders (one file each). */
int vm_add_drives(struct vm *vm, struct fault *f);
int vm_add_entropy(struct vm *vm, struct fault *f);
int vm_add_vsock(struct vm *vm, struct fault *f);
int vm_add_nets(struct vm *vm, struct fault *f);

#endif
