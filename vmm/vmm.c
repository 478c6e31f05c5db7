/* VMM lifecycle: not started -> running <-> paused -> ended. */
#include "vmm/vmm.h"

#include "api/body.h"
#include "devices/rate_limiter.h"
#include "devices/virtio/block.h"
#include "devices/virtio/net.h"
#include "vmm/seccomp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int vmm_init(struct vmm *v, struct logger *log, const struct vm_options *opt, const char *id)
{
	v->log = log;
	v->opt = *opt;
	v->exit_status = FLINT_EXIT_OK;
	snprintf(v->instance_id, sizeof(v->instance_id), "%s", id);
	metrics_init_zeroed(&v->metrics);
	cfg_init_zeroed(&v->cfg);
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
	if (err) {
		vm_destroy(v->vm);
		free(v->vm);
		v->vm = NULL;
		return err;
	}
	vm_resume(v->vm); /* vm_build left the vCPUs paused */
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

/* The running device behind a configured id (kind "block" or "net"). */
static void *vmm_device(struct vmm *v, const char *kind, const char *id)
{
	for (int i = 0; v->vm && i < v->vm->ndevices; i++) {
		const struct vm_device *d = &v->vm->devices[i];
		if (strcmp(d->kind, kind) == 0 && strcmp(d->id, id) == 0)
			return d->dev;
	}
	return NULL;
}

/* Firecracker's PATCH: only the buckets given change. */
static void vmm_merge_limiter(struct cfg_rate_limiter *dst, const struct cfg_rate_limiter *src)
{
	if (src->bandwidth.set)
		dst->bandwidth = src->bandwidth;
	if (src->ops.set)
		dst->ops = src->ops;
}

int vmm_patch_drive(struct vmm *v, const struct body_drive_patch *p, struct fault *f)
{
	int i = vmm_find_drive(v, p->drive_id, f);
	struct cfg_drive *d;
	struct virtio_blk *b;

	if (i < 0)
		return -ENOENT;
	d = &v->cfg.drives[i];
	b = vmm_device(v, "block", p->drive_id);
	if (!b) {
		fault_set(f, "Drive %s is not attached to the running microVM.", p->drive_id);
		return -ENOENT;
	}
	/* The new image is opened (and checked) before anything changes. */
	if (p->has_path_on_host && blk_update_path(b, p->path_on_host, f) != 0)
		return -EINVAL;
	if (p->has_path_on_host)
		snprintf(d->path_on_host, sizeof(d->path_on_host), "%s", p->path_on_host);
	if (p->has_rate_limiter) {
		vmm_merge_limiter(&d->rate_limiter, &p->rate_limiter);
		blk_update_rate_limiter(b, &p->rate_limiter);
	}
	LOG_INFO(v->log, "Drive %s updated", p->drive_id);
	return 0;
}

int vmm_patch_net(struct vmm *v, const struct body_net_patch *p, struct fault *f)
{
	struct cfg_net *n = NULL;
	struct virtio_net *dev;

	for (int i = 0; i < v->cfg.nnets; i++)
		if (strcmp(v->cfg.nets[i].iface_id, p->iface_id) == 0)
			n = &v->cfg.nets[i];
	dev = n ? vmm_device(v, "net", p->iface_id) : NULL;
	if (!dev) {
		fault_set(f, "Invalid network interface ID: %s", p->iface_id);
		return -ENOENT;
	}
	if (p->has_rx_rate_limiter) {
		vmm_merge_limiter(&n->rx_rate_limiter, &p->rx_rate_limiter);
		rl_update(&dev->rx_rl, &p->rx_rate_limiter, dev->now_ns());
	}
	if (p->has_tx_rate_limiter) {
		vmm_merge_limiter(&n->tx_rate_limiter, &p->tx_rate_limiter);
		rl_update(&dev->tx_rl, &p->tx_rate_limiter, dev->now_ns());
	}
	LOG_INFO(v->log, "Network interface %s updated", p->iface_id);
	return 0;
}
