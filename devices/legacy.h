/* The legacy PC ports Linux pokes at during boot that flint does not
 * emulate: POST code 0x80, CMOS/RTC 0x70-0x71, PCI config 0xcf8-0xcff, the
 * other COM ports. They are claimed here so the accesses are quiet and
 * cheap: reads return all ones (PCI: no device; COM: no UART), except the
 * POST and CMOS ports which read as zero. */
#ifndef FLINT_DEVICES_LEGACY_H
#define FLINT_DEVICES_LEGACY_H

#include "vmm/bus.h"

/* Register the sink ranges on the port-I/O bus. 0 or -errno. */
int legacy_register(struct bus *pio);

#endif
