/* The VMM: owns the configuration, the event loop and (once started) the
 * microVM. Everything here runs on the VMM thread (main's thread): the
 * config-file path calls it directly, the API reaches it through api/'s
 * request channel, whose handlers run on this thread too. */
#ifndef FLINT_VMM_VMM_H
#define FLINT_VMM_VMM_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/config.h"
#include "vmm/event_loop.h"
#include "vmm/log.h"
#include "vmm/metrics.h"
#include "vmm/vm.h"

enum vmm_state { VMM_NOT_STARTED = 0, VMM_RUNNING, VMM_PAUSED };

/* Snapshot bookkeeping (vmm/vmm_snapshot.c); all zero in a fresh VMM. */
struct vmm_snap {
	bool baseline;		   /* a snapshot was created or loaded: a Diff has a base */
	bool mem_mapped;	   /* guest RAM is a private mapping of this file: */
	uint64_t mem_dev, mem_ino; /* never overwrite it (clones share it) */
	bool has_uffd;		   /* guest RAM is served by a page-fault handler */
	int uffd;		   /* held open for the VM's life, as Firecracker does */
};

struct vmm {
	struct logger *log;
	struct vm_config cfg;
	struct vm_options opt;
	struct ev_loop loop;
	struct vm *vm; /* NULL until InstanceStart */
	enum vmm_state state;
	int exit_status; /* valid once the loop has stopped */
	char instance_id[65];
	uint64_t start_wall_us, start_cpu_us;
	uint64_t startup_wall_us, startup_cpu_us; /* process start to API (or VM) ready */
	struct metrics metrics;
	struct vmm_snap snap;
};

/* Set up an idle VMM with the default configuration. v comes all zero
 * (calloc): it is over 150 KiB, and only the fields set here are written,
 * so start-up does not fault in pages it never uses. 0 or -errno. */
int vmm_init(struct vmm *v, struct logger *log, const struct vm_options *opt, const char *id);
/* InstanceStart: validate the configuration, build the microVM and run it. */
int vmm_start_instance(struct vmm *v, struct fault *f);
/* PATCH /vm: pause or resume every vCPU. */
int vmm_pause(struct vmm *v, struct fault *f);
int vmm_resume(struct vmm *v, struct fault *f);
/* SendCtrlAltDel: the guest sees Ctrl-Alt-Del on its keyboard. */
int vmm_send_ctrl_alt_del(struct vmm *v, struct fault *f);
/* PATCH /drives/{id} and /network-interfaces/{id} on a running microVM. */
struct body_drive_patch;
struct body_net_patch;
int vmm_patch_drive(struct vmm *v, const struct body_drive_patch *p, struct fault *f);
int vmm_patch_net(struct vmm *v, const struct body_net_patch *p, struct fault *f);
/* PUT /logger and PUT /metrics took effect in cfg: apply them now. */
int vmm_apply_logger(struct vmm *v, struct fault *f);
int vmm_apply_metrics(struct vmm *v, struct fault *f);
/* FlushMetrics. */
int vmm_flush_metrics(struct vmm *v, struct fault *f);
/* Run the event loop until the microVM ends; returns flint's exit status. */
int vmm_run(struct vmm *v);
void vmm_destroy(struct vmm *v);

#endif
