/* /dev/kvm and the VM file descriptor: capability checks, VM creation with
 * the in-kernel irqchip and PIT, guest memory slots. Start-up only. */
#ifndef FLINT_VMM_KVM_H
#define FLINT_VMM_KVM_H

#include <linux/kvm.h>
#include <stdint.h>

#include "vmm/config.h"
#include "vmm/guest_mem.h"

struct kvm {
	int kvm_fd;
	int vm_fd;
	int run_size;			    /* bytes to mmap per vCPU */
	struct kvm_cpuid2 *supported_cpuid; /* malloc'd, from KVM_GET_SUPPORTED_CPUID */
	int max_vcpus;
};

/* Open /dev/kvm (path overridable for tests), check the API version and every
 * capability flint needs. On failure f says which, in one line. */
int kvm_open(struct kvm *k, const char *dev_path, struct fault *f);
/* Create the VM with its TSS and identity-map addresses. */
int kvm_create_vm(struct kvm *k, struct fault *f);
/* The in-kernel irqchip (PIC, IOAPIC, LAPICs). Create it after the memory
 * slots: once it exists, every slot change waits for an SRCU grace period
 * (7-8 ms on kvm_pvm hosts) instead of under half a millisecond. */
int kvm_create_irqchip(struct kvm *k, struct fault *f);
/* The in-kernel PIT (after the irqchip). KVM starts a worker thread for it
 * and holds the VM's lock meanwhile. */
int kvm_create_pit(struct kvm *k, struct fault *f);
/* Register every guest memory region as a KVM memory slot. */
int kvm_set_memory(struct kvm *k, const struct guest_mem *mem, bool dirty_log, struct fault *f);
/* Pulse an IRQ line on the in-kernel irqchip (edge). Any thread. */
int kvm_irq_pulse(int vm_fd, uint32_t irq);
/* Assert or deassert a level-triggered IRQ line. Any thread. */
int kvm_irq_level(int vm_fd, uint32_t irq, int level);
void kvm_close(struct kvm *k);

#endif
