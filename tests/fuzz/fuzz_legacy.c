/* libFuzzer target: the legacy port-I/O devices, the 16550A UART (COM1) and
 * the i8042, with the quiet legacy sinks beside them on one port bus,
 * driven by any sequence of guest IN/OUT accesses (1, 2 or 4 bytes, in and
 * around every range), console input fed as vm.c feeds it, Ctrl-Alt-Del and
 * snapshot round trips, with an optional output rate limit on a clock the
 * input moves. The input may also start the devices from a made-up
 * snapshot state, restored only if the devices' own validators accept it.
 *
 * Beyond the sanitizers, after every step the devices' saved state must
 * pass their own validators: a live VM's snapshot has to load again.
 *
 * Input: struct fz_hdr, then 4-byte operations (struct fz_op). */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot/layout.h"
#include "devices/i8042.h"
#include "devices/legacy.h"
#include "devices/serial.h"
#include "vmm/bus.h"

#define FZ_MAX_OPS 512

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
	FZ_F_RATE = 1,	   /* limit the UART's output rate */
	FZ_F_RESTORE = 2,  /* start from the header's device state, if valid */
	FZ_F_DISCARD = 4,  /* no output fd (-1) instead of /dev/null */
	FZ_F_NOSPACE = 8,  /* no rx_space callback */
	FZ_F_NOIRQ = 0x10, /* no raise_irq callbacks */
};

struct fz_hdr {
	uint8_t flags;
	uint8_t pad;
	uint16_t rl_size;   /* bytes */
	uint16_t rl_burst;  /* one-time burst, bytes */
	uint16_t rl_refill; /* ms */
	struct serial_regs regs;
	struct serial_fifo fifo;
	struct i8042_state kbd;
};
/* tests/fuzz/seeds.py writes this layout. */
_Static_assert(sizeof(struct fz_hdr) == 120, "fz_hdr layout changed: update seeds.py");

/* kind: bits 0-2 the action, bits 3-4 the access size (1, 2, 4, 4). port:
 * bits 4-7 pick a base (fz_bases), bits 0-3 the offset from it. */
struct fz_op {
	uint8_t kind;
	uint8_t port;
	uint16_t val;
};

enum fz_act {
	FZ_OUT, /* twice as likely: actions 0 and 1 */
	FZ_OUT2,
	FZ_IN,
	FZ_INPUT,    /* console input: val >> 8 bytes, as vm.c offers them */
	FZ_TICK,     /* the rate limiter's clock moves val * 64 us */
	FZ_CAD,	     /* Ctrl-Alt-Del from the VMM */
	FZ_SNAPSHOT, /* save and restore both devices (a snapshot round trip) */
	FZ_RELOAD,   /* restore the header's state, if valid */
};

static const uint16_t fz_bases[] = {
    LAYOUT_COM1_PORT,
    LAYOUT_COM1_PORT,
    LAYOUT_COM1_PORT,
    LAYOUT_COM1_PORT,
    LAYOUT_I8042_DATA,
    LAYOUT_I8042_DATA,
    LAYOUT_I8042_DATA,
    LAYOUT_I8042_CMD,
    0x2f8,
    0x3e8,
    0x2e8,
    0x70,
    0x80,
    0xcf8,
    0x3f0,
    0x5c,
};

/* Everything for one input; the devices start fresh each time. */
struct fz_ctx {
	struct bus pio;
	struct serial uart;
	struct i8042 kbd;
	unsigned irqs, resets;
	bool in_paused; /* vm.c's serial_in_paused: stdin not read */
};

/* The UART's clock has no context pointer: the input's time lives here. */
static uint64_t fz_clock_ns;

static uint64_t fz_now(void)
{
	return fz_clock_ns;
}

static void fz_count(void *ctx)
{
	(*(unsigned *)ctx)++;
}

/* vm.c's rx_space: the guest made room, read stdin again. */
static void fz_space(void *ctx)
{
	((struct fz_ctx *)ctx)->in_paused = false;
}

static int fz_null_fd(void)
{
	static int fd = -1;

	if (fd < 0)
		fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	return fd;
}

static void fz_check(bool ok)
{
	if (!ok)
		abort();
}

/* What a snapshot taken now would hold must load again. */
static void fz_check_states(struct fz_ctx *x)
{
	struct serial_regs r;
	struct serial_fifo q;
	struct i8042_state k;

	serial_save(&x->uart, &r, &q);
	fz_check(serial_state_check(&r, &q) == 0);
	i8042_save(&x->kbd, &k);
	fz_check(i8042_state_check(&k) == 0);
}

static void fz_snapshot(struct fz_ctx *x)
{
	struct serial_regs r;
	struct serial_fifo q;
	struct i8042_state k;

	serial_save(&x->uart, &r, &q);
	i8042_save(&x->kbd, &k);
	if (serial_state_check(&r, &q) == 0)
		serial_restore(&x->uart, &r, &q);
	if (i8042_state_check(&k) == 0)
		i8042_restore(&x->kbd, &k);
}

