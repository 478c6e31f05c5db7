/* Bodies of the VM-wide resources: machine-config, boot-source, logger,
 * metrics, serial, actions and vm state. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "api/body_impl.h"

static const char *const huge_names[] = {"None", "Transparent", "2M"};
static const char *const cpu_template_names[] = {"C3", "T2", "T2S", "T2CL", "T2A", "V1N1", "None"};
static const char *const level_names[] = {"Error", "Warning", "Info", "Debug", "Trace", "Off"};
static const char *const action_names[] = {"InstanceStart", "SendCtrlAltDel", "FlushMetrics"};
static const char *const vm_state_names[] = {"Paused", "Resumed"};

static int read_huge(const struct json_doc *doc, int tok, void *dst, struct fault *f)
{
	int v;

	if (json_get_enum(doc, tok, huge_names, 3, false, &v, f))
		return -EINVAL;
	*(enum cfg_huge_pages *)dst = (enum cfg_huge_pages)v;
	return 0;
}

/* Shape only: which templates flint can apply is the setter's business. */
static int read_cpu_template(const struct json_doc *doc, int tok, void *dst, struct fault *f)
{
	char *out = dst;
	int v;

	if (json_get_enum(doc, tok, cpu_template_names, BODY_NFIELDS(cpu_template_names), false, &v,
			  f))
		return -EINVAL;
	snprintf(out, sizeof(((struct cfg_machine *)0)->cpu_template), "%s", cpu_template_names[v]);
	return 0;
}

#define MACHINE_FIELDS(req)                                                                        \
	{                                                                                          \
		{"vcpu_count", JSON_F_U32, req, offsetof(struct cfg_machine, vcpu_count)},         \
		    {"mem_size_mib", JSON_F_U64, req, offsetof(struct cfg_machine, mem_size_mib)}, \
		    {"smt", JSON_F_BOOL, false, offsetof(struct cfg_machine, smt)},                \
		    {"track_dirty_pages", JSON_F_BOOL, false,                                      \
		     offsetof(struct cfg_machine, track_dirty_pages)},                             \
		    {"huge_pages",                                                                 \
		     JSON_F_CUSTOM,                                                                \
		     false,                                                                        \
		     offsetof(struct cfg_machine, huge_pages),                                     \
		     0,                                                                            \
		     read_huge},                                                                   \
		    {"cpu_template",                                                               \
		     JSON_F_CUSTOM,                                                                \
		     false,                                                                        \
		     offsetof(struct cfg_machine, cpu_template),                                   \
		     0,                                                                            \
		     read_cpu_template},                                                           \
	}

static const struct json_field machine_fields[] = MACHINE_FIELDS(true);
static const struct json_field machine_patch_fields[] = MACHINE_FIELDS(false);

int body_read_machine(const struct json_doc *doc, int tok, struct cfg_machine *out, struct fault *f)
{
	memset(out, 0, sizeof(*out));
	out->huge_pages = CFG_HUGE_NONE;
	return json_walk_object(doc, tok, machine_fields, BODY_NFIELDS(machine_fields), out, NULL,
				f);
}

BODY_PARSE_VIA_READ(machine, struct cfg_machine)

int body_parse_machine_patch(const char *json, size_t len, struct body_machine_patch *out,
			     struct fault *f)
{
	uint32_t present = 0;
	int r;

	memset(out, 0, sizeof(*out));
	r = json_parse_fields(json, len, machine_patch_fields, BODY_NFIELDS(machine_patch_fields),
			      &out->m, &present, f);
	if (r)
		return r;
	if (!present) {
		fault_set(f, "empty PATCH request: give at least one machine-config field");
		return -ENODATA;
	}
	out->has_vcpu_count = present & 1u << 0;
	out->has_mem_size_mib = present & 1u << 1;
	out->has_smt = present & 1u << 2;
	out->has_track_dirty_pages = present & 1u << 3;
	out->has_huge_pages = present & 1u << 4;
	out->has_cpu_template = present & 1u << 5;
	return 0;
}

