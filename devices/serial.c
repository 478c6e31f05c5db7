/* 16550A UART emulation. Register semantics follow the National
 * Semiconductor PC16550D data sheet. */
#include "devices/serial.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

enum {
	REG_DATA = 0, /* RBR/THR, or DLL with DLAB */
	REG_IER = 1,  /* or DLM with DLAB */
	REG_IIR = 2,  /* write: FCR */
	REG_LCR = 3,
	REG_MCR = 4,
	REG_LSR = 5,
	REG_MSR = 6,
	REG_SCR = 7,
};

#define IER_RDI	     0x01 /* receive data interrupt */
#define IER_THRI     0x02 /* transmit holding register empty interrupt */
#define IIR_NO_INT   0x01
#define IIR_THRI     0x02
#define IIR_RDI	     0x04
#define IIR_FIFO_ON  0xc0
#define FCR_ENABLE   0x01
#define FCR_CLEAR_RX 0x02
#define LCR_DLAB     0x80
#define LSR_DR	     0x01
#define LSR_THRE     0x20
#define LSR_TEMT     0x40
#define MCR_DTR	     0x01
#define MCR_RTS	     0x02
#define MCR_OUT1     0x04
#define MCR_OUT2     0x08
#define MCR_LOOP     0x10
#define MSR_CTS	     0x10
#define MSR_DSR	     0x20
#define MSR_RI	     0x40
#define MSR_DCD	     0x80
#define IER_MASK     0x0f /* the four interrupt enables; the rest reads 0 */
#define MCR_MASK     0x1f
#define LSR_ERRORS   0x1e /* overrun, parity, framing, break */

void serial_init(struct serial *s, int out_fd)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->out_fd = out_fd;
	s->mcr = MCR_OUT2;
	s->msr = MSR_DCD | MSR_DSR | MSR_CTS; /* a connected, ready line */
	s->dll = 0x0c;			      /* 9600 baud */
	s->now_ns = rl_now_ns;
	rl_init(&s->rl, NULL, 0);
}

void serial_set_rate_limit(struct serial *s, const struct cfg_token_bucket *b)
{
	struct cfg_rate_limiter cfg = {.bandwidth = *b};

	pthread_mutex_lock(&s->lock);
	rl_init(&s->rl, &cfg, s->now_ns());
	pthread_mutex_unlock(&s->lock);
}

void serial_destroy(struct serial *s)
{
	pthread_mutex_destroy(&s->lock);
}

static uint8_t serial_iir(const struct serial *s)
{
	uint8_t iir = IIR_NO_INT;

	if ((s->ier & IER_RDI) && s->rx_len)
		iir = IIR_RDI;
	else if ((s->ier & IER_THRI) && s->thri_pending)
		iir = IIR_THRI;
	return iir | s->iir_fifo;
}

static bool serial_irq_pending(const struct serial *s)
{
	return !(serial_iir(s) & IIR_NO_INT);
}

/* The INTR line is an edge to the IOAPIC: raise it only when an interrupt
 * becomes pending, not on every register access while one is. */
static void serial_update_irq(struct serial *s, bool was_pending)
{
	if (!was_pending && serial_irq_pending(s) && s->raise_irq)
		s->raise_irq(s->irq_ctx);
}

static void serial_rx_put(struct serial *s, uint8_t b)
{
	if (s->rx_len < SERIAL_RX_FIFO) {
		s->rx[(s->rx_head + s->rx_len) % SERIAL_RX_FIFO] = b;
		s->rx_len++;
	}
}

static void serial_emit(struct serial *s, uint8_t b)
{
	if (s->mcr & MCR_LOOP) {
		serial_rx_put(s, b); /* loopback: the driver's self test */
		return;
	}
	if (s->out_fd < 0)
		return;
	/* Over the rate: the byte is lost, as PUT /serial's rate_limiter
	 * says; the guest saw it leave all the same. */
	if (!rl_unlimited(&s->rl)) {
		uint64_t wait;

		if (!rl_consume(&s->rl, 1, 0, s->now_ns(), &wait)) {
			s->dropped_bytes++;
			return;
		}
	}
	/* Counted before the write: whoever sees the byte on the console
	 * then also sees it in the metrics. */
	s->bytes_out++;
	if (write(s->out_fd, &b, 1) != 1) {
		s->bytes_out--;
		s->out_errors++;
	}
}

