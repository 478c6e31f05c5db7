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
	    cmocka_unit_test(i8042_probe_and_reset),
	    cmocka_unit_test(i8042_ctrl_alt_del_bounded),
	    cmocka_unit_test(bus_overlap_and_default),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
