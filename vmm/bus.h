/* Port-I/O and MMIO dispatch for vCPU exits. Devices register fixed ranges
 * at start-up (before any vCPU runs); afterwards the table is read-only and
 * vCPU threads look ranges up without locking. Handlers run on the vCPU
 * thread that exited, so a device shared with other threads locks itself. */
#ifndef FLINT_VMM_BUS_H
#define FLINT_VMM_BUS_H

#include <stdint.h>

#define BUS_MAX_RANGES 32

struct bus_range {
	uint64_t base;
	uint64_t size;
	void *dev;
	/* off is relative to base; len is 1, 2, 4 or 8. read fills data. */
	void (*read)(void *dev, uint64_t off, uint8_t *data, uint32_t len);
	void (*write)(void *dev, uint64_t off, const uint8_t *data, uint32_t len);
};

struct bus {
	struct bus_range ranges[BUS_MAX_RANGES];
	int nranges;
};

/* Add a range; -EEXIST if it overlaps one already there, -ENOSPC if full. */
int bus_add(struct bus *b, const struct bus_range *r);
/* The range holding [addr, addr+len) or NULL. */
const struct bus_range *bus_find(const struct bus *b, uint64_t addr, uint32_t len);
/* Dispatch; an access to no device reads as all ones and writes are dropped.
 * Returns 0 if a device handled it, -ENOENT otherwise. */
int bus_read(const struct bus *b, uint64_t addr, uint8_t *data, uint32_t len);
int bus_write(const struct bus *b, uint64_t addr, const uint8_t *data, uint32_t len);

#endif
