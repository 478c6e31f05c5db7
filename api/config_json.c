/* Serializing struct vm_config. Every string is escaped: paths and ids come
 * from clients, and a later reader must see exactly one JSON value per field.
 * Unset optional values are written as null, as Firecracker does. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/config_json.h"

struct sbuf {
	char *p;
	size_t len;
	size_t cap;
	bool oom;
};

static void sb_putn(struct sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_puts(struct sbuf *b, const char *s)
{
	sb_putn(b, s, strlen(s));
}

static void sb_u64(struct sbuf *b, uint64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)v);

	sb_putn(b, tmp, (size_t)n);
}

/* Bytes >= 0x80 are copied as they are: strings reach the config through the
 * JSON reader, which only lets valid UTF-8 in. */
static void sb_str(struct sbuf *b, const char *s)
{
	sb_putn(b, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			char esc[2] = {'\\', (char)c};

			sb_putn(b, esc, 2);
		} else if (c < 0x20) {
			char esc[7];

			snprintf(esc, sizeof(esc), "\\u%04x", c);
			sb_putn(b, esc, 6);
		} else {
			sb_putn(b, s, 1);
		}
	}
	sb_putn(b, "\"", 1);
}

/* "key": first, with the separating comma when needed. */
static void sb_key(struct sbuf *b, bool *first, const char *key)
{
	if (!*first)
		sb_puts(b, ", ");
	*first = false;
	sb_str(b, key);
	sb_puts(b, ": ");
}

static void sb_kv_str(struct sbuf *b, bool *first, const char *key, const char *val)
{
	sb_key(b, first, key);
	if (val)
		sb_str(b, val);
	else
		sb_puts(b, "null");
}

static void sb_kv_u64(struct sbuf *b, bool *first, const char *key, uint64_t v)
{
	sb_key(b, first, key);
	sb_u64(b, v);
}

static void sb_kv_bool(struct sbuf *b, bool *first, const char *key, bool v)
{
	sb_key(b, first, key);
	sb_puts(b, v ? "true" : "false");
}

/* An optional boolean: null when it was never given. */
static void sb_kv_opt_bool(struct sbuf *b, bool *first, const char *key, enum cfg_opt_bool v)
{
	sb_key(b, first, key);
	sb_puts(b, v == CFG_ABSENT ? "null" : v == CFG_TRUE ? "true" : "false");
}

static const char *opt(const char *s)
{
	return s[0] ? s : NULL;
}

static void put_bucket(struct sbuf *b, const struct cfg_token_bucket *t)
{
	bool first = true;

	sb_puts(b, "{");
	sb_kv_u64(b, &first, "size", t->size);
	sb_kv_u64(b, &first, "one_time_burst", t->one_time_burst);
	sb_kv_u64(b, &first, "refill_time", t->refill_time_ms);
	sb_puts(b, "}");
}

static void put_limiter(struct sbuf *b, bool *first, const char *key,
			const struct cfg_rate_limiter *rl)
{
	bool inner = true;

	sb_key(b, first, key);
	if (!rl->bandwidth.set && !rl->ops.set) {
		sb_puts(b, "null");
		return;
	}
	sb_puts(b, "{");
	if (rl->bandwidth.set) {
		sb_key(b, &inner, "bandwidth");
		put_bucket(b, &rl->bandwidth);
	}
	if (rl->ops.set) {
		sb_key(b, &inner, "ops");
		put_bucket(b, &rl->ops);
	}
	sb_puts(b, "}");
}

static void put_machine(struct sbuf *b, const struct cfg_machine *m)
{
	static const char *const huge[] = {"None", "Transparent", "2M"};
	bool first = true;

	sb_puts(b, "{");
	sb_kv_u64(b, &first, "vcpu_count", m->vcpu_count);
	sb_kv_u64(b, &first, "mem_size_mib", m->mem_size_mib);
	sb_kv_bool(b, &first, "smt", m->smt);
	sb_kv_bool(b, &first, "track_dirty_pages", m->track_dirty_pages);
	sb_kv_str(b, &first, "huge_pages",
		  (unsigned)m->huge_pages <= CFG_HUGE_2M ? huge[m->huge_pages] : "None");
	if (m->cpu_template[0])
		sb_kv_str(b, &first, "cpu_template", m->cpu_template);
	sb_puts(b, "}");
}

