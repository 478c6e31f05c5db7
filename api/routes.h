/* The API's route table, as data: every (method, path) of Firecracker's API
 * (../shared/spec/firecracker-api.yaml), the handler it maps to, whether it
 * takes a body, and in which VM states it is allowed.
 *
 * Pure functions over constant data: callable from any thread. The API
 * thread resolves routes; the VMM thread, which alone knows the VM state,
 * applies routes_check_state(). */
#ifndef FLINT_API_ROUTES_H
#define FLINT_API_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

#define ROUTE_ID_MAX  64 /* bytes of a {drive_id}-style id; equals CFG_ID_MAX */
#define ROUTE_MSG_MAX 256

/* Firecracker's wording for state refusals (also for handlers that refuse
 * by body, e.g. a second InstanceStart). */
#define ROUTE_MSG_PRE_BOOT  "The requested operation is not supported before starting the microVM."
#define ROUTE_MSG_POST_BOOT "The requested operation is not supported after starting the microVM."

enum route_id {
	ROUTE_GET_INSTANCE_INFO = 0, /* GET / */
	ROUTE_PUT_ACTIONS,
	ROUTE_GET_BALLOON,
	ROUTE_PUT_BALLOON,
	ROUTE_PATCH_BALLOON,
	ROUTE_GET_BALLOON_STATS,
	ROUTE_PATCH_BALLOON_STATS,
	ROUTE_PATCH_BALLOON_HINT_START,
	ROUTE_GET_BALLOON_HINT_STATUS,
	ROUTE_PATCH_BALLOON_HINT_STOP,
	ROUTE_PUT_BOOT_SOURCE,
	ROUTE_PUT_CPU_CONFIG,
	ROUTE_PUT_DRIVE,
	ROUTE_PATCH_DRIVE,
	ROUTE_PUT_PMEM,
	ROUTE_PATCH_PMEM,
	ROUTE_PUT_LOGGER,
	ROUTE_GET_MACHINE_CONFIG,
	ROUTE_PUT_MACHINE_CONFIG,
	ROUTE_PATCH_MACHINE_CONFIG,
	ROUTE_PUT_METRICS,
	ROUTE_PUT_MMDS,
	ROUTE_PATCH_MMDS,
	ROUTE_GET_MMDS,
	ROUTE_PUT_MMDS_CONFIG,
	ROUTE_PUT_ENTROPY,
	ROUTE_PUT_SERIAL,
	ROUTE_PUT_HOTPLUG_MEMORY,
	ROUTE_PATCH_HOTPLUG_MEMORY,
	ROUTE_GET_HOTPLUG_MEMORY,
	ROUTE_PUT_NET,
	ROUTE_PATCH_NET,
	ROUTE_PUT_SNAPSHOT_CREATE,
	ROUTE_PUT_SNAPSHOT_LOAD,
	ROUTE_GET_VERSION,
	ROUTE_PATCH_VM,
	ROUTE_GET_VM_CONFIG,
	ROUTE_PUT_VSOCK,
	ROUTE_COUNT,
};

enum route_vm_state {
	ROUTE_VM_NOT_STARTED = 0,
	ROUTE_VM_RUNNING,
	ROUTE_VM_PAUSED,
};

/* Bits of enum route_vm_state. */
#define ROUTE_PRE  (1u << ROUTE_VM_NOT_STARTED)
#define ROUTE_POST ((1u << ROUTE_VM_RUNNING) | (1u << ROUTE_VM_PAUSED))
#define ROUTE_ANY  (ROUTE_PRE | ROUTE_POST)

enum route_body {
	ROUTE_BODY_NONE = 0, /* a body is refused (GET) */
	ROUTE_BODY_REQUIRED, /* an empty PUT/PATCH is refused */
	ROUTE_BODY_OPTIONAL,
};

struct route {
	enum route_id id;
	const char *method;  /* "GET", "PUT", "PATCH" */
	const char *pattern; /* "/drives/{id}": {id} is one path segment */
	unsigned states;     /* ROUTE_PRE / ROUTE_POST / ROUTE_ANY */
	enum route_body body;
};

struct route_match {
	const struct route *route;
	char id[ROUTE_ID_MAX + 1]; /* "" unless the pattern has {id} */
};

/* Why a request was refused: HTTP status and Firecracker's fault message.
 * route says whose request it was when Firecracker's request parser had
 * already picked the route (a bad {id}: it counts the request in that
 * route's *_count metric, and an empty id also in *_fails); ROUTE_COUNT
 * when the request never reached a route (unknown path, wrong method, a
 * body where none belongs or none where one must be), which Firecracker
 * does not count. */
struct route_error {
	int status;
	enum route_id route;
	bool fails;
	char msg[ROUTE_MSG_MAX];
};

/* The table, ROUTE_COUNT entries, indexed by enum route_id. */
const struct route *routes_table(void);

/* Match method + path (as from http_request.path). Returns 0 and fills
 * *out; -ENOENT for an unknown path, -ENOTSUP for a known path that does
 * not take this method (both are Firecracker's 400 "Invalid request method
 * and/or path: ..."), -EINVAL for an empty or malformed id. err is filled
 * on failure. */
int routes_match(const char *method, const char *path, struct route_match *out,
		 struct route_error *err);

/* routes_match plus Firecracker's body rules, in Firecracker's order: a GET
 * with a body, or an empty PUT/PATCH where a body is required, is refused.
 * 0 or a negative errno with err filled (status 400). */
int routes_resolve(const char *method, const char *path, size_t body_len, struct route_match *out,
		   struct route_error *err);

/* Is the route allowed in VM state st? 0, or -EPERM with err filled (400 and
 * ROUTE_MSG_PRE_BOOT / ROUTE_MSG_POST_BOOT; err->route = id, not a fail:
 * Firecracker's VMM refuses these after its parser counted them). */
int routes_check_state(enum route_id id, enum route_vm_state st, struct route_error *err);

#endif
