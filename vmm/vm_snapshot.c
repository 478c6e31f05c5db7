/* Saving and restoring the state of a struct vm. */
#include "vmm/vm_snapshot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot/kvm_state.h"

static uint32_t vm_page_size(const struct vm *vm)
{
	return vm->cfg->machine.huge_pages == CFG_HUGE_2M ? SNAP_PAGE_2M : SNAP_PAGE_4K;
}

static int vm_save_vcpus(struct vm *vm, struct snap_writer *w, struct fault *f)
{
	struct snap_vcpu *c = malloc(sizeof(*c));
	int err = c ? 0 : -ENOMEM;

	for (int i = 0; !err && i < vm->nvcpus; i++) {
		err = snap_kvm_save_vcpu(vm->kvm.kvm_fd, vm->vcpus[i].fd, i, c, f);
		if (!err)
			snap_add(w, SNAP_SEC_VCPU, (uint32_t)i, c, sizeof(*c));
	}
	free(c);
	return err;
}

/* The UART (registers, receive FIFO) and the i8042. */
static void vm_save_legacy(struct vm *vm, struct snap_writer *w)
{
	struct serial_regs regs;
	struct serial_fifo fifo;
	struct i8042_state kbd;

	serial_save(&vm->serial, &regs, &fifo);
	i8042_save(&vm->i8042, &kbd);
	snap_add(w, SNAP_SEC_SERIAL, 0, &regs, sizeof(regs));
	snap_add(w, SNAP_SEC_SERIAL_FIFO, 0, &fifo, sizeof(fifo));
	snap_add(w, SNAP_SEC_I8042, 0, &kbd, sizeof(kbd));
}

static int vm_save_devices(struct vm *vm, struct snap_writer *w, struct fault *f)
{
	uint8_t *buf = malloc(sizeof(struct snap_device_hdr) + SNAP_DEVICE_MAX);
	int err = buf ? 0 : -ENOMEM;

	for (int i = 0; !err && i < vm->ndevices; i++) {
		const struct vm_device *d = &vm->devices[i];
		struct snap_device_hdr h;
		size_t len = 0;

		if (!d->save) {
			fault_set(f, "the %s device '%s' cannot be snapshotted by this flint build",
				  d->kind, d->id);
			err = -ENOTSUP;
			break;
		}
		memset(&h, 0, sizeof(h));
		snprintf(h.kind, sizeof(h.kind), "%s", d->kind);
		snprintf(h.id, sizeof(h.id), "%s", d->id);
		memcpy(buf, &h, sizeof(h));
		err = d->save(d->dev, buf + sizeof(h), SNAP_DEVICE_MAX, &len);
		if (err || len > SNAP_DEVICE_MAX) {
			fault_set(f, "saving the %s device '%s' failed", d->kind, d->id);
			err = err ? err : -E2BIG;
			break;
		}
		snap_add(w, SNAP_SEC_DEVICE, (uint32_t)i, buf, (uint32_t)(sizeof(h) + len));
	}
	free(buf);
	return err;
}

int vm_snapshot_save(struct vm *vm, struct snap_writer *w, const char *config, size_t config_len,
		     struct fault *f)
{
	struct snap_mem mem;
	struct snap_vm st;
	int err;

	if (config_len == 0 || config_len > SNAP_CONFIG_MAX) {
		fault_set(f, "the configuration is too large for a snapshot");
		return -E2BIG;
	}
	snap_add(w, SNAP_SEC_CONFIG, 0, config, (uint32_t)config_len);
	snap_mem_layout(&mem, vm->mem.ram_size, vm_page_size(vm));
	snap_add(w, SNAP_SEC_MEMORY, 0, &mem, sizeof(mem));
	memset(&st, 0, sizeof(st));
	err = snap_kvm_save_vm(vm->kvm.vm_fd, &st, f);
	if (err)
		return err;
	st.nvcpus = (uint32_t)vm->nvcpus;
	snap_add(w, SNAP_SEC_VM, 0, &st, sizeof(st));
	err = vm_save_vcpus(vm, w, f);
	if (err)
		return err;
	vm_save_legacy(vm, w);
	return vm_save_devices(vm, w, f);
}

int vm_snapshot_check(const struct vm *vm, const struct snap_state *st, struct fault *f)
{
	if (st->nvcpus != (uint32_t)vm->nvcpus) {
		fault_set(f, "the snapshot has %u vCPUs, its configuration %d", st->nvcpus,
			  vm->nvcpus);
		return -EINVAL;
	}
	if (st->mem.ram_size != vm->mem.ram_size || st->mem.page_size != vm_page_size(vm)) {
		fault_set(f, "the snapshot's memory does not match its configuration");
		return -EINVAL;
	}
	if (st->ndevices != (uint32_t)vm->ndevices) {
		fault_set(f, "the snapshot has %u devices, its configuration %d", st->ndevices,
			  vm->ndevices);
		return -EINVAL;
	}
	for (int i = 0; i < vm->ndevices; i++) {
		const struct vm_device *d = &vm->devices[i];
		const struct snap_device_hdr *h = &st->devices[i].hdr;

		if (strcmp(h->kind, d->kind) != 0 || strcmp(h->id, d->id) != 0) {
			fault_set(f,
				  "device %d of the snapshot is %s '%s', its configuration "
				  "made %s '%s'",
				  i, h->kind, h->id, d->kind, d->id);
			return -EINVAL;
		}
		if (!d->restore) {
			fault_set(f, "the %s device '%s' cannot be restored by this flint build",
				  d->kind, d->id);
			return -ENOTSUP;
		}
	}
	return 0;
}

static int vm_restore_devices(struct vm *vm, const struct snap_state *st, struct fault *f)
{
	for (int i = 0; i < vm->ndevices; i++) {
		const struct vm_device *d = &vm->devices[i];
		int err = d->restore(d->dev, st->devices[i].data, st->devices[i].len, f);

		if (err)
			return err;
	}
	return 0;
}

int vm_snapshot_restore(struct vm *vm, const struct snap_state *st, bool clock_realtime,
			bool *tsc_warn, struct fault *f)
{
	int err = snap_kvm_restore_vm(vm->kvm.vm_fd, &st->vm, f);

	*tsc_warn = false;
	for (int i = 0; !err && i < vm->nvcpus; i++) {
		bool off = false;

		err = snap_kvm_restore_vcpu(vm->vcpus[i].fd, i, &st->vcpus[i], &off, f);
		*tsc_warn |= off;
	}
	if (err)
		return err;
	/* snap_decode checked these states */
	if (st->has_serial)
		serial_restore(&vm->serial, &st->serial,
			       st->has_serial_fifo ? &st->serial_fifo : NULL);
	if (st->has_i8042)
		i8042_restore(&vm->i8042, &st->i8042);
	err = vm_restore_devices(vm, st, f);
	if (!err)
		err = snap_kvm_restore_clock(vm->kvm.vm_fd, &st->vm, clock_realtime, f);
	return err;
}

int vm_snapshot_dirty(struct vm *vm, struct snap_dirty *d, struct fault *f)
{
	for (int i = 0; i < vm->mem.nregions; i++) {
		int err = snap_kvm_dirty_log(vm->kvm.vm_fd, (uint32_t)i, d->npages[i], d->bits[i]);

		if (err) {
			fault_set(f, "KVM_GET_DIRTY_LOG failed: %s", strerror(-err));
			return err;
		}
		gm_dirty_take(&vm->mem, i, d->bits[i]);
	}
	return 0;
}
