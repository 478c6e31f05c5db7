/* Boot timer: the guest's "I have booted" signal. */
#include "devices/boot_timer.h"

#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "boot/layout.h"

static uint64_t clock_us(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000ULL;
}

uint64_t clock_mono_us(void)
{
	return clock_us(CLOCK_MONOTONIC);
}

uint64_t clock_cpu_us(void)
{
	return clock_us(CLOCK_PROCESS_CPUTIME_ID);
}

void boot_timer_init(struct boot_timer *t, struct logger *log, uint64_t start_wall_us,
		     uint64_t start_cpu_us)
{
	memset(t, 0, sizeof(*t));
	t->log = log;
	t->start_wall_us = start_wall_us;
	t->start_cpu_us = start_cpu_us;
}

void boot_timer_mmio_read(void *dev, uint64_t off, uint8_t *data, uint32_t len)
{
	(void)dev;
	(void)off;
	memset(data, 0, len);
}

void boot_timer_mmio_write(void *dev, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct boot_timer *t = dev;
	uint64_t wall, cpu;

	if (off != 0 || len < 1 || data[0] != LAYOUT_BOOT_TIMER_MAGIC)
		return;
	wall = clock_mono_us() - t->start_wall_us;
	cpu = clock_cpu_us() - t->start_cpu_us;
	atomic_fetch_add_explicit(&t->signals, 1, memory_order_relaxed);
	/* The exact line Firecracker prints; tools parse it. */
	LOG_INFO(t->log, "Guest-boot-time = %6llu us %llu ms, %6llu CPU us %llu CPU ms",
		 (unsigned long long)wall, (unsigned long long)(wall / 1000),
		 (unsigned long long)cpu, (unsigned long long)(cpu / 1000));
}
