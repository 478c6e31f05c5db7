/* virtio-net (device id 1, virtio 1.1 §5.1), as Firecracker's: one rx and
 * one tx queue, no control queue, over a tap back-end (devices/tap.h).
 *
 * Offered features: CSUM, GUEST_CSUM, GUEST_TSO4/6, HOST_TSO4/6, MRG_RXBUF,
 * STATUS (link always up), MAC if guest_mac is configured, MTU if mtu is;
 * the transport adds VERSION_1, EVENT_IDX and INDIRECT_DESC. UFO is never
 * offered. With VERSION_1 every frame carries the 12-byte virtio_net_hdr_v1,
 * which passes through the tap unchanged (the tap's offloads follow the
 * negotiated GUEST_* features).
 *
 * TX: each chain's readable part (header + frame, any segmentation) is
 * written to the tap in one writev straight from guest memory. A chain with
 * a writable part, shorter than the header or longer than NET_MAX_FRAME is
 * malformed: counted and completed unsent. A failed tap write drops the
 * frame (counted); the guest is never blocked by the host.
 *
 * RX: the tap is polled (EPOLLIN) only while the device is active, not rate
 * limited and not waiting for rx buffers. One frame at a time is read into a
 * host buffer and then copied into guest buffers: one chain without
 * MRG_RXBUF, as many chains as needed (num_buffers) with it. With no buffer
 * available the frame is kept, polling stops, and the rx queue notification
 * resumes it. A frame that can never fit (larger than the chain at the head
 * without MRG_RXBUF, or than the whole ring with it) is dropped and counted;
 * so is a frame from the tap shorter than the header or longer than
 * NET_MAX_FRAME. Nothing is ever written past a guest buffer.
 *
 * Both directions have a rate limiter (bytes incl. the header, and frames),
 * retried by a timerfd. All state is owned by the VMM thread. */
#ifndef FLINT_DEVICES_VIRTIO_NET_H
#define FLINT_DEVICES_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <linux/virtio_net.h>

#include "devices/rate_limiter.h"
#include "devices/tap.h"
#include "devices/virtio/mmio.h"
#include "devices/virtio/queue.h"
#include "vmm/config.h"

#define NET_QUEUE_SIZE 256
#define NET_RXQ	       0
#define NET_TXQ	       1
#define NET_HDR_LEN    TAP_VNET_HDR_LEN
/* Largest header + frame either way: a 64 KiB TSO frame plus its Ethernet
 * and VLAN headers (Firecracker's MAX_BUFFER_SIZE). */
#define NET_MAX_FRAME 65562

/* Firecracker's net metric names; bytes exclude the virtio header. */
struct net_stats {
	uint64_t rx_bytes_count, rx_packets_count;
	uint64_t rx_fails; /* frames dropped (did not fit, bad tap frame) + malformed rx chains */
	uint64_t no_rx_avail_buffer; /* rx stopped for want of guest buffers */
	uint64_t tap_read_fails;
	uint64_t rx_rate_limiter_throttled;
	uint64_t rx_queue_event_count, rx_tap_event_count;
	uint64_t tx_bytes_count, tx_packets_count;
	uint64_t tx_fails; /* frames dropped: the tap refused them */
	uint64_t tx_malformed_frames;
	uint64_t tap_write_fails;
	uint64_t tx_rate_limiter_throttled;
	uint64_t tx_queue_event_count;
};

struct virtio_net {
	struct virtio_mmio mmio;
	struct tap tap;
	char id[CFG_ID_MAX + 1];
	struct virtio_net_config config; /* little-endian, as the guest reads it */
	uint64_t features;		 /* device features offered */
	struct rate_limiter rx_rl, tx_rl;
	int rx_timer_fd, tx_timer_fd;
	bool rx_throttled, tx_throttled;
	bool rx_wait_buffers; /* frame pending, no guest buffer: wait for a notify */
	bool tap_polled;      /* EPOLLIN currently armed on the tap */
	bool tap_in_loop;     /* tap fd registered on the loop */
	bool rx_broken_logged, tx_broken_logged;
	bool running;		  /* activated and not reset since */
	bool mergeable;		  /* VIRTIO_NET_F_MRG_RXBUF negotiated */
	bool rx_charged;	  /* the pending frame has passed the rx rate limiter */
	uint32_t rx_len;	  /* bytes of the pending frame in rx_buf, 0 = none */
	uint64_t (*now_ns)(void); /* the rate limiters' clock (tests replace it) */
	struct logger *log;
	struct net_stats stats;
	struct vq_seg segs[NET_QUEUE_SIZE];
	struct vq_seg first_segs[NET_QUEUE_SIZE]; /* first chain of a merged frame */
	uint16_t heads[NET_QUEUE_SIZE];
	uint32_t lens[NET_QUEUE_SIZE];
	struct iovec iov[NET_QUEUE_SIZE];
	/* One frame from the tap plus a byte to detect an oversized one. */
	uint8_t rx_buf[NET_MAX_FRAME + 1];
};

/* Open the tap cfg->host_dev_name and set the device up (not yet on any
 * bus). 0 or -errno with f naming the interface and the tap. */
int net_create(struct virtio_net *n, const struct cfg_net *cfg, struct fault *f);
/* Same, over an already open back-end (tests: tap_from_fd). Takes over tap
 * (closed by net_destroy, also on failure). */
int net_create_with_tap(struct virtio_net *n, const struct cfg_net *cfg, const struct tap *tap,
			struct fault *f);
/* Put it on the bus and the event loop (see virtio_mmio_register). */
int net_register(struct virtio_net *n, struct bus *mmio_bus, int vm_fd, struct ev_loop *loop,
		 const struct guest_mem *mem, uint64_t base, uint32_t irq, struct logger *log);
void net_destroy(struct virtio_net *n);

/* VMM thread: send every available tx chain (the tx notify handler). */
void net_tx_process(struct virtio_net *n);
/* VMM thread: move frames from the tap into rx buffers until the tap is
 * empty, buffers run out or the rate limiter stops it (the tap's EPOLLIN
 * handler and the rx notify handler). */
void net_rx_process(struct virtio_net *n);

#endif
