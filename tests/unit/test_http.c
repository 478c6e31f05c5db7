/* Unit tests for api/http: the request parser and the response writer. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/http.h"

static const char GET_VERSION[] = "GET /version HTTP/1.1\r\nHost: localhost\r\n\r\n";
static const char PUT_DRIVE[] = "PUT /drives/rootfs HTTP/1.1\r\n"
				"Content-Type: application/json\r\n"
				"Content-Length: 16\r\n\r\n"
				"{\"drive_id\":\"x\"}";

/* Feed all of s and parse once. */
static enum http_parse_result parse_str(struct http_parser *p, const char *s, size_t n,
					struct http_request *req)
{
	assert_int_equal(http_parser_feed(p, s, n), n);
	return http_parse(p, req);
}

static enum http_parse_result parse_one(const char *s, struct http_request *req, char *err,
					size_t errsz)
{
	struct http_parser p;
	enum http_parse_result r;

	assert_int_equal(http_parser_init(&p, HTTP_MAX_PAYLOAD_DEFAULT), 0);
	r = parse_str(&p, s, strlen(s), req);
	if (err)
		snprintf(err, errsz, "%s", http_parser_error(&p)->msg);
	if (r == HTTP_PARSE_ERROR)
		assert_int_equal(http_parser_error(&p)->status, 400);
	http_parser_destroy(&p);
	return r;
}

static void expect_error(const char *s, const char *msg_part)
{
	struct http_request req;
	char err[HTTP_FAULT_MSG_MAX];

	assert_int_equal(parse_one(s, &req, err, sizeof(err)), HTTP_PARSE_ERROR);
	if (msg_part && !strstr(err, msg_part))
		fail_msg("error '%s' lacks '%s'", err, msg_part);
}

static void test_get_simple(void **state)
{
	struct http_request req;

	(void)state;
	assert_int_equal(parse_one(GET_VERSION, &req, NULL, 0), HTTP_PARSE_DONE);
	assert_string_equal(req.method, "GET");
	assert_string_equal(req.path, "/version");
	assert_int_equal(req.minor, 1);
	assert_true(req.keep_alive);
	assert_null(req.body);
	assert_int_equal(req.body_len, 0);
}

static void test_put_body(void **state)
{
	struct http_request req;

	(void)state;
	assert_int_equal(parse_one(PUT_DRIVE, &req, NULL, 0), HTTP_PARSE_DONE);
	assert_string_equal(req.method, "PUT");
	assert_string_equal(req.path, "/drives/rootfs");
	assert_int_equal(req.body_len, 16);
	assert_memory_equal(req.body, "{\"drive_id\":\"x\"}", 16);
}

static void test_no_host_lowercase_headers(void **state)
{
	struct http_request req;

	(void)state;
	assert_int_equal(parse_one("PATCH /vm HTTP/1.1\r\ncontent-length:  2 \r\n"
				   "CONNECTION: Close\r\n\r\n{}",
				   &req, NULL, 0),
			 HTTP_PARSE_DONE);
	assert_int_equal(req.body_len, 2);
	assert_false(req.keep_alive);
}

static void test_http10(void **state)
{
	struct http_request req;

	(void)state;
	assert_int_equal(parse_one("GET / HTTP/1.0\r\n\r\n", &req, NULL, 0), HTTP_PARSE_DONE);
	assert_int_equal(req.minor, 0);
	assert_false(req.keep_alive);
	assert_int_equal(
	    parse_one("GET / HTTP/1.0\r\nConnection: x, Keep-Alive\r\n\r\n", &req, NULL, 0),
	    HTTP_PARSE_DONE);
	assert_true(req.keep_alive);
}

static void test_absolute_form(void **state)
{
	struct http_request req;

	(void)state;
	assert_int_equal(
	    parse_one("GET http://localhost/machine-config HTTP/1.1\r\n\r\n", &req, NULL, 0),
	    HTTP_PARSE_DONE);
	assert_string_equal(req.path, "/machine-config");
	assert_int_equal(parse_one("GET http://localhost HTTP/1.1\r\n\r\n", &req, NULL, 0),
			 HTTP_PARSE_DONE);
	assert_string_equal(req.path, "/");
	expect_error("GET http:///x HTTP/1.1\r\n\r\n", "URI");
	expect_error("GET ftp://h/x HTTP/1.1\r\n\r\n", "URI");
	expect_error("GET * HTTP/1.1\r\n\r\n", "URI");
	expect_error("GET version HTTP/1.1\r\n\r\n", "URI");
}

