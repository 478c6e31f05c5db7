/* Route dispatch and reply helpers for the API handlers. */
#include "api/handlers.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/handle_snapshot.h"
#include "api/http.h"

typedef void (*api_handler_fn)(struct vmm *, const struct api_request *, struct api_response *);

static const api_handler_fn handlers[ROUTE_COUNT] = {
    [ROUTE_GET_INSTANCE_INFO] = api_get_instance_info,
    [ROUTE_GET_VERSION] = api_get_version,
    [ROUTE_PUT_ACTIONS] = api_put_actions,
    [ROUTE_PATCH_VM] = api_patch_vm,
    [ROUTE_GET_VM_CONFIG] = api_get_vm_config,
    [ROUTE_GET_MACHINE_CONFIG] = api_get_machine_config,
    [ROUTE_PUT_MACHINE_CONFIG] = api_put_machine_config,
    [ROUTE_PATCH_MACHINE_CONFIG] = api_patch_machine_config,
    [ROUTE_PUT_BOOT_SOURCE] = api_put_boot_source,
    [ROUTE_PUT_DRIVE] = api_put_drive,
    [ROUTE_PATCH_DRIVE] = api_patch_drive,
    [ROUTE_PUT_NET] = api_put_net,
    [ROUTE_PATCH_NET] = api_patch_net,
    [ROUTE_PUT_VSOCK] = api_put_vsock,
    [ROUTE_PUT_ENTROPY] = api_put_entropy,
    [ROUTE_PUT_LOGGER] = api_put_logger,
    [ROUTE_PUT_METRICS] = api_put_metrics,
    [ROUTE_PUT_SERIAL] = api_put_serial,
    [ROUTE_PUT_SNAPSHOT_CREATE] = api_put_snapshot_create,
    [ROUTE_PUT_SNAPSHOT_LOAD] = api_put_snapshot_load,
};

/* Which of Firecracker's per-request counters a route adds to. */
static int route_metric(enum route_id route)
{
	switch (route) {
	case ROUTE_GET_INSTANCE_INFO:
		return METRICS_GET_INSTANCE_INFO;
	case ROUTE_GET_MACHINE_CONFIG:
		return METRICS_GET_MACHINE_CFG;
	case ROUTE_GET_MMDS:
		return METRICS_GET_MMDS;
	case ROUTE_GET_VERSION:
		return METRICS_GET_VMM_VERSION;
	case ROUTE_GET_HOTPLUG_MEMORY:
		return METRICS_GET_HOTPLUG_MEMORY;
	case ROUTE_PUT_ACTIONS:
		return METRICS_PUT_ACTIONS;
	case ROUTE_PUT_BOOT_SOURCE:
		return METRICS_PUT_BOOT_SOURCE;
	case ROUTE_PUT_DRIVE:
		return METRICS_PUT_DRIVE;
	case ROUTE_PUT_LOGGER:
		return METRICS_PUT_LOGGER;
	case ROUTE_PUT_MACHINE_CONFIG:
		return METRICS_PUT_MACHINE_CFG;
	case ROUTE_PUT_CPU_CONFIG:
		return METRICS_PUT_CPU_CFG;
	case ROUTE_PUT_METRICS:
		return METRICS_PUT_METRICS;
	case ROUTE_PUT_NET:
		return METRICS_PUT_NETWORK;
	case ROUTE_PUT_MMDS:
	case ROUTE_PUT_MMDS_CONFIG:
		return METRICS_PUT_MMDS;
	case ROUTE_PUT_VSOCK:
		return METRICS_PUT_VSOCK;
	case ROUTE_PUT_PMEM:
		return METRICS_PUT_PMEM;
	case ROUTE_PUT_SERIAL:
		return METRICS_PUT_SERIAL;
	case ROUTE_PUT_HOTPLUG_MEMORY:
		return METRICS_PUT_HOTPLUG_MEMORY;
	case ROUTE_PATCH_DRIVE:
		return METRICS_PATCH_DRIVE;
	case ROUTE_PATCH_NET:
		return METRICS_PATCH_NETWORK;
	case ROUTE_PATCH_MACHINE_CONFIG:
		return METRICS_PATCH_MACHINE_CFG;
	case ROUTE_PATCH_MMDS:
		return METRICS_PATCH_MMDS;
	case ROUTE_PATCH_HOTPLUG_MEMORY:
		return METRICS_PATCH_HOTPLUG_MEMORY;
	default:
		return METRICS_REQ_NONE;
	}
}

