/* The 16550 UART, the i8042 and the port bus, driven as a guest would. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "devices/i8042.h"
#include "devices/legacy.h"
#include "devices/serial.h"
#include "vmm/bus.h"

static int irq_count;
static int reset_count;

static void count_irq(void *ctx)
{
	(void)ctx;
	irq_count++;
}

static void count_reset(void *ctx)
{
	(void)ctx;
	reset_count++;
}

static uint8_t rd(struct serial *s, int off)
{
	uint8_t v;

	serial_pio_read(s, (uint64_t)off, &v, 1);
	return v;
}

static void wr(struct serial *s, int off, uint8_t v)
{
	serial_pio_write(s, (uint64_t)off, &v, 1);
}

static void serial_output_reaches_fd(void **state)
{
	struct serial s;
	int p[2];
	char buf[8] = {0};

	(void)state;
	assert_int_equal(pipe(p), 0);
	serial_init(&s, p[1]);
	wr(&s, 0, 'h');
	wr(&s, 0, 'i');
	assert_int_equal(read(p[0], buf, sizeof(buf)), 2);
	assert_string_equal(buf, "hi");
	assert_int_equal(s.bytes_out, 2);
	assert_true(rd(&s, 5) & 0x60); /* THR empty, transmitter empty */
	serial_destroy(&s);
	close(p[0]);
	close(p[1]);
}

/* Linux's 8250 probe: scratch register, divisor latch, loopback MSR. */
static void serial_probe_like_linux(void **state)
{
	struct serial s;

	(void)state;
	serial_init(&s, -1);
	wr(&s, 7, 0xa5);
	assert_int_equal(rd(&s, 7), 0xa5);
	wr(&s, 3, 0x80); /* DLAB */
	wr(&s, 0, 0x01);
	wr(&s, 1, 0x00);
	assert_int_equal(rd(&s, 0), 0x01);
	wr(&s, 3, 0x03);
	wr(&s, 4, 0x10 | 0x0a); /* loopback with RTS and OUT2 */
	assert_int_equal(rd(&s, 6) & 0xf0, 0x90);
	wr(&s, 0, 'x'); /* looped back into the receiver */
	assert_true(rd(&s, 5) & 0x01);
	assert_int_equal(rd(&s, 0), 'x');
	wr(&s, 4, 0x0b);
	wr(&s, 2, 0x01); /* FIFO on: IIR reports it */
	assert_int_equal(rd(&s, 2) & 0xc0, 0xc0);
	serial_destroy(&s);
}

static void serial_interrupts(void **state)
{
	struct serial s;

	(void)state;
	serial_init(&s, -1);
	s.raise_irq = count_irq;
	irq_count = 0;
	wr(&s, 1, 0x02); /* enable THRI: raised at once */
	assert_int_equal(irq_count, 1);
	assert_int_equal(rd(&s, 2) & 0x0f, 0x02);
	assert_int_equal(rd(&s, 2) & 0x0f, 0x01); /* read acknowledged it */
	wr(&s, 0, 'a');				  /* a fresh edge per byte sent */
	assert_int_equal(irq_count, 2);
	rd(&s, 5); /* polling LSR raises nothing more */
	rd(&s, 5);
	assert_int_equal(irq_count, 2);
	serial_destroy(&s);
}

static void serial_input_bounded(void **state)
{
	struct serial s;
	uint8_t big[SERIAL_RX_FIFO + 10];

	(void)state;
	memset(big, 'z', sizeof(big));
	serial_init(&s, -1);
	s.raise_irq = count_irq;
	s.rx_space = count_reset; /* reuse the counter for "space" */
	irq_count = reset_count = 0;
	wr(&s, 1, 0x01);
	assert_int_equal(serial_rx_push(&s, big, sizeof(big)), SERIAL_RX_FIFO);
	assert_int_equal(irq_count, 1);
	assert_int_equal(serial_rx_room(&s), 0);
	for (int i = 0; i < SERIAL_RX_FIFO; i++)
		assert_int_equal(rd(&s, 0), 'z');
	assert_int_equal(reset_count, 1); /* the VMM is told to read more */
	assert_false(rd(&s, 5) & 0x01);
	assert_int_equal(rd(&s, 0), 0); /* empty FIFO reads zero */
	serial_destroy(&s);
}

/* A full FIFO cleared through FCR (as Linux's 8250 driver does) frees space
 * as a read does: the VMM is told to offer input again, or it never would. */
