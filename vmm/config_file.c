/* --config-file: Firecracker's FullVmConfiguration document, applied through
 * the same body readers and validating setters as the HTTP API. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/body.h"
#include "vmm/fileio.h"
#include "api/json.h"
#include "vmm/config.h"

#define CFG_FILE_MAX (1u << 20)

static void prefix_index(struct fault *f, int i)
{
	char name[16];

	snprintf(name, sizeof(name), "[%d]", i);
	json_fault_prefix(f, name);
}

static int load_machine(const struct json_doc *doc, int tok, void *dst, struct fault *f)
{
	struct cfg_machine m;

	if (body_read_machine(doc, tok, &m, f))
		return -EINVAL;
	return cfg_set_machine(dst, &m, f);
}

static int load_boot(const struct json_doc *doc, int tok, void *dst, struct fault *f)
{
	struct cfg_boot_source bs;

	if (body_read_boot_source(doc, tok, &bs, f))
		return -EINVAL;
	return cfg_set_boot_source(dst, &bs, f);
}

static int load_drive(struct vm_config *cfg, const struct json_doc *doc, int tok, struct fault *f)
{
	struct cfg_drive d;

	if (body_read_drive(doc, tok, &d, f))
		return -EINVAL;
	if (cfg_find_drive(cfg, d.drive_id) >= 0) {
		fault_set(f, "drive_id: '%s' is given twice", d.drive_id);
		return -EINVAL;
	}
	return cfg_put_drive(cfg, &d, f);
}

static int load_net(struct vm_config *cfg, const struct json_doc *doc, int tok, struct fault *f)
{
	struct cfg_net n;

	if (body_read_net(doc, tok, &n, f))
		return -EINVAL;
	if (cfg_find_net(cfg, n.iface_id) >= 0) {
		fault_set(f, "iface_id: '%s' is given twice", n.iface_id);
		return -EINVAL;
	}
	return cfg_put_net(cfg, &n, f);
}

static int load_array(struct vm_config *cfg, const struct json_doc *doc, int tok,
		      int (*load)(struct vm_config *, const struct json_doc *, int, struct fault *),
		      struct fault *f)
{
	int el = tok + 1;

	if (doc->toks[tok].type != JSON_ARRAY) {
		fault_set(f, "must be an array");
		return -EINVAL;
	}
	for (int i = 0; i < doc->toks[tok].size; i++, el = json_skip(doc, el)) {
		if (load(cfg, doc, el, f)) {
			prefix_index(f, i);
			return -EINVAL;
		}
	}
	return 0;
}

static int load_drives(const struct json_doc *doc, int tok, void *dst, struct fault *f)
{
	return load_array(dst, doc, tok, load_drive, f);
}

static int load_nets(const struct json_doc *doc, int tok, void *dst, struct fault *f)
{
	return load_array(dst, doc, tok, load_net, f);
}

static int load_vsock(const struct json_doc *doc, int tok, void *dst, struct fault *f)
{
	struct cfg_vsock v;

	if (body_read_vsock(doc, tok, &v, f))
		return -EINVAL;
	return cfg_set_vsock(dst, &v, f);
}

static int load_entropy(const struct json_doc *doc, int tok, void *dst, struct fault *f)
{
	struct cfg_entropy e;

	if (body_read_entropy(doc, tok, &e, f))
		return -EINVAL;
	return cfg_set_entropy(dst, &e, f);
}

static int load_logger(const struct json_doc *doc, int tok, void *dst, struct fault *f)
{
	struct cfg_logger l;

	if (body_read_logger(doc, tok, &l, f))
		return -EINVAL;
	return cfg_set_logger(dst, &l, f);
}

static int load_metrics(const struct json_doc *doc, int tok, void *dst, struct fault *f)
{
	struct cfg_metrics m;

	if (body_read_metrics(doc, tok, &m, f))
		return -EINVAL;
	return cfg_set_metrics(dst, &m, f);
}

static int load_serial(const struct json_doc *doc, int tok, void *dst, struct fault *f)
{
	struct cfg_serial s;

	if (body_read_serial(doc, tok, &s, f))
		return -EINVAL;
	return cfg_set_serial(dst, &s, f);
}

/* Sections of features flint does not have: null (as Firecracker's own GET
 * /vm/config prints them) is fine, anything else is refused. */
