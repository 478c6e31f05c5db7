/* VMM lifecycle: not started -> running <-> paused -> ended. */
#include "vmm/vmm.h"

#include "api/body.h"
#include "vmm/seccomp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int vmm_init(struct vmm *v, struct logger *log, const struct vm_options *opt, const char *id)
{
	memset(v, 0, sizeof(*v));
	v->log = log;
	v->opt = *opt;
	v->exit_status = FLINT_EXIT_OK;
	snprintf(v->instance_id, sizeof(v->instance_id), "%s", id);
	metrics_init(&v->metrics);
	cfg_init(&v->cfg);
	return ev_init(&v->loop);
}

int vmm_start_instance(struct vmm *v, struct fault *f)
{
	int err;

	if (v->state != VMM_NOT_STARTED) {
		fault_set(f, "The microVM is already running.");
		return -EINVAL;
	}
	err = cfg_validate_for_boot(&v->cfg, f);
	if (err)
		return err;
	v->vm = calloc(1, sizeof(*v->vm));
	if (!v->vm) {
		fault_set(f, "out of memory");
		return -ENOMEM;
	}
	err = vm_build(v->vm, &v->cfg, &v->opt, v->log, &v->loop, f);
	if (!err)
		err = vm_start(v->vm, f);
	if (err) {
		vm_destroy(v->vm);
		free(v->vm);
		v->vm = NULL;
		return err;
	}
	v->state = VMM_RUNNING;
	LOG_INFO(v->log, "Running microVM with %d vCPU(s) and %llu MiB", v->vm->nvcpus,
		 (unsigned long long)v->cfg.machine.mem_size_mib);
	/* After the vCPU threads exist: they must not inherit this filter. */
	seccomp_install_or_exit(v->opt.seccomp, SECCOMP_THREAD_VMM);
	return 0;
}

int vmm_pause(struct vmm *v, struct fault *f)
{
	if (v->state == VMM_NOT_STARTED) {
		fault_set(f, "The microVM is not running.");
		return -EINVAL;
	}
	vm_pause(v->vm);
	v->state = VMM_PAUSED;
	LOG_INFO(v->log, "microVM paused");
	return 0;
}

int vmm_resume(struct vmm *v, struct fault *f)
{
	if (v->state == VMM_NOT_STARTED) {
		fault_set(f, "The microVM is not running.");
		return -EINVAL;
	}
	vm_resume(v->vm);
	v->state = VMM_RUNNING;
	LOG_INFO(v->log, "microVM resumed");
	return 0;
}

int vmm_send_ctrl_alt_del(struct vmm *v, struct fault *f)
{
	if (v->state == VMM_NOT_STARTED) {
		fault_set(f, "The microVM is not running.");
		return -EINVAL;
	}
	if (i8042_ctrl_alt_del(&v->vm->i8042) != 0) {
		fault_set(f, "the guest's keyboard buffer is full");
		return -EBUSY;
	}
	return 0;
}

int vmm_run(struct vmm *v)
{
	int status;

	ev_run(&v->loop);
	if (v->vm && vm_ended(v->vm, &status)) {
		LOG_INFO(v->log, "microVM ended: %s (exit status %d)", v->vm->end_reason, status);
		v->exit_status = status;
	}
	/* A last flush, as Firecracker does on exit, so nothing counted is lost. */
	if (v->metrics.fd >= 0) {
		struct fault f = {""};
		vmm_flush_metrics(v, &f);
	}
	return v->exit_status;
}

void vmm_destroy(struct vmm *v)
{
	if (v->vm) {
		vm_destroy(v->vm);
		free(v->vm);
		v->vm = NULL;
	}
	metrics_close(&v->metrics);
	ev_destroy(&v->loop);
}

int vmm_apply_logger(struct vmm *v, struct fault *f)
{
	const struct cfg_logger *l = &v->cfg.logger;

	return log_apply(v->log, l->log_path, l->level[0] ? l->level : NULL, l->show_level,
			 l->show_log_origin, l->module[0] ? l->module : NULL, f);
}

static int vmm_find_drive(const struct vmm *v, const char *id, struct fault *f)
{
	for (int i = 0; i < v->cfg.ndrives; i++)
		if (strcmp(v->cfg.drives[i].drive_id, id) == 0)
			return i;
	fault_set(f, "Invalid block device ID: %s", id);
	return -1;
}

int vmm_patch_drive(struct vmm *v, const struct body_drive_patch *p, struct fault *f)
{
	if (vmm_find_drive(v, p->drive_id, f) < 0)
		return -ENOENT;
	fault_set(f,
		  "Updating drive %s of a running microVM is not supported by this flint "
		  "build yet.",
		  p->drive_id);
	return -ENOTSUP;
}

int vmm_patch_net(struct vmm *v, const struct body_net_patch *p, struct fault *f)
{
	for (int i = 0; i < v->cfg.nnets; i++) {
		if (strcmp(v->cfg.nets[i].iface_id, p->iface_id) == 0) {
			fault_set(f,
				  "Updating the rate limiters of network interface %s is not "
				  "supported by this flint build yet.",
				  p->iface_id);
			return -ENOTSUP;
		}
	}
	fault_set(f, "Invalid network interface ID: %s", p->iface_id);
	return -ENOENT;
}
