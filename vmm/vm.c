/* VM construction, vCPU control and the VM's own event sources. */
#include "vmm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/legacy.h"
#include "vmm/bg_task.h"

static void vm_end_from_vcpu(void *ctx, int status, const char *why)
{
	vm_request_end(ctx, status, why);
}

void vm_request_end(struct vm *vm, int status, const char *why)
{
	int expected = -1;
	uint64_t one = 1;

	if (atomic_compare_exchange_strong(&vm->end_status, &expected, status)) {
		snprintf(vm->end_reason, sizeof(vm->end_reason), "%s", why);
		if (write(vm->end_evt, &one, sizeof(one)) != sizeof(one))
			LOG_ERROR(vm->log, "cannot signal the end of the VM");
	}
}

bool vm_ended(struct vm *vm, int *status)
{
	int s = atomic_load(&vm->end_status);

	if (s < 0)
		return false;
	*status = s;
	return true;
}

static void vm_i8042_reset(void *ctx)
{
	vm_request_end(ctx, FLINT_EXIT_OK, "guest reset through the i8042 (reboot)");
}

static void vm_raise_com1(void *ctx)
{
	struct vm *vm = ctx;

	kvm_irq_pulse(vm->kvm.vm_fd, LAYOUT_COM1_IRQ);
}

static void vm_raise_kbd(void *ctx)
{
	struct vm *vm = ctx;

	kvm_irq_pulse(vm->kvm.vm_fd, LAYOUT_I8042_IRQ);
}

static void vm_serial_space(void *ctx)
{
	struct vm *vm = ctx;
	uint64_t one = 1;

	if (write(vm->serial_space_evt, &one, sizeof(one)) != sizeof(one))
		LOG_WARN(vm->log, "cannot signal console input space");
}

/* Console input: stdin into the UART's FIFO; when the FIFO is full stop
 * reading until the guest drains it (serial_space_evt), so nothing is lost. */
static void vm_on_serial_in(void *ctx, uint32_t events)
{
	struct vm *vm = ctx;
	uint8_t buf[SERIAL_RX_FIFO];
	unsigned room = serial_rx_room(&vm->serial);
	ssize_t n;

	(void)events;
	if (room == 0) {
		ev_modify(vm->loop, vm->opt.serial_in_fd, 0);
		vm->serial_in_paused = true;
		serial_rx_push(&vm->serial, buf, 0);
		return;
	}
	n = read(vm->opt.serial_in_fd, buf, room);
	if (n <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			ev_del(vm->loop, vm->opt.serial_in_fd); /* EOF: no more input */
		return;
	}
	serial_rx_push(&vm->serial, buf, (unsigned)n);
}

static void vm_on_serial_space(void *ctx, uint32_t events)
{
	struct vm *vm = ctx;
	uint64_t v;

	(void)events;
	if (read(vm->serial_space_evt, &v, sizeof(v)) < 0)
		return;
	if (vm->serial_in_paused) {
		vm->serial_in_paused = false;
		ev_modify(vm->loop, vm->opt.serial_in_fd, EPOLLIN);
	}
}

static void vm_on_end(void *ctx, uint32_t events)
{
	struct vm *vm = ctx;
	uint64_t v;

	(void)events;
	if (read(vm->end_evt, &v, sizeof(v)) < 0)
		return;
	ev_stop(vm->loop);
}

