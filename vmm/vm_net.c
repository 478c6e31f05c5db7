/* Attach the configured network interfaces, one virtio-net device on a
 * host tap each, in configuration order. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio/net.h"
#include "vmm/vm.h"
#include "vmm/vm_devices.h"

static void vm_net_destroy(void *dev)
{
	net_destroy(dev);
	free(dev);
}

static void vm_net_metrics(void *dev, struct metrics_out *o)
{
	const struct virtio_net *n = dev;
	const struct net_stats *s = &n->stats;
	char group[4 + sizeof(n->id)];

	snprintf(group, sizeof(group), "net_%s", n->id);
	metrics_group(o, group);
	metrics_counter(o, "rx_bytes_count", s->rx_bytes_count);
	metrics_counter(o, "rx_packets_count", s->rx_packets_count);
	metrics_counter(o, "rx_fails", s->rx_fails);
	metrics_counter(o, "no_rx_avail_buffer", s->no_rx_avail_buffer);
	metrics_counter(o, "tap_read_fails", s->tap_read_fails);
	metrics_counter(o, "rx_rate_limiter_throttled", s->rx_rate_limiter_throttled);
	metrics_counter(o, "rx_queue_event_count", s->rx_queue_event_count);
	metrics_counter(o, "rx_tap_event_count", s->rx_tap_event_count);
	metrics_counter(o, "tx_bytes_count", s->tx_bytes_count);
	metrics_counter(o, "tx_packets_count", s->tx_packets_count);
	metrics_counter(o, "tx_fails", s->tx_fails);
	metrics_counter(o, "tx_malformed_frames", s->tx_malformed_frames);
	metrics_counter(o, "tap_write_fails", s->tap_write_fails);
	metrics_counter(o, "tx_rate_limiter_throttled", s->tx_rate_limiter_throttled);
	metrics_counter(o, "tx_queue_event_count", s->tx_queue_event_count);
}

/* Snapshots: the transport state. The tap is the one the (restored)
 * configuration names; MAC and offloads follow from the configuration and
 * the negotiated features, which the restore re-activates. The pending rx
 * frame and the rate limiters' buckets start afresh. */
static int vm_net_save(void *dev, void *buf, size_t cap, size_t *len)
{
	return vm_virtio_save(&((struct virtio_net *)dev)->mmio, buf, cap, len);
}

static int vm_net_restore(void *dev, const void *buf, size_t len, struct fault *f)
{
	return vm_virtio_restore(&((struct virtio_net *)dev)->mmio, buf, len, f);
}

static int vm_add_net(struct vm *vm, const struct cfg_net *cfg, struct fault *f)
{
	struct vm_device entry = {.kind = "net",
				  .destroy = vm_net_destroy,
				  .metrics = vm_net_metrics,
				  .save = vm_net_save,
				  .restore = vm_net_restore};
	struct virtio_net *n = calloc(1, sizeof(*n));
	int err;

	if (!n) {
		fault_set(f, "out of memory");
		return -ENOMEM;
	}
	err = net_create(n, cfg, f);
	if (err) {
		free(n);
		return err;
	}
	err = vm_virtio_slot(vm, &entry.base, &entry.irq, f);
	if (!err && (err = net_register(n, &vm->mmio, vm->kvm.vm_fd, vm->loop, &vm->mem, entry.base,
					entry.irq, vm->log)) != 0)
		fault_set(f, "cannot attach network interface %s: %s", cfg->iface_id,
			  strerror(-err));
	entry.dev = n;
	entry.transport = &n->mmio;
	snprintf(entry.id, sizeof(entry.id), "%s", cfg->iface_id);
	if (!err)
		err = vm_add_device(vm, &entry, f);
	if (err)
		vm_net_destroy(n);
	return err;
}

int vm_add_nets(struct vm *vm, struct fault *f)
{
	int err = 0;

	for (int i = 0; !err && i < vm->cfg->nnets; i++)
		err = vm_add_net(vm, &vm->cfg->nets[i], f);
	return err;
}
