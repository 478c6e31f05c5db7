/* Incremental HTTP/1.1 request parser and response writer; see http.h. */
#include "api/http.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Error statuses; Firecracker answers every parse failure with 400. */
#define HTTP_BAD_REQUEST 400

struct http_head_flags {
	bool seen_length;
	bool close;
	bool keep_alive;
};

int http_parser_init(struct http_parser *p, size_t max_payload)
{
	memset(p, 0, sizeof(*p));
	if (max_payload == 0 || max_payload > HTTP_MAX_PAYLOAD_LIMIT)
		return -EINVAL;
	p->cap = HTTP_HEADER_MAX + max_payload;
	p->buf = malloc(p->cap);
	if (!p->buf)
		return -ENOMEM;
	p->max_payload = max_payload;
	return 0;
}

void http_parser_destroy(struct http_parser *p)
{
	free(p->buf);
	memset(p, 0, sizeof(*p));
}

size_t http_parser_room(struct http_parser *p, char **dst)
{
	/* Move the front request to the start only when the tail is full, so
	 * pipelined requests are not copied once per request. */
	if (p->len == p->cap && p->off > 0) {
		memmove(p->buf, p->buf + p->off, p->len - p->off);
		p->len -= p->off;
		p->scan = p->scan > p->off ? p->scan - p->off : 0;
		p->off = 0;
	}
	*dst = p->buf + p->len;
	return p->cap - p->len;
}

void http_parser_commit(struct http_parser *p, size_t n)
{
	if (n > p->cap - p->len)
		n = p->cap - p->len;
	p->len += n;
}

size_t http_parser_feed(struct http_parser *p, const void *data, size_t n)
{
	char *dst;
	size_t room = http_parser_room(p, &dst);

	if (n > room)
		n = room;
	memcpy(dst, data, n);
	http_parser_commit(p, n);
	return n;
}

size_t http_parser_pending(const struct http_parser *p)
{
	return p->len - p->off;
}

const struct http_error *http_parser_error(const struct http_parser *p)
{
	return &p->err;
}

static enum http_parse_result http_fail(struct http_parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static enum http_parse_result http_fail(struct http_parser *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->err.msg, sizeof(p->err.msg), fmt, ap);
	va_end(ap);
	p->err.status = HTTP_BAD_REQUEST;
	p->failed = true;
	return HTTP_PARSE_ERROR;
}

/* Length of the head (through the blank line) of the front request, or 0. */
static size_t http_find_head_end(struct http_parser *p)
{
	size_t i = p->scan > p->off + 3 ? p->scan - 3 : p->off;

	for (; i + 4 <= p->len; i++) {
		if (p->buf[i] == '\r' && memcmp(p->buf + i, "\r\n\r\n", 4) == 0)
			return i + 4 - p->off;
	}
	p->scan = p->len;
	return 0;
}

static bool http_is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool http_is_vchar(unsigned char c)
{
	return c > 0x20 && c < 0x7f;
}

/* Store the origin-form path of target[0..n). */
static int http_set_path(struct http_request *r, const char *t, size_t n)
{
	static const char scheme[] = "http://";
	size_t k = sizeof(scheme) - 1;

	if (n > k && strncasecmp(t, scheme, k) == 0) {
		const char *slash = memchr(t + k, '/', n - k);

		if (slash == t + k)
			return -EINVAL; /* no host */
		if (!slash) {
			strcpy(r->path, "/");
			return 0;
		}
		n -= (size_t)(slash - t);
		t = slash;
	}
	if (n == 0 || t[0] != '/' || n > HTTP_PATH_MAX)
		return -EINVAL;
	memcpy(r->path, t, n);
	r->path[n] = '\0';
	return 0;
}