static void put_boot(struct sbuf *b, const struct cfg_boot_source *bs)
{
	bool first = true;

	if (!bs->set) {
		sb_puts(b, "null");
		return;
	}
	sb_puts(b, "{");
	sb_kv_str(b, &first, "kernel_image_path", bs->kernel_image_path);
	sb_kv_str(b, &first, "initrd_path", opt(bs->initrd_path));
	sb_kv_str(b, &first, "boot_args", bs->has_boot_args ? bs->boot_args : NULL);
	sb_puts(b, "}");
}

static void put_drive(struct sbuf *b, const struct cfg_drive *d)
{
	bool first = true;

	sb_puts(b, "{");
	sb_kv_str(b, &first, "drive_id", d->drive_id);
	sb_kv_str(b, &first, "partuuid", opt(d->partuuid));
	sb_kv_bool(b, &first, "is_root_device", d->is_root_device);
	sb_kv_str(b, &first, "cache_type",
		  d->cache_type == CFG_CACHE_WRITEBACK ? "Writeback" : "Unsafe");
	sb_kv_bool(b, &first, "is_read_only", d->is_read_only);
	sb_kv_str(b, &first, "path_on_host", d->path_on_host);
	put_limiter(b, &first, "rate_limiter", &d->rate_limiter);
	sb_kv_str(b, &first, "io_engine", d->io_engine == CFG_IO_ASYNC ? "Async" : "Sync");
	sb_puts(b, "}");
}

static void put_net(struct sbuf *b, const struct cfg_net *n)
{
	const uint8_t *m = n->guest_mac;
	char mac[CFG_MAC_LEN + 1];
	bool first = true;

	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4],
		 m[5]);
	sb_puts(b, "{");
	sb_kv_str(b, &first, "iface_id", n->iface_id);
	sb_kv_str(b, &first, "host_dev_name", n->host_dev_name);
	sb_kv_str(b, &first, "guest_mac", n->has_guest_mac ? mac : NULL);
	if (n->mtu)
		sb_kv_u64(b, &first, "mtu", n->mtu);
	put_limiter(b, &first, "rx_rate_limiter", &n->rx_rate_limiter);
	put_limiter(b, &first, "tx_rate_limiter", &n->tx_rate_limiter);
	sb_puts(b, "}");
}

static void put_devices(struct sbuf *b, bool *first, const struct vm_config *cfg)
{
	sb_key(b, first, "drives");
	sb_puts(b, "[");
	for (int i = 0; i < cfg->ndrives && i < CFG_MAX_DRIVES; i++) {
		sb_puts(b, i ? ", " : "");
		put_drive(b, &cfg->drives[i]);
	}
	sb_puts(b, "]");
	sb_key(b, first, "network-interfaces");
	sb_puts(b, "[");
	for (int i = 0; i < cfg->nnets && i < CFG_MAX_NETS; i++) {
		sb_puts(b, i ? ", " : "");
		put_net(b, &cfg->nets[i]);
	}
	sb_puts(b, "]");
}

static void put_vsock_entropy(struct sbuf *b, bool *first, const struct vm_config *cfg)
{
	bool inner = true;

	sb_key(b, first, "vsock");
	if (cfg->vsock.set) {
		sb_puts(b, "{");
		sb_kv_u64(b, &inner, "guest_cid", cfg->vsock.guest_cid);
		sb_kv_str(b, &inner, "uds_path", cfg->vsock.uds_path);
		sb_puts(b, "}");
	} else {
		sb_puts(b, "null");
	}
	inner = true;
	sb_key(b, first, "entropy");
	if (cfg->entropy.set) {
		sb_puts(b, "{");
		put_limiter(b, &inner, "rate_limiter", &cfg->entropy.rate_limiter);
		sb_puts(b, "}");
	} else {
		sb_puts(b, "null");
	}
}

