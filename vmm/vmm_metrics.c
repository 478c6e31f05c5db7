/* What flint reports at each metrics flush, in Firecracker's groups and key
 * names (its FirecrackerMetrics, in its order). A group flint has is written
 * whole, with every key Firecracker writes in it, so tools that expect the
 * full set find it; keys for things flint does not count yet are 0 and say
 * so below. Groups for devices flint does not have are left out. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "vmm/vm_devices.h"
#include "vmm/vmm.h"
#include "vmm/seccomp.h"

/* Room for the fixed groups, a few dozen device groups and the operator's
 * properties even if every byte of them needs a \u escape (~30 KiB). */
#define METRICS_BUF 65536

struct req_key {
	const char *group;
	const char *name; /* "<name>_count", "<name>_fails" */
	bool fails;	  /* Firecracker counts failures of this kind */
};

static const struct req_key req_keys[METRICS_REQ_COUNT] = {
    [METRICS_GET_INSTANCE_INFO] = {"get_api_requests", "instance_info", false},
    [METRICS_GET_MACHINE_CFG] = {"get_api_requests", "machine_cfg", false},
    [METRICS_GET_MMDS] = {"get_api_requests", "mmds", false},
    [METRICS_GET_VMM_VERSION] = {"get_api_requests", "vmm_version", false},
    [METRICS_GET_HOTPLUG_MEMORY] = {"get_api_requests", "hotplug_memory", false},
    [METRICS_PUT_ACTIONS] = {"put_api_requests", "actions", true},
    [METRICS_PUT_BOOT_SOURCE] = {"put_api_requests", "boot_source", true},
    [METRICS_PUT_DRIVE] = {"put_api_requests", "drive", true},
    [METRICS_PUT_LOGGER] = {"put_api_requests", "logger", true},
    [METRICS_PUT_MACHINE_CFG] = {"put_api_requests", "machine_cfg", true},
    [METRICS_PUT_CPU_CFG] = {"put_api_requests", "cpu_cfg", true},
    [METRICS_PUT_METRICS] = {"put_api_requests", "metrics", true},
    [METRICS_PUT_NETWORK] = {"put_api_requests", "network", true},
    [METRICS_PUT_MMDS] = {"put_api_requests", "mmds", true},
    [METRICS_PUT_VSOCK] = {"put_api_requests", "vsock", true},
    [METRICS_PUT_PMEM] = {"put_api_requests", "pmem", true},
    [METRICS_PUT_SERIAL] = {"put_api_requests", "serial", true},
    [METRICS_PUT_HOTPLUG_MEMORY] = {"put_api_requests", "hotplug_memory", true},
    [METRICS_PATCH_DRIVE] = {"patch_api_requests", "drive", true},
    [METRICS_PATCH_NETWORK] = {"patch_api_requests", "network", true},
    [METRICS_PATCH_MACHINE_CFG] = {"patch_api_requests", "machine_cfg", true},
    [METRICS_PATCH_MMDS] = {"patch_api_requests", "mmds", true},
    [METRICS_PATCH_HOTPLUG_MEMORY] = {"patch_api_requests", "hotplug_memory", true},
};

static void vmm_metrics_api_server(struct vmm *v, struct metrics_out *o)
{
	metrics_group(o, "api_server");
	metrics_gauge(o, "process_startup_time_us", v->startup_wall_us);
	metrics_gauge(o, "process_startup_time_cpu_us", v->startup_cpu_us);
	metrics_counter(o, "sync_response_fails", v->metrics.api.sync_response_fails);
	/* The channel to the VMM thread is an unbounded queue: a request is
	 * never refused for a full one, so this stays 0. */
	metrics_counter(o, "sync_vmm_send_timeout_count", 0);
}

/* get_api_requests, patch_api_requests, put_api_requests: each group's
 * keys are contiguous in req_keys. */
