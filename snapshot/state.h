/* What a snapshot state file holds, as plain fixed-size structs (one per
 * section, see snapshot/format.h), and the checking decoder that turns a
 * parsed container into a struct snap_state.
 *
 * The KVM structs are the uapi ones (<linux/kvm.h>), whose layouts are part
 * of Linux's ABI; every struct here is memset to zero before it is filled,
 * so padding is deterministic. A change of any layout needs a new
 * SNAP_VERSION_MAJOR.
 *
 * snap_decode() checks everything flint itself relies on (section sizes,
 * counts, indices, the memory layout, string termination) so that nothing
 * read from the file can become an out-of-range index or length; what only
 * KVM can judge (register values, LAPIC contents) KVM checks when it is set.
 * The legacy devices' states are checked here, by the devices' own
 * validators; virtio device states by theirs when they are restored.
 * Pure; any thread. */
#ifndef FLINT_SNAPSHOT_STATE_H
#define FLINT_SNAPSHOT_STATE_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

#include "boot/layout.h"
#include "devices/i8042.h"
#include "devices/serial.h"
#include "snapshot/format.h"
#include "vmm/config.h"
#include "vmm/guest_mem.h"

#define SNAP_MAX_MSRS	256
#define SNAP_MAX_CPUID	256
#define SNAP_CONFIG_MAX 65536
#define SNAP_DEVICE_MAX 32768 /* bytes of one device's state blob */
#define SNAP_KIND_LEN	16
#define SNAP_PAGE_4K	4096u
#define SNAP_PAGE_2M	(2u << 20)

/* Guest RAM in the memory file: regions back to back, in guest order. */
struct snap_mem_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t offset; /* in the memory file */
};

struct snap_mem {
	uint64_t ram_size; /* bytes; the memory file's size */
	uint32_t nregions;
	uint32_t page_size; /* of the guest's backing: 4 KiB or 2 MiB */
	struct snap_mem_region regions[GM_MAX_REGIONS];
};

/* VM-wide KVM state. */
struct snap_vm {
	struct kvm_irqchip pic_master; /* chip_id KVM_IRQCHIP_PIC_MASTER */
	struct kvm_irqchip pic_slave;  /* KVM_IRQCHIP_PIC_SLAVE */
	struct kvm_irqchip ioapic;     /* KVM_IRQCHIP_IOAPIC */
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
	uint32_t nvcpus;
	uint32_t pad;
};

/* One vCPU's KVM state. */
struct snap_vcpu {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	uint32_t xsave[1024]; /* struct kvm_xsave's region (KVM_GET_XSAVE, 4 KiB) */
	struct kvm_xcrs xcrs;
	struct kvm_lapic_state lapic;
	struct kvm_mp_state mp_state;
	struct kvm_vcpu_events events;
	struct kvm_debugregs debugregs;
	uint32_t tsc_khz; /* 0: unknown */
	uint32_t nmsrs;	  /* <= SNAP_MAX_MSRS */
	uint32_t ncpuid;  /* <= SNAP_MAX_CPUID */
	uint32_t pad;
	struct kvm_msr_entry msrs[SNAP_MAX_MSRS];
	struct kvm_cpuid_entry2 cpuid[SNAP_MAX_CPUID];
};

/* Starts every SNAP_SEC_DEVICE section; the device's own blob follows. */
struct snap_device_hdr {
	char kind[SNAP_KIND_LEN]; /* "block", "entropy", ...: NUL-terminated */
	char id[CFG_ID_MAX + 8];  /* drive_id / iface_id: NUL-terminated */
};

struct snap_device {
	struct snap_device_hdr hdr;
	const uint8_t *data; /* the blob, in the reader's buffer; not aligned */
	uint32_t len;
};

/* A decoded, checked state file. vcpus and config are malloc'd (free with
 * snap_state_free); devices[].data points into the reader's buffer. */
struct snap_state {
	uint16_t major, minor;
	char *config; /* NUL-terminated JSON */
	uint32_t config_len;
	struct snap_mem mem;
	struct snap_vm vm;
	/* The legacy devices. A v1.0 file may have the UART's registers and
	 * has nothing else; a v1.1 file has all three. */
	bool has_serial, has_serial_fifo, has_i8042;
	struct serial_regs serial;
	struct serial_fifo serial_fifo;
	struct i8042_state i8042;
	uint32_t nvcpus;
	struct snap_vcpu *vcpus;
	uint32_t ndevices;
	struct snap_device devices[LAYOUT_VIRTIO_MAX];
};

/* Check and copy out every section of r. 0 or -EINVAL/-ENOMEM with f set;
 * st needs snap_state_free either way. */
int snap_decode(struct snap_state *st, const struct snap_reader *r, struct fault *f);
void snap_state_free(struct snap_state *st);

/* The memory layout flint uses for ram_size bytes with this page size
 * (regions as gm_layout, offsets back to back). */
void snap_mem_layout(struct snap_mem *m, uint64_t ram_size, uint32_t page_size);

#endif
