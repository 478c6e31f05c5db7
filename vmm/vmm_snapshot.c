/* PUT /snapshot/create and PUT /snapshot/load on the VMM. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/body.h"
#include "api/config_json.h"
#include "devices/boot_timer.h"
#include "snapshot/uffd.h"
#include "vmm/seccomp.h"
#include "vmm/vm_snapshot.h"
#include "vmm/vmm.h"

/* The configuration a snapshot keeps: the machine and its devices. The
 * boot source is not needed to restore, and the logger, metrics and serial
 * output belong to the process that restores. */
static int vmm_snap_config(const struct vm_config *cfg, char **json, size_t *len)
{
	struct vm_config *c = malloc(sizeof(*c));
	int err;

	if (!c)
		return -ENOMEM;
	*c = *cfg;
	memset(&c->boot_source, 0, sizeof(c->boot_source));
	memset(&c->logger, 0, sizeof(c->logger));
	memset(&c->metrics, 0, sizeof(c->metrics));
	memset(&c->serial, 0, sizeof(c->serial));
	err = cfgjson_write_vm(c, json, len);
	free(c);
	return err;
}

static int vmm_snap_check_create(struct vmm *v, const struct body_snapshot_create *b,
				 struct fault *f)
{
	if (v->state != VMM_PAUSED || !v->vm) {
		fault_set(f, "Cannot create a snapshot of a microVM that is not paused: pause it "
			     "first (PATCH /vm {\"state\": \"Paused\"}).");
		return -EINVAL;
	}
	if (b->type == BODY_SNAPSHOT_DIFF && !v->cfg.machine.track_dirty_pages) {
		fault_set(f, "Diff snapshots need dirty page tracking: set track_dirty_pages in "
			     "the machine configuration or in the snapshot load request.");
		return -EINVAL;
	}
	if (b->type == BODY_SNAPSHOT_DIFF && !v->snap.baseline) {
		fault_set(f, "A Diff snapshot needs a base: create a Full snapshot first, or load "
			     "this microVM from one.");
		return -EINVAL;
	}
	/* Clones share the file this VM's memory maps: it must never change. */
	if (v->snap.mem_mapped &&
	    snap_same_file(b->mem_file_path, v->snap.mem_dev, v->snap.mem_ino)) {
		fault_set(f,
			  "mem_file_path '%s' is the memory file this microVM was loaded from; "
			  "it is never written: choose another path.",
			  b->mem_file_path);
		return -EINVAL;
	}
	return 0;
}

/* The memory file: everything (Full) or the pages written since the last
 * snapshot (Diff). Either way the dirty record restarts here. */
static int vmm_snap_write_mem(struct vmm *v, const struct body_snapshot_create *b, struct fault *f)
{
	struct vm *vm = v->vm;
	bool track = v->cfg.machine.track_dirty_pages;
	struct snap_dirty d;
	int err = 0;

	if (track) {
		err = snap_dirty_alloc(&d, &vm->mem);
		if (!err)
			err = vm_snapshot_dirty(vm, &d, f);
		if (!err)
			err = gm_dirty_enable(&vm->mem);
		if (err) {
			if (!f->msg[0])
				fault_set(f, "out of memory for the dirty page bitmaps");
			snap_dirty_free(&d);
			return err;
		}
	}
	if (b->type == BODY_SNAPSHOT_DIFF) {
		LOG_INFO(v->log, "Diff snapshot: %llu dirty pages",
			 (unsigned long long)snap_dirty_count(&d, &vm->mem));
		err = snap_mem_write(&vm->mem, b->mem_file_path, &d, false, f);
	} else {
		/* a restored guest's untouched pages are the file's, not zero */
		err = snap_mem_write(&vm->mem, b->mem_file_path, NULL,
				     !v->snap.mem_mapped && !v->snap.has_uffd, f);
	}
	if (track)
		snap_dirty_free(&d);
	return err;
}

int vmm_snapshot_create(struct vmm *v, const struct body_snapshot_create *b, struct fault *f)
{
	uint64_t start = clock_mono_us();
	struct snap_writer w;
	char *config = NULL;
	size_t config_len = 0;
	int err = vmm_snap_check_create(v, b, f);

	if (err)
		return err;
	if (vmm_snap_config(&v->cfg, &config, &config_len) != 0) {
		fault_set(f, "cannot serialize the configuration");
		return -ENOMEM;
	}
	snap_writer_init(&w);
	err = vm_snapshot_save(v->vm, &w, config, config_len, f);
	if (!err && (err = snap_finish(&w)) != 0)
		fault_set(f, "cannot assemble the snapshot state: %s", strerror(-err));
	if (!err)
		err = snap_write_file(b->snapshot_path, w.buf, w.len, f);
	if (!err)
		err = vmm_snap_write_mem(v, b, f);
	snap_writer_free(&w);
	free(config);
	if (err)
		return err;
	v->snap.baseline = true;
	LOG_INFO(v->log, "'create %s snapshot' VMM action took %llu us.",
		 b->type == BODY_SNAPSHOT_DIFF ? "diff" : "full",
		 (unsigned long long)(clock_mono_us() - start));
	return 0;
}