static enum http_parse_result http_parse_request_line(struct http_parser *p, const char *l,
						      size_t n)
{
	struct http_request *r = &p->req;
	const char *sp1 = memchr(l, ' ', n), *sp2, *ver;
	size_t i, mlen, tlen, vlen;

	if (!sp1)
		return http_fail(p, "Invalid request.");
	mlen = (size_t)(sp1 - l);
	sp2 = memchr(sp1 + 1, ' ', n - mlen - 1);
	if (!sp2)
		return http_fail(p, "Invalid request.");
	tlen = (size_t)(sp2 - sp1 - 1);
	ver = sp2 + 1;
	vlen = n - mlen - tlen - 2;
	if (mlen == 0 || mlen > HTTP_METHOD_MAX)
		return http_fail(p, "Invalid HTTP Method: Unsupported HTTP method.");
	for (i = 0; i < mlen; i++) {
		if (l[i] < 'A' || l[i] > 'Z')
			return http_fail(p, "Invalid HTTP Method: Unsupported HTTP method.");
	}
	memcpy(r->method, l, mlen);
	r->method[mlen] = '\0';
	for (i = 0; i < tlen; i++) {
		if (!http_is_vchar((unsigned char)sp1[1 + i]))
			return http_fail(p, "Invalid URI: Malformed URI.");
	}
	if (tlen > HTTP_PATH_MAX)
		return http_fail(p, "Invalid URI: URI is longer than %d bytes.", HTTP_PATH_MAX);
	if (http_set_path(r, sp1 + 1, tlen) < 0)
		return http_fail(p, "Invalid URI: Malformed URI.");
	if (vlen == 8 && memcmp(ver, "HTTP/1.1", 8) == 0)
		r->minor = 1;
	else if (vlen == 8 && memcmp(ver, "HTTP/1.0", 8) == 0)
		r->minor = 0;
	else
		return http_fail(p, "Invalid HTTP Version: Unsupported HTTP version.");
	return HTTP_PARSE_INCOMPLETE;
}

/* Strict decimal: digits only, no sign, no overflow; over-large values
 * saturate to SIZE_MAX so the payload check reports them. */
static int http_parse_length(const char *v, size_t n, size_t *out)
{
	size_t i, val = 0;

	if (n == 0)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -EINVAL;
		if (val > (SIZE_MAX - 9) / 10)
			val = SIZE_MAX;
		else
			val = val * 10 + (size_t)(v[i] - '0');
	}
	*out = val;
	return 0;
}

/* Connection: a comma-separated token list. */
static void http_parse_connection(struct http_head_flags *f, const char *v, size_t n)
{
	while (n > 0) {
		const char *comma = memchr(v, ',', n);
		size_t tl = comma ? (size_t)(comma - v) : n;
		size_t skip = comma ? tl + 1 : tl;

		while (tl > 0 && (*v == ' ' || *v == '\t')) {
			v++;
			tl--;
			skip--;
		}
		while (tl > 0 && (v[tl - 1] == ' ' || v[tl - 1] == '\t'))
			tl--;
		if (tl == 5 && strncasecmp(v, "close", 5) == 0)
			f->close = true;
		else if (tl == 10 && strncasecmp(v, "keep-alive", 10) == 0)
			f->keep_alive = true;
		v += skip;
		n -= skip;
	}
}

static bool http_name_is(const char *name, size_t n, const char *want)
{
	return strlen(want) == n && strncasecmp(name, want, n) == 0;
}

static enum http_parse_result http_apply_header(struct http_parser *p, struct http_head_flags *f,
						const char *name, size_t nl, const char *v,
						size_t vl)
{
	struct http_request *r = &p->req;
	int vshow = vl > 64 ? 64 : (int)vl;

	if (http_name_is(name, nl, "content-length")) {
		if (f->seen_length)
			return http_fail(p, "Invalid header. Reason: Duplicate Content-Length.");
		f->seen_length = true;
		if (http_parse_length(v, vl, &r->content_length) < 0)
			return http_fail(p,
					 "Invalid header. Reason: Invalid value. "
					 "Key:Content-Length; Value:%.*s",
					 vshow, v);
		r->has_content_length = true;
		if (r->content_length > p->max_payload)
			return http_fail(p,
					 "Request payload with size %zu is larger than the "
					 "limit of %zu allowed by server.",
					 r->content_length, p->max_payload);
	} else if (http_name_is(name, nl, "transfer-encoding")) {
		return http_fail(p,
				 "Invalid header. Reason: Unsupported feature. "
				 "Key: Transfer-Encoding; Value: %.*s",
				 vshow, v);
	} else if (http_name_is(name, nl, "expect")) {
		if (vl != 12 || strncasecmp(v, "100-continue", 12) != 0)
			return http_fail(p,
					 "Invalid header. Reason: Unsupported value. "
					 "Key:Expect; Value:%.*s",
					 vshow, v);
		r->expect_continue = true;
	} else if (http_name_is(name, nl, "connection")) {
		http_parse_connection(f, v, vl);
	}
	return HTTP_PARSE_INCOMPLETE;
}

