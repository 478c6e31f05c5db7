/* The snapshot state file: CRC64, the container writer and reader, and the
 * section decoder, with hostile files (wrong magic, version, CRC, sizes,
 * counts, layouts; every truncation). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "snapshot/crc64.h"
#include "snapshot/format.h"
#include "snapshot/state.h"

static const char test_config[] = "{\"machine-config\":{\"vcpu_count\":2,\"mem_size_mib\":128}}";

static void crc64_check_value(void **state)
{
	(void)state;
	assert_true(crc64("123456789", 9) == 0x995dc9bbdf1939faULL);
	assert_true(crc64("", 0) == 0);
	assert_true(crc64_update(crc64("1234", 4), "56789", 5) == crc64("123456789", 9));
}

/* The reference: one bit at a time, straight from the definition. */
static uint64_t crc64_bitwise(const uint8_t *p, size_t len)
{
	uint64_t c = ~0ULL;

	for (size_t i = 0; i < len; i++) {
		c ^= p[i];
		for (int b = 0; b < 8; b++)
			c = (c & 1) ? (c >> 1) ^ 0xc96c5795d7870f42ULL : c >> 1;
	}
	return ~c;
}

/* Every slice table entry, and the sliced CRC against the bitwise one for
 * every length 0..300 at every alignment, and in pieces. */
static void crc64_slices_match_the_definition(void **state)
{
	uint8_t buf[320];
	uint64_t t0[256];

	(void)state;
	for (unsigned i = 0; i < 256; i++) {
		uint64_t c = i;

		for (int b = 0; b < 8; b++)
			c = (c & 1) ? (c >> 1) ^ 0xc96c5795d7870f42ULL : c >> 1;
		t0[i] = c;
		assert_true(crc64_table_entry(0, i) == c);
	}
	for (unsigned k = 1; k < 8; k++)
		for (unsigned i = 0; i < 256; i++) {
			uint64_t prev = crc64_table_entry(k - 1, i);

			assert_true(crc64_table_entry(k, i) == ((prev >> 8) ^ t0[prev & 0xff]));
		}
	assert_true(crc64_table_entry(8, 0) == 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 151 + 7);
	for (size_t off = 0; off < 8; off++)
		for (size_t len = 0; len <= 300; len++) {
			uint64_t want = crc64_bitwise(buf + off, len);

			assert_true(crc64(buf + off, len) == want);
			assert_true(crc64_update(crc64(buf + off, len / 3), buf + off + len / 3,
						 len - len / 3) == want);
		}
}

/* Which legacy device sections make_legacy_file writes. */
enum { WITH_REGS = 1, WITH_FIFO = 2, WITH_I8042 = 4, WITH_ALL = 7 };

/* A file with nvcpus vCPUs, one device and the legacy sections in `with`,
 * sections in this order: config, mem, vm, vCPUs, serial registers, the
 * device, serial FIFO, i8042. The caller frees it. */
static uint8_t *make_legacy_file(uint32_t nvcpus, unsigned with, size_t *len)
{
	struct snap_writer w;
	struct snap_mem mem;
	struct snap_vm vm;
	struct snap_vcpu *c = calloc(1, sizeof(*c));
	struct serial_regs ser;
	struct serial_fifo fifo;
	struct i8042_state kbd;
	uint8_t dev[sizeof(struct snap_device_hdr) + 24];
	struct snap_device_hdr *h = (struct snap_device_hdr *)dev;

	assert_non_null(c);
	snap_writer_init(&w);
	snap_add(&w, SNAP_SEC_CONFIG, 0, test_config, sizeof(test_config) - 1);
	snap_mem_layout(&mem, 128u << 20, SNAP_PAGE_4K);
	snap_add(&w, SNAP_SEC_MEMORY, 0, &mem, sizeof(mem));
	memset(&vm, 0, sizeof(vm));
	vm.pic_master.chip_id = KVM_IRQCHIP_PIC_MASTER;
	vm.pic_slave.chip_id = KVM_IRQCHIP_PIC_SLAVE;
	vm.ioapic.chip_id = KVM_IRQCHIP_IOAPIC;
	vm.nvcpus = nvcpus;
	snap_add(&w, SNAP_SEC_VM, 0, &vm, sizeof(vm));
	for (uint32_t i = 0; i < nvcpus; i++) {
		c->regs.rip = 0x1000 + i;
		c->ncpuid = 1;
		c->nmsrs = 1;
		c->msrs[0].index = 0x10;
		snap_add(&w, SNAP_SEC_VCPU, i, c, sizeof(*c));
	}
	memset(&ser, 0, sizeof(ser));
	ser.lcr = 3;
	ser.ier = 2;
	ser.thri_pending = 1;
	if (with & WITH_REGS)
		snap_add(&w, SNAP_SEC_SERIAL, 0, &ser, sizeof(ser));
	memset(dev, 0xab, sizeof(dev));
	memset(h, 0, sizeof(*h));
	strcpy(h->kind, "block");
	strcpy(h->id, "rootfs");
	snap_add(&w, SNAP_SEC_DEVICE, 0, dev, sizeof(dev));
	memset(&fifo, 0, sizeof(fifo));
	fifo.len = 3;
	memcpy(fifo.data, "abc", 3);
	if (with & WITH_FIFO)
		snap_add(&w, SNAP_SEC_SERIAL_FIFO, 0, &fifo, sizeof(fifo));
	memset(&kbd, 0, sizeof(kbd));
	kbd.ctr = 0x47;
	kbd.pending_cmd = 0x60;
	kbd.len = 1;
	kbd.buf[0] = 0xfa;
	if (with & WITH_I8042)
		snap_add(&w, SNAP_SEC_I8042, 0, &kbd, sizeof(kbd));
	assert_int_equal(snap_finish(&w), 0);
	free(c);
	*len = w.len;
	return w.buf;
}

