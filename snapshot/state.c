/* Decoding and checking the sections of a state file. */
#include "snapshot/state.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void snap_mem_layout(struct snap_mem *m, uint64_t ram_size, uint32_t page_size)
{
	struct guest_mem g;
	uint64_t off = 0;

	gm_layout(&g, ram_size);
	memset(m, 0, sizeof(*m));
	m->ram_size = ram_size;
	m->page_size = page_size;
	m->nregions = (uint32_t)g.nregions;
	for (int i = 0; i < g.nregions; i++) {
		m->regions[i].gpa = g.regions[i].gpa;
		m->regions[i].size = g.regions[i].size;
		m->regions[i].offset = off;
		off += g.regions[i].size;
	}
}

/* The one section of this type (index 0), exactly size bytes long. */
static const struct snap_section *snap_one(const struct snap_reader *r, uint32_t type,
					   uint32_t size, const char *what, struct fault *f)
{
	const struct snap_section *s = snap_find(r, type, 0);

	if (!s || snap_count(r, type) != 1) {
		fault_set(f, "the snapshot state file needs exactly one %s section", what);
		return NULL;
	}
	if (size && s->len != size) {
		fault_set(f, "the %s section of the snapshot has %u bytes, expected %u", what,
			  s->len, size);
		return NULL;
	}
	return s;
}

static int snap_decode_config(struct snap_state *st, const struct snap_reader *r, struct fault *f)
{
	const struct snap_section *s = snap_one(r, SNAP_SEC_CONFIG, 0, "configuration", f);

	if (!s)
		return -EINVAL;
	if (s->len == 0 || s->len > SNAP_CONFIG_MAX || memchr(s->data, 0, s->len)) {
		fault_set(f, "the snapshot's configuration section is malformed");
		return -EINVAL;
	}
	st->config = malloc(s->len + 1);
	if (!st->config) {
		fault_set(f, "out of memory");
		return -ENOMEM;
	}
	memcpy(st->config, s->data, s->len);
	st->config[s->len] = 0;
	st->config_len = s->len;
	return 0;
}

static int snap_decode_mem(struct snap_state *st, const struct snap_reader *r, struct fault *f)
{
	const struct snap_section *s = snap_one(r, SNAP_SEC_MEMORY, sizeof(st->mem), "memory", f);
	const struct snap_mem *m = &st->mem;
	struct snap_mem want;

	if (!s)
		return -EINVAL;
	memcpy(&st->mem, s->data, sizeof(st->mem));
	if (m->page_size != SNAP_PAGE_4K && m->page_size != SNAP_PAGE_2M) {
		fault_set(f, "the snapshot's memory page size %u is not 4 KiB or 2 MiB",
			  m->page_size);
		return -EINVAL;
	}
	if (m->ram_size == 0 || m->ram_size % m->page_size ||
	    m->ram_size > (CFG_MEM_MAX_MIB << 20)) {
		fault_set(f, "the snapshot's memory size %llu is invalid",
			  (unsigned long long)m->ram_size);
		return -EINVAL;
	}
	/* Anything but flint's own layout for that size is refused. */
	snap_mem_layout(&want, m->ram_size, m->page_size);
	if (memcmp(&want, m, sizeof(want)) != 0) {
		fault_set(f, "the snapshot's memory layout does not match its size");
		return -EINVAL;
	}
	return 0;
}

static int snap_check_vm(const struct snap_vm *vm, struct fault *f)
{
	if (vm->pic_master.chip_id != KVM_IRQCHIP_PIC_MASTER ||
	    vm->pic_slave.chip_id != KVM_IRQCHIP_PIC_SLAVE ||
	    vm->ioapic.chip_id != KVM_IRQCHIP_IOAPIC) {
		fault_set(f, "the snapshot's interrupt controller state is malformed");
		return -EINVAL;
	}
	if (vm->nvcpus == 0 || vm->nvcpus > LAYOUT_MAX_VCPUS) {
		fault_set(f, "the snapshot has %u vCPUs (1 to %d are possible)", vm->nvcpus,
			  LAYOUT_MAX_VCPUS);
		return -EINVAL;
	}
	return 0;
}

static int snap_check_vcpu(const struct snap_vcpu *c, uint32_t i, struct fault *f)
{
	if (c->nmsrs > SNAP_MAX_MSRS || c->ncpuid > SNAP_MAX_CPUID) {
		fault_set(f, "vCPU %u of the snapshot has too many MSRs or CPUID entries", i);
		return -EINVAL;
	}
	if (c->ncpuid == 0) {
		fault_set(f, "vCPU %u of the snapshot has no CPUID", i);
		return -EINVAL;
	}
	return 0;
}

static int snap_decode_vcpus(struct snap_state *st, const struct snap_reader *r, struct fault *f)
{
	uint32_t n = st->vm.nvcpus;

	if (snap_count(r, SNAP_SEC_VCPU) != n) {
		fault_set(f, "the snapshot has %u vCPU sections for %u vCPUs",
			  snap_count(r, SNAP_SEC_VCPU), n);
		return -EINVAL;
	}
	st->vcpus = calloc(n, sizeof(*st->vcpus));
	if (!st->vcpus) {
		fault_set(f, "out of memory");
		return -ENOMEM;
	}
	st->nvcpus = n;
	/* n sections and each index 0..n-1 found: every index exactly once */
	for (uint32_t i = 0; i < n; i++) {
		const struct snap_section *s = snap_find(r, SNAP_SEC_VCPU, i);

		if (!s || s->len != sizeof(struct snap_vcpu)) {
			fault_set(f, "vCPU %u of the snapshot is missing or malformed", i);
			return -EINVAL;
		}
		memcpy(&st->vcpus[i], s->data, sizeof(st->vcpus[i]));
		if (snap_check_vcpu(&st->vcpus[i], i, f))
			return -EINVAL;
	}
	return 0;
}

