/* What flint reports at each metrics flush, in Firecracker's groups. */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "vmm/vmm.h"

#define METRICS_BUF 8192

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
}

static void vmm_metrics_legacy(struct vmm *v, struct metrics_out *o)
{
	struct serial *s = v->vm ? &v->vm->serial : NULL;
	struct i8042 *k = v->vm ? &v->vm->i8042 : NULL;

	metrics_group(o, "uart");
	metrics_counter(o, "write_count", s ? s->bytes_out : 0);
	metrics_counter(o, "read_count", s ? s->bytes_in : 0);
	metrics_counter(o, "error_count", s ? s->out_errors : 0);
	metrics_group(o, "i8042");
	metrics_counter(o, "reset_count", k ? k->reset_count : 0);
	metrics_counter(o, "missed_read_count", k ? k->missed_reads : 0);
}

static int vmm_metrics_write(struct vmm *v)
{
	char buf[METRICS_BUF];
	struct metrics_out o;

	metrics_begin(&o, &v->metrics, buf, sizeof(buf));
	metrics_group(&o, "api_server");
	metrics_gauge(&o, "process_startup_time_us", v->startup_wall_us);
	metrics_gauge(&o, "process_startup_time_cpu_us", v->startup_cpu_us);
	vmm_metrics_vcpus(v, &o);
	vmm_metrics_legacy(v, &o);
	if (v->vm)
		vm_devices_metrics(v->vm, &o);
	metrics_group(&o, "logger");
	metrics_counter(&o, "missed_log_count", v->log->lines_dropped);
	metrics_counter(&o, "missed_metrics_count", v->metrics.missed_flushes);
	metrics_group(&o, "seccomp");
	metrics_counter(&o, "num_faults", 0);
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

	if (v->metrics.fd < 0) {
		fault_set(f, "The metrics system is not initialized. Configure it with PUT "
			  "/metrics or --metrics-path.");
		return -EINVAL;
	}
	err = vmm_metrics_write(v);
	if (err)
		fault_set(f, "Writing the metrics failed: %s", strerror(-err));
	return err;
}