static void vmm_metrics_requests(struct vmm *v, struct metrics_out *o, const char *group)
{
	char key[48];

	metrics_group(o, group);
	for (int i = 0; i < METRICS_REQ_COUNT; i++) {
		if (strcmp(req_keys[i].group, group) != 0)
			continue;
		snprintf(key, sizeof(key), "%s_count", req_keys[i].name);
		metrics_counter(o, key, v->metrics.api.count[i]);
		if (!req_keys[i].fails)
			continue;
		snprintf(key, sizeof(key), "%s_fails", req_keys[i].name);
		metrics_counter(o, key, v->metrics.api.fails[i]);
	}
}

/* Firecracker's legacy devices: i8042 and uart (the serial console). */
static void vmm_metrics_legacy(struct vmm *v, struct metrics_out *o)
{
	struct serial *s = v->vm ? &v->vm->serial : NULL;
	struct i8042 *k = v->vm ? &v->vm->i8042 : NULL;

	metrics_group(o, "i8042");
	/* error, read and write counts are not kept by the device yet. */
	metrics_counter(o, "error_count", 0);
	metrics_counter(o, "missed_read_count", k ? k->missed_reads : 0);
	metrics_counter(o, "missed_write_count", 0);
	metrics_counter(o, "read_count", 0);
	metrics_counter(o, "reset_count", k ? k->reset_count : 0);
	metrics_counter(o, "write_count", 0);
	metrics_group(o, "uart");
	metrics_counter(o, "error_count", s ? s->out_errors : 0);
	metrics_counter(o, "flush_count", 0);
	metrics_counter(o, "missed_read_count", 0);
	metrics_counter(o, "missed_write_count", 0);
	metrics_counter(o, "rate_limiter_dropped_bytes", s ? s->dropped_bytes : 0);
	metrics_counter(o, "read_count", s ? s->bytes_in : 0);
	metrics_counter(o, "write_count", s ? s->bytes_out : 0);
}

static void vmm_metrics_latencies(struct vmm *v, struct metrics_out *o)
{
	const struct metrics_api *a = &v->metrics.api;

	metrics_group(o, "latencies_us");
	/* Snapshots are not supported yet. */
	metrics_gauge(o, "full_create_snapshot", 0);
	metrics_gauge(o, "diff_create_snapshot", 0);
	metrics_gauge(o, "load_snapshot", 0);
	metrics_gauge(o, "pause_vm", a->pause_vm_us);
	metrics_gauge(o, "resume_vm", a->resume_vm_us);
	metrics_gauge(o, "vmm_full_create_snapshot", 0);
	metrics_gauge(o, "vmm_diff_create_snapshot", 0);
	metrics_gauge(o, "vmm_load_snapshot", 0);
	metrics_gauge(o, "vmm_pause_vm", a->vmm_pause_vm_us);
	metrics_gauge(o, "vmm_resume_vm", a->vmm_resume_vm_us);
}

static void vmm_metrics_logger(struct vmm *v, struct metrics_out *o)
{
	metrics_group(o, "logger");
	metrics_counter(o, "missed_metrics_count", v->metrics.missed_flushes);
	metrics_counter(o, "metrics_fails", v->metrics.fails);
	/* A line that cannot be written (full pipe or error) is dropped and
	 * counted as missed; flint has no separate failure count. */
	metrics_counter(o, "missed_log_count", v->log->lines_dropped);
	metrics_counter(o, "log_fails", 0);
}

static void vmm_metrics_vcpus(struct vmm *v, struct metrics_out *o)
{
	uint64_t in = 0, out = 0, mr = 0, mw = 0, fail = 0;

	for (int i = 0; v->vm && i < v->vm->nvcpus; i++) {
		const struct vcpu_counters *c = &v->vm->vcpus[i].counters;
		in += c->exits_io_in;
		out += c->exits_io_out;
		mr += c->exits_mmio_read;
		mw += c->exits_mmio_write;
		fail += c->failures;
	}
	metrics_group(o, "vcpu");
	metrics_counter(o, "exit_io_in", in);
	metrics_counter(o, "exit_io_out", out);
	metrics_counter(o, "exit_mmio_read", mr);
	metrics_counter(o, "exit_mmio_write", mw);
	metrics_counter(o, "failures", fail);
	/* flint does not use kvmclock's KVM_KVMCLOCK_CTRL. */
	metrics_counter(o, "kvmclock_ctrl_fails", 0);
}

