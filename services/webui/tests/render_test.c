/*
 * render_test.c - the pages' markup, rendered without a server: the
 * activation and login forms, a folder page's rows, the read view and
 * the reply form. Everything that came from outside is escaped, the
 * forms carry their token, and the links point where the route table
 * expects them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../web_activate.h"
#include "../web_cfg.h"
#include "../web_compose.h"
#include "../web_folder.h"
#include "../web_html.h"
#include "../web_login.h"
#include "../web_mail.h"
#include "../web_read.h"
#include "../web_reply.h"
#include "../web_text.h"
#include "../web_util.h"
#include "../web_frame.h"
#include "../../../tests/support/support.h"

#define EVIL "<script>x</script>"
#define EVIL_ESC "&lt;script&gt;x&lt;/script&gt;"

static int setup(void **state)
{
	(void)state;
	web_cfg.inactivity_days = 90;
	web_cfg.password_min = 10;
	web_cfg.password_max = 128;
	web_cfg.reply_max_attach = 10485760;
	{
		char err[512];
		if (ts_brand(&web_cfg.brand, web_frame_kinds, web_frame_n_kinds, NULL, NULL, err,
		    sizeof(err)) < 0) {
			fprintf(stderr, "brand: %s\n", err);
			return -1;
		}
	}
	web_text_init(web_cfg.brand.product);
	return 0;
}

/* has - b holds s */
static void has(const web_buf *b, const char *s)
{
	if (!strstr(b->data, s))
		fail_msg("missing: %s", s);
}

/* lacks - b does not hold s */
static void lacks(const web_buf *b, const char *s)
{
	if (strstr(b->data, s))
		fail_msg("unexpected: %s", s);
}

/* whole - a page from doctype to </html> */
static void whole(const web_buf *b)
{
	assert_int_equal(strncmp(b->data, "<!doctype html>\n", 16), 0);
	assert_non_null(strstr(b->data, "</html>\n"));
	lacks(b, "<script>");
}

static void test_pin(void **state)
{
	web_page p = { .title = TXT->pin_title, .address = "guest@example.org",
		.expires_days = -1 };
	web_buf b;
	(void)state;

	web_buf_init(&b);
	web_pin_html(&b, &p, "TOKEN", NULL);
	whole(&b);
	has(&b, "<form method=\"post\" action=\"/activate/pin\">");
	has(&b, "<input type=\"hidden\" name=\"csrf\" value=\"TOKEN\">");
	lacks(&b, "aria-invalid");
	lacks(&b, "role=\"alert\"");
	web_buf_free(&b);

	web_buf_init(&b);
	web_pin_html(&b, &p, "TOKEN", EVIL);
	whole(&b);
	has(&b, "<p class=\"alert\" role=\"alert\">" EVIL_ESC "</p>");
	has(&b, " aria-invalid=\"true\"");
	web_buf_free(&b);
}

static void test_password(void **state)
{
	web_page p = { .title = TXT->pw_title, .expires_days = -1 };
	web_buf b;
	(void)state;

	web_buf_init(&b);
	web_password_html(&b, &p, "TOKEN", "a\"<b>@example.org", NULL);
	whole(&b);
	has(&b, "action=\"/activate/password\"");
	has(&b, "value=\"a&quot;&lt;b&gt;@example.org\"");
	has(&b, "minlength=\"10\" maxlength=\"128\"");
	has(&b, "name=\"confirm\"");
	has(&b, "<p class=\"warn\" role=\"alert\">");
	lacks(&b, "<p class=\"alert\"");
	web_buf_free(&b);
}

static void test_login(void **state)
{
	web_page p = { .title = TXT->login_title, .expires_days = -1 };
	web_buf b;
	(void)state;

	web_buf_init(&b);
	web_login_html(&b, &p, "TOKEN", NULL, NULL, NULL);
	whole(&b);
	has(&b, "<form method=\"post\" action=\"/login\">");
	has(&b, "name=\"csrf\" value=\"TOKEN\"");
	has(&b, "maxlength=\"254\" required autofocus value=\"\"");
	lacks(&b, "role=\"alert\"");
	web_buf_free(&b);

	web_buf_init(&b);
	web_login_html(&b, &p, "TOKEN", TXT->logged_out, "ok", EVIL);
	has(&b, "<p class=\"ok\" role=\"alert\">");
	has(&b, "required value=\"" EVIL_ESC "\"");
	has(&b, "maxlength=\"128\" required autofocus>");
	web_buf_free(&b);
}

