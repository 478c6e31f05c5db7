/* Bodies of PUT /snapshot/create and PUT /snapshot/load. A snapshot's paths
 * are checked by the snapshot code when it opens them; here only the shape. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "api/body_impl.h"

static const char *const type_names[] = {"Full", "Diff"};
static const char *const backend_names[] = {"File", "Uffd"};
static const char *const huge_names[] = {"Snapshot", "None", "Transparent", "2M"};

static int read_type(const struct json_doc *doc, int tok, void *dst, struct fault *f)
{
	int v;

	if (json_get_enum(doc, tok, type_names, 2, false, &v, f))
		return -EINVAL;
	*(enum body_snapshot_type *)dst = (enum body_snapshot_type)v;
	return 0;
}

static const struct json_field create_fields[] = {
    {"snapshot_path", JSON_F_STR, true, offsetof(struct body_snapshot_create, snapshot_path),
     CFG_PATH_MAX},
    {"mem_file_path", JSON_F_STR, true, offsetof(struct body_snapshot_create, mem_file_path),
     CFG_PATH_MAX},
    {"snapshot_type", JSON_F_CUSTOM, false, offsetof(struct body_snapshot_create, type), 0,
     read_type},
};

int body_parse_snapshot_create(const char *json, size_t len, struct body_snapshot_create *out,
			       struct fault *f)
{
	memset(out, 0, sizeof(*out));
	if (json_parse_fields(json, len, create_fields, BODY_NFIELDS(create_fields), out, NULL, f))
		return -EINVAL;
	if (!out->snapshot_path[0] || !out->mem_file_path[0]) {
		fault_set(f, "%s: must not be empty",
			  out->snapshot_path[0] ? "mem_file_path" : "snapshot_path");
		return -EINVAL;
	}
	return 0;
}

static int read_backend_type(const struct json_doc *doc, int tok, void *dst, struct fault *f)
{
	int v;

	if (json_get_enum(doc, tok, backend_names, 2, false, &v, f))
		return -EINVAL;
	*(enum body_mem_backend *)dst = (enum body_mem_backend)v;
	return 0;
}

static const struct json_field backend_fields[] = {
    {"backend_type", JSON_F_CUSTOM, true, offsetof(struct body_snapshot_load, backend_type), 0,
     read_backend_type},
    {"backend_path", JSON_F_STR, true, offsetof(struct body_snapshot_load, backend_path),
     CFG_PATH_MAX},
};

/* dst is the whole struct body_snapshot_load (offset 0 in load_fields). */
static int read_backend(const struct json_doc *doc, int tok, void *dst, struct fault *f)
{
	return json_walk_object(doc, tok, backend_fields, BODY_NFIELDS(backend_fields), dst, NULL,
				f);
}

static int read_mem_file(const struct json_doc *doc, int tok, void *dst, struct fault *f)
{
	struct body_snapshot_load *l = dst;

	l->backend_type = BODY_MEM_FILE;
	return json_get_str(doc, tok, l->backend_path, sizeof(l->backend_path), f);
}

static const struct json_field override_fields[] = {
    {"iface_id", JSON_F_STR, true, offsetof(struct body_net_override, iface_id), CFG_ID_MAX + 1},
    {"host_dev_name", JSON_F_STR, true, offsetof(struct body_net_override, host_dev_name),
     sizeof(((struct body_net_override *)0)->host_dev_name)},
};

static int add_override(struct body_snapshot_load *l, const struct json_doc *doc, int tok,
			struct fault *f)
{
	struct body_net_override *o = &l->net_overrides[l->n_net_overrides];

	memset(o, 0, sizeof(*o));
	if (json_walk_object(doc, tok, override_fields, BODY_NFIELDS(override_fields), o, NULL, f))
		return -EINVAL;
	for (int i = 0; i < l->n_net_overrides; i++) {
		if (strcmp(l->net_overrides[i].iface_id, o->iface_id) == 0) {
			fault_set(f, "iface_id: '%s' is given twice", o->iface_id);
			return -EINVAL;
		}
	}
	l->n_net_overrides++;
	return 0;
}