static void serial_fifo_clear_resumes_input(void **state)
{
	struct serial s;
	uint8_t big[SERIAL_RX_FIFO];

	(void)state;
	memset(big, 'y', sizeof(big));
	serial_init(&s, -1);
	s.rx_space = count_reset;
	reset_count = 0;
	assert_int_equal(serial_rx_push(&s, big, sizeof(big)), SERIAL_RX_FIFO);
	assert_int_equal(serial_rx_push(&s, big, 1), 0); /* full: the VMM waits */
	wr(&s, 2, 0x01 | 0x02);				 /* FCR: enable, clear RX */
	assert_int_equal(reset_count, 1);
	assert_int_equal(serial_rx_room(&s), SERIAL_RX_FIFO);
	serial_destroy(&s);
}

/* A guest mid-way through its work: registers set, interrupt pending, the
 * FIFO wrapped around its end with bytes still to read. A UART restored
 * from its state must read the same from then on. */
static void serial_save_restore_round_trip(void **state)
{
	struct serial a, b;
	struct serial_regs r;
	struct serial_fifo q;
	uint8_t in[SERIAL_RX_FIFO];

	(void)state;
	for (int i = 0; i < SERIAL_RX_FIFO; i++)
		in[i] = (uint8_t)('A' + i % 26);
	serial_init(&a, -1);
	serial_init(&b, -1);
	wr(&a, 3, 0x80); /* divisor 0x0201 */
	wr(&a, 0, 0x01);
	wr(&a, 1, 0x02);
	wr(&a, 3, 0x1b); /* 8 bits, even parity */
	wr(&a, 7, 0x5a);
	wr(&a, 4, 0x0b);
	wr(&a, 2, 0x01); /* FIFO on */
	wr(&a, 1, 0x03); /* RDI and THRI: THRI pending */
	assert_int_equal(serial_rx_push(&a, in, 40), 40);
	for (int i = 0; i < 30; i++)
		assert_int_equal(rd(&a, 0), in[i]);
	assert_int_equal(serial_rx_push(&a, in + 40, 24), 24); /* wraps */
	serial_save(&a, &r, &q);
	assert_int_equal(q.len, 34);
	assert_int_equal(serial_state_check(&r, &q), 0);
	irq_count = 0;
	b.raise_irq = count_irq;
	serial_restore(&b, &r, &q);
	assert_int_equal(irq_count, 0); /* the irqchip state holds the edge */
	assert_int_equal(rd(&b, 1), 0x03);
	assert_int_equal(rd(&b, 3), 0x1b);
	assert_int_equal(rd(&b, 4), 0x0b);
	assert_int_equal(rd(&b, 7), 0x5a);
	assert_int_equal(rd(&b, 2), 0xc4); /* FIFO on, receive data first */
	for (int i = 30; i < SERIAL_RX_FIFO; i++)
		assert_int_equal(rd(&b, 0), in[i]);
	assert_false(rd(&b, 5) & 0x01);
	assert_int_equal(rd(&b, 2), 0xc2); /* then the THR-empty one */
	assert_int_equal(rd(&b, 2), 0xc1);
	wr(&b, 3, 0x9b);
	assert_int_equal(rd(&b, 0), 0x01);
	assert_int_equal(rd(&b, 1), 0x02);
	serial_destroy(&a);
	serial_destroy(&b);
}

/* What no 16550 can hold is refused before anything is loaded. */
static void serial_state_check_refuses(void **state)
{
	struct serial s;
	struct serial_regs r, bad;
	struct serial_fifo q, badq;

	(void)state;
	serial_init(&s, -1);
	serial_save(&s, &r, &q);
	assert_int_equal(serial_state_check(&r, &q), 0);
	assert_int_equal(serial_state_check(&r, NULL), 0);
	bad = r;
	bad.ier = 0x10;
	assert_int_equal(serial_state_check(&bad, NULL), -EINVAL);
	bad = r;
	bad.mcr = 0x20;
	assert_int_equal(serial_state_check(&bad, NULL), -EINVAL);
	bad = r;
	bad.iir_fifo = 0x80;
	assert_int_equal(serial_state_check(&bad, NULL), -EINVAL);
	bad = r;
	bad.lsr_extra = 0x01;
	assert_int_equal(serial_state_check(&bad, NULL), -EINVAL);
	bad = r;
	bad.pad[5] = 1;
	assert_int_equal(serial_state_check(&bad, NULL), -EINVAL);
	badq = q;
	badq.len = SERIAL_RX_FIFO + 1;
	assert_int_equal(serial_state_check(&r, &badq), -EINVAL);
	badq.len = UINT32_MAX;
	assert_int_equal(serial_state_check(&r, &badq), -EINVAL);
	badq = q;
	badq.data[SERIAL_RX_FIFO - 1] = 1; /* past len 0 */
	assert_int_equal(serial_state_check(&r, &badq), -EINVAL);
	badq.len = SERIAL_RX_FIFO;
	assert_int_equal(serial_state_check(&r, &badq), 0);
	serial_destroy(&s);
}

