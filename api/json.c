/* Strict JSON over jsmn: tokenize, then re-check every token and every gap
 * between tokens against the JSON grammar, because jsmn (even in strict mode)
 * accepts `{"a":1,}`, `[1 2]`, `tru`, `01` and raw control characters. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define JSMN_STATIC
#define JSMN_STRICT
#define JSMN_PARENT_LINKS
#include <jsmn.h>

#include "api/json.h"

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Raw extent of a token in the text: strings include their quotes. */
static int raw_start(const struct json_tok *t)
{
	return t->type == JSON_STRING ? t->start - 1 : t->start;
}

static int raw_end(const struct json_tok *t)
{
	return t->type == JSON_STRING ? t->end + 1 : t->end;
}

/* The text in [a, b) must be whitespace around exactly one sep (0: none). */
static bool gap_ok(const char *js, int a, int b, char sep)
{
	bool seen = sep == 0;

	if (a > b)
		return false;
	for (int i = a; i < b; i++) {
		if (is_ws(js[i]))
			continue;
		if (js[i] != sep || seen)
			return false;
		seen = true;
	}
	return seen;
}

static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int read_hex4(const char *s, size_t n, size_t i, uint32_t *out)
{
	uint32_t v = 0;

	if (i + 4 > n)
		return -1;
	for (size_t k = 0; k < 4; k++) {
		int h = hex_val(s[i + k]);

		if (h < 0)
			return -1;
		v = v << 4 | (uint32_t)h;
	}
	*out = v;
	return 0;
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0 if invalid (overlong
 * forms, surrogates and code points above U+10FFFF are invalid). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t len;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (len > n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

static size_t utf8_put(uint32_t cp, char *o)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Decode the \u escape at s[i] ('u' at s[i]); may consume a low surrogate.
 * Returns the code point or -1; *adv = characters consumed after the 'u'. */
static int32_t decode_u(const char *s, size_t n, size_t i, size_t *adv)
{
	uint32_t hi, lo;

	if (read_hex4(s, n, i + 1, &hi))
		return -1;
	*adv = 4;
	if (hi == 0 || (hi >= 0xdc00 && hi <= 0xdfff))
		return -1; /* NUL, or a lone low surrogate */
	if (hi < 0xd800 || hi > 0xdbff)
		return (int32_t)hi;
	if (i + 6 >= n || s[i + 5] != '\\' || s[i + 6] != 'u' || read_hex4(s, n, i + 7, &lo) ||
	    lo < 0xdc00 || lo > 0xdfff)
		return -1;
	*adv = 10;
	return (int32_t)(0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00));
}

/* The character a one-letter escape (\n, \", ...) stands for, or -1. */
static int simple_escape(char c)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *p = c ? strchr(from, c) : NULL;

	return p ? to[p - from] : -1;
}

/* Decode string content s[0..n) into out (NUL-terminated) if out is not
 * NULL. Returns 0, -EINVAL (bad escape, control character, \u0000, bad
 * UTF-8) or -ENAMETOOLONG (does not fit in outsize, NUL included). */
