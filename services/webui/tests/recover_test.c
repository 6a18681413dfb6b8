/*
 * recover_test.c - the pure parts of web_recover.c: the recovery code's
 * form (28 symbols of Crockford's base32, seven groups of four), what
 * typing is forgiven, and its two derivations, pinned with vectors
 * computed independently (Python's hashlib.blake2b) from the construction
 * in docs/security.md: a change would orphan every stored recovery copy.
 * And the notice to the sender, in each language, taken apart with GMime.
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

#include "../web_cfg.h"
#include "../web_frame.h"
#include "../web_recover.h"
#include "../web_util.h"
#include "../../../tests/support/support.h"

static const char CODE[] = "0123456789ABCDEFGHJKMNPQRSTV";

static void test_new_codes(void **state)
{
	char a[WEB_CODE_TEXT], b[WEB_CODE_TEXT], n[WEB_CODE_TEXT];
	(void)state;

	web_recovery_new(a);
	web_recovery_new(b);
	assert_int_equal(strlen(a), WEB_CODE_CHARS);
	assert_int_equal(strspn(a, "0123456789ABCDEFGHJKMNPQRSTVWXYZ"), WEB_CODE_CHARS);
	assert_string_not_equal(a, b);
	assert_int_equal(web_recovery_norm(a, n), 0);      /* its own form is accepted */
	assert_string_equal(a, n);
}

static void test_typing_forgiven(void **state)
{
	char n[WEB_CODE_TEXT], g[WEB_CODE_GROUPED];
	(void)state;

	web_recovery_grouped(CODE, g);
	assert_string_equal(g, "0123-4567-89AB-CDEF-GHJK-MNPQ-RSTV");
	assert_int_equal(web_recovery_norm(g, n), 0);
	assert_string_equal(n, CODE);
	assert_int_equal(web_recovery_norm("o123 4567 89ab cdef ghjk mnpq rstv", n), 0);
	assert_string_equal(n, CODE);
	assert_int_equal(web_recovery_norm("0i23-4567-89AB-CDEF-GHJK-MNPQ-RSTV", n), 0);
	assert_string_equal(n, "0123456789ABCDEFGHJKMNPQRSTV");
	assert_int_equal(web_recovery_norm("0L23-4567-89AB-CDEF-GHJK-MNPQ-RSTV", n), 0);
	/* not a code: a letter outside the alphabet, too short, too long, other characters */
	assert_int_equal(web_recovery_norm("U123-4567-89AB-CDEF-GHJK-MNPQ-RSTV", n), -1);
	assert_int_equal(web_recovery_norm("0123-4567-89AB-CDEF-GHJK-MNPQ-RST", n), -1);
	assert_int_equal(web_recovery_norm("0123-4567-89AB-CDEF-GHJK-MNPQ-RSTVW", n), -1);
	assert_int_equal(web_recovery_norm("0123+4567-89AB-CDEF-GHJK-MNPQ-RSTV", n), -1);
	assert_int_equal(web_recovery_norm("", n), -1);
	assert_int_equal(web_recovery_norm(NULL, n), -1);
}

static void test_derivation_vectors(void **state)
{
	uint8_t v[32];
	char hex[65], pass[WEB_PASS_TEXT];
	(void)state;

	web_recovery_verifier(CODE, "bob@example.net", v);
	web_hex(hex, v, sizeof(v));
	assert_string_equal(hex, "5da6f7cc6bd2db06a8f7f88afa56b76834710ac01b25a925f420777c5eca0679");
	web_recovery_pass(CODE, pass);
	assert_string_equal(pass, "EhTE1sMR7cHYjDUVM0To_cHQA2lzWBtQSkrciAgg0DA");
	/* bound to the address */
	web_recovery_verifier(CODE, "eve@example.net", v);
	web_hex(hex, v, sizeof(v));
	assert_string_not_equal(hex, "5da6f7cc6bd2db06a8f7f88afa56b76834710ac01b25a925f420777c5eca0679");
}

