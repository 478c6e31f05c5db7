/* Attach the configured drives (root first, as Firecracker does, so it is
 * /dev/vda) and the entropy device. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio/block.h"
#include "devices/virtio/rng.h"
#include "vmm/vm.h"
#include "vmm/vm_devices.h"

static void vm_blk_destroy(void *dev)
{
	blk_destroy(dev);
	free(dev);
}

/* No request may be in flight in a snapshot: the ring's state lives in the
 * kernel, not in the saved queue. Complete them first (the vCPUs are paused,
 * and guest memory is written after the devices, so the results are in it). */
static int vm_blk_save(void *dev, void *buf, size_t cap, size_t *len)
{
	struct virtio_blk *b = dev;

	blk_quiesce(b);
	return vm_virtio_save(&b->mmio, buf, cap, len);
}

/* The image is the one the restored configuration names, reopened by
 * blk_create; its capacity is read afresh (config space is derived). */
static int vm_blk_restore(void *dev, const void *buf, size_t len, struct fault *f)
{
	return vm_virtio_restore(&((struct virtio_blk *)dev)->mmio, buf, len, f);
}

static void vm_blk_metrics(void *dev, struct metrics_out *o)
{
	struct virtio_blk *b = dev;
	char group[8 + sizeof(b->id) + 1];

	snprintf(group, sizeof(group), "block_%.*s", (int)strnlen(b->id, sizeof(b->id)), b->id);
	metrics_group(o, group);
	metrics_counter(o, "read_count", b->stats.read_count);
	metrics_counter(o, "write_count", b->stats.write_count);
	metrics_counter(o, "flush_count", b->stats.flush_count);
	metrics_counter(o, "read_bytes", b->stats.read_bytes);
	metrics_counter(o, "write_bytes", b->stats.write_bytes);
	metrics_counter(o, "invalid_reqs_count", b->stats.invalid_reqs);
	metrics_counter(o, "execute_fails", b->stats.io_errors);
	metrics_counter(o, "rate_limiter_throttled_events", b->stats.rate_limited);
}

/* root=/dev/vda (or the partition's PARTUUID) and ro/rw, unless the user's
 * boot_args already name a root. */
static int vm_root_args(struct vm *vm, const struct cfg_drive *d, struct fault *f)
{
	char arg[96];
	int err = 0;

	if (cmdline_has(&vm->cmdline, "root"))
		return 0;
	if (d->partuuid[0])
		snprintf(arg, sizeof(arg), "root=PARTUUID=%s", d->partuuid);
	else
		snprintf(arg, sizeof(arg), "root=/dev/vda");
	err = cmdline_append(&vm->cmdline, arg);
	if (!err)
		err = cmdline_append(&vm->cmdline, d->is_read_only ? "ro" : "rw");
	if (err)
		fault_set(f, "the kernel command line is too long for the root device");
	return err;
}

static int vm_add_drive(struct vm *vm, const struct cfg_drive *d, struct fault *f)
{
	struct virtio_blk *b = calloc(1, sizeof(*b));
	struct vm_device entry = {.kind = "block",
				  .destroy = vm_blk_destroy,
				  .metrics = vm_blk_metrics,
				  .save = vm_blk_save,
				  .restore = vm_blk_restore};
	int err;

	if (!b) {
		fault_set(f, "out of memory");
		return -ENOMEM;
	}
	err = blk_create(b, d, f);
	if (err) {
		free(b);
		return err;
	}
	err = vm_virtio_slot(vm, &entry.base, &entry.irq, f);
	if (!err && (err = blk_register(b, &vm->mmio, vm->kvm.vm_fd, vm->loop, &vm->mem, entry.base,
					entry.irq, vm->log)) != 0)
		fault_set(f, "cannot attach drive %s: %s", d->drive_id, strerror(-err));
	if (err) {
		vm_blk_destroy(b);
		return err;
	}
	entry.dev = b;
	entry.transport = &b->mmio;
	snprintf(entry.id, sizeof(entry.id), "%s", d->drive_id);
	err = vm_add_device(vm, &entry, f);
	if (err)
		vm_blk_destroy(b);
	else if (d->is_root_device)
		err = vm_root_args(vm, d, f);
	return err;
}

int vm_add_drives(struct vm *vm, struct fault *f)
{
	const struct vm_config *cfg = vm->cfg;
	int err = 0;

	for (int i = 0; !err && i < cfg->ndrives; i++)
		if (cfg->drives[i].is_root_device)
			err = vm_add_drive(vm, &cfg->drives[i], f);
	for (int i = 0; !err && i < cfg->ndrives; i++)
		if (!cfg->drives[i].is_root_device)
			err = vm_add_drive(vm, &cfg->drives[i], f);
	return err;
}

static void vm_rng_destroy(void *dev)
{
	rng_destroy(dev);
	free(dev);
}

static int vm_rng_save(void *dev, void *buf, size_t cap, size_t *len)
{
	return vm_virtio_save(&((struct virtio_rng *)dev)->mmio, buf, cap, len);
}

static int vm_rng_restore(void *dev, const void *buf, size_t len, struct fault *f)
{
	return vm_virtio_restore(&((struct virtio_rng *)dev)->mmio, buf, len, f);
}

static void vm_rng_metrics(void *dev, struct metrics_out *o)
{
	struct virtio_rng *r = dev;

	metrics_group(o, "entropy");
	metrics_counter(o, "entropy_event_count", r->stats.requests);
	metrics_counter(o, "entropy_bytes", r->stats.bytes);
	metrics_counter(o, "host_rng_fails", r->stats.errors);
	metrics_counter(o, "entropy_rate_limiter_throttled", r->stats.rate_limited);
}

int vm_add_entropy(struct vm *vm, struct fault *f)
{
	struct vm_device entry = {.kind = "entropy",
				  .id = "entropy",
				  .destroy = vm_rng_destroy,
				  .metrics = vm_rng_metrics,
				  .save = vm_rng_save,
				  .restore = vm_rng_restore};
	struct virtio_rng *r;
	int err;

	if (!vm->cfg->entropy.set)
		return 0;
	r = calloc(1, sizeof(*r));
	if (!r) {
		fault_set(f, "out of memory");
		return -ENOMEM;
	}
	err = rng_create(r, &vm->cfg->entropy, f);
	if (err) {
		free(r);
		return err;
	}
	err = vm_virtio_slot(vm, &entry.base, &entry.irq, f);
	if (!err && (err = rng_register(r, &vm->mmio, vm->kvm.vm_fd, vm->loop, &vm->mem, entry.base,
					entry.irq, vm->log)) != 0)
		fault_set(f, "cannot attach the entropy device: %s", strerror(-err));
	entry.dev = r;
	entry.transport = &r->mmio;
	if (!err)
		err = vm_add_device(vm, &entry, f);
	if (err)
		vm_rng_destroy(r);
	return err;
}
