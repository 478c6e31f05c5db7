/* api/json: the strict grammar, the typed readers and the object walker. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/json.h"

static int parse(const char *js, struct fault *f)
{
	struct json_doc doc;
	int r = json_parse(&doc, js, strlen(js), f);

	if (r == 0)
		json_free(&doc);
	return r;
}

static void test_grammar_accepts(void **state)
{
	static const char *const ok[] = {
	    "{}",
	    " \t\r\n{ } \n",
	    "{\"a\":1}",
	    "{\"a\" : [ 1 , 2 ] , \"b\" : { } }",
	    "{\"a\":-0.5E+10,\"b\":0,\"c\":1e3}",
	    "{\"a\":true,\"b\":false,\"c\":null}",
	    "{\"a\":\"\\ud83d\\ude00 \\u00e9 \\/ \\\" \\\\ \\b\\f\\n\\r\\t\"}",
	    "{\"a\":\"\xe2\x82\xac\"}",
	    "{\"a\":[[],[{}],\"x\"]}",
	    "{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{}}}}}}}}", /* depth 8 */
	};
	struct fault f;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		f.msg[0] = '\0';
		if (parse(ok[i], &f) != 0)
			fail_msg("refused %s: %s", ok[i], f.msg);
	}
}

static void test_grammar_rejects(void **state)
{
	static const char *const bad[] = {
	    "",
	    "   ",
	    "[]",
	    "1",
	    "\"x\"",
	    "{",
	    "{\"a\":1,}",
	    "{,}",
	    "{\"a\" 1}",
	    "{\"a\":1 \"b\":2}",
	    "{\"a\"}",
	    "{\"a\":}",
	    "{1:2}",
	    "{\"a\":[1,,2]}",
	    "{\"a\":[1,2,]}",
	    "{\"a\":[1 2]}",
	    "{\"a\":tru}",
	    "{\"a\":nulls}",
	    "{\"a\":01}",
	    "{\"a\":-}",
	    "{\"a\":.5}",
	    "{\"a\":1.}",
	    "{\"a\":1e}",
	    "{\"a\":+1}",
	    "{\"a\":\"b\":\"c\"}",
	    "{\"a\":[\"x\":1]}",
	    "{\"a\":\"\\q\"}",
	    "{\"a\":\"\\u12\"}",
	    "{\"a\":\"\\u0000\"}",
	    "{\"a\":\"\\ud800\"}",
	    "{\"a\":\"\\ud800\\u0041\"}",
	    "{\"a\":\"\\udc00\"}",
	    "{\"a\":\"\x01\"}",
	    "{\"a\":\"\t\"}",
	    "{\"a\":\"\xc0\x80\"}",
	    "{\"a\":\"\xed\xa0\x80\"}",
	    "{\"a\":\"\xff\"}",
	    "{\"a\":1}}",
	    "{\"a\":1}x",
	    "{\"a\":1} {}",
	    "{\"a\":[}",
	    "{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":{}}}}}}}}}",
	    "{\"a\":[[[[[[[[1]]]]]]]]}",
	};
	struct fault f;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		f.msg[0] = '\0';
		if (parse(bad[i], &f) != -EINVAL)
			fail_msg("accepted %s", bad[i]);
		if (!f.msg[0])
			fail_msg("no message for %s", bad[i]);
	}
}

static void test_embedded_nul(void **state)
{
	static const char js[] = "{\"a\":1}\0{}";
	static const char js2[] = "{\"a\":\"x\0y\"}";
	struct json_doc doc;
	struct fault f;

	(void)state;
	assert_int_equal(json_parse(&doc, js, sizeof(js) - 1, &f), -EINVAL);
	assert_int_equal(json_parse(&doc, js2, sizeof(js2) - 1, &f), -EINVAL);
}

static void test_too_many_tokens(void **state)
{
	size_t n = 2 * JSON_MAX_TOKENS + 16, len = 0;
	char *js = malloc(n * 2 + 16);
	struct fault f;

	(void)state;
	len += (size_t)sprintf(js, "{\"a\":[");
	for (size_t i = 0; i < JSON_MAX_TOKENS; i++)
		len += (size_t)sprintf(js + len, "%s1", i ? "," : "");
	strcpy(js + len, "]}");
	assert_int_equal(parse(js, &f), -EINVAL);
	assert_non_null(strstr(f.msg, "tokens"));
	free(js);
}

