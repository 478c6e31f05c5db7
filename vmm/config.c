/* The validating setters of the one config model (vmm/config.h). Each checks
 * everything first and only then writes cfg, so a refused request leaves the
 * configuration exactly as it was. Messages say "field: what is wrong"; the
 * API returns them as fault_message, --config-file prefixes the section. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/config.h"

/* refill_time is turned into nanoseconds by the rate limiter. */
#define CFG_REFILL_MAX_MS (UINT64_MAX / 1000000u)

static const char *const level_names[] = {"Error", "Warning", "Info", "Debug", "Trace", "Off"};

void cfg_init(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg_init_zeroed(cfg);
}

void cfg_init_zeroed(struct vm_config *cfg)
{
	cfg->machine.vcpu_count = 1;
	cfg->machine.mem_size_mib = 128;
	cfg->machine.huge_pages = CFG_HUGE_NONE;
}

/* Strings in structs built by C callers are checked for their NUL too. */
static bool str_ok(const char *s, size_t size)
{
	return strnlen(s, size) < size;
}

#define STR_OK(s) str_ok((s), sizeof(s))

static int need_str(const char *s, size_t size, bool nonempty, const char *field, struct fault *f)
{
	if (!str_ok(s, size)) {
		fault_set(f, "%s: longer than %zu bytes", field, size - 1);
		return -EINVAL;
	}
	if (nonempty && !s[0]) {
		fault_set(f, "%s: must not be empty", field);
		return -EINVAL;
	}
	return 0;
}

#define NEED_STR(s, nonempty, field, f) need_str((s), sizeof(s), (nonempty), (field), (f))

