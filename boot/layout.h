/* Every guest-physical address and fixed guest resource flint uses, in one
 * place. x86_64 only. Loosely the same map as Firecracker's, so guests and
 * tools that assume it (the boot timer address in particular) work. */
#ifndef FLINT_BOOT_LAYOUT_H
#define FLINT_BOOT_LAYOUT_H

#include <stdint.h>

#define KiB(x) ((uint64_t)(x) << 10)
#define MiB(x) ((uint64_t)(x) << 20)
#define GiB(x) ((uint64_t)(x) << 30)

/* Low memory used by the boot path (all below 1 MiB). */
#define LAYOUT_GDT_START      0x500ULL	/* boot GDT, 4 entries */
#define LAYOUT_IDT_START      0x520ULL	/* empty IDT */
#define LAYOUT_PVH_INFO_START 0x6000ULL /* struct hvm_start_info */
#define LAYOUT_PVH_MODLIST    0x6040ULL /* hvm_modlist_entry for the initrd */
#define LAYOUT_PVH_MEMMAP     0x7000ULL /* hvm_memmap_table_entry array */
#define LAYOUT_PVH_MEMMAP_MAX 128
#define LAYOUT_ZERO_PAGE      0x7000ULL /* struct boot_params (Linux boot) */
#define LAYOUT_PML4_START     0x9000ULL /* identity page tables */
#define LAYOUT_PDPTE_START    0xa000ULL
#define LAYOUT_PDE_START      0xb000ULL /* 4 pages: 4 GiB of 2 MiB pages */
#define LAYOUT_PDE_PAGES      4
#define LAYOUT_BOOT_STACK     0x8ff0ULL /* initial rsp/rbp */
#define LAYOUT_CMDLINE_START  0x20000ULL
#define LAYOUT_CMDLINE_MAX    2048	 /* x86 COMMAND_LINE_SIZE, with the NUL */
#define LAYOUT_EBDA_START     0x9fc00ULL /* MP table lives here */
#define LAYOUT_LOW_RAM_END    LAYOUT_EBDA_START
#define LAYOUT_HIMEM_START    0x100000ULL /* kernel load address */

/* The 32-bit MMIO hole: guest RAM is split around it. */
#define LAYOUT_MMIO32_START   0xc0000000ULL
#define LAYOUT_MMIO32_SIZE    GiB(1)
#define LAYOUT_RAM_HIGH_START GiB(4)

/* Fixed MMIO devices, inside the hole. */
#define LAYOUT_BOOT_TIMER_ADDR	0xc0000000ULL /* Firecracker's boot timer */
#define LAYOUT_BOOT_TIMER_SIZE	0x1000ULL
#define LAYOUT_BOOT_TIMER_MAGIC 123
#define LAYOUT_VIRTIO_START	0xc0001000ULL /* first virtio-mmio device */
#define LAYOUT_VIRTIO_SIZE	0x1000ULL     /* bytes per device */
#define LAYOUT_VIRTIO_MAX	16
#define LAYOUT_IOAPIC_ADDR	0xfec00000ULL
#define LAYOUT_LAPIC_ADDR	0xfee00000ULL

/* Legacy I/O ports and IRQs. */
#define LAYOUT_COM1_PORT       0x3f8
#define LAYOUT_COM1_IRQ	       4
#define LAYOUT_I8042_DATA      0x60
#define LAYOUT_I8042_CMD       0x64
#define LAYOUT_I8042_IRQ       1
#define LAYOUT_VIRTIO_IRQ_BASE 5  /* virtio-mmio device n gets IRQ 5 + n */
#define LAYOUT_IRQ_MAX	       23 /* last IOAPIC pin */

#define LAYOUT_MAX_VCPUS 32

/* Default kernel command line, as Firecracker's. */
#define LAYOUT_DEFAULT_CMDLINE "console=ttyS0 reboot=k panic=1 pci=off"

#endif
