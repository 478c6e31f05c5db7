/* The counter test, for snapshot tests: never ends. Every counter_ms
 * milliseconds (default 100) it prints one line
 *
 *   counter: n=<tick> tsc=<TSC> [prev=<hex> sum=<hex> sector=<s>]
 *
 * n counts up from 0 and the TSC only grows, so a restored guest shows
 * where it continues and that its clock did not go back. With counter_blk=1
 * each tick also reads one sector (s = n mod 64) of the first virtio-blk
 * disk into a page only the device writes: prev is the FNV-1a sum of that
 * buffer before the read (the previous tick's data) and sum after it, so
 * prev of a tick equals sum of the tick before -- across a snapshot too,
 * unless the restore lost a page the device wrote (a Diff snapshot that
 * missed a device write shows up here).
 *
 * counter_touch=<MiB> first writes one word into each page of that much RAM
 * from 16 MiB up, then reads a word of each page every tick: a working set
 * a restored clone keeps using (for memory benchmarks).
 *
 * counter_legacy=1 puts the UART and the i8042 in a state other than their
 * reset one (divisor 3, scratch 0xa7, THR-empty interrupt enabled; i8042
 * command byte 0x47) and appends to every line
 *
 *   uart=<ier>,<lcr>,<mcr>,<scr>,<divisor>,<iir> kbd=<byte|none> rx=<byte|none>
 *
 * read at the start of the tick: the registers (iir is c2 when the THR-empty
 * interrupt of the previous line is still pending), the byte the i8042 held
 * (each tick then asks it for its command byte, so one is always waiting)
 * and at most one byte from the UART's receive FIFO. A restore that lost
 * any of that state shows in the first line after it.
 *
 * counter_high=1 writes a signature into the first, middle and last page of
 * every RAM region (above 4 GiB too) and appends "high=ok <pages>" while
 * every tick reads them back, or "high=bad 0x<address>". */
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include "arch.h"
#include "con.h"
#include "lib.h"
#include "virtio.h"

#define COUNTER_SECTOR	 512
#define COUNTER_SECTORS	 64
#define COUNTER_MS_DEF	 100
#define COUNTER_STATUS_X 0xff
#define COUNTER_TOUCH_PA 0x1000000ULL /* 16 MiB: above the image and boot data */
#define COUNTER_HIGH_MAX 48
#define UART_RBR	 0
#define UART_IER	 1
#define UART_IIR	 2
#define UART_LCR	 3
#define UART_MCR	 4
#define UART_LSR	 5
#define UART_SCR	 7
#define UART_LCR_DLAB	 0x80
#define UART_LSR_DR	 0x01
#define KBD_DATA	 0x60
#define KBD_CMD		 0x64
#define KBD_OBF		 0x01
#define KBD_READ_CTR	 0x20
#define KBD_WRITE_CTR	 0x60
#define KBD_CTR_TEST	 0x47 /* not the reset value (0x65) */

struct counter_blk {
	struct vdev d;
	struct vq q;
	struct virtio_blk_outhdr hdr;
	uint8_t status;
	/* written by the device only: the vCPU never stores to this page */
	uint8_t data[4096] __attribute__((aligned(4096)));
	uint8_t ring[VQ_RING_BYTES] __attribute__((aligned(4096)));
};

static struct counter_blk counter_blk_state;

