/* KVM state ioctls for snapshots. */
#include "snapshot/kvm_state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

/* MSRs KVM handles but does not list in KVM_GET_MSR_INDEX_LIST: the MTRRs a
 * guest kernel programs (Intel SDM vol. 3, 11.11). */
static const uint32_t extra_msrs[] = {
    0x2ff,						    /* MTRRdefType */
    0x250, 0x258, 0x259,				    /* fixed-range MTRRs */
    0x268, 0x269, 0x26a, 0x26b, 0x26c, 0x26d, 0x26e, 0x26f, /* fixed 4K ranges */
    0x200, 0x201, 0x202, 0x203, 0x204, 0x205, 0x206, 0x207, /* variable 0-3 */
    0x208, 0x209, 0x20a, 0x20b, 0x20c, 0x20d, 0x20e, 0x20f, /* variable 4-7 */
};

#define KVM_MSR_LIST_MAX 1024

static int kvm_fail(struct fault *f, const char *what, int index)
{
	int err = errno ? errno : EIO;

	if (index >= 0)
		fault_set(f, "%s on vCPU %d failed: %s", what, index, strerror(err));
	else
		fault_set(f, "%s failed: %s", what, strerror(err));
	return -err;
}

static int kvm_get_chip(int vm_fd, struct kvm_irqchip *c, uint32_t id, struct fault *f)
{
	memset(c, 0, sizeof(*c));
	c->chip_id = id;
	return ioctl(vm_fd, KVM_GET_IRQCHIP, c) ? kvm_fail(f, "KVM_GET_IRQCHIP", -1) : 0;
}

int snap_kvm_save_vm(int vm_fd, struct snap_vm *out, struct fault *f)
{
	int err = kvm_get_chip(vm_fd, &out->pic_master, KVM_IRQCHIP_PIC_MASTER, f);

	if (!err)
		err = kvm_get_chip(vm_fd, &out->pic_slave, KVM_IRQCHIP_PIC_SLAVE, f);
	if (!err)
		err = kvm_get_chip(vm_fd, &out->ioapic, KVM_IRQCHIP_IOAPIC, f);
	if (!err && ioctl(vm_fd, KVM_GET_PIT2, &out->pit))
		err = kvm_fail(f, "KVM_GET_PIT2", -1);
	if (!err && ioctl(vm_fd, KVM_GET_CLOCK, &out->clock))
		err = kvm_fail(f, "KVM_GET_CLOCK", -1);
	return err;
}

int snap_kvm_restore_vm(int vm_fd, const struct snap_vm *in, struct fault *f)
{
	struct snap_vm c = *in; /* the ioctls take non-const pointers */

	if (ioctl(vm_fd, KVM_SET_IRQCHIP, &c.pic_master) ||
	    ioctl(vm_fd, KVM_SET_IRQCHIP, &c.pic_slave) || ioctl(vm_fd, KVM_SET_IRQCHIP, &c.ioapic))
		return kvm_fail(f, "restoring the interrupt controllers (KVM_SET_IRQCHIP)", -1);
	if (ioctl(vm_fd, KVM_SET_PIT2, &c.pit))
		return kvm_fail(f, "restoring the PIT (KVM_SET_PIT2)", -1);
	return 0;
}

int snap_kvm_restore_clock(int vm_fd, const struct snap_vm *in, bool realtime, struct fault *f)
{
	struct kvm_clock_data c = in->clock;

	/* Only KVM_CLOCK_REALTIME means something to KVM_SET_CLOCK: with it,
	 * KVM adds the wall time since c.realtime was read. */
	c.flags = realtime && (in->clock.flags & KVM_CLOCK_REALTIME) ? KVM_CLOCK_REALTIME : 0;
	memset(c.pad, 0, sizeof(c.pad));
	if (ioctl(vm_fd, KVM_SET_CLOCK, &c))
		return kvm_fail(f, "restoring the KVM clock (KVM_SET_CLOCK)", -1);
	return 0;
}

/* Room for SNAP_MAX_MSRS entries. */
static struct kvm_msrs *kvm_msrs_alloc(void)
{
	return calloc(1, sizeof(struct kvm_msrs) + SNAP_MAX_MSRS * sizeof(struct kvm_msr_entry));
}

/* The candidate MSR indices: KVM's list, then the extras. */
static int kvm_msr_candidates(int kvm_fd, uint32_t *idx, uint32_t cap, uint32_t *n, struct fault *f)
{
	struct kvm_msr_list *l = calloc(1, sizeof(*l) + KVM_MSR_LIST_MAX * sizeof(uint32_t));
	uint32_t k = 0;

	if (!l)
		return -ENOMEM;
	l->nmsrs = KVM_MSR_LIST_MAX;
	if (ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, l)) {
		free(l);
		return kvm_fail(f, "KVM_GET_MSR_INDEX_LIST", -1);
	}
	for (uint32_t i = 0; i < l->nmsrs && k < cap; i++)
		idx[k++] = l->indices[i];
	for (size_t i = 0; i < sizeof(extra_msrs) / sizeof(extra_msrs[0]) && k < cap; i++)
		idx[k++] = extra_msrs[i];
	free(l);
	*n = k;
	return 0;
}

