/* Snapshots of a microVM: saving a paused struct vm into a state file and
 * restoring one into a VM built with opt.for_restore (vm_snapshot.c), and the
 * VMM-level PUT /snapshot/create and PUT /snapshot/load (vmm_snapshot.c).
 *
 * Everything runs on the VMM thread. A save needs every vCPU paused; a
 * restore happens before any vCPU has run. */
#ifndef FLINT_VMM_VM_SNAPSHOT_H
#define FLINT_VMM_VM_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>

#include "snapshot/format.h"
#include "snapshot/memfile.h"
#include "snapshot/state.h"
#include "vmm/vm.h"

struct vmm;
struct body_snapshot_create;
struct body_snapshot_load;

/* Append every section of vm's state to w: config (JSON text, config_len
 * bytes), memory layout, irqchips/PIT/clock, each vCPU, the serial port
 * (registers and receive FIFO), the i8042 and each device (refused, with f set, if a device has no
 * save hook). */
int vm_snapshot_save(struct vm *vm, struct snap_writer *w, const char *config, size_t config_len,
		     struct fault *f);

/* Does the decoded state fit the VM built from its configuration (vCPUs,
 * memory, the same devices in the same slots)? 0 or -EINVAL, f set. */
int vm_snapshot_check(const struct vm *vm, const struct snap_state *st, struct fault *f);

/* Load st into vm (after vm_snapshot_check, guest RAM already in place):
 * irqchips and PIT, vCPUs, serial, i8042, devices, and the KVM clock last.
 * *tsc_warn is set if the TSC frequency could not be matched. */
int vm_snapshot_restore(struct vm *vm, const struct snap_state *st, bool clock_realtime,
			bool *tsc_warn, struct fault *f);

/* The pages written since the last call: KVM's dirty log (vCPU writes) and
 * guest_mem's own record (device writes), ORed into d. */
int vm_snapshot_dirty(struct vm *vm, struct snap_dirty *d, struct fault *f);

/* PUT /snapshot/create: the VM must be paused. 0 or -errno with f set. */
int vmm_snapshot_create(struct vmm *v, const struct body_snapshot_create *b, struct fault *f);
/* PUT /snapshot/load: only in a fresh VMM (nothing configured but the
 * logger, metrics and serial); on failure the VMM is left fresh. */
int vmm_snapshot_load(struct vmm *v, const struct body_snapshot_load *b, struct fault *f);

#endif