static bool snap_str_ok(const char *s, size_t cap)
{
	return memchr(s, 0, cap) != NULL && s[0] != 0;
}

static int snap_decode_devices(struct snap_state *st, const struct snap_reader *r, struct fault *f)
{
	uint32_t n = snap_count(r, SNAP_SEC_DEVICE);

	if (n > LAYOUT_VIRTIO_MAX) {
		fault_set(f, "the snapshot has %u devices, at most %d are possible", n,
			  LAYOUT_VIRTIO_MAX);
		return -EINVAL;
	}
	st->ndevices = n;
	for (uint32_t i = 0; i < n; i++) {
		const struct snap_section *s = snap_find(r, SNAP_SEC_DEVICE, i);
		struct snap_device *d = &st->devices[i];

		if (!s || s->len < sizeof(d->hdr) || s->len - sizeof(d->hdr) > SNAP_DEVICE_MAX) {
			fault_set(f, "device %u of the snapshot is missing or malformed", i);
			return -EINVAL;
		}
		memcpy(&d->hdr, s->data, sizeof(d->hdr));
		if (!snap_str_ok(d->hdr.kind, sizeof(d->hdr.kind)) ||
		    !snap_str_ok(d->hdr.id, sizeof(d->hdr.id))) {
			fault_set(f, "device %u of the snapshot has a malformed name", i);
			return -EINVAL;
		}
		d->data = s->data + sizeof(d->hdr);
		d->len = s->len - (uint32_t)sizeof(d->hdr);
	}
	return 0;
}

/* An optional section of this type, exactly size bytes, copied to out.
 * 1 if there was one, 0 if not, -EINVAL if malformed or repeated. */
static int snap_opt(const struct snap_reader *r, uint32_t type, void *out, uint32_t size,
		    const char *what, struct fault *f)
{
	if (snap_count(r, type) == 0)
		return 0;
	if (!snap_one(r, type, size, what, f))
		return -EINVAL;
	memcpy(out, snap_find(r, type, 0)->data, size);
	return 1;
}

/* The UART and the i8042: v1.0 files may have the UART's registers only;
 * from v1.1 on a file has the registers, the receive FIFO and the i8042. */
static int snap_decode_legacy(struct snap_state *st, const struct snap_reader *r, struct fault *f)
{
	bool v1_0 = st->minor == 0;
	int regs, fifo, kbd;

	regs = snap_opt(r, SNAP_SEC_SERIAL, &st->serial, sizeof(st->serial), "serial", f);
	if (regs < 0)
		return -EINVAL;
	fifo = snap_opt(r, SNAP_SEC_SERIAL_FIFO, &st->serial_fifo, sizeof(st->serial_fifo),
			"serial FIFO", f);
	if (fifo < 0)
		return -EINVAL;
	kbd = snap_opt(r, SNAP_SEC_I8042, &st->i8042, sizeof(st->i8042), "i8042", f);
	if (kbd < 0)
		return -EINVAL;
	if (v1_0 ? (fifo || kbd) : !(regs && fifo && kbd)) {
		fault_set(f,
			  "the snapshot's serial and i8042 sections do not match its format "
			  "version v%u.%u.0",
			  st->major, st->minor);
		return -EINVAL;
	}
	st->has_serial = regs;
	st->has_serial_fifo = fifo;
	st->has_i8042 = kbd;
	if (regs && serial_state_check(&st->serial, fifo ? &st->serial_fifo : NULL)) {
		fault_set(f, "the snapshot's serial port state is invalid");
		return -EINVAL;
	}
	if (kbd && i8042_state_check(&st->i8042)) {
		fault_set(f, "the snapshot's i8042 state is invalid");
		return -EINVAL;
	}
	return 0;
}

int snap_decode(struct snap_state *st, const struct snap_reader *r, struct fault *f)
{
	const struct snap_section *s;
	int err;

	memset(st, 0, sizeof(*st));
	st->major = r->major;
	st->minor = r->minor;
	err = snap_decode_config(st, r, f);
	if (!err)
		err = snap_decode_mem(st, r, f);
	if (err)
		return err;
	s = snap_one(r, SNAP_SEC_VM, sizeof(st->vm), "VM", f);
	if (!s)
		return -EINVAL;
	memcpy(&st->vm, s->data, sizeof(st->vm));
	err = snap_check_vm(&st->vm, f);
	if (!err)
		err = snap_decode_vcpus(st, r, f);
	if (!err)
		err = snap_decode_devices(st, r, f);
	if (!err)
		err = snap_decode_legacy(st, r, f);
	return err;
}

void snap_state_free(struct snap_state *st)
{
	free(st->vcpus);
	free(st->config);
	st->vcpus = NULL;
	st->config = NULL;
}