void body_machine_patch_apply(const struct body_machine_patch *p, struct cfg_machine *m)
{
	if (p->has_vcpu_count)
		m->vcpu_count = p->m.vcpu_count;
	if (p->has_mem_size_mib)
		m->mem_size_mib = p->m.mem_size_mib;
	if (p->has_smt)
		m->smt = p->m.smt;
	if (p->has_track_dirty_pages)
		m->track_dirty_pages = p->m.track_dirty_pages;
	if (p->has_huge_pages)
		m->huge_pages = p->m.huge_pages;
	if (p->has_cpu_template)
		memcpy(m->cpu_template, p->m.cpu_template, sizeof(m->cpu_template));
}

static const struct json_field boot_fields[] = {
    {"kernel_image_path", JSON_F_STR, true, offsetof(struct cfg_boot_source, kernel_image_path),
     CFG_PATH_MAX},
    {"initrd_path", JSON_F_STR, false, offsetof(struct cfg_boot_source, initrd_path), CFG_PATH_MAX},
    {"boot_args", JSON_F_STR, false, offsetof(struct cfg_boot_source, boot_args),
     LAYOUT_CMDLINE_MAX},
};

int body_read_boot_source(const struct json_doc *doc, int tok, struct cfg_boot_source *out,
			  struct fault *f)
{
	uint32_t present = 0;

	memset(out, 0, sizeof(*out));
	if (json_walk_object(doc, tok, boot_fields, BODY_NFIELDS(boot_fields), out, &present, f))
		return -EINVAL;
	out->set = true;
	out->has_boot_args = present & 1u << 2;
	return 0;
}

BODY_PARSE_VIA_READ(boot_source, struct cfg_boot_source)

/* Firecracker's LevelFilter also takes "Warn" for Warning. */
static int read_level(const struct json_doc *doc, int tok, void *dst, struct fault *f)
{
	static const char *const warn[] = {"Warn"};
	int v;

	if (json_get_enum(doc, tok, warn, 1, true, &v, NULL) == 0)
		v = 1; /* level_names[1] is "Warning" */
	else if (json_get_enum(doc, tok, level_names, BODY_NFIELDS(level_names), true, &v, f))
		return -EINVAL;
	snprintf(dst, sizeof(((struct cfg_logger *)0)->level), "%s", level_names[v]);
	return 0;
}

static const struct json_field logger_fields[] = {
    {"log_path", JSON_F_STR, false, offsetof(struct cfg_logger, log_path), CFG_PATH_MAX},
    {"level", JSON_F_CUSTOM, false, offsetof(struct cfg_logger, level), 0, read_level},
    {"show_level", JSON_F_OPT_BOOL, false, offsetof(struct cfg_logger, show_level)},
    {"show_log_origin", JSON_F_OPT_BOOL, false, offsetof(struct cfg_logger, show_log_origin)},
    {"module", JSON_F_STR, false, offsetof(struct cfg_logger, module),
     sizeof(((struct cfg_logger *)0)->module)},
};

int body_read_logger(const struct json_doc *doc, int tok, struct cfg_logger *out, struct fault *f)
{
	memset(out, 0, sizeof(*out));
	strcpy(out->level, "Info");
	if (json_walk_object(doc, tok, logger_fields, BODY_NFIELDS(logger_fields), out, NULL, f))
		return -EINVAL;
	out->set = true;
	return 0;
}

BODY_PARSE_VIA_READ(logger, struct cfg_logger)

static int add_property(struct cfg_metrics *m, const struct json_doc *doc, int key, struct fault *f)
{
	struct cfg_metrics_property *p = &m->properties[m->nproperties];

	if (json_get_str(doc, key, p->key, sizeof(p->key), f) || !p->key[0]) {
		fault_set(f, "keys must be 1 to %zu bytes", sizeof(p->key) - 1);
		return -EINVAL;
	}
	for (int i = 0; i < m->nproperties; i++) {
		if (strcmp(m->properties[i].key, p->key) == 0) {
			fault_set(f, "duplicate key '%s'", p->key);
			return -EINVAL;
		}
	}
	if (json_get_str(doc, key + 1, p->value, sizeof(p->value), f)) {
		json_fault_prefix(f, p->key);
		return -EINVAL;
	}
	m->nproperties++;
	return 0;
}

