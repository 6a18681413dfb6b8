/*
 * addr_test.c - pn_addr_normalise, table-driven: each row is an input and
 * either the normalised address or (a part of) the reason it is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "postern/addr.h"

typedef struct row {
	const char *in;
	const char *out;        /* NULL = refused */
	const char *why;        /* substring of the reason when refused */
} row;

static const row good[] = {
	{ "user@example.org", "user@example.org", NULL },
	{ "  user@example.org  ", "user@example.org", NULL },
	{ "\tuser@example.org\r\n", "user@example.org", NULL },
	{ "User@Example.ORG", "User@example.org", NULL },
	{ "Jane Doe <jane@Example.org>", "jane@example.org", NULL },
	{ "<jane@example.org>", "jane@example.org", NULL },
	{ "< jane@example.org >", "jane@example.org", NULL },
	{ "\"Doe, Jane\" <jane@EXAMPLE.org>", "jane@example.org", NULL },
	{ "\"Doe; \\\"JD\\\" <x>\" <jane@example.org>", "jane@example.org", NULL },
	{ "J\xc3\xbcrgen M\xc3\xbcller <j@example.de>", "j@example.de", NULL },
	{ "jane@example.org <jane@example.org>", "jane@example.org", NULL },
	{ "first.last+tag@sub.example.co.uk", "first.last+tag@sub.example.co.uk", NULL },
	{ "a!#$%&'*+-/=?^_`{|}~z@example.org", "a!#$%&'*+-/=?^_`{|}~z@example.org", NULL },
	{ "x@xn--bcher-kva.example", "x@xn--bcher-kva.example", NULL },
	{ "x@a-b.c0", "x@a-b.c0", NULL },
	{ "x@1.2.3.example", "x@1.2.3.example", NULL },
};

static const row bad[] = {
	{ "", NULL, "empty address" },
	{ "   ", NULL, "empty address" },
	{ "userexample.org", NULL, "missing @" },
	{ "@example.org", NULL, "empty local part" },
	{ "user@", NULL, "empty domain" },
	{ "a@b@example.org", NULL, "more than one @" },
	{ "us er@example.org", NULL, "spaces" },
	{ "user@exa mple.org", NULL, "spaces" },
	{ "user\x01@example.org", NULL, "control character" },
	{ "user@example.org\x7f", NULL, "control character" },
	{ "Name\x07 <user@example.org>", NULL, "control character" },
	{ "j\xc3\xbcrgen@example.de", NULL, "non-ASCII" },
	{ "a@example.org, b@example.org", NULL, "more than one address" },
	{ "a@example.org; b@example.org", NULL, "more than one address" },
	{ "A <a@example.org>, B <b@example.org>", NULL, "more than one address" },
	{ "<a@example.org> <b@example.org>", NULL, "more than one address" },
	{ "Doe, Jane <jane@example.org>", NULL, "more than one address" },
	{ "\"Doe, Jane <jane@example.org>", NULL, "unterminated quote" },
	{ "Jane <jane@example.org", NULL, "unbalanced angle brackets" },
	{ "jane@example.org>", NULL, "unbalanced angle brackets" },
	{ "Jane > <jane@example.org>", NULL, "unbalanced angle brackets" },
	{ "<>", NULL, "empty address" },
	{ "\"a b\"@example.org", NULL, "quoted local parts" },
	{ ".user@example.org", NULL, "misplaced dot" },
	{ "user.@example.org", NULL, "misplaced dot" },
	{ "us..er@example.org", NULL, "misplaced dot" },
	{ "us(er)@example.org", NULL, "invalid character in the local part" },
	{ "us\\er@example.org", NULL, "invalid character in the local part" },
	{ "user@localhost", NULL, "at least two labels" },
	{ "user@example..org", NULL, "empty label" },
	{ "user@.example.org", NULL, "empty label" },
	{ "user@example.org.", NULL, "empty label" },
	{ "user@-example.org", NULL, "hyphen" },
	{ "user@example-.org", NULL, "hyphen" },
	{ "user@exa_mple.org", NULL, "invalid character in the domain" },
	{ "user@[192.0.2.1]", NULL, "address literals" },
	{ "user@192.0.2.1", NULL, "numeric" },
};

