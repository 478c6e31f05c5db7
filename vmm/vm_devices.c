/* Virtio device slots and the device table. */
#include "vmm/vm_devices.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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