/* "properties": an object of string values; dst is the struct cfg_metrics. */
static int read_properties(const struct json_doc *doc, int tok, void *dst, struct fault *f)
{
	struct cfg_metrics *m = dst;
	int key = tok + 1;

	if (doc->toks[tok].type != JSON_OBJECT) {
		fault_set(f, "must be an object");
		return -EINVAL;
	}
	if (doc->toks[tok].size > CFG_METRICS_PROPS_MAX) {
		fault_set(f, "at most %d", CFG_METRICS_PROPS_MAX);
		return -EINVAL;
	}
	for (int i = 0; i < doc->toks[tok].size; i++, key = json_skip(doc, key + 1))
		if (add_property(m, doc, key, f))
			return -EINVAL;
	return 0;
}

static const struct json_field metrics_fields[] = {
    {"metrics_path", JSON_F_STR, true, offsetof(struct cfg_metrics, metrics_path), CFG_PATH_MAX},
    {"emit_id", JSON_F_BOOL, false, offsetof(struct cfg_metrics, emit_id)},
    {"properties", JSON_F_CUSTOM, false, 0, 0, read_properties},
};

int body_read_metrics(const struct json_doc *doc, int tok, struct cfg_metrics *out, struct fault *f)
{
	memset(out, 0, sizeof(*out));
	if (json_walk_object(doc, tok, metrics_fields, BODY_NFIELDS(metrics_fields), out, NULL, f))
		return -EINVAL;
	out->set = true;
	return 0;
}

BODY_PARSE_VIA_READ(metrics, struct cfg_metrics)

static const struct json_field serial_fields[] = {
    {"serial_out_path", JSON_F_STR, false, offsetof(struct cfg_serial, serial_out_path),
     CFG_PATH_MAX},
    {"rate_limiter", JSON_F_CUSTOM, false, offsetof(struct cfg_serial, rate_limiter), 0,
     body_read_token_bucket},
};

int body_read_serial(const struct json_doc *doc, int tok, struct cfg_serial *out, struct fault *f)
{
	memset(out, 0, sizeof(*out));
	if (json_walk_object(doc, tok, serial_fields, BODY_NFIELDS(serial_fields), out, NULL, f))
		return -EINVAL;
	out->set = true;
	return 0;
}

BODY_PARSE_VIA_READ(serial, struct cfg_serial)

static int read_action(const struct json_doc *doc, int tok, void *dst, struct fault *f)
{
	int v;

	if (json_get_enum(doc, tok, action_names, BODY_NFIELDS(action_names), false, &v, f))
		return -EINVAL;
	*(enum body_action_type *)dst = (enum body_action_type)v;
	return 0;
}

static const struct json_field action_fields[] = {
    {"action_type", JSON_F_CUSTOM, true, offsetof(struct body_action, type), 0, read_action},
};

int body_parse_action(const char *json, size_t len, struct body_action *out, struct fault *f)
{
	memset(out, 0, sizeof(*out));
	return json_parse_fields(json, len, action_fields, BODY_NFIELDS(action_fields), out, NULL,
				 f);
}

static int read_vm_state(const struct json_doc *doc, int tok, void *dst, struct fault *f)
{
	int v;

	if (json_get_enum(doc, tok, vm_state_names, BODY_NFIELDS(vm_state_names), false, &v, f))
		return -EINVAL;
	*(enum body_vm_state *)dst = (enum body_vm_state)v;
	return 0;
}

static const struct json_field vm_fields[] = {
    {"state", JSON_F_CUSTOM, true, offsetof(struct body_vm, state), 0, read_vm_state},
};

int body_parse_vm(const char *json, size_t len, struct body_vm *out, struct fault *f)
{
	memset(out, 0, sizeof(*out));
	return json_parse_fields(json, len, vm_fields, BODY_NFIELDS(vm_fields), out, NULL, f);
}