static uint64_t fake_now;

static uint64_t fake_clock(void)
{
	return fake_now;
}

/* PUT /serial's rate_limiter: output over the rate is dropped and counted;
 * the guest sees every byte leave; loopback is not output. */
static void serial_rate_limit_drops_and_counts(void **state)
{
	struct cfg_token_bucket tb = {.set = true, .size = 10, .refill_time_ms = 100};
	struct serial s;
	int p[2];
	char buf[64];

	(void)state;
	assert_int_equal(pipe(p), 0);
	serial_init(&s, p[1]);
	s.now_ns = fake_clock;
	fake_now = 1000000000ULL;
	serial_set_rate_limit(&s, &tb);
	for (int i = 0; i < 25; i++) {
		wr(&s, 0, (uint8_t)('a' + i));
		assert_true(rd(&s, 5) & 0x20); /* THR empty all the same */
	}
	assert_int_equal(s.bytes_out, 10);
	assert_int_equal(s.dropped_bytes, 15);
	assert_int_equal(read(p[0], buf, sizeof(buf)), 10);
	assert_memory_equal(buf, "abcdefghij", 10);
	fake_now += 50000000ULL; /* half the refill time: 5 more bytes */
	for (int i = 0; i < 8; i++)
		wr(&s, 0, 'x');
	assert_int_equal(s.bytes_out, 15);
	assert_int_equal(s.dropped_bytes, 18);
	wr(&s, 4, 0x10); /* loopback: not limited, not counted */
	for (int i = 0; i < 5; i++)
		wr(&s, 0, 'y');
	assert_int_equal(s.dropped_bytes, 18);
	assert_int_equal(rd(&s, 0), 'y');
	/* a bucket of size 0 does not limit */
	wr(&s, 4, 0x00);
	tb.size = 0;
	serial_set_rate_limit(&s, &tb);
	for (int i = 0; i < 30; i++)
		wr(&s, 0, 'z');
	assert_int_equal(s.bytes_out, 45);
	assert_int_equal(s.dropped_bytes, 18);
	serial_destroy(&s);
	close(p[0]);
	close(p[1]);
}

static uint8_t kbd_rd(struct i8042 *k, int off)
{
	uint8_t v;

	i8042_pio_read(k, (uint64_t)off, &v, 1);
	return v;
}

static void kbd_wr(struct i8042 *k, int off, uint8_t v)
{
	i8042_pio_write(k, (uint64_t)off, &v, 1);
}

static void i8042_probe_and_reset(void **state)
{
	struct i8042 k;

	(void)state;
	i8042_init(&k);
	k.reset = count_reset;
	reset_count = 0;
	assert_int_equal(kbd_rd(&k, 4) & 0x01, 0); /* nothing to read */
	kbd_wr(&k, 4, 0x20);			   /* read CTR */
	assert_int_equal(kbd_rd(&k, 4) & 0x01, 1);
	uint8_t ctr = kbd_rd(&k, 0);
	kbd_wr(&k, 4, 0x60); /* write CTR */
	kbd_wr(&k, 0, (uint8_t)(ctr & ~0x01));
	kbd_wr(&k, 4, 0x20);
	assert_int_equal(kbd_rd(&k, 0), ctr & ~0x01);
	kbd_wr(&k, 4, 0xaa);
	assert_int_equal(kbd_rd(&k, 0), 0x55);
	kbd_wr(&k, 0, 0xf2); /* keyboard GET ID */
	assert_int_equal(kbd_rd(&k, 0), 0xfa);
	assert_int_equal(kbd_rd(&k, 0), 0xab);
	assert_int_equal(kbd_rd(&k, 0), 0x83);
	assert_int_equal(reset_count, 0);
	kbd_wr(&k, 4, 0xfe);
	assert_int_equal(reset_count, 1);
	i8042_destroy(&k);
}

