/* Quiet sinks for legacy ports. */
#include "devices/legacy.h"

#include <string.h>

static void sink_read_ones(void *dev, uint64_t off, uint8_t *data, uint32_t len)
{
	(void)dev;
	(void)off;
	memset(data, 0xff, len);
}

static void sink_read_zero(void *dev, uint64_t off, uint8_t *data, uint32_t len)
{
	(void)dev;
	(void)off;
	memset(data, 0, len);
}

static void sink_write(void *dev, uint64_t off, const uint8_t *data, uint32_t len)
{
	(void)dev;
	(void)off;
	(void)data;
	(void)len;
}

int legacy_register(struct bus *pio)
{
	static const struct bus_range ranges[] = {
	    {.base = 0x80, .size = 1, .read = sink_read_zero, .write = sink_write},
	    {.base = 0x70, .size = 2, .read = sink_read_zero, .write = sink_write},
	    {.base = 0xcf8, .size = 8, .read = sink_read_ones, .write = sink_write},
	    {.base = 0x2f8, .size = 8, .read = sink_read_ones, .write = sink_write},
	    {.base = 0x3e8, .size = 8, .read = sink_read_ones, .write = sink_write},
	    {.base = 0x2e8, .size = 8, .read = sink_read_ones, .write = sink_write},
	};

	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		int err = bus_add(pio, &ranges[i]);
		if (err)
			return err;
	}
	return 0;
}