/* One "name: value" line, without its CRLF. */
static enum http_parse_result http_parse_header(struct http_parser *p, struct http_head_flags *f,
						const char *l, size_t n)
{
	const char *colon = memchr(l, ':', n), *v;
	size_t i, nl, vl;

	if (!colon || colon == l)
		return http_fail(p, "Invalid header. Reason: Header is incorrectly formatted.");
	nl = (size_t)(colon - l);
	for (i = 0; i < nl; i++) {
		if (!http_is_tchar((unsigned char)l[i]))
			return http_fail(p, "Invalid header. Reason: Header is incorrectly "
					    "formatted.");
	}
	v = colon + 1;
	vl = n - nl - 1;
	for (i = 0; i < vl; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c != '\t' && (c < 0x20 || c > 0x7e))
			return http_fail(p, "Invalid header. Reason: Header contains invalid "
					    "characters.");
	}
	while (vl > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		vl--;
	}
	while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
		vl--;
	return http_apply_header(p, f, l, nl, v, vl);
}

/* Parse the head held in buf[off, off + head_len). */
static enum http_parse_result http_parse_head(struct http_parser *p, size_t head_len)
{
	const char *s = p->buf + p->off, *end = s + head_len - 2; /* at the final CRLF */
	struct http_head_flags f = {0};
	struct http_request *r = &p->req;
	bool first = true;

	memset(r, 0, sizeof(*r));
	while (s < end) {
		const char *eol = memmem(s, (size_t)(end - s) + 2, "\r\n", 2);
		size_t n = (size_t)(eol - s);
		enum http_parse_result res;

		/* The line parsers answer INCOMPLETE for "fine, go on". */
		if (first)
			res = http_parse_request_line(p, s, n);
		else
			res = http_parse_header(p, &f, s, n);
		if (res == HTTP_PARSE_ERROR)
			return res;
		first = false;
		s = eol + 2;
	}
	if (first)
		return http_fail(p, "Invalid request.");
	r->keep_alive = r->minor == 1 ? !f.close : (f.keep_alive && !f.close);
	return HTTP_PARSE_INCOMPLETE;
}

static enum http_parse_result http_parse_front_head(struct http_parser *p)
{
	size_t head_len = http_find_head_end(p);

	if (head_len == 0) {
		if (p->len - p->off >= HTTP_HEADER_MAX)
			return http_fail(p, "Invalid request: headers are longer than %d bytes.",
					 HTTP_HEADER_MAX);
		return HTTP_PARSE_INCOMPLETE;
	}
	if (head_len > HTTP_HEADER_MAX)
		return http_fail(p, "Invalid request: headers are longer than %d bytes.",
				 HTTP_HEADER_MAX);
	if (http_parse_head(p, head_len) == HTTP_PARSE_ERROR)
		return HTTP_PARSE_ERROR;
	p->head_len = head_len;
	return HTTP_PARSE_INCOMPLETE;
}

enum http_parse_result http_parse(struct http_parser *p, struct http_request *out)
{
	size_t have, need;

	if (p->failed)
		return HTTP_PARSE_ERROR;
	if (p->head_len == 0) {
		/* A stray CRLF between pipelined requests is allowed (RFC 9112 2.2). */
		while (p->len - p->off >= 2 && memcmp(p->buf + p->off, "\r\n", 2) == 0)
			p->off += 2;
		if (p->scan < p->off)
			p->scan = p->off;
		if (http_parse_front_head(p) == HTTP_PARSE_ERROR)
			return HTTP_PARSE_ERROR;
		if (p->head_len == 0)
			return HTTP_PARSE_INCOMPLETE;
	}
	have = p->len - p->off - p->head_len;
	need = p->req.content_length;
	if (have < need) {
		if (p->req.expect_continue && !p->continue_sent) {
			p->continue_sent = true;
			return HTTP_PARSE_CONTINUE;
		}
		return HTTP_PARSE_INCOMPLETE;
	}
	*out = p->req;
	out->body = need ? p->buf + p->off + p->head_len : NULL;
	out->body_len = need;
	return HTTP_PARSE_DONE;
}

