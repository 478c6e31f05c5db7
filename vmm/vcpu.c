/* vCPU threads and exit decoding. */
#include "vmm/vcpu.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "boot/cpuid.h"
#include "boot/regs.h"
#include "devices/boot_timer.h"
#include "vmm/cond.h"
#include "vmm/seccomp.h"

#define VCPU_KICK_SIGNAL (SIGRTMIN + 1)
#define VCPU_MAX_MSRS	 32

/* APIC local vector table delivery modes (Intel SDM vol. 3, 10.5.1). */
#define APIC_LVT0_OFFSET 0x350
#define APIC_LVT1_OFFSET 0x360
#define APIC_MODE_NMI	 0x4
#define APIC_MODE_EXTINT 0x7

static void vcpu_kick_handler(int sig)
{
	(void)sig; /* only interrupts KVM_RUN */
}

int vcpu_install_kick_signal(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = vcpu_kick_handler;
	sigemptyset(&sa.sa_mask);
	return sigaction(VCPU_KICK_SIGNAL, &sa, NULL) != 0 ? -errno : 0;
}

int vcpu_create(struct vcpu *v, int vm_fd, int index, size_t run_size, const struct vcpu_env *env,
		struct fault *f)
{
	memset(v, 0, sizeof(*v));
	v->index = index;
	v->env = env;
	v->run_size = run_size;
	v->want = v->state = VCPU_PAUSED;
	pthread_mutex_init(&v->lock, NULL);
	cond_init_monotonic(&v->cond); /* vcpu_wait_state's deadline */
	v->fd = ioctl(vm_fd, KVM_CREATE_VCPU, (unsigned long)index);
	if (v->fd < 0) {
		int err = errno;
		fault_set(f, "KVM_CREATE_VCPU %d failed: %s", index, strerror(err));
		return -err;
	}
	v->run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		int err = errno;
		v->run = NULL;
		fault_set(f, "mapping kvm_run of vCPU %d failed: %s", index, strerror(err));
		return -err;
	}
	return 0;
}

static int vcpu_set_cpuid(struct vcpu *v, const struct kvm_cpuid2 *supported, int ncpus, bool smt,
			  struct fault *f)
{
	int max = (int)supported->nent + CPUID_EXTRA_ENTRIES;
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + (size_t)max * sizeof(c->entries[0]));
	int n, err = 0;

	if (!c)
		return -ENOMEM;
	/* cpuid_build adds the topology subleaves KVM leaves to userspace. */
	n = cpuid_build(supported->entries, (int)supported->nent, c->entries, max, v->index, ncpus,
			smt);
	if (n < 0) {
		fault_set(f, "CPUID set-up for vCPU %d failed", v->index);
		err = n;
	} else {
		c->nent = (uint32_t)n;
		if (ioctl(v->fd, KVM_SET_CPUID2, c) != 0) {
			err = -errno;
			fault_set(f, "KVM_SET_CPUID2 on vCPU %d failed: %s", v->index,
				  strerror(errno));
		}
	}
	free(c);
	return err;
}

static int vcpu_set_msrs(struct vcpu *v, struct fault *f)
{
	struct kvm_msrs *m = calloc(1, sizeof(*m) + VCPU_MAX_MSRS * sizeof(m->entries[0]));
	int n, err = 0;

	if (!m)
		return -ENOMEM;
	n = regs_boot_msrs(m->entries, VCPU_MAX_MSRS);
	if (n < 0) {
		err = n;
	} else {
		m->nmsrs = (uint32_t)n;
		if (ioctl(v->fd, KVM_SET_MSRS, m) != n) {
			fault_set(f, "KVM_SET_MSRS on vCPU %d did not set all %d boot MSRs",
				  v->index, n);
			err = -EIO;
		}
	}
	free(m);
	return err;
}

static void lapic_set_lvt(struct kvm_lapic_state *l, int offset, uint32_t mode)
{
	uint32_t reg;

	memcpy(&reg, &l->regs[offset], sizeof(reg));
	reg = (reg & ~0x700U) | (mode << 8);
	memcpy(&l->regs[offset], &reg, sizeof(reg));
}

/* LINT0 as ExtINT (the PIC's interrupts) and LINT1 as NMI, as a BIOS would. */
static int vcpu_set_lint(struct vcpu *v, struct fault *f)
{
	struct kvm_lapic_state l;

	if (ioctl(v->fd, KVM_GET_LAPIC, &l) != 0)
		goto fail;
	lapic_set_lvt(&l, APIC_LVT0_OFFSET, APIC_MODE_EXTINT);
	lapic_set_lvt(&l, APIC_LVT1_OFFSET, APIC_MODE_NMI);
	if (ioctl(v->fd, KVM_SET_LAPIC, &l) != 0)
		goto fail;
	return 0;
fail:
	fault_set(f, "LAPIC set-up on vCPU %d failed: %s", v->index, strerror(errno));
	return -EIO;
}