/* A valid file of the current version. */
static uint8_t *make_file(uint32_t nvcpus, size_t *len)
{
	return make_legacy_file(nvcpus, WITH_ALL, len);
}

/* Recompute the trailing CRC after tampering, so the next check is reached. */
static void fix_crc(uint8_t *buf, size_t len)
{
	uint64_t c = crc64(buf, len - SNAP_CRC_SIZE);

	for (int i = 0; i < 8; i++)
		buf[len - 8 + i] = (uint8_t)(c >> (8 * i));
}

static int parse_decode(const uint8_t *buf, size_t len, struct fault *f)
{
	struct snap_reader *r = malloc(sizeof(*r));
	struct snap_state st;
	int err;

	assert_non_null(r);
	err = snap_parse(r, buf, len, f);
	if (!err) {
		err = snap_decode(&st, r, f);
		snap_state_free(&st);
	}
	free(r);
	return err;
}

static void round_trip(void **state)
{
	struct snap_reader r;
	struct snap_state st;
	struct fault f = {""};
	size_t len;
	uint8_t *buf = make_file(2, &len);

	(void)state;
	assert_int_equal(snap_parse(&r, buf, len, &f), 0);
	assert_int_equal(r.major, SNAP_VERSION_MAJOR);
	assert_int_equal(snap_count(&r, SNAP_SEC_VCPU), 2);
	assert_int_equal(snap_decode(&st, &r, &f), 0);
	assert_string_equal(st.config, test_config);
	assert_int_equal(st.nvcpus, 2);
	assert_int_equal(st.vcpus[1].regs.rip, 0x1001);
	assert_int_equal(st.mem.ram_size, 128u << 20);
	assert_int_equal(st.ndevices, 1);
	assert_string_equal(st.devices[0].hdr.kind, "block");
	assert_string_equal(st.devices[0].hdr.id, "rootfs");
	assert_int_equal(st.devices[0].len, 24);
	assert_int_equal(st.devices[0].data[0], 0xab);
	assert_true(st.has_serial);
	assert_int_equal(st.serial.lcr, 3);
	assert_int_equal(st.serial.thri_pending, 1);
	assert_true(st.has_serial_fifo);
	assert_int_equal(st.serial_fifo.len, 3);
	assert_memory_equal(st.serial_fifo.data, "abc", 3);
	assert_true(st.has_i8042);
	assert_int_equal(st.i8042.ctr, 0x47);
	assert_int_equal(st.i8042.pending_cmd, 0x60);
	assert_int_equal(st.i8042.buf[0], 0xfa);
	snap_state_free(&st);
	free(buf);
}

