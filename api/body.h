/* Request body parsers: one per Firecracker API body, producing the
 * vmm/config.h structs. They check the shape (fields, types, lengths, enum
 * values); the cfg_* setters check the values (ranges, uniqueness, files).
 *
 * body_parse_X(json, len, out, f) parses a whole request body.
 * body_read_X(doc, tok, out, f) reads the same object from an already parsed
 * document (used by --config-file, vmm/config_file.c).
 * All return 0, or -EINVAL (-ENOMEM) with f->msg saying what is wrong; on
 * error *out is unspecified. Pure functions, any thread. */
#ifndef FLINT_API_BODY_H
#define FLINT_API_BODY_H

#include <stddef.h>

#include "api/json.h"
#include "vmm/config.h"

/* PUT /machine-config: vcpu_count and mem_size_mib required, the rest take
 * their defaults (smt false, track_dirty_pages false, huge_pages None). */
int body_parse_machine(const char *json, size_t len, struct cfg_machine *out, struct fault *f);
int body_read_machine(const struct json_doc *doc, int tok, struct cfg_machine *out,
		      struct fault *f);

/* PATCH /machine-config: every field optional, at least one required
 * (-ENODATA if none is given). */
struct body_machine_patch {
	struct cfg_machine m; /* only the fields flagged below are meaningful */
	bool has_vcpu_count, has_mem_size_mib, has_smt, has_track_dirty_pages;
	bool has_huge_pages, has_cpu_template;
};
int body_parse_machine_patch(const char *json, size_t len, struct body_machine_patch *out,
			     struct fault *f);
/* Overlay the given fields on *m (then pass *m to cfg_set_machine). */
void body_machine_patch_apply(const struct body_machine_patch *p, struct cfg_machine *m);

/* PUT /boot-source. */
int body_parse_boot_source(const char *json, size_t len, struct cfg_boot_source *out,
			   struct fault *f);
int body_read_boot_source(const struct json_doc *doc, int tok, struct cfg_boot_source *out,
			  struct fault *f);

/* RateLimiter and TokenBucket objects; a bucket given gets .set = true. */
int body_read_rate_limiter(const struct json_doc *doc, int tok, void *dst, struct fault *f);
int body_read_token_bucket(const struct json_doc *doc, int tok, void *dst, struct fault *f);

/* PUT /drives/{id}. vhost-user drives ("socket") are refused. */
int body_parse_drive(const char *json, size_t len, struct cfg_drive *out, struct fault *f);
int body_read_drive(const struct json_doc *doc, int tok, struct cfg_drive *out, struct fault *f);

/* PATCH /drives/{id}: drive_id, then path_on_host and/or rate_limiter. In a
 * given rate_limiter, only buckets with .set are to be updated. */
struct body_drive_patch {
	char drive_id[CFG_ID_MAX + 1];
	bool has_path_on_host;
	char path_on_host[CFG_PATH_MAX];
	bool has_rate_limiter;
	struct cfg_rate_limiter rate_limiter;
};
int body_parse_drive_patch(const char *json, size_t len, struct body_drive_patch *out,
			   struct fault *f);

/* PUT /network-interfaces/{id}. guest_mac is parsed here; mtu 68..65535. */
int body_parse_net(const char *json, size_t len, struct cfg_net *out, struct fault *f);
int body_read_net(const struct json_doc *doc, int tok, struct cfg_net *out, struct fault *f);

/* PATCH /network-interfaces/{id}: iface_id, rx and/or tx rate limiters (only
 * buckets with .set are to be updated). */
struct body_net_patch {
	char iface_id[CFG_ID_MAX + 1];
	bool has_rx_rate_limiter;
	struct cfg_rate_limiter rx_rate_limiter;
	bool has_tx_rate_limiter;
	struct cfg_rate_limiter tx_rate_limiter;
};
int body_parse_net_patch(const char *json, size_t len, struct body_net_patch *out, struct fault *f);

