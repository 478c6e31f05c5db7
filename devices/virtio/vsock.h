/* virtio-vsock (device id 19) as Firecracker's: queues rx (0), tx (1) and
 * event (2), config space { le64 guest_cid }, stream sockets only, host CID
 * 2. This is the virtio front-end: it moves packets between the virtqueues
 * and the Unix-socket muxer (devices/vsock_mux.h), which owns connections
 * and host sockets.
 *
 * tx: every chain is a header (the first 44 readable bytes, copied out and
 * checked) and its payload (the next len readable bytes, zero-copy); it is
 * always consumed, even when malformed. rx: a chain is filled only while
 * the muxer has a packet owed to the guest; payload is read from the host
 * socket straight into the writable bytes after the header. The only event
 * sent is TRANSPORT_RESET after a snapshot restore (connections are not
 * saved).
 * State is owned by the VMM thread. */
#ifndef FLINT_DEVICES_VIRTIO_VSOCK_H
#define FLINT_DEVICES_VIRTIO_VSOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <linux/virtio_vsock.h>

#include "devices/virtio/mmio.h"
#include "devices/virtio/queue.h"
#include "devices/virtio/vsock_pkt.h"
#include "devices/vsock_mux.h"
#include "vmm/config.h"

#define VSOCK_QUEUE_SIZE 256
#define VSOCK_RXQ	 0
#define VSOCK_TXQ	 1
#define VSOCK_EVQ	 2

struct virtio_vsock {
	struct virtio_mmio mmio;
	struct virtio_vsock_config config; /* little-endian, as the guest reads it */
	struct vsock_mux mux;
	struct vsock_stats stats;
	struct logger *log;
	bool broken_logged;
	struct vq_seg segs[VSOCK_QUEUE_SIZE];
	struct iovec iov[VSOCK_QUEUE_SIZE];
};

/* Set up from the vsock configuration (no sockets yet). 0 or -errno. */
int vsock_create(struct virtio_vsock *v, const struct cfg_vsock *cfg, struct fault *f);
/* Put it on the bus and the loop and listen on uds_path (see
 * virtio_mmio_register, vmux_open). Start-up. 0 or -errno. */
int vsock_register(struct virtio_vsock *v, struct bus *mmio_bus, int vm_fd, struct ev_loop *loop,
		   const struct guest_mem *mem, uint64_t base, uint32_t irq, struct logger *log);
/* Close every connection and the listener (its socket file is removed). */
void vsock_destroy(struct virtio_vsock *v);

/* VMM thread, after a snapshot restore: the host ends of the guest's
 * connections are gone; tell the driver with one
 * VIRTIO_VSOCK_EVENT_TRANSPORT_RESET in the event queue (as Firecracker).
 * 0, or -ENOSPC if the driver left no event buffer (counted). */
int vsock_transport_reset(struct virtio_vsock *v);

/* VMM thread: consume every tx chain / fill rx chains while packets wait. */
void vsock_process_tx(struct virtio_vsock *v);
void vsock_process_rx(struct virtio_vsock *v);

#endif