/* PUT /serial's serial_out_path replaces stdout as the console output. */
static int vm_open_serial_out(struct vm *vm, struct fault *f)
{
	const struct cfg_serial *s = &vm->cfg->serial;

	if (!s->set || !s->serial_out_path[0])
		return 0;
	vm->serial_out_fd =
	    open(s->serial_out_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (vm->serial_out_fd < 0) {
		fault_set(f, "cannot open serial_out_path %s: %s", s->serial_out_path,
			  strerror(errno));
		return -errno;
	}
	vm->opt.serial_out_fd = vm->serial_out_fd;
	return 0;
}

static int vm_add_legacy_devices(struct vm *vm)
{
	struct bus_range com1 = {.base = LAYOUT_COM1_PORT,
				 .size = 8,
				 .dev = &vm->serial,
				 .read = serial_pio_read,
				 .write = serial_pio_write};
	struct bus_range kbd = {.base = LAYOUT_I8042_DATA,
				.size = 5,
				.dev = &vm->i8042,
				.read = i8042_pio_read,
				.write = i8042_pio_write};
	struct bus_range timer = {.base = LAYOUT_BOOT_TIMER_ADDR,
				  .size = LAYOUT_BOOT_TIMER_SIZE,
				  .dev = &vm->boot_timer,
				  .read = boot_timer_mmio_read,
				  .write = boot_timer_mmio_write};
	int err;

	serial_init(&vm->serial, vm->opt.serial_out_fd);
	vm->serial.raise_irq = vm_raise_com1;
	vm->serial.irq_ctx = vm;
	vm->serial.rx_space = vm_serial_space;
	vm->serial.rx_space_ctx = vm;
	if (vm->cfg->serial.set)
		serial_set_rate_limit(&vm->serial, &vm->cfg->serial.rate_limiter);
	i8042_init(&vm->i8042);
	vm->i8042.reset = vm_i8042_reset;
	vm->i8042.reset_ctx = vm;
	vm->i8042.raise_irq = vm_raise_kbd;
	vm->i8042.irq_ctx = vm;
	boot_timer_init(&vm->boot_timer, vm->log, vm->opt.start_wall_us, vm->opt.start_cpu_us);
	err = bus_add(&vm->pio, &com1);
	if (!err)
		err = bus_add(&vm->pio, &kbd);
	if (!err)
		err = legacy_register(&vm->pio);
	if (!err && vm->opt.boot_timer)
		err = bus_add(&vm->mmio, &timer);
	return err;
}

static int vm_add_event_sources(struct vm *vm, struct fault *f)
{
	vm->end_evt = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vm->serial_space_evt = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->end_evt < 0 || vm->serial_space_evt < 0) {
		fault_set(f, "eventfd: %s", strerror(errno));
		return -errno;
	}
	if (ev_add(vm->loop, vm->end_evt, EPOLLIN, vm_on_end, vm) != 0 ||
	    ev_add(vm->loop, vm->serial_space_evt, EPOLLIN, vm_on_serial_space, vm) != 0) {
		fault_set(f, "cannot register VM events");
		return -EIO;
	}
	/* Console input is optional: a closed or unpollable stdin is fine. */
	if (vm->opt.serial_in_fd >= 0 &&
	    ev_add(vm->loop, vm->opt.serial_in_fd, EPOLLIN, vm_on_serial_in, vm) != 0)
		LOG_DEBUG(vm->log, "console input not available");
	return 0;
}

static int vm_create_vcpus(struct vm *vm, struct fault *f)
{
	const struct cfg_machine *m = &vm->cfg->machine;

	vm->vcpu_env = (struct vcpu_env){.pio = &vm->pio,
					 .mmio = &vm->mmio,
					 .log = vm->log,
					 .end_vm = vm_end_from_vcpu,
					 .ctx = vm,
					 .seccomp = vm->opt.seccomp};
	if ((int)m->vcpu_count > vm->kvm.max_vcpus) {
		fault_set(f, "vcpu_count %u exceeds this host's KVM limit of %d", m->vcpu_count,
			  vm->kvm.max_vcpus);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < m->vcpu_count; i++) {
		int err;

		vm->nvcpus = (int)i + 1; /* so vm_destroy cleans up a half-made one */
		err = vcpu_create(&vm->vcpus[i], vm->kvm.vm_fd, (int)i, (size_t)vm->kvm.run_size,
				  &vm->vcpu_env, f);
		if (err)
			return err;
		err = vcpu_configure(&vm->vcpus[i], vm->kvm.supported_cpuid, (int)m->vcpu_count,
				     m->smt, f);
		if (err)
			return err;
	}
	return 0;
}

static enum gm_backing vm_backing(const struct cfg_machine *m)
{
	if (m->huge_pages == CFG_HUGE_2M)
		return GM_BACKING_HUGETLB_2M;
	return m->huge_pages == CFG_HUGE_TRANSPARENT ? GM_BACKING_THP : GM_BACKING_ANON;
}

static int vm_create_memory(struct vm *vm, struct fault *f)
{
	const struct cfg_machine *m = &vm->cfg->machine;
	int err = gm_create(&vm->mem, m->mem_size_mib << 20, vm_backing(m));

	if (err) {
		fault_set(f, "cannot allocate %llu MiB of guest memory%s: %s",
			  (unsigned long long)m->mem_size_mib,
			  m->huge_pages == CFG_HUGE_2M ? " from 2 MiB huge pages" : "",
			  strerror(-err));
	}
	return err;
}

/* A bg_task body. It uses only vm->kvm.vm_fd, which the building thread
 * no longer changes while it runs. */
static int vm_task_pit(void *arg, struct fault *f)
{
	struct vm *vm = arg;

	return kvm_create_pit(&vm->kvm, f);
}

/* Join a set-up task; its fault is reported only if nothing failed before. */
static int vm_join_task(struct bg_task *t, int err, struct fault *f)
{
	struct fault ignored;
	int task_err = bg_task_join(t, err ? &ignored : f);

	return err ? err : task_err;
}

/* The vCPU threads start paused while the rest of the machine is built:
 * each installs its seccomp filter (a BPF compile, 0.1-0.2 ms) meanwhile,
 * so starting the VM is only releasing them (vm_resume). */
