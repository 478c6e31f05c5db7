/* The API's request handlers. They run on the VMM thread (called through
 * api_server_serve) and turn each request into calls on struct vmm; one file
 * per group of REST resources, dispatched from a table by route. */
#ifndef FLINT_API_HANDLERS_H
#define FLINT_API_HANDLERS_H

#include "api/server.h"
#include "vmm/vmm.h"

/* The ops the API server is started with; ctx is the struct vmm. */
extern const struct api_ops api_vmm_ops;

/* The API level flint implements, reported as firecracker_version. */
#define API_FIRECRACKER_VERSION "1.17.0"

/* Reply helpers shared by the handler files. */
void api_reply_no_content(struct api_response *r);
void api_reply_fault(struct api_response *r, int status, const char *msg);
/* 400 for what the request itself says (its body does not parse, its ids
 * disagree): counted in the route's *_fails metric, as Firecracker does. */
void api_reply_bad_request(struct api_response *r, const char *msg);
/* body: malloc'd JSON, ownership passes to r. */
void api_reply_json(struct api_response *r, int status, char *body, size_t len);
/* printf-style JSON body. */
void api_reply_jsonf(struct api_response *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* 400 unless the id in the path equals the id in the body. */
int api_check_ids(const char *path_id, const char *body_id, struct api_response *r);

/* Handlers, one per route (api/handle_*.c). */
void api_get_instance_info(struct vmm *v, const struct api_request *q, struct api_response *r);
void api_get_version(struct vmm *v, const struct api_request *q, struct api_response *r);
void api_put_actions(struct vmm *v, const struct api_request *q, struct api_response *r);
void api_patch_vm(struct vmm *v, const struct api_request *q, struct api_response *r);
void api_get_vm_config(struct vmm *v, const struct api_request *q, struct api_response *r);
void api_get_machine_config(struct vmm *v, const struct api_request *q, struct api_response *r);
void api_put_machine_config(struct vmm *v, const struct api_request *q, struct api_response *r);
void api_patch_machine_config(struct vmm *v, const struct api_request *q, struct api_response *r);
void api_put_boot_source(struct vmm *v, const struct api_request *q, struct api_response *r);
void api_put_drive(struct vmm *v, const struct api_request *q, struct api_response *r);
void api_patch_drive(struct vmm *v, const struct api_request *q, struct api_response *r);
void api_put_net(struct vmm *v, const struct api_request *q, struct api_response *r);
void api_patch_net(struct vmm *v, const struct api_request *q, struct api_response *r);
void api_put_vsock(struct vmm *v, const struct api_request *q, struct api_response *r);
void api_put_entropy(struct vmm *v, const struct api_request *q, struct api_response *r);
void api_put_logger(struct vmm *v, const struct api_request *q, struct api_response *r);
void api_put_metrics(struct vmm *v, const struct api_request *q, struct api_response *r);
void api_put_serial(struct vmm *v, const struct api_request *q, struct api_response *r);
void api_unsupported(struct vmm *v, const struct api_request *q, struct api_response *r);

#endif