static int load_unsupported(const struct json_doc *doc, int tok, void *dst, struct fault *f)
{
	(void)doc;
	(void)tok;
	(void)dst;
	fault_set(f, "not supported by flint yet");
	return -EINVAL;
}

/* Sections are applied in document order; none depends on another. */
static const struct json_field sections[] = {
    {"machine-config", JSON_F_CUSTOM, false, 0, 0, load_machine},
    {"boot-source", JSON_F_CUSTOM, false, 0, 0, load_boot},
    {"drives", JSON_F_CUSTOM, false, 0, 0, load_drives},
    {"network-interfaces", JSON_F_CUSTOM, false, 0, 0, load_nets},
    {"vsock", JSON_F_CUSTOM, false, 0, 0, load_vsock},
    {"entropy", JSON_F_CUSTOM, false, 0, 0, load_entropy},
    {"logger", JSON_F_CUSTOM, false, 0, 0, load_logger},
    {"metrics", JSON_F_CUSTOM, false, 0, 0, load_metrics},
    {"serial", JSON_F_CUSTOM, false, 0, 0, load_serial},
    {"balloon", JSON_F_CUSTOM, false, 0, 0, load_unsupported},
    {"mmds-config", JSON_F_CUSTOM, false, 0, 0, load_unsupported},
    {"cpu-config", JSON_F_CUSTOM, false, 0, 0, load_unsupported},
    {"pmem", JSON_F_CUSTOM, false, 0, 0, load_unsupported},
    {"memory-hotplug", JSON_F_CUSTOM, false, 0, 0, load_unsupported},
};

int cfg_load_json(struct vm_config *cfg, const char *json, uint64_t len, struct fault *f)
{
	struct vm_config *tmp;
	struct json_doc doc;
	int r;

	if (len > CFG_FILE_MAX) {
		fault_set(f, "configuration larger than %u bytes", CFG_FILE_MAX);
		return -EINVAL;
	}
	r = json_parse(&doc, json, (size_t)len, f);
	if (r)
		return r;
	/* Work on a copy so that a refused file changes nothing. */
	tmp = malloc(sizeof(*tmp));
	if (!tmp) {
		json_free(&doc);
		fault_set(f, "out of memory");
		return -ENOMEM;
	}
	*tmp = *cfg;
	r = json_walk_object(&doc, 0, sections, (int)(sizeof(sections) / sizeof(sections[0])), tmp,
			     NULL, f);
	if (r == 0)
		*cfg = *tmp;
	free(tmp);
	json_free(&doc);
	return r;
}

int cfg_load_file(struct vm_config *cfg, const char *path, struct fault *f)
{
	struct stat st;
	char *buf = NULL;
	int fd, r = -EINVAL;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fault_set(f, "cannot open config file '%s': %s", path, strerror(errno));
		return -EINVAL;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		fault_set(f, "config file '%s' is not a regular file", path);
		goto out;
	}
	if ((uint64_t)st.st_size > CFG_FILE_MAX) {
		fault_set(f, "config file '%s' is larger than %u bytes", path, CFG_FILE_MAX);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		fault_set(f, "out of memory");
		r = -ENOMEM;
		goto out;
	}
	r = fd_read_full(fd, buf, (size_t)st.st_size);
	if (r) {
		fault_set(f, "cannot read config file '%s': %s", path, strerror(-r));
		r = -EINVAL;
		goto out;
	}
	r = cfg_load_json(cfg, buf, (uint64_t)st.st_size, f);
out:
	free(buf);
	close(fd);
	return r;
}
