/* libFuzzer target: bytes -> snapshot state file reader (container parser
 * and section decoder), as PUT /snapshot/load and --describe-snapshot see a
 * file. An input whose first byte is odd gets its trailing CRC64 fixed
 * first, so the fuzzer also reaches the checks behind the CRC. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot/crc64.h"
#include "snapshot/format.h"
#include "snapshot/state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(const uint8_t *buf, size_t len)
{
	struct snap_reader *r = malloc(sizeof(*r));
	struct snap_state st;
	struct fault f;
	uint16_t major, minor;

	if (!r)
		abort();
	(void)snap_peek_version(buf, len, &major, &minor, &f);
	if (snap_parse(r, buf, len, &f) == 0) {
		if (r->nsections > SNAP_MAX_SECTIONS)
			abort();
		for (uint32_t i = 0; i < r->nsections; i++)
			if (r->sections[i].data < buf ||
			    r->sections[i].data + r->sections[i].len > buf + len)
				abort();
		if (snap_decode(&st, r, &f) == 0) {
			if (st.nvcpus != st.vm.nvcpus || st.nvcpus > LAYOUT_MAX_VCPUS ||
			    strlen(st.config) != st.config_len)
				abort();
			for (uint32_t i = 0; i < st.ndevices; i++)
				if (st.devices[i].len > SNAP_DEVICE_MAX)
					abort();
			/* what restore would index with */
			if ((st.has_serial_fifo && st.serial_fifo.len > SERIAL_RX_FIFO) ||
			    (st.has_i8042 && st.i8042.len > I8042_BUF_SIZE) ||
			    (st.has_serial_fifo && !st.has_serial))
				abort();
		}
		snap_state_free(&st);
	}
	free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;

	if (size == 0 || size > SNAP_FILE_MAX)
		return 0;
	copy = malloc(size);
	if (!copy)
		abort();
	memcpy(copy, data + 1, size - 1);
	if ((data[0] & 1) && size - 1 >= SNAP_CRC_SIZE) {
		uint64_t c = crc64(copy, size - 1 - SNAP_CRC_SIZE);

		for (int i = 0; i < 8; i++)
			copy[size - 1 - SNAP_CRC_SIZE + i] = (uint8_t)(c >> (8 * i));
	}
	fuzz_check(copy, size - 1);
	free(copy);
	return 0;
}
