/* GET|PUT|PATCH /machine-config and PUT /boot-source. */
#include <errno.h>

#include "api/body.h"
#include "api/config_json.h"
#include "api/handlers.h"

void api_get_machine_config(struct vmm *v, const struct api_request *q, struct api_response *r)
{
	char *json = NULL;
	size_t len = 0;

	(void)q;
	if (cfgjson_write_machine(&v->cfg.machine, &json, &len) != 0) {
		api_reply_fault(r, 500, "cannot serialize the machine configuration");
		return;
	}
	api_reply_json(r, 200, json, len);
}

void api_put_machine_config(struct vmm *v, const struct api_request *q, struct api_response *r)
{
	struct cfg_machine m;
	struct fault f = {""};

	if (body_parse_machine(q->body, q->body_len, &m, &f) != 0) {
		api_reply_bad_request(r, f.msg);
		return;
	}
	if (cfg_set_machine(&v->cfg, &m, &f) != 0) {
		api_reply_fault(r, 400, f.msg);
		return;
	}
	api_reply_no_content(r);
}

void api_patch_machine_config(struct vmm *v, const struct api_request *q, struct api_response *r)
{
	struct body_machine_patch p;
	struct cfg_machine m = v->cfg.machine;
	struct fault f = {""};
	int err = body_parse_machine_patch(q->body, q->body_len, &p, &f);

	if (err == -ENODATA) {
		/* Empty: Firecracker refuses it after parsing, uncounted. */
		api_reply_fault(r, 400, f.msg);
		return;
	}
	if (err) {
		api_reply_bad_request(r, f.msg);
		return;
	}
	body_machine_patch_apply(&p, &m);
	if (cfg_set_machine(&v->cfg, &m, &f) != 0) {
		api_reply_fault(r, 400, f.msg);
		return;
	}
	api_reply_no_content(r);
}

void api_put_boot_source(struct vmm *v, const struct api_request *q, struct api_response *r)
{
	struct cfg_boot_source bs;
	struct fault f = {""};

	if (body_parse_boot_source(q->body, q->body_len, &bs, &f) != 0) {
		api_reply_bad_request(r, f.msg);
		return;
	}
	if (cfg_set_boot_source(&v->cfg, &bs, &f) != 0) {
		api_reply_fault(r, 400, f.msg);
		return;
	}
	api_reply_no_content(r);
}
