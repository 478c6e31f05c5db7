/* Endpoints of the spec whose feature flint does not have yet (balloon,
 * MMDS, pmem, memory hotplug, snapshots, CPU templates). Firecracker answers
 * a request for a feature that is not configured or not available with 400
 * and a fault message; so does flint, naming the feature. */
#include <stdio.h>

#include "api/handlers.h"

static const char *feature_of(enum route_id id)
{
	switch (id) {
	case ROUTE_GET_BALLOON:
	case ROUTE_PUT_BALLOON:
	case ROUTE_PATCH_BALLOON:
	case ROUTE_GET_BALLOON_STATS:
	case ROUTE_PATCH_BALLOON_STATS:
	case ROUTE_PATCH_BALLOON_HINT_START:
	case ROUTE_GET_BALLOON_HINT_STATUS:
	case ROUTE_PATCH_BALLOON_HINT_STOP:
		return "The balloon device is";
	case ROUTE_PUT_MMDS:
	case ROUTE_PATCH_MMDS:
	case ROUTE_GET_MMDS:
	case ROUTE_PUT_MMDS_CONFIG:
		return "MMDS (the microVM metadata service) is";
	case ROUTE_PUT_PMEM:
	case ROUTE_PATCH_PMEM:
		return "The virtio-pmem device is";
	case ROUTE_PUT_HOTPLUG_MEMORY:
	case ROUTE_PATCH_HOTPLUG_MEMORY:
	case ROUTE_GET_HOTPLUG_MEMORY:
		return "Memory hotplug is";
	case ROUTE_PUT_SNAPSHOT_CREATE:
	case ROUTE_PUT_SNAPSHOT_LOAD:
		return "Snapshotting is";
	case ROUTE_PUT_CPU_CONFIG:
		return "Custom CPU templates are";
	default:
		return "This operation is";
	}
}

void api_unsupported(struct vmm *v, const struct api_request *q, struct api_response *r)
{
	char msg[160];

	(void)v;
	snprintf(msg, sizeof(msg), "%s not supported by this flint build yet.",
		 feature_of(q->route));
	api_reply_fault(r, 400, msg);
}