void api_reply_no_content(struct api_response *r)
{
	r->status = 204;
	r->body = NULL;
	r->body_len = 0;
}

void api_reply_json(struct api_response *r, int status, char *body, size_t len)
{
	r->status = body ? status : 500;
	r->body = body;
	r->body_len = body ? len : 0;
}

void api_reply_bad_request(struct api_response *r, const char *msg)
{
	api_reply_fault(r, 400, msg);
	r->bad_request = true;
}

void api_reply_fault(struct api_response *r, int status, const char *msg)
{
	char *body = NULL;
	size_t len = 0;

	if (http_fault_json(msg, &body, &len) != 0)
		body = NULL;
	api_reply_json(r, status, body, len);
}

void api_reply_jsonf(struct api_response *r, int status, const char *fmt, ...)
{
	char *body = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&body, fmt, ap);
	va_end(ap);
	api_reply_json(r, status, n < 0 ? NULL : body, n < 0 ? 0 : (size_t)n);
}

int api_check_ids(const char *path_id, const char *body_id, struct api_response *r)
{
	if (strcmp(path_id, body_id) == 0)
		return 0;
	api_reply_bad_request(r, "The id from the path does not match the id from the body!");
	return -1;
}

static enum route_vm_state api_vm_state(void *ctx)
{
	const struct vmm *v = ctx;

	switch (v->state) {
	case VMM_RUNNING:
		return ROUTE_VM_RUNNING;
	case VMM_PAUSED:
		return ROUTE_VM_PAUSED;
	default:
		return ROUTE_VM_NOT_STARTED;
	}
}

/* Count the request as Firecracker does: *_count for every request of a
 * kind once its route is known, counted when it arrives (so a FlushMetrics
 * counts itself), *_fails for those its request parser refuses (a body
 * that does not parse, an empty id, ids that disagree), not for those the
 * VMM refuses later (the VM state, a missing file, a failed action); a
 * 5xx is an internal error (sync_response_fails). Returns the route's
 * metric slot, or -1 for a route without one. */
static int api_count(struct metrics_api *m, enum route_id route)
{
	int k = route_metric(route);

	if (k < 0 || k >= METRICS_REQ_COUNT)
		return -1;
	m->count[k]++;
	return k;
}

static void api_handle(void *ctx, const struct api_request *q, struct api_response *r)
{
	struct vmm *v = ctx;
	struct metrics_api *m = &v->metrics.api;
	api_handler_fn fn = (unsigned)q->route < ROUTE_COUNT ? handlers[q->route] : NULL;
	int k = api_count(m, q->route);

	(fn ? fn : api_unsupported)(v, q, r);
	if (k >= 0 && r->bad_request)
		m->fails[k]++;
	if (r->status >= 500 || r->status < 100)
		m->sync_response_fails++;
}

/* Refused before its handler: a bad {id} (the API thread) or the VM state. */
static void api_refused(void *ctx, const struct api_request *q, const struct api_response *r)
{
	struct metrics_api *m = &((struct vmm *)ctx)->metrics.api;
	int k = api_count(m, q->route);

	(void)r;
	if (k >= 0 && q->refusal.fails)
		m->fails[k]++;
}

const struct api_ops api_vmm_ops = {
    .vm_state = api_vm_state,
    .handle = api_handle,
    .refused = api_refused,
};