/* Read every candidate KVM_GET_MSRS accepts. KVM_GET_MSRS stops at the first
 * MSR it refuses and returns how many it read: drop that one and go on. */
static int kvm_save_msrs(int kvm_fd, int vcpu_fd, int index, struct snap_vcpu *out, struct fault *f)
{
	struct kvm_msrs *m = kvm_msrs_alloc();
	uint32_t idx[SNAP_MAX_MSRS], n = 0, done = 0;
	int err = m ? kvm_msr_candidates(kvm_fd, idx, SNAP_MAX_MSRS, &n, f) : -ENOMEM;

	while (!err && done < n) {
		int got;

		m->nmsrs = n - done;
		for (uint32_t i = done; i < n; i++)
			m->entries[i - done] = (struct kvm_msr_entry){.index = idx[i]};
		got = ioctl(vcpu_fd, KVM_GET_MSRS, m);
		if (got < 0) {
			err = kvm_fail(f, "KVM_GET_MSRS", index);
			break;
		}
		for (int i = 0; i < got; i++)
			out->msrs[out->nmsrs++] = m->entries[i];
		done += (uint32_t)got + 1; /* skip the refused one */
	}
	free(m);
	return err;
}

static int kvm_save_cpuid(int vcpu_fd, int index, struct snap_vcpu *out, struct fault *f)
{
	struct kvm_cpuid2 *c =
	    calloc(1, sizeof(*c) + SNAP_MAX_CPUID * sizeof(struct kvm_cpuid_entry2));

	if (!c)
		return -ENOMEM;
	c->nent = SNAP_MAX_CPUID;
	if (ioctl(vcpu_fd, KVM_GET_CPUID2, c)) {
		int err = kvm_fail(f, "KVM_GET_CPUID2", index);
		free(c);
		return err;
	}
	out->ncpuid = c->nent;
	memcpy(out->cpuid, c->entries, c->nent * sizeof(c->entries[0]));
	free(c);
	return 0;
}

static int kvm_save_xsave(int vcpu_fd, int index, struct snap_vcpu *out, struct fault *f)
{
	struct kvm_xsave *x = calloc(1, sizeof(*x));

	if (!x)
		return -ENOMEM;
	if (ioctl(vcpu_fd, KVM_GET_XSAVE, x)) {
		int err = kvm_fail(f, "KVM_GET_XSAVE", index);
		free(x);
		return err;
	}
	memcpy(out->xsave, x->region, sizeof(out->xsave));
	free(x);
	return 0;
}

int snap_kvm_save_vcpu(int kvm_fd, int vcpu_fd, int index, struct snap_vcpu *out, struct fault *f)
{
	int khz, err;

	memset(out, 0, sizeof(*out));
	/* MP state first: reading it makes KVM take pending INIT/SIPI events. */
	if (ioctl(vcpu_fd, KVM_GET_MP_STATE, &out->mp_state))
		return kvm_fail(f, "KVM_GET_MP_STATE", index);
	if (ioctl(vcpu_fd, KVM_GET_REGS, &out->regs))
		return kvm_fail(f, "KVM_GET_REGS", index);
	if (ioctl(vcpu_fd, KVM_GET_SREGS, &out->sregs))
		return kvm_fail(f, "KVM_GET_SREGS", index);
	err = kvm_save_xsave(vcpu_fd, index, out, f);
	if (err)
		return err;
	if (ioctl(vcpu_fd, KVM_GET_XCRS, &out->xcrs))
		return kvm_fail(f, "KVM_GET_XCRS", index);
	if (ioctl(vcpu_fd, KVM_GET_DEBUGREGS, &out->debugregs))
		return kvm_fail(f, "KVM_GET_DEBUGREGS", index);
	if (ioctl(vcpu_fd, KVM_GET_LAPIC, &out->lapic))
		return kvm_fail(f, "KVM_GET_LAPIC", index);
	khz = ioctl(vcpu_fd, KVM_GET_TSC_KHZ, 0);
	out->tsc_khz = khz > 0 ? (uint32_t)khz : 0;
	err = kvm_save_cpuid(vcpu_fd, index, out, f);
	if (!err)
		err = kvm_save_msrs(kvm_fd, vcpu_fd, index, out, f);
	if (!err && ioctl(vcpu_fd, KVM_GET_VCPU_EVENTS, &out->events))
		err = kvm_fail(f, "KVM_GET_VCPU_EVENTS", index);
	return err;
}

static int kvm_restore_cpuid(int vcpu_fd, int index, const struct snap_vcpu *in, struct fault *f)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + in->ncpuid * sizeof(struct kvm_cpuid_entry2));
	int err = 0;

	if (!c)
		return -ENOMEM;
	c->nent = in->ncpuid;
	memcpy(c->entries, in->cpuid, in->ncpuid * sizeof(c->entries[0]));
	if (ioctl(vcpu_fd, KVM_SET_CPUID2, c))
		err = kvm_fail(f, "restoring CPUID (KVM_SET_CPUID2)", index);
	free(c);
	return err;
}