static void test_folder_rows(void **state)
{
	Postern__V1__MessageSummary s0 = POSTERN__V1__MESSAGE_SUMMARY__INIT;
	Postern__V1__MessageSummary s1 = POSTERN__V1__MESSAGE_SUMMARY__INIT;
	Postern__V1__MessageSummary *rows[2] = { &s0, &s1 };
	Postern__V1__FolderPage pg = POSTERN__V1__FOLDER_PAGE__INIT;
	web_env env[2];
	web_buf b;
	(void)state;

	memset(env, 0, sizeof(env));
	s0.id = 41;
	s0.received_at = 1751536800;        /* 3 Jul 2025, 10:00 UTC */
	s0.size = 2048;
	s1.id = 42;
	s1.seen = 1;
	s1.has_attachments = 1;
	snprintf(env[0].from, sizeof(env[0].from), "\"Ann Smith\" <ann@example.org>");
	snprintf(env[0].subject, sizeof(env[0].subject), "%s", EVIL);
	snprintf(env[1].from, sizeof(env[1].from), "Bob <bob@example.org>");
	snprintf(env[1].to, sizeof(env[1].to), "carol@example.org");
	pg.messages = rows;
	pg.n_messages = 2;
	pg.total = 27;             /* rows 26 and 27: the last page */

	web_buf_init(&b);
	web_folder_rows_html(&b, &pg, env, 0, 1, 25);
	lacks(&b, "<script>");
	has(&b, "<a class=\"msg unread\" href=\"/msg/41\">");
	has(&b, "<a class=\"msg\" href=\"/msg/42\">");
	has(&b, "<span class=\"from\">Ann Smith</span>");
	has(&b, "<span class=\"from\">Bob</span>");
	lacks(&b, "example.org</span>");
	has(&b, "<span class=\"subject\">" EVIL_ESC "</span>");
	has(&b, "3 July 2025, 10:00 UTC+00:00 \xc2\xb7 2 KB");
	has(&b, "<span class=\"clip\"");
	has(&b, "href=\"/inbox?page=0\"");
	lacks(&b, "href=\"/inbox?page=2\"");
	lacks(&b, "carol@example.org");
	web_buf_free(&b);

	/* Sent: whom it went to, nothing unread, the next page */
	s0.seen = 0;
	web_buf_init(&b);
	web_folder_rows_html(&b, &pg, env, 1, 0, 0);
	lacks(&b, "unread");
	has(&b, "carol@example.org");
	has(&b, "href=\"/sent?page=1\"");
	web_buf_free(&b);

	/* empty */
	pg.n_messages = 0;
	pg.total = 0;
	web_buf_init(&b);
	web_folder_rows_html(&b, &pg, env, 0, 0, 0);
	has(&b, "<p class=\"empty\">");
	lacks(&b, "<ul");
	lacks(&b, "pager");
	web_buf_free(&b);
}

static void test_read(void **state)
{
	web_att att[2] = {
		{ .filename = "r\xc3\xa9sum\xc3\xa9 <1>.pdf", .type = "application/pdf",
			.data = (uint8_t *)"%PDF", .len = 4 },
		{ .filename = "image-2.png", .type = "image/png", .data = (uint8_t *)"\x89PNG", .len = 4 },
	};
	unsigned char used[2] = { 0, 1 };
	web_read_view v = { .inline_used = used, .frame_height = 123, .n_remote = 2,
		.remote_allowed = 1 };
	web_mail m;
	web_buf b;
	(void)state;

	memset(&m, 0, sizeof(m));
	m.from = "Ann <ann@example.org>";
	m.to = "guest@example.org";
	m.cc = "";
	m.subject = EVIL;
	m.date = "Thu, 3 Jul 2025 10:00:00 +0000";
	m.date_unix = 1751536800;
	m.text = "<b>hello</b>";
	m.html = "<p>hello</p>";
	m.att = att;
	m.n_att = 2;

	/* an HTML mail: the HTML alone, the switch to the text, the remote-image action */
	web_buf_init(&b);
	web_read_html(&b, 7, &m, &v);
	lacks(&b, "<script>");
	lacks(&b, "<b>hello");
	lacks(&b, "<p>hello");
	lacks(&b, "<pre class=\"body\">");          /* never both versions */
	has(&b, "<a class=\"back\" href=\"/inbox\">");
	has(&b, "<h1>" EVIL_ESC "</h1>");
	has(&b, "Ann &lt;ann@example.org&gt;");
	has(&b, "<dd>3 July 2025, 10:00 UTC+00:00</dd>");   /* the Date in the page's language */
	lacks(&b, "Thu, 3 Jul 2025");
	lacks(&b, "<dt>Cc</dt>");
	has(&b, "<h2>1 attachment</h2>");                /* one listed, one shown inline */
	has(&b, "<a href=\"/msg/7/att/0\" download>");
	has(&b, "r\xc3\xa9sum\xc3\xa9 &lt;1&gt;.pdf");
	lacks(&b, "/msg/7/att/1");                     /* shown inline: not listed again */
	has(&b, "href=\"/msg/7?text=1\"");
	has(&b, "href=\"/msg/7?images=1\"");
	has(&b, "<iframe class=\"html-frame\" sandbox=\"allow-top-navigation-by-user-activation\" "
	    "referrerpolicy=\"no-referrer\"");
	has(&b, "height=\"123\" src=\"/msg/7/html\"></iframe>");
	assert_int_equal(strncmp(b.data, "<a class=\"back\"", 15), 0);
	web_buf_free(&b);

	/* asked for the images: the frame gets them, the action is gone */
	v.images = 1;
	web_buf_init(&b);
	web_read_html(&b, 7, &m, &v);
	has(&b, "src=\"/msg/7/html?images=1\"");
	lacks(&b, "href=\"/msg/7?images=1\"");
	web_buf_free(&b);

	/* the text version: text alone, the way back to the formatted one, every file listed */
	v.images = 0;
	v.text_only = 1;
	v.inline_used = NULL;
	web_buf_init(&b);
	web_read_html(&b, 7, &m, &v);
	has(&b, "<pre class=\"body\">&lt;b&gt;hello&lt;/b&gt;</pre>");
	has(&b, "href=\"/msg/7\"");
	has(&b, "/msg/7/att/1");
	has(&b, "<h2>2 attachments</h2>");
	lacks(&b, "iframe");
	web_buf_free(&b);

	/* Sent, no text, no HTML */
	memset(&v, 0, sizeof(v));
	v.sent = 1;
	m.text = "";
	m.html = NULL;
	m.n_att = 0;
	web_buf_init(&b);
	web_read_html(&b, 7, &m, &v);
	has(&b, "href=\"/sent\"");
	has(&b, "<p class=\"empty\">");
	lacks(&b, "iframe");
	lacks(&b, "atts");
	web_buf_free(&b);
}