static void refuses_magic_version_crc(void **state)
{
	struct fault f = {""};
	size_t len;
	uint8_t *buf = make_file(1, &len);
	uint16_t major, minor;

	(void)state;
	assert_int_equal(snap_peek_version(buf, len, &major, &minor, &f), 0);
	assert_int_equal(major, SNAP_VERSION_MAJOR);
	buf[0] ^= 1;
	assert_int_equal(parse_decode(buf, len, &f), -EINVAL);
	assert_non_null(strstr(f.msg, "wrong magic"));
	buf[0] ^= 1;
	buf[8] = SNAP_VERSION_MAJOR + 1;
	fix_crc(buf, len);
	assert_int_equal(parse_decode(buf, len, &f), -EINVAL);
	assert_non_null(strstr(f.msg, "unsupported snapshot format version v2.1.0"));
	buf[8] = SNAP_VERSION_MAJOR;
	buf[10] = SNAP_VERSION_MINOR + 1;
	fix_crc(buf, len);
	assert_int_equal(parse_decode(buf, len, &f), -EINVAL);
	assert_non_null(strstr(f.msg, "unsupported"));
	buf[10] = SNAP_VERSION_MINOR;
	fix_crc(buf, len);
	assert_int_equal(parse_decode(buf, len, &f), 0);
	/* any flipped bit anywhere is a CRC mismatch */
	for (size_t i = 16; i < len; i += 97) {
		buf[i] ^= 0x10;
		assert_int_equal(parse_decode(buf, len, &f), -EINVAL);
		assert_non_null(strstr(f.msg, "CRC64"));
		buf[i] ^= 0x10;
	}
	free(buf);
}

static void refuses_every_truncation(void **state)
{
	struct fault f = {""};
	size_t len;
	uint8_t *buf = make_file(1, &len);

	(void)state;
	for (size_t n = 0; n < len; n++) {
		uint8_t *copy = malloc(n ? n : 1);

		memcpy(copy, buf, n);
		assert_int_equal(parse_decode(copy, n, &f), -EINVAL);
		/* with a CRC that matches what is left, the structure is checked */
		if (n >= SNAP_HEADER_SIZE + SNAP_CRC_SIZE) {
			fix_crc(copy, n);
			assert_int_equal(parse_decode(copy, n, &f), -EINVAL);
		}
		free(copy);
	}
	free(buf);
}

static void refuses_oversized(void **state)
{
	struct fault f = {""};
	size_t len = SNAP_FILE_MAX + 1;
	uint8_t *buf = calloc(1, len);

	(void)state;
	memcpy(buf, SNAP_MAGIC, 8);
	assert_int_equal(parse_decode(buf, len, &f), -EINVAL);
	assert_non_null(strstr(f.msg, "larger than"));
	free(buf);
}

/* Offset of section number idx's header. */
static size_t section_off(const uint8_t *buf, unsigned idx)
{
	size_t off = SNAP_HEADER_SIZE;

	for (unsigned i = 0; i < idx; i++) {
		uint32_t l;

		memcpy(&l, buf + off + 8, 4);
		off += SNAP_SECTION_HDR + ((l + 7) & ~7u);
	}
	return off;
}

static void refuses_bad_sections(void **state)
{
	struct fault f = {""};
	size_t len;
	uint8_t *buf = make_file(1, &len);
	uint32_t v;
	size_t off;

	(void)state;
	/* a section length running past the end */
	off = section_off(buf, 1);
	memcpy(&v, buf + off + 8, 4);
	{
		uint32_t big = 0xfffffff0u;
		memcpy(buf + off + 8, &big, 4);
	}
	fix_crc(buf, len);
	assert_int_equal(parse_decode(buf, len, &f), -EINVAL);
	assert_non_null(strstr(f.msg, "truncated"));
	memcpy(buf + off + 8, &v, 4);
	/* an unknown section type */
	v = 99;
	memcpy(buf + off, &v, 4);
	fix_crc(buf, len);
	assert_int_equal(parse_decode(buf, len, &f), -EINVAL);
	assert_non_null(strstr(f.msg, "malformed"));
	v = SNAP_SEC_MEMORY;
	memcpy(buf + off, &v, 4);
	/* a wrong section count in the header */
	v = 3;
	memcpy(buf + 12, &v, 4);
	fix_crc(buf, len);
	assert_int_equal(parse_decode(buf, len, &f), -EINVAL);
	assert_non_null(strstr(f.msg, "trailing"));
	free(buf);
}

/* Change a field of the decoded struct inside section idx, re-CRC, expect
 * refusal with msg. */
