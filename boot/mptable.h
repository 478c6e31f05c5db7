/* Intel MultiProcessor Specification 1.4 tables, which is how a guest
 * without ACPI (flint has none) finds its CPUs, the IOAPIC and the ISA IRQ
 * routing. Structures are the spec's, packed. Called from the VM-building
 * thread. */
#ifndef FLINT_BOOT_MPTABLE_H
#define FLINT_BOOT_MPTABLE_H

#include <stdint.h>

#include "vmm/config.h"
#include "vmm/guest_mem.h"

#define MP_SPEC_REV	  4 /* 1.4 */
#define MP_APIC_VERSION	  0x14
#define MP_IOAPIC_VERSION 0x11

enum mp_entry_type {
	MP_PROCESSOR = 0,
	MP_BUS = 1,
	MP_IOAPIC = 2,
	MP_INTSRC = 3,
	MP_LINTSRC = 4,
};

enum mp_irq_type { MP_INT = 0, MP_NMI = 1, MP_SMI = 2, MP_EXTINT = 3 };

#define MP_CPU_ENABLED 0x01
#define MP_CPU_BSP     0x02

/* MP floating pointer structure: found by the guest's scan of the EBDA. */
struct mpf_intel {
	char signature[4]; /* "_MP_" */
	uint32_t physptr;  /* config table address */
	uint8_t length;	   /* in 16-byte units: 1 */
	uint8_t specification;
	uint8_t checksum; /* all 16 bytes sum to 0 */
	uint8_t feature1; /* 0: a config table is present */
	uint8_t feature2; /* bit 7 IMCR: 0, virtual wire mode */
	uint8_t feature3, feature4, feature5;
} __attribute__((packed));

struct mpc_table {
	char signature[4]; /* "PCMP" */
	uint16_t length;   /* base table, header included */
	uint8_t spec;
	uint8_t checksum; /* the base table sums to 0 */
	char oem[8];
	char productid[12];
	uint32_t oemptr;
	uint16_t oemsize;
	uint16_t oemcount; /* entries after the header */
	uint32_t lapic;	   /* local APIC address */
	uint16_t ext_length;
	uint8_t ext_checksum;
	uint8_t reserved;
} __attribute__((packed));

struct mpc_cpu {
	uint8_t type; /* MP_PROCESSOR */
	uint8_t apicid;
	uint8_t apicver;
	uint8_t cpuflag;
	uint32_t cpufeature; /* signature: family/model/stepping */
	uint32_t featureflag;
	uint32_t reserved[2];
} __attribute__((packed));

struct mpc_bus {
	uint8_t type; /* MP_BUS */
	uint8_t busid;
	char bustype[6];
} __attribute__((packed));

struct mpc_ioapic {
	uint8_t type; /* MP_IOAPIC */
	uint8_t apicid;
	uint8_t apicver;
	uint8_t flags; /* bit 0: enabled */
	uint32_t apicaddr;
} __attribute__((packed));

struct mpc_intsrc {
	uint8_t type; /* MP_INTSRC */
	uint8_t irqtype;
	uint16_t irqflag; /* 0: polarity and trigger conform to the bus */
	uint8_t srcbus;
	uint8_t srcbusirq;
	uint8_t dstapic;
	uint8_t dstirq;
} __attribute__((packed));

struct mpc_lintsrc {
	uint8_t type; /* MP_LINTSRC */
	uint8_t irqtype;
	uint16_t irqflag;
	uint8_t srcbusid;
	uint8_t srcbusirq;
	uint8_t destapic; /* 0xff: all local APICs */
	uint8_t destapiclint;
} __attribute__((packed));

_Static_assert(sizeof(struct mpf_intel) == 16, "MP floating pointer size");
_Static_assert(sizeof(struct mpc_table) == 44, "MP config table header size");
_Static_assert(sizeof(struct mpc_cpu) == 20, "MP processor entry size");
_Static_assert(sizeof(struct mpc_bus) == 8 && sizeof(struct mpc_ioapic) == 8 &&
		   sizeof(struct mpc_intsrc) == 8 && sizeof(struct mpc_lintsrc) == 8,
	       "MP 8-byte entry sizes");

/* Bytes mptable_write writes for ncpus vCPUs (floating pointer included). */
uint64_t mptable_size(int ncpus);

/* Write the floating pointer and the config table at LAYOUT_EBDA_START: one
 * enabled processor per vCPU (APIC id = index, BSP = 0), ISA bus 0, the
 * IOAPIC (id ncpus) at LAYOUT_IOAPIC_ADDR, ISA IRQs 0..LAYOUT_IRQ_MAX routed
 * to the same IOAPIC pins, LINT0 ExtINT and LINT1 NMI. Returns 0, -EINVAL
 * for ncpus outside 1..LAYOUT_MAX_VCPUS, or -ENOMEM / -EFAULT, with f set. */
int mptable_write(const struct guest_mem *mem, int ncpus, struct fault *f);

#endif