/* the Date of a message: the reader's language and zone; as written when it does not parse */
static void test_read_date(void **state)
{
	web_read_view v = { .text_only = 1 };
	web_mail m;
	web_buf b;
	char *body;
	(void)state;

	memset(&m, 0, sizeof(m));
	m.from = "Ann <ann@example.org>";
	m.to = m.cc = m.subject = "";
	m.date = "Thu, 3 Jul 2025 10:00:00 +0000";
	m.date_unix = 1751536800;
	m.text = "hello";
	web_text_use("de");
	web_buf_init(&b);
	web_read_html(&b, 7, &m, &v);
	has(&b, "<dt>Datum</dt><dd>3. Juli 2025, 10:00 Uhr UTC+00:00</dd>");
	web_buf_free(&b);
	/* the reply's attribution says it the same way */
	body = web_compose_body("Danke", &m);
	assert_non_null(strstr(body, "Am 3. Juli 2025, 10:00 Uhr UTC+00:00 schrieb Ann <ann@example.org>:"));
	free(body);
	web_text_use("fr");
	web_buf_init(&b);
	web_read_html(&b, 7, &m, &v);
	has(&b, "<dd>3 juillet 2025 à 10:00 UTC+00:00</dd>");
	web_buf_free(&b);
	/* not a date: shown as written, escaped */
	m.date = "<b>yesterday</b>";
	m.date_unix = 0;
	web_buf_init(&b);
	web_read_html(&b, 7, &m, &v);
	has(&b, "<dd>&lt;b&gt;yesterday&lt;/b&gt;</dd>");
	web_buf_free(&b);
	web_text_use(NULL);
}

static void test_reply_form(void **state)
{
	char *from[] = { "ann@example.org" }, *cc[] = { "guest@example.org", "carol@example.org" };
	char *self_only[] = { "guest@example.org" };
	web_mail m;
	web_buf b;
	(void)state;

	memset(&m, 0, sizeof(m));
	m.from_list = from;
	m.n_from = 1;
	m.cc_list = cc;
	m.n_cc = 2;

	web_buf_init(&b);
	web_reply_form_html(&b, "TOKEN", "NONCE-0123456789", 9, &m, "guest@example.org");
	has(&b, "<form method=\"post\" action=\"/msg/9/reply\" enctype=\"multipart/form-data\">");
	has(&b, "name=\"csrf\" value=\"TOKEN\"");
	has(&b, "<input type=\"hidden\" name=\"nonce\" value=\"NONCE-0123456789\">");
	has(&b, "<strong>ann@example.org</strong>");
	has(&b, "ann@example.org, carol@example.org");
	has(&b, "name=\"mode\" value=\"one\"");
	has(&b, "name=\"mode\" value=\"all\"");
	has(&b, "type=\"file\" id=\"reply-files\" name=\"attachment\" multiple");
	lacks(&b, "guest@example.org");
	web_buf_free(&b);

	/* attachments switched off: no file input */
	web_cfg.reply_max_attach = 0;
	web_buf_init(&b);
	web_reply_form_html(&b, "TOKEN", "NONCE-0123456789", 9, &m, "guest@example.org");
	lacks(&b, "type=\"file\"");
	web_buf_free(&b);
	web_cfg.reply_max_attach = 10485760;

	/* only oneself to answer: no form */
	m.from_list = self_only;
	m.n_cc = 0;
	web_buf_init(&b);
	web_reply_form_html(&b, "TOKEN", "NONCE-0123456789", 9, &m, "guest@example.org");
	assert_int_equal(b.len, 0);
	web_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pin),
		cmocka_unit_test(test_password),
		cmocka_unit_test(test_login),
		cmocka_unit_test(test_folder_rows),
		cmocka_unit_test(test_read),
		cmocka_unit_test(test_read_date),
		cmocka_unit_test(test_reply_form),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
