/* HTTP/1.1 for the API socket: an incremental request parser over a
 * per-connection buffer, and the response writer. Pure code, no fds: the
 * server (api/server.c) reads into the parser's buffer and writes out what
 * the writer formats; tests and the fuzzer feed bytes directly.
 *
 * What Firecracker (micro_http) does, and so what we do:
 * - methods are upper-case tokens; HTTP/1.0 and HTTP/1.1 only;
 * - the target is origin-form ("/drives/rootfs") or "http://host/path";
 *   no query strings are stripped (they make the path unknown);
 * - the body is sized by Content-Length only; any Transfer-Encoding is
 *   refused; a body over the payload limit (51200 bytes by default,
 *   --http-api-max-payload-size) is refused with 400;
 * - malformed input is answered with 400 and the connection is closed,
 *   since the byte stream can no longer be trusted to be in sync;
 * - responses: "HTTP/1.1 <code> \r\n" (no reason phrase), "Server:
 *   Firecracker API", "Connection: keep-alive", and for a body
 *   "Content-Type: application/json" + "Content-Length"; 204 has no body.
 *   Errors carry {"fault_message":"..."}.
 *
 * A parser is owned by one thread (the API thread) at a time. */
#ifndef FLINT_API_HTTP_H
#define FLINT_API_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_MAX_PAYLOAD_DEFAULT 51200
#define HTTP_MAX_PAYLOAD_LIMIT	 (16u << 20) /* largest max_payload accepted */
#define HTTP_HEADER_MAX		 8192	     /* request line + headers + blank line */
#define HTTP_PATH_MAX		 1024
#define HTTP_METHOD_MAX		 15
#define HTTP_FAULT_MSG_MAX	 512

enum http_parse_result {
	HTTP_PARSE_INCOMPLETE = 0, /* need more bytes */
	HTTP_PARSE_DONE,	   /* a whole request is available */
	HTTP_PARSE_CONTINUE,	   /* Expect: 100-continue: send 100, then parse again */
	HTTP_PARSE_ERROR,	   /* see http_parser_error(); answer it and close */
};

struct http_request {
	char method[HTTP_METHOD_MAX + 1];
	char path[HTTP_PATH_MAX + 1]; /* origin-form, printable ASCII, NUL-terminated */
	int minor;		      /* HTTP/1.<minor>: 0 or 1 */
	bool keep_alive;	      /* false: close after answering */
	bool expect_continue;
	bool has_content_length;
	size_t content_length;
	/* Points into the parser's buffer; valid until http_parser_consume(). The
	 * byte after the body is not NUL: always use body_len. NULL if empty. */
	const char *body;
	size_t body_len;
};

struct http_error {
	int status;
	char msg[HTTP_FAULT_MSG_MAX];
};

struct http_parser {
	char *buf;
	size_t cap; /* HTTP_HEADER_MAX + max_payload: a whole request always fits */
	size_t off; /* start of the front request */
	size_t len; /* end of the received bytes */
	size_t max_payload;
	size_t scan;	    /* where the search for the end of the head resumes */
	size_t head_len;    /* 0 until the head of the front request is parsed */
	bool continue_sent; /* 100 Continue already asked for, for this request */
	bool failed;
	struct http_request req;
	struct http_error err;
};

/* max_payload: 1..HTTP_MAX_PAYLOAD_LIMIT. 0 or -EINVAL/-ENOMEM. */
int http_parser_init(struct http_parser *p, size_t max_payload);
void http_parser_destroy(struct http_parser *p);

/* Where the next read() may write, and how much (0: nothing may be read
 * until the front request is consumed). Compacts the buffer if needed. */
size_t http_parser_room(struct http_parser *p, char **dst);
/* n bytes were written at the address given by http_parser_room(). */
void http_parser_commit(struct http_parser *p, size_t n);
/* Copy up to n bytes in; returns how many were taken. */
size_t http_parser_feed(struct http_parser *p, const void *data, size_t n);
/* Bytes held that do not belong to a consumed request. */
size_t http_parser_pending(const struct http_parser *p);

/* Parse the front request. On HTTP_PARSE_DONE *out is filled; call
 * http_parser_consume() once the request (and its body) is no longer
 * needed. After HTTP_PARSE_ERROR every call returns HTTP_PARSE_ERROR. */
enum http_parse_result http_parse(struct http_parser *p, struct http_request *out);
void http_parser_consume(struct http_parser *p);
const struct http_error *http_parser_error(const struct http_parser *p);

/* Growable output buffer of one connection. */
struct http_out {
	char *data;
	size_t len;  /* bytes held */
	size_t sent; /* bytes already written to the socket */
	size_t cap;
};

void http_out_init(struct http_out *o);
void http_out_destroy(struct http_out *o);
int http_out_append(struct http_out *o, const void *data, size_t n);
/* Drop the bytes already sent. */
void http_out_compact(struct http_out *o);

/* Append a full response. body may be NULL; it is ignored for 204.
 * close: say "Connection: close" instead of keep-alive. 0 or -ENOMEM. */
int http_response_write(struct http_out *o, int status, const char *body, size_t body_len,
			bool close);
/* Append a response whose body is {"fault_message": msg}. */
int http_response_fault(struct http_out *o, int status, const char *msg, bool close);
/* Append "HTTP/1.1 100 Continue". */
int http_response_continue(struct http_out *o);

/* A malloc'd {"fault_message":"<msg, JSON-escaped>"} for handlers that
 * answer errors. 0 or -ENOMEM. */
int http_fault_json(const char *msg, char **out, size_t *out_len);

#endif