/* The operator's PUT /metrics "properties", on every line. */
static void vmm_metrics_properties(struct vmm *v, struct metrics_out *o)
{
	const struct cfg_metrics *m = &v->cfg.metrics;
	const char *keys[CFG_METRICS_PROPS_MAX], *values[CFG_METRICS_PROPS_MAX];
	int n = m->nproperties < CFG_METRICS_PROPS_MAX ? m->nproperties : CFG_METRICS_PROPS_MAX;

	if (n <= 0)
		return;
	for (int i = 0; i < n; i++) {
		keys[i] = m->properties[i].key;
		values[i] = m->properties[i].value;
	}
	metrics_string_map(o, "properties", keys, values, n);
}

static int vmm_metrics_write(struct vmm *v)
{
	char buf[METRICS_BUF];
	struct metrics_out o;

	metrics_begin(&o, &v->metrics, buf, sizeof(buf));
	if (v->cfg.metrics.emit_id)
		metrics_string(&o, "id", v->instance_id);
	vmm_metrics_properties(v, &o);
	vmm_metrics_api_server(v, &o);
	if (v->vm)
		vm_devices_metrics(v->vm, &o); /* block, entropy, net, vsock */
	vmm_metrics_requests(v, &o, "get_api_requests");
	vmm_metrics_legacy(v, &o);
	vmm_metrics_latencies(v, &o);
	vmm_metrics_logger(v, &o);
	vmm_metrics_requests(v, &o, "patch_api_requests");
	vmm_metrics_requests(v, &o, "put_api_requests");
	metrics_group(&o, "seccomp");
	/* A filtered system call ends flint (vmm/seccomp.c's SIGSYS handler
	 * logs it and exits 148), so no flush follows a fault: this counts
	 * only what was recorded before a flush, as in Firecracker. */
	metrics_gauge(&o, "num_faults", seccomp_num_faults());
	vmm_metrics_vcpus(v, &o);
	metrics_group(&o, "vmm");
	metrics_gauge(&o, "panic_count", 0);
	return metrics_end(&o);
}

static void vmm_on_metrics_timer(void *ctx, uint32_t events)
{
	struct vmm *v = ctx;
	uint64_t ticks;

	(void)events;
	if (read(v->metrics.timer_fd, &ticks, sizeof(ticks)) > 0)
		vmm_metrics_write(v);
}

int vmm_apply_metrics(struct vmm *v, struct fault *f)
{
	int err;

	if (v->metrics.timer_fd >= 0)
		ev_del(&v->loop, v->metrics.timer_fd);
	err = metrics_open(&v->metrics, v->cfg.metrics.metrics_path);
	if (err) {
		fault_set(f, "Cannot open the metrics file %s: %s", v->cfg.metrics.metrics_path,
			  strerror(-err));
		return err;
	}
	err = ev_add(&v->loop, v->metrics.timer_fd, EPOLLIN, vmm_on_metrics_timer, v);
	if (err)
		fault_set(f, "Cannot schedule metrics flushes: %s", strerror(-err));
	return err;
}

int vmm_flush_metrics(struct vmm *v, struct fault *f)
{
	int err;

	/* Firecracker: flushing before the metrics are configured writes
	 * nothing and is not an error. */
	if (v->metrics.fd < 0)
		return 0;
	err = vmm_metrics_write(v);
	if (err)
		fault_set(f, "Failed to write metrics: %s", strerror(-err));
	return err;
}
