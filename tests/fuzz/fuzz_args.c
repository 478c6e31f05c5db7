/* libFuzzer target: the command lines of flint (vmm/args.c) and of
 * flint-jailer (jailer/args.c), and the jailer's validation: its parsers of
 * /proc/mounts, /proc/self/cgroup and /proc/misc text and its cgroup
 * planning (jailer/paths.c, jailer/validate.c). A launcher may pass anything
 * on a command line, so both parsers must survive every argv; beyond the
 * sanitizers, each accepted command line is checked against the rules the
 * parsers promise (an --id of letters, digits and '-', cgroup files that
 * cannot leave their directory, ...): a broken rule aborts.
 *
 * Input: byte 0 picks the mode; in mode 2 three NUL-terminated texts (mounts,
 * self cgroup, misc) come next; the rest is argv, one argument per
 * NUL-separated piece, each in its own allocation so that reading past an
 * argument is caught. */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/args.h"

/* flint-jailer is a separate binary whose objects the fuzz rule does not
 * link; as in tests/unit/test_jailer.c its parse and validate sources are
 * compiled in here. Nothing below calls a function that changes the system:
 * jail_validate() only looks (realpath, stat, reading /proc), and its one
 * open() of a path from the command line (--netns) is skipped. */
#include "jailer/args.c"     // NOLINT(bugprone-suspicious-include)
#include "jailer/paths.c"    // NOLINT(bugprone-suspicious-include)
#include "jailer/undo.c"     // NOLINT(bugprone-suspicious-include)
#include "jailer/validate.c" // NOLINT(bugprone-suspicious-include)

#define FZ_MAX_ARGS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum fz_mode { FZ_FLINT, FZ_JAILER, FZ_PROC, FZ_MODES };

struct fz_argv {
	int argc;
	char *argv[FZ_MAX_ARGS + 2]; /* program name, arguments, NULL */
};

/* A NUL-terminated copy of the next piece of the input, up to a NUL byte. */
static char *fz_piece(const uint8_t **data, size_t *size)
{
	const uint8_t *nul = memchr(*data, 0, *size);
	size_t n = nul ? (size_t)(nul - *data) : *size;
	char *s = malloc(n + 1);

	if (!s)
		abort();
	memcpy(s, *data, n);
	s[n] = '\0';
	*data += n + (nul ? 1 : 0);
	*size -= n + (nul ? 1 : 0);
	return s;
}

static void fz_argv_build(struct fz_argv *a, const uint8_t *data, size_t size)
{
	a->argc = 0;
	a->argv[a->argc++] = strdup("fuzz");
	while (size > 0 && a->argc <= FZ_MAX_ARGS)
		a->argv[a->argc++] = fz_piece(&data, &size);
	a->argv[a->argc] = NULL;
}

static void fz_argv_free(struct fz_argv *a)
{
	for (int i = 0; i < a->argc; i++)
		free(a->argv[i]);
}

static void fz_check(bool ok)
{
	if (!ok)
		abort();
}

static bool fz_id_ok(const char *id, size_t max)
{
	size_t n = strlen(id);

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isascii((unsigned char)id[i]) ||
		    (!isalnum((unsigned char)id[i]) && id[i] != '-'))
			return false;
	return true;
}

/* flint: what args_parse promises of an accepted command line. */
/* Parsed strings point into argv (or are the default). */
static bool fz_from_argv(const struct fz_argv *a, const char *s, const char *dflt)
{
	if (dflt && !strcmp(s, dflt))
		return true;
	for (int i = 1; i < a->argc; i++)
		if (s >= a->argv[i] && s <= a->argv[i] + strlen(a->argv[i]))
			return true;
	return false;
}

static void fz_flint(struct fz_argv *a)
{
	struct flint_args fa;
	struct fault f = {{0}};
	const char *strs[7];

	if (args_parse(&fa, a->argc, a->argv, &f) != 0) {
		fz_check(f.msg[0] != '\0' && strnlen(f.msg, sizeof(f.msg)) < sizeof(f.msg));
		return;
	}
	strs[0] = fa.config_file;
	strs[1] = fa.log_path;
	strs[2] = fa.level;
	strs[3] = fa.module;
	strs[4] = fa.metrics_path;
	strs[5] = fa.seccomp_filter;
	strs[6] = fa.describe_snapshot;
	fz_check(fz_id_ok(fa.id, 64));
	fz_check(!strcmp(fa.boot_protocol, "pvh") || !strcmp(fa.boot_protocol, "linux"));
	fz_check(fa.max_payload > 0);
	fz_check(!fa.no_api || fa.config_file || fa.help || fa.version || fa.describe_snapshot);
	fz_check(fz_from_argv(a, fa.api_sock, "/run/firecracker.socket") &&
		 fz_from_argv(a, fa.id, "anonymous-instance") &&
		 fz_from_argv(a, fa.boot_protocol, "pvh") &&
		 fz_from_argv(a, fa.kvm_path, "/dev/kvm"));
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		fz_check(!strs[i] || fz_from_argv(a, strs[i], NULL));
}

/* A --cgroup file cannot leave the cgroup directory and names its
 * controller; its value is printable. */