void http_parser_consume(struct http_parser *p)
{
	if (p->head_len == 0 || p->failed)
		return;
	p->off += p->head_len + p->req.content_length;
	if (p->off > p->len)
		p->off = p->len; /* not reached: consume follows DONE */
	p->scan = p->off;
	p->head_len = 0;
	p->continue_sent = false;
	if (p->off == p->len)
		p->off = p->len = p->scan = 0;
}

void http_out_init(struct http_out *o)
{
	memset(o, 0, sizeof(*o));
}

void http_out_destroy(struct http_out *o)
{
	free(o->data);
	memset(o, 0, sizeof(*o));
}

int http_out_append(struct http_out *o, const void *data, size_t n)
{
	if (n > o->cap - o->len) {
		size_t cap = o->cap ? o->cap : 1024;
		char *nd;

		while (cap - o->len < n) {
			if (cap > SIZE_MAX / 2)
				return -ENOMEM;
			cap *= 2;
		}
		nd = realloc(o->data, cap);
		if (!nd)
			return -ENOMEM;
		o->data = nd;
		o->cap = cap;
	}
	if (n)
		memcpy(o->data + o->len, data, n);
	o->len += n;
	return 0;
}

void http_out_compact(struct http_out *o)
{
	if (o->sent == 0)
		return;
	memmove(o->data, o->data + o->sent, o->len - o->sent);
	o->len -= o->sent;
	o->sent = 0;
}

int http_response_write(struct http_out *o, int status, const char *body, size_t body_len,
			bool close)
{
	char head[256];
	int n;

	if (status == 204 || status < 200)
		body_len = 0;
	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 %d \r\nServer: Firecracker API\r\nConnection: %s\r\n", status,
		     close ? "close" : "keep-alive");
	if (status != 204 && status >= 200)
		n +=
		    snprintf(head + n, sizeof(head) - (size_t)n,
			     "Content-Type: application/json\r\nContent-Length: %zu\r\n", body_len);
	n += snprintf(head + n, sizeof(head) - (size_t)n, "\r\n");
	if (http_out_append(o, head, (size_t)n) < 0)
		return -ENOMEM;
	if (body_len && http_out_append(o, body, body_len) < 0)
		return -ENOMEM;
	return 0;
}

int http_response_continue(struct http_out *o)
{
	static const char msg[] = "HTTP/1.1 100 Continue\r\n\r\n";

	return http_out_append(o, msg, sizeof(msg) - 1);
}

/* JSON string escaping of msg into dst (NULL: just measure). */
static size_t http_json_escape(const char *msg, char *dst)
{
	size_t n = 0;

	for (; *msg; msg++) {
		unsigned char c = (unsigned char)*msg;
		char tmp[8];
		size_t k;

		if (c == '"' || c == '\\')
			k = (size_t)snprintf(tmp, sizeof(tmp), "\\%c", c);
		else if (c == '\n')
			k = (size_t)snprintf(tmp, sizeof(tmp), "\\n");
		else if (c < 0x20 || c == 0x7f)
			k = (size_t)snprintf(tmp, sizeof(tmp), "\\u%04x", c);
		else
			k = (size_t)snprintf(tmp, sizeof(tmp), "%c", c);
		if (dst)
			memcpy(dst + n, tmp, k);
		n += k;
	}
	return n;
}

int http_fault_json(const char *msg, char **out, size_t *out_len)
{
	static const char pre[] = "{\"fault_message\":\"", post[] = "\"}";
	size_t esc = http_json_escape(msg, NULL);
	size_t n = sizeof(pre) - 1 + esc + sizeof(post) - 1;
	char *s = malloc(n + 1);

	if (!s)
		return -ENOMEM;
	memcpy(s, pre, sizeof(pre) - 1);
	http_json_escape(msg, s + sizeof(pre) - 1);
	memcpy(s + sizeof(pre) - 1 + esc, post, sizeof(post));
	*out = s;
	*out_len = n;
	return 0;
}

int http_response_fault(struct http_out *o, int status, const char *msg, bool close)
{
	char *body;
	size_t len;
	int ret = http_fault_json(msg, &body, &len);

	if (ret < 0)
		return ret;
	ret = http_response_write(o, status, body, len, close);
	free(body);
	return ret;
}