static void test_too_big(void **state)
{
	struct json_doc doc;
	struct fault f;

	(void)state;
	assert_int_equal(json_parse(&doc, "{}", (size_t)JSON_MAX_INPUT + 1, &f), -EINVAL);
}

struct rec {
	char s[8];
	uint64_t u64;
	uint32_t u32;
	bool b;
	int e;
};

static int read_color(const struct json_doc *doc, int tok, void *dst, struct fault *f)
{
	static const char *const names[] = {"Red", "Green"};

	return json_get_enum(doc, tok, names, 2, true, dst, f);
}

static const struct json_field rec_fields[] = {
    {"s", JSON_F_STR, true, offsetof(struct rec, s), sizeof(((struct rec *)0)->s)},
    {"u64", JSON_F_U64, false, offsetof(struct rec, u64)},
    {"u32", JSON_F_U32, false, offsetof(struct rec, u32)},
    {"b", JSON_F_BOOL, false, offsetof(struct rec, b)},
    {"e", JSON_F_CUSTOM, false, offsetof(struct rec, e), 0, read_color},
    {"old", JSON_F_IGNORE, false},
};

static int walk(const char *js, struct rec *r, uint32_t *present, struct fault *f)
{
	memset(r, 0, sizeof(*r));
	f->msg[0] = '\0';
	return json_parse_fields(js, strlen(js), rec_fields, 6, r, present, f);
}

static void expect_fault(const char *js, const char *needle)
{
	struct fault f;
	struct rec r;

	if (walk(js, &r, NULL, &f) != -EINVAL)
		fail_msg("accepted %s", js);
	if (!strstr(f.msg, needle))
		fail_msg("%s: message '%s' lacks '%s'", js, f.msg, needle);
}

static void test_walker_values(void **state)
{
	uint32_t present = 0;
	struct fault f;
	struct rec r;

	(void)state;
	assert_int_equal(walk("{\"s\":\"a\\tb\",\"u64\":18446744073709551615,\"u32\":4294967295,"
			      "\"b\":true,\"e\":\"gREEN\",\"old\":[1,{}]}",
			      &r, &present, &f),
			 0);
	assert_string_equal(r.s, "a\tb");
	assert_true(r.u64 == UINT64_MAX);
	assert_int_equal(r.u32, UINT32_MAX);
	assert_true(r.b);
	assert_int_equal(r.e, 1);
	assert_int_equal(present, 0x3f);
	/* null is absence */
	assert_int_equal(walk("{\"s\":\"x\",\"u64\":null}", &r, &present, &f), 0);
	assert_int_equal(present, 1);
	/* escapes decode, including surrogate pairs, and count towards the limit */
	assert_int_equal(walk("{\"s\":\"\\ud83d\\ude00\\u00e9\"}", &r, NULL, &f), 0);
	assert_string_equal(r.s, "\xf0\x9f\x98\x80\xc3\xa9");
	assert_int_equal(walk("{\"s\":\"\\/\\\"\\\\\"}", &r, NULL, &f), 0);
	assert_string_equal(r.s, "/\"\\");
	assert_int_equal(walk("{\"s\":\"\\b\\f\\n\\r\\u0041\"}", &r, NULL, &f), 0);
	assert_string_equal(r.s, "\b\f\n\rA");
	assert_int_equal(walk("{\"s\":\"1234567\"}", &r, NULL, &f), 0);
}