/* Linux's AUX port probe (i8042_check_aux) as it runs here: the loopback
 * byte comes back at once, marked AUX but not as sent, and the interface
 * test then reports no port; nothing is left behind in the buffer, and the
 * keyboard never saw the loopback byte. */
static void i8042_no_aux_port_said_at_once(void **state)
{
	struct i8042 k;

	(void)state;
	i8042_init(&k);
	kbd_wr(&k, 4, 0xd3); /* write AUX output buffer (loopback) */
	assert_int_equal(kbd_rd(&k, 4) & 0x01, 0);
	kbd_wr(&k, 0, 0x5a);
	assert_int_equal(kbd_rd(&k, 4) & 0x21, 0x21); /* OBF, AUX data */
	assert_int_equal(kbd_rd(&k, 0), 0xa5);
	assert_int_equal(kbd_rd(&k, 4) & 0x21, 0);
	kbd_wr(&k, 4, 0xa9);			      /* AUX interface test */
	assert_int_equal(kbd_rd(&k, 4) & 0x21, 0x01); /* a controller reply, not AUX */
	assert_int_equal(kbd_rd(&k, 0), 0x01);	      /* clock line stuck: no port */
	assert_int_equal(kbd_rd(&k, 4) & 0x01, 0);
	/* an AUX byte behind keyboard bytes keeps its mark until it is read */
	kbd_wr(&k, 0, 0xee); /* keyboard echo */
	kbd_wr(&k, 4, 0xd3);
	kbd_wr(&k, 0, 0x00);
	assert_int_equal(kbd_rd(&k, 4) & 0x21, 0x01);
	assert_int_equal(kbd_rd(&k, 0), 0xee);
	assert_int_equal(kbd_rd(&k, 4) & 0x21, 0x21);
	assert_int_equal(kbd_rd(&k, 0), 0xff);
	i8042_destroy(&k);
}

static void i8042_ctrl_alt_del_bounded(void **state)
{
	struct i8042 k;
	int ok = 0;

	(void)state;
	i8042_init(&k);
	k.raise_irq = count_irq;
	irq_count = 0;
	while (i8042_ctrl_alt_del(&k) == 0)
		ok++;
	assert_int_equal(ok, 2); /* 16-byte buffer, 8-byte sequence */
	assert_int_equal(irq_count, 2);
	assert_int_equal(kbd_rd(&k, 0), 0x1d);
	i8042_destroy(&k);
}

/* Linux reads one byte per keyboard interrupt: every byte of a reply, and
 * of the Ctrl-Alt-Del sequence, must come with its own interrupt, or the
 * rest waits for a keystroke that never comes (atkbd's GETID timed out). */
static void i8042_one_interrupt_per_byte(void **state)
{
	struct i8042 k;

	(void)state;
	i8042_init(&k);
	k.raise_irq = count_irq;
	irq_count = 0;
	kbd_wr(&k, 0, 0xf2); /* keyboard GET ID: ACK, 0xab, 0x83 */
	assert_int_equal(irq_count, 1);
	assert_int_equal(kbd_rd(&k, 0), 0xfa);
	assert_int_equal(irq_count, 2);
	assert_int_equal(kbd_rd(&k, 0), 0xab);
	assert_int_equal(irq_count, 3);
	assert_int_equal(kbd_rd(&k, 0), 0x83);
	assert_int_equal(irq_count, 3); /* empty: no more */
	irq_count = 0;
	assert_int_equal(i8042_ctrl_alt_del(&k), 0);
	for (int i = 0; i < 8; i++)
		kbd_rd(&k, 0);
	assert_int_equal(irq_count, 8);
	i8042_destroy(&k);
}

/* Command byte, a command waiting for its data byte and bytes in the
 * output buffer (wrapped) survive a save and restore. */
