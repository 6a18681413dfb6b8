/*
 * html_test.c - the page frame (web_html.c: no
 * inline script or style, the mailbox shown, escaped), text templates,
 * and taking a mail apart (web_mail.c) including hostile content: names
 * for unnamed files, Content-IDs, bidi controls, misleading senders.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../web_cfg.h"
#include "../web_html.h"
#include "../web_read.h"
#include "../web_mail.h"
#include "../web_util.h"
#include "postern/mem.h"
#include "../web_frame.h"
#include "../web_text.h"
#include "../../../tests/support/support.h"

static void test_tfmt(void **state)
{
	char out[64];
	(void)state;

	web_tfmt(out, sizeof(out), "{2} then {1}, {3}{9}", "a", "b", NULL);
	assert_string_equal(out, "b then a, {9}");
	web_tfmtl(out, sizeof(out), "{1} tries left", 4, 0, 0);
	assert_string_equal(out, "4 tries left");
	web_tfmt(out, 6, "{1}", "0123456789", NULL, NULL);
	assert_string_equal(out, "01234");
}

/* counts: the catalogue's plural form for the number, in each language */
static void test_plurals(void **state)
{
	static const struct { const char *lang; unsigned long n; web_count which; const char *want; } cases[] = {
		{ "en", 1, WEB_N_PIN_WRONG, "That PIN is not right. 1 try left." },
		{ "en", 2, WEB_N_PIN_WRONG, "That PIN is not right. 2 tries left." },
		{ "en", 0, WEB_N_PIN_WRONG, "That PIN is not right. 0 tries left." },
		{ "de", 1, WEB_N_PIN_WRONG, "Diese PIN ist nicht richtig. Noch 1 Versuch." },
		{ "de", 4, WEB_N_PIN_WRONG, "Diese PIN ist nicht richtig. Noch 4 Versuche." },
		{ "de", 0, WEB_N_PIN_WRONG, "Diese PIN ist nicht richtig. Noch 0 Versuche." },
		/* French counts 0 and 1 as singular */
		{ "fr", 0, WEB_N_PIN_WRONG, "Ce code PIN n’est pas correct. Encore 0 essai." },
		{ "fr", 1, WEB_N_PIN_WRONG, "Ce code PIN n’est pas correct. Encore 1 essai." },
		{ "fr", 3, WEB_N_PIN_WRONG, "Ce code PIN n’est pas correct. Encore 3 essais." },
		{ "en", 1, WEB_N_ATTACHMENTS, "1 attachment" },
		{ "de", 1, WEB_N_ATTACHMENTS, "1 Anhang" },
		{ "de", 2, WEB_N_ATTACHMENTS, "2 Anhänge" },
		{ "fr", 2, WEB_N_ATTACHMENTS, "2 pièces jointes" },
		{ "en", 1, WEB_N_PW_TOO_SHORT, "The password is too short: use at least 1 character." },
		{ "fr", 12, WEB_N_PW_TOO_SHORT, "Le mot de passe est trop court : au moins 12 caractères." },
	};
	char out[256];
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		web_text_use(cases[i].lang);
		web_tfmtl(out, sizeof(out), web_textn(cases[i].which, cases[i].n), (long)cases[i].n,
		    0, 0);
		assert_string_equal(out, cases[i].want);
	}
	/* a folder page counts its messages */
	web_text_use("de");
	web_tfmtl(out, sizeof(out), web_textn(WEB_N_PAGE_OF, 1), 1, 1, 1);
	assert_string_equal(out, "1-1 von 1 Nachricht");
	web_tfmtl(out, sizeof(out), web_textn(WEB_N_PAGE_OF, 30), 1, 25, 30);
	assert_string_equal(out, "1-25 von 30 Nachrichten");
	web_text_use(NULL);
}

/* setup - the frame's templates and the page texts, as the web UI loads them */
static int setup(void **state)
{
	char err[512];

	(void)state;
	if (ts_brand(&web_cfg.brand, web_frame_kinds, web_frame_n_kinds, NULL,
	    "share/postern/logo.png", err, sizeof(err)) < 0) {
		fprintf(stderr, "brand: %s\n", err);
		return -1;
	}
	web_text_init(web_cfg.brand.product);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ts_brand_free(&web_cfg.brand);
	return 0;
}

