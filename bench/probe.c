/* LD_PRELOAD probe for benchmarks: records when a VMM process first calls
 * KVM_RUN (CLOCK_MONOTONIC and the process's CPU time, in microseconds)
 * into the file named by $FLINT_PROBE_OUT. The same probe is loaded into
 * flint and QEMU, so both are measured the same way.
 *
 * An LD_PRELOAD shim has no caller to hand state to: the once-flag below is
 * the one piece of file-level state, and it lives only in this bench tool. */
#include <dlfcn.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int ioctl(int fd, unsigned long req, ...);

static atomic_flag probe_fired = ATOMIC_FLAG_INIT;

static unsigned long long probe_us(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000;
}

static void probe_record(void)
{
	unsigned long long mono = probe_us(CLOCK_MONOTONIC);
	unsigned long long cpu = probe_us(CLOCK_PROCESS_CPUTIME_ID);
	const char *path = getenv("FLINT_PROBE_OUT");
	char line[64];
	int fd, n;

	if (!path)
		return;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	n = snprintf(line, sizeof(line), "%llu %llu\n", mono, cpu);
	if (write(fd, line, (size_t)n) != n)
		perror("probe");
	close(fd);
}

int ioctl(int fd, unsigned long req, ...)
{
	int (*real)(int, unsigned long, void *) =
	    (int (*)(int, unsigned long, void *))dlsym(RTLD_NEXT, "ioctl");
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (req == KVM_RUN && !atomic_flag_test_and_set(&probe_fired))
		probe_record();
	return real(fd, req, arg);
}