int vcpu_configure(struct vcpu *v, const struct kvm_cpuid2 *supported, int ncpus, bool smt,
		   struct fault *f)
{
	struct kvm_fpu fpu;
	int err = vcpu_set_cpuid(v, supported, ncpus, smt, f);

	if (!err)
		err = vcpu_set_msrs(v, f);
	if (!err) {
		memset(&fpu, 0, sizeof(fpu));
		regs_fpu(&fpu);
		if (ioctl(v->fd, KVM_SET_FPU, &fpu) != 0) {
			fault_set(f, "KVM_SET_FPU on vCPU %d failed", v->index);
			err = -EIO;
		}
	}
	if (!err)
		err = vcpu_set_lint(v, f);
	return err;
}

static void vcpu_end_vm(struct vcpu *v, int status, const char *why)
{
	v->env->end_vm(v->env->ctx, status, why);
}

static void vcpu_handle_io(struct vcpu *v)
{
	struct kvm_run *r = v->run;
	uint32_t size = r->io.size;
	uint64_t span = (uint64_t)size * r->io.count;
	uint8_t *data = (uint8_t *)r + r->io.data_offset;

	/* KVM fills these, but a bad offset would make us write anywhere. */
	if (size > 8 || r->io.data_offset >= v->run_size ||
	    span > v->run_size - r->io.data_offset) {
		vcpu_end_vm(v, FLINT_EXIT_UNEXPECTED, "malformed KVM_EXIT_IO");
		return;
	}
	for (uint32_t i = 0; i < r->io.count; i++, data += size) {
		if (r->io.direction == KVM_EXIT_IO_OUT) {
			v->counters.exits_io_out++;
			bus_write(v->env->pio, r->io.port, data, size);
		} else {
			v->counters.exits_io_in++;
			bus_read(v->env->pio, r->io.port, data, size);
		}
	}
}

static void vcpu_handle_mmio(struct vcpu *v)
{
	struct kvm_run *r = v->run;
	uint32_t len = r->mmio.len > 8 ? 8 : r->mmio.len;

	if (r->mmio.is_write) {
		v->counters.exits_mmio_write++;
		bus_write(v->env->mmio, r->mmio.phys_addr, r->mmio.data, len);
	} else {
		v->counters.exits_mmio_read++;
		bus_read(v->env->mmio, r->mmio.phys_addr, r->mmio.data, len);
	}
}

static void vcpu_report_internal_error(struct vcpu *v)
{
	struct kvm_run *r = v->run;
	struct kvm_regs regs;
	char why[192];
	int n;

	n = snprintf(why, sizeof(why), "vCPU %d: KVM internal error, suberror %u%s", v->index,
		     r->internal.suberror,
		     r->internal.suberror == KVM_INTERNAL_ERROR_EMULATION
			 ? " (an instruction KVM cannot emulate)"
			 : "");
	/* Where it happened, for whoever debugs the guest. */
	if (ioctl(v->fd, KVM_GET_REGS, &regs) == 0 && n > 0 && (size_t)n < sizeof(why))
		snprintf(why + n, sizeof(why) - (size_t)n, " at rip 0x%llx",
			 (unsigned long long)regs.rip);
	vcpu_end_vm(v, FLINT_EXIT_GENERIC, why);
}

/* Decode one exit. Returns true if the thread should keep running. */
static bool vcpu_handle_exit(struct vcpu *v)
{
	struct kvm_run *r = v->run;
	char why[128];

	switch (r->exit_reason) {
	case KVM_EXIT_IO:
		vcpu_handle_io(v);
		return true;
	case KVM_EXIT_MMIO:
		vcpu_handle_mmio(v);
		return true;
	case KVM_EXIT_INTR:
		return true;
	case KVM_EXIT_HLT:
		vcpu_end_vm(v, FLINT_EXIT_OK, "guest halted");
		return false;
	case KVM_EXIT_SHUTDOWN:
		vcpu_end_vm(v, FLINT_EXIT_OK, "guest shutdown (triple fault)");
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		snprintf(why, sizeof(why), "guest system event %u", r->system_event.type);
		vcpu_end_vm(v, FLINT_EXIT_OK, why);
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		vcpu_report_internal_error(v);
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(why, sizeof(why), "vCPU %d: entry failed, reason 0x%llx", v->index,
			 (unsigned long long)r->fail_entry.hardware_entry_failure_reason);
		vcpu_end_vm(v, FLINT_EXIT_GENERIC, why);
		return false;
	default:
		snprintf(why, sizeof(why), "vCPU %d: unexpected exit reason %u", v->index,
			 r->exit_reason);
		vcpu_end_vm(v, FLINT_EXIT_UNEXPECTED, why);
		return false;
	}
}

