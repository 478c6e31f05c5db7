/* PUT /snapshot/create and PUT /snapshot/load (api/handle_snapshot.c). */
#ifndef FLINT_API_HANDLE_SNAPSHOT_H
#define FLINT_API_HANDLE_SNAPSHOT_H

#include "api/server.h"
#include "vmm/vmm.h"

void api_put_snapshot_create(struct vmm *v, const struct api_request *q, struct api_response *r);
void api_put_snapshot_load(struct vmm *v, const struct api_request *q, struct api_response *r);

#endif
