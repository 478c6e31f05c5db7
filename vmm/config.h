/* The one configuration model behind --config-file and the HTTP API. Both
 * parse JSON into these structs and call the same validating setters, which
 * report what is wrong in a struct fault (the API's fault_message).
 *
 * Field names follow Firecracker's API (../shared/spec/firecracker-api.yaml).
 * Owned by the thread that builds the VM (main before boot, then the VMM
 * thread); not locked. */
#ifndef FLINT_VMM_CONFIG_H
#define FLINT_VMM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "boot/layout.h"

#define CFG_PATH_MAX	4096
#define CFG_ID_MAX	64 /* drive_id, iface_id: bytes, excluding the NUL */
#define CFG_MAX_DRIVES	8
#define CFG_MAX_NETS	8
#define CFG_MAC_LEN	17	     /* "aa:bb:cc:dd:ee:ff" */
#define CFG_MEM_MAX_MIB (1ULL << 20) /* 1 TiB: keeps every size computation far from overflow */

/* A human-readable reason for a refused configuration. */
struct fault {
	char msg[512];
};
void fault_set(struct fault *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* An optional boolean the client may leave out, where leaving it out means
 * "keep what is set" rather than false (Firecracker's Option<bool>, e.g.
 * the logger's show_level). Zero is "not given", so a zeroed struct starts
 * with every such field absent; CFG_TRUE equals true, so a command-line
 * flag (a bool: given or not) converts to "on" or "not given". */
enum cfg_opt_bool { CFG_ABSENT = 0, CFG_TRUE = 1, CFG_FALSE = 2 };

struct cfg_boot_source {
	bool set;
	char kernel_image_path[CFG_PATH_MAX];
	char initrd_path[CFG_PATH_MAX]; /* "" = none */
	bool has_boot_args;		/* false: use LAYOUT_DEFAULT_CMDLINE */
	char boot_args[LAYOUT_CMDLINE_MAX];
};

enum cfg_huge_pages { CFG_HUGE_NONE = 0, CFG_HUGE_TRANSPARENT, CFG_HUGE_2M };

struct cfg_machine {
	uint32_t vcpu_count;   /* 1..32 */
	uint64_t mem_size_mib; /* >= 1 */
	bool smt;
	bool track_dirty_pages;
	enum cfg_huge_pages huge_pages;
	char cpu_template[16]; /* "" or "None" */
};

/* A token bucket is active only with size > 0 and refill_time_ms > 0
 * (Firecracker's rule); set says the client gave it. */

struct cfg_token_bucket {
	bool set;
	uint64_t size;
	uint64_t one_time_burst;
	uint64_t refill_time_ms;
};

struct cfg_rate_limiter {
	struct cfg_token_bucket bandwidth; /* tokens are bytes */
	struct cfg_token_bucket ops;	   /* tokens are operations */
};

enum cfg_cache_type { CFG_CACHE_UNSAFE = 0, CFG_CACHE_WRITEBACK };
enum cfg_io_engine { CFG_IO_SYNC = 0, CFG_IO_ASYNC };

/* cfg->drives keeps the root device first (it becomes /dev/vda), the others
 * in the order they were added, as Firecracker does. */
struct cfg_drive {
	char drive_id[CFG_ID_MAX + 1];
	char path_on_host[CFG_PATH_MAX];
	bool is_root_device;
	bool is_read_only;
	char partuuid[64]; /* "" = none */
	enum cfg_cache_type cache_type;
	enum cfg_io_engine io_engine;
	struct cfg_rate_limiter rate_limiter;
};

struct cfg_net {
	char iface_id[CFG_ID_MAX + 1];
	char host_dev_name[16]; /* IFNAMSIZ */
	bool has_guest_mac;
	uint8_t guest_mac[6];
	uint32_t mtu; /* 0 = not advertised */
	struct cfg_rate_limiter rx_rate_limiter;
	struct cfg_rate_limiter tx_rate_limiter;
};

struct cfg_vsock {
	bool set;
	uint32_t guest_cid; /* >= 3 */
	char uds_path[108]; /* sun_path */
};

struct cfg_entropy {
	bool set;
	struct cfg_rate_limiter rate_limiter;
};

struct cfg_logger {
	bool set;
	char log_path[CFG_PATH_MAX];
	char level[16];
	enum cfg_opt_bool show_level; /* absent: unchanged */
	enum cfg_opt_bool show_log_origin;
	char module[128];
};

#define CFG_METRICS_PROPS_MAX 16

/* An operator-defined "key": "value" written on every metrics line. */
struct cfg_metrics_property {
	char key[65];
	char value[256];
};

struct cfg_metrics {
	bool set;
	char metrics_path[CFG_PATH_MAX];
	bool emit_id;
	int nproperties; /* keys are distinct */
	struct cfg_metrics_property properties[CFG_METRICS_PROPS_MAX];
};

struct cfg_serial {
	bool set;
	char serial_out_path[CFG_PATH_MAX];   /* "" = the VMM's stdout */
	struct cfg_token_bucket rate_limiter; /* bytes of serial output */
};

struct vm_config {
	struct cfg_boot_source boot_source;
	struct cfg_machine machine;
	struct cfg_drive drives[CFG_MAX_DRIVES];
	int ndrives;
	struct cfg_net nets[CFG_MAX_NETS];
	int nnets;
	struct cfg_vsock vsock;
	struct cfg_entropy entropy;
	struct cfg_logger logger;
	struct cfg_metrics metrics;
	struct cfg_serial serial;
};

/* Defaults: 1 vCPU, 128 MiB, no devices (Firecracker's defaults). */
void cfg_init(struct vm_config *cfg);
/* The same for a struct that is already all zero (calloc). */
void cfg_init_zeroed(struct vm_config *cfg);

/* Validating setters. Each returns 0, or -EINVAL with f->msg saying what is
 * wrong and cfg unchanged. cfg_set_boot_source and cfg_put_drive also check
 * that the files exist and can be opened as asked (Firecracker opens them at
 * PUT time), so a typo is reported by the request that made it. cfg_put_drive
 * and cfg_put_net replace an existing entry with the same id. */
int cfg_set_boot_source(struct vm_config *cfg, const struct cfg_boot_source *bs, struct fault *f);
int cfg_set_machine(struct vm_config *cfg, const struct cfg_machine *m, struct fault *f);
int cfg_put_drive(struct vm_config *cfg, const struct cfg_drive *d, struct fault *f);
int cfg_put_net(struct vm_config *cfg, const struct cfg_net *n, struct fault *f);
int cfg_set_vsock(struct vm_config *cfg, const struct cfg_vsock *v, struct fault *f);
int cfg_set_entropy(struct vm_config *cfg, const struct cfg_entropy *e, struct fault *f);
int cfg_set_logger(struct vm_config *cfg, const struct cfg_logger *l, struct fault *f);
int cfg_set_metrics(struct vm_config *cfg, const struct cfg_metrics *m, struct fault *f);
int cfg_set_serial(struct vm_config *cfg, const struct cfg_serial *s, struct fault *f);

/* Drive and interface ids (also the {id} in API paths): 1..CFG_ID_MAX
 * characters from [A-Za-z0-9_]. 0 or -EINVAL with f set. */
int cfg_check_id(const char *id, struct fault *f);
/* Index of the drive / interface with this id, or -1. */
int cfg_find_drive(const struct vm_config *cfg, const char *drive_id);
int cfg_find_net(const struct vm_config *cfg, const char *iface_id);
/* "aa:bb:cc:dd:ee:ff" (hex, either case) to bytes. 0 or -EINVAL. */
int cfg_parse_mac(const char *s, uint8_t mac[6]);

/* Checks that only make sense at InstanceStart (a boot source is set, ...). */
int cfg_validate_for_boot(const struct vm_config *cfg, struct fault *f);

/* Parse a Firecracker --config-file document (the whole JSON text) into cfg
 * through the setters above. Unknown keys, duplicate keys and wrong types are
 * refused. 0 or -EINVAL with f set. */
int cfg_load_json(struct vm_config *cfg, const char *json, uint64_t len, struct fault *f);
/* Read path and cfg_load_json it. */
int cfg_load_file(struct vm_config *cfg, const char *path, struct fault *f);

#endif
