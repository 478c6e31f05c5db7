/* Initial vCPU state for the boot vCPU: long mode with identity-mapped page
 * tables for the Linux 64-bit boot protocol, or flat 32-bit protected mode
 * for PVH; plus the FPU state and boot MSRs every vCPU gets.
 *
 * Pure: the functions write boot structures into guest RAM and fill the
 * caller's structs; the caller does the KVM_SET_* ioctls. Called from the
 * VM-building thread (or a vCPU thread before its first KVM_RUN). */
#ifndef FLINT_BOOT_REGS_H
#define FLINT_BOOT_REGS_H

#include <linux/kvm.h>
#include <stdint.h>

#include "vmm/guest_mem.h"

/* GDT entries flint writes at LAYOUT_GDT_START (index, selector = index * 8). */
#define REGS_GDT_CODE	 1
#define REGS_GDT_DATA	 2
#define REGS_GDT_TSS	 3
#define REGS_GDT_ENTRIES 4

/* A GDT descriptor from access/flags bits (as in Firecracker's gdt_entry:
 * flags = G DB L AVL in bits 15:12, access byte in bits 7:0), base, limit. */
uint64_t regs_gdt_entry(uint16_t flags, uint32_t base, uint32_t limit);

/* The kvm_segment a descriptor describes, with selector index * 8. */
void regs_segment_from_gdt(uint64_t entry, uint8_t index, struct kvm_segment *seg);

/* Long mode for the Linux 64-bit boot protocol: writes the GDT (null, code64
 * 0xa09b, data 0xc093, tss 0x808b), an empty IDT and identity page tables
 * mapping 4 GiB with 2 MiB pages (1 GiB pages do not work on kvm_pvm), then
 * edits sregs (from KVM_GET_SREGS: segments, gdt/idt, cr0 PE|PG|ET, cr3,
 * cr4 PAE, efer LME|LMA) and sets regs (rflags 2, rip entry, rsp/rbp
 * LAYOUT_BOOT_STACK, rsi boot_params_gpa). 0 or -EFAULT. */
int regs_setup_long_mode(const struct guest_mem *mem, uint64_t entry, uint64_t boot_params_gpa,
			 struct kvm_sregs *sregs, struct kvm_regs *regs);

/* 32-bit protected mode for the PVH entry: paging off, flat 4 GiB code
 * (0xc09b) and data (0xc093) segments from a GDT, cr0 PE, cr4 0, efer 0,
 * rip entry, rbx start_info_gpa, rflags 2. 0, or -EINVAL if entry or
 * start_info_gpa is not a 32-bit address, or -EFAULT. */
int regs_setup_pvh(const struct guest_mem *mem, uint64_t entry, uint64_t start_info_gpa,
		   struct kvm_sregs *sregs, struct kvm_regs *regs);

/* Initial FPU state: fcw 0x37f, mxcsr 0x1f80, all else 0. */
void regs_fpu(struct kvm_fpu *fpu);

/* The boot MSR values Linux expects (SYSENTER_*, STAR/LSTAR/CSTAR,
 * KERNEL_GS_BASE, SYSCALL_MASK and TSC 0; MISC_ENABLE fast strings; MTRRs
 * enabled with write-back default) into out[0..max). Returns the count, or
 * -E2BIG if max is too small. */
int regs_boot_msrs(struct kvm_msr_entry *out, int max);

#endif
