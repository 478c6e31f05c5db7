/* Capturing and re-applying KVM's VM-wide and per-vCPU state (the ioctls
 * behind struct snap_vm and struct snap_vcpu), and reading KVM's dirty log.
 *
 * Threads: the VMM thread, with every vCPU paused (out of KVM_RUN) for a
 * save, and before any vCPU has run for a restore. A vCPU's ioctls may be
 * made from any thread while it is not in KVM_RUN. */
#ifndef FLINT_SNAPSHOT_KVM_STATE_H
#define FLINT_SNAPSHOT_KVM_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "snapshot/state.h"
#include "vmm/config.h"

/* PIC master/slave, IOAPIC, PIT and the KVM clock of vm_fd. */
int snap_kvm_save_vm(int vm_fd, struct snap_vm *out, struct fault *f);
/* Irqchips and PIT only (the clock goes last, see snap_kvm_restore_clock). */
int snap_kvm_restore_vm(int vm_fd, const struct snap_vm *in, struct fault *f);
/* Set the KVM clock to the saved value: the guest's clock continues from
 * where it stopped; with realtime (and a clock saved with its wall time) it
 * is advanced by the wall time that passed, Firecracker's clock_realtime. */
int snap_kvm_restore_clock(int vm_fd, const struct snap_vm *in, bool realtime, struct fault *f);

/* Every register set of one vCPU: regs, sregs, xsave, xcrs, LAPIC, MP state,
 * events, debug registers, CPUID, TSC frequency and the MSRs that
 * KVM_GET_MSR_INDEX_LIST (of kvm_fd, /dev/kvm) names and KVM_GET_MSRS
 * accepts, plus the MTRRs, the TSC among them. */
int snap_kvm_save_vcpu(int kvm_fd, int vcpu_fd, int index, struct snap_vcpu *out, struct fault *f);
/* Apply a saved vCPU state in the order KVM needs (CPUID before the MSRs it
 * enables, LAPIC before the TSC deadline MSR, MP state and events last).
 * *tsc_scaled_off is set if the saved TSC frequency differs from this
 * vCPU's and KVM could not scale it (the guest then sees its TSC run at
 * another rate: the caller warns). */
int snap_kvm_restore_vcpu(int vcpu_fd, int index, const struct snap_vcpu *in, bool *tsc_scaled_off,
			  struct fault *f);

/* KVM_GET_DIRTY_LOG of memory slot: OR its bitmap (one bit per 4 KiB page,
 * npages bits) into bitmap; KVM clears its own copy. 0 or -errno. */
int snap_kvm_dirty_log(int vm_fd, uint32_t slot, uint64_t npages, uint64_t *bitmap);

#endif
