/*
 * render_test.c - provision's mails in every language (invitation,
 * re-issued invitation, notification, lock notice, sender notice), taken
 * apart with GMime: the language and Content-Language, a text and an HTML part from
 * the same data, the link where it belongs and no PIN where it does not,
 * the organisation named, the sender's note escaped and marked, the logo
 * inline (cid:) and nothing loaded from outside; an operator's template
 * replacing the built-in one, and one with an unknown variable refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../prov.h"
#include "postern/i18n.h"
#include "../../../tests/support/support.h"

#define LINK_TEXT "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
#define URL "https://mail.example/m/" LINK_TEXT
#define A_PIN "918273"

/* what each language says, so that a mail in the wrong one fails */
static const struct {
	const char *lang, *invited, *notified, *locked, *notice, *date, *reissued;
} langs[] = {
	{ "en", "has sent you an encrypted message", "has sent you a new encrypted message",
	  "was locked after", "Pass each PIN on yourself", "3 July 2025, 10:00 UTC+00:00",
	  "This is a new invitation to your mailbox" },
	{ "de", "hat Ihnen eine verschlüsselte Nachricht gesendet",
	  "hat Ihnen eine neue verschlüsselte Nachricht gesendet", "wurde nach",
	  "Geben Sie jede PIN selbst weiter", "3. Juli 2025, 10:00 Uhr UTC+00:00",
	  "Dies ist eine neue Einladung zu Ihrem Postfach" },
	{ "fr", "vous a envoyé un message chiffré", "vous a envoyé un nouveau message chiffré",
	  "a été verrouillée après", "Transmettez chaque code PIN vous-même",
	  "3 juillet 2025 à 10:00 UTC+00:00", "Ceci est une nouvelle invitation à votre boîte" },
};

static char tmpdir[64];

/* write_file - dir/name with text */
static void write_file(const char *dir, const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
}

/* brand - built-in templates or those of dir, with the PNG logo */
static void brand(const char *dir)
{
	char err[512];
	/* tests run in the repository's top directory (tests/run) */
	const char *logo = "share/postern/logo.png";

	ts_brand_free(&prov_cfg.brand);
	if (ts_brand(&prov_cfg.brand, prov_templates, prov_n_templates, dir, logo, err,
	    sizeof(err)) < 0)
		fail_msg("brand: %s", err);
}

/* parsed - the mail taken apart, checked for what every mail must have */
static void parsed(uint8_t *data, size_t len, const char *lang, ts_mail *m)
{
	const char *why;

	assert_non_null(data);
	assert_int_equal(ts_mail_parse(data, len, m), 0);
	free(data);
	if ((why = ts_mail_check(m, lang)) != NULL)
		fail_msg("%s: %s", lang, why);
	assert_true(m->has_logo_cid);
	assert_non_null(strstr(m->html, "src=\"cid:" PN_BRAND_LOGO_CID "\""));
	assert_null(strstr(m->text, A_PIN));
	assert_null(strstr(m->html, A_PIN));
}

static prov_invite invite(const char *lang)
{
	prov_invite inv = {
		.from = "Postern <postern@localhost>", .recipient = "bob@example.net",
		.sender_name = "Alice Sender", .sender_addr = "alice@example.org",
		.public_url = "https://mail.example", .link_text = LINK_TEXT, .with_pin = 1,
		.inactivity_days = 90, .lang = lang,
		.note = "Hi Bob,\n<script>alert(1)</script> & see you",
	};
	return inv;
}

