/* A microVM: KVM VM, guest memory, legacy devices, vCPUs and the boot
 * set-up, built from a struct vm_config. Built and run by the VMM thread
 * (main's thread); vCPU threads reach it only through struct vcpu_env. */
#ifndef FLINT_VMM_VM_H
#define FLINT_VMM_VM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "boot/cmdline.h"
#include "boot/kernel.h"
#include "boot/layout.h"
#include "devices/boot_timer.h"
#include "devices/i8042.h"
#include "devices/serial.h"
#include "vmm/bus.h"
#include "vmm/config.h"
#include "vmm/event_loop.h"
#include "vmm/guest_mem.h"
#include "vmm/kvm.h"
#include "vmm/log.h"
#include "vmm/vcpu.h"
#include "vmm/vm_devices.h"

struct vm_options {
	const char *kvm_path;	/* "/dev/kvm" */
	int serial_in_fd;	/* -1: no console input */
	int serial_out_fd;	/* where the console goes; -1 discards */
	uint64_t start_wall_us; /* the start of the boot, for the boot timer */
	uint64_t start_cpu_us;
	bool prefer_pvh;		      /* boot an ELF through PVH when it can */
	bool boot_timer;		      /* --boot-timer: the boot-timer device exists */
	bool for_restore;		      /* build the machine only: no kernel, no boot set-up;
					       * a snapshot restore fills in memory and state */
	const struct seccomp_policy *seccomp; /* each thread's filter; NULL: none */
};

struct vm {
	const struct vm_config *cfg;
	struct vm_options opt;
	struct logger *log;
	struct ev_loop *loop;
	struct kvm kvm;
	struct guest_mem mem;
	struct bus pio;
	struct bus mmio;
	struct serial serial;
	struct i8042 i8042;
	struct boot_timer boot_timer;
	struct kernel_image kernel;
	struct cmdline cmdline; /* complete once devices have added to it */
	struct vm_device devices[LAYOUT_VIRTIO_MAX];
	int ndevices;
	int nvirtio; /* virtio-mmio slots used */
	struct vcpu_env vcpu_env;
	struct vcpu vcpus[LAYOUT_MAX_VCPUS];
	int nvcpus;
	int end_evt;		/* eventfd: a vCPU or device asks to end the VM */
	_Atomic int end_status; /* -1 until someone asks */
	char end_reason[160];	/* written by the first asker only */
	bool serial_in_paused;	/* the console FIFO is full */
	int serial_space_evt;	/* eventfd: the guest drained the console FIFO */
	int serial_out_fd;	/* serial_out_path, if configured */
};

/* Build everything up to (not including) running the vCPUs: their threads
 * exist, paused, when it returns (vm_resume lets them run). On failure f
 * says why; vm_destroy cleans up whatever was built. */
int vm_build(struct vm *vm, const struct vm_config *cfg, const struct vm_options *opt,
	     struct logger *log, struct ev_loop *loop, struct fault *f);
/* Boot set-up, in vm_boot.c: load the kernel and start the command line
 * (before devices add to it), then place the initrd, command line and boot
 * structures and set up the boot vCPU (after). */
int vm_boot_load_kernel(struct vm *vm, struct fault *f);
int vm_boot_finish(struct vm *vm, struct fault *f);

/* Pause or resume every vCPU (waits until they are). */
void vm_pause(struct vm *vm);
void vm_resume(struct vm *vm);
/* True once the VM has asked to end; *status then holds the exit status. */
bool vm_ended(struct vm *vm, int *status);
/* Ask the VM to end (any thread). First caller's status wins. */
void vm_request_end(struct vm *vm, int status, const char *why);
/* Stop the vCPUs and release everything. */
void vm_destroy(struct vm *vm);

#endif
