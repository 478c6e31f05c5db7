/* libFuzzer target: the virtio-mmio register file (test mode) with real
 * devices behind it: virtio-rng, and virtio-blk on memfd disks (Sync
 * write-back, Async on io_uring, Sync read-only). The input is a sequence of
 * guest accesses in any order: register reads and writes of 1, 2, 4 or 8
 * bytes at any offset (status moves, feature negotiation, queue registers
 * with addresses anywhere, config space, QueueNotify, InterruptACK), pokes
 * into guest RAM between them (another vCPU rewriting a ring), event-loop
 * turns, direct notifications, resets and snapshot round trips. Whatever
 * follows the operations is the initial guest RAM. Anything the sanitizers
 * catch, a leak or a hang is a bug: the transport and devices must survive
 * every sequence; and a snapshot taken at any point must load again. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>

#include "boot/layout.h"
#include "devices/virtio/block.h"
#include "devices/virtio/rng.h"
#include "vmm/vm_devices.h"

#define FZ_RAM	   (64 * 1024UL)
#define FZ_SECTORS 16
#define FZ_NDEV	   4
#define FZ_SETTLE  8 /* loop turns to quiesce after an input */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One guest action. kind: bits 0-2 the action, bits 3-4 the access size
 * (1 << n), bit 5 reduce val into [0, 2 * FZ_RAM) (half of it RAM, so
 * queue addresses land in and out of RAM), bits 6-7 the device. */
struct fz_op {
	uint8_t kind;
	uint8_t reg; /* < 0x80: a known register (fz_regs), else raw offset aux */
	uint16_t aux;
	uint32_t val;
};

enum fz_act {
	FZ_WRITE,
	FZ_SNAPSHOT, /* save the transport, reset it, restore: must load */
	FZ_READ,
	FZ_TURN,   /* one event-loop turn (ioeventfd, ctl_fd, io_uring) */
	FZ_NOTIFY, /* what the notify callback does, called directly */
	FZ_POKE,   /* write val into guest RAM at aux */
	FZ_BRINGUP,
	FZ_RESET, /* status 0, or FAILED when val is odd */
};

static const uint16_t fz_regs[] = {
    VIRTIO_MMIO_MAGIC_VALUE,	   VIRTIO_MMIO_VERSION,
    VIRTIO_MMIO_DEVICE_ID,	   VIRTIO_MMIO_VENDOR_ID,
    VIRTIO_MMIO_DEVICE_FEATURES,   VIRTIO_MMIO_DEVICE_FEATURES_SEL,
    VIRTIO_MMIO_DRIVER_FEATURES,   VIRTIO_MMIO_DRIVER_FEATURES_SEL,
    VIRTIO_MMIO_QUEUE_SEL,	   VIRTIO_MMIO_QUEUE_NUM_MAX,
    VIRTIO_MMIO_QUEUE_NUM,	   VIRTIO_MMIO_QUEUE_READY,
    VIRTIO_MMIO_QUEUE_NOTIFY,	   VIRTIO_MMIO_INTERRUPT_STATUS,
    VIRTIO_MMIO_INTERRUPT_ACK,	   VIRTIO_MMIO_STATUS,
    VIRTIO_MMIO_QUEUE_DESC_LOW,	   VIRTIO_MMIO_QUEUE_DESC_HIGH,
    VIRTIO_MMIO_QUEUE_AVAIL_LOW,   VIRTIO_MMIO_QUEUE_AVAIL_HIGH,
    VIRTIO_MMIO_QUEUE_USED_LOW,	   VIRTIO_MMIO_QUEUE_USED_HIGH,
    VIRTIO_MMIO_CONFIG_GENERATION, VIRTIO_MMIO_CONFIG,
    VIRTIO_MMIO_CONFIG + 8,	   VIRTIO_MMIO_CONFIG + 0x14,
    LAYOUT_VIRTIO_SIZE - 4,	   LAYOUT_VIRTIO_SIZE - 1,
};

/* Set up once: mapping guest RAM and creating devices per input would
 * dominate; every input ends with the devices reset and the disks zeroed. */
struct fz_ctx {
	struct guest_mem m;
	struct ev_loop loop;
	struct bus bus;
	struct virtio_rng *rng;
	struct virtio_blk *blk[FZ_NDEV - 1];
	struct virtio_mmio *t[FZ_NDEV];
	int disk_fd[FZ_NDEV - 1];
	int ready;
};

