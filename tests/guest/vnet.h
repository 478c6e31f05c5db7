/* The net test's pieces shared with its benchmark mode (vnet_bench.c):
 * net_bench=1 on the command line makes the net test run the benchmark. */
#ifndef GUEST_VNET_H
#define GUEST_VNET_H

#include <stddef.h>
#include <stdint.h>
#include <linux/virtio_net.h>
#include "guest.h"

#define NET_RXQ	      0
#define NET_TXQ	      1
#define NET_ETHERTYPE 0x88b5 /* IEEE local experimental */
#define NET_MIN_FRAME 60
#define NET_HDR	      sizeof(struct virtio_net_hdr_v1)

struct vdev;
struct vq;

/* Find the virtio-net device, negotiate want (and MAC), set up the rx and
 * tx queues on rings (two VQ_RING_BYTES pages) and read the MAC. Leaves
 * DRIVER_OK to the caller, who posts rx buffers first. 0, or -1 with
 * t->why set. */
int vnet_attach(struct test_ctx *t, struct vdev *d, struct vq *rxq, struct vq *txq, void *rings,
		uint64_t want, uint8_t mac[6]);
/* "net: mac=..." (the host waits for this line before it sends). */
void vnet_print_mac(const uint8_t mac[6]);
/* Write the test's broadcast frame idx/total from mac at f (room for
 * NET_MIN_FRAME bytes or more); returns its length. */
size_t vnet_frame(uint8_t *f, size_t room, const uint8_t mac[6], unsigned idx, unsigned total);

/* The benchmark: net_tx frames out, then net_rx frames in, as fast as this
 * guest can (vnet_bench.c). 0, or -1 with t->why set. */
int net_bench_run(struct test_ctx *t);

#endif