/* the frame in German: lang, texts, the switch links, a German date, the brand */
static void test_frame_german(void **state)
{
	web_page p = { .title = "T", .address = "a@example.org", .csrf = "tok",
		.nav = "inbox", .expires_days = 1 };
	web_buf b;
	char s[64];
	(void)state;

	web_cfg.inactivity_days = 90;
	web_text_use("de");
	web_buf_init(&b);
	web_html_begin(&b, &p);
	web_html_end(&b, &p);
	assert_non_null(strstr(b.data, "<html lang=\"de\">"));
	assert_non_null(strstr(b.data, "Posteingang"));
	assert_non_null(strstr(b.data, "Abmelden"));
	assert_non_null(strstr(b.data, "nach 90 Tagen ohne Nutzung"));
	assert_non_null(strstr(b.data, "in 1 Tag gelöscht"));
	/* the switch: plain links to the other languages, this one marked */
	assert_non_null(strstr(b.data, "<nav class=\"langs\" aria-label=\"Sprache\">"));
	assert_non_null(strstr(b.data, "<a href=\"/lang/en"));
	assert_non_null(strstr(b.data, "<a href=\"/lang/fr"));
	assert_null(strstr(b.data, "<a href=\"/lang/de"));
	/* the brand: logo and colour from this site, links in the footer */
	assert_non_null(strstr(b.data, "<img class=\"logo\" src=\"/static/logo\""));
	assert_non_null(strstr(b.data, "href=\"/static/brand.css\""));
	assert_non_null(strstr(b.data, "href=\"https://example.com/imprint\">Impressum</a>"));
	assert_null(strstr(b.data, "<script"));
	assert_null(strstr(b.data, "style="));
	web_buf_free(&b);
	web_html_date(s, sizeof(s), 1751364000);
	assert_string_equal(s, "1. Juli 2025, 10:00 Uhr UTC+00:00");
	web_text_use(NULL);
}

static void test_frame(void **state)
{
	web_page p = { .title = "T<i>", .address = "x\"<b>@example.org", .csrf = "tok",
		.nav = "inbox", .expires_days = 12 };
	web_buf b;
	char s[32];
	(void)state;

	web_cfg.inactivity_days = 90;
	web_buf_init(&b);
	web_html_begin(&b, &p);
	web_buf_puts(&b, "<p>body</p>");
	web_html_end(&b, &p);
	assert_non_null(strstr(b.data, "<html lang=\"en\">"));
	assert_non_null(strstr(b.data, "T&lt;i&gt;"));
	assert_non_null(strstr(b.data, "x&quot;&lt;b&gt;@example.org"));
	assert_null(strstr(b.data, "<b>"));
	assert_null(strstr(b.data, "<script"));
	assert_null(strstr(b.data, "style="));
	assert_null(strstr(b.data, "<style"));
	assert_non_null(strstr(b.data, "action=\"/logout\""));
	assert_non_null(strstr(b.data, "name=\"csrf\" value=\"tok\""));
	assert_non_null(strstr(b.data, "aria-current=\"page\""));
	assert_non_null(strstr(b.data, "after 90 days"));
	assert_non_null(strstr(b.data, "Deleted in 12 days"));
	web_buf_free(&b);

	for (int st = 400; st <= 503; st++) {
		web_buf_init(&b);
		web_html_error(&b, st);
		assert_non_null(strstr(b.data, "</html>"));
		web_buf_free(&b);
	}
	web_html_size(s, sizeof(s), 512);
	assert_string_equal(s, "512 B");
	web_html_size(s, sizeof(s), 2048);
	assert_string_equal(s, "2 KB");
	web_html_size(s, sizeof(s), 3 * 1024 * 1024);
	assert_string_equal(s, "3.0 MB");
	web_html_date(s, sizeof(s), 1751364000);
	assert_string_equal(s, "1 July 2025, 10:00 UTC+00:00");
	web_html_date(s, sizeof(s), 0);
	assert_string_equal(s, "-");
}

static const char MAIL[] =
	"From: \"Alice <Sender>\" <alice@example.org>\r\n"
	"To: bob@example.net\r\n"
	"Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe_<script>?=\r\n"
	"Date: Tue, 01 Jul 2025 10:00:00 +0000\r\n"
	"Message-ID: <m1@example.org>\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
	"\r\n"
	"--b1\r\n"
	"Content-Type: multipart/alternative; boundary=\"b2\"\r\n"
	"\r\n"
	"--b2\r\n"
	"Content-Type: text/plain; charset=iso-8859-1\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n"
	"\r\n"
	"Hallo Bob, sch=F6ne Gr=FC=DFe.\r\n"
	"--b2\r\n"
	"Content-Type: text/html; charset=utf-8\r\n"
	"\r\n"
	"<p onclick=\"x()\">Hi<script>alert(1)</script></p>\r\n"
	"--b2--\r\n"
	"--b1\r\n"
	"Content-Type: application/pdf\r\n"
	"Content-Disposition: attachment; filename=\"../../etc/re\\\"port.pdf\"\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"JVBERi0xLjQK\r\n"
	"--b1\r\n"
	"Content-Type: text/plain\r\n"
	"Content-Disposition: attachment\r\n"
	"\r\n"
	"notes\r\n"
	"--b1--\r\n";

