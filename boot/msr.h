/* x86 MSR numbers and bits flint sets at boot (Intel SDM vol. 4). The
 * kernel's <asm/msr-index.h> is not a uapi header, so they live here. */
#ifndef FLINT_BOOT_MSR_H
#define FLINT_BOOT_MSR_H

#define MSR_IA32_TSC	      0x00000010
#define MSR_IA32_SYSENTER_CS  0x00000174
#define MSR_IA32_SYSENTER_ESP 0x00000175
#define MSR_IA32_SYSENTER_EIP 0x00000176
#define MSR_IA32_MISC_ENABLE  0x000001a0
#define MSR_MTRR_DEF_TYPE     0x000002ff
#define MSR_EFER	      0xc0000080
#define MSR_STAR	      0xc0000081
#define MSR_LSTAR	      0xc0000082
#define MSR_CSTAR	      0xc0000083
#define MSR_SYSCALL_MASK      0xc0000084
#define MSR_KERNEL_GS_BASE    0xc0000102

#define MSR_IA32_MISC_ENABLE_FAST_STRING (1ULL << 0)
#define MSR_MTRR_DEF_TYPE_WB		 0x06ULL
#define MSR_MTRR_DEF_TYPE_E		 (1ULL << 11) /* MTRRs enabled */

/* EFER bits */
#define EFER_SCE (1ULL << 0)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)

/* Control register bits */
#define X86_CR0_PE  (1ULL << 0)
#define X86_CR0_ET  (1ULL << 4)
#define X86_CR0_PG  (1ULL << 31)
#define X86_CR4_PAE (1ULL << 5)

#endif