/* test_good - accepted inputs and what they become */
static void test_good(void **state)
{
	char out[PN_ADDR_MAX + 1];
	const char *err;
	(void)state;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		err = NULL;
		int rc = pn_addr_normalise(good[i].in, out, sizeof(out), &err);
		if (rc != 0)
			fail_msg("row %zu \"%s\": refused: %s", i, good[i].in, err);
		assert_string_equal(out, good[i].out);
	}
}

/* test_bad - refused inputs and the reason given */
static void test_bad(void **state)
{
	char out[PN_ADDR_MAX + 1];
	const char *err;
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		memset(out, 'x', sizeof(out));
		int rc = pn_addr_normalise(bad[i].in, out, sizeof(out), &err);
		if (rc != -1)
			fail_msg("row %zu \"%s\": accepted as \"%s\"", i, bad[i].in, out);
		assert_non_null(err);
		if (!strstr(err, bad[i].why))
			fail_msg("row %zu \"%s\": reason \"%s\", want \"%s\"", i, bad[i].in,
			    err, bad[i].why);
		assert_int_equal(out[0], '\0');
	}
}

/* test_lengths - the RFC 5321 limits, at and just over */
static void test_lengths(void **state)
{
	char in[2048], out[PN_ADDR_MAX + 1];
	const char *err = NULL;
	(void)state;

	/* local part of 64 is fine, 65 is not */
	memset(in, 'a', 64);
	strcpy(in + 64, "@example.org");
	assert_int_equal(pn_addr_normalise(in, out, sizeof(out), &err), 0);
	memset(in, 'a', 65);
	strcpy(in + 65, "@example.org");
	assert_int_equal(pn_addr_normalise(in, out, sizeof(out), &err), -1);
	assert_non_null(strstr(err, "local part longer than 64"));

	/* label of 63 is fine, 64 is not */
	strcpy(in, "a@");
	memset(in + 2, 'b', 63);
	strcpy(in + 65, ".org");
	assert_int_equal(pn_addr_normalise(in, out, sizeof(out), &err), 0);
	memset(in + 2, 'b', 64);
	strcpy(in + 66, ".org");
	assert_int_equal(pn_addr_normalise(in, out, sizeof(out), &err), -1);
	assert_non_null(strstr(err, "label longer than 63"));

	/* whole address: 254 is fine, 255 is not: 60 + 1 + 63.63.63.x */
	char *q = in;
	memset(q, 'l', 60), q += 60;
	*q++ = '@';
	for (int i = 0; i < 3; i++) {
		memset(q, 'd', 63), q += 63;
		*q++ = '.';
	}
	*q++ = 'x';
	*q = '\0';
	assert_int_equal(strlen(in), 254);
	assert_int_equal(pn_addr_normalise(in, out, sizeof(out), &err), 0);
	assert_int_equal(strlen(out), 254);
	memmove(in + 1, in, strlen(in) + 1);     /* one more in the local part */
	assert_int_equal(pn_addr_normalise(in, out, sizeof(out), &err), -1);
	assert_non_null(strstr(err, "longer than 254"));

	/* enormous input is refused without reading it all */
	memset(in, ' ', sizeof(in) - 1);
	in[sizeof(in) - 1] = '\0';
	assert_int_equal(pn_addr_normalise(in, out, sizeof(out), &err), -1);

	/* small output buffer, NULL input */
	assert_int_equal(pn_addr_normalise("user@example.org", out, 5, &err), -1);
	assert_non_null(strstr(err, "buffer"));
	assert_int_equal(pn_addr_normalise(NULL, out, sizeof(out), &err), -1);
	assert_int_equal(pn_addr_normalise(NULL, out, sizeof(out), NULL), -1);
}

/* test_idempotent - normalising a normalised address changes nothing */
static void test_idempotent(void **state)
{
	char once[PN_ADDR_MAX + 1], twice[PN_ADDR_MAX + 1];
	(void)state;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(pn_addr_normalise(good[i].in, once, sizeof(once), NULL), 0);
		assert_int_equal(pn_addr_normalise(once, twice, sizeof(twice), NULL), 0);
		assert_string_equal(once, twice);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_idempotent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
