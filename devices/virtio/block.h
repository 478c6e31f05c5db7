/* virtio-blk (device id 2), as Firecracker's: one request queue; IN, OUT,
 * FLUSH and GET_ID; VIRTIO_BLK_F_RO for a read-only drive,
 * VIRTIO_BLK_F_FLUSH for the Writeback cache type, VIRTIO_BLK_F_SEG_MAX.
 * The I/O goes through devices/disk.h, synchronously on the VMM thread
 * (io_engine "Async" is accepted and served the same way for now).
 *
 * Requests are byte streams (VIRTIO_F_VERSION_1 implies any layout): the
 * 16-byte header is the start of the readable part, the status byte is the
 * last writable byte, and the data is what lies between.
 *
 * blk_parse() is pure (guest memory in, validated request out); blk_exec()
 * does the I/O. A malformed request is completed with an error status when
 * it has a status byte, and with length 0 otherwise; the device moves on. */
#ifndef FLINT_DEVICES_VIRTIO_BLOCK_H
#define FLINT_DEVICES_VIRTIO_BLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <linux/virtio_blk.h>

#include "devices/disk.h"
#include "devices/rate_limiter.h"
#include "devices/virtio/mmio.h"
#include "devices/virtio/queue.h"
#include "vmm/config.h"

#define BLK_QUEUE_SIZE	256
#define BLK_SECTOR_SIZE 512
#define BLK_HDR_SIZE	16 /* struct virtio_blk_outhdr */

/* A request, validated against the chain and the disk geometry. */
struct blk_req {
	uint32_t type;	     /* VIRTIO_BLK_T_* */
	uint64_t sector;     /* first sector (IN/OUT) */
	uint32_t data_len;   /* bytes of data: IN/GET_ID writable, OUT readable */
	uint8_t status;	     /* VIRTIO_BLK_S_* to report if parsing failed */
	bool has_status;     /* a writable status byte exists */
	uint32_t status_off; /* its offset in the writable part */
};

/* Per-device counters (Firecracker's block metrics, in part). */
struct blk_stats {
	uint64_t read_count, write_count, flush_count, get_id_count;
	uint64_t read_bytes, write_bytes;
	uint64_t invalid_reqs, io_errors, rate_limited;
};

struct virtio_blk {
	struct virtio_mmio mmio;
	struct disk disk;
	struct virtio_blk_config config; /* little-endian, as the guest reads it */
	char id[VIRTIO_BLK_ID_BYTES];	 /* drive_id, NUL-padded, not terminated */
	uint64_t features;
	struct rate_limiter rl;
	int timer_fd;	/* rate-limiter retry */
	bool throttled; /* waiting for timer_fd */
	bool broken_logged;
	struct logger *log;
	struct blk_stats stats;
	struct vq_seg segs[BLK_QUEUE_SIZE];
	struct iovec iov[BLK_QUEUE_SIZE];
};

/* Pure: validate chain c as a block request for a disk of capacity sectors.
 * Returns 0 if r is ready for blk_exec; otherwise -errno with r->status the
 * error to report (if r->has_status). */
int blk_parse(const struct vq_chain *c, const struct guest_mem *m, uint64_t capacity,
	      bool read_only, struct blk_req *r);

/* Carry out a parsed request. iov (max_iov entries) is scratch for the
 * zero-copy transfer. Returns the VIRTIO_BLK_S_* status; *written is the
 * number of data bytes written to the guest. */
uint8_t blk_exec(const struct disk *d, const struct vq_chain *c, const struct guest_mem *m,
		 const struct blk_req *r, const char id[VIRTIO_BLK_ID_BYTES], struct iovec *iov,
		 int max_iov, uint32_t *written);

/* Open the drive's image and set up the device (not yet on any bus).
 * 0 or -errno with f saying why. Start-up or API thread, before boot. */
int blk_create(struct virtio_blk *b, const struct cfg_drive *cfg, struct fault *f);
/* Put it on the bus and the event loop (see virtio_mmio_register). */
int blk_register(struct virtio_blk *b, struct bus *mmio_bus, int vm_fd, struct ev_loop *loop,
		 const struct guest_mem *mem, uint64_t base, uint32_t irq, struct logger *log);
void blk_destroy(struct virtio_blk *b);

/* PATCH /drives/{id} after boot, on the VMM thread: switch to another image
 * (same read-only and cache settings), publish its capacity and raise a
 * config interrupt. 0, or -errno with f set and the old image kept. */
int blk_update_path(struct virtio_blk *b, const char *path, struct fault *f);
/* PATCH the rate limiter (see rl_update). VMM thread. */
void blk_update_rate_limiter(struct virtio_blk *b, const struct cfg_rate_limiter *cfg);

/* VMM thread: serve every available request (also the notify handler). */
void blk_process(struct virtio_blk *b);

#endif
