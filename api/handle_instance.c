/* GET /, GET /version, PUT /actions, PATCH /vm, GET /vm/config. */
#include <stdio.h>
#include <string.h>

#include "api/body.h"
#include "api/config_json.h"
#include "api/handlers.h"
#include "devices/boot_timer.h"

static const char *state_name(enum vmm_state s)
{
	switch (s) {
	case VMM_RUNNING:
		return "Running";
	case VMM_PAUSED:
		return "Paused";
	default:
		return "Not started";
	}
}

void api_get_instance_info(struct vmm *v, const struct api_request *q, struct api_response *r)
{
	(void)q;
	/* The instance id is checked at start-up to be [A-Za-z0-9-]: no escaping. */
	api_reply_jsonf(r, 200,
			"{\"id\":\"%s\",\"state\":\"%s\",\"vmm_version\":\"%s\","
			"\"app_name\":\"Firecracker\"}",
			v->instance_id, state_name(v->state), API_FIRECRACKER_VERSION);
}

void api_get_version(struct vmm *v, const struct api_request *q, struct api_response *r)
{
	(void)v;
	(void)q;
	api_reply_jsonf(r, 200, "{\"firecracker_version\":\"%s\"}", API_FIRECRACKER_VERSION);
}

static void action_instance_start(struct vmm *v, struct api_response *r)
{
	struct fault f = {""};

	if (v->state != VMM_NOT_STARTED) {
		api_reply_fault(r, 400, ROUTE_MSG_POST_BOOT);
		return;
	}
	if (vmm_start_instance(v, &f) != 0) {
		LOG_ERROR(v->log, "InstanceStart failed: %s", f.msg);
		api_reply_fault(r, 400, f.msg);
		return;
	}
	api_reply_no_content(r);
}

void api_put_actions(struct vmm *v, const struct api_request *q, struct api_response *r)
{
	struct body_action a;
	struct fault f = {""};

	if (body_parse_action(q->body, q->body_len, &a, &f) != 0) {
		api_reply_bad_request(r, f.msg);
		return;
	}
	/* Firecracker refuses everything but InstanceStart before boot. */
	if (a.type != BODY_ACTION_INSTANCE_START && v->state == VMM_NOT_STARTED) {
		api_reply_fault(r, 400, ROUTE_MSG_PRE_BOOT);
		return;
	}
	switch (a.type) {
	case BODY_ACTION_INSTANCE_START:
		action_instance_start(v, r);
		return;
	case BODY_ACTION_SEND_CTRL_ALT_DEL:
		if (vmm_send_ctrl_alt_del(v, &f) != 0) {
			api_reply_fault(r, 400, f.msg);
			return;
		}
		break;
	case BODY_ACTION_FLUSH_METRICS:
		if (vmm_flush_metrics(v, &f) != 0) {
			api_reply_fault(r, 400, f.msg);
			return;
		}
		break;
	}
	api_reply_no_content(r);
}

void api_patch_vm(struct vmm *v, const struct api_request *q, struct api_response *r)
{
	uint64_t start = clock_mono_us(), vmm_start, vmm_us, all_us;
	struct metrics_api *m = &v->metrics.api;
	struct body_vm b;
	struct fault f = {""};
	int err;

	if (body_parse_vm(q->body, q->body_len, &b, &f) != 0) {
		api_reply_bad_request(r, f.msg);
		return;
	}
	vmm_start = clock_mono_us();
	err = b.state == BODY_VM_PAUSED ? vmm_pause(v, &f) : vmm_resume(v, &f);
	if (err) {
		api_reply_fault(r, 400, f.msg);
		return;
	}
	/* latencies_us: the VMM's part, and the whole request as the VMM
	 * thread sees it. */
	vmm_us = clock_mono_us() - vmm_start;
	all_us = clock_mono_us() - start;
	*(b.state == BODY_VM_PAUSED ? &m->vmm_pause_vm_us : &m->vmm_resume_vm_us) = vmm_us;
	*(b.state == BODY_VM_PAUSED ? &m->pause_vm_us : &m->resume_vm_us) = all_us;
	LOG_INFO(v->log, "'%s vm' VMM action took %llu us.",
		 b.state == BODY_VM_PAUSED ? "pause" : "resume", (unsigned long long)vmm_us);
	api_reply_no_content(r);
}

void api_get_vm_config(struct vmm *v, const struct api_request *q, struct api_response *r)
{
	char *json = NULL;
	size_t len = 0;

	(void)q;
	if (cfgjson_write_vm(&v->cfg, &json, &len) != 0) {
		api_reply_fault(r, 500, "cannot serialize the configuration");
		return;
	}
	api_reply_json(r, 200, json, len);
}
