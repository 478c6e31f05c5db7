/* libFuzzer target: bytes -> HTTP parser (fed in chunks whose size the
 * input chooses) -> route resolution -> response writer, as the API thread
 * does it. Also checks the parser's invariants. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/http.h"
#include "api/routes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_handle(const struct http_request *req, struct http_out *out)
{
	struct route_match m;
	struct route_error err;
	enum route_vm_state st;

	/* Invariants of a parsed request. */
	if (req->path[0] != '/' || strlen(req->path) > HTTP_PATH_MAX ||
	    req->body_len != req->content_length || (req->body_len && !req->body))
		abort();
	if (routes_resolve(req->method, req->path, req->body_len, &m, &err) < 0) {
		if (err.status != 400 || http_response_fault(out, err.status, err.msg, false) < 0)
			abort();
		return;
	}
	if (!m.route || strlen(m.id) > ROUTE_ID_MAX)
		abort();
	for (st = ROUTE_VM_NOT_STARTED; st <= ROUTE_VM_PAUSED; st++)
		routes_check_state(m.route->id, st, &err);
	http_response_write(out, 200, req->body, req->body_len, !req->keep_alive);
}

/* The router on arbitrary strings: "METHOD path". */
static void fuzz_router(const uint8_t *data, size_t size)
{
	char buf[HTTP_PATH_MAX + 32], *sp;
	struct route_match m;
	struct route_error err;

	if (size >= sizeof(buf))
		size = sizeof(buf) - 1;
	memcpy(buf, data, size);
	buf[size] = '\0';
	sp = strchr(buf, ' ');
	if (!sp)
		return;
	*sp = '\0';
	if (routes_resolve(buf, sp + 1, size & 3, &m, &err) == 0 &&
	    (!m.route || strlen(m.id) > ROUTE_ID_MAX))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_parser p;
	struct http_out out;
	size_t chunk, pos = 0;

	if (size < 2)
		return 0;
	chunk = (size_t)data[0] + 1;
	if (http_parser_init(&p, (data[1] & 1) ? 64 : HTTP_MAX_PAYLOAD_DEFAULT) < 0)
		return 0;
	http_out_init(&out);
	data += 2;
	size -= 2;
	while (pos < size) {
		size_t n = size - pos < chunk ? size - pos : chunk;
		struct http_request req;
		enum http_parse_result r;

		size_t fed = http_parser_feed(&p, data + pos, n);

		pos += fed;
		while ((r = http_parse(&p, &req)) == HTTP_PARSE_DONE || r == HTTP_PARSE_CONTINUE) {
			if (r == HTTP_PARSE_CONTINUE) {
				http_response_continue(&out);
				continue;
			}
			fuzz_handle(&req, &out);
			http_parser_consume(&p);
		}
		if (r == HTTP_PARSE_ERROR) {
			http_response_fault(&out, http_parser_error(&p)->status,
					    http_parser_error(&p)->msg, true);
			break;
		}
		/* A whole request always fits: no room means a request is ready. */
		if (http_parser_pending(&p) > p.cap || (fed == 0 && r == HTTP_PARSE_INCOMPLETE))
			abort();
		out.len = 0;
	}
	http_out_destroy(&out);
	http_parser_destroy(&p);
	fuzz_router(data, size);
	return 0;
}