static int read_overrides(const struct json_doc *doc, int tok, void *dst, struct fault *f)
{
	struct body_snapshot_load *l = dst;
	int el = tok + 1;

	if (doc->toks[tok].type != JSON_ARRAY) {
		fault_set(f, "must be an array");
		return -EINVAL;
	}
	if (doc->toks[tok].size > CFG_MAX_NETS) {
		fault_set(f, "at most %d overrides", CFG_MAX_NETS);
		return -EINVAL;
	}
	for (int i = 0; i < doc->toks[tok].size; i++, el = json_skip(doc, el)) {
		if (add_override(l, doc, el, f)) {
			char name[16];

			snprintf(name, sizeof(name), "[%d]", i);
			json_fault_prefix(f, name);
			return -EINVAL;
		}
	}
	return 0;
}

static const struct json_field vsock_override_fields[] = {
    {"uds_path", JSON_F_STR, true, 0, sizeof(((struct body_snapshot_load *)0)->vsock_uds_path)},
};

static int read_vsock_override(const struct json_doc *doc, int tok, void *dst, struct fault *f)
{
	return json_walk_object(doc, tok, vsock_override_fields,
				BODY_NFIELDS(vsock_override_fields), dst, NULL, f);
}

static int read_huge(const struct json_doc *doc, int tok, void *dst, struct fault *f)
{
	int v;

	if (json_get_enum(doc, tok, huge_names, 4, false, &v, f))
		return -EINVAL;
	*(enum body_load_huge *)dst = (enum body_load_huge)v;
	return 0;
}

/* enable_diff_snapshots (deprecated) and track_dirty_pages both ask for
 * dirty tracking: Firecracker tracks if either is true. */
static int read_track(const struct json_doc *doc, int tok, void *dst, struct fault *f)
{
	bool v;

	if (json_get_bool(doc, tok, &v, f))
		return -EINVAL;
	*(bool *)dst = *(bool *)dst || v;
	return 0;
}

/* Bits of load_fields[] in the walker's present mask. */
enum {
	LOAD_MEM_FILE = 1u << 1,
	LOAD_MEM_BACKEND = 1u << 2,
	LOAD_VSOCK = 1u << 7,
};

static const struct json_field load_fields[] = {
    {"snapshot_path", JSON_F_STR, true, offsetof(struct body_snapshot_load, snapshot_path),
     CFG_PATH_MAX},
    {"mem_file_path", JSON_F_CUSTOM, false, 0, 0, read_mem_file},
    {"mem_backend", JSON_F_CUSTOM, false, 0, 0, read_backend},
    {"enable_diff_snapshots", JSON_F_CUSTOM, false,
     offsetof(struct body_snapshot_load, track_dirty_pages), 0, read_track},
    {"track_dirty_pages", JSON_F_CUSTOM, false,
     offsetof(struct body_snapshot_load, track_dirty_pages), 0, read_track},
    {"resume_vm", JSON_F_BOOL, false, offsetof(struct body_snapshot_load, resume_vm)},
    {"network_overrides", JSON_F_CUSTOM, false, 0, 0, read_overrides},
    {"vsock_override", JSON_F_CUSTOM, false, offsetof(struct body_snapshot_load, vsock_uds_path), 0,
     read_vsock_override},
    {"clock_realtime", JSON_F_BOOL, false, offsetof(struct body_snapshot_load, clock_realtime)},
    {"huge_pages", JSON_F_CUSTOM, false, offsetof(struct body_snapshot_load, huge_pages), 0,
     read_huge},
};

int body_parse_snapshot_load(const char *json, size_t len, struct body_snapshot_load *out,
			     struct fault *f)
{
	uint32_t present = 0;

	memset(out, 0, sizeof(*out));
	if (json_parse_fields(json, len, load_fields, BODY_NFIELDS(load_fields), out, &present, f))
		return -EINVAL;
	if (!(present & LOAD_MEM_FILE) == !(present & LOAD_MEM_BACKEND)) {
		fault_set(f, "exactly one of mem_backend and mem_file_path must be given");
		return -EINVAL;
	}
	if (!out->snapshot_path[0] || !out->backend_path[0]) {
		fault_set(f, "%s: must not be empty",
			  out->snapshot_path[0] ? "backend_path" : "snapshot_path");
		return -EINVAL;
	}
	out->has_vsock_override = present & LOAD_VSOCK;
	return 0;
}
