/* Resource limits, dropping to uid:gid with no capabilities, closing fds. */
#include "jailer/run.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

int jail_set_rlimits(struct jail_ctx *ctx)
{
	const struct jail_config *cfg = ctx->cfg;
	struct rlimit rl = {.rlim_cur = cfg->nofile, .rlim_max = cfg->nofile};

	if (setrlimit(RLIMIT_NOFILE, &rl))
		return jail_fail(&ctx->err, errno, "rlimits: cannot set no-file=%llu",
				 (unsigned long long)cfg->nofile);
	if (!cfg->has_fsize)
		return 0;
	rl.rlim_cur = rl.rlim_max = cfg->fsize;
	if (setrlimit(RLIMIT_FSIZE, &rl))
		return jail_fail(&ctx->err, errno, "rlimits: cannot set fsize=%llu",
				 (unsigned long long)cfg->fsize);
	return 0;
}

static int caps_set(const struct __user_cap_data_struct *data)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};

	return (int)syscall(SYS_capset, &hdr, data);
}

/* Are all of effective, permitted, inheritable, ambient and bounding empty? */
static int caps_check_empty(struct jail_ctx *ctx)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &hdr, data))
		return jail_fail(&ctx->err, errno, "privileges: capget");
	for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
		if (data[i].effective || data[i].permitted || data[i].inheritable)
			return jail_fail(&ctx->err, EPERM, "privileges: capabilities remain");
	for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) ||
		    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0) > 0)
			return jail_fail(&ctx->err, EPERM,
					 "privileges: capability %d remains in the bounding or "
					 "ambient set",
					 cap);
	return 0;
}

static int ids_check(struct jail_ctx *ctx)
{
	uid_t r, e, s;
	gid_t rg, eg, sg;

	if (getresuid(&r, &e, &s) || getresgid(&rg, &eg, &sg))
		return jail_fail(&ctx->err, errno, "privileges: getresuid");
	if (r != ctx->cfg->uid || e != r || s != r || rg != ctx->cfg->gid || eg != rg || sg != rg ||
	    getgroups(0, NULL) != 0)
		return jail_fail(&ctx->err, EPERM, "privileges: ids did not change");
	return 0;
}

int jail_drop_privs(struct jail_ctx *ctx)
{
	const struct jail_config *cfg = ctx->cfg;
	struct __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3] = {{0, 0, 0}};

	if (setgroups(0, NULL))
		return jail_fail(&ctx->err, errno, "privileges: setgroups");
	if (setresgid(cfg->gid, cfg->gid, cfg->gid))
		return jail_fail(&ctx->err, errno, "privileges: setresgid %u", cfg->gid);
	/* The bounding set can only shrink while we hold CAP_SETPCAP, i.e.
	 * before setresuid(); it also keeps a uid 0 target from regaining
	 * capabilities on exec, as does the empty inheritable set below. */
	for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0))
			return jail_fail(&ctx->err, errno, "privileges: drop capability %d", cap);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0))
		return jail_fail(&ctx->err, errno, "privileges: clear ambient capabilities");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return jail_fail(&ctx->err, errno, "privileges: no_new_privs");
	if (setresuid(cfg->uid, cfg->uid, cfg->uid))
		return jail_fail(&ctx->err, errno, "privileges: setresuid %u", cfg->uid);
	ctx->dropped = true;
	/* A non-zero uid lost its capabilities in setresuid(); uid 0 did not. */
	if (caps_set(none))
		return jail_fail(&ctx->err, errno, "privileges: capset");
	if (ids_check(ctx))
		return -EPERM;
	return caps_check_empty(ctx);
}

int jail_close_fds(struct jail_ctx *ctx, int keep)
{
	int rc;

	if (keep > 3 && syscall(SYS_close_range, 3u, (unsigned)keep - 1, 0u))
		return jail_fail(&ctx->err, errno, "close fds: close_range");
	rc = (int)syscall(SYS_close_range, keep >= 3 ? (unsigned)keep + 1 : 3u, ~0u, 0u);
	if (rc)
		return jail_fail(&ctx->err, errno, "close fds: close_range");
	return 0;
}
