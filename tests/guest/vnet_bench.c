/* net_bench: drive virtio-net as fast as this guest can, with many frames
 * in flight each way, as Linux's driver does (the plain net test keeps one
 * tx frame in flight and acknowledges the interrupt status per frame).
 *
 * Slot k of each queue is the fixed one-descriptor chain k (header and
 * frame in one buffer: VIRTIO_F_VERSION_1 lets the driver lay them out as
 * it likes); both queues are polled vbqs (vbench.h: EVENT_IDX when offered,
 * no interrupts). tx: net_tx 60-byte frames, as many in flight as the
 * queue holds, each slot's frame built once with its sequence number
 * rewritten per send. rx: every slot posted, each used buffer checked and
 * posted again at once, until net_rx frames arrived or net_wait_ms passed.
 * Prints what the plain test prints ("net: tx <n> frames", "net: rx <n>
 * frames") and "netbench: kicks tx=<n> rx=<n>". Buffers live in RAM at
 * NB_BUF_PA (the VM needs 64 MiB or more). */
#include <linux/errno.h>
#include <linux/virtio_ring.h>
#include "arch.h"
#include "con.h"
#include "lib.h"
#include "vbench.h"
#include "virtio.h"
#include "vnet.h"

#define NB_BUF_PA    0x3000000ULL	 /* 48 MiB: above the image and blk_bench's buffers */
#define NB_BUF_BYTES 2048u		 /* header + a 1514-byte frame fits */
#define NB_SEQ_OFF   (NET_HDR + 14 + 32) /* the sequence number, past the text */

struct net_bench {
	uint8_t rings[2][VQ_RING_BYTES] __attribute__((aligned(4096)));
	struct vdev d;
	struct vbq rx, tx;
	uint16_t free[VQ_SIZE_MAX];
	unsigned nfree;
	uint8_t mac[6];
};

static struct net_bench net_bench_state;

static uint8_t *nb_buf(unsigned queue, unsigned slot)
{
	return phys_ptr(NB_BUF_PA + ((uint64_t)queue * VQ_SIZE_MAX + slot) * NB_BUF_BYTES);
}

/* One descriptor per slot, device-writable on rx. */
static void nb_chains(struct vbq *b, unsigned queue, uint32_t len, bool write)
{
	for (unsigned k = 0; k < b->q.size; k++)
		b->q.desc[k] = (struct vring_desc){(uintptr_t)nb_buf(queue, k), len,
						   write ? VRING_DESC_F_WRITE : 0, 0};
}

static int nb_open(struct test_ctx *t, struct net_bench *n)
{
	if (vnet_attach(t, &n->d, &n->rx.q, &n->tx.q, n->rings, 1ULL << VIRTIO_RING_F_EVENT_IDX,
			n->mac) < 0)
		return -1;
	vbq_start(&n->rx, !!(n->d.features & (1ULL << VIRTIO_RING_F_EVENT_IDX)));
	vbq_start(&n->tx, n->rx.event_idx);
	nb_chains(&n->rx, NET_RXQ, NB_BUF_BYTES, true);
	for (uint16_t k = 0; k < n->rx.q.size; k++)
		vbq_add(&n->rx, k);
	vdev_driver_ok(&n->d);
	vbq_publish(&n->rx);
	vnet_print_mac(n->mac);
	return 0;
}

/* Build every tx slot's frame once; sends only rewrite the number. */
static size_t nb_tx_frames(struct net_bench *n, unsigned total)
{
	size_t len = 0;

	n->nfree = 0;
	for (uint16_t k = 0; k < n->tx.q.size; k++) {
		uint8_t *b = nb_buf(NET_TXQ, k);

		memset(b, 0, NET_HDR);
		len = vnet_frame(b + NET_HDR, NB_BUF_BYTES - NET_HDR, n->mac, 0, total);
		n->free[n->nfree++] = k;
	}
	nb_chains(&n->tx, NET_TXQ, (uint32_t)(NET_HDR + len), false);
	return len;
}

static int nb_send(struct test_ctx *t, struct net_bench *n, unsigned total)
{
	struct vring_used_elem e;
	unsigned issued = 0, done = 0;

	nb_tx_frames(n, total);
	while (done < total) {
		while (n->nfree && issued < total) {
			uint16_t k = n->free[--n->nfree];

			memcpy(nb_buf(NET_TXQ, k) + NB_SEQ_OFF, &issued, sizeof(issued));
			vbq_add(&n->tx, k);
			issued++;
		}
		vbq_publish(&n->tx);
		if (vbq_wait(&n->tx, VIRTIO_WAIT_MS) < 0)
			return test_fail(t, "tx: timeout after %u frames", done);
		while (vbq_pop(&n->tx, &e)) {
			if (e.id >= n->tx.q.size)
				return test_fail(t, "tx: used id %u is not a slot", e.id);
			n->free[n->nfree++] = (uint16_t)e.id;
			done++;
		}
	}
	con_printf("net: tx %u frames\n", total);
	return 0;
}

static int nb_receive(struct test_ctx *t, struct net_bench *n, unsigned want, unsigned wait_ms)
{
	uint64_t start = rdtsc();
	struct vring_used_elem e;
	unsigned got = 0;

	while (rdtsc() - start < wait_ms * GUEST_TSC_MS && (!want || got < want)) {
		if (vbq_wait(&n->rx, 10) < 0)
			continue;
		while (vbq_pop(&n->rx, &e)) {
			if (e.id >= n->rx.q.size)
				return test_fail(t, "rx: used id %u is not a slot", e.id);
			if (e.len < NET_HDR + 14 || e.len > NB_BUF_BYTES)
				return test_fail(t, "rx: bad length %u", e.len);
			got++;
			vbq_add(&n->rx, (uint16_t)e.id);
		}
		vbq_publish(&n->rx);
	}
	con_printf("net: rx %u frames\n", got);
	if (got < want)
		return test_fail(t, "received %u frames, expected %u", got, want);
	return 0;
}

int net_bench_run(struct test_ctx *t)
{
	const struct guest_opts *o = &t->g->opts;
	struct net_bench *n = &net_bench_state;
	int rc;

	if (!vbench_ram_ok(t->g, NB_BUF_PA, 2ULL * VQ_SIZE_MAX * NB_BUF_BYTES))
		return test_fail(t, "net_bench: no RAM at 0x%llx (give the VM 64 MiB or more)",
				 (unsigned long long)NB_BUF_PA);
	if (nb_open(t, n) < 0)
		return -1;
	rc = nb_send(t, n, o->net_tx);
	if (rc == 0)
		rc = nb_receive(t, n, o->net_rx, o->net_wait_ms);
	con_printf("netbench: kicks tx=%llu rx=%llu event_idx=%d\n",
		   (unsigned long long)n->tx.kicks, (unsigned long long)n->rx.kicks,
		   n->rx.event_idx);
	vdev_reset(&n->d);
	return rc;
}
