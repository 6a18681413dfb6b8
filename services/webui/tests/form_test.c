/*
 * form_test.c - the request parsers (web_form.c): urlencoded forms with
 * their hard limits, cookies, and a fuzz-ish loop of random and
 * oversized input that must never crash, overrun or accept garbage.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "../web_form.h"
#include "../../../tests/support/fuzz.h"

static int parse(web_form *f, const char *s)
{
	return web_form_parse(f, s, strlen(s));
}

static void test_form_basic(void **state)
{
	web_form f;
	(void)state;

	assert_int_equal(parse(&f, "a=1&b=two+words&c=%41%62%2B%26&d=&e"), 0);
	assert_int_equal(f.n, 5);
	assert_string_equal(web_form_get(&f, "a"), "1");
	assert_string_equal(web_form_get(&f, "b"), "two words");
	assert_string_equal(web_form_get(&f, "c"), "Ab+&");
	assert_string_equal(web_form_get(&f, "d"), "");
	assert_string_equal(web_form_get(&f, "e"), "");
	assert_null(web_form_get(&f, "x"));
	web_form_free(&f);

	/* UTF-8 passes through; empty pairs are skipped; the first value wins */
	assert_int_equal(parse(&f, "&&pw=%C3%A4%C3%B6%C3%BC&&pw=second&"), 0);
	assert_int_equal(f.n, 1);
	assert_string_equal(web_form_get(&f, "pw"), "\xc3\xa4\xc3\xb6\xc3\xbc");
	web_form_free(&f);

	assert_int_equal(parse(&f, ""), 0);
	assert_int_equal(f.n, 0);
	web_form_free(&f);
}

static void test_form_refuses(void **state)
{
	static const char *const bad[] = {
		"a=%", "a=%4", "a=%zz", "a=%00", "%00=1", "=1", "a=1&=2", "a=%G1", "a=%%41",
	};
	web_form f;
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(&f, bad[i]), -1);
		assert_int_equal(f.n, 0);
	}
}

static void test_form_limits(void **state)
{
	web_form f;
	char *big;
	size_t n;
	(void)state;

	/* WEB_FORM_MAX_FIELDS fields pass, one more fails */
	big = calloc(1, 4096);
	for (int i = 0; i < WEB_FORM_MAX_FIELDS; i++)
		snprintf(big + strlen(big), 4096 - strlen(big), "f%d=%d&", i, i);
	assert_int_equal(parse(&f, big), 0);
	assert_int_equal(f.n, WEB_FORM_MAX_FIELDS);
	web_form_free(&f);
	strcat(big, "one=more");
	assert_int_equal(parse(&f, big), -1);
	free(big);

	/* a value of exactly the limit passes, one byte more fails */
	n = WEB_FORM_MAX_VALUE;
	big = malloc(n + 16);
	memcpy(big, "v=", 2);
	memset(big + 2, 'x', n);
	big[2 + n] = '\0';
	assert_int_equal(parse(&f, big), 0);
	assert_int_equal(strlen(web_form_get(&f, "v")), n);
	web_form_free(&f);
	big[2 + n] = 'x';
	big[3 + n] = '\0';
	assert_int_equal(parse(&f, big), -1);
	free(big);

	/* a name over the limit */
	big = malloc(WEB_FORM_MAX_NAME + 8);
	memset(big, 'n', WEB_FORM_MAX_NAME + 1);
	strcpy(big + WEB_FORM_MAX_NAME + 1, "=1");
	assert_int_equal(parse(&f, big), -1);
	free(big);
}

static void test_form_fuzz(void **state)
{
	ts_fuzz fz;
	static const char alphabet[] = "ab=&%+0F9zZ\x00\xff\xc3";
	uint8_t buf[512];
	web_form f;
	(void)state;
	ts_fuzz_start(&fz, "form/test_form_fuzz");

	for (int round = 0; round < 20000; round++) {
		size_t n = ts_fuzz_uniform(&fz, sizeof(buf));
		for (size_t i = 0; i < n; i++)
			buf[i] = round % 2 ? (uint8_t)ts_fuzz_uniform(&fz, 256) :
			    (uint8_t)alphabet[ts_fuzz_uniform(&fz, sizeof(alphabet) - 1)];
		if (web_form_parse(&f, (const char *)buf, n) == 0) {
			assert_true(f.n <= WEB_FORM_MAX_FIELDS);
			for (int i = 0; i < f.n; i++) {
				assert_true(strlen(f.f[i].name) > 0);
				assert_int_equal(strlen(f.f[i].value), f.f[i].len);
				assert_true(f.f[i].len <= WEB_FORM_MAX_VALUE);
			}
			web_form_free(&f);
		} else {
			assert_int_equal(f.n, 0);
		}
	}
}

static void test_cookie(void **state)
{
	ts_fuzz fz;
	char out[64];
	(void)state;
	ts_fuzz_start(&fz, "form/test_cookie");

	assert_int_equal(web_cookie_get("a=1; __Host-postern=abc; b=2", "__Host-postern", out,
	    sizeof(out)), 0);
	assert_string_equal(out, "abc");
	assert_int_equal(web_cookie_get("__Host-postern=\"q\"", "__Host-postern", out, sizeof(out)), 0);
	assert_string_equal(out, "q");
	/* first one wins; prefixes and suffixes of the name do not match */
	assert_int_equal(web_cookie_get("x=0;postern=1;postern=2", "postern", out, sizeof(out)), 0);
	assert_string_equal(out, "1");
	assert_int_equal(web_cookie_get("xpostern=1; posternx=2", "postern", out, sizeof(out)), -1);
	assert_int_equal(web_cookie_get("postern=", "postern", out, sizeof(out)), -1);
	assert_int_equal(web_cookie_get("", "postern", out, sizeof(out)), -1);
	assert_int_equal(web_cookie_get(NULL, "postern", out, sizeof(out)), -1);
	/* too long for the buffer: refused, not cut */
	assert_int_equal(web_cookie_get("postern=0123456789", "postern", out, 8), -1);
	/* random headers never crash */
	for (int round = 0; round < 5000; round++) {
		char h[200];
		size_t n = ts_fuzz_uniform(&fz, sizeof(h) - 1);
		for (size_t i = 0; i < n; i++)
			h[i] = "p=o;st ern\t\"x"[ts_fuzz_uniform(&fz, 13)];
		h[n] = '\0';
		if (web_cookie_get(h, "postern", out, sizeof(out)) == 0)
			assert_true(strlen(out) > 0 && strlen(out) < sizeof(out));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_form_basic),
		cmocka_unit_test(test_form_refuses),
		cmocka_unit_test(test_form_limits),
		cmocka_unit_test(test_form_fuzz),
		cmocka_unit_test(test_cookie),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