static int kvm_restore_msrs(int vcpu_fd, int index, const struct snap_vcpu *in, struct fault *f)
{
	struct kvm_msrs *m = kvm_msrs_alloc();
	int got, err = 0;

	if (!m)
		return -ENOMEM;
	m->nmsrs = in->nmsrs;
	memcpy(m->entries, in->msrs, in->nmsrs * sizeof(m->entries[0]));
	got = ioctl(vcpu_fd, KVM_SET_MSRS, m);
	if (got < 0) {
		err = kvm_fail(f, "restoring MSRs (KVM_SET_MSRS)", index);
	} else if ((uint32_t)got != in->nmsrs) {
		fault_set(f, "vCPU %d: KVM refused MSR 0x%x of the snapshot", index,
			  in->msrs[got].index);
		err = -EINVAL;
	}
	free(m);
	return err;
}

static int kvm_restore_xsave(int vcpu_fd, int index, const struct snap_vcpu *in, struct fault *f)
{
	struct kvm_xsave *x = calloc(1, sizeof(*x));
	int err = 0;

	if (!x)
		return -ENOMEM;
	memcpy(x->region, in->xsave, sizeof(in->xsave));
	if (ioctl(vcpu_fd, KVM_SET_XSAVE, x))
		err = kvm_fail(f, "restoring the FPU state (KVM_SET_XSAVE)", index);
	free(x);
	return err;
}

/* The TSC frequency first, so the TSC MSR written later counts at the
 * guest's rate. */
static void kvm_restore_tsc_khz(int vcpu_fd, const struct snap_vcpu *in, bool *tsc_scaled_off)
{
	int khz = ioctl(vcpu_fd, KVM_GET_TSC_KHZ, 0);

	*tsc_scaled_off = false;
	if (in->tsc_khz == 0 || khz <= 0 || (uint32_t)khz == in->tsc_khz)
		return;
	if (ioctl(vcpu_fd, KVM_SET_TSC_KHZ, (unsigned long)in->tsc_khz))
		*tsc_scaled_off = true;
}

int snap_kvm_restore_vcpu(int vcpu_fd, int index, const struct snap_vcpu *in, bool *tsc_scaled_off,
			  struct fault *f)
{
	struct snap_vcpu *c = malloc(sizeof(*c)); /* the ioctls take non-const pointers */
	int err;

	if (!c)
		return -ENOMEM;
	*c = *in;
	err = kvm_restore_cpuid(vcpu_fd, index, c, f);
	if (!err)
		kvm_restore_tsc_khz(vcpu_fd, c, tsc_scaled_off);
	if (!err && ioctl(vcpu_fd, KVM_SET_SREGS, &c->sregs))
		err = kvm_fail(f, "restoring sregs (KVM_SET_SREGS)", index);
	if (!err && ioctl(vcpu_fd, KVM_SET_REGS, &c->regs))
		err = kvm_fail(f, "restoring registers (KVM_SET_REGS)", index);
	if (!err)
		err = kvm_restore_xsave(vcpu_fd, index, c, f);
	if (!err && ioctl(vcpu_fd, KVM_SET_XCRS, &c->xcrs))
		err = kvm_fail(f, "restoring XCRs (KVM_SET_XCRS)", index);
	if (!err && ioctl(vcpu_fd, KVM_SET_DEBUGREGS, &c->debugregs))
		err = kvm_fail(f, "restoring debug registers (KVM_SET_DEBUGREGS)", index);
	if (!err && ioctl(vcpu_fd, KVM_SET_LAPIC, &c->lapic))
		err = kvm_fail(f, "restoring the LAPIC (KVM_SET_LAPIC)", index);
	if (!err)
		err = kvm_restore_msrs(vcpu_fd, index, c, f);
	if (!err && ioctl(vcpu_fd, KVM_SET_MP_STATE, &c->mp_state))
		err = kvm_fail(f, "restoring the MP state (KVM_SET_MP_STATE)", index);
	if (!err && ioctl(vcpu_fd, KVM_SET_VCPU_EVENTS, &c->events))
		err = kvm_fail(f, "restoring pending events (KVM_SET_VCPU_EVENTS)", index);
	free(c);
	return err;
}

int snap_kvm_dirty_log(int vm_fd, uint32_t slot, uint64_t npages, uint64_t *bitmap)
{
	size_t words = (size_t)((npages + 63) / 64);
	uint64_t *b = calloc(words ? words : 1, sizeof(uint64_t));
	struct kvm_dirty_log log = {.slot = slot};
	int err = 0;

	if (!b)
		return -ENOMEM;
	log.dirty_bitmap = b;
	if (ioctl(vm_fd, KVM_GET_DIRTY_LOG, &log))
		err = -errno;
	for (size_t i = 0; !err && i < words; i++)
		bitmap[i] |= b[i];
	free(b);
	return err;
}
