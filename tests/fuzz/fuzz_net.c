/* libFuzzer target: virtio-net through its transport (test mode) over a
 * socketpair back-end. The input becomes the driver's features and queue
 * registers, the whole guest RAM (rings, descriptors, buffers) and up to
 * four frames arriving from the "tap"; then both queues are notified and
 * the event loop runs. Anything the sanitizers catch, or a hang, is a bug:
 * the device must survive every byte pattern. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#include "boot/layout.h"
#include "devices/virtio/net.h"

#define FZ_RAM	  (128 * 1024UL)
#define FZ_BASE	  LAYOUT_VIRTIO_START
#define FZ_FRAMES 4
#define FZ_TURNS  6

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz_hdr {
	uint32_t features_lo; /* driver features, word 0 (VERSION_1 always acked) */
	uint16_t qsize[2];
	uint32_t desc[2], avail[2], used[2]; /* reduced mod 2 * FZ_RAM: some out of RAM */
	uint16_t frame_len[FZ_FRAMES];	     /* reduced mod NET_MAX_FRAME + 64 */
	uint8_t nframes;
	uint8_t kicks; /* bit 0: rx first, bit 1: kick rx again, bit 2: shaped rings */
	uint8_t pad[2];
};

/* Set up once: mapping guest RAM and a device per input would dominate. */
struct fz_ctx {
	struct guest_mem m;
	struct ev_loop loop;
	struct bus bus;
	int peer;
	struct virtio_net *n;
	uint8_t *frame;
	int ready;
};

static void fz_w32(struct fz_ctx *x, uint64_t off, uint32_t v)
{
	bus_write(&x->bus, FZ_BASE + off, (uint8_t *)&v, 4);
}

static struct fz_ctx *fz_get(void)
{
	static struct fz_ctx ctx;
	struct cfg_net cfg = {.iface_id = "fuzz", .has_guest_mac = true, .mtu = 1500};
	struct fault f;
	struct tap tap;
	int sv[2];

	if (ctx.ready)
		return &ctx;
	ctx.n = calloc(1, sizeof(*ctx.n));
	ctx.frame = malloc(NET_MAX_FRAME + 64);
	if (!ctx.n || !ctx.frame || gm_create(&ctx.m, FZ_RAM, GM_BACKING_ANON) != 0 ||
	    ev_init(&ctx.loop) != 0)
		return NULL;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) != 0 ||
	    tap_from_fd(&tap, sv[0]) != 0)
		return NULL;
	ctx.peer = sv[1];
	if (net_create_with_tap(ctx.n, &cfg, &tap, &f) != 0 ||
	    net_register(ctx.n, &ctx.bus, -1, &ctx.loop, &ctx.m, FZ_BASE, 5, NULL) != 0)
		return NULL;
	ctx.ready = 1;
	return &ctx;
}

static void fz_setup_queue(struct fz_ctx *x, const struct fz_hdr *h, uint32_t q)
{
	fz_w32(x, VIRTIO_MMIO_QUEUE_SEL, q);
	fz_w32(x, VIRTIO_MMIO_QUEUE_NUM, h->qsize[q]);
	fz_w32(x, VIRTIO_MMIO_QUEUE_DESC_LOW, h->desc[q] % (2 * FZ_RAM));
	fz_w32(x, VIRTIO_MMIO_QUEUE_AVAIL_LOW, h->avail[q] % (2 * FZ_RAM));
	fz_w32(x, VIRTIO_MMIO_QUEUE_USED_LOW, h->used[q] % (2 * FZ_RAM));
	fz_w32(x, VIRTIO_MMIO_QUEUE_READY, 1);
}

