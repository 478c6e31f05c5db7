/* PVH entry, long-mode switch, exception stubs and the AP trampoline.
 *
 * A PVH loader enters pvh_start in 32-bit protected mode, paging off, flat
 * segments, with %ebx = physical address of struct hvm_start_info. We load
 * the identity page tables for [0, 4 GiB), enter long mode and call
 * guest_main(start_info). RAM above 4 GiB is mapped later from C, once the
 * memory map is known.
 *
 * Nothing here loops over memory: on a host whose KVM emulates guest ring-0
 * code (kvm_pvm, see shared/HOST.md) every store costs an emulated
 * instruction, and zeroing .bss (half a MiB) plus filling 2048 page-table
 * entries took about 15 ms of every boot. So .bss is left to the ELF loader
 * (a PT_LOAD segment's bytes past p_filesz are zero by the ELF spec; flint's
 * boot/elf.c and QEMU's load_elf fill them on the host) and the low page
 * tables are built by the assembler into .data, which the loader copies. */
#include "arch.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define MSR_EFER 0xc0000080
#define EFER_LME 0x100
#define CR0_PE 0x1
#define CR0_PG 0x80000000
#define CR0_CD_NW 0x60000000
#define CR4_PAE 0x20

	/* The PVH entry note. The descriptor is 8 bytes, as Linux's, so
	 * loaders that read it as a 64-bit value (QEMU) and as a 32-bit
	 * value (little endian) both get the entry address. */
	.section .note.Xen, "a"
	.p2align 2
	.long 4, 8, XEN_ELFNOTE_PHYS32_ENTRY
	.asciz "Xen"
	.p2align 2
	.quad pvh_start

	.section .text.entry, "ax"
	.code32
	.globl pvh_start
pvh_start:
	cli
	cld
	lgdt gdt_ptr
	ljmp $GUEST_SEL_CODE32, $1f
1:	movl $GUEST_SEL_DATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl %eax, %fs
	movl %eax, %gs
	movl $bsp_stack_top, %esp

	call enter_long_mode
	ljmp $GUEST_SEL_CODE64, $entry64

	/* Shared by the BSP and the APs: PAE, CR3, EFER.LME, paging on. */
enter_long_mode:
	movl %cr4, %eax
	orl $CR4_PAE, %eax
	movl %eax, %cr4
	movl $pml4, %eax
	movl %eax, %cr3
	movl $MSR_EFER, %ecx
	rdmsr
	orl $EFER_LME, %eax
	wrmsr
	movl %cr0, %eax
	andl $~CR0_CD_NW, %eax
	orl $(CR0_PG | CR0_PE), %eax
	movl %eax, %cr0
	ret

	.code64
entry64:
	movl $GUEST_SEL_DATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl %eax, %fs
	movl %eax, %gs
	movq $bsp_stack_top, %rsp
	movl %ebx, %edi
	call guest_main
4:	cli
	hlt
	jmp 4b

	/* An AP arrives here from the trampoline in 32-bit protected mode. */
	.code32
ap_entry32:
	movl $GUEST_SEL_DATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	/* No stack yet, so the long-mode switch is repeated inline. */
	movl %cr4, %eax
	orl $CR4_PAE, %eax
	movl %eax, %cr4
	movl $pml4, %eax
	movl %eax, %cr3
	movl $MSR_EFER, %ecx
	rdmsr
	orl $EFER_LME, %eax
	wrmsr
	movl %cr0, %eax
	andl $~CR0_CD_NW, %eax
	orl $(CR0_PG | CR0_PE), %eax
	movl %eax, %cr0
	ljmp $GUEST_SEL_CODE64, $ap_entry64

	.code64
ap_entry64:
	movl $GUEST_SEL_DATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl %eax, %fs
	movl %eax, %gs
	/* Initial APIC id from CPUID.1:EBX[31:24] picks this CPU's stack. */
	movl $1, %eax
	cpuid
	shrl $24, %ebx
	cmpl $GUEST_MAX_CPUS, %ebx
	jae 5f
	leal 1(%ebx), %eax
	imull $GUEST_AP_STACK, %eax
	leaq ap_stacks(%rax), %rsp
	movl %ebx, %edi
	call smp_ap_main
5:	cli
	hlt
	jmp 5b

	/* Exceptions: push a dummy error code where the CPU pushes none, then
	 * the vector, and hand the frame to trap_report() (never returns). */
	.macro ISR_NOERR n
isr\n:	pushq $0
	pushq $\n
	jmp isr_common
	.endm
	.macro ISR_ERR n
