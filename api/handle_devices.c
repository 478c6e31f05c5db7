/* PUT|PATCH /drives/{id}, PUT|PATCH /network-interfaces/{id}, PUT /vsock,
 * PUT /entropy. Before boot these edit the configuration; PATCH after boot
 * reaches the running device through the VMM. */
#include "api/body.h"
#include "api/handlers.h"

void api_put_drive(struct vmm *v, const struct api_request *q, struct api_response *r)
{
	struct cfg_drive d;
	struct fault f = {""};

	if (body_parse_drive(q->body, q->body_len, &d, &f) != 0) {
		api_reply_bad_request(r, f.msg);
		return;
	}
	if (api_check_ids(q->id, d.drive_id, r) != 0)
		return;
	if (cfg_put_drive(&v->cfg, &d, &f) != 0) {
		api_reply_fault(r, 400, f.msg);
		return;
	}
	api_reply_no_content(r);
}

void api_patch_drive(struct vmm *v, const struct api_request *q, struct api_response *r)
{
	struct body_drive_patch p;
	struct fault f = {""};

	if (body_parse_drive_patch(q->body, q->body_len, &p, &f) != 0) {
		api_reply_bad_request(r, f.msg);
		return;
	}
	if (api_check_ids(q->id, p.drive_id, r) != 0)
		return;
	if (vmm_patch_drive(v, &p, &f) != 0) {
		api_reply_fault(r, 400, f.msg);
		return;
	}
	api_reply_no_content(r);
}

void api_put_net(struct vmm *v, const struct api_request *q, struct api_response *r)
{
	struct cfg_net n;
	struct fault f = {""};

	if (body_parse_net(q->body, q->body_len, &n, &f) != 0) {
		api_reply_bad_request(r, f.msg);
		return;
	}
	if (api_check_ids(q->id, n.iface_id, r) != 0)
		return;
	if (cfg_put_net(&v->cfg, &n, &f) != 0) {
		api_reply_fault(r, 400, f.msg);
		return;
	}
	api_reply_no_content(r);
}

void api_patch_net(struct vmm *v, const struct api_request *q, struct api_response *r)
{
	struct body_net_patch p;
	struct fault f = {""};

	if (body_parse_net_patch(q->body, q->body_len, &p, &f) != 0) {
		api_reply_bad_request(r, f.msg);
		return;
	}
	if (api_check_ids(q->id, p.iface_id, r) != 0)
		return;
	if (vmm_patch_net(v, &p, &f) != 0) {
		api_reply_fault(r, 400, f.msg);
		return;
	}
	api_reply_no_content(r);
}

void api_put_vsock(struct vmm *v, const struct api_request *q, struct api_response *r)
{
	struct cfg_vsock vs;
	struct fault f = {""};

	if (body_parse_vsock(q->body, q->body_len, &vs, &f) != 0) {
		api_reply_bad_request(r, f.msg);
		return;
	}
	if (cfg_set_vsock(&v->cfg, &vs, &f) != 0) {
		api_reply_fault(r, 400, f.msg);
		return;
	}
	api_reply_no_content(r);
}

void api_put_entropy(struct vmm *v, const struct api_request *q, struct api_response *r)
{
	struct cfg_entropy e;
	struct fault f = {""};

	if (body_parse_entropy(q->body, q->body_len, &e, &f) != 0) {
		api_reply_bad_request(r, f.msg);
		return;
	}
	if (cfg_set_entropy(&v->cfg, &e, &f) != 0) {
		api_reply_fault(r, 400, f.msg);
		return;
	}
	api_reply_no_content(r);
}