int cfg_check_id(const char *id, struct fault *f)
{
	size_t n = strnlen(id, CFG_ID_MAX + 1);

	if (n == 0 || n > CFG_ID_MAX) {
		fault_set(f, "invalid id: must be 1 to %d characters long", CFG_ID_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		char c = id[i];

		if (!(c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		      (c >= 'A' && c <= 'Z'))) {
			fault_set(f,
				  "invalid id: only alphanumeric characters and '_' are allowed");
			return -EINVAL;
		}
	}
	return 0;
}

int cfg_find_drive(const struct vm_config *cfg, const char *drive_id)
{
	for (int i = 0; i < cfg->ndrives; i++)
		if (strcmp(cfg->drives[i].drive_id, drive_id) == 0)
			return i;
	return -1;
}

int cfg_find_net(const struct vm_config *cfg, const char *iface_id)
{
	for (int i = 0; i < cfg->nnets; i++)
		if (strcmp(cfg->nets[i].iface_id, iface_id) == 0)
			return i;
	return -1;
}

static int hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int cfg_parse_mac(const char *s, uint8_t mac[6])
{
	uint8_t tmp[6];

	if (strnlen(s, CFG_MAC_LEN + 1) != CFG_MAC_LEN)
		return -EINVAL;
	for (size_t i = 0; i < 6; i++) {
		int hi = hex_nibble(s[3 * i]), lo = hex_nibble(s[3 * i + 1]);

		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			return -EINVAL;
		tmp[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(mac, tmp, sizeof(tmp));
	return 0;
}

static void fault_prefix(struct fault *f, const char *name)
{
	char tmp[sizeof(f->msg)];

	if (!f)
		return;
	memcpy(tmp, f->msg, sizeof(tmp));
	tmp[sizeof(tmp) - 1] = '\0';
	fault_set(f, "%s: %s", name, tmp);
}

static int check_id_field(const char *id, const char *field, struct fault *f)
{
	if (cfg_check_id(id, f)) {
		fault_prefix(f, field);
		return -EINVAL;
	}
	return 0;
}

static int check_bucket(const struct cfg_token_bucket *b, const char *name, struct fault *f)
{
	if (b->set && b->refill_time_ms > CFG_REFILL_MAX_MS) {
		fault_set(f, "%s: refill_time: must be at most %llu ms, got %llu", name,
			  (unsigned long long)CFG_REFILL_MAX_MS,
			  (unsigned long long)b->refill_time_ms);
		return -EINVAL;
	}
	return 0;
}

static int check_limiter(const struct cfg_rate_limiter *rl, const char *name, struct fault *f)
{
	if (check_bucket(&rl->bandwidth, "bandwidth", f) || check_bucket(&rl->ops, "ops", f)) {
		fault_prefix(f, name);
		return -EINVAL;
	}
	return 0;
}

/* Opened here only to report a bad path at request time, as Firecracker
 * does; the device or loader opens the file again when it is used. */
static int check_file(const char *path, bool writable, bool blockdev_ok, const char *field,
		      struct fault *f)
{
	struct stat st;
	int fd;

	if (stat(path, &st) != 0) {
		fault_set(f, "%s: cannot access '%s': %s", field, path, strerror(errno));
		return -EINVAL;
	}
	if (!S_ISREG(st.st_mode) && !(blockdev_ok && S_ISBLK(st.st_mode))) {
		fault_set(f, "%s: '%s' is not a regular file%s", field, path,
			  blockdev_ok ? " or block device" : "");
		return -EINVAL;
	}
	fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		fault_set(f, "%s: cannot open '%s'%s: %s", field, path,
			  writable ? " for writing" : "", strerror(errno));
		return -EINVAL;
	}
	close(fd);
	return 0;
}

/* Firecracker's command line accepts printable ASCII only. */
static int check_cmdline(const char *s, struct fault *f)
{
	for (size_t i = 0; s[i]; i++) {
		if (s[i] < ' ' || s[i] > '~') {
			fault_set(f,
				  "boot_args: invalid character 0x%02x at offset %zu: only "
				  "printable ASCII is allowed",
				  (unsigned char)s[i], i);
			return -EINVAL;
		}
	}
	return 0;
}

int cfg_set_boot_source(struct vm_config *cfg, const struct cfg_boot_source *bs, struct fault *f)
{
	if (NEED_STR(bs->kernel_image_path, true, "kernel_image_path", f) ||
	    NEED_STR(bs->initrd_path, false, "initrd_path", f) ||
	    NEED_STR(bs->boot_args, false, "boot_args", f) || check_cmdline(bs->boot_args, f) ||
	    check_file(bs->kernel_image_path, false, false, "kernel_image_path", f) ||
	    (bs->initrd_path[0] && check_file(bs->initrd_path, false, false, "initrd_path", f)))
		return -EINVAL;
	cfg->boot_source = *bs;
	cfg->boot_source.set = true;
	return 0;
}

static int check_vcpus(const struct cfg_machine *m, struct fault *f)
{
	if (m->vcpu_count < 1 || m->vcpu_count > LAYOUT_MAX_VCPUS) {
		fault_set(f, "vcpu_count: must be between 1 and %d, got %u", LAYOUT_MAX_VCPUS,
			  m->vcpu_count);
		return -EINVAL;
	}
	if (m->smt && m->vcpu_count > 1 && m->vcpu_count % 2) {
		fault_set(f, "vcpu_count: must be 1 or an even number when smt is enabled, got %u",
			  m->vcpu_count);
		return -EINVAL;
	}
	return 0;
}

static int check_memory(const struct cfg_machine *m, struct fault *f)
{
	if (m->mem_size_mib < 1 || m->mem_size_mib > CFG_MEM_MAX_MIB) {
		fault_set(f, "mem_size_mib: must be between 1 and %llu, got %llu",
			  (unsigned long long)CFG_MEM_MAX_MIB, (unsigned long long)m->mem_size_mib);
		return -EINVAL;
	}
	if ((unsigned)m->huge_pages > CFG_HUGE_2M) {
		fault_set(f, "huge_pages: invalid value %d", (int)m->huge_pages);
		return -EINVAL;
	}
	if (m->huge_pages == CFG_HUGE_2M && m->mem_size_mib % 2) {
		fault_set(f,
			  "mem_size_mib: must be a multiple of 2 with huge_pages \"2M\", got %llu",
			  (unsigned long long)m->mem_size_mib);
		return -EINVAL;
	}
	return 0;
}

int cfg_set_machine(struct vm_config *cfg, const struct cfg_machine *m, struct fault *f)
{
	if (check_vcpus(m, f) || check_memory(m, f))
		return -EINVAL;
	if (!STR_OK(m->cpu_template) ||
	    (m->cpu_template[0] && strcmp(m->cpu_template, "None") != 0)) {
		fault_set(f, "cpu_template: only \"None\" is supported by flint");
		return -EINVAL;
	}
	cfg->machine = *m;
	return 0;
}

/* partuuid ends up on the kernel command line (root=PARTUUID=...). */
static int check_partuuid(const char *s, struct fault *f)
{
	for (size_t i = 0; s[i]; i++) {
		char c = s[i];

		if (!(c == '-' || hex_nibble(c) >= 0)) {
			fault_set(f, "partuuid: only hex digits and '-' are allowed");
			return -EINVAL;
		}
	}
	return 0;
}

static int check_drive(const struct vm_config *cfg, const struct cfg_drive *d, int idx,
		       struct fault *f)
{
	if (check_id_field(d->drive_id, "drive_id", f) ||
	    NEED_STR(d->path_on_host, true, "path_on_host", f) ||
	    NEED_STR(d->partuuid, false, "partuuid", f) || check_partuuid(d->partuuid, f) ||
	    check_limiter(&d->rate_limiter, "rate_limiter", f))
		return -EINVAL;
	if ((unsigned)d->cache_type > CFG_CACHE_WRITEBACK ||
	    (unsigned)d->io_engine > CFG_IO_ASYNC) {
		fault_set(f, "cache_type/io_engine: invalid value");
		return -EINVAL;
	}
	if (idx < 0 && cfg->ndrives >= CFG_MAX_DRIVES) {
		fault_set(f, "cannot add drive '%s': at most %d drives are supported", d->drive_id,
			  CFG_MAX_DRIVES);
		return -EINVAL;
	}
	for (int i = 0; d->is_root_device && i < cfg->ndrives; i++) {
		if (i != idx && cfg->drives[i].is_root_device) {
			fault_set(f, "is_root_device: a root block device already exists ('%s')",
				  cfg->drives[i].drive_id);
			return -EINVAL;
		}
	}
	return check_file(d->path_on_host, !d->is_read_only, true, "path_on_host", f);
}

/* Root first, an updated drive keeps its place, a new one goes last. */
static void drive_store(struct vm_config *cfg, int idx, const struct cfg_drive *d)
{
	struct cfg_drive *v = cfg->drives;
	int at = cfg->ndrives;

	if (idx >= 0) {
		at = v[idx].is_root_device ? cfg->ndrives - 1 : idx;
		memmove(&v[idx], &v[idx + 1], (size_t)(cfg->ndrives - idx - 1) * sizeof(*v));
		cfg->ndrives--;
	}
	if (d->is_root_device)
		at = 0;
	memmove(&v[at + 1], &v[at], (size_t)(cfg->ndrives - at) * sizeof(*v));
	v[at] = *d;
	cfg->ndrives++;
}

int cfg_put_drive(struct vm_config *cfg, const struct cfg_drive *d, struct fault *f)
{
	int idx = STR_OK(d->drive_id) ? cfg_find_drive(cfg, d->drive_id) : -1;

	if (check_drive(cfg, d, idx, f))
		return -EINVAL;
	drive_store(cfg, idx, d);
	return 0;
}

/* The kernel's dev_valid_name(), so TUNSETIFF cannot refuse it later. */
static int check_ifname(const char *s, size_t size, struct fault *f)
{
	if (need_str(s, size, true, "host_dev_name", f))
		return -EINVAL;
	if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0 || strpbrk(s, "/: \t\n\r\v\f")) {
		fault_set(f, "host_dev_name: '%s' is not a valid interface name", s);
		return -EINVAL;
	}
	return 0;
}

static int check_net_unique(const struct vm_config *cfg, const struct cfg_net *n, int idx,
			    struct fault *f)
{
	for (int i = 0; i < cfg->nnets; i++) {
		const struct cfg_net *o = &cfg->nets[i];

		if (i == idx)
			continue;
		if (strcmp(o->host_dev_name, n->host_dev_name) == 0) {
			fault_set(f, "host_dev_name: '%s' is already used by interface '%s'",
				  n->host_dev_name, o->iface_id);
			return -EINVAL;
		}
		if (n->has_guest_mac && o->has_guest_mac &&
		    memcmp(o->guest_mac, n->guest_mac, 6) == 0) {
			fault_set(f, "guest_mac: already used by interface '%s'", o->iface_id);
			return -EINVAL;
		}
	}
	return 0;
}

int cfg_put_net(struct vm_config *cfg, const struct cfg_net *n, struct fault *f)
{
	int idx = STR_OK(n->iface_id) ? cfg_find_net(cfg, n->iface_id) : -1;

	if (check_id_field(n->iface_id, "iface_id", f) ||
	    check_ifname(n->host_dev_name, sizeof(n->host_dev_name), f) ||
	    check_limiter(&n->rx_rate_limiter, "rx_rate_limiter", f) ||
	    check_limiter(&n->tx_rate_limiter, "tx_rate_limiter", f) ||
	    check_net_unique(cfg, n, idx, f))
		return -EINVAL;
	if (n->mtu && (n->mtu < 68 || n->mtu > 65535)) {
		fault_set(f, "mtu: must be between 68 and 65535, got %u", n->mtu);
		return -EINVAL;
	}
	if (idx < 0 && cfg->nnets >= CFG_MAX_NETS) {
		fault_set(f, "cannot add interface '%s': at most %d are supported", n->iface_id,
			  CFG_MAX_NETS);
		return -EINVAL;
	}
	if (idx < 0)
		idx = cfg->nnets++;
	cfg->nets[idx] = *n;
	return 0;
}

int cfg_set_vsock(struct vm_config *cfg, const struct cfg_vsock *v, struct fault *f)
{
	/* 0-2 are reserved (hypervisor, local, host); U32_MAX is VMADDR_CID_ANY. */
	if (v->guest_cid < 3 || v->guest_cid == UINT32_MAX) {
		fault_set(f, "guest_cid: must be between 3 and %u, got %u", UINT32_MAX - 1,
			  v->guest_cid);
		return -EINVAL;
	}
	if (NEED_STR(v->uds_path, true, "uds_path", f))
		return -EINVAL;
	cfg->vsock = *v;
	cfg->vsock.set = true;
	return 0;
}

int cfg_set_entropy(struct vm_config *cfg, const struct cfg_entropy *e, struct fault *f)
{
	if (check_limiter(&e->rate_limiter, "rate_limiter", f))
		return -EINVAL;
	cfg->entropy = *e;
	cfg->entropy.set = true;
	return 0;
}

/* The logger is updated, not replaced, as Firecracker's is: what a request
 * leaves out (log_path, module, the show flags) keeps its earlier value, so
 * cfg->logger describes the logger in effect. The level is always given
 * (the body parser defaults it to Info, as Firecracker resets it). */
static void logger_merge(struct cfg_logger *dst, const struct cfg_logger *l)
{
	if (l->log_path[0])
		memcpy(dst->log_path, l->log_path, sizeof(dst->log_path));
	if (l->level[0])
		memcpy(dst->level, l->level, sizeof(dst->level));
	if (l->show_level != CFG_ABSENT)
		dst->show_level = l->show_level;
	if (l->show_log_origin != CFG_ABSENT)
		dst->show_log_origin = l->show_log_origin;
	if (l->module[0])
		memcpy(dst->module, l->module, sizeof(dst->module));
	dst->set = true;
}

int cfg_set_logger(struct vm_config *cfg, const struct cfg_logger *l, struct fault *f)
{
	bool known = false;

	if (NEED_STR(l->log_path, false, "log_path", f) ||
	    NEED_STR(l->module, false, "module", f) || NEED_STR(l->level, false, "level", f))
		return -EINVAL;
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		known |= strcasecmp(l->level, level_names[i]) == 0;
	if (l->level[0] && !known) {
		fault_set(f, "level: must be one of Error, Warning, Info, Debug, Trace, Off");
		return -EINVAL;
	}
	if ((unsigned)l->show_level > CFG_FALSE || (unsigned)l->show_log_origin > CFG_FALSE) {
		fault_set(f, "show_level, show_log_origin: must be true or false");
		return -EINVAL;
	}
	logger_merge(&cfg->logger, l);
	return 0;
}

int cfg_set_metrics(struct vm_config *cfg, const struct cfg_metrics *m, struct fault *f)
{
	if (NEED_STR(m->metrics_path, true, "metrics_path", f))
		return -EINVAL;
	if (m->nproperties < 0 || m->nproperties > CFG_METRICS_PROPS_MAX) {
		fault_set(f, "properties: at most %d", CFG_METRICS_PROPS_MAX);
		return -EINVAL;
	}
	for (int i = 0; i < m->nproperties; i++)
		if (NEED_STR(m->properties[i].key, true, "properties", f) ||
		    NEED_STR(m->properties[i].value, false, "properties", f))
			return -EINVAL;
	cfg->metrics = *m;
	cfg->metrics.set = true;
	return 0;
}

int cfg_set_serial(struct vm_config *cfg, const struct cfg_serial *s, struct fault *f)
{
	if (NEED_STR(s->serial_out_path, false, "serial_out_path", f) ||
	    check_bucket(&s->rate_limiter, "rate_limiter", f))
		return -EINVAL;
	cfg->serial = *s;
	cfg->serial.set = true;
	return 0;
}

int cfg_validate_for_boot(const struct vm_config *cfg, struct fault *f)
{
	int ndev = cfg->ndrives + cfg->nnets + cfg->vsock.set + cfg->entropy.set;

	if (!cfg->boot_source.set) {
		fault_set(f, "Cannot start microvm without kernel configuration: "
			     "PUT /boot-source first");
		return -EINVAL;
	}
	/* Each virtio device takes one MMIO slot and one IRQ pin. */
	if (ndev > LAYOUT_VIRTIO_MAX || LAYOUT_VIRTIO_IRQ_BASE + ndev - 1 > LAYOUT_IRQ_MAX) {
		fault_set(f, "too many virtio devices: %d configured, at most %d fit", ndev,
			  LAYOUT_VIRTIO_MAX);
		return -EINVAL;
	}
	return 0;
}
