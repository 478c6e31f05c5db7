/* Snapshot requests: parse the body, hand it to the VMM, answer 204 or 400
 * with the VMM's reason. The route table already limits create to a booted
 * VM and load to one that is not; the VMM checks the rest (paused, fresh). */
#include "api/handle_snapshot.h"

#include <stdlib.h>

#include "api/body.h"
#include "api/handlers.h"
#include "vmm/vm_snapshot.h"

void api_put_snapshot_create(struct vmm *v, const struct api_request *q, struct api_response *r)
{
	struct body_snapshot_create b;
	struct fault f = {""};

	if (body_parse_snapshot_create(q->body, q->body_len, &b, &f) != 0) {
		api_reply_bad_request(r, f.msg);
		return;
	}
	if (vmm_snapshot_create(v, &b, &f) != 0) {
		api_reply_fault(r, 400, f.msg);
		return;
	}
	api_reply_no_content(r);
}

void api_put_snapshot_load(struct vmm *v, const struct api_request *q, struct api_response *r)
{
	struct body_snapshot_load *b = malloc(sizeof(*b)); /* several KiB of paths */
	struct fault f = {""};

	if (!b) {
		api_reply_fault(r, 500, "out of memory");
		return;
	}
	if (body_parse_snapshot_load(q->body, q->body_len, b, &f) != 0)
		api_reply_bad_request(r, f.msg);
	else if (vmm_snapshot_load(v, b, &f) != 0)
		api_reply_fault(r, 400, f.msg);
	else
		api_reply_no_content(r);
	free(b);
}
