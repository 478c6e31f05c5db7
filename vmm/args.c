/* Command-line parsing: "--flag value" and "--flag=value" forms. */
#include "vmm/args.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define INSTANCE_ID_MAX 64

enum arg_kind { ARG_STRING, ARG_BOOL, ARG_U64 };

struct arg_spec {
	const char *name;
	enum arg_kind kind;
	size_t offset;
};

#define ARG(n, k, field)                                                                           \
	{                                                                                          \
		n, k, offsetof(struct flint_args, field)                                           \
	}

static const struct arg_spec arg_specs[] = {
    ARG("api-sock", ARG_STRING, api_sock),
    ARG("id", ARG_STRING, id),
    ARG("config-file", ARG_STRING, config_file),
    ARG("no-api", ARG_BOOL, no_api),
    ARG("boot-timer", ARG_BOOL, boot_timer),
    ARG("log-path", ARG_STRING, log_path),
    ARG("level", ARG_STRING, level),
    ARG("module", ARG_STRING, module),
    ARG("show-level", ARG_BOOL, show_level),
    ARG("show-log-origin", ARG_BOOL, show_log_origin),
    ARG("metrics-path", ARG_STRING, metrics_path),
    ARG("http-api-max-payload-size", ARG_U64, max_payload),
    ARG("no-seccomp", ARG_BOOL, no_seccomp),
    ARG("seccomp-filter", ARG_STRING, seccomp_filter),
    ARG("start-time-us", ARG_U64, start_time_us),
    ARG("start-time-cpu-us", ARG_U64, start_time_cpu_us),
    ARG("parent-cpu-time-us", ARG_U64, parent_cpu_time_us),
    ARG("describe-snapshot", ARG_STRING, describe_snapshot),
    ARG("boot-protocol", ARG_STRING, boot_protocol),
    ARG("kvm-path", ARG_STRING, kvm_path),
    ARG("help", ARG_BOOL, help),
    ARG("version", ARG_BOOL, version),
};

static const struct arg_spec *arg_find(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(arg_specs) / sizeof(arg_specs[0]); i++)
		if (strlen(arg_specs[i].name) == len && !strncmp(arg_specs[i].name, name, len))
			return &arg_specs[i];
	return NULL;
}

static int arg_store(struct flint_args *a, const struct arg_spec *s, const char *val,
		     struct fault *f)
{
	char *field = (char *)a + s->offset;
	char *end;
	unsigned long long v;

	if (s->kind == ARG_STRING) {
		memcpy(field, &val, sizeof(val));
		return 0;
	}
	/* Digits only: strtoull would also take leading blanks and a sign, and
	 * " -5" would wrap to 2^64 - 5. */
	errno = 0;
	v = strtoull(val, &end, 10);
	if (val[0] < '0' || val[0] > '9' || *end || errno) {
		fault_set(f, "--%s: '%s' is not a non-negative integer", s->name, val);
		return -EINVAL;
	}
	memcpy(field, &(uint64_t){v}, sizeof(uint64_t));
	return 0;
}

static int args_check(struct flint_args *a, struct fault *f)
{
	size_t n = strlen(a->id);

	if (n == 0 || n > INSTANCE_ID_MAX ||
	    strspn(a->id, "abcdefghijklmnopqrstuvwxyz"
			  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != n) {
		fault_set(f, "--id: '%s' must be 1 to %d letters, digits or '-'", a->id,
			  INSTANCE_ID_MAX);
		return -EINVAL;
	}
	if (a->no_api && !a->config_file && !a->help && !a->version && !a->describe_snapshot) {
		fault_set(f, "--no-api needs --config-file: there would be no way to configure "
			     "the microVM");
		return -EINVAL;
	}
	if (strcmp(a->boot_protocol, "pvh") != 0 && strcmp(a->boot_protocol, "linux") != 0) {
		fault_set(f, "--boot-protocol: '%s' is not 'pvh' or 'linux'", a->boot_protocol);
		return -EINVAL;
	}
	if (a->max_payload == 0) {
		fault_set(f, "--http-api-max-payload-size must be greater than 0");
		return -EINVAL;
	}
	return 0;
}

int args_parse(struct flint_args *a, int argc, char *const argv[], struct fault *f)
{
	memset(a, 0, sizeof(*a));
	a->api_sock = "/run/firecracker.socket";
	a->id = "anonymous-instance";
	a->max_payload = 51200;
	a->boot_protocol = "pvh";
	a->kvm_path = "/dev/kvm";
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *eq, *val = NULL;
		const struct arg_spec *s;

		if (strncmp(arg, "--", 2) != 0) {
			fault_set(f, "unexpected argument '%s'", arg);
			return -EINVAL;
		}
		arg += 2;
		eq = strchr(arg, '=');
		s = arg_find(arg, eq ? (size_t)(eq - arg) : strlen(arg));
		if (!s) {
			fault_set(f, "unknown argument '%s' (see --help)", argv[i]);
			return -EINVAL;
		}
		if (s->kind == ARG_BOOL) {
			if (eq) {
				fault_set(f, "--%s takes no value", s->name);
				return -EINVAL;
			}
			*((bool *)((char *)a + s->offset)) = true;
			continue;
		}
		if (eq) {
			val = eq + 1;
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			fault_set(f, "--%s needs a value", s->name);
			return -EINVAL;
		}
		if (arg_store(a, s, val, f) != 0)
			return -EINVAL;
		if (s->offset == offsetof(struct flint_args, start_time_us))
			a->has_start_time = true;
	}
	return args_check(a, f);
}

const char *args_usage(void)
{
	return "Usage: flint [OPTIONS]\n"
	       "A minimal KVM microVM monitor that speaks Firecracker's API.\n\n"
	       "  --api-sock PATH               Unix socket for the HTTP API "
	       "(default /run/firecracker.socket)\n"
	       "  --id ID                       microVM id, letters, digits and '-' "
	       "(default anonymous-instance)\n"
	       "  --config-file FILE            boot from a Firecracker JSON config file\n"
	       "  --no-api                      serve no API (needs --config-file)\n"
	       "  --boot-timer                  log the guest's boot time when it writes 123 "
	       "at 0xc0000000\n"
	       "  --log-path PATH               log to a file or named pipe (default stderr)\n"
	       "  --level LEVEL                 Error, Warning, Info (default), Debug, Trace, Off\n"
	       "  --module PREFIX               only log lines from source files with this prefix\n"
	       "  --show-level                  show the level in log lines\n"
	       "  --show-log-origin             show file:line in log lines\n"
	       "  --metrics-path PATH           write metrics to a file or named pipe\n"
	       "  --http-api-max-payload-size N largest request body, bytes (default 51200)\n"
	       "  --no-seccomp                  do not install seccomp filters\n"
	       "  --seccomp-filter FILE         install this compiled seccomp filter instead:\n"
	       "                                Firecracker's thread-name map (vmm, api, vcpu)\n"
	       "                                or raw struct sock_filter BPF for every thread\n"
	       "  --start-time-us US            start of the boot (set by flint-jailer)\n"
	       "  --start-time-cpu-us US        CPU time used before exec (set by flint-jailer)\n"
	       "  --parent-cpu-time-us US       the jailer's CPU time (set by flint-jailer)\n"
	       "  --describe-snapshot FILE      print a snapshot file's format version\n"
	       "  --boot-protocol pvh|linux     how to enter an ELF kernel that has a PVH note "
	       "(default pvh)\n"
	       "  --version                     print the version\n"
	       "  --help                        print this help\n";
}