static int str_decode(const char *s, size_t n, char *out, size_t outsize, size_t *outlen)
{
	char tmp[4];
	size_t o = 0;

	for (size_t i = 0; i < n;) {
		size_t k, adv = 0;
		const char *src = s + i;

		if ((unsigned char)s[i] < 0x20)
			return -EINVAL;
		if (s[i] == '\\') {
			int c = i + 1 < n ? simple_escape(s[i + 1]) : -1;
			int32_t cp = 0;

			if (c < 0 && (i + 1 >= n || s[i + 1] != 'u'))
				return -EINVAL;
			if (c < 0)
				cp = decode_u(s, n, i + 1, &adv);
			if (cp < 0)
				return -EINVAL;
			k = c >= 0 ? (tmp[0] = (char)c, 1) : utf8_put((uint32_t)cp, tmp);
			src = tmp;
			i += 2 + adv;
		} else {
			k = utf8_len((const unsigned char *)s + i, n - i);
			if (k == 0)
				return -EINVAL;
			i += k;
		}
		if (out && o + k >= outsize)
			return -ENAMETOOLONG;
		if (out)
			memcpy(out + o, src, k);
		o += k;
	}
	if (out)
		out[o] = '\0';
	if (outlen)
		*outlen = o;
	return 0;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* JSON number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool number_ok(const char *s, size_t n)
{
	size_t i = 0, d;

	if (i < n && s[i] == '-')
		i++;
	if (i < n && s[i] == '0')
		i++;
	else if (i < n && is_digit(s[i]))
		while (i < n && is_digit(s[i]))
			i++;
	else
		return false;
	if (i < n && s[i] == '.') {
		for (d = ++i; i < n && is_digit(s[i]); i++)
			;
		if (i == d)
			return false;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		for (d = i; i < n && is_digit(s[i]); i++)
			;
		if (i == d)
			return false;
	}
	return i == n;
}

static bool lit_is(const struct json_doc *d, const struct json_tok *t, const char *lit)
{
	size_t n = strlen(lit);

	return (size_t)(t->end - t->start) == n && memcmp(d->js + t->start, lit, n) == 0;
}

static bool primitive_ok(const struct json_doc *d, const struct json_tok *t)
{
	return lit_is(d, t, "true") || lit_is(d, t, "false") || lit_is(d, t, "null") ||
	       number_ok(d->js + t->start, (size_t)(t->end - t->start));
}

static int check_value(const struct json_doc *d, int i, int depth, int *next, struct fault *f);

/* Children of container i: objects alternate key (a string with one child)
 * and value, arrays hold values; every gap must hold exactly the separator. */
static int check_container(const struct json_doc *d, int i, int depth, int *next, struct fault *f)
{
	const struct json_tok *c = &d->toks[i];
	bool obj = c->type == JSON_OBJECT;
	int pos = c->start + 1, j = i + 1;

	if (depth > JSON_MAX_DEPTH) {
		fault_set(f, "JSON nesting deeper than %d levels", JSON_MAX_DEPTH);
		return -EINVAL;
	}
	for (int k = 0; k < c->size; k++) {
		if (j >= d->ntoks || !gap_ok(d->js, pos, raw_start(&d->toks[j]), k ? ',' : 0))
			goto bad;
		if (obj) {
			const struct json_tok *key = &d->toks[j];
			int v = j + 1;

			if (key->type != JSON_STRING || key->size != 1 || v >= d->ntoks ||
			    str_decode(d->js + key->start, (size_t)(key->end - key->start), NULL, 0,
				       NULL) ||
			    !gap_ok(d->js, raw_end(key), raw_start(&d->toks[v]), ':'))
				goto bad;
			j = v;
		}
		pos = raw_end(&d->toks[j]);
		if (check_value(d, j, depth, &j, f))
			return -EINVAL;
	}
	if (!gap_ok(d->js, pos, c->end - 1, 0))
		goto bad;
	*next = j;
	return 0;
bad:
	fault_set(f, "malformed JSON near byte %d", j < d->ntoks ? d->toks[j].start : c->end);
	return -EINVAL;
}

static int check_value(const struct json_doc *d, int i, int depth, int *next, struct fault *f)
{
	const struct json_tok *t = &d->toks[i];

	if (t->type == JSON_OBJECT || t->type == JSON_ARRAY)
		return check_container(d, i, depth + 1, next, f);
	if (t->size != 0)
		goto bad;
	if (t->type == JSON_STRING &&
	    str_decode(d->js + t->start, (size_t)(t->end - t->start), NULL, 0, NULL)) {
		fault_set(f,
			  "invalid string near byte %d: bad escape, control character, "
			  "\\u0000 or invalid UTF-8",
			  t->start);
		return -EINVAL;
	}
	if (t->type == JSON_PRIMITIVE && !primitive_ok(d, t))
		goto bad;
	*next = i + 1;
	return 0;
bad:
	fault_set(f, "malformed JSON value near byte %d", t->start);
	return -EINVAL;
}

static int tokenize(struct json_doc *doc, struct fault *f)
{
	size_t cap = doc->len / 2 + 4;
	jsmntok_t *jt;
	jsmn_parser p;
	int r;

	if (cap > JSON_MAX_TOKENS)
		cap = JSON_MAX_TOKENS;
	jt = calloc(cap, sizeof(*jt));
	doc->toks = calloc(cap, sizeof(*doc->toks));
	if (!jt || !doc->toks) {
		free(jt);
		fault_set(f, "out of memory parsing JSON");
		return -ENOMEM;
	}
	jsmn_init(&p);
	r = jsmn_parse(&p, doc->js, doc->len, jt, (unsigned int)cap);
	if (r == JSMN_ERROR_NOMEM)
		fault_set(f, "JSON document has more than %zu tokens", cap);
	else if (r == JSMN_ERROR_PART)
		fault_set(f, "JSON document is incomplete");
	else if (r < 0)
		fault_set(f, "malformed JSON near byte %u", p.pos);
	for (int i = 0; i < r; i++)
		doc->toks[i] = (struct json_tok){(enum json_type)jt[i].type, jt[i].start, jt[i].end,
						 jt[i].size, jt[i].parent};
	free(jt);
	doc->ntoks = r > 0 ? r : 0;
	return r < 0 ? -EINVAL : 0;
}

int json_parse(struct json_doc *doc, const char *js, size_t len, struct fault *f)
{
	int next = 0, r;

	*doc = (struct json_doc){js, len, NULL, 0};
	if (len > JSON_MAX_INPUT) {
		fault_set(f, "JSON document larger than %u bytes", JSON_MAX_INPUT);
		return -EINVAL;
	}
	r = tokenize(doc, f);
	if (r == 0 && (doc->ntoks == 0 || doc->toks[0].type != JSON_OBJECT)) {
		fault_set(f, "expected a JSON object");
		r = -EINVAL;
	}
	if (r == 0)
		r = check_value(doc, 0, 0, &next, f);
	/* Anything after the top-level object (jsmn also stops at a NUL byte). */
	if (r == 0 && (next != doc->ntoks || !gap_ok(js, 0, doc->toks[0].start, 0) ||
		       !gap_ok(js, doc->toks[0].end, (int)len, 0))) {
		fault_set(f, "unexpected data after the JSON object");
		r = -EINVAL;
	}
	if (r)
		json_free(doc);
	return r;
}

void json_free(struct json_doc *doc)
{
	free(doc->toks);
	doc->toks = NULL;
	doc->ntoks = 0;
}

int json_skip(const struct json_doc *doc, int tok)
{
	int n = doc->toks[tok].size;

	tok++;
	while (n-- > 0)
		tok = json_skip(doc, tok);
	return tok;
}

bool json_is_null(const struct json_doc *doc, int tok)
{
	const struct json_tok *t = &doc->toks[tok];

	return t->type == JSON_PRIMITIVE && lit_is(doc, t, "null");
}

int json_get_str(const struct json_doc *doc, int tok, char *buf, size_t size, struct fault *f)
{
	const struct json_tok *t = &doc->toks[tok];
	int r;

	if (t->type != JSON_STRING) {
		fault_set(f, "must be a string");
		return -EINVAL;
	}
	r = str_decode(doc->js + t->start, (size_t)(t->end - t->start), buf, size, NULL);
	if (r == -ENAMETOOLONG)
		fault_set(f, "longer than %zu bytes", size - 1);
	else if (r)
		fault_set(f, "invalid string");
	return r ? -EINVAL : 0;
}

int json_get_u64(const struct json_doc *doc, int tok, uint64_t *out, struct fault *f)
{
	const struct json_tok *t = &doc->toks[tok];
	uint64_t v = 0;

	if (t->type != JSON_PRIMITIVE ||
	    !number_ok(doc->js + t->start, (size_t)(t->end - t->start)))
		goto not_int;
	for (int i = t->start; i < t->end; i++) {
		char c = doc->js[i];

		if (!is_digit(c))
			goto not_int;
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(c - '0'), &v)) {
			fault_set(f, "integer out of range (max %llu)",
				  (unsigned long long)UINT64_MAX);
			return -EINVAL;
		}
	}
	*out = v;
	return 0;
