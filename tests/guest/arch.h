/* Constants shared by the guest's assembly and C, and small x86 helpers. */
#ifndef GUEST_ARCH_H
#define GUEST_ARCH_H

#define GUEST_MAX_CPUS	 32
#define GUEST_AP_STACK	 8192
#define GUEST_BSP_STACK	 16384
#define GUEST_MAP_GIB	 64	 /* identity map covers [0, 64 GiB) at most */
#define GUEST_TRAMPOLINE 0x10000 /* AP real-mode entry, SIPI vector 0x10 */
#define GUEST_SEL_CODE64 0x08
#define GUEST_SEL_DATA	 0x10
#define GUEST_SEL_CODE32 0x18
#define GUEST_PTE_P	 0x1
#define GUEST_PTE_RW	 0x2
#define GUEST_PTE_PWT	 0x8
#define GUEST_PTE_PCD	 0x10
#define GUEST_PTE_PS	 0x80
#define GUEST_PVH_MAGIC	 0x336ec578
#define GUEST_PAGE	 4096

#ifndef __ASSEMBLER__
#include <stdint.h>

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

/* A pointer to guest-physical address pa (identity mapped). The empty asm
 * hides the constant from gcc, which otherwise warns that fixed addresses
 * such as 0x40e are outside any object. */
static inline void *phys_ptr(uint64_t pa)
{
	__asm__("" : "+r"(pa));
	return (void *)(uintptr_t)pa;
}

static inline uint32_t mmio_read32(uint64_t addr)
{
	return *(volatile uint32_t *)phys_ptr(addr);
}

static inline void mmio_write32(uint64_t addr, uint32_t v)
{
	*(volatile uint32_t *)phys_ptr(addr) = v;
}

static inline uint8_t mmio_read8(uint64_t addr)
{
	return *(volatile uint8_t *)phys_ptr(addr);
}

static inline void mmio_write8(uint64_t addr, uint8_t v)
{
	*(volatile uint8_t *)phys_ptr(addr) = v;
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}

static inline void barrier(void)
{
	__asm__ volatile("" ::: "memory");
}

/* Full fence: orders our ring writes before the device reads them and the
 * index update before we read the used ring (store-load on x86). */
static inline void mb(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static inline __attribute__((noreturn)) void cpu_halt_forever(void)
{
	for (;;)
		__asm__ volatile("cli; hlt");
}

/* Provided by entry.S. */
extern uint64_t pml4[512];
extern uint64_t pdpt[512];
extern uint64_t pd_tables[GUEST_MAP_GIB][512];
extern const uint64_t isr_table[32];
extern const char ap_tramp_start[];
extern const uint32_t ap_tramp_size;
extern char _image_start[], _image_end[];
void triple_fault(void) __attribute__((noreturn));
#endif

#endif