static int vm_start_vcpu_threads(struct vm *vm, struct fault *f)
{
	for (int i = 0; i < vm->nvcpus; i++) {
		int err = vcpu_start(&vm->vcpus[i], VCPU_PAUSED);
		if (err) {
			fault_set(f, "cannot start the thread of vCPU %d: %s", i, strerror(-err));
			return err;
		}
	}
	return 0;
}

/* Everything but the KVM objects: kernel, devices, boot state. The PIT is
 * being made meanwhile (vm_build). */
static int vm_build_rest(struct vm *vm, struct fault *f)
{
	int err = 0;

	if (vm->opt.for_restore)
		cmdline_init(&vm->cmdline, LAYOUT_CMDLINE_MAX); /* devices still add to it */
	else
		err = vm_boot_load_kernel(vm, f);
	if (!err)
		err = vm_open_serial_out(vm, f);
	if (!err && (err = vm_add_legacy_devices(vm)) != 0)
		fault_set(f, "cannot register the legacy devices: %s", strerror(-err));
	if (!err)
		err = vm_add_event_sources(vm, f);
	if (!err)
		err = vm_add_virtio_devices(vm, f);
	if (!err && !vm->opt.for_restore)
		err = vm_boot_finish(vm, f);
	return err;
}

int vm_build(struct vm *vm, const struct vm_config *cfg, const struct vm_options *opt,
	     struct logger *log, struct ev_loop *loop, struct fault *f)
{
	struct bg_task pit = {0};
	int err;

	memset(vm, 0, sizeof(*vm));
	vm->cfg = cfg;
	vm->opt = *opt;
	vm->log = log;
	vm->loop = loop;
	vm->end_evt = vm->serial_space_evt = vm->serial_out_fd = -1;
	atomic_store(&vm->end_status, -1);
	err = kvm_open(&vm->kvm, opt->kvm_path, f);
	if (!err)
		err = kvm_create_vm(&vm->kvm, f);
	if (!err)
		err = vm_create_memory(vm, f);
	/* Memory slots before the irqchip: see kvm_create_irqchip. */
	if (!err)
		err = kvm_set_memory(&vm->kvm, &vm->mem, cfg->machine.track_dirty_pages, f);
	if (!err)
		err = kvm_create_irqchip(&vm->kvm, f);
	/* vCPUs before the PIT: KVM_CREATE_VCPU would wait on the VM lock the
	 * PIT's creation holds. */
	if (!err)
		err = vm_create_vcpus(vm, f);
	if (!err) {
		/* The PIT waits for KVM to start its worker thread and for SRCU
		 * grace periods: that runs beside the kernel loading and ends
		 * before any vCPU runs. */
		bg_task_start(&pit, vm_task_pit, vm);
		err = vm_start_vcpu_threads(vm, f);
		if (!err)
			err = vm_build_rest(vm, f);
	}
	return vm_join_task(&pit, err, f);
}

/* Move every vCPU to state s: all are asked at once, then waited for. A
 * vCPU that has just reset a running device waits (bounded) for this
 * thread to settle the reset before it can pause or stop
 * (vmmio_wait_settled); settle devices while waiting, so that moment costs
 * a millisecond, not the whole bound. */
static void vm_move_vcpus(struct vm *vm, enum vcpu_state s)
{
	for (int i = 0; i < vm->nvcpus; i++)
		vcpu_request_state(&vm->vcpus[i], s);
	for (int i = 0; i < vm->nvcpus; i++)
		while (!vcpu_wait_state(&vm->vcpus[i], s, 1))
			vm_devices_settle(vm);
}

void vm_pause(struct vm *vm)
{
	vm_move_vcpus(vm, VCPU_PAUSED);
}

void vm_resume(struct vm *vm)
{
	vm_move_vcpus(vm, VCPU_RUNNING);
}

static void vm_close_fd(struct vm *vm, int *fd)
{
	if (*fd >= 0) {
		ev_del(vm->loop, *fd);
		close(*fd);
	}
	*fd = -1;
}

void vm_destroy(struct vm *vm)
{
	vm_move_vcpus(vm, VCPU_STOPPED);
	for (int i = 0; i < vm->nvcpus; i++)
		vcpu_destroy(&vm->vcpus[i]);
	vm->nvcpus = 0;
	vm_destroy_devices(vm);
	if (vm->opt.serial_in_fd >= 0)
		ev_del(vm->loop, vm->opt.serial_in_fd);
	vm_close_fd(vm, &vm->end_evt);
	vm_close_fd(vm, &vm->serial_space_evt);
	if (vm->serial_out_fd >= 0)
		close(vm->serial_out_fd);
	vm->serial_out_fd = -1;
	kvm_close(&vm->kvm);
	gm_destroy(&vm->mem);
}
