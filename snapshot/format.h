/* The snapshot state file container: a header, a list of typed sections and
 * a CRC64 trailer. What the sections hold is snapshot/state.h's business.
 *
 *   offset 0   magic    8 bytes "FLNTSNAP"
 *          8   major    u16 (SNAP_VERSION_MAJOR: a reader refuses any other)
 *         10   minor    u16 (a reader refuses one newer than its own; a minor
 *                            version only adds section types, so a reader
 *                            still reads every older minor of its major)
 *         12   nsect    u32 number of sections
 *         16   sections, each: u32 type, u32 index, u32 len, u32 zero,
 *                              then len bytes, then zero padding to 8 bytes
 *   size - 8   crc      u64 CRC-64/XZ of every byte before it
 *
 * All integers little-endian (flint is x86-64 only). A state file is
 * untrusted input: snap_parse() checks the whole container (size limits,
 * magic, version, CRC, every section inside the file, no trailing bytes)
 * before anyone looks at a section. Pure functions; any thread. */
#ifndef FLINT_SNAPSHOT_FORMAT_H
#define FLINT_SNAPSHOT_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/config.h"

#define SNAP_MAGIC	   "FLNTSNAP"
#define SNAP_VERSION_MAJOR 1
/* v1.1 added SNAP_SEC_SERIAL_FIFO and SNAP_SEC_I8042. */
#define SNAP_VERSION_MINOR 1
#define SNAP_HEADER_SIZE   16
#define SNAP_SECTION_HDR   16
#define SNAP_CRC_SIZE	   8
/* Far above what 32 vCPUs and 16 devices need (about 1 MiB); a larger file
 * is refused before it is read. */
#define SNAP_FILE_MAX	  (16u << 20)
#define SNAP_MAX_SECTIONS 128

/* Section types. */
enum snap_section_type {
	SNAP_SEC_CONFIG = 1,  /* the machine configuration, JSON (GET /vm/config's shape) */
	SNAP_SEC_MEMORY,      /* struct snap_mem: guest RAM layout in the memory file */
	SNAP_SEC_VM,	      /* struct snap_vm: irqchips, PIT, KVM clock */
	SNAP_SEC_VCPU,	      /* struct snap_vcpu, index = vCPU number */
	SNAP_SEC_SERIAL,      /* struct serial_regs (devices/serial.h) */
	SNAP_SEC_DEVICE,      /* struct snap_device_hdr + the device's blob, index = table slot */
	SNAP_SEC_SERIAL_FIFO, /* v1.1: struct serial_fifo, the UART's receive FIFO */
	SNAP_SEC_I8042,	      /* v1.1: struct i8042_state */
	SNAP_SEC_MAX,
};

struct snap_section {
	uint32_t type;
	uint32_t index;
	uint32_t len;
	const uint8_t *data; /* points into the parsed buffer; not aligned */
};

/* A parsed container. Sections point into the caller's buffer, which must
 * outlive the reader. */
struct snap_reader {
	uint16_t major, minor;
	uint32_t nsections;
	struct snap_section sections[SNAP_MAX_SECTIONS];
};

/* Check and index a whole state file held in buf. 0, or -EINVAL (also for
 * a wrong magic, version or CRC) with f saying which check failed. */
int snap_parse(struct snap_reader *r, const void *buf, size_t len, struct fault *f);
/* Just the header: the version of a file that may be otherwise unreadable
 * (--describe-snapshot). 0 or -EINVAL with f set. */
int snap_peek_version(const void *buf, size_t len, uint16_t *major, uint16_t *minor,
		      struct fault *f);
/* The section of this type and index, or NULL. */
const struct snap_section *snap_find(const struct snap_reader *r, uint32_t type, uint32_t index);
/* How many sections of this type there are. */
uint32_t snap_count(const struct snap_reader *r, uint32_t type);

/* A growing state file in memory. Errors are sticky: check snap_finish. */
struct snap_writer {
	uint8_t *buf;
	size_t len, cap;
	uint32_t nsections;
	int err;
};

void snap_writer_init(struct snap_writer *w);
/* Append a section (copies data). */
void snap_add(struct snap_writer *w, uint32_t type, uint32_t index, const void *data, uint32_t len);
/* Fill in the section count and append the CRC. 0 or the first error. */
int snap_finish(struct snap_writer *w);
void snap_writer_free(struct snap_writer *w);

/* Read a whole state file (at most SNAP_FILE_MAX bytes) into a malloc'd
 * buffer. 0 or -errno with f naming the path and the problem. */
int snap_read_file(const char *path, uint8_t **buf, size_t *len, struct fault *f);
/* Write len bytes to path (created 0600 or truncated). 0 or -errno, f set. */
int snap_write_file(const char *path, const void *buf, size_t len, struct fault *f);

#endif