static void i8042_save_restore_round_trip(void **state)
{
	struct i8042 a, b;
	struct i8042_state st;

	(void)state;
	i8042_init(&a);
	i8042_init(&b);
	for (int i = 0; i < 6; i++) { /* move head so the buffer wraps */
		kbd_wr(&a, 0, 0xf2);
		kbd_rd(&a, 0);
		kbd_rd(&a, 0);
		kbd_rd(&a, 0);
	}
	kbd_wr(&a, 4, 0x60);
	kbd_wr(&a, 0, 0x47);
	assert_int_equal(i8042_ctrl_alt_del(&a), 0);
	kbd_wr(&a, 4, 0x20); /* read CTR: queued after the keys */
	kbd_wr(&a, 4, 0xd3); /* an AUX byte after that */
	kbd_wr(&a, 0, 0x0f);
	kbd_wr(&a, 4, 0x60); /* and a write of CTR waiting for its byte */
	i8042_save(&a, &st);
	assert_int_equal(st.len, 10);
	assert_int_equal(st.aux_mask, 1u << 9);
	assert_int_equal(i8042_state_check(&st), 0);
	i8042_restore(&b, &st);
	assert_int_equal(kbd_rd(&b, 4), 0x1d); /* OBF, SYS, unlocked, last was a command */
	assert_int_equal(kbd_rd(&b, 0), 0x1d);
	for (int i = 0; i < 7; i++)
		kbd_rd(&b, 0);
	assert_int_equal(kbd_rd(&b, 0), 0x47);
	assert_int_equal(kbd_rd(&b, 4) & 0x21, 0x21);
	assert_int_equal(kbd_rd(&b, 0), 0xf0);
	assert_int_equal(kbd_rd(&b, 4) & 0x01, 0);
	kbd_wr(&b, 0, 0x45); /* the data byte the saved write was waiting for */
	kbd_wr(&b, 4, 0x20);
	assert_int_equal(kbd_rd(&b, 0), 0x45);
	st.len = I8042_BUF_SIZE + 1;
	assert_int_equal(i8042_state_check(&st), -EINVAL);
	st.len = 9;
	st.buf[9] = 0;
	assert_int_equal(i8042_state_check(&st), -EINVAL); /* an AUX mark past len */
	st.len = 0;
	st.aux_mask = 0;
	assert_int_equal(i8042_state_check(&st), -EINVAL); /* bytes past len */
	memset(st.buf, 0, sizeof(st.buf));
	assert_int_equal(i8042_state_check(&st), 0);
	st.pending_cmd = 0xfe; /* a command that takes no data */
	assert_int_equal(i8042_state_check(&st), -EINVAL);
	st.pending_cmd = 0;
	st.last_write_cmd = 0x01;
	assert_int_equal(i8042_state_check(&st), -EINVAL);
	i8042_destroy(&a);
	i8042_destroy(&b);
}

static void bus_overlap_and_default(void **state)
{
	struct bus b;
	struct bus_range r = {.base = 0x3f8, .size = 8};
	uint8_t v[4];

	(void)state;
	memset(&b, 0, sizeof(b));
	assert_int_equal(bus_add(&b, &r), 0);
	r.base = 0x3ff;
	assert_int_equal(bus_add(&b, &r), -EEXIST);
	r.base = UINT64_MAX - 2;
	assert_int_equal(bus_add(&b, &r), -EINVAL); /* wraps */
	assert_null(bus_find(&b, 0x3fe, 4));	    /* straddles the end */
	assert_int_equal(bus_read(&b, 0x500, v, 4), -ENOENT);
	assert_int_equal(v[0], 0xff);
	assert_int_equal(legacy_register(&b), 0);
	assert_int_equal(bus_read(&b, 0xcfc, v, 4), 0);
	assert_int_equal(v[3], 0xff); /* no PCI device */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(serial_output_reaches_fd),
	    cmocka_unit_test(serial_probe_like_linux),
	    cmocka_unit_test(serial_interrupts),
	    cmocka_unit_test(serial_input_bounded),
	    cmocka_unit_test(serial_fifo_clear_resumes_input),
	    cmocka_unit_test(i8042_probe_and_reset),
	    cmocka_unit_test(i8042_no_aux_port_said_at_once),
	    cmocka_unit_test(i8042_ctrl_alt_del_bounded),
	    cmocka_unit_test(i8042_one_interrupt_per_byte),
	    cmocka_unit_test(serial_save_restore_round_trip),
	    cmocka_unit_test(serial_state_check_refuses),
	    cmocka_unit_test(serial_rate_limit_drops_and_counts),
	    cmocka_unit_test(i8042_save_restore_round_trip),
	    cmocka_unit_test(bus_overlap_and_default),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