static uint32_t counter_fnv(const uint8_t *p, unsigned n)
{
	uint32_t h = 2166136261u;

	for (unsigned i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static int counter_blk_setup(struct test_ctx *t, struct counter_blk *b)
{
	int err = vdev_find(t->g, VIRTIO_ID_BLOCK, 0, &b->d);

	if (err)
		return test_fail(t, "counter_blk=1 but no virtio-blk device");
	err = vdev_init(&b->d, 0);
	if (!err)
		err = vq_setup(&b->d, &b->q, 0, b->ring);
	if (err)
		return test_fail(t, "virtio-blk set-up failed (%d)", err);
	vdev_driver_ok(&b->d);
	return 0;
}

/* Read sector s into b->data; the device's status byte, or -errno. */
static int counter_blk_read(struct counter_blk *b, uint64_t s)
{
	struct vbuf v[3];
	uint32_t used;
	int rc;

	b->hdr.type = VIRTIO_BLK_T_IN;
	b->hdr.ioprio = 0;
	b->hdr.sector = s;
	b->status = COUNTER_STATUS_X;
	v[0] = (struct vbuf){&b->hdr, sizeof(b->hdr), false};
	v[1] = (struct vbuf){b->data, COUNTER_SECTOR, true};
	v[2] = (struct vbuf){&b->status, 1, true};
	rc = vq_run(&b->q, v, 3, &used);
	vdev_ack_irq(&b->d);
	return rc < 0 ? rc : b->status;
}

/* Pages of the touch area that are RAM and mapped (at most want). */
static uint64_t counter_touch_pages(const struct guest *g, uint64_t want_mib)
{
	uint64_t end = COUNTER_TOUCH_PA + (want_mib << 20);

	for (unsigned i = 0; i < g->nregions; i++) {
		const struct guest_region *r = &g->regions[i];

		if (r->type == GUEST_E820_RAM && r->addr <= COUNTER_TOUCH_PA &&
		    r->addr + r->size > COUNTER_TOUCH_PA) {
			if (end > r->addr + r->size)
				end = r->addr + r->size;
			if (end > g->mapped_end)
				end = g->mapped_end;
			return end > COUNTER_TOUCH_PA ? (end - COUNTER_TOUCH_PA) / GUEST_PAGE : 0;
		}
	}
	return 0;
}

/* One read of each page; the sum keeps the reads from being dropped. */
static uint64_t counter_touch(uint64_t pages, bool write)
{
	uint64_t sum = 0;

	for (uint64_t i = 0; i < pages; i++) {
		volatile uint64_t *p = phys_ptr(COUNTER_TOUCH_PA + i * GUEST_PAGE);

		if (write)
			*p = i + 1;
		sum += *p;
	}
	return sum;
}

/* Registers the console code does not set, and an i8042 command byte. */
static void counter_legacy_setup(void)
{
	uint8_t lcr = inb(CON_PORT + UART_LCR);

	outb(CON_PORT + UART_LCR, lcr | UART_LCR_DLAB);
	outb(CON_PORT + 0, 0x03); /* divisor 3: 38400 baud */
	outb(CON_PORT + 1, 0x00);
	outb(CON_PORT + UART_LCR, lcr);
	outb(CON_PORT + UART_SCR, 0xa7);
	outb(CON_PORT + UART_IER, 0x02); /* THR empty */
	outb(KBD_CMD, KBD_WRITE_CTR);
	outb(KBD_DATA, KBD_CTR_TEST);
	outb(KBD_CMD, KBD_READ_CTR); /* the first tick's byte */
}

/* Formats the legacy devices' state into buf (see the file comment). */
static void counter_legacy(char *buf, size_t cap)
{
	uint8_t lcr = inb(CON_PORT + UART_LCR), dll, dlm, ier, iir;
	char kbd[8] = "none", rx[8] = "none";

	ier = inb(CON_PORT + UART_IER);
	iir = inb(CON_PORT + UART_IIR); /* acknowledges THR empty */
	outb(CON_PORT + UART_LCR, lcr | UART_LCR_DLAB);
	dll = inb(CON_PORT + 0);
	dlm = inb(CON_PORT + 1);
	outb(CON_PORT + UART_LCR, lcr);
	if (inb(KBD_CMD) & KBD_OBF)
		con_snprintf(kbd, sizeof(kbd), "%02x", inb(KBD_DATA));
	outb(KBD_CMD, KBD_READ_CTR);
	if (inb(CON_PORT + UART_LSR) & UART_LSR_DR)
		con_snprintf(rx, sizeof(rx), "%02x", inb(CON_PORT + UART_RBR));
	con_snprintf(buf, cap, " uart=%02x,%02x,%02x,%02x,%04x,%02x kbd=%s rx=%s", ier, lcr,
		     inb(CON_PORT + UART_MCR), inb(CON_PORT + UART_SCR), dlm << 8 | dll, iir, kbd,
		     rx);
}

/* The signature of page pa: its address, scrambled. */
static uint64_t counter_sig(uint64_t pa)
{
	return pa * 0x9e3779b97f4a7c15ULL ^ 0x464c494e54534947ULL;
}

/* The first, middle and last page of each RAM region the guest maps
 * (pages under the image and boot data skipped). Returns how many. */
static unsigned counter_high_pages(const struct guest *g, uint64_t *pa, unsigned max)
{
	unsigned n = 0;

	for (unsigned i = 0; i < g->nregions && n + 3 <= max; i++) {
		const struct guest_region *r = &g->regions[i];
		uint64_t lo = (r->addr + GUEST_PAGE - 1) & ~(uint64_t)(GUEST_PAGE - 1);
		uint64_t hi = (r->addr + r->size) & ~(uint64_t)(GUEST_PAGE - 1);

		if (r->type != GUEST_E820_RAM || hi > g->mapped_end || hi - lo < 3 * GUEST_PAGE)
			continue;
		if (lo < COUNTER_TOUCH_PA)
			lo = COUNTER_TOUCH_PA + (64ULL << 20); /* clear of touch's area */
		if (lo + 3 * GUEST_PAGE > hi)
			continue;
		pa[n++] = lo;
		pa[n++] = lo + ((hi - lo) / 2 & ~(uint64_t)(GUEST_PAGE - 1));
		pa[n++] = hi - GUEST_PAGE;
	}
	return n;
}

/* Write (write) or check the signatures; returns the first bad page or 0. */
static uint64_t counter_high(const uint64_t *pa, unsigned n, bool write)
{
	for (unsigned i = 0; i < n; i++) {
		volatile uint64_t *p = phys_ptr(pa[i]);

		if (write)
			p[0] = p[GUEST_PAGE / 8 - 1] = counter_sig(pa[i]);
		else if (p[0] != counter_sig(pa[i]) || p[GUEST_PAGE / 8 - 1] != counter_sig(pa[i]))
			return pa[i];
	}
	return 0;
}

int test_counter(struct test_ctx *t)
{
	uint64_t ms = lib_cmdline_u64(t->g->cmdline, "counter_ms", COUNTER_MS_DEF);
	bool blk = lib_cmdline_u64(t->g->cmdline, "counter_blk", 0) != 0;
	uint64_t touch =
	    counter_touch_pages(t->g, lib_cmdline_u64(t->g->cmdline, "counter_touch", 0));
	bool legacy = lib_cmdline_u64(t->g->cmdline, "counter_legacy", 0) != 0;
	bool high = lib_cmdline_u64(t->g->cmdline, "counter_high", 0) != 0;
	struct counter_blk *b = &counter_blk_state;
	uint64_t high_pa[COUNTER_HIGH_MAX];
	unsigned nhigh = high ? counter_high_pages(t->g, high_pa, COUNTER_HIGH_MAX) : 0;
	char extra[96];

	if (blk && counter_blk_setup(t, b))
		return -1;
	counter_touch(touch, true);
	counter_high(high_pa, nhigh, true);
	if (legacy)
		counter_legacy_setup();
	con_printf("counter: start ms=%llu blk=%d touch=%llu pages\n", (unsigned long long)ms, blk,
		   (unsigned long long)touch);
	for (uint64_t n = 0;; n++) {
		uint64_t tsc = rdtsc();

		counter_touch(touch, false);
		extra[0] = 0;
		if (legacy)
			counter_legacy(extra, sizeof(extra));
		if (high) {
			uint64_t bad = counter_high(high_pa, nhigh, false);
			size_t l = strlen(extra);

			if (bad)
				con_snprintf(extra + l, sizeof(extra) - l, " high=bad 0x%llx",
					     (unsigned long long)bad);
			else
				con_snprintf(extra + l, sizeof(extra) - l, " high=ok %u", nhigh);
		}

		if (blk) {
			uint32_t prev = counter_fnv(b->data, COUNTER_SECTOR);
			uint64_t s = n % COUNTER_SECTORS;
			int st = counter_blk_read(b, s);

			if (st != VIRTIO_BLK_S_OK)
				con_printf("counter: n=%llu blk read failed (%d)\n",
					   (unsigned long long)n, st);
			con_printf("counter: n=%llu tsc=%llu prev=%x sum=%x sector=%llu%s\n",
				   (unsigned long long)n, (unsigned long long)tsc, prev,
				   counter_fnv(b->data, COUNTER_SECTOR), (unsigned long long)s,
				   extra);
		} else {
			con_printf("counter: n=%llu tsc=%llu%s\n", (unsigned long long)n,
				   (unsigned long long)tsc, extra);
		}
		lib_delay_tsc(ms * GUEST_TSC_MS);
	}
	return 0;
}
