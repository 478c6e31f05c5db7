/* Firecracker's boot-timer device: when the guest writes the byte 123 at
 * guest-physical LAYOUT_BOOT_TIMER_ADDR, flint logs the time since the
 * start of the boot (wall and process CPU). MMIO from vCPU threads. */
#ifndef FLINT_DEVICES_BOOT_TIMER_H
#define FLINT_DEVICES_BOOT_TIMER_H

#include <stdint.h>

#include "vmm/log.h"

struct boot_timer {
	struct logger *log;
	uint64_t start_wall_us; /* CLOCK_MONOTONIC at the start of the boot */
	uint64_t start_cpu_us;	/* process CPU time at the start */
	_Atomic uint64_t signals;
};

void boot_timer_init(struct boot_timer *t, struct logger *log, uint64_t start_wall_us,
		     uint64_t start_cpu_us);
void boot_timer_mmio_read(void *dev, uint64_t off, uint8_t *data, uint32_t len);
void boot_timer_mmio_write(void *dev, uint64_t off, const uint8_t *data, uint32_t len);

/* Clock helpers shared by the boot timer and metrics. */
uint64_t clock_mono_us(void);
uint64_t clock_cpu_us(void);

#endif
