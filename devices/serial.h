/* 16550A UART (COM1), enough for Linux's 8250 driver: divisor latch,
 * scratch, loopback for the driver's probe, FIFO reporting, THR-empty and
 * receive interrupts. Output goes to an fd; input is pushed by the VMM
 * thread into a bounded receive FIFO. Registers are accessed from vCPU
 * threads, input from the VMM thread: the struct locks itself. */
#ifndef FLINT_DEVICES_SERIAL_H
#define FLINT_DEVICES_SERIAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define SERIAL_RX_FIFO 64

struct serial {
	pthread_mutex_t lock;
	uint8_t ier, iir_fifo, lcr, mcr, lsr_extra, msr, scr, dll, dlm;
	bool thri_pending; /* THR-empty interrupt not yet acknowledged */
	uint8_t rx[SERIAL_RX_FIFO];
	unsigned rx_head, rx_len;
	int out_fd; /* -1: output discarded */
	uint64_t bytes_out, bytes_in, out_errors;
	bool rx_wanted; /* the FIFO was full: tell the VMM when space frees */
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

#endif