static void fz_bring_up(struct fz_ctx *x, const struct fz_hdr *h)
{
	fz_w32(x, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	fz_w32(x, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	fz_w32(x, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	fz_w32(x, VIRTIO_MMIO_DRIVER_FEATURES, h->features_lo);
	fz_w32(x, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	fz_w32(x, VIRTIO_MMIO_DRIVER_FEATURES, 1); /* VERSION_1 */
	fz_w32(x, VIRTIO_MMIO_STATUS, 11);
	fz_setup_queue(x, h, NET_RXQ);
	fz_setup_queue(x, h, NET_TXQ);
	fz_w32(x, VIRTIO_MMIO_STATUS, 15);
	ev_run_once(&x->loop, 0);
}

/* "Shaped" inputs: rings of 8 at fixed places whose descriptors and avail
 * entries are reduced into range, so most inputs reach the data paths
 * (unshaped ones exercise ring validation). Values still come from the
 * input; flag bit 3 of a descriptor asks for a length beyond one frame. */
static void fz_shape_queue(struct fz_ctx *x, struct fz_hdr *h, uint32_t q)
{
	uint64_t base = q == NET_RXQ ? 0x1000 : 0x4000;
	uint8_t *ram = x->m.regions[0].host;
	struct vring_desc d;
	uint16_t v;

	h->qsize[q] = 8;
	h->desc[q] = (uint32_t)base;
	h->avail[q] = (uint32_t)base + 0x1000;
	h->used[q] = (uint32_t)base + 0x2000;
	for (size_t i = 0; i < 8; i++) {
		memcpy(&d, ram + base + 16 * i, sizeof(d));
		d.addr = 0x8000 + d.addr % (FZ_RAM - 0x8000);
		d.len %= d.flags & 8 ? NET_MAX_FRAME + 16 : 4096;
		d.flags &= VRING_DESC_F_NEXT | VRING_DESC_F_WRITE | VRING_DESC_F_INDIRECT;
		d.next %= 8;
		memcpy(ram + base + 16 * i, &d, sizeof(d));
		memcpy(&v, ram + base + 0x1000 + 4 + 2 * i, 2);
		v %= 8;
		memcpy(ram + base + 0x1000 + 4 + 2 * i, &v, 2);
	}
	memcpy(&v, ram + base + 0x1000 + 2, 2);
	v %= 9;
	memcpy(ram + base + 0x1000 + 2, &v, 2);
	memset(ram + base + 0x2000, 0, 4 + 8 * 8 + 2);
}

/* Queue the frames on the back-end; their bytes come from the input. */
static void fz_send_frames(struct fz_ctx *x, const struct fz_hdr *h, const uint8_t *data,
			   size_t size)
{
	for (int i = 0; i < h->nframes % (FZ_FRAMES + 1); i++) {
		size_t len = h->frame_len[i] % (NET_MAX_FRAME + 64);
		size_t take = len < size ? len : size;

		memset(x->frame, 0, len);
		memcpy(x->frame, data, take);
		data += take;
		size -= take;
		if (send(x->peer, x->frame, len, MSG_DONTWAIT) < 0)
			break;
	}
}

/* Empty both socket directions and reset the device for the next input. */
static void fz_cleanup(struct fz_ctx *x)
{
	fz_w32(x, VIRTIO_MMIO_STATUS, 0);
	ev_run_once(&x->loop, 0);
	while (recv(x->peer, x->frame, NET_MAX_FRAME + 64, MSG_DONTWAIT) >= 0)
		;
	while (recv(x->n->tap.fd, x->frame, NET_MAX_FRAME + 64, MSG_DONTWAIT) >= 0)
		;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_ctx *x = fz_get();
	size_t mem;
	struct fz_hdr h;

	if (!x || size < sizeof(h))
		return 0;
	memcpy(&h, data, sizeof(h));
	data += sizeof(h);
	size -= sizeof(h);
	mem = size < FZ_RAM ? size : FZ_RAM;
	memset(x->m.regions[0].host, 0, FZ_RAM);
	memcpy(x->m.regions[0].host, data, mem);
	if (h.kicks & 4) {
		fz_shape_queue(x, &h, NET_RXQ);
		fz_shape_queue(x, &h, NET_TXQ);
	}
	fz_send_frames(x, &h, data + mem, size - mem);
	fz_bring_up(x, &h);
	fz_w32(x, VIRTIO_MMIO_QUEUE_NOTIFY, h.kicks & 1 ? NET_RXQ : NET_TXQ);
	fz_w32(x, VIRTIO_MMIO_QUEUE_NOTIFY, h.kicks & 1 ? NET_TXQ : NET_RXQ);
	for (int i = 0; i < FZ_TURNS; i++) {
		ev_run_once(&x->loop, 0);
		if (i == 2 && (h.kicks & 2))
			fz_w32(x, VIRTIO_MMIO_QUEUE_NOTIFY, NET_RXQ);
	}
	fz_cleanup(x);
	return 0;
}