static void test_page_shows_code(void **state)
{
	web_page p = { .title = "Your recovery code", .expires_days = -1 };
	web_buf b;
	(void)state;

	web_buf_init(&b);
	web_recovery_code_html(&b, &p, "0123-4567-89AB-CDEF-GHJK-MNPQ-RSTV");
	assert_non_null(strstr(b.data, "<code>0123-4567-89AB-CDEF-GHJK-MNPQ-RSTV</code>"));
	assert_non_null(strstr(b.data, "href=\"/inbox\""));
	web_buf_free(&b);
	web_buf_init(&b);
	web_recover_html(&b, &p, "tok", "a\"<b>@example.net", "<bad>");
	assert_null(strstr(b.data, "a\"<b>"));          /* escaped */
	assert_null(strstr(b.data, "<bad>"));
	assert_non_null(strstr(b.data, "action=\"/recover\""));
	web_buf_free(&b);
}

/* the notice to the sender: the mailbox's language, its date at the organisation's zone */
static void test_notice(void **state)
{
	static const struct { const char *locale, *lang, *subject, *said, *when; } cases[] = {
		{ "en", "en", "Temporary mailbox of bob@example.net recovered",
		  "has used its recovery code", "3 December 2026, 15:05 UTC+01:00" },
		{ "de", "de", "Temporäres Postfach von bob@example.net wiederhergestellt",
		  "hat seinen Wiederherstellungscode benutzt", "3. Dezember 2026, 15:05 Uhr UTC+01:00" },
		{ "fr-CA", "fr", "Boîte temporaire de bob@example.net récupérée",
		  "a utilisé son code de récupération", "3 décembre 2026 à 15:05 UTC+01:00" },
		{ "de\r\nBcc: eve@example.net", "en", "Temporary mailbox of bob@example.net recovered",
		  "has used its recovery code", "3 December 2026, 15:05 UTC+01:00" },
	};
	(void)state;

	web_cfg.invite_from = (char *)"Example Corp <postern@example.com>";
	web_cfg.brand.utc_offset = 60;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		Postern__V1__Mailbox mb = POSTERN__V1__MAILBOX__INIT;
		const char *why;
		size_t len = 0;
		uint8_t *data;
		ts_mail m;

		mb.address = "bob@example.net";
		mb.created_by = "alice@example.org";
		mb.locale = (char *)cases[i].locale;
		assert_non_null(data = web_recover_notice(&mb, 1796306700, &len));
		assert_non_null(memmem(data, len, "To: alice@example.org\r\n", 23));
		assert_null(memmem(data, len, "eve@", 4));
		assert_int_equal(ts_mail_parse(data, len, &m), 0);
		free(data);
		if ((why = ts_mail_check(&m, cases[i].lang)) != NULL)
			fail_msg("%s: %s", cases[i].locale, why);
		assert_string_equal(m.subject, cases[i].subject);
		assert_non_null(strstr(m.text, cases[i].said));
		assert_non_null(strstr(m.text, cases[i].when));
		assert_non_null(strstr(m.html, cases[i].when));
		assert_non_null(strstr(m.text, "Example Corp"));
		assert_true(m.has_logo_cid);
		ts_mail_free(&m);
	}
	web_cfg.brand.utc_offset = 0;
}

static int setup(void **state)
{
	pn_tmpl_kind kinds[8];
	size_t n = 0;
	char err[512];

	(void)state;
	for (size_t i = 0; i < web_frame_n_kinds; i++)
		kinds[n++] = web_frame_kinds[i];
	kinds[n++] = web_recover_kind;
	/* tests run in the repository's top directory (tests/run) */
	if (ts_brand(&web_cfg.brand, kinds, n, NULL, "share/postern/logo.png", err,
	    sizeof(err)) < 0) {
		fprintf(stderr, "brand: %s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ts_brand_free(&web_cfg.brand);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_codes),
		cmocka_unit_test(test_typing_forgiven),
		cmocka_unit_test(test_derivation_vectors),
		cmocka_unit_test(test_page_shows_code),
		cmocka_unit_test(test_notice),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
