/* A strict JSON reader over jsmn, for API request bodies and --config-file.
 *
 * json_parse() tokenizes and then checks the whole document against the JSON
 * grammar (jsmn alone accepts trailing commas, bad literals, raw control
 * characters in strings, ...), so every later accessor may trust the token
 * tree. Values are then read through a table of field specs
 * (json_walk_object), which refuses unknown keys, duplicate keys, wrong types
 * and over-long strings, and says which field was wrong in the fault.
 *
 * All input is hostile. Nothing here keeps global state; a struct json_doc is
 * owned by one thread. */
#ifndef FLINT_API_JSON_H
#define FLINT_API_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/config.h" /* struct fault */

#define JSON_MAX_INPUT	(4u << 20) /* bytes; jsmn counts positions in int */
#define JSON_MAX_TOKENS 4096	   /* a full config with 16 devices needs < 1000 */
#define JSON_MAX_DEPTH	8	   /* nested objects/arrays, the top level counts 1 */
#define JSON_KEY_MAX	64	   /* longer keys are never known keys */

enum json_type { JSON_OBJECT = 1, JSON_ARRAY = 2, JSON_STRING = 3, JSON_PRIMITIVE = 4 };

/* One token. For strings, [start, end) excludes the quotes. size is the number
 * of direct children (object: keys; key: 1; array: elements). */
struct json_tok {
	enum json_type type;
	int start;
	int end;
	int size;
	int parent;
};

struct json_doc {
	const char *js; /* borrowed: must outlive the doc */
	size_t len;
	struct json_tok *toks; /* owned, freed by json_free */
	int ntoks;
};

/* Parse js[0..len) whose top level must be an object. Returns 0, or -EINVAL
 * (malformed, not an object, too big, too deep) / -ENOMEM with f set. On
 * success the caller must json_free(doc). */
int json_parse(struct json_doc *doc, const char *js, size_t len, struct fault *f);
void json_free(struct json_doc *doc);

/* Index of the first token after the subtree rooted at tok. */
int json_skip(const struct json_doc *doc, int tok);
bool json_is_null(const struct json_doc *doc, int tok);

/* Typed readers. Each returns 0 or -EINVAL with f saying what is wrong
 * (without the field name: callers prefix it). */
int json_get_str(const struct json_doc *doc, int tok, char *buf, size_t size, struct fault *f);
int json_get_u64(const struct json_doc *doc, int tok, uint64_t *out, struct fault *f);
int json_get_u32(const struct json_doc *doc, int tok, uint32_t *out, struct fault *f);
int json_get_bool(const struct json_doc *doc, int tok, bool *out, struct fault *f);
/* The same into an optional boolean: CFG_TRUE or CFG_FALSE. */
int json_get_opt_bool(const struct json_doc *doc, int tok, enum cfg_opt_bool *out, struct fault *f);
/* A string that must be one of names[0..n); *out = its index. nocase: compare
 * ASCII case-insensitively. */
int json_get_enum(const struct json_doc *doc, int tok, const char *const *names, int n, bool nocase,
		  int *out, struct fault *f);

enum json_kind {
	JSON_F_STR,	 /* char[size] at offset, NUL-terminated */
	JSON_F_U64,	 /* uint64_t at offset */
	JSON_F_U32,	 /* uint32_t at offset */
	JSON_F_BOOL,	 /* bool at offset */
	JSON_F_OPT_BOOL, /* enum cfg_opt_bool at offset: CFG_TRUE or CFG_FALSE */
	JSON_F_CUSTOM,	 /* parse(doc, tok, out + offset, f) */
	JSON_F_IGNORE,	 /* accepted and skipped (deprecated fields) */
};

struct json_field {
	const char *name;
	enum json_kind kind;
	bool required;
	size_t offset;
	size_t size; /* JSON_F_STR: destination buffer size, with the NUL */
	int (*parse)(const struct json_doc *doc, int tok, void *dst, struct fault *f);
};

#define JSON_MAX_FIELDS 32

/* Read object tok into out through fields[0..n) (n <= JSON_MAX_FIELDS). A
 * null value counts as absent (serde's Option). If present is not NULL, bit i
 * is set when fields[i] was given. Fields not given are left untouched.
 * Faults are prefixed with the field name: "vcpu_count: must be ...". */
int json_walk_object(const struct json_doc *doc, int tok, const struct json_field *fields, int n,
		     void *out, uint32_t *present, struct fault *f);

/* Parse js as an object and walk it: the whole of a request body parser. */
int json_parse_fields(const char *js, size_t len, const struct json_field *fields, int n, void *out,
		      uint32_t *present, struct fault *f);

/* Prepend "<name>: " to f->msg, to say where a nested error happened. */
void json_fault_prefix(struct fault *f, const char *name);

#endif
