/*
 * text_test.c - the one HTML escaper (text.c) that the web UI's pages and
 * provision's mails use: entities, controls dropped, invalid UTF-8
 * replaced; and the UTF-8 decoder under it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "postern/text.h"

static void test_escape(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "plain", "plain" },
		{ "", "" },
		{ "<script>alert('x')</script>", "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" },
		{ "a & b \"q\"", "a &amp; b &quot;q&quot;" },
		{ "\" onmouseover=\"x", "&quot; onmouseover=&quot;x" },
		{ "https://example.org/m/a_b-c?x=1&y=2", "https://example.org/m/a_b-c?x=1&amp;y=2" },
		{ "caf\xc3\xa9", "caf\xc3\xa9" },
		{ "bad\xff" "byte", "bad\xef\xbf\xbd" "byte" },
		{ "ctl\x01\x1b[31m\x7f", "ctl[31m" },
		{ "tab\tnl\n", "tab\tnl\n" },
		{ "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = pn_html_escape(cases[i].in);
		assert_string_equal(got, cases[i].out);
		assert_int_equal(pn_html_escapen(NULL, cases[i].in, strlen(cases[i].in)),
		    strlen(cases[i].out));
		free(got);
	}
	{
		char *got = pn_html_escape(NULL);
		assert_string_equal(got, "");
		free(got);
	}
}

static void test_escapen(void **state)
{
	char out[64];
	size_t n;
	(void)state;

	/* a NUL inside the span is a control: dropped, and the span goes on */
	n = pn_html_escapen(out, "a\0<b", 4);
	assert_int_equal(n, 6);
	assert_memory_equal(out, "a&lt;b", 6);
	/* worst case 6 bytes per byte */
	n = pn_html_escapen(out, "\"\"\"", 3);
	assert_int_equal(n, 18);
	/* a sequence cut by the span's end is invalid there */
	n = pn_html_escapen(out, "\xc3\xa9", 1);
	assert_int_equal(n, 3);
	assert_memory_equal(out, "\xef\xbf\xbd", 3);
}

static void test_utf8_next(void **state)
{
	unsigned cp;
	(void)state;

	assert_int_equal(pn_utf8_next((const unsigned char *)"A", 1, &cp), 1);
	assert_int_equal(cp, 'A');
	assert_int_equal(pn_utf8_next((const unsigned char *)"\xe2\x82\xac", 3, &cp), 3);
	assert_int_equal(cp, 0x20ac);
	assert_int_equal(pn_utf8_next((const unsigned char *)"\xc0\x80", 2, &cp), 0);
	assert_int_equal(pn_utf8_next((const unsigned char *)"\xf4\x90\x80\x80", 4, &cp), 0);
}

/* durations: one number, one unit, bounded; everything else refused */
static void test_duration(void **state)
{
	static const struct { const char *in; long secs; } ok[] = {
		{ "7d", 7 * 86400 }, { "90m", 5400 }, { "1h", 3600 }, { "2w", 14 * 86400 },
		{ " 30d\t", 30 * 86400 }, { "1m", 60 }, { "365d", 365 * 86400 },
	};
	static const char *const bad[] = {
		"", "d", "7", "7x", "-7d", "+7d", "7 d", "7d7d", "1.5d", "0d", "0m",
		"1000000m", "366d", "53w", "7D", "7days", "d7", "0x7d", " ", "7d x",
	};
	long secs;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		secs = -1;
		assert_int_equal(pn_duration_parse(ok[i].in, 365 * 86400L, &secs), 0);
		assert_int_equal(secs, ok[i].secs);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		secs = -1;
		assert_int_equal(pn_duration_parse(bad[i], 365 * 86400L, &secs), -1);
		assert_int_equal(secs, -1);
	}
	assert_int_equal(pn_duration_parse(NULL, 86400, &secs), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_escapen),
		cmocka_unit_test(test_utf8_next),
		cmocka_unit_test(test_duration),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