/* Firecracker's rule: a snapshot loads only into a VMM nothing was
 * configured in but the logger, metrics and serial output. */
static bool vmm_cfg_fresh(const struct vm_config *cfg)
{
	struct vm_config *d = malloc(sizeof(*d));
	bool fresh;

	if (!d)
		return false;
	cfg_init(d);
	fresh = !cfg->boot_source.set && cfg->ndrives == 0 && cfg->nnets == 0 && !cfg->vsock.set &&
		!cfg->entropy.set && cfg->machine.vcpu_count == d->machine.vcpu_count &&
		cfg->machine.mem_size_mib == d->machine.mem_size_mib &&
		cfg->machine.smt == d->machine.smt &&
		cfg->machine.track_dirty_pages == d->machine.track_dirty_pages &&
		cfg->machine.huge_pages == d->machine.huge_pages;
	free(d);
	return fresh;
}

static int vmm_snap_overrides(struct vm_config *cfg, const struct body_snapshot_load *b,
			      struct fault *f)
{
	static const enum cfg_huge_pages huge[] = {
	    [BODY_LOAD_HUGE_NONE] = CFG_HUGE_NONE,
	    [BODY_LOAD_HUGE_TRANSPARENT] = CFG_HUGE_TRANSPARENT,
	    [BODY_LOAD_HUGE_2M] = CFG_HUGE_2M,
	};

	for (int i = 0; i < b->n_net_overrides; i++) {
		int n = cfg_find_net(cfg, b->net_overrides[i].iface_id);

		if (n < 0) {
			fault_set(f,
				  "network_overrides: the snapshot has no network interface '%s'",
				  b->net_overrides[i].iface_id);
			return -EINVAL;
		}
		snprintf(cfg->nets[n].host_dev_name, sizeof(cfg->nets[n].host_dev_name), "%s",
			 b->net_overrides[i].host_dev_name);
	}
	if (b->has_vsock_override) {
		if (!cfg->vsock.set) {
			fault_set(f, "vsock_override: the snapshot has no vsock device");
			return -EINVAL;
		}
		snprintf(cfg->vsock.uds_path, sizeof(cfg->vsock.uds_path), "%s", b->vsock_uds_path);
	}
	if (b->huge_pages != BODY_LOAD_HUGE_SNAPSHOT)
		cfg->machine.huge_pages = huge[b->huge_pages];
	cfg->machine.track_dirty_pages = b->track_dirty_pages;
	if (b->backend_type == BODY_MEM_FILE && cfg->machine.huge_pages == CFG_HUGE_2M) {
		fault_set(f, "a guest with 2 MiB huge pages can only be loaded with the Uffd "
			     "memory backend");
		return -EINVAL;
	}
	return 0;
}

/* The configuration from the snapshot, with the request's overrides and
 * this process's logger, metrics and serial settings. */
static int vmm_snap_load_config(struct vmm *v, const struct snap_state *st,
				const struct body_snapshot_load *b, struct vm_config *cfg,
				struct fault *f)
{
	struct fault inner = {""};

	cfg_init(cfg);
	if (cfg_load_json(cfg, st->config, st->config_len, &inner) != 0) {
		fault_set(f, "the snapshot's configuration is refused: %s", inner.msg);
		return -EINVAL;
	}
	if (vmm_snap_overrides(cfg, b, f))
		return -EINVAL;
	cfg->logger = v->cfg.logger;
	cfg->metrics = v->cfg.metrics;
	cfg->serial = v->cfg.serial;
	return 0;
}

static int vmm_snap_read_state(const char *path, struct snap_state *st, struct fault *f)
{
	struct snap_reader *r = malloc(sizeof(*r));
	uint8_t *buf = NULL;
	size_t len = 0;
	int err = r ? snap_read_file(path, &buf, &len, f) : -ENOMEM;

	memset(st, 0, sizeof(*st));
	if (!err)
		err = snap_parse(r, buf, len, f);
	if (!err)
		err = snap_decode(st, r, f);
	if (err)
		st->ndevices = 0; /* nothing of buf is kept */
	/* device blobs point into buf, which goes: copy them */
	for (uint32_t i = 0; i < st->ndevices; i++) {
		uint8_t *copy = err ? NULL : malloc(st->devices[i].len ? st->devices[i].len : 1);

		if (copy)
			memcpy(copy, st->devices[i].data, st->devices[i].len);
		else if (!err)
			err = -ENOMEM;
		st->devices[i].data = copy;
	}
	free(buf);
	free(r);
	return err;
}

