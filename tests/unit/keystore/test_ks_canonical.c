/* The canonical JSON form of FORMAT.md §5.3, byte for byte: key order at every
 * level, minimal escapes, no '/' escape, integers, arrays kept in order. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "keystore/canonical.h"

static void expect_canonical(const char *input, const char *expected)
{
	struct ks_buf out = {0};
	json_object *v = json_tokener_parse(input);

	assert_non_null(v);
	assert_int_equal(ks_json_canonical(v, &out), 0);
	assert_non_null(out.data);
	assert_int_equal(out.len, strlen(expected));
	assert_memory_equal(out.data, expected, out.len);
	ks_buf_free(&out);
	json_object_put(v);
}

static void keys_sorted_bytewise_at_every_level(void **state)
{
	(void)state;
	/* "A" (0x41) < "z" (0x7a) < "é" (0xc3 0xa9); "" sorts first; "b" < "big". */
	expect_canonical("{ \"s\": 1, \"big\": 2, \"b\": 3, \"\": 4,\n"
			 "  \"a\": { \"\xc3\xa9\": true, \"z\": [3, {\"y\": 1, \"x\": null}],"
			 " \"A\": false } }",
			 "{\"\":4,\"a\":{\"A\":false,\"z\":[3,{\"x\":null,\"y\":1}],"
			 "\"\xc3\xa9\":true},\"b\":3,\"big\":2,\"s\":1}");
}

static void strings_use_minimal_escapes(void **state)
{
	(void)state;
	/* Quote and backslash escaped; control characters as \u00xx (also
	 * \n and \t); '/' and non-ASCII UTF-8 left as they are; DEL (0x7f) raw. */
	expect_canonical(
	    "{\"k\\\"\\\\\": \"a/b\\n\\t\\u0001\\u001f \\u00e9\\u007f \\\" \\\\ \\/\"}",
	    "{\"k\\\"\\\\\":\"a/b\\u000a\\u0009\\u0001\\u001f \xc3\xa9\x7f \\\" \\\\ "
	    "/\"}");
}

static void integers_and_literals(void **state)
{
	(void)state;
	expect_canonical(
	    "[0, -42, 4096, 9223372036854775807, 18446744073709551615, -9223372036854775808,"
	    " true, false, null, [], {}]",
	    "[0,-42,4096,9223372036854775807,18446744073709551615,"
	    "-9223372036854775808,true,false,null,[],{}]");
}

static void arrays_keep_their_order(void **state)
{
	(void)state;
	expect_canonical("{\"features\": [\"long-names\", \"encrypted-names\"]}",
			 "{\"features\":[\"long-names\",\"encrypted-names\"]}");
}

static void whitespace_and_key_order_do_not_matter(void **state)
{
	struct ks_buf a = {0}, b = {0};
	json_object *x = json_tokener_parse("{\"b\":{\"d\":1,\"c\":[1,2]},\"a\":\"x\"}");
	json_object *y = json_tokener_parse("{\n\t\"a\" : \"x\" ,\n \"b\" : { \"c\" : [ 1 , 2 ] ,"
					    " \"d\" : 1 } }\n");

	(void)state;
	assert_int_equal(ks_json_canonical(x, &a), 0);
	assert_int_equal(ks_json_canonical(y, &b), 0);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);
	assert_string_equal(a.data, "{\"a\":\"x\",\"b\":{\"c\":[1,2],\"d\":1}}");
	ks_buf_free(&a);
	ks_buf_free(&b);
	json_object_put(x);
	json_object_put(y);
}

static void doubles_have_no_canonical_form(void **state)
{
	struct ks_buf out = {0};
	json_object *v = json_tokener_parse("{\"a\": [1.5]}");

	(void)state;
	assert_int_equal(ks_json_canonical(v, &out), -EINVAL);
	ks_buf_free(&out);
	json_object_put(v);
}

static void nesting_is_bounded(void **state)
{
	struct ks_buf out = {0};
	json_object *root = json_object_new_array(), *cur = root;

	(void)state;
	for (int i = 0; i < 70; i++) {
		json_object *next = json_object_new_array();

		json_object_array_add(cur, next);
		cur = next;
	}
	assert_int_equal(ks_json_canonical(root, &out), -EINVAL);
	ks_buf_free(&out);
	json_object_put(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(keys_sorted_bytewise_at_every_level),
	    cmocka_unit_test(strings_use_minimal_escapes),
	    cmocka_unit_test(integers_and_literals),
	    cmocka_unit_test(arrays_keep_their_order),
	    cmocka_unit_test(whitespace_and_key_order_do_not_matter),
	    cmocka_unit_test(doubles_have_no_canonical_form),
	    cmocka_unit_test(nesting_is_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
