/* KVM system and VM level set-up. */
#include "vmm/kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "boot/layout.h"

/* Just below the 4 GiB boundary, where no RAM or MMIO device lives. */
#define KVM_TSS_ADDR	      0xfffbd000ULL
#define KVM_IDENTITY_MAP_ADDR 0xfffbc000ULL
#define KVM_CPUID_MAX_ENTRIES 512

struct kvm_cap_need {
	int cap;
	const char *name;
};

static const struct kvm_cap_need needed_caps[] = {
    {KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP"},
    {KVM_CAP_HLT, "KVM_CAP_HLT"},
    {KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
    {KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR"},
    {KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
    {KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD"},
    {KVM_CAP_IRQFD, "KVM_CAP_IRQFD"},
    {KVM_CAP_PIT2, "KVM_CAP_PIT2"},
    {KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
    {KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE"},
};

static int kvm_check_caps(struct kvm *k, struct fault *f)
{
	for (size_t i = 0; i < sizeof(needed_caps) / sizeof(needed_caps[0]); i++) {
		if (ioctl(k->kvm_fd, KVM_CHECK_EXTENSION, needed_caps[i].cap) <= 0) {
			fault_set(f, "/dev/kvm lacks a capability flint needs: %s",
				  needed_caps[i].name);
			return -ENOTSUP;
		}
	}
	k->max_vcpus = ioctl(k->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (k->max_vcpus <= 0)
		k->max_vcpus = ioctl(k->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	return 0;
}

static int kvm_get_supported_cpuid(struct kvm *k, struct fault *f)
{
	size_t sz =
	    sizeof(struct kvm_cpuid2) + KVM_CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *c = calloc(1, sz);

	if (!c)
		return -ENOMEM;
	c->nent = KVM_CPUID_MAX_ENTRIES;
	if (ioctl(k->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) != 0) {
		int err = -errno;
		fault_set(f, "KVM_GET_SUPPORTED_CPUID failed: %s", strerror(errno));
		free(c);
		return err;
	}
	k->supported_cpuid = c;
	return 0;
}

int kvm_open(struct kvm *k, const char *dev_path, struct fault *f)
{
	int ver, err;

	memset(k, 0, sizeof(*k));
	k->vm_fd = -1;
	k->kvm_fd = open(dev_path, O_RDWR | O_CLOEXEC);
	if (k->kvm_fd < 0) {
		err = -errno;
		if (errno == ENOENT)
			fault_set(f,
				  "%s does not exist: this host has no KVM (enable virtualization "
				  "or load the kvm module)",
				  dev_path);
		else
			fault_set(f, "cannot open %s: %s", dev_path, strerror(errno));
		return err;
	}
	ver = ioctl(k->kvm_fd, KVM_GET_API_VERSION, 0);
	if (ver != KVM_API_VERSION) {
		fault_set(f, "%s speaks KVM API version %d, flint needs %d", dev_path, ver,
			  KVM_API_VERSION);
		err = -ENOTSUP;
		goto fail;
	}
	err = kvm_check_caps(k, f);
	if (err)
		goto fail;
	k->run_size = ioctl(k->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (k->run_size <= 0) {
		fault_set(f, "KVM_GET_VCPU_MMAP_SIZE failed");
		err = -ENOTSUP;
		goto fail;
	}
	err = kvm_get_supported_cpuid(k, f);
	if (err)
		goto fail;
	return 0;
fail:
	close(k->kvm_fd);
	k->kvm_fd = -1;
	return err;
}

/* Record why an ioctl failed; returns -errno of that failure. */
static int kvm_fail(struct fault *f, const char *what)
{
	int err = errno;

	fault_set(f, "%s failed: %s", what, strerror(err));
	return -err;
}

int kvm_create_vm(struct kvm *k, struct fault *f)
{
	uint64_t identity = KVM_IDENTITY_MAP_ADDR;

	k->vm_fd = ioctl(k->kvm_fd, KVM_CREATE_VM, 0);
	if (k->vm_fd < 0) {
		return kvm_fail(f, "KVM_CREATE_VM");
	}
	if (ioctl(k->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_ADDR) != 0 ||
	    ioctl(k->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &identity) != 0) {
		return kvm_fail(f, "setting the TSS / identity map address");
	}
	return 0;
}

int kvm_create_irqchip(struct kvm *k, struct fault *f)
{
	if (ioctl(k->vm_fd, KVM_CREATE_IRQCHIP, 0) != 0) {
		return kvm_fail(f, "KVM_CREATE_IRQCHIP");
	}
	return 0;
}

int kvm_create_pit(struct kvm *k, struct fault *f)
{
	struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};

	if (ioctl(k->vm_fd, KVM_CREATE_PIT2, &pit) != 0) {
		return kvm_fail(f, "KVM_CREATE_PIT2");
	}
	return 0;
}

int kvm_set_memory(struct kvm *k, const struct guest_mem *mem, bool dirty_log, struct fault *f)
{
	for (int i = 0; i < mem->nregions; i++) {
		const struct gm_region *r = &mem->regions[i];
		struct kvm_userspace_memory_region slot = {
		    .slot = (uint32_t)i,
		    .flags = dirty_log ? KVM_MEM_LOG_DIRTY_PAGES : 0,
		    .guest_phys_addr = r->gpa,
		    .memory_size = r->size,
		    .userspace_addr = (uint64_t)(uintptr_t)r->host,
		};
		if (ioctl(k->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) != 0) {
			return kvm_fail(f, "KVM_SET_USER_MEMORY_REGION");
		}
	}
	return 0;
}

int kvm_irq_level(int vm_fd, uint32_t irq, int level)
{
	struct kvm_irq_level l = {.irq = irq, .level = (uint32_t)level};

	return ioctl(vm_fd, KVM_IRQ_LINE, &l) != 0 ? -errno : 0;
}

int kvm_irq_pulse(int vm_fd, uint32_t irq)
{
	int err = kvm_irq_level(vm_fd, irq, 1);

	return err ? err : kvm_irq_level(vm_fd, irq, 0);
}

void kvm_close(struct kvm *k)
{
	if (k->vm_fd >= 0)
		close(k->vm_fd);
	if (k->kvm_fd >= 0)
		close(k->kvm_fd);
	free(k->supported_cpuid);
	k->supported_cpuid = NULL;
	k->vm_fd = k->kvm_fd = -1;
}