static void test_pipelined(void **state)
{
	struct http_parser p;
	struct http_request req;
	char buf[1024];
	int n = snprintf(buf, sizeof(buf), "%s%s\r\n%s", GET_VERSION, PUT_DRIVE, GET_VERSION);

	(void)state;
	assert_int_equal(http_parser_init(&p, HTTP_MAX_PAYLOAD_DEFAULT), 0);
	assert_int_equal(parse_str(&p, buf, (size_t)n, &req), HTTP_PARSE_DONE);
	assert_string_equal(req.path, "/version");
	http_parser_consume(&p);
	assert_int_equal(http_parse(&p, &req), HTTP_PARSE_DONE);
	assert_string_equal(req.path, "/drives/rootfs");
	assert_int_equal(req.body_len, 16);
	http_parser_consume(&p);
	assert_int_equal(http_parse(&p, &req), HTTP_PARSE_DONE);
	assert_string_equal(req.path, "/version");
	http_parser_consume(&p);
	assert_int_equal(http_parse(&p, &req), HTTP_PARSE_INCOMPLETE);
	assert_int_equal(http_parser_pending(&p), 0);
	http_parser_destroy(&p);
}

static void feed_and_drain(struct http_parser *p, const char *s, size_t n, int *done)
{
	struct http_request req;

	assert_int_equal(http_parser_feed(p, s, n), n);
	while (http_parse(p, &req) == HTTP_PARSE_DONE) {
		assert_string_equal(req.path, *done ? "/version" : "/drives/rootfs");
		assert_int_equal(req.body_len, *done ? 0 : 16);
		(*done)++;
		http_parser_consume(p);
	}
}

/* Two pipelined requests, the first cut bytes at once and then the rest
 * byte by byte, for every cut: always the same two requests. */
static void test_split_every_byte(void **state)
{
	char buf[512];
	size_t n = (size_t)snprintf(buf, sizeof(buf), "%s%s", PUT_DRIVE, GET_VERSION), cut, i;

	(void)state;
	for (cut = 0; cut <= n; cut++) {
		struct http_parser p;
		int done = 0;

		assert_int_equal(http_parser_init(&p, HTTP_MAX_PAYLOAD_DEFAULT), 0);
		feed_and_drain(&p, buf, cut, &done);
		for (i = cut; i < n; i++)
			feed_and_drain(&p, buf + i, 1, &done);
		assert_int_equal(done, 2);
		assert_int_equal(http_parser_pending(&p), 0);
		http_parser_destroy(&p);
	}
}

static void test_expect_continue(void **state)
{
	static const char head[] = "PUT /vm HTTP/1.1\r\nExpect: 100-continue\r\n"
				   "Content-Length: 4\r\n\r\n";
	struct http_parser p;
	struct http_request req;

	(void)state;
	assert_int_equal(http_parser_init(&p, 64), 0);
	assert_int_equal(parse_str(&p, head, sizeof(head) - 1, &req), HTTP_PARSE_CONTINUE);
	assert_int_equal(http_parse(&p, &req), HTTP_PARSE_INCOMPLETE);
	assert_int_equal(parse_str(&p, "abcd", 4, &req), HTTP_PARSE_DONE);
	assert_true(req.expect_continue);
	http_parser_destroy(&p);
	expect_error("PUT /vm HTTP/1.1\r\nExpect: 102-processing\r\n\r\n", "Expect");
}

static void test_malformed_request_lines(void **state)
{
	(void)state;
	expect_error("GET\r\n\r\n", NULL);
	expect_error("GET /\r\n\r\n", NULL);
	expect_error("GET  / HTTP/1.1\r\n\r\n", NULL);
	expect_error("GET / HTTP/1.1 \r\n\r\n", "Version");
	expect_error("get / HTTP/1.1\r\n\r\n", "Method");
	expect_error("GETTINGVERYLONGX / HTTP/1.1\r\n\r\n", "Method");
	expect_error("GET / HTTP/2.0\r\n\r\n", "Version");
	expect_error("GET / http/1.1\r\n\r\n", "Version");
	expect_error("GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n", "URI");
	expect_error("GET /a\tb HTTP/1.1\r\n\r\n", NULL);
	expect_error("GET /a\nb HTTP/1.1\r\n\r\n", NULL);
	expect_error("\x01\x02\x03\r\n\r\n", NULL);
}