isr\n:	pushq $\n
	jmp isr_common
	.endm

	ISR_NOERR 0
	ISR_NOERR 1
	ISR_NOERR 2
	ISR_NOERR 3
	ISR_NOERR 4
	ISR_NOERR 5
	ISR_NOERR 6
	ISR_NOERR 7
	ISR_ERR 8
	ISR_NOERR 9
	ISR_ERR 10
	ISR_ERR 11
	ISR_ERR 12
	ISR_ERR 13
	ISR_ERR 14
	ISR_NOERR 15
	ISR_NOERR 16
	ISR_ERR 17
	ISR_NOERR 18
	ISR_NOERR 19
	ISR_NOERR 20
	ISR_ERR 21
	ISR_NOERR 22
	ISR_NOERR 23
	ISR_NOERR 24
	ISR_NOERR 25
	ISR_NOERR 26
	ISR_NOERR 27
	ISR_NOERR 28
	ISR_ERR 29
	ISR_ERR 30
	ISR_NOERR 31

isr_common:
	movq %rsp, %rdi
	andq $~15, %rsp
	call trap_report
6:	cli
	hlt
	jmp 6b

	/* Load an empty IDT and fault: with no handler for the fault nor
	 * for the double fault the CPU shuts down (a triple fault). INT3 is
	 * avoided: this host's instruction emulator does not implement it. */
	.globl triple_fault
triple_fault:
	cli
	lidt empty_idt_ptr
	movabsq $0x8000000000000000, %rax
	movq (%rax), %rax
	ud2
7:	hlt
	jmp 7b

	/* The AP trampoline: copied to GUEST_TRAMPOLINE, entered by SIPI in
	 * real mode with CS = GUEST_TRAMPOLINE >> 4, IP = 0. Only offsets
	 * relative to ap_tramp_start are used inside it. */
	.code16
	.globl ap_tramp_start
ap_tramp_start:
	cli
	cld
	movw %cs, %ax
	movw %ax, %ds
	lgdtl (ap_tramp_gdt - ap_tramp_start)
	movl %cr0, %eax
	orl $CR0_PE, %eax
	movl %eax, %cr0
	ljmpl $GUEST_SEL_CODE32, $ap_entry32
	.p2align 3
ap_tramp_gdt:
	.word gdt_end - gdt - 1
	.long gdt
ap_tramp_end:

	.section .rodata
	.globl ap_tramp_size
	.p2align 2
ap_tramp_size:
	.long ap_tramp_end - ap_tramp_start
	.globl isr_table
	.p2align 3
isr_table:
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.quad isr\n
	.endr

	.p2align 3
gdt:
	.quad 0
	.quad 0x00af9a000000ffff	/* 0x08: 64-bit code */
	.quad 0x00cf92000000ffff	/* 0x10: flat data */
	.quad 0x00cf9a000000ffff	/* 0x18: flat 32-bit code */
gdt_end:
	.p2align 3
gdt_ptr:
	.word gdt_end - gdt - 1
	.quad gdt
	.p2align 3
empty_idt_ptr:
	.word 0
	.quad 0

	/* Identity page tables for [0, 4 GiB): 2048 2 MiB pages (1 GiB pages
	 * kill the VM on this host), the 3-4 GiB MMIO hole uncached. Only
	 * pdpt entries 4.. (RAM above 4 GiB) are written at run time. */
	.section .data
	.p2align 12
	.globl pml4, pdpt
pml4:	.quad pdpt + (GUEST_PTE_P | GUEST_PTE_RW)
	.fill 511, 8, 0
pdpt:	.quad pd_low + (GUEST_PTE_P | GUEST_PTE_RW)
	.quad pd_low + 4096 + (GUEST_PTE_P | GUEST_PTE_RW)
	.quad pd_low + 8192 + (GUEST_PTE_P | GUEST_PTE_RW)
	.quad pd_low + 12288 + (GUEST_PTE_P | GUEST_PTE_RW)
	.fill 508, 8, 0
pd_low:
	.set pde, 0
	.rept 1536
	.quad (pde << 21) | (GUEST_PTE_P | GUEST_PTE_RW | GUEST_PTE_PS)
	.set pde, pde + 1
	.endr
	.rept 512
	.quad (pde << 21) | (GUEST_PTE_P | GUEST_PTE_RW | GUEST_PTE_PS | GUEST_PTE_PCD | GUEST_PTE_PWT)
	.set pde, pde + 1
	.endr

	.section .noinit, "aw", @nobits
	.p2align 12
	.globl pd_tables, ap_stacks
	/* pd_tables[gi] maps GiB gi for gi >= 4 (boot.c); the first four
	 * slots are unused, pd_low maps those. */
pd_tables:
	.skip 4096 * GUEST_MAP_GIB
ap_stacks:
	.skip GUEST_AP_STACK * (GUEST_MAX_CPUS + 1)
bsp_stack:
	.skip GUEST_BSP_STACK
bsp_stack_top:

	.section .note.GNU-stack, "", @progbits