static void vcpu_run_failed(struct vcpu *v)
{
	char why[96];

	v->counters.failures++;
	snprintf(why, sizeof(why), "vCPU %d: KVM_RUN failed: %s", v->index, strerror(errno));
	vcpu_end_vm(v, FLINT_EXIT_GENERIC, why);
}

/* Block while paused; returns the state to act on (RUNNING or STOPPED). */
static enum vcpu_state vcpu_wait_runnable(struct vcpu *v)
{
	enum vcpu_state s;

	pthread_mutex_lock(&v->lock);
	while (v->want == VCPU_PAUSED) {
		if (v->state != VCPU_PAUSED) {
			v->state = VCPU_PAUSED;
			pthread_cond_broadcast(&v->cond);
		}
		pthread_cond_wait(&v->cond, &v->lock);
	}
	s = v->want;
	if (s == VCPU_RUNNING && v->state != VCPU_RUNNING) {
		v->state = VCPU_RUNNING;
		pthread_cond_broadcast(&v->cond);
	}
	/* Cleared under the lock: a kicker sets it under the same lock. */
	v->run->immediate_exit = 0;
	pthread_mutex_unlock(&v->lock);
	return s;
}

static void vcpu_mark_stopped(struct vcpu *v)
{
	pthread_mutex_lock(&v->lock);
	v->state = VCPU_STOPPED;
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
}

/* KVM_RUN with immediate_exit set completes a pending port or MMIO read
 * before returning EINTR (KVM API, "immediate_exit"), so a vCPU is only
 * paused from the EINTR path: its state is then consistent for a snapshot. */
static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	char name[16];

	snprintf(name, sizeof(name), "fc_vcpu %d", v->index);
	log_set_thread_name(name);
	seccomp_install_or_exit(v->env->seccomp, SECCOMP_THREAD_VCPU);
	if (vcpu_wait_runnable(v) != VCPU_RUNNING)
		goto out;
	/* Benchmarks compare this with the time they spawned flint. */
	if (v->index == 0)
		LOG_DEBUG(v->env->log, "first KVM_RUN at monotonic %llu us, process CPU %llu us",
			  (unsigned long long)clock_mono_us(), (unsigned long long)clock_cpu_us());
	for (;;) {
		if (ioctl(v->fd, KVM_RUN, 0) != 0) {
			if (errno == EINTR) { /* kicked: pause or stop if asked */
				if (vcpu_wait_runnable(v) != VCPU_RUNNING)
					break;
				continue;
			}
			if (errno == EAGAIN) /* an AP woke before its SIPI */
				continue;
			vcpu_run_failed(v);
			break;
		}
		if (!vcpu_handle_exit(v))
			break;
	}
out:
	vcpu_mark_stopped(v);
	return NULL;
}

int vcpu_start(struct vcpu *v, enum vcpu_state initial)
{
	int err;

	v->want = initial;
	err = pthread_create(&v->thread, NULL, vcpu_thread, v);
	if (err)
		return -err;
	v->thread_started = true;
	return 0;
}

void vcpu_request_state(struct vcpu *v, enum vcpu_state s)
{
	if (!v->thread_started)
		return;
	pthread_mutex_lock(&v->lock);
	if (v->state != VCPU_STOPPED) {
		v->want = s;
		if (s != VCPU_RUNNING) {
			v->run->immediate_exit = 1;
			pthread_kill(v->thread, VCPU_KICK_SIGNAL);
		}
		pthread_cond_broadcast(&v->cond);
	}
	pthread_mutex_unlock(&v->lock);
}

bool vcpu_wait_state(struct vcpu *v, enum vcpu_state s, unsigned ms)
{
	struct timespec deadline = cond_deadline_ms(ms);
	bool there;

	if (!v->thread_started)
		return true;
	pthread_mutex_lock(&v->lock);
	while (v->state != s && v->state != VCPU_STOPPED)
		if (pthread_cond_timedwait(&v->cond, &v->lock, &deadline) == ETIMEDOUT)
			break;
	there = v->state == s || v->state == VCPU_STOPPED;
	pthread_mutex_unlock(&v->lock);
	return there;
}

void vcpu_set_state(struct vcpu *v, enum vcpu_state s)
{
	vcpu_request_state(v, s);
	while (!vcpu_wait_state(v, s, 1000))
		;
}

void vcpu_destroy(struct vcpu *v)
{
	if (v->thread_started) {
		vcpu_set_state(v, VCPU_STOPPED);
		pthread_join(v->thread, NULL);
		v->thread_started = false;
	}
	if (v->run)
		munmap(v->run, v->run_size);
	if (v->fd > 0)
		close(v->fd);
	v->run = NULL;
	v->fd = -1;
	pthread_cond_destroy(&v->cond);
	pthread_mutex_destroy(&v->lock);
}
