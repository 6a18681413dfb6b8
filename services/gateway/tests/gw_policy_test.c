/*
 * gw_policy_test.c - triggers, tags, domains and event ids, without a
 * milter or a bus.
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

#include "postern/mem.h"
#include "../gw.h"



/* strip - gw_tag_strip as a string: "" marks "not found" */
static char *strip(const char *value, const char *tag)
{
	static char out[512];
	int found = -1;
	char *s = gw_tag_strip(value, tag, &found);

	if (!s) {
		assert_int_equal(found, 0);
		return "";
	}
	assert_int_equal(found, 1);
	snprintf(out, sizeof(out), "%s", s);
	pn_free(&s);
	return out;
}

static void test_tag_anywhere_any_case(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "[secure] Hello", "Hello" },
		{ "Hello [secure]", "Hello" },
		{ "Hello [SeCuRe] world", "Hello world" },
		{ "[secure]", "" },
		{ "Re: [secure]  [secure] figures", "Re: figures" },
		{ "\t[secure]\tTabs", "Tabs" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int found = 0;
		char *s = gw_tag_strip(cases[i].in, "[secure]", &found);
		assert_non_null(s);
		assert_int_equal(found, 1);
		assert_string_equal(s, cases[i].out);
		pn_free(&s);
	}
}

static void test_no_tag(void **state)
{
	(void)state;
	assert_string_equal(strip("Hello", "[secure]"), "");
	assert_string_equal(strip("[secur] e", "[secure]"), "");
	assert_string_equal(strip("secure", "[secure]"), "");
	assert_string_equal(strip("", "[secure]"), "");
	assert_string_equal(strip("=?utf-8?q?Gr=C3=BC=C3=9Fe?=", "[secure]"), "");
}

static void test_encoded_subject(void **state)
{
	int found = 0;
	char *s;
	(void)state;

	/* "[secure] Grüße" as an RFC 2047 encoded word */
	s = gw_tag_strip("=?UTF-8?Q?=5Bsecure=5D_Gr=C3=BC=C3=9Fe?=", "[secure]", &found);
	assert_non_null(s);
	assert_int_equal(found, 1);
	assert_null(strstr(s, "secure"));
	assert_non_null(strstr(s, "=?"));        /* encoded again: not 8-bit */
	pn_free(&s);
	/* the tag in plain text next to an encoded word */
	s = gw_tag_strip("[secure] =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=", "[secure]", &found);
	assert_non_null(s);
	assert_string_equal(s, "=?UTF-8?Q?Gr=C3=BC=C3=9Fe?=");
	pn_free(&s);
}

static void test_yes(void **state)
{
	(void)state;
	assert_true(gw_yes("yes"));
	assert_true(gw_yes(" YES "));
	assert_true(gw_yes("true"));
	assert_true(gw_yes("1"));
	assert_false(gw_yes("no"));
	assert_false(gw_yes("yess"));
	assert_false(gw_yes(""));
	assert_false(gw_yes(NULL));
}

static void test_domains(void **state)
{
	const char *why = NULL;
	gw_domains *d = gw_domains_parse(" Example.COM, .corp.example ,", &why);
	(void)state;

	assert_non_null(d);
	assert_true(gw_domains_match(d, "a@example.com"));
	assert_true(gw_domains_match(d, "a@EXAMPLE.com"));
	assert_false(gw_domains_match(d, "a@sub.example.com"));
	assert_false(gw_domains_match(d, "a@notexample.com"));
	assert_true(gw_domains_match(d, "a@x.corp.example"));
	assert_true(gw_domains_match(d, "a@y.x.corp.example"));
	assert_false(gw_domains_match(d, "a@corp.example"));
	assert_false(gw_domains_match(d, "a@xcorp.example"));
	assert_false(gw_domains_match(d, "no-at-sign"));
	gw_domains_free(&d);
	assert_null(d);

	d = gw_domains_parse("", &why);
	assert_non_null(d);
	assert_false(gw_domains_match(d, "a@example.com"));
	gw_domains_free(&d);

	assert_null(gw_domains_parse("example.com, bad domain", &why));
	assert_non_null(why);
	assert_null(gw_domains_parse("localhost", &why));
	assert_null(gw_domains_parse("..example.com", &why));
}

