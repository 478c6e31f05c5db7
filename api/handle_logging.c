/* PUT /logger, PUT /metrics, PUT /serial. */
#include "api/body.h"
#include "api/handlers.h"

void api_put_logger(struct vmm *v, const struct api_request *q, struct api_response *r)
{
	struct cfg_logger l;
	struct fault f = {""};

	if (body_parse_logger(q->body, q->body_len, &l, &f) != 0) {
		api_reply_bad_request(r, f.msg);
		return;
	}
	if (cfg_set_logger(&v->cfg, &l, &f) != 0 || vmm_apply_logger(v, &f) != 0) {
		api_reply_fault(r, 400, f.msg);
		return;
	}
	api_reply_no_content(r);
}

void api_put_metrics(struct vmm *v, const struct api_request *q, struct api_response *r)
{
	struct cfg_metrics m;
	struct fault f = {""};

	if (body_parse_metrics(q->body, q->body_len, &m, &f) != 0) {
		api_reply_bad_request(r, f.msg);
		return;
	}
	/* Firecracker's metrics are initialized once (by --metrics-path or
	 * the first PUT), as its spec's 400 for this request says. */
	if (v->metrics.fd >= 0) {
		api_reply_fault(r, 400, "Reinitialization of metrics not allowed.");
		return;
	}
	if (cfg_set_metrics(&v->cfg, &m, &f) != 0 || vmm_apply_metrics(v, &f) != 0) {
		api_reply_fault(r, 400, f.msg);
		return;
	}
	api_reply_no_content(r);
}

void api_put_serial(struct vmm *v, const struct api_request *q, struct api_response *r)
{
	struct cfg_serial s;
	struct fault f = {""};

	if (body_parse_serial(q->body, q->body_len, &s, &f) != 0) {
		api_reply_bad_request(r, f.msg);
		return;
	}
	if (cfg_set_serial(&v->cfg, &s, &f) != 0) {
		api_reply_fault(r, 400, f.msg);
		return;
	}
	api_reply_no_content(r);
}
