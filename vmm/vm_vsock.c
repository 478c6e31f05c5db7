/* Attach the vsock device (at most one, as Firecracker). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio/vsock.h"
#include "vmm/vm.h"
#include "vmm/vm_devices.h"

static void vm_vsock_destroy(void *dev)
{
	vsock_destroy(dev);
	free(dev);
}

/* Firecracker's "vsock" metric group, same names. */
static void vm_vsock_metrics(void *dev, struct metrics_out *o)
{
	const struct vsock_stats *s = &((struct virtio_vsock *)dev)->stats;

	metrics_group(o, "vsock");
	metrics_counter(o, "activate_fails", s->activate_fails);
	metrics_counter(o, "cfg_fails", s->cfg_fails);
	metrics_counter(o, "rx_queue_event_fails", s->rx_queue_event_fails);
	metrics_counter(o, "tx_queue_event_fails", s->tx_queue_event_fails);
	metrics_counter(o, "ev_queue_event_fails", s->ev_queue_event_fails);
	metrics_counter(o, "muxer_event_fails", s->muxer_event_fails);
	metrics_counter(o, "conn_event_fails", s->conn_event_fails);
	metrics_counter(o, "rx_queue_event_count", s->rx_queue_event_count);
	metrics_counter(o, "tx_queue_event_count", s->tx_queue_event_count);
	metrics_counter(o, "rx_bytes_count", s->rx_bytes_count);
	metrics_counter(o, "tx_bytes_count", s->tx_bytes_count);
	metrics_counter(o, "rx_packets_count", s->rx_packets_count);
	metrics_counter(o, "tx_packets_count", s->tx_packets_count);
	metrics_counter(o, "conns_added", s->conns_added);
	metrics_counter(o, "conns_killed", s->conns_killed);
	metrics_counter(o, "conns_removed", s->conns_removed);
	metrics_counter(o, "killq_resync", s->killq_resync);
	metrics_counter(o, "tx_flush_fails", s->tx_flush_fails);
	metrics_counter(o, "tx_write_fails", s->tx_write_fails);
	metrics_counter(o, "rx_read_fails", s->rx_read_fails);
	metrics_counter(o, "tx_invalid_pkts", s->tx_invalid_pkts);
	metrics_counter(o, "rx_invalid_bufs", s->rx_invalid_bufs);
}

static int vm_vsock_save(void *dev, void *buf, size_t cap, size_t *len)
{
	return vm_virtio_save(&((struct virtio_vsock *)dev)->mmio, buf, cap, len);
}

static int vm_vsock_restore(void *dev, const void *buf, size_t len, struct fault *f)
{
	struct virtio_vsock *v = dev;
	int err = vm_virtio_restore(&v->mmio, buf, len, f);

	/* The host ends of the guest's connections are gone: tell the driver
	 * (TRANSPORT_RESET). No event buffer is no error: vsock counts it. */
	if (!err && v->mmio.active)
		(void)vsock_transport_reset(v);
	return err;
}

int vm_add_vsock(struct vm *vm, struct fault *f)
{
	struct vm_device entry = {.kind = "vsock",
				  .id = "vsock",
				  .destroy = vm_vsock_destroy,
				  .metrics = vm_vsock_metrics,
				  .save = vm_vsock_save,
				  .restore = vm_vsock_restore};
	const struct cfg_vsock *cfg = &vm->cfg->vsock;
	struct virtio_vsock *v;
	int err;

	if (!cfg->set)
		return 0;
	v = calloc(1, sizeof(*v));
	if (!v) {
		fault_set(f, "out of memory");
		return -ENOMEM;
	}
	err = vsock_create(v, cfg, f);
	if (err) {
		free(v);
		return err;
	}
	err = vm_virtio_slot(vm, &entry.base, &entry.irq, f);
	if (!err && (err = vsock_register(v, &vm->mmio, vm->kvm.vm_fd, vm->loop, &vm->mem,
					  entry.base, entry.irq, vm->log)) != 0)
		fault_set(f, "cannot attach vsock on %s: %s", cfg->uds_path, strerror(-err));
	entry.dev = v;
	entry.transport = &v->mmio;
	if (!err)
		err = vm_add_device(vm, &entry, f);
	if (err)
		vm_vsock_destroy(v);
	return err;
}