static void put_logger(struct sbuf *b, bool *first, const struct cfg_logger *l)
{
	bool inner = true;

	sb_key(b, first, "logger");
	if (!l->set) {
		sb_puts(b, "null");
		return;
	}
	sb_puts(b, "{");
	sb_kv_str(b, &inner, "log_path", opt(l->log_path));
	sb_kv_str(b, &inner, "level", opt(l->level));
	sb_kv_opt_bool(b, &inner, "show_level", l->show_level);
	sb_kv_opt_bool(b, &inner, "show_log_origin", l->show_log_origin);
	sb_kv_str(b, &inner, "module", opt(l->module));
	sb_puts(b, "}");
}

static void put_properties(struct sbuf *b, bool *first, const struct cfg_metrics *m)
{
	bool inner = true;

	if (m->nproperties <= 0)
		return;
	sb_key(b, first, "properties");
	sb_puts(b, "{");
	for (int i = 0; i < m->nproperties && i < CFG_METRICS_PROPS_MAX; i++)
		sb_kv_str(b, &inner, m->properties[i].key, m->properties[i].value);
	sb_puts(b, "}");
}

static void put_metrics_serial(struct sbuf *b, bool *first, const struct vm_config *cfg)
{
	bool inner = true;

	sb_key(b, first, "metrics");
	if (cfg->metrics.set) {
		sb_puts(b, "{");
		sb_kv_str(b, &inner, "metrics_path", cfg->metrics.metrics_path);
		sb_kv_bool(b, &inner, "emit_id", cfg->metrics.emit_id);
		put_properties(b, &inner, &cfg->metrics);
		sb_puts(b, "}");
	} else {
		sb_puts(b, "null");
	}
	inner = true;
	sb_key(b, first, "serial");
	if (!cfg->serial.set) {
		sb_puts(b, "null");
		return;
	}
	sb_puts(b, "{");
	sb_kv_str(b, &inner, "serial_out_path", opt(cfg->serial.serial_out_path));
	if (cfg->serial.rate_limiter.set) {
		sb_key(b, &inner, "rate_limiter");
		put_bucket(b, &cfg->serial.rate_limiter);
	}
	sb_puts(b, "}");
}

static int sb_finish(struct sbuf *b, char **out, size_t *len)
{
	if (b->oom || !b->p) {
		free(b->p);
		return -ENOMEM;
	}
	*out = b->p;
	*len = b->len;
	return 0;
}

int cfgjson_write_vm(const struct vm_config *cfg, char **out, size_t *len)
{
	struct sbuf b = {0};
	bool first = true;

	sb_puts(&b, "{");
	sb_kv_str(&b, &first, "balloon", NULL);
	sb_key(&b, &first, "boot-source");
	put_boot(&b, &cfg->boot_source);
	sb_kv_str(&b, &first, "cpu-config", NULL);
	put_devices(&b, &first, cfg);
	put_logger(&b, &first, &cfg->logger);
	sb_key(&b, &first, "machine-config");
	put_machine(&b, &cfg->machine);
	put_metrics_serial(&b, &first, cfg);
	sb_kv_str(&b, &first, "mmds-config", NULL);
	/* The spec's FullVmConfiguration names every resource; flint has no
	 * memory hotplug or pmem yet (null reads back as absent). */
	sb_kv_str(&b, &first, "memory-hotplug", NULL);
	sb_kv_str(&b, &first, "pmem", NULL);
	put_vsock_entropy(&b, &first, cfg);
	sb_puts(&b, "}");
	return sb_finish(&b, out, len);
}

int cfgjson_write_machine(const struct cfg_machine *m, char **out, size_t *len)
{
	struct sbuf b = {0};

	put_machine(&b, m);
	return sb_finish(&b, out, len);
}