static void vmm_snap_free_state(struct snap_state *st)
{
	for (uint32_t i = 0; i < st->ndevices; i++)
		free((void *)st->devices[i].data);
	st->ndevices = 0;
	snap_state_free(st);
}

/* Guest RAM from the backend: a private mapping of the memory file, or
 * empty pages a handler fills on first touch. */
static int vmm_snap_attach_mem(struct vmm *v, const struct snap_state *st,
			       const struct body_snapshot_load *b, struct fault *f)
{
	struct vm *vm = v->vm;
	uint64_t dev = 0, ino = 0;
	int fd, err;

	if (b->backend_type == BODY_MEM_UFFD) {
		fd = snap_uffd_attach(&vm->mem, st->mem.page_size, b->backend_path, f);
		if (fd < 0)
			return fd;
		v->snap.has_uffd = true;
		v->snap.uffd = fd;
		return 0;
	}
	fd = snap_mem_open(b->backend_path, st->mem.ram_size, &dev, &ino, f);
	if (fd < 0)
		return fd;
	err = gm_map_file(&vm->mem, fd);
	close(fd);
	if (err) {
		fault_set(f, "cannot map the memory file '%s': %s", b->backend_path,
			  strerror(-err));
		return err;
	}
	v->snap.mem_mapped = true;
	v->snap.mem_dev = dev;
	v->snap.mem_ino = ino;
	return 0;
}

/* Build the machine without booting it, fill in memory and state, start
 * the vCPUs paused or running. */
static int vmm_snap_restore(struct vmm *v, const struct snap_state *st,
			    const struct body_snapshot_load *b, struct fault *f)
{
	struct vm_options opt = v->opt;
	bool tsc_warn = false;
	int err;

	opt.for_restore = true;
	v->vm = calloc(1, sizeof(*v->vm));
	if (!v->vm) {
		fault_set(f, "out of memory");
		return -ENOMEM;
	}
	err = vm_build(v->vm, &v->cfg, &opt, v->log, &v->loop, f);
	if (!err)
		err = vm_snapshot_check(v->vm, st, f);
	if (!err)
		err = vmm_snap_attach_mem(v, st, b, f);
	if (!err && v->cfg.machine.track_dirty_pages && gm_dirty_enable(&v->vm->mem) != 0) {
		fault_set(f, "out of memory for the dirty page record");
		err = -ENOMEM;
	}
	if (!err)
		err = vm_snapshot_restore(v->vm, st, b->clock_realtime, &tsc_warn, f);
	if (!err && tsc_warn)
		LOG_WARN(v->log, "the snapshot's TSC frequency differs from this host's and KVM "
				 "cannot scale it: the guest's TSC runs at another rate");
	if (!err && b->resume_vm)
		vm_resume(v->vm); /* else the vCPUs stay paused, as vm_build left them */
	return err;
}

static void vmm_snap_undo(struct vmm *v, const struct vm_config *saved)
{
	if (v->vm) {
		vm_destroy(v->vm);
		free(v->vm);
		v->vm = NULL;
	}
	if (v->snap.has_uffd)
		close(v->snap.uffd);
	memset(&v->snap, 0, sizeof(v->snap));
	v->cfg = *saved;
}

int vmm_snapshot_load(struct vmm *v, const struct body_snapshot_load *b, struct fault *f)
{
	uint64_t start = clock_mono_us();
	struct vm_config *cfg = malloc(sizeof(*cfg)), *saved = malloc(sizeof(*saved));
	struct snap_state st;
	int err = -ENOMEM;

	memset(&st, 0, sizeof(st));
	if (!cfg || !saved) {
		fault_set(f, "out of memory");
		goto out;
	}
	err = -EINVAL;
	if (v->state != VMM_NOT_STARTED || v->vm || !vmm_cfg_fresh(&v->cfg)) {
		fault_set(f, "Loading a microVM snapshot is only allowed in a fresh flint process, "
			     "before any boot-specific resource is configured.");
		goto out;
	}
	err = vmm_snap_read_state(b->snapshot_path, &st, f);
	if (!err)
		err = vmm_snap_load_config(v, &st, b, cfg, f);
	if (err)
		goto out;
	*saved = v->cfg;
	v->cfg = *cfg;
	err = vmm_snap_restore(v, &st, b, f);
	if (err) {
		vmm_snap_undo(v, saved);
		goto out;
	}
	v->snap.baseline = true;
	v->state = b->resume_vm ? VMM_RUNNING : VMM_PAUSED;
	LOG_INFO(v->log, "'load snapshot' VMM action took %llu us.",
		 (unsigned long long)(clock_mono_us() - start));
	/* As InstanceStart does: the VMM thread's filter once the vCPU
	 * threads exist (they must not inherit it). */
	seccomp_install_or_exit(v->opt.seccomp, SECCOMP_THREAD_VMM);
out:
	vmm_snap_free_state(&st);
	free(cfg);
	free(saved);
	return err;
}