not_int:
	fault_set(f, "must be a non-negative integer");
	return -EINVAL;
}

int json_get_u32(const struct json_doc *doc, int tok, uint32_t *out, struct fault *f)
{
	uint64_t v;

	if (json_get_u64(doc, tok, &v, f))
		return -EINVAL;
	if (v > UINT32_MAX) {
		fault_set(f, "integer out of range (max %u)", UINT32_MAX);
		return -EINVAL;
	}
	*out = (uint32_t)v;
	return 0;
}

int json_get_bool(const struct json_doc *doc, int tok, bool *out, struct fault *f)
{
	const struct json_tok *t = &doc->toks[tok];

	if (t->type == JSON_PRIMITIVE && lit_is(doc, t, "true"))
		*out = true;
	else if (t->type == JSON_PRIMITIVE && lit_is(doc, t, "false"))
		*out = false;
	else {
		fault_set(f, "must be true or false");
		return -EINVAL;
	}
	return 0;
}

int json_get_opt_bool(const struct json_doc *doc, int tok, enum cfg_opt_bool *out, struct fault *f)
{
	bool v;

	if (json_get_bool(doc, tok, &v, f))
		return -EINVAL;
	*out = v ? CFG_TRUE : CFG_FALSE;
	return 0;
}

static bool name_eq(const char *a, const char *b, bool nocase)
{
	return nocase ? strcasecmp(a, b) == 0 : strcmp(a, b) == 0;
}

int json_get_enum(const struct json_doc *doc, int tok, const char *const *names, int n, bool nocase,
		  int *out, struct fault *f)
{
	char buf[64];
	size_t used = 0;

	if (json_get_str(doc, tok, buf, sizeof(buf), f) == 0) {
		for (int i = 0; i < n; i++) {
			if (name_eq(buf, names[i], nocase)) {
				*out = i;
				return 0;
			}
		}
	} else if (doc->toks[tok].type != JSON_STRING) {
		return -EINVAL;
	}
	if (!f)
		return -EINVAL;
	used = (size_t)snprintf(f->msg, sizeof(f->msg), "must be one of");
	for (int i = 0; i < n && used < sizeof(f->msg); i++)
		used += (size_t)snprintf(f->msg + used, sizeof(f->msg) - used, "%s \"%s\"",
					 i ? "," : "", names[i]);
	return -EINVAL;
}

