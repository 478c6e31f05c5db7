/* 16550A UART (COM1), enough for Linux's 8250 driver: divisor latch,
 * scratch, loopback for the driver's probe, FIFO reporting, THR-empty and
 * receive interrupts. Output goes to an fd, optionally through a token
 * bucket (PUT /serial's rate_limiter: bytes over the rate are dropped and
 * counted); input is pushed by the VMM thread into a bounded receive FIFO.
 * Registers are accessed from vCPU threads, input from the VMM thread: the
 * struct locks itself. */
#ifndef FLINT_DEVICES_SERIAL_H
#define FLINT_DEVICES_SERIAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/rate_limiter.h"

#define SERIAL_RX_FIFO 64

struct serial {
	pthread_mutex_t lock;
	uint8_t ier, iir_fifo, lcr, mcr, lsr_extra, msr, scr, dll, dlm;
	bool thri_pending; /* THR-empty interrupt not yet acknowledged */
	uint8_t rx[SERIAL_RX_FIFO];
	unsigned rx_head, rx_len;
	int out_fd; /* -1: output discarded */
	uint64_t bytes_out, bytes_in, out_errors;
	struct rate_limiter rl;	  /* output bytes; unlimited unless set */
	uint64_t (*now_ns)(void); /* the limiter's clock: rl_now_ns (tests swap it) */
	uint64_t dropped_bytes;	  /* output the limiter dropped */
	bool rx_wanted;		  /* the FIFO was full: tell the VMM when space frees */
	/* Raise the UART's interrupt line (an edge). Called with the lock held. */
	void (*raise_irq)(void *ctx);
	void *irq_ctx;
	/* Called (lock held) when the guest drains a full FIFO, so the VMM
	 * can read more input. May be NULL. */
	void (*rx_space)(void *ctx);
	void *rx_space_ctx;
};

void serial_init(struct serial *s, int out_fd);
void serial_destroy(struct serial *s);
/* Port access relative to the UART base (0..7); bus_range handlers. */
void serial_pio_read(void *dev, uint64_t off, uint8_t *data, uint32_t len);
void serial_pio_write(void *dev, uint64_t off, const uint8_t *data, uint32_t len);
/* Queue input bytes for the guest; returns how many fit (the rest must be
 * offered again after rx_space fires). */
unsigned serial_rx_push(struct serial *s, const uint8_t *buf, unsigned len);
/* Free room in the receive FIFO. */
unsigned serial_rx_room(struct serial *s);
/* Limit output to the bucket's rate (bytes); a bucket that is not set, or
 * has size or refill_time 0, does not limit. Start-up, before vCPUs run. */
void serial_set_rate_limit(struct serial *s, const struct cfg_token_bucket *b);

/* The UART's state in a snapshot, plain and fixed-width. The registers are
 * snapshot format v1.0's serial section; the receive FIFO came with v1.1.
 * A saved state is untrusted: serial_state_check() it before restoring. */
struct serial_regs {
	uint8_t ier, iir_fifo, lcr, mcr, lsr_extra, msr, scr, dll, dlm;
	uint8_t thri_pending; /* 0 or 1 */
	uint8_t pad[6];	      /* zero */
};

struct serial_fifo {
	uint32_t len;		      /* bytes in data, at most SERIAL_RX_FIFO */
	uint32_t pad;		      /* zero */
	uint8_t data[SERIAL_RX_FIFO]; /* oldest first; zero past len */
};

/* vCPUs paused: copy the registers and the receive FIFO out. */
void serial_save(struct serial *s, struct serial_regs *r, struct serial_fifo *q);
/* Pure: 0 if r (and q, unless NULL) hold values the UART can have, else
 * -EINVAL. */
int serial_state_check(const struct serial_regs *r, const struct serial_fifo *q);
/* Before vCPUs run, after serial_state_check: load r, and q's bytes into
 * the receive FIFO (q NULL: an empty FIFO). Raises no interrupt: a
 * pending one is in the saved interrupt controller state. */
void serial_restore(struct serial *s, const struct serial_regs *r, const struct serial_fifo *q);

#endif