static void expect_refused(uint8_t *buf, size_t len, unsigned idx, size_t field_off,
			   const void *val, size_t n, const char *msg)
{
	struct fault f = {""};
	size_t off = section_off(buf, idx) + SNAP_SECTION_HDR + field_off;
	uint8_t saved[64];

	assert_true(n <= sizeof(saved));
	memcpy(saved, buf + off, n);
	memcpy(buf + off, val, n);
	fix_crc(buf, len);
	assert_int_equal(parse_decode(buf, len, &f), -EINVAL);
	if (!strstr(f.msg, msg))
		fail_msg("'%s' does not contain '%s'", f.msg, msg);
	memcpy(buf + off, saved, n);
	fix_crc(buf, len);
}

static void refuses_bad_state(void **state)
{
	size_t len;
	uint8_t *buf = make_file(2, &len);
	uint64_t big = 1ULL << 50, odd = 4097;
	uint32_t n = 3, zero = 0, many = SNAP_MAX_MSRS + 1, page = 8192;
	uint8_t bad = 7, nul = 0, x = 'x';

	(void)state;
	/* section 0 config, 1 mem, 2 vm, 3-4 vcpus, 5 serial, 6 device, 7 FIFO,
	 * 8 i8042 */
	expect_refused(buf, len, 0, 3, &nul, 1, "configuration");
	expect_refused(buf, len, 1, offsetof(struct snap_mem, ram_size), &big, 8, "memory size");
	expect_refused(buf, len, 1, offsetof(struct snap_mem, ram_size), &odd, 8, "memory size");
	expect_refused(buf, len, 1, offsetof(struct snap_mem, page_size), &page, 4, "page size");
	expect_refused(buf, len, 1, offsetof(struct snap_mem, regions[0].offset), &odd, 8,
		       "layout");
	expect_refused(buf, len, 2, offsetof(struct snap_vm, nvcpus), &n, 4, "vCPU sections");
	expect_refused(buf, len, 2, offsetof(struct snap_vm, nvcpus), &zero, 4, "1 to");
	expect_refused(buf, len, 2, offsetof(struct snap_vm, ioapic.chip_id), &bad, 1,
		       "interrupt controller");
	expect_refused(buf, len, 4, offsetof(struct snap_vcpu, nmsrs), &many, 4, "too many");
	expect_refused(buf, len, 4, offsetof(struct snap_vcpu, ncpuid), &zero, 4, "no CPUID");
	expect_refused(buf, len, 6, 0, &nul, 1, "malformed name");
	{
		char full[SNAP_KIND_LEN];
		memset(full, x, sizeof(full));
		expect_refused(buf, len, 6, 0, full, sizeof(full), "malformed name");
	}
	/* legacy device states the devices could never be in */
	{
		uint32_t fifo_len = SERIAL_RX_FIFO + 1, pad = 1;
		uint8_t ier = 0x10, fcr = 0x40, two = 2, kbd_len = I8042_BUF_SIZE + 1, cmd = 0x20,
			junk = 0x55;

		expect_refused(buf, len, 5, offsetof(struct serial_regs, ier), &ier, 1,
			       "serial port state is invalid");
		expect_refused(buf, len, 5, offsetof(struct serial_regs, iir_fifo), &fcr, 1,
			       "serial port state is invalid");
		expect_refused(buf, len, 5, offsetof(struct serial_regs, thri_pending), &two, 1,
			       "serial port state is invalid");
		expect_refused(buf, len, 7, offsetof(struct serial_fifo, len), &fifo_len, 4,
			       "serial port state is invalid");
		expect_refused(buf, len, 7, offsetof(struct serial_fifo, pad), &pad, 4,
			       "serial port state is invalid");
		/* a byte past the FIFO's length */
		expect_refused(buf, len, 7, offsetof(struct serial_fifo, data) + 3, &junk, 1,
			       "serial port state is invalid");
		expect_refused(buf, len, 8, offsetof(struct i8042_state, len), &kbd_len, 1,
			       "i8042 state is invalid");
		expect_refused(buf, len, 8, offsetof(struct i8042_state, pending_cmd), &cmd, 1,
			       "i8042 state is invalid");
		expect_refused(buf, len, 8, offsetof(struct i8042_state, last_write_cmd), &two, 1,
			       "i8042 state is invalid");
		expect_refused(buf, len, 8, offsetof(struct i8042_state, buf) + 1, &junk, 1,
			       "i8042 state is invalid");
	}
	/* a vCPU index out of range (two vCPUs, indices 0 and 5) */
	n = 5;
	{
		struct fault f = {""};
		size_t off = section_off(buf, 4) + 4;
		memcpy(buf + off, &n, 4);
		fix_crc(buf, len);
		assert_int_equal(parse_decode(buf, len, &f), -EINVAL);
		assert_non_null(strstr(f.msg, "vCPU 1 of the snapshot is missing"));
	}
	free(buf);
}