static void test_every_kind_in_every_language(void **state)
{
	(void)state;
	brand(NULL);
	for (size_t i = 0; i < sizeof(langs) / sizeof(langs[0]); i++) {
		prov_invite inv = invite(langs[i].lang);
		prov_notice_line lines[] = { { "bob@example.net", A_PIN, NULL } };
		prov_notice n = { .from = inv.from, .sender = "alice@example.org", .date = "",
			.lang = langs[i].lang, .lines = lines, .n = 1 };
		size_t len;
		uint8_t *d;
		ts_mail m;

		d = prov_render_invitation(&inv, &len);
		parsed(d, len, langs[i].lang, &m);
		assert_non_null(strstr(m.text, langs[i].invited));
		assert_non_null(strstr(m.html, langs[i].invited));
		assert_non_null(strstr(m.text, URL));
		assert_non_null(strstr(m.html, "href=\"" URL "\""));
		/* the organisation with the sender */
		assert_non_null(strstr(m.subject, "Example Corp"));
		assert_non_null(strstr(m.text, "Alice Sender <alice@example.org>"));
		assert_non_null(strstr(m.text, "Example Corp"));
		/* the note: marked, and in HTML text, never markup */
		assert_non_null(strstr(m.text, "<script>alert(1)</script> & see you"));
		assert_non_null(strstr(m.html, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; see you"));
		assert_null(strstr(m.html, "<script"));
		assert_non_null(strstr(m.html, "class=\"note\""));
		ts_mail_free(&m);

		/* a re-issue: the invitation again, saying the old links are dead */
		inv.reissued = 1;
		d = prov_render_invitation(&inv, &len);
		parsed(d, len, langs[i].lang, &m);
		assert_non_null(strstr(m.text, langs[i].reissued));
		assert_non_null(strstr(m.html, langs[i].reissued));
		assert_non_null(strstr(m.text, URL));
		assert_non_null(strstr(m.html, "href=\"" URL "\""));
		ts_mail_free(&m);
		inv.reissued = 0;

		inv.link_text = NULL;
		d = prov_render_notification(&inv, &len);
		parsed(d, len, langs[i].lang, &m);
		assert_non_null(strstr(m.text, langs[i].notified));
		assert_non_null(strstr(m.text, "https://mail.example/login"));
		assert_null(strstr(m.text, LINK_TEXT));
		assert_null(strstr(m.html, LINK_TEXT));
		ts_mail_free(&m);

		/* to the sender, in the mailbox's language */
		d = prov_render_locked(inv.from, "alice@example.org", "bob@example.net", 10,
		    langs[i].lang, &len);
		parsed(d, len, langs[i].lang, &m);
		assert_non_null(strstr(m.text, langs[i].locked));
		assert_non_null(strstr(m.text, "bob@example.net"));
		ts_mail_free(&m);

		/* the sender notice is the one mail with a PIN, and no link */
		{
			const char *why;
			d = prov_render_sender_notice(&n, &len);
			assert_int_equal(ts_mail_parse(d, len, &m), 0);
			free(d);
			if ((why = ts_mail_check(&m, langs[i].lang)) != NULL)
				fail_msg("sender notice: %s", why);
			assert_non_null(strstr(m.text, langs[i].notice));
			assert_non_null(strstr(m.text, A_PIN));
			assert_null(strstr(m.text, "https://mail.example"));
			ts_mail_free(&m);
			/* the message's Date in the notice's language, not as the mail wrote it */
			n.date = "Thu, 3 Jul 2025 10:00:00 +0000";
			n.date_unix = 1751536800;
			d = prov_render_sender_notice(&n, &len);
			assert_int_equal(ts_mail_parse(d, len, &m), 0);
			free(d);
			assert_non_null(strstr(m.text, langs[i].date));
			assert_null(strstr(m.text, "Thu, 3 Jul"));
			ts_mail_free(&m);
		}
	}
}

/* a locale from a send event that is hostile ends up as the default */
static void test_hostile_locale(void **state)
{
	char big[10240];
	const char *tags[] = { "../../etc", "de\r\nBcc: x@evil.example", big, "xx-YY", "" };
	(void)state;

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	brand(NULL);
	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		prov_invite inv = invite(tags[i]);
		size_t len;
		uint8_t *d;
		ts_mail m;

		d = prov_render_invitation(&inv, &len);
		parsed(d, len, "en", &m);
		assert_non_null(strstr(m.text, langs[0].invited));
		ts_mail_free(&m);
	}
}

static void test_note_limit(void **state)
{
	char note[4 * 1001 + 1];
	char *c;
	(void)state;

	/* 1,000 characters pass, whatever their bytes; 1,001 do not */
	note[0] = '\0';
	for (int i = 0; i < 1000; i++)
		strcat(note, "\xc3\xa9");
	assert_non_null(c = prov_note_clean(note));
	free(c);
	strcat(note, "x");
	assert_null(prov_note_clean(note));
	assert_non_null(c = prov_note_clean("a\x01\x1b[31mb\r\nc"));
	assert_string_equal(c, "a[31mb\nc");
	free(c);
}

static void test_operator_templates(void **state)
{
	prov_invite inv = invite("de");
	uint8_t *d;
	size_t len;
	ts_mail m;
	char sub[128], err[512];
	pn_brand b;
	(void)state;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/postern-tmpl.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	snprintf(sub, sizeof(sub), "%s/de", tmpdir);
	assert_int_equal(mkdir(sub, 0700), 0);
	write_file(tmpdir, "invitation.txt", "OPERATOR {{sender}}: {{link}}\n");
	write_file(sub, "invitation.html", "<html lang=\"{{lang}}\"><p>BETREIBER <a href=\"{{link}}\">{{_ \"Open your mailbox\"}}</a>"
	    "<img src=\"{{logo}}\"></p>\n");
	brand(tmpdir);
	d = prov_render_invitation(&inv, &len);
		parsed(d, len, "de", &m);
	assert_non_null(strstr(m.text, "OPERATOR Alice Sender <alice@example.org>: " URL));
	assert_non_null(strstr(m.html, "BETREIBER"));
	assert_non_null(strstr(m.html, "Postfach öffnen"));
	ts_mail_free(&m);
	/* the English HTML is still the built-in one */
	inv.lang = "en";
	d = prov_render_invitation(&inv, &len);
		parsed(d, len, "en", &m);
	assert_null(strstr(m.html, "BETREIBER"));
	assert_non_null(strstr(m.text, "OPERATOR"));
	ts_mail_free(&m);

	/* an unknown variable: refused at load, naming file, line and name */
	write_file(sub, "invitation.txt", "Hallo\n{{sender}}\n{{bogus_name}}\n");
	assert_int_equal(ts_brand(&b, prov_templates, prov_n_templates, tmpdir, NULL, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "de/invitation.txt line 3"));
	assert_non_null(strstr(err, "unknown variable 'bogus_name'"));
	ts_brand_free(&b);
	/* and one inside a message */
	write_file(sub, "invitation.txt", "{{_ \"Hello {nobody}\"}}\n");
	assert_int_equal(ts_brand(&b, prov_templates, prov_n_templates, tmpdir, NULL, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown variable 'nobody'"));
	ts_brand_free(&b);
	{
		char cmd[256];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		assert_int_equal(system(cmd), 0);
	}
}

static int down(void **state)
{
	(void)state;
	ts_brand_free(&prov_cfg.brand);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_kind_in_every_language),
		cmocka_unit_test(test_hostile_locale),
		cmocka_unit_test(test_note_limit),
		cmocka_unit_test(test_operator_templates),
	};
	return cmocka_run_group_tests(tests, NULL, down);
}
