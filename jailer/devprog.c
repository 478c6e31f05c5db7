/* Device control: which devices the jailed process may open. The cgroup v2
 * device controller is a BPF_PROG_TYPE_CGROUP_DEVICE program; ours is a
 * short allowlist written as raw instructions (no BPF compiler needed):
 * character devices flint uses, every access type; everything else, block
 * devices included, is denied. Under cgroup v1 the same list becomes
 * devices.allow lines after a devices.deny of everything. Pure, so the unit
 * tests run both; cgroup.c applies them. */
#include "jailer/run.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>

struct dev_id {
	unsigned major;
	unsigned minor;
};

static const struct dev_id fixed_devs[] = {
    {10, 232}, /* /dev/kvm */
    {10, 200}, /* /dev/net/tun */
    {1, 3},    /* /dev/null */
    {1, 5},    /* /dev/zero */
    {1, 8},    /* /dev/random */
    {1, 9},    /* /dev/urandom */
};

static struct bpf_insn insn(__u8 code, __u8 dst, __u8 src, __s16 off, __s32 imm)
{
	struct bpf_insn i = {.code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm};

	return i;
}

/* r2 = type, r3 = major, r4 = minor from struct bpf_cgroup_dev_ctx. */
static void emit_header(struct bpf_insn *out, __s16 to_deny)
{
	out[0] = insn(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_2, BPF_REG_1, 0, 0);
	out[1] = insn(BPF_ALU | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xffff); /* low half: type */
	out[2] = insn(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_3, BPF_REG_1,
		      offsetof(struct bpf_cgroup_dev_ctx, major), 0);
	out[3] = insn(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_4, BPF_REG_1,
		      offsetof(struct bpf_cgroup_dev_ctx, minor), 0);
	out[4] = insn(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_2, 0, to_deny, BPF_DEVCG_DEV_CHAR);
}

/* if (major == M && minor == m) goto allow; */
static void emit_match(struct bpf_insn *out, struct dev_id d, __s16 to_allow)
{
	out[0] = insn(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_3, 0, 2, (__s32)d.major);
	out[1] = insn(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_4, 0, 1, (__s32)d.minor);
	out[2] = insn(BPF_JMP | BPF_JA, 0, 0, to_allow, 0);
}

static void emit_return(struct bpf_insn *out, __s32 verdict)
{
	out[0] = insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, verdict);
	out[1] = insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
}

#define MAX_DEVS (sizeof(fixed_devs) / sizeof(fixed_devs[0]) + 1)

/* The fixed devices plus userfaultfd when the host has it. */
static size_t allowed_devs(struct dev_id devs[MAX_DEVS], int uffd_minor)
{
	size_t n = 0;

	for (size_t i = 0; i < sizeof(fixed_devs) / sizeof(fixed_devs[0]); i++)
		devs[n++] = fixed_devs[i];
	if (uffd_minor >= 0)
		devs[n++] = (struct dev_id){10, (unsigned)uffd_minor};
	return n;
}

int jail_dev_v1_rules(char (*out)[JAIL_DEV_RULE_MAX], size_t max, int uffd_minor)
{
	struct dev_id devs[MAX_DEVS];
	size_t n = allowed_devs(devs, uffd_minor);

	if (n > max)
		return -ENOSPC;
	for (size_t i = 0; i < n; i++)
		snprintf(out[i], JAIL_DEV_RULE_MAX, "c %u:%u rwm", devs[i].major, devs[i].minor);
	return (int)n;
}

int jail_devprog_build(struct bpf_insn *out, size_t max, int uffd_minor)
{
	struct dev_id devs[MAX_DEVS];
	size_t n = allowed_devs(devs, uffd_minor), deny, allow, total;

	deny = 5 + 3 * n;
	allow = deny + 2;
	total = allow + 2;
	if (total > max)
		return -ENOSPC;
	/* Jump offsets count from the instruction after the jump. */
	emit_header(out, (__s16)(deny - 5));
	for (size_t i = 0; i < n; i++) {
		size_t at = 5 + 3 * i;

		emit_match(out + at, devs[i], (__s16)(allow - (at + 3)));
	}
	emit_return(out + deny, 0);
	emit_return(out + allow, 1);
	return (int)total;
}
