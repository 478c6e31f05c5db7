/* Virtio device slots and the device table. */
#include "vmm/vm_devices.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio/mmio.h"
#include "vmm/vm.h"

int vm_virtio_slot(struct vm *vm, uint64_t *base, uint32_t *irq, struct fault *f)
{
	uint32_t n = (uint32_t)vm->nvirtio;

	if (n >= LAYOUT_VIRTIO_MAX || LAYOUT_VIRTIO_IRQ_BASE + n > LAYOUT_IRQ_MAX) {
		fault_set(f, "too many devices: at most %d virtio devices", LAYOUT_VIRTIO_MAX);
		return -ENOSPC;
	}
	*base = LAYOUT_VIRTIO_START + n * LAYOUT_VIRTIO_SIZE;
	*irq = LAYOUT_VIRTIO_IRQ_BASE + n;
	if (cmdline_add_virtio_mmio(&vm->cmdline, LAYOUT_VIRTIO_SIZE, *base, *irq) != 0) {
		fault_set(f, "the kernel command line is too long for another virtio device");
		return -E2BIG;
	}
	vm->nvirtio++;
	return 0;
}

int vm_add_device(struct vm *vm, const struct vm_device *d, struct fault *f)
{
	if (vm->ndevices >= LAYOUT_VIRTIO_MAX) {
		fault_set(f, "too many devices");
		return -ENOSPC;
	}
	vm->devices[vm->ndevices++] = *d;
	return 0;
}

void vm_devices_settle(struct vm *vm)
{
	for (int i = 0; i < vm->ndevices; i++)
		if (vm->devices[i].transport)
			virtio_mmio_reconcile(vm->devices[i].transport);
}

void vm_devices_metrics(struct vm *vm, struct metrics_out *o)
{
	for (int i = 0; i < vm->ndevices; i++)
		if (vm->devices[i].metrics)
			vm->devices[i].metrics(vm->devices[i].dev, o);
}

void vm_destroy_devices(struct vm *vm)
{
	for (int i = vm->ndevices - 1; i >= 0; i--)
		if (vm->devices[i].destroy)
			vm->devices[i].destroy(vm->devices[i].dev);
	vm->ndevices = 0;
}

int vm_add_virtio_devices(struct vm *vm, struct fault *f)
{
	int err = vm_add_drives(vm, f);

	if (!err)
		err = vm_add_entropy(vm, f);
	if (!err)
		err = vm_add_nets(vm, f);
	if (!err)
		err = vm_add_vsock(vm, f);
	return err;
}

int vm_virtio_save(struct virtio_mmio *t, void *buf, size_t cap, size_t *len)
{
	struct virtio_mmio_state st;

	if (cap < sizeof(st))
		return -ENOSPC;
	virtio_mmio_save(t, &st);
	memcpy(buf, &st, sizeof(st));
	*len = sizeof(st);
	return 0;
}

int vm_virtio_restore(struct virtio_mmio *t, const void *buf, size_t len, struct fault *f)
{
	struct virtio_mmio_state st;

	if (len != sizeof(st)) {
		fault_set(f, "%s: the saved state has %zu bytes, expected %zu", t->ops->name, len,
			  sizeof(st));
		return -EINVAL;
	}
	memcpy(&st, buf, sizeof(st));
	if (virtio_mmio_restore(t, &st) != 0) {
		fault_set(f, "%s: the saved virtio state is invalid for this guest", t->ops->name);
		return -EINVAL;
	}
	/* Requests the driver queued before the snapshot and the device had
	 * not taken yet: look at every queue once the loop runs. */
	for (uint32_t q = 0; st.active && q < t->ops->num_queues; q++)
		virtio_mmio_requeue(t, q);
	return 0;
}