static int fz_blk(struct fz_ctx *x, int i, enum cfg_io_engine engine, bool ro)
{
	struct cfg_drive cfg = {.io_engine = engine,
				.is_read_only = ro,
				.cache_type = ro ? CFG_CACHE_UNSAFE : CFG_CACHE_WRITEBACK};
	struct fault f;
	int fd = memfd_create("fuzz-disk", MFD_CLOEXEC);

	x->disk_fd[i] = fd;
	x->blk[i] = calloc(1, sizeof(*x->blk[i]));
	if (fd < 0 || !x->blk[i] || ftruncate(fd, FZ_SECTORS * BLK_SECTOR_SIZE) != 0)
		return -1;
	/* The device opens its image by path, as from the API. */
	snprintf(cfg.drive_id, sizeof(cfg.drive_id), "fuzz%d", i);
	snprintf(cfg.path_on_host, sizeof(cfg.path_on_host), "/proc/self/fd/%d", fd);
	if (blk_create(x->blk[i], &cfg, &f) != 0 ||
	    blk_register(x->blk[i], &x->bus, -1, &x->loop, &x->m,
			 LAYOUT_VIRTIO_START + LAYOUT_VIRTIO_SIZE * (uint64_t)(i + 1),
			 LAYOUT_VIRTIO_IRQ_BASE + (uint32_t)i + 1, NULL) != 0)
		return -1;
	x->t[i + 1] = &x->blk[i]->mmio;
	return 0;
}

static struct fz_ctx *fz_get(void)
{
	static struct fz_ctx ctx;
	struct fault f;

	if (ctx.ready)
		return &ctx;
	ctx.rng = calloc(1, sizeof(*ctx.rng));
	if (!ctx.rng || gm_create(&ctx.m, FZ_RAM, GM_BACKING_ANON) != 0 ||
	    ev_init(&ctx.loop) != 0 || rng_create(ctx.rng, NULL, &f) != 0 ||
	    rng_register(ctx.rng, &ctx.bus, -1, &ctx.loop, &ctx.m, LAYOUT_VIRTIO_START,
			 LAYOUT_VIRTIO_IRQ_BASE, NULL) != 0)
		return NULL;
	ctx.t[0] = &ctx.rng->mmio;
	if (fz_blk(&ctx, 0, CFG_IO_SYNC, false) || fz_blk(&ctx, 1, CFG_IO_ASYNC, false) ||
	    fz_blk(&ctx, 2, CFG_IO_SYNC, true))
		return NULL;
	ctx.ready = 1;
	return &ctx;
}

static uint64_t fz_base(unsigned dev)
{
	return LAYOUT_VIRTIO_START + LAYOUT_VIRTIO_SIZE * dev;
}

static void fz_w32(struct fz_ctx *x, unsigned dev, uint64_t off, uint32_t v)
{
	bus_write(&x->bus, fz_base(dev) + off, (const uint8_t *)&v, 4);
}

/* The driver's initialisation in one step, so that most inputs reach an
 * active device: queue 0 of 1 << (val >> 24) % 9 entries, its rings at
 * 256-byte granules of RAM taken from the low three bytes of val; feature
 * word 0 is aux in both halves (masked to the offer), VERSION_1 always. */