static void test_bad_headers(void **state)
{
	(void)state;
	expect_error("GET / HTTP/1.1\r\nNoColon\r\n\r\n", "formatted");
	expect_error("GET / HTTP/1.1\r\n: x\r\n\r\n", "formatted");
	expect_error("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", "formatted");
	expect_error("GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", "formatted");
	expect_error("GET / HTTP/1.1\r\nA: \x80\r\n\r\n", "invalid characters");
	expect_error("GET / HTTP/1.1\r\nA: b\nC: d\r\n\r\n", "invalid characters");
	expect_error("GET / HTTP/1.1\r\nA: b\rC: d\r\n\r\n", "invalid characters");
}

static void test_content_length(void **state)
{
	(void)state;
	expect_error("PUT /vm HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "Content-Length");
	expect_error("PUT /vm HTTP/1.1\r\nContent-Length: +1\r\n\r\n", "Content-Length");
	expect_error("PUT /vm HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n", "Content-Length");
	expect_error("PUT /vm HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n", "Content-Length");
	expect_error("PUT /vm HTTP/1.1\r\nContent-Length:\r\n\r\n", "Content-Length");
	expect_error("PUT /vm HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
		     "Duplicate");
	expect_error("PUT /vm HTTP/1.1\r\nContent-Length: 2\r\ncontent-length: 3\r\n\r\n{}",
		     "Duplicate");
	expect_error("PUT /vm HTTP/1.1\r\nContent-Length: 99999999999999999999999999\r\n\r\n",
		     "larger than the limit");
}

static void test_transfer_encoding(void **state)
{
	(void)state;
	expect_error("PUT /vm HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
		     "Transfer-Encoding");
	expect_error("PUT /vm HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n",
		     "Transfer-Encoding");
	expect_error("PUT /vm HTTP/1.1\r\nContent-Length: 2\r\ntransfer-encoding: gzip\r\n\r\n{}",
		     "Transfer-Encoding");
}

static void test_payload_limit(void **state)
{
	struct http_parser p;
	struct http_request req;
	char head[128];
	char *body = calloc(1, 101);
	int n;

	(void)state;
	assert_non_null(body);
	memset(body, 'x', 100);
	assert_int_equal(http_parser_init(&p, 100), 0);
	n = snprintf(head, sizeof(head), "PUT /mmds HTTP/1.1\r\nContent-Length: 100\r\n\r\n");
	assert_int_equal(parse_str(&p, head, (size_t)n, &req), HTTP_PARSE_INCOMPLETE);
	assert_int_equal(parse_str(&p, body, 100, &req), HTTP_PARSE_DONE);
	assert_int_equal(req.body_len, 100);
	http_parser_destroy(&p);

	assert_int_equal(http_parser_init(&p, 100), 0);
	n = snprintf(head, sizeof(head), "PUT /mmds HTTP/1.1\r\nContent-Length: 101\r\n\r\n");
	assert_int_equal(parse_str(&p, head, (size_t)n, &req), HTTP_PARSE_ERROR);
	assert_string_equal(http_parser_error(&p)->msg,
			    "Request payload with size 101 is larger than the limit of 100 "
			    "allowed by server.");
	/* Stays failed. */
	assert_int_equal(http_parse(&p, &req), HTTP_PARSE_ERROR);
	http_parser_destroy(&p);
	free(body);
	assert_int_equal(http_parser_init(&p, 0), -EINVAL);
	assert_int_equal(http_parser_init(&p, HTTP_MAX_PAYLOAD_LIMIT + 1), -EINVAL);
}

static void test_header_and_path_limits(void **state)
{
	struct http_parser p;
	struct http_request req;
	char *big = malloc(HTTP_HEADER_MAX + 64);
	size_t n;

	(void)state;
	assert_non_null(big);
	/* A path of exactly HTTP_PATH_MAX bytes is fine, one more is not. */
	n = (size_t)sprintf(big, "GET /");
	memset(big + n, 'a', HTTP_PATH_MAX - 1);
	n += HTTP_PATH_MAX - 1;
	n += (size_t)sprintf(big + n, " HTTP/1.1\r\n\r\n");
	assert_int_equal(parse_one(big, &req, NULL, 0), HTTP_PARSE_DONE);
	assert_int_equal(strlen(req.path), HTTP_PATH_MAX);
	memmove(big + 6, big + 5, n - 4);
	expect_error(big, "longer than");

	/* A head that never ends is refused once it passes HTTP_HEADER_MAX. */
	assert_int_equal(http_parser_init(&p, 10), 0);
	n = (size_t)sprintf(big, "GET / HTTP/1.1\r\n");
	assert_int_equal(parse_str(&p, big, n, &req), HTTP_PARSE_INCOMPLETE);
	for (n = 0; n < HTTP_HEADER_MAX / 8; n++) {
		if (parse_str(&p, "X-A: b\r\n", 8, &req) == HTTP_PARSE_ERROR)
			break;
	}
	assert_int_equal(http_parse(&p, &req), HTTP_PARSE_ERROR);
	assert_non_null(strstr(http_parser_error(&p)->msg, "headers are longer"));
	http_parser_destroy(&p);
	free(big);
}

/* The buffer holds one maximal request; bytes beyond wait for consume(). */
static void test_buffer_full_then_compacts(void **state)
{
	struct http_parser p;
	struct http_request req;
	char *dst;
	size_t room;
	int i;

	(void)state;
	assert_int_equal(http_parser_init(&p, 16), 0);
	for (i = 0; i < 1000; i++) {
		size_t fed = http_parser_feed(&p, GET_VERSION, sizeof(GET_VERSION) - 1);

		while (http_parse(&p, &req) == HTTP_PARSE_DONE)
			http_parser_consume(&p);
		if (fed < sizeof(GET_VERSION) - 1)
			http_parser_feed(&p, GET_VERSION + fed, sizeof(GET_VERSION) - 1 - fed);
	}
	room = http_parser_room(&p, &dst);
	assert_true(room > 0);
	http_parser_destroy(&p);
}

static void test_response_format(void **state)
{
	struct http_out o;
	static const char want200[] = "HTTP/1.1 200 \r\nServer: Firecracker API\r\n"
				      "Connection: keep-alive\r\nContent-Type: application/json\r\n"
				      "Content-Length: 2\r\n\r\n{}";
	static const char want204[] = "HTTP/1.1 204 \r\nServer: Firecracker API\r\n"
				      "Connection: keep-alive\r\n\r\n";
	static const char want400[] = "HTTP/1.1 400 \r\nServer: Firecracker API\r\n"
				      "Connection: close\r\nContent-Type: application/json\r\n"
				      "Content-Length: 37\r\n\r\n"
				      "{\"fault_message\":\"a \\\"b\\\"\\\\\\n\\u0001\"}";

	(void)state;
	http_out_init(&o);
	assert_int_equal(http_response_write(&o, 200, "{}", 2, false), 0);
	assert_int_equal(o.len, sizeof(want200) - 1);
	assert_memory_equal(o.data, want200, o.len);
	o.len = 0;
	assert_int_equal(http_response_write(&o, 204, "ignored", 7, false), 0);
	assert_int_equal(o.len, sizeof(want204) - 1);
	assert_memory_equal(o.data, want204, o.len);
	o.len = 0;
	assert_int_equal(http_response_fault(&o, 400, "a \"b\"\\\n\x01", true), 0);
	assert_int_equal(o.len, sizeof(want400) - 1);
	assert_memory_equal(o.data, want400, o.len);
	o.len = 0;
	assert_int_equal(http_response_continue(&o), 0);
	assert_memory_equal(o.data, "HTTP/1.1 100 Continue\r\n\r\n", o.len);
	http_out_destroy(&o);
}

static void test_out_growth(void **state)
{
	struct http_out o;
	char chunk[700];
	int i;

	(void)state;
	memset(chunk, 'z', sizeof(chunk));
	http_out_init(&o);
	for (i = 0; i < 100; i++)
		assert_int_equal(http_out_append(&o, chunk, sizeof(chunk)), 0);
	assert_int_equal(o.len, 70000);
	o.sent = 69999;
	http_out_compact(&o);
	assert_int_equal(o.len, 1);
	assert_int_equal(o.sent, 0);
	http_out_destroy(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_get_simple),
	    cmocka_unit_test(test_put_body),
	    cmocka_unit_test(test_no_host_lowercase_headers),
	    cmocka_unit_test(test_http10),
	    cmocka_unit_test(test_absolute_form),
	    cmocka_unit_test(test_pipelined),
	    cmocka_unit_test(test_split_every_byte),
	    cmocka_unit_test(test_expect_continue),
	    cmocka_unit_test(test_malformed_request_lines),
	    cmocka_unit_test(test_bad_headers),
	    cmocka_unit_test(test_content_length),
	    cmocka_unit_test(test_transfer_encoding),
	    cmocka_unit_test(test_payload_limit),
	    cmocka_unit_test(test_header_and_path_limits),
	    cmocka_unit_test(test_buffer_full_then_compacts),
	    cmocka_unit_test(test_response_format),
	    cmocka_unit_test(test_out_growth),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
