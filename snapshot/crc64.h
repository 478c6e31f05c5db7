/* CRC-64/XZ (ECMA-182 polynomial), which closes every snapshot state file.
 * Pure; any thread. */
#ifndef FLINT_SNAPSHOT_CRC64_H
#define FLINT_SNAPSHOT_CRC64_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC over buf: crc64_update(crc64(a), b) == crc64(a ++ b).
 * Start with crc 0. */
uint64_t crc64_update(uint64_t crc, const void *buf, size_t len);
/* The CRC of one buffer. */
uint64_t crc64(const void *buf, size_t len);
/* Entry i of slice table k (for the unit test that recomputes them); 0
 * out of range. */
uint64_t crc64_table_entry(unsigned k, unsigned i);

#endif