static void test_walker_faults(void **state)
{
	(void)state;
	expect_fault("{\"s\":\"12345678\"}", "s: longer than 7 bytes");
	expect_fault("{\"s\":\"\\u00e9\\u00e9\\u00e9\\u00e9\"}", "longer than 7");
	expect_fault("{\"s\":\"x\",\"zz\":1}", "unknown field 'zz'");
	expect_fault("{\"s\":\"x\",\"s\":\"y\"}", "duplicate field 's'");
	expect_fault("{\"s\":\"x\",\"\\u0073\":\"y\"}", "duplicate field 's'");
	expect_fault("{\"s\":\"x\",\"b\":null,\"b\":true}", "duplicate field 'b'");
	expect_fault("{\"u64\":1}", "missing field 's'");
	expect_fault("{\"s\":null}", "missing field 's'");
	expect_fault("{\"s\":1}", "s: must be a string");
	expect_fault("{\"s\":\"x\",\"u64\":18446744073709551616}", "u64: integer out of range");
	expect_fault("{\"s\":\"x\",\"u64\":99999999999999999999999}", "out of range");
	expect_fault("{\"s\":\"x\",\"u32\":4294967296}", "u32: integer out of range");
	expect_fault("{\"s\":\"x\",\"u64\":-1}", "u64: must be a non-negative integer");
	expect_fault("{\"s\":\"x\",\"u64\":-0}", "non-negative integer");
	expect_fault("{\"s\":\"x\",\"u64\":1.5}", "non-negative integer");
	expect_fault("{\"s\":\"x\",\"u64\":1e3}", "non-negative integer");
	expect_fault("{\"s\":\"x\",\"u64\":\"1\"}", "non-negative integer");
	expect_fault("{\"s\":\"x\",\"u64\":true}", "non-negative integer");
	expect_fault("{\"s\":\"x\",\"b\":\"true\"}", "b: must be true or false");
	expect_fault("{\"s\":\"x\",\"b\":1}", "must be true or false");
	expect_fault("{\"s\":\"x\",\"e\":\"Blue\"}", "e: must be one of \"Red\", \"Green\"");
	expect_fault("{\"s\":\"x\",\"e\":7}", "e: must be a string");
	expect_fault("{\"s\":\"x\",\"\\u0001\":1}", "unknown field '?u0001'");
}

struct opt_rec {
	enum cfg_opt_bool a, b, c;
};

static const struct json_field opt_fields[] = {
    {"a", JSON_F_OPT_BOOL, false, offsetof(struct opt_rec, a)},
    {"b", JSON_F_OPT_BOOL, false, offsetof(struct opt_rec, b)},
    {"c", JSON_F_OPT_BOOL, false, offsetof(struct opt_rec, c)},
};

/* An optional boolean tells false from absent (and null is absent). */
static void test_walker_opt_bool(void **state)
{
	const char *js = "{\"a\":false,\"b\":true,\"c\":null}";
	struct opt_rec r = {CFG_ABSENT, CFG_ABSENT, CFG_ABSENT};
	uint32_t present = 0;
	struct fault f = {""};

	(void)state;
	assert_int_equal(json_parse_fields(js, strlen(js), opt_fields, 3, &r, &present, &f), 0);
	assert_int_equal(r.a, CFG_FALSE);
	assert_int_equal(r.b, CFG_TRUE);
	assert_int_equal(r.c, CFG_ABSENT);
	assert_int_equal(present, 0x3);
	js = "{\"a\":\"false\"}";
	assert_int_equal(json_parse_fields(js, strlen(js), opt_fields, 3, &r, NULL, &f), -EINVAL);
	assert_string_equal(f.msg, "a: must be true or false");
}

static void test_walker_not_object(void **state)
{
	struct json_doc doc;
	struct fault f;
	const char *js = "{\"a\":[1]}";

	(void)state;
	assert_int_equal(json_parse(&doc, js, strlen(js), &f), 0);
	assert_int_equal(json_walk_object(&doc, 2, rec_fields, 6, NULL, NULL, &f), -EINVAL);
	assert_string_equal(f.msg, "must be an object");
	assert_int_equal(json_skip(&doc, 0), doc.ntoks);
	assert_int_equal(json_skip(&doc, 1), doc.ntoks);
	json_free(&doc);
}

static void test_fault_prefix(void **state)
{
	struct fault f;

	(void)state;
	fault_set(&f, "must be 1");
	json_fault_prefix(&f, "x");
	json_fault_prefix(&f, "top");
	assert_string_equal(f.msg, "top: x: must be 1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_grammar_accepts), cmocka_unit_test(test_grammar_rejects),
	    cmocka_unit_test(test_embedded_nul),    cmocka_unit_test(test_too_many_tokens),
	    cmocka_unit_test(test_too_big),	    cmocka_unit_test(test_walker_values),
	    cmocka_unit_test(test_walker_faults),   cmocka_unit_test(test_walker_not_object),
	    cmocka_unit_test(test_fault_prefix),    cmocka_unit_test(test_walker_opt_bool),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