/* A restore happens in a new VMM process: its stdin is not paused. */
static void fz_reload(struct fz_ctx *x, const struct fz_hdr *h)
{
	x->in_paused = false;
	if (serial_state_check(&h->regs, &h->fifo) == 0)
		serial_restore(&x->uart, &h->regs, &h->fifo);
	if (i8042_state_check(&h->kbd) == 0)
		i8042_restore(&x->kbd, &h->kbd);
}

static int fz_setup(struct fz_ctx *x, const struct fz_hdr *h)
{
	struct bus_range com1 = {.base = LAYOUT_COM1_PORT,
				 .size = 8,
				 .dev = &x->uart,
				 .read = serial_pio_read,
				 .write = serial_pio_write};
	struct bus_range kbd = {.base = LAYOUT_I8042_DATA,
				.size = 5,
				.dev = &x->kbd,
				.read = i8042_pio_read,
				.write = i8042_pio_write};
	struct cfg_token_bucket tb = {.set = true,
				      .size = h->rl_size,
				      .one_time_burst = h->rl_burst,
				      .refill_time_ms = h->rl_refill};

	memset(x, 0, sizeof(*x));
	fz_clock_ns = 1000000000ULL;
	serial_init(&x->uart, h->flags & FZ_F_DISCARD ? -1 : fz_null_fd());
	i8042_init(&x->kbd);
	x->uart.now_ns = fz_now;
	if (!(h->flags & FZ_F_NOIRQ)) {
		x->uart.raise_irq = fz_count;
		x->uart.irq_ctx = &x->irqs;
		x->kbd.raise_irq = fz_count;
		x->kbd.irq_ctx = &x->irqs;
	}
	if (!(h->flags & FZ_F_NOSPACE)) {
		x->uart.rx_space = fz_space;
		x->uart.rx_space_ctx = x;
	}
	if (h->flags & FZ_F_RATE)
		serial_set_rate_limit(&x->uart, &tb);
	x->kbd.reset = fz_count;
	x->kbd.reset_ctx = &x->resets;
	if (h->flags & FZ_F_RESTORE)
		fz_reload(x, h);
	if (bus_add(&x->pio, &com1) || bus_add(&x->pio, &kbd) || legacy_register(&x->pio))
		return -1;
	return 0;
}

/* Console input the way vm.c feeds it: at most the FIFO's room per read;
 * with no room, stop reading stdin until rx_space says the guest drained
 * the FIFO. */
static void fz_input(struct fz_ctx *x, uint16_t val)
{
	uint8_t buf[SERIAL_RX_FIFO];
	unsigned room = serial_rx_room(&x->uart), n = val >> 8;

	if (x->in_paused)
		return;
	if (room == 0) {
		x->in_paused = true;
		serial_rx_push(&x->uart, buf, 0);
		return;
	}
	n = n < room ? n : room;
	for (unsigned i = 0; i < n; i++)
		buf[i] = (uint8_t)(val + i);
	fz_check(serial_rx_push(&x->uart, buf, n) == n);
}

static void fz_run_op(struct fz_ctx *x, const struct fz_hdr *h, const struct fz_op *op)
{
	static const uint32_t sizes[] = {1, 2, 4, 4};
	uint64_t port = fz_bases[op->port >> 4] + (op->port & 0xf);
	uint32_t len = sizes[(op->kind >> 3) & 3];
	uint8_t buf[4];
	uint32_t v = op->val * 0x10001U;

	memcpy(buf, &v, sizeof(buf));
	switch ((enum fz_act)(op->kind & 7)) {
	case FZ_OUT:
	case FZ_OUT2:
		bus_write(&x->pio, port, buf, len);
		break;
	case FZ_IN:
		bus_read(&x->pio, port, buf, len);
		break;
	case FZ_INPUT:
		fz_input(x, op->val);
		break;
	case FZ_TICK:
		fz_clock_ns += op->val * 64000ULL;
		break;
	case FZ_CAD:
		fz_check(i8042_ctrl_alt_del(&x->kbd) <= 0);
		break;
	case FZ_SNAPSHOT:
		fz_snapshot(x);
		break;
	case FZ_RELOAD:
		fz_reload(x, h);
		break;
	}
	fz_check_states(x);
	/* Console input never stalls: with stdin paused for a full FIFO,
	 * the FIFO is still full (or rx_space has fired). */
	fz_check(!(x->in_paused && x->uart.rx_space && serial_rx_room(&x->uart) == SERIAL_RX_FIFO));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_ctx x;
	struct fz_hdr h;
	size_t nops;

	if (size < sizeof(h))
		return 0;
	memcpy(&h, data, sizeof(h));
	data += sizeof(h);
	size -= sizeof(h);
	if (fz_setup(&x, &h) != 0)
		abort();
	fz_check_states(&x);
	nops = size / sizeof(struct fz_op);
	for (size_t i = 0; i < nops && i < FZ_MAX_OPS; i++) {
		struct fz_op op;

		memcpy(&op, data + i * sizeof(op), sizeof(op));
		fz_run_op(&x, &h, &op);
	}
	serial_destroy(&x.uart);
	i8042_destroy(&x.kbd);
	return 0;
}