/* The FIFO has just emptied: if the VMM stopped offering input because it
 * was full, tell it to go on. */
static void serial_rx_drained(struct serial *s)
{
	if (s->rx_len == 0 && s->rx_wanted && s->rx_space) {
		s->rx_wanted = false;
		s->rx_space(s->rx_space_ctx);
	}
}

static uint8_t serial_rx_pop(struct serial *s)
{
	uint8_t b;

	if (!s->rx_len)
		return 0;
	b = s->rx[s->rx_head];
	s->rx_head = (s->rx_head + 1) % SERIAL_RX_FIFO;
	s->rx_len--;
	serial_rx_drained(s);
	return b;
}

/* In loopback the modem outputs drive the modem inputs (the 8250 probe
 * checks this); otherwise the line looks permanently connected. */
static uint8_t serial_msr(const struct serial *s)
{
	uint8_t m = 0;

	if (!(s->mcr & MCR_LOOP))
		return s->msr;
	if (s->mcr & MCR_DTR)
		m |= MSR_DSR;
	if (s->mcr & MCR_RTS)
		m |= MSR_CTS;
	if (s->mcr & MCR_OUT1)
		m |= MSR_RI;
	if (s->mcr & MCR_OUT2)
		m |= MSR_DCD;
	return m;
}

static uint8_t serial_read_reg(struct serial *s, uint64_t off)
{
	bool dlab = s->lcr & LCR_DLAB;
	uint8_t iir;

	switch (off) {
	case REG_DATA:
		return dlab ? s->dll : serial_rx_pop(s);
	case REG_IER:
		return dlab ? s->dlm : s->ier;
	case REG_IIR:
		iir = serial_iir(s);
		/* Reading IIR acknowledges a THR-empty interrupt. */
		if ((iir & 0x0f) == IIR_THRI)
			s->thri_pending = false;
		return iir;
	case REG_LCR:
		return s->lcr;
	case REG_MCR:
		return s->mcr;
	case REG_LSR:
		return LSR_THRE | LSR_TEMT | (s->rx_len ? LSR_DR : 0);
	case REG_MSR:
		return serial_msr(s);
	case REG_SCR:
		return s->scr;
	default:
		return 0xff;
	}
}

static void serial_write_reg(struct serial *s, uint64_t off, uint8_t v)
{
	bool dlab = s->lcr & LCR_DLAB;

	switch (off) {
	case REG_DATA:
		if (dlab) {
			s->dll = v;
			break;
		}
		serial_emit(s, v);
		s->thri_pending = true; /* the byte left at once */
		break;
	case REG_IER:
		if (dlab) {
			s->dlm = v;
			break;
		}
		/* Enabling THRI with an empty THR raises it at once. */
		if ((v & IER_THRI) && !(s->ier & IER_THRI))
			s->thri_pending = true;
		s->ier = v & IER_MASK;
		break;
	case REG_IIR: /* FCR */
		s->iir_fifo = (v & FCR_ENABLE) ? IIR_FIFO_ON : 0;
		if (v & FCR_CLEAR_RX) {
			/* Linux's 8250 driver clears the FIFO at start-up and
			 * shutdown: a full FIFO emptied this way frees space
			 * as much as one read empty. */
			s->rx_len = 0;
			serial_rx_drained(s);
		}
		break;
	case REG_LCR:
		s->lcr = v;
		break;
	case REG_MCR:
		s->mcr = v & MCR_MASK;
		break;
	case REG_SCR:
		s->scr = v;
		break;
	default: /* LSR and MSR are read-only */
		break;
	}
}

