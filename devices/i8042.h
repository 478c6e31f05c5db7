/* i8042 keyboard controller: just enough for Linux to probe a keyboard,
 * for reboot=k (command 0xFE ends the VM) and for Ctrl-Alt-Del injection.
 * Port access from vCPU threads, Ctrl-Alt-Del from the VMM thread: locked. */
#ifndef FLINT_DEVICES_I8042_H
#define FLINT_DEVICES_I8042_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define I8042_BUF_SIZE 16

struct i8042 {
	pthread_mutex_t lock;
	uint8_t ctr;		/* controller configuration ("command") byte */
	uint8_t pending_cmd;	/* controller command awaiting its data byte */
	uint8_t last_write_cmd; /* status bit 3: last write went to 0x64 */
	uint8_t buf[I8042_BUF_SIZE];
	unsigned head, len;
	uint16_t aux_mask; /* bit i: the i-th byte to read is AUX data */
	uint64_t reset_count, missed_reads;
	/* Guest asked for a CPU reset (0xFE). Called with the lock held. */
	void (*reset)(void *ctx);
	void *reset_ctx;
	/* Raise IRQ 1 (an edge). Called with the lock held. */
	void (*raise_irq)(void *ctx);
	void *irq_ctx;
};

void i8042_init(struct i8042 *k);
void i8042_destroy(struct i8042 *k);
/* bus_range handlers; off 0 is port 0x60 and off 4 is port 0x64 (register
 * one range of 5 ports at 0x60; 0x61-0x63 read as zero). */
void i8042_pio_read(void *dev, uint64_t off, uint8_t *data, uint32_t len);
void i8042_pio_write(void *dev, uint64_t off, const uint8_t *data, uint32_t len);
/* Queue the key presses and releases of Ctrl-Alt-Del. -ENOSPC if full. */
int i8042_ctrl_alt_del(struct i8042 *k);

/* The controller's state in a snapshot (format v1.1), plain and
 * fixed-width; untrusted until i8042_state_check() accepts it. The status
 * register follows from it (output buffer full = len > 0). */
struct i8042_state {
	uint8_t ctr;		     /* command byte */
	uint8_t pending_cmd;	     /* 0 or a command that takes a data byte */
	uint8_t last_write_cmd;	     /* 0 or status bit 3 */
	uint8_t len;		     /* bytes in buf, at most I8042_BUF_SIZE */
	uint16_t aux_mask;	     /* bit i: buf[i] reads as AUX data */
	uint8_t pad[2];		     /* zero */
	uint8_t buf[I8042_BUF_SIZE]; /* output buffer, oldest first; zero past len */
};

/* vCPUs paused: copy the state out. */
void i8042_save(struct i8042 *k, struct i8042_state *st);
/* Pure: 0 if st is a state the controller can be in, else -EINVAL. */
int i8042_state_check(const struct i8042_state *st);
/* Before vCPUs run, after i8042_state_check: load st. */
void i8042_restore(struct i8042 *k, const struct i8042_state *st);

#endif