static void test_event_id_stable(void **state)
{
	uint8_t body[32] = { 1, 2, 3 };
	const char *r1[] = { "b@x.example", "a@x.example" };
	const char *r2[] = { "a@x.example", "b@x.example" };
	gw_facts f = { .message_id = "<1@x>", .sender = "s@x.example", .rcpt = r1,
		.n_rcpt = 2, .body_hash = body };
	char a[GW_EVENT_ID_LEN + 1], b[GW_EVENT_ID_LEN + 1];
	(void)state;

	gw_event_id(&f, a);
	assert_int_equal(strlen(a), GW_EVENT_ID_LEN);
	assert_memory_equal(a, "gw-", 3);
	/* recipients in another order: the same event */
	f.rcpt = r2;
	gw_event_id(&f, b);
	assert_string_equal(a, b);
	/* Date and Subject do not count while there is a Message-ID */
	f.date = "Mon, 1 Jan 2024";
	f.subject = "other";
	gw_event_id(&f, b);
	assert_string_equal(a, b);
}

static void test_event_id_differs(void **state)
{
	uint8_t body[32] = { 1, 2, 3 }, body2[32] = { 1, 2, 4 };
	const char *r[] = { "a@x.example", "b@x.example" };
	const char *r_fewer[] = { "a@x.example" };
	const char *r_joined[] = { "a@x.exampleb@x.example" };
	gw_facts base = { .message_id = "<1@x>", .sender = "s@x.example", .rcpt = r,
		.n_rcpt = 2, .body_hash = body };
	char a[GW_EVENT_ID_LEN + 1], b[GW_EVENT_ID_LEN + 1];
	gw_facts f;
	(void)state;

	gw_event_id(&base, a);
	/* base with the changes: another id */
#define DIFFERS(...) do { \
		f = base; \
		__VA_ARGS__; \
		gw_event_id(&f, b); \
		assert_string_not_equal(a, b); \
	} while (0)
	DIFFERS(f.message_id = "<2@x>");
	DIFFERS(f.sender = "t@x.example");
	DIFFERS(f.body_hash = body2);
	DIFFERS(f.with_pin = 1);
	DIFFERS(f.rcpt = r_fewer, f.n_rcpt = 1);
	/* length-prefixed fields: two recipients never equal one joined */
	DIFFERS(f.rcpt = r_joined, f.n_rcpt = 1);
#undef DIFFERS
	/* without a Message-ID, Date and Subject name the message */
	f = base;
	f.message_id = NULL;
	f.date = "d1";
	f.subject = "s";
	gw_event_id(&f, a);
	f.date = "d2";
	gw_event_id(&f, b);
	assert_string_not_equal(a, b);
}

static void test_mta_message_id(void **state)
{
	(void)state;
	assert_true(gw_mta_message_id("<20261203074443.A78D5A741D5@host.example>", "A78D5A741D5"));
	assert_false(gw_mta_message_id("<20261203074443.A78D5A741D5@host.example>", "B78D5A741D5"));
	assert_false(gw_mta_message_id("<abc.def@client.example>", "A78D5A741D5"));
	assert_false(gw_mta_message_id("<x@y>", ""));
	assert_false(gw_mta_message_id(NULL, "A78D5A741D5"));
	assert_false(gw_mta_message_id("<x@y>", NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tag_anywhere_any_case),
		cmocka_unit_test(test_no_tag),
		cmocka_unit_test(test_encoded_subject),
		cmocka_unit_test(test_yes),
		cmocka_unit_test(test_domains),
		cmocka_unit_test(test_event_id_stable),
		cmocka_unit_test(test_event_id_differs),
		cmocka_unit_test(test_mta_message_id),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("gw_policy", tests, NULL, NULL);
}