static void fz_cgroup_ok(const struct jail_cgroup_arg *c)
{
	size_t cl = strlen(c->controller);

	fz_check(c->file[0] && !strchr(c->file, '/') && !strstr(c->file, ".."));
	fz_check(cl > 0 && !strncmp(c->file, c->controller, cl) && c->file[cl] == '.' &&
		 c->file[cl + 1]);
	fz_check(c->value[0] != '\0');
	for (const char *p = c->value; *p; p++)
		fz_check(!iscntrl((unsigned char)*p));
}

static void fz_jail_config_ok(const struct jail_config *cfg, const struct fz_argv *a)
{
	struct jail_err err;

	fz_check(cfg->cgroup_version == 1 || cfg->cgroup_version == 2);
	fz_check(cfg->n_cgroups <= JAIL_MAX_CGROUPS);
	for (unsigned i = 0; i < cfg->n_cgroups; i++)
		fz_cgroup_ok(&cfg->cgroups[i]);
	fz_check(cfg->base_dir[0] == '/');
	fz_check(!cfg->netns || cfg->netns[0] == '/');
	fz_check(!cfg->parent_cgroup || jail_check_rel_path(cfg->parent_cgroup, &err) == 0);
	if (cfg->extra_args)
		fz_check(cfg->n_extra >= 0 && cfg->extra_args + cfg->n_extra == a->argv + a->argc);
	if (cfg->help || cfg->version)
		return;
	fz_check(cfg->id && fz_id_ok(cfg->id, JAIL_ID_MAX));
	fz_check(cfg->exec_file && cfg->exec_file[0] == '/');
}

/* flint-jailer: parse, check the promises, then validate against this
 * host without the --netns open (a path from the input could be a FIFO or
 * a device node). */
static void fz_jailer(struct fz_argv *a)
{
	struct jail_config cfg;
	struct jail_plan *plan;
	struct jail_err err = {{0}};

	if (jail_parse_args(a->argc, a->argv, &cfg, &err) != 0) {
		fz_check(err.msg[0] != '\0');
		return;
	}
	fz_jail_config_ok(&cfg, a);
	if (cfg.help || cfg.version)
		return;
	plan = malloc(sizeof(*plan));
	if (!plan)
		abort();
	cfg.netns = NULL;
	if (jail_validate(&cfg, plan, &err) == 0)
		fz_check(plan->n_hier <= JAIL_MAX_HIER && plan->exec_name[0]);
	free(plan);
}

/* A planned hierarchy is <mount>/<parent>/<id>, every index in range. */
static void fz_plan_ok(const struct jail_config *cfg, const struct jail_plan *plan)
{
	fz_check(plan->n_hier <= JAIL_MAX_HIER);
	fz_check(plan->dev_hier < (int)plan->n_hier);
	for (unsigned i = 0; i < cfg->n_cgroups; i++)
		fz_check(plan->cg_hier[i] < plan->n_hier);
	for (unsigned i = 0; i < plan->n_hier; i++) {
		const struct jail_hier *h = &plan->hier[i];
		size_t ml = strlen(h->mount);

		fz_check(!strncmp(h->dir, h->mount, ml));
		fz_check(!strcmp(jail_path_base(h->dir), cfg->id));
	}
}

/* The /proc parsers on made-up text, then the cgroup plan built from it. */
static void fz_proc(const uint8_t *data, size_t size)
{
	char *mounts = fz_piece(&data, &size), *self = fz_piece(&data, &size);
	char *misc = fz_piece(&data, &size), out[PATH_MAX];
	struct jail_config cfg;
	struct jail_plan *plan = malloc(sizeof(*plan));
	struct jail_err err;
	struct fz_argv a;
	int minor = jail_misc_minor(misc, "userfaultfd");

	fz_check(minor == -ENOENT || (minor >= 0 && minor < (1 << 20)));
	if (jail_mounts_find(mounts, "cpu", out, sizeof(out)) == 0)
		fz_check(strnlen(out, sizeof(out)) < sizeof(out));
	if (jail_proc_cgroup_find(self, NULL, out, sizeof(out)) == 0)
		fz_check(strnlen(out, sizeof(out)) < sizeof(out));
	fz_argv_build(&a, data, size);
	if (plan && jail_parse_args(a.argc, a.argv, &cfg, &err) == 0 && cfg.id) {
		memset(plan, 0, sizeof(*plan));
		plan->dev_hier = -1;
		snprintf(plan->parent_cgroup, sizeof(plan->parent_cgroup), "%s",
			 cfg.parent_cgroup ? cfg.parent_cgroup : "flint");
		if (jail_plan_cgroups(&cfg, plan, mounts, self, &err) == 0)
			fz_plan_ok(&cfg, plan);
	}
	fz_argv_free(&a);
	free(plan);
	free(mounts);
	free(self);
	free(misc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_argv a;

	if (size < 1)
		return 0;
	switch ((enum fz_mode)(data[0] % FZ_MODES)) {
	case FZ_FLINT:
		fz_argv_build(&a, data + 1, size - 1);
		fz_flint(&a);
		fz_argv_free(&a);
		break;
	case FZ_JAILER:
		fz_argv_build(&a, data + 1, size - 1);
		fz_jailer(&a);
		fz_argv_free(&a);
		break;
	default:
		fz_proc(data + 1, size - 1);
		break;
	}
	return 0;
}