static void fz_bring_up(struct fz_ctx *x, unsigned dev, const struct fz_op *op)
{
	uint32_t num = 1U << ((op->val >> 24) % 9);
	uint32_t desc = (op->val & 0xff) << 8;
	uint32_t avail = ((op->val >> 8) & 0xff) << 8;
	uint32_t used = ((op->val >> 16) & 0xff) << 8;

	fz_w32(x, dev, VIRTIO_MMIO_STATUS, 0);
	fz_w32(x, dev, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	fz_w32(x, dev, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	fz_w32(x, dev, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	fz_w32(x, dev, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)op->aux << 16 | op->aux);
	fz_w32(x, dev, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	fz_w32(x, dev, VIRTIO_MMIO_DRIVER_FEATURES, 1); /* VERSION_1 */
	fz_w32(x, dev, VIRTIO_MMIO_STATUS, 11);
	fz_w32(x, dev, VIRTIO_MMIO_QUEUE_SEL, 0);
	fz_w32(x, dev, VIRTIO_MMIO_QUEUE_NUM, num);
	fz_w32(x, dev, VIRTIO_MMIO_QUEUE_DESC_LOW, desc);
	fz_w32(x, dev, VIRTIO_MMIO_QUEUE_AVAIL_LOW, avail);
	fz_w32(x, dev, VIRTIO_MMIO_QUEUE_USED_LOW, used);
	fz_w32(x, dev, VIRTIO_MMIO_QUEUE_READY, 1);
	fz_w32(x, dev, VIRTIO_MMIO_STATUS, 15);
}

/* The VMM thread's notification callback, without the eventfd round trip:
 * settle any pending status change, then serve the queue if active. */
static void fz_notify(struct virtio_mmio *t, uint32_t val)
{
	virtio_mmio_reconcile(t);
	if (t->active)
		t->ops->notify(t->dev, val % t->ops->num_queues);
}

/* A snapshot of the running device, as the VMM takes it (vCPUs paused, an
 * Async drive quiesced), must load again: into the same transport after a
 * reset, standing in for the fresh one of a restored VM. */
static void fz_snapshot(struct fz_ctx *x, unsigned dev)
{
	struct virtio_mmio_state st;
	struct fault f;
	size_t len;

	if (dev > 0)
		blk_quiesce(x->blk[dev - 1]);
	if (vm_virtio_save(x->t[dev], &st, sizeof(st), &len) != 0)
		abort();
	fz_w32(x, dev, VIRTIO_MMIO_STATUS, 0);
	virtio_mmio_reconcile(x->t[dev]);
	if (vm_virtio_restore(x->t[dev], &st, len, &f) != 0)
		abort();
}

static void fz_access(struct fz_ctx *x, unsigned dev, const struct fz_op *op, uint32_t len,
		      bool write)
{
	uint64_t off = op->reg < 0x80 ? fz_regs[op->reg % (sizeof(fz_regs) / sizeof(fz_regs[0]))]
				      : op->aux % (LAYOUT_VIRTIO_SIZE + 8);
	uint64_t v = ((uint64_t)op->aux << 32) | op->val;
	uint8_t buf[8];

	if (op->kind & 0x20)
		v %= 2 * FZ_RAM;
	memcpy(buf, &v, sizeof(buf));
	if (write)
		bus_write(&x->bus, fz_base(dev) + off, buf, len);
	else
		bus_read(&x->bus, fz_base(dev) + off, buf, len);
}

static void fz_run_op(struct fz_ctx *x, const struct fz_op *op)
{
	unsigned dev = (op->kind >> 6) % FZ_NDEV;
	uint32_t len = 1U << ((op->kind >> 3) & 3);
	uint64_t v = ((uint64_t)op->aux << 32) | op->val;

	switch ((enum fz_act)(op->kind & 7)) {
	case FZ_WRITE:
		fz_access(x, dev, op, len, true);
		break;
	case FZ_SNAPSHOT:
		fz_snapshot(x, dev);
		break;
	case FZ_READ:
		fz_access(x, dev, op, len, false);
		break;
	case FZ_TURN:
		ev_run_once(&x->loop, 0);
		break;
	case FZ_NOTIFY:
		fz_notify(x->t[dev], op->val);
		break;
	case FZ_POKE:
		gm_write(&x->m, op->aux, &v, len);
		break;
	case FZ_BRINGUP:
		fz_bring_up(x, dev, op);
		break;
	case FZ_RESET:
		fz_w32(x, dev, VIRTIO_MMIO_STATUS,
		       op->val & 1 ? x->t[dev]->status | VIRTIO_CONFIG_S_FAILED : 0);
		break;
	}
}

/* Reset every device and run the loop until the hand-overs are done, so the
 * next input starts from power-on (a reset also drains Async requests). */
static void fz_cleanup(struct fz_ctx *x)
{
	for (unsigned d = 0; d < FZ_NDEV; d++) {
		fz_w32(x, d, VIRTIO_MMIO_STATUS, 0);
		virtio_mmio_reconcile(x->t[d]);
	}
	for (int i = 0; i < FZ_SETTLE; i++)
		ev_run_once(&x->loop, 0);
	for (unsigned i = 0; i < FZ_NDEV - 1; i++)
		if (ftruncate(x->disk_fd[i], 0) != 0 ||
		    ftruncate(x->disk_fd[i], FZ_SECTORS * BLK_SECTOR_SIZE) != 0)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_ctx *x = fz_get();
	size_t nops, ram;

	if (!x || size < 1)
		return 0;
	nops = data[0];
	data++;
	size--;
	if (nops > size / sizeof(struct fz_op))
		nops = size / sizeof(struct fz_op);
	ram = size - nops * sizeof(struct fz_op);
	memset(x->m.regions[0].host, 0, FZ_RAM);
	memcpy(x->m.regions[0].host, data + nops * sizeof(struct fz_op),
	       ram < FZ_RAM ? ram : FZ_RAM);
	for (size_t i = 0; i < nops; i++) {
		struct fz_op op;

		memcpy(&op, data + i * sizeof(op), sizeof(op));
		fz_run_op(x, &op);
	}
	fz_cleanup(x);
	return 0;
}