void serial_pio_read(void *dev, uint64_t off, uint8_t *data, uint32_t len)
{
	struct serial *s = dev;

	bool was;

	memset(data, 0, len);
	pthread_mutex_lock(&s->lock);
	was = serial_irq_pending(s);
	data[0] = serial_read_reg(s, off);
	serial_update_irq(s, was);
	pthread_mutex_unlock(&s->lock);
}

void serial_pio_write(void *dev, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct serial *s = dev;

	bool was;

	(void)len;
	pthread_mutex_lock(&s->lock);
	/* A THR write clears THRE and the byte leaves at once, setting it
	 * again: that is a fresh interrupt edge even if one was pending. */
	was = serial_irq_pending(s) && !(off == REG_DATA && !(s->lcr & LCR_DLAB));
	serial_write_reg(s, off, data[0]);
	serial_update_irq(s, was);
	pthread_mutex_unlock(&s->lock);
}

unsigned serial_rx_room(struct serial *s)
{
	unsigned room;

	pthread_mutex_lock(&s->lock);
	room = SERIAL_RX_FIFO - s->rx_len;
	pthread_mutex_unlock(&s->lock);
	return room;
}

unsigned serial_rx_push(struct serial *s, const uint8_t *buf, unsigned len)
{
	unsigned n = 0;
	bool was;

	pthread_mutex_lock(&s->lock);
	was = serial_irq_pending(s);
	while (n < len && s->rx_len < SERIAL_RX_FIFO)
		serial_rx_put(s, buf[n++]);
	s->bytes_in += n;
	if (n < len || s->rx_len == SERIAL_RX_FIFO)
		s->rx_wanted = true;
	serial_update_irq(s, was);
	pthread_mutex_unlock(&s->lock);
	return n;
}

void serial_save(struct serial *s, struct serial_regs *r, struct serial_fifo *q)
{
	memset(r, 0, sizeof(*r));
	memset(q, 0, sizeof(*q));
	pthread_mutex_lock(&s->lock);
	r->ier = s->ier;
	r->iir_fifo = s->iir_fifo;
	r->lcr = s->lcr;
	r->mcr = s->mcr;
	r->lsr_extra = s->lsr_extra;
	r->msr = s->msr;
	r->scr = s->scr;
	r->dll = s->dll;
	r->dlm = s->dlm;
	r->thri_pending = s->thri_pending;
	q->len = s->rx_len;
	for (unsigned i = 0; i < s->rx_len; i++)
		q->data[i] = s->rx[(s->rx_head + i) % SERIAL_RX_FIFO];
	pthread_mutex_unlock(&s->lock);
}

static bool serial_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

int serial_state_check(const struct serial_regs *r, const struct serial_fifo *q)
{
	if ((r->ier & ~IER_MASK) || (r->iir_fifo != 0 && r->iir_fifo != IIR_FIFO_ON) ||
	    (r->mcr & ~MCR_MASK) || (r->lsr_extra & ~LSR_ERRORS) || r->thri_pending > 1 ||
	    !serial_zero(r->pad, sizeof(r->pad)))
		return -EINVAL;
	if (!q)
		return 0;
	/* the FIFO's length becomes an index: bound it */
	if (q->len > SERIAL_RX_FIFO || q->pad ||
	    !serial_zero(q->data + q->len, SERIAL_RX_FIFO - q->len))
		return -EINVAL;
	return 0;
}

void serial_restore(struct serial *s, const struct serial_regs *r, const struct serial_fifo *q)
{
	pthread_mutex_lock(&s->lock);
	s->ier = r->ier;
	s->iir_fifo = r->iir_fifo;
	s->lcr = r->lcr;
	s->mcr = r->mcr;
	s->lsr_extra = r->lsr_extra;
	s->msr = r->msr;
	s->scr = r->scr;
	s->dll = r->dll;
	s->dlm = r->dlm;
	s->thri_pending = r->thri_pending != 0;
	s->rx_head = 0;
	s->rx_len = 0;
	if (q && q->len <= SERIAL_RX_FIFO) {
		memcpy(s->rx, q->data, q->len);
		s->rx_len = q->len;
	}
	pthread_mutex_unlock(&s->lock);
}