/* PUT /vsock (vsock_id is deprecated: accepted, ignored). */
int body_parse_vsock(const char *json, size_t len, struct cfg_vsock *out, struct fault *f);
int body_read_vsock(const struct json_doc *doc, int tok, struct cfg_vsock *out, struct fault *f);

/* PUT /entropy. */
int body_parse_entropy(const char *json, size_t len, struct cfg_entropy *out, struct fault *f);
int body_read_entropy(const struct json_doc *doc, int tok, struct cfg_entropy *out,
		      struct fault *f);

/* PUT /logger: level is matched case-insensitively and stored as
 * "Error", "Warning", "Info" (default), "Debug", "Trace" or "Off".
 * show_level and show_log_origin stay CFG_ABSENT unless given: an update
 * leaves them as they are, and only an explicit false turns one off. */
int body_parse_logger(const char *json, size_t len, struct cfg_logger *out, struct fault *f);
int body_read_logger(const struct json_doc *doc, int tok, struct cfg_logger *out, struct fault *f);

/* PUT /metrics. "properties": at most CFG_METRICS_PROPS_MAX string values,
 * keys of 1-64 bytes, values up to 255. */
int body_parse_metrics(const char *json, size_t len, struct cfg_metrics *out, struct fault *f);
int body_read_metrics(const struct json_doc *doc, int tok, struct cfg_metrics *out,
		      struct fault *f);

/* PUT /serial. */
int body_parse_serial(const char *json, size_t len, struct cfg_serial *out, struct fault *f);
int body_read_serial(const struct json_doc *doc, int tok, struct cfg_serial *out, struct fault *f);

/* PUT /actions. */
enum body_action_type {
	BODY_ACTION_INSTANCE_START,
	BODY_ACTION_SEND_CTRL_ALT_DEL,
	BODY_ACTION_FLUSH_METRICS,
};
struct body_action {
	enum body_action_type type;
};
int body_parse_action(const char *json, size_t len, struct body_action *out, struct fault *f);

/* PATCH /vm. */
enum body_vm_state { BODY_VM_PAUSED, BODY_VM_RESUMED };
struct body_vm {
	enum body_vm_state state;
};
int body_parse_vm(const char *json, size_t len, struct body_vm *out, struct fault *f);

/* PUT /snapshot/create. */
enum body_snapshot_type { BODY_SNAPSHOT_FULL, BODY_SNAPSHOT_DIFF };
struct body_snapshot_create {
	char snapshot_path[CFG_PATH_MAX];
	char mem_file_path[CFG_PATH_MAX];
	enum body_snapshot_type type; /* default Full */
};
int body_parse_snapshot_create(const char *json, size_t len, struct body_snapshot_create *out,
			       struct fault *f);

/* PUT /snapshot/load. Exactly one of mem_backend and the deprecated
 * mem_file_path (which means a File backend) must be given; the deprecated
 * enable_diff_snapshots is ORed into track_dirty_pages, as Firecracker does. */
enum body_mem_backend { BODY_MEM_FILE, BODY_MEM_UFFD };
enum body_load_huge {
	BODY_LOAD_HUGE_SNAPSHOT, /* default: what the snapshot says */
	BODY_LOAD_HUGE_NONE,
	BODY_LOAD_HUGE_TRANSPARENT,
	BODY_LOAD_HUGE_2M,
};
struct body_net_override {
	char iface_id[CFG_ID_MAX + 1];
	char host_dev_name[16];
};
struct body_snapshot_load {
	char snapshot_path[CFG_PATH_MAX];
	enum body_mem_backend backend_type;
	char backend_path[CFG_PATH_MAX];
	bool track_dirty_pages;
	bool resume_vm;
	bool clock_realtime;
	enum body_load_huge huge_pages;
	int n_net_overrides; /* iface_ids are distinct */
	struct body_net_override net_overrides[CFG_MAX_NETS];
	bool has_vsock_override;
	char vsock_uds_path[108];
};
int body_parse_snapshot_load(const char *json, size_t len, struct body_snapshot_load *out,
			     struct fault *f);

#endif
