/*
 * kl_graduate_test.c - the graduation notice in every language, taken
 * apart with GMime: Content-Language and <html lang> of the mailbox's
 * language, a text and an HTML part from the same data, the fingerprint
 * and the login link in both, where the key was found, the organisation's
 * branding with the logo inline (cid:), nothing loaded from outside; a
 * hostile or missing mailbox language falls back to the default.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../kl.h"
#include "../../../tests/support/support.h"

#define FPR "0123456789ABCDEF0123456789ABCDEF01234567"
#define LOGIN "https://mail.example/login"

static pn_brand brand;

/* what each language says, so that a mail in the wrong one fails */
static const struct {
	const char *locale, *lang, *subject, *wkd, *vks;
} cases[] = {
	{ "en", "en", "Your mail now goes to your own OpenPGP key",
	  "was found in the Web Key Directory of your domain", "was found on the keyserver" },
	{ "de-CH", "de", "Ihre Post geht jetzt an Ihren eigenen OpenPGP-Schlüssel",
	  "wurde im Web Key Directory Ihrer Domain gefunden",
	  "wurde auf dem Schlüsselserver gefunden" },
	{ "fr", "fr", "Vos messages vont désormais à votre propre clé OpenPGP",
	  "a été trouvée dans le Web Key Directory de votre domaine",
	  "a été trouvée sur le serveur de clés" },
	{ "../../etc", "en", "Your mail now goes to your own OpenPGP key",
	  "was found in the Web Key Directory of your domain", "was found on the keyserver" },
	{ NULL, "en", "Your mail now goes to your own OpenPGP key",
	  "was found in the Web Key Directory of your domain", "was found on the keyserver" },
};

static const kl_notice notice = { .from = "Example Corp <postern@example.com>",
	.return_path = "", .public_url = "https://mail.example", .brand = &brand };

/* mail - the notice for bob in locale, from source, taken apart */
static void mail(const char *locale, const char *source, ts_mail *m)
{
	pn_pool *pool = pn_pool_new();
	char *raw = kl_graduate_mail(&notice, "bob@example.net", locale, FPR, source, pool);

	assert_non_null(raw);
	assert_non_null(strstr(raw, "To: bob@example.net\r\n"));
	assert_non_null(strstr(raw, "Auto-Submitted: auto-generated\r\n"));
	assert_int_equal(ts_mail_parse(raw, strlen(raw), m), 0);
	pn_pool_destroy(&pool);
}

static void test_every_language(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ts_mail m;
		const char *why;

		mail(cases[i].locale, "wkd", &m);
		if ((why = ts_mail_check(&m, cases[i].lang)) != NULL)
			fail_msg("%s: %s", cases[i].lang, why);
		assert_string_equal(m.subject, cases[i].subject);
		assert_non_null(strstr(m.text, cases[i].wkd));
		assert_non_null(strstr(m.html, cases[i].wkd));
		assert_null(strstr(m.text, cases[i].vks));
		/* the fingerprint to check, the login page for the old messages */
		assert_non_null(strstr(m.text, FPR));
		assert_non_null(strstr(m.html, FPR));
		assert_non_null(strstr(m.text, LOGIN));
		assert_non_null(strstr(m.html, "href=\"" LOGIN "\""));
		assert_non_null(strstr(m.text, "bob@example.net"));
		/* branded: the organisation, the footer links, the logo inline */
		assert_non_null(strstr(m.text, "Example Corp"));
		assert_non_null(strstr(m.html, "https://example.com/privacy"));
		assert_true(m.has_logo_cid);
		ts_mail_free(&m);

		mail(cases[i].locale, "vks", &m);
		assert_non_null(strstr(m.text, cases[i].vks));
		assert_null(strstr(m.text, cases[i].wkd));
		ts_mail_free(&m);
	}
}

/* an address with markup in it arrives as text in the HTML part */
static void test_escaped(void **state)
{
	pn_pool *pool = pn_pool_new();
	char *raw = kl_graduate_mail(&notice, "\"<b>x</b>\"@example.net", "de", FPR, "wkd", pool);
	ts_mail m;

	(void)state;
	assert_non_null(raw);
	assert_int_equal(ts_mail_parse(raw, strlen(raw), &m), 0);
	assert_non_null(m.html);
	assert_null(strstr(m.html, "<b>"));
	assert_non_null(strstr(m.html, "&lt;b&gt;"));
	ts_mail_free(&m);
	pn_pool_destroy(&pool);
}

static int up(void **state)
{
	char err[512];

	(void)state;
	/* tests run in the repository's top directory (tests/run) */
	if (ts_brand(&brand, kl_templates, kl_n_templates, NULL, "share/postern/logo.png", err,
	    sizeof(err)) < 0) {
		fprintf(stderr, "brand: %s\n", err);
		return -1;
	}
	return 0;
}

static int down(void **state)
{
	(void)state;
	ts_brand_free(&brand);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_language),
		cmocka_unit_test(test_escaped),
	};
	return cmocka_run_group_tests(tests, up, down);
}
