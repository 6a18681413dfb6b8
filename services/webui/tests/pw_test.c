/*
 * pw_test.c - password rules and the blocklist (web_pw.c), including the
 * list shipped in share/postern (at least 10,000 entries, found
 * case-insensitively).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../web_pw.h"
#include "../web_util.h"

#define ADDR "bob.builder@example.org"

static web_blocklist *small(void)
{
	static const char text[] = "# comment\nsunshine2024\r\nPassword1234\n\ncorrecthorse\n";
	return web_blocklist_from(text, sizeof(text) - 1);
}

static void test_blocklist(void **state)
{
	web_blocklist *bl = small();
	(void)state;

	assert_int_equal(web_blocklist_size(bl), 3);
	assert_true(web_blocklist_has(bl, "sunshine2024"));
	assert_true(web_blocklist_has(bl, "SunShine2024"));
	assert_true(web_blocklist_has(bl, "password1234"));
	assert_false(web_blocklist_has(bl, "password12345"));
	assert_false(web_blocklist_has(bl, "# comment"));
	assert_false(web_blocklist_has(bl, ""));
	web_blocklist_free(&bl);
	assert_null(bl);
}

static void test_shipped_list(void **state)
{
	web_blocklist *bl = web_blocklist_load("share/postern/common-passwords.txt");
	(void)state;

	assert_non_null(bl);
	assert_true(web_blocklist_size(bl) >= 10000);
	assert_true(web_blocklist_has(bl, "password"));
	assert_true(web_blocklist_has(bl, "qwertyuiop"));
	assert_true(web_blocklist_has(bl, "Password123"));
	assert_true(web_blocklist_has(bl, "iloveyou2024"));
	assert_false(web_blocklist_has(bl, "violet-kettle-moss-orbit"));
	assert_null(web_blocklist_load("/nonexistent/list.txt"));
	web_blocklist_free(&bl);
}

static void test_rules(void **state)
{
	static const struct {
		const char *pw, *confirm;
		web_pw_verdict want;
	} cases[] = {
		{ "violet-kettle-moss", "violet-kettle-moss", WEB_PW_OK },
		{ "short", "short", WEB_PW_TOO_SHORT },
		{ "123456789", "123456789", WEB_PW_TOO_SHORT },
		/* 10 characters (umlauts are one each, 2 bytes) */
		{ "\xc3\xa4\xc3\xb6\xc3\xbc\xc3\x9f\xc3\xa4\xc3\xb6\xc3\xbc\xc3\x9fzq",
		  "\xc3\xa4\xc3\xb6\xc3\xbc\xc3\x9f\xc3\xa4\xc3\xb6\xc3\xbc\xc3\x9fzq", WEB_PW_OK },
		{ "\xc3\xa4\xc3\xb6\xc3\xbc\xc3\x9f\xc3\xa4", "", WEB_PW_TOO_SHORT },
		{ "sunshine2024", "sunshine2024", WEB_PW_COMMON },
		{ "SUNSHINE2024", "SUNSHINE2024", WEB_PW_COMMON },
		{ "aaaaaaaaaaaa", "aaaaaaaaaaaa", WEB_PW_PATTERN },
		{ "abababababab", "abababababab", WEB_PW_PATTERN },
		{ "1234567890123", "1234567890123", WEB_PW_PATTERN },
		{ "zyxwvutsrqpo", "zyxwvutsrqpo", WEB_PW_PATTERN },
		{ "asdfghjkl;", "asdfghjkl;", WEB_PW_OK },      /* ';' breaks the row */
		{ "qwertyuiopq", "qwertyuiopq", WEB_PW_PATTERN },
		{ ADDR, ADDR, WEB_PW_CONTEXT },
		{ "BOB.BUILDER", "BOB.BUILDER", WEB_PW_CONTEXT },
		{ "tab\there-is-bad", "tab\there-is-bad", WEB_PW_CONTROL },
		{ "newline\nis-bad!", "newline\nis-bad!", WEB_PW_CONTROL },
		{ "bad-utf8-\xff\xfe-x", "bad-utf8-\xff\xfe-x", WEB_PW_CONTROL },
		{ "overlong-\xc0\xaf-x", "overlong-\xc0\xaf-x", WEB_PW_CONTROL },
		{ "violet-kettle-moss", "violet-kettle-mosS", WEB_PW_MISMATCH },
		{ "violet-kettle-moss", NULL, WEB_PW_MISMATCH },
		{ "spaces are fine here", "spaces are fine here", WEB_PW_OK },
	};
	web_blocklist *bl = small();
	char longpw[200];
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		web_pw_verdict v = web_pw_check(bl, cases[i].pw, cases[i].confirm, ADDR, 10, 64);
		if (v != cases[i].want)
			fail_msg("case %zu: verdict %d, want %d", i, v, cases[i].want);
	}
	/* max: 64 characters pass, 65 do not */
	for (int i = 0; i < 64; i++)
		longpw[i] = "abcdefghijklmnopqrstuvwxyz0123456789-"[i * 7 % 37];
	longpw[64] = '\0';
	assert_int_equal(web_pw_check(bl, longpw, longpw, ADDR, 10, 64), WEB_PW_OK);
	longpw[64] = 'x';
	longpw[65] = '\0';
	assert_int_equal(web_pw_check(bl, longpw, longpw, ADDR, 10, 64), WEB_PW_TOO_LONG);
	assert_int_equal(web_pw_check(bl, NULL, NULL, ADDR, 10, 64), WEB_PW_TOO_SHORT);
	web_blocklist_free(&bl);
}

static void test_utf8_chars(void **state)
{
	(void)state;
	assert_int_equal(web_utf8_chars(""), 0);
	assert_int_equal(web_utf8_chars("abc"), 3);
	assert_int_equal(web_utf8_chars("\xe2\x82\xac\xf0\x9f\x94\x91"), 2);   /* euro, key */
	assert_int_equal(web_utf8_chars("\xed\xa0\x80"), -1);                 /* surrogate */
	assert_int_equal(web_utf8_chars("\xc2\x85"), -1);                     /* C1 control */
	assert_int_equal(web_utf8_chars("\x7f"), -1);
	assert_int_equal(web_utf8_chars("\xe2\x82"), -1);                     /* cut short */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blocklist),
		cmocka_unit_test(test_shipped_list),
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_utf8_chars),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