/* Set the header's minor version and fix the CRC. */
static void set_minor(uint8_t *buf, size_t len, uint16_t minor)
{
	buf[10] = (uint8_t)minor;
	buf[11] = (uint8_t)(minor >> 8);
	fix_crc(buf, len);
}

/* v1.0 files (UART registers at most) still load; a v1.1 file must have
 * every legacy section, a v1.0 file none of the v1.1 ones. */
static void legacy_sections_follow_the_version(void **state)
{
	static const struct {
		unsigned with;
		uint16_t minor;
		int err;
	} cases[] = {
	    {WITH_REGS, 0, 0},
	    {0, 0, 0},
	    {WITH_ALL, 0, -EINVAL},
	    {WITH_REGS | WITH_FIFO, 0, -EINVAL},
	    {WITH_ALL, 1, 0},
	    {WITH_REGS | WITH_FIFO, 1, -EINVAL},
	    {WITH_REGS | WITH_I8042, 1, -EINVAL},
	    {WITH_FIFO | WITH_I8042, 1, -EINVAL},
	    {0, 1, -EINVAL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fault f = {""};
		size_t len;
		uint8_t *buf = make_legacy_file(1, cases[i].with, &len);

		set_minor(buf, len, cases[i].minor);
		if (parse_decode(buf, len, &f) != cases[i].err)
			fail_msg("case %zu: %s", i, f.msg);
		if (cases[i].err && !strstr(f.msg, "do not match its format version"))
			fail_msg("case %zu: %s", i, f.msg);
		free(buf);
	}
}

/* A v1.0 file's UART registers restore with an empty receive FIFO. */
static void v1_0_serial_has_no_fifo(void **state)
{
	struct snap_reader r;
	struct snap_state st;
	struct fault f = {""};
	size_t len;
	uint8_t *buf = make_legacy_file(1, WITH_REGS, &len);

	(void)state;
	set_minor(buf, len, 0);
	assert_int_equal(snap_parse(&r, buf, len, &f), 0);
	assert_int_equal(snap_decode(&st, &r, &f), 0);
	assert_true(st.has_serial);
	assert_false(st.has_serial_fifo);
	assert_false(st.has_i8042);
	assert_int_equal(st.minor, 0);
	snap_state_free(&st);
	free(buf);
}

static void writer_limits(void **state)
{
	struct snap_writer w;

	(void)state;
	snap_writer_init(&w);
	for (int i = 0; i < SNAP_MAX_SECTIONS + 1; i++)
		snap_add(&w, SNAP_SEC_DEVICE, (uint32_t)i, "x", 1);
	assert_int_equal(snap_finish(&w), -E2BIG);
	snap_writer_free(&w);
}

static void file_io(void **state)
{
	char path[] = "/tmp/flint-snap-test-XXXXXX";
	int fd = mkstemp(path);
	struct fault f = {""};
	uint8_t *back;
	size_t len, blen;
	uint8_t *buf = make_file(1, &len);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(snap_write_file(path, buf, len, &f), 0);
	assert_int_equal(snap_read_file(path, &back, &blen, &f), 0);
	assert_int_equal(blen, len);
	assert_memory_equal(back, buf, len);
	free(back);
	unlink(path);
	assert_int_equal(snap_read_file(path, &back, &blen, &f), -ENOENT);
	assert_non_null(strstr(f.msg, "cannot open"));
	assert_int_equal(snap_read_file("/tmp", &back, &blen, &f), -EINVAL);
	assert_non_null(strstr(f.msg, "not a regular file"));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(crc64_check_value),
	    cmocka_unit_test(crc64_slices_match_the_definition),
	    cmocka_unit_test(round_trip),
	    cmocka_unit_test(refuses_magic_version_crc),
	    cmocka_unit_test(refuses_every_truncation),
	    cmocka_unit_test(refuses_oversized),
	    cmocka_unit_test(refuses_bad_sections),
	    cmocka_unit_test(refuses_bad_state),
	    cmocka_unit_test(legacy_sections_follow_the_version),
	    cmocka_unit_test(v1_0_serial_has_no_fifo),
	    cmocka_unit_test(writer_limits),
	    cmocka_unit_test(file_io),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
