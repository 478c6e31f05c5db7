/* Range table for port I/O and MMIO exits. */
#include "vmm/bus.h"

#include <errno.h>
#include <string.h>

static int ranges_overlap(const struct bus_range *a, const struct bus_range *b)
{
	return a->base < b->base + b->size && b->base < a->base + a->size;
}

int bus_add(struct bus *b, const struct bus_range *r)
{
	uint64_t end;

	if (r->size == 0 || __builtin_add_overflow(r->base, r->size, &end))
		return -EINVAL;
	for (int i = 0; i < b->nranges; i++)
		if (ranges_overlap(&b->ranges[i], r))
			return -EEXIST;
	if (b->nranges == BUS_MAX_RANGES)
		return -ENOSPC;
	b->ranges[b->nranges++] = *r;
	return 0;
}

const struct bus_range *bus_find(const struct bus *b, uint64_t addr, uint32_t len)
{
	uint64_t end;

	if (__builtin_add_overflow(addr, (uint64_t)len, &end))
		return NULL;
	for (int i = 0; i < b->nranges; i++) {
		const struct bus_range *r = &b->ranges[i];
		if (addr >= r->base && end <= r->base + r->size)
			return r;
	}
	return NULL;
}

int bus_read(const struct bus *b, uint64_t addr, uint8_t *data, uint32_t len)
{
	const struct bus_range *r = bus_find(b, addr, len);

	if (!r || !r->read) {
		memset(data, 0xff, len);
		return -ENOENT;
	}
	r->read(r->dev, addr - r->base, data, len);
	return 0;
}

int bus_write(const struct bus *b, uint64_t addr, const uint8_t *data, uint32_t len)
{
	const struct bus_range *r = bus_find(b, addr, len);

	if (!r || !r->write)
		return -ENOENT;
	r->write(r->dev, addr - r->base, data, len);
	return 0;
}