static void test_mail(void **state)
{
	web_mail m;
	(void)state;

	assert_int_equal(web_mail_parse(MAIL, sizeof(MAIL) - 1, &m), 0);
	assert_non_null(strstr(m.from, "alice@example.org"));
	assert_string_equal(m.from_addr, "alice@example.org");
	assert_string_equal(m.subject, "Gr\xc3\xbc\xc3\x9f" "e <script>");
	assert_non_null(strstr(m.text, "sch\xc3\xb6ne Gr\xc3\xbc\xc3\x9f" "e"));
	assert_non_null(m.html);
	assert_non_null(strstr(m.html, "<script>"));      /* kept: served sandboxed only */
	assert_int_equal(m.n_att, 2);
	assert_string_equal(m.att[0].filename, "report.pdf");
	assert_string_equal(m.att[0].type, "application/pdf");
	assert_int_equal(m.att[0].len, 9);
	assert_memory_equal(m.att[0].data, "%PDF-1.4\n", 9);
	assert_string_equal(m.att[1].filename, "text-2.txt");     /* named by its type */
	web_mail_free(&m);

	/* garbage still parses as something, never crashes */
	assert_true(web_mail_parse("\x00\x01garbage", 9, &m) <= 0);
	web_mail_free(&m);
}

static void test_envelope(void **state)
{
	static const char env[] = "From: Jane <jane@example.org>\nTo: bob@example.net\nCc:\n"
	    "Subject: Quarterly report\nDate: Tue, 01 Jul 2025 10:00:00 +0000\nAttachments: yes\n";
	web_env e;
	(void)state;

	web_env_parse(env, sizeof(env) - 1, &e);
	assert_string_equal(e.from, "Jane <jane@example.org>");
	assert_string_equal(e.to, "bob@example.net");
	assert_string_equal(e.subject, "Quarterly report");
	assert_string_equal(e.date, "Tue, 01 Jul 2025 10:00:00 +0000");
	assert_true(e.attachments);
	web_env_parse("Attachments: no\n", 16, &e);
	assert_false(e.attachments);
	assert_string_equal(e.from, "");
}

/* an HTML mail with a cid: logo (inline), an unnamed image and a right-to-left override */
static const char CID_MAIL[] =
	"From: \"security@bank.example\" <x@evil.example>\r\n"
	"To: bob@example.net\r\n"
	"Subject: Invoice \xe2\x80\xaetxt.exe\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/related; boundary=\"r\"\r\n"
	"\r\n"
	"--r\r\n"
	"Content-Type: text/html; charset=utf-8\r\n"
	"\r\n"
	"<p><img src=\"cid:logo@x\"></p>\r\n"
	"--r\r\n"
	"Content-Type: image/png\r\n"
	"Content-ID: <logo@x>\r\n"
	"Content-Disposition: inline\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"iVBORw0KGgo=\r\n"
	"--r--\r\n";

static void test_cid_and_bidi(void **state)
{
	web_mail m;
	(void)state;

	assert_int_equal(web_mail_parse(CID_MAIL, sizeof(CID_MAIL) - 1, &m), 0);
	assert_string_equal(m.subject, "Invoice txt.exe");          /* U+202E gone */
	assert_int_equal(m.n_att, 1);
	assert_string_equal(m.att[0].content_id, "logo@x");
	assert_true(m.att[0].inline_disp);
	assert_string_equal(m.att[0].filename, "image-1.png");
	web_mail_free(&m);
}

static void test_misleading(void **state)
{
	char name[64], addr[64], made[64];
	web_env e;
	(void)state;

	web_from_split("\"security@bank.example\" <x@evil.example>", name, sizeof(name), addr,
	    sizeof(addr));
	assert_string_equal(name, "security@bank.example");
	assert_string_equal(addr, "x@evil.example");
	assert_true(web_from_misleading(name, addr));
	assert_true(web_from_misleading("Bank.example Support", "x@evil.example"));
	assert_false(web_from_misleading("Bank.example Support", "news@mail.bank.example"));
	assert_false(web_from_misleading("Jane Doe", "jane@example.org"));
	assert_false(web_from_misleading("Dr. J.R. Smith", "js@example.org"));
	web_from_split("plain@example.org", name, sizeof(name), addr, sizeof(addr));
	assert_string_equal(name, "");
	assert_string_equal(addr, "plain@example.org");

	web_env_parse("From: A \xe2\x80\xae" "B <a@x.example>\nSubject: \xe2\x81\xa6S\xd8\x9c\n", 43, &e);
	assert_string_equal(e.from, "A B <a@x.example>");
	assert_string_equal(e.subject, "S");

	web_mail_default_name(made, sizeof(made), "application/pdf", 0);
	assert_string_equal(made, "document-1.pdf");
	web_mail_default_name(made, sizeof(made), "application/x-unknown", 4);
	assert_string_equal(made, "attachment-5");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tfmt),
		cmocka_unit_test(test_plurals),
		cmocka_unit_test(test_frame),
		cmocka_unit_test(test_frame_german),
		cmocka_unit_test(test_mail),
		cmocka_unit_test(test_envelope),
		cmocka_unit_test(test_cid_and_bidi),
		cmocka_unit_test(test_misleading),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