void json_fault_prefix(struct fault *f, const char *name)
{
	char tmp[sizeof(f->msg)];

	if (!f)
		return;
	memcpy(tmp, f->msg, sizeof(tmp));
	tmp[sizeof(tmp) - 1] = '\0';
	fault_set(f, "%s: %s", name, tmp);
}

static int find_field(const struct json_field *fields, int n, const char *key)
{
	for (int i = 0; i < n; i++)
		if (strcmp(fields[i].name, key) == 0)
			return i;
	return -1;
}

/* Name the unknown key (made printable: it is client text) and the known ones. */
static void fault_unknown(const struct json_doc *doc, int key, const struct json_field *fields,
			  int n, struct fault *f)
{
	const struct json_tok *t = &doc->toks[key];
	char name[41];
	size_t k = 0, used;

	for (int i = t->start; i < t->end && k < sizeof(name) - 1; i++, k++) {
		unsigned char c = (unsigned char)doc->js[i];

		name[k] = c >= 0x20 && c < 0x7f && c != '\\' ? (char)c : '?';
	}
	name[k] = '\0';
	if (!f)
		return;
	used =
	    (size_t)snprintf(f->msg, sizeof(f->msg), "unknown field '%s%s', expected one of:", name,
			     t->end - t->start > (int)k ? "..." : "");
	for (int i = 0; i < n && used < sizeof(f->msg); i++)
		used += (size_t)snprintf(f->msg + used, sizeof(f->msg) - used, "%s %s",
					 i ? "," : "", fields[i].name);
}

static int read_field(const struct json_doc *doc, int v, const struct json_field *fd, void *out,
		      struct fault *f)
{
	void *dst = (char *)out + fd->offset;

	switch (fd->kind) {
	case JSON_F_STR:
		return json_get_str(doc, v, dst, fd->size, f);
	case JSON_F_U64:
		return json_get_u64(doc, v, dst, f);
	case JSON_F_U32:
		return json_get_u32(doc, v, dst, f);
	case JSON_F_BOOL:
		return json_get_bool(doc, v, dst, f);
	case JSON_F_OPT_BOOL:
		return json_get_opt_bool(doc, v, dst, f);
	case JSON_F_CUSTOM:
		return fd->parse(doc, v, dst, f);
	case JSON_F_IGNORE:
		return 0;
	}
	return -EINVAL;
}

static int check_required(const struct json_field *fields, int n, uint32_t given, struct fault *f)
{
	for (int i = 0; i < n; i++) {
		if (fields[i].required && !(given & (1u << i))) {
			fault_set(f, "missing field '%s'", fields[i].name);
			return -EINVAL;
		}
	}
	return 0;
}

int json_walk_object(const struct json_doc *doc, int tok, const struct json_field *fields, int n,
		     void *out, uint32_t *present, struct fault *f)
{
	const struct json_tok *o = &doc->toks[tok];
	uint32_t seen = 0, given = 0;
	int j = tok + 1;

	if (o->type != JSON_OBJECT) {
		fault_set(f, "must be an object");
		return -EINVAL;
	}
	if (n > JSON_MAX_FIELDS) {
		fault_set(f, "internal error: field table too big");
		return -EINVAL;
	}
	for (int k = 0; k < o->size; k++, j = json_skip(doc, j + 1)) {
		char key[JSON_KEY_MAX + 1];
		int idx = -1;

		if (json_get_str(doc, j, key, sizeof(key), NULL) == 0)
			idx = find_field(fields, n, key);
		if (idx < 0) {
			fault_unknown(doc, j, fields, n, f);
			return -EINVAL;
		}
		if (seen & (1u << idx)) {
			fault_set(f, "duplicate field '%s'", key);
			return -EINVAL;
		}
		seen |= 1u << idx;
		if (json_is_null(doc, j + 1))
			continue;
		if (read_field(doc, j + 1, &fields[idx], out, f)) {
			json_fault_prefix(f, fields[idx].name);
			return -EINVAL;
		}
		given |= 1u << idx;
	}
	if (check_required(fields, n, given, f))
		return -EINVAL;
	if (present)
		*present = given;
	return 0;
}

int json_parse_fields(const char *js, size_t len, const struct json_field *fields, int n, void *out,
		      uint32_t *present, struct fault *f)
{
	struct json_doc doc;
	int r = json_parse(&doc, js, len, f);

	if (r)
		return r;
	r = json_walk_object(&doc, 0, fields, n, out, present, f);
	json_free(&doc);
	return r;
}
