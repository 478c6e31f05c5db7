/* libFuzzer target: the input becomes queue registers plus guest memory, then
 * chains are popped, parsed as block requests and executed against a memfd
 * disk. Anything the sanitizers catch, or a hang, is a bug: the virtqueue
 * and block parser must survive every byte pattern. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/virtio_ring.h>

#include "devices/disk.h"
#include "devices/virtio/block.h"
#include "devices/virtio/queue.h"
#include "vmm/guest_mem.h"

#define FZ_RAM	   (64 * 1024)
#define FZ_SECTORS 16
#define FZ_POPS	   64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz_hdr {
	uint16_t qsize;
	uint16_t last_avail;
	uint16_t next_used;
	uint8_t features; /* bit 0: EVENT_IDX, bit 1: INDIRECT_DESC */
	uint8_t read_only;
	uint32_t desc, avail, used; /* reduced mod 2 * FZ_RAM: some out of RAM */
	uint8_t seg_cap;
	uint8_t pad[7];
};

/* Set up once: mapping guest RAM and a disk per input would dominate. */
struct fz_ctx {
	struct guest_mem m;
	struct disk d;
	int ready;
};

static struct fz_ctx *fz_get(void)
{
	static struct fz_ctx ctx;

	if (!ctx.ready) {
		int fd = memfd_create("fuzz-disk", MFD_CLOEXEC);
		if (fd < 0 || ftruncate(fd, FZ_SECTORS * BLK_SECTOR_SIZE) != 0)
			return NULL;
		if (gm_create(&ctx.m, FZ_RAM, GM_BACKING_ANON) != 0)
			return NULL;
		if (disk_from_fd(&ctx.d, fd, false, CFG_CACHE_WRITEBACK) != 0)
			return NULL;
		ctx.ready = 1;
	}
	return &ctx;
}

static void fz_setup_queue(struct virtq *q, const struct fz_hdr *h)
{
	memset(q, 0, sizeof(*q));
	q->max_size = 256;
	q->size = h->qsize;
	q->desc_gpa = h->desc % (2 * FZ_RAM);
	q->avail_gpa = h->avail % (2 * FZ_RAM);
	q->used_gpa = h->used % (2 * FZ_RAM);
	q->last_avail_idx = h->last_avail;
	q->next_used_idx = h->next_used;
}

static void fz_serve(struct fz_ctx *x, struct virtq *q, const struct vq_chain *c, bool ro)
{
	static const char id[VIRTIO_BLK_ID_BYTES] = "fuzz";
	struct iovec iov[32];
	struct blk_req r;
	uint32_t written = 0;
	uint8_t status;

	if (blk_parse(c, &x->m, FZ_SECTORS, ro, &r) == 0)
		status = blk_exec(&x->d, c, &x->m, &r, id, iov, 32, &written);
	else
		status = r.status;
	if (r.has_status && vq_chain_write(c, &x->m, r.status_off, &status, 1) == 0)
		written++;
	vq_push(q, &x->m, c->head, written);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_ctx *x = fz_get();
	struct vq_seg segs[256];
	struct vq_chain c = {.segs = segs};
	struct virtq q;
	struct fz_hdr h;
	uint64_t feat = 0;

	if (!x || size < sizeof(h))
		return 0;
	memcpy(&h, data, sizeof(h));
	data += sizeof(h);
	size -= sizeof(h);
	memset(x->m.regions[0].host, 0, FZ_RAM);
	memcpy(x->m.regions[0].host, data, size < FZ_RAM ? size : FZ_RAM);
	if (h.features & 1)
		feat |= 1ULL << VIRTIO_RING_F_EVENT_IDX;
	if (h.features & 2)
		feat |= 1ULL << VIRTIO_RING_F_INDIRECT_DESC;
	c.cap = h.seg_cap;
	fz_setup_queue(&q, &h);
	if (vq_validate(&q, &x->m, feat) != 0)
		return 0;
	for (int i = 0; i < FZ_POPS; i++) {
		int n = vq_pop(&q, &x->m, &c);
		if (n == 0 && !vq_enable_notify(&q, &x->m))
			break;
		if (n == -EIO)
			break;
		if (n < 0)
			vq_push(&q, &x->m, c.head, 0);
		else if (n > 0)
			fz_serve(x, &q, &c, h.read_only & 1);
	}
	(void)vq_needs_interrupt(&q, &x->m);
	return 0;
}
