/*
 * mime_test.c - lib's GMime glue, all of it: the checks on a sender's
 * mail (pn_mime_inspect), reading a mail apart (pn_mime_read), the
 * header codec, the text helpers, composing (pn_mime_compose, read back
 * with pn_mime_read), and the PGP/MIME halves: the entity that is
 * encrypted (with and without protected headers) and the wrapping around
 * the ciphertext.
 *
 * Hermetic: the "ciphertext" is a fixed text. The fuzz loop feeds mutated
 * mails to the parsers; it prints its seed, POSTERN_FUZZ_SEED=N replays.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "postern/mem.h"
#include "postern/mime.h"
#include "postern/text.h"
#include "../../tests/support/support.h"

static const char MAIL[] =
    "From: Jane Doe <jane@example.org>\r\n"
    "To: bob@example.net,\r\n carol@example.com\r\n"
    "Cc: dave@example.com\r\n"
    "Subject: =?utf-8?q?Quartals=C3=BCbersicht?= secret-subject-77\r\n"
    "Date: Tue, 01 Jul 2025 10:00:00 +0000\r\n"
    "Message-ID: <m1@example.org>\r\n"
    "In-Reply-To: <m0@example.org>\r\n"
    "References: <m0@example.org>\r\n"
    "X-Mailer: leaky 1.0\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "The body token 8231.\r\n";

static const char CIPHER[] =
    "-----BEGIN PGP MESSAGE-----\n\nhQEMA\n-----END PGP MESSAGE-----\n";

static void test_entity_plain(void **state)
{
	size_t len = 0;
	const char *why = NULL;
	char *e = (char *)pn_mime_pgp_entity(MAIL, strlen(MAIL), 0, &len, &why);
	(void)state;

	assert_non_null(e);
	assert_int_equal(strlen(e), len);
	assert_true(strncmp(e, "Content-Type: text/plain; charset=utf-8\r\n", 41) == 0);
	assert_non_null(strstr(e, "Content-Transfer-Encoding: 8bit\r\n"));
	assert_non_null(strstr(e, "\r\n\r\nThe body token 8231.\r\n"));
	assert_null(strstr(e, "Subject:"));
	assert_null(strstr(e, "protected-headers"));
	free(e);
}

static void test_entity_protected(void **state)
{
	size_t len = 0;
	const char *why = NULL;
	char *e = (char *)pn_mime_pgp_entity(MAIL, strlen(MAIL), 1, &len, &why), *h;
	(void)state;

	assert_non_null(e);
	h = ts_header_block(e);
	assert_non_null(strstr(h, "Subject: =?utf-8?q?Quartals=C3=BCbersicht?= secret-subject-77\r\n"));
	assert_non_null(strstr(h, "From: Jane Doe <jane@example.org>\r\n"));
	assert_non_null(strstr(h, "To: bob@example.net,\r\n carol@example.com\r\n"));
	assert_non_null(strstr(h, "Message-ID: <m1@example.org>\r\n"));
	assert_non_null(strstr(h, "protected-headers=\"v1\""));
	assert_non_null(strstr(h, "Content-Type: text/plain"));
	assert_null(strstr(h, "X-Mailer"));
	assert_null(strstr(h, "MIME-Version"));
	assert_non_null(strstr(e, "\r\n\r\nThe body token 8231.\r\n"));
	free(h);
	free(e);
}

/*
 * expect_pgp_parts - a reader takes wrapped apart into the two parts of
 * RFC 3156: the version part and the ciphertext, whole
 */
static void expect_pgp_parts(const char *wrapped)
{
	pn_mime_msg m;

	assert_null(strstr(wrapped, "(null)"));
	assert_int_equal(pn_mime_read(wrapped, strlen(wrapped), &m), PN_OK);
	assert_int_equal(m.n_att, 2);
	assert_string_equal(m.att[0].type, "application/pgp-encrypted");
	assert_string_equal(m.att[1].type, "application/octet-stream");
	assert_non_null(strstr((const char *)m.att[1].data, "-----BEGIN PGP MESSAGE-----"));
	assert_non_null(strstr((const char *)m.att[1].data, "-----END PGP MESSAGE-----"));
	pn_mime_msg_free(&m);
}

static void test_wrap(void **state)
{
	size_t len = 0;
	const char *why = NULL;
	char *w, *h;
	(void)state;

	/* protected: a fixed set of headers, Subject "...", the ciphertext as the second part */
	w = (char *)pn_mime_pgp_wrap(MAIL, strlen(MAIL), CIPHER, strlen(CIPHER), 1, &len, &why);
	assert_non_null(w);
	assert_int_equal(strlen(w), len);
	h = ts_header_block(w);
	assert_non_null(strstr(h, "Subject: ...\r\n"));
	assert_null(strstr(w, "secret-subject-77"));
	assert_null(strstr(w, "token 8231"));
	assert_null(strstr(h, "X-Mailer"));
	assert_non_null(strstr(h, "From: Jane Doe <jane@example.org>\r\n"));
	assert_non_null(strstr(h, "Cc: dave@example.com\r\n"));
	assert_non_null(strstr(h, "In-Reply-To: <m0@example.org>\r\n"));
	assert_non_null(strstr(h, "References: <m0@example.org>\r\n"));
	assert_non_null(strstr(h, "MIME-Version: 1.0\r\n"));
	assert_non_null(strstr(h, "Content-Type: multipart/encrypted;"));
	assert_non_null(strstr(h, "protocol=\"application/pgp-encrypted\""));
	assert_null(strstr(h, "text/plain"));
	assert_null(strstr(h, "8bit"));
	assert_non_null(strstr(w, "Content-Type: application/pgp-encrypted\r\n"));
	assert_non_null(strstr(w, "Version: 1\r\n"));
	assert_non_null(strstr(w, "Content-Type: application/octet-stream"));
	assert_non_null(strstr(w, "-----BEGIN PGP MESSAGE-----\r\n\r\nhQEMA\r\n"));
	assert_non_null(strstr(h, "boundary="));
	expect_pgp_parts(w);
	free(h);
	free(w);
	/* unprotected: every header stays */
	w = (char *)pn_mime_pgp_wrap(MAIL, strlen(MAIL), CIPHER, strlen(CIPHER), 0, &len, &why);
	assert_non_null(w);
	assert_non_null(strstr(w, "secret-subject-77"));
	assert_non_null(strstr(w, "X-Mailer: leaky 1.0\r\n"));
	assert_null(strstr(w, "token 8231"));
	expect_pgp_parts(w);
	free(w);
	/* not a mail */
	assert_null(pn_mime_pgp_wrap("no", 2, CIPHER, strlen(CIPHER), 1, &len, &why));
	assert_non_null(why);
	assert_null(pn_mime_pgp_entity("", 0, 1, &len, &why));
}

/* ---- pn_mime_inspect ---- */

/* expect_strings - got[i] is there and equals want[i], for i < n */
static void expect_strings(const char *const *got, const char *const *want, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		assert_non_null(got[i]);
		assert_string_equal(got[i], want[i]);
	}
}

static void test_inspect(void **state)
{
	static const char GOOD[] =
	    "From: Jane Doe <jane@example.org>\r\n"
	    "To: bob@example.net\r\n"
	    "Cc: carol@example.com\r\n"
	    "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n"
	    "Date: Tue, 01 Jul 2025 10:00:00 +0000\r\n"
	    "Message-ID: <m1@example.org>\r\n"
	    "\r\n"
	    "hello\r\n";
	static const char NUL[] = "From: a@example.org\r\n\r\nx\0y";
	struct {
		const char *data;
		size_t len;             /* 0: strlen(data) */
		const char *why;        /* NULL: accepted */
	} cases[] = {
		{ "", 0, "the mail is empty (0 bytes)" },
		{ NUL, sizeof(NUL) - 1, "the mail contains NUL bytes" },
		{ "\r\nFrom: a@example.org\r\n\r\nx", 0, "the mail does not start with a header field" },
		{ " From: a@example.org\r\n\r\nx", 0, "the mail does not start with a header field" },
		{ "no header at all", 0, "the mail does not start with a header field" },
		{ "Subject: x\r\n\r\nbody", 0, "the mail has no From header with an address" },
		{ "From: nobody\r\n\r\nbody", 0, "the mail has no From header with an address" },
		{ "From: list: a@example.org;\r\n\r\nbody", 0,
		    "the mail has no From header with an address" },
		{ "From: a@example.org\r\nContent-Type: multipart/mixed\r\n\r\nbody", 0,
		    "a multipart part has no boundary" },
		{ GOOD, 0, NULL },
	};
	pn_mime_info info;
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = cases[i].len ? cases[i].len : strlen(cases[i].data);
		pn_err err = pn_mime_inspect(cases[i].data, len, &info, &why);
		if (!cases[i].why) {
			assert_int_equal(err, PN_OK);
			assert_null(why);
			pn_mime_info_free(&info);
			continue;
		}
		assert_int_equal(err, PN_ERR_PARAMS);
		assert_non_null(why);
		assert_string_equal(why, cases[i].why);
		assert_null(info.from);
	}
	assert_int_equal(pn_mime_inspect(GOOD, sizeof(GOOD) - 1, &info, &why), PN_OK);
	{
		const char *const got[] = { info.from, info.from_name, info.from_addr, info.to,
			info.cc, info.subject, info.date, info.message_id };
		const char *const want[] = { "Jane Doe <jane@example.org>", "Jane Doe",
			"jane@example.org", "bob@example.net", "carol@example.com",
			"Gr\xc3\xbc\xc3\x9f" "e", "Tue, 01 Jul 2025 10:00:00 +0000", "m1@example.org" };
		assert_int_equal(sizeof(got), sizeof(want));
		expect_strings(got, want, sizeof(want) / sizeof(want[0]));
	}
	assert_int_equal(info.date_unix, 1751364000LL);
	assert_int_equal(info.has_attachments, 0);
	assert_int_equal(info.parts, 1);
	pn_mime_info_free(&info);
	assert_null(info.from);
	pn_mime_info_free(&info);
	pn_mime_info_free(NULL);
}

/* ---- pn_mime_read ---- */

static const char READ_MAIL[] =
    "From: \"Doe, Jane\" <Jane@Example.ORG>\r\n"
    "To: bob@example.net\r\n"
    "Reply-To: replies@example.org\r\n"
    "Cc: team: a@example.com, b@Example.com;, c@example.com, not an address\r\n"
    "Subject: =?iso-8859-1?q?Gr=FC=DFe?= again\r\n"
    "Date: Tue, 01 Jul 2025 10:00:00 +0000\r\n"
    "Message-ID: <r1@example.org>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"OUT\"\r\n"
    "\r\n"
    "--OUT\r\n"
    "Content-Type: multipart/alternative; boundary=\"ALT\"\r\n"
    "\r\n"
    "--ALT\r\n"
    "Content-Type: text/plain; charset=iso-8859-1\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Gr=FC=DFe, the text.\r\n"
    "--ALT\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "\r\n"
    "<p>the html</p>\r\n"
    "--ALT--\r\n"
    "--OUT\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "a second text part, not a file\r\n"
    "--OUT\r\n"
    "Content-Type: application/pdf; name=\"r.pdf\"\r\n"
    "Content-Disposition: attachment; filename=\"../r.pdf\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "JVBERi0xLjQK\r\n"
    "--OUT\r\n"
    "Content-Type: image/png\r\n"
    "\r\n"
    "PNGDATA\r\n"
    "--OUT\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "From: inner@example.net\r\n"
    "Subject: inner\r\n"
    "\r\n"
    "the forwarded body\r\n"
    "--OUT--\r\n";

static void test_read(void **state)
{
	static const struct {
		const char *filename;   /* NULL: the mail names none */
		const char *type;
		const char *data;       /* NULL: only checked to be there */
	} files[] = {
		{ "../r.pdf", "application/pdf", "%PDF-1.4\n" },
		{ NULL, "image/png", "PNGDATA" },
		{ "message.eml", "message/rfc822", NULL },
	};
	pn_mime_msg m;

	(void)state;
	assert_int_equal(pn_mime_read(READ_MAIL, sizeof(READ_MAIL) - 1, &m), PN_OK);
	{
		const char *const got[] = { m.from, m.from_addr, m.to, m.reply_to, m.subject,
			m.date, m.message_id, m.text, m.html };
		const char *const want[] = { "\"Doe, Jane\" <Jane@Example.ORG>", "Jane@Example.ORG",
			"bob@example.net", "replies@example.org", "Gr\xc3\xbc\xc3\x9f" "e again",
			"Tue, 01 Jul 2025 10:00:00 +0000", "r1@example.org",
			"Gr\xc3\xbc\xc3\x9f" "e, the text.",          /* the CRLF is the boundary's */
			"<p>the html</p>" };
		assert_int_equal(sizeof(got), sizeof(want));
		expect_strings(got, want, sizeof(want) / sizeof(want[0]));
	}
	assert_int_equal(m.date_unix, 1751364000LL);   /* the Date parsed, for pages */
	/* the addr-specs: normalised, the group opened, what is no address left out */
	assert_int_equal(m.n_from, 1);
	assert_string_equal(m.from_list[0], "Jane@example.org");
	assert_int_equal(m.n_reply_to, 1);
	assert_string_equal(m.reply_to_list[0], "replies@example.org");
	assert_int_equal(m.n_cc, 3);
	assert_string_equal(m.cc_list[0], "a@example.com");
	assert_string_equal(m.cc_list[1], "b@example.com");
	assert_string_equal(m.cc_list[2], "c@example.com");
	assert_int_equal(m.n_att, sizeof(files) / sizeof(files[0]));
	for (size_t i = 0; i < m.n_att; i++) {
		if (files[i].filename)
			assert_string_equal(m.att[i].filename, files[i].filename);
		else
			assert_null(m.att[i].filename);
		assert_string_equal(m.att[i].type, files[i].type);
		assert_int_equal(m.att[i].data[m.att[i].len], '\0');
		if (files[i].data) {
			assert_int_equal(m.att[i].len, strlen(files[i].data));
			assert_memory_equal(m.att[i].data, files[i].data, m.att[i].len);
		}
	}
	assert_non_null(strstr((char *)m.att[2].data, "the forwarded body"));
	pn_mime_msg_free(&m);
	assert_null(m.from);
	assert_int_equal(m.n_att, 0);
	pn_mime_msg_free(&m);
	pn_mime_msg_free(NULL);
}

/* A mail with more files than PN_MIME_FILES_MAX, no text body, and no headers GMime knows. */
static void test_read_limits(void **state)
{
	char *mail = pn_strdup("X-Only: this\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n");
	pn_mime_msg m;

	(void)state;
	for (int i = 0; i < PN_MIME_FILES_MAX + 6; i++) {
		char *next = pn_asprintf("%s--B\r\nContent-Type: application/octet-stream\r\n"
		    "Content-Disposition: attachment; filename=\"f%d.bin\"\r\n\r\nfile %d\r\n",
		    mail, i, i);
		pn_free(&mail);
		mail = next;
	}
	{
		char *next = pn_asprintf("%s--B--\r\n", mail);
		pn_free(&mail);
		mail = next;
	}
	assert_int_equal(pn_mime_read(mail, strlen(mail), &m), PN_OK);
	assert_int_equal(m.n_att, PN_MIME_FILES_MAX);
	assert_string_equal(m.att[PN_MIME_FILES_MAX - 1].filename, "f63.bin");
	assert_string_equal((char *)m.att[PN_MIME_FILES_MAX - 1].data, "file 63");
	assert_string_equal(m.text, "");
	assert_null(m.html);
	assert_string_equal(m.from, "");
	assert_string_equal(m.from_addr, "");
	assert_string_equal(m.subject, "");
	assert_int_equal(m.date_unix, 0);              /* no Date: none parsed */
	assert_int_equal(m.n_from, 0);
	assert_null(m.from_list);
	pn_mime_msg_free(&m);
	pn_free(&mail);

	/* a Date that is no date: kept as written, none parsed */
	mail = pn_strdup("From: a@example.org\r\nDate: yesterday, after lunch\r\n\r\nhi\r\n");
	assert_int_equal(pn_mime_read(mail, strlen(mail), &m), PN_OK);
	assert_string_equal(m.date, "yesterday, after lunch");
	assert_true(m.date_unix <= 0);
	pn_mime_msg_free(&m);
	pn_free(&mail);

	/* an empty file: no bytes, still NUL-terminated */
	mail = pn_strdup("From: a@example.org\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n"
	    "--B\r\nContent-Type: application/octet-stream\r\n\r\n--B--\r\n");
	assert_int_equal(pn_mime_read(mail, strlen(mail), &m), PN_OK);
	assert_int_equal(m.n_att, 1);
	assert_int_equal(m.att[0].len, 0);
	assert_int_equal(m.att[0].data[0], '\0');
	pn_mime_msg_free(&m);
	pn_free(&mail);
}

/* ---- header codec and text helpers ---- */

static void test_header_codec(void **state)
{
	static const struct {
		const char *in, *decoded;
	} dec[] = {
		{ "plain text", "plain text" },
		{ "", "" },
		{ "=?utf-8?q?Gr=C3=BC=C3=9Fe?= [secure]", "Gr\xc3\xbc\xc3\x9f" "e [secure]" },
		{ "=?iso-8859-1?q?Gr=FC=DFe?=", "Gr\xc3\xbc\xc3\x9f" "e" },
		{ "=?utf-8?b?W3NlY3VyZV0gaGk=?=", "[secure] hi" },
		{ "=?utf-8?q?a?= =?utf-8?q?b?=", "ab" },          /* white space between words goes */
	};
	static const char *const round[] = {
		"plain", "Gr\xc3\xbc\xc3\x9f" "e [secure] again", "\xe2\x82\xac 100", "",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(dec) / sizeof(dec[0]); i++) {
		char *d = pn_mime_header_decode(dec[i].in);
		assert_non_null(d);
		assert_string_equal(d, dec[i].decoded);
		pn_free(&d);
	}
	for (size_t i = 0; i < sizeof(round) / sizeof(round[0]); i++) {
		char *e = pn_mime_header_encode(round[i]), *d;
		for (const char *p = e; *p; p++)         /* 7-bit, one line */
			assert_true((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
		d = pn_mime_header_decode(e);
		assert_string_equal(d, round[i]);
		pn_free(&e);
		pn_free(&d);
	}
	{
		char *e = pn_mime_header_encode("plain");
		assert_string_equal(e, "plain");       /* ASCII stays as it is */
		pn_free(&e);
	}
}

static void test_text_helpers(void **state)
{
	static const struct {
		const char *in;
		size_t max;
		const char *want;
	} clean[] = {
		{ "plain", 100, "plain" },
		{ "a\r\nBcc: x@y", 100, "a  Bcc: x@y" },
		{ "tab\there\x7f", 100, "tab here " },
		{ "abcdef", 3, "abc" },
		{ "\xc3\xbc\xc3\xbc", 3, "\xc3\xbc" },   /* never half a character */
		{ "\xe2\x82\xac", 2, "" },
		{ "", 0, "" },
		{ NULL, 10, "" },
	};
	static const struct {
		const char *in, *want;
	} esc[] = {
		{ "plain", "plain" },
		{ "<a href=\"x\">&'</a>", "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;" },
		{ "", "" },
		{ NULL, "" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(clean) / sizeof(clean[0]); i++) {
		char *c = pn_mime_clean_line(clean[i].in, clean[i].max);
		assert_string_equal(c, clean[i].want);
		pn_free(&c);
	}
	for (size_t i = 0; i < sizeof(esc) / sizeof(esc[0]); i++) {
		char *e = pn_html_escape(esc[i].in);
		assert_string_equal(e, esc[i].want);
		pn_free(&e);
	}
}

/* ---- pn_mime_compose, read back ---- */

static void test_compose(void **state)
{
	static const unsigned char bin[] = { 0, 1, 2, 0xff, '\r', '\n', '.', 0 };
	const char *to[] = { "Bob <bob@example.net>", "carol@example.com" };
	const char *headers[] = { "In-Reply-To", "<m0@example.org>", "X-Bad:Name", "v\r\nBcc: evil@x.org",
		"Trailing", NULL };
	pn_mime_att att[] = {
		{ "r\xc3\xa9sum\xc3\xa9.pdf", "application/pdf", "%PDF", 4 },
		{ NULL, "multipart/mixed", bin, sizeof(bin) },      /* a container type: octet-stream */
	};
	pn_mime_mail mail = {
		.from = "Postern <noreply@postern.example>",
		.to = to, .n_to = 2,
		.subject = "Gr\xc3\xbc\xc3\x9f" "e\r\nBcc: evil@x.org",
		.text = "line one\nline two\n.\n",
		.html = "<p>one</p>",
		.headers = headers,
		.att = att, .n_att = 2,
	};
	const char *why = NULL;
	size_t len = 0;
	char *out, *h;
	pn_mime_msg m;

	(void)state;
	out = (char *)pn_mime_compose(&mail, &len, &why);
	assert_non_null(out);
	assert_null(why);
	assert_int_equal(strlen(out), len);
	for (size_t i = 0; i < len; i++)         /* CRLF line ends only */
		if (out[i] == '\n')
			assert_true(i > 0 && out[i - 1] == '\r');
	h = ts_header_block(out);
	assert_null(strstr(h, "\r\nBcc:"));      /* nothing given here makes a header */
	assert_non_null(strstr(h, "In-Reply-To: <m0@example.org>\r\n"));
	assert_non_null(strstr(h, "X-Bad-Name: v  Bcc: evil@x.org\r\n"));
	assert_null(strstr(h, "Trailing"));
	assert_non_null(strstr(h, "@postern.example>\r\n"));   /* Message-ID from From's domain */
	assert_non_null(strstr(h, "Content-Type: multipart/mixed"));
	free(h);
	assert_int_equal(pn_mime_read(out, len, &m), PN_OK);
	assert_string_equal(m.from_addr, "noreply@postern.example");
	assert_string_equal(m.subject, "Gr\xc3\xbc\xc3\x9f" "e  Bcc: evil@x.org");
	assert_string_equal(m.text, "line one\r\nline two\r\n.\r\n");
	assert_string_equal(m.html, "<p>one</p>");
	assert_int_equal(m.n_att, 2);
	assert_string_equal(m.att[0].filename, "r\xc3\xa9sum\xc3\xa9.pdf");
	assert_string_equal(m.att[0].type, "application/pdf");
	assert_int_equal(m.att[0].len, 4);
	assert_memory_equal(m.att[0].data, "%PDF", 4);
	assert_string_equal(m.att[1].filename, "attachment");
	assert_string_equal(m.att[1].type, "application/octet-stream");
	assert_int_equal(m.att[1].len, sizeof(bin));
	assert_memory_equal(m.att[1].data, bin, sizeof(bin));
	assert_int_equal(m.n_cc, 0);
	pn_mime_msg_free(&m);
	pn_wipe(out, len);
	free(out);

	/* text only, an explicit Message-ID domain */
	mail.html = NULL;
	mail.n_att = 0;
	mail.headers = NULL;
	mail.message_id_domain = "ids.example";
	out = (char *)pn_mime_compose(&mail, &len, &why);
	assert_non_null(out);
	assert_non_null(strstr(out, "@ids.example>\r\n"));
	assert_non_null(strstr(out, "Content-Type: text/plain; charset=utf-8\r\n"));
	assert_null(strstr(out, "multipart"));
	free(out);

	/* addresses that do not parse */
	mail.from = "not an address";
	assert_null(pn_mime_compose(&mail, &len, &why));
	assert_string_equal(why, "the From address does not parse");
	mail.from = "a@example.org";
	to[1] = "nobody";
	assert_null(pn_mime_compose(&mail, &len, &why));
	assert_string_equal(why, "a To address does not parse");
}

/* ---- fuzz: mutated mails into every parser ---- */

#define FUZZ_ROUNDS 2000

static void test_fuzz(void **state)
{
	unsigned int seed = ts_fuzz_seed("mime");
	const char *const seeds[] = { MAIL, READ_MAIL };

	(void)state;
	for (int round = 0; round < FUZZ_ROUNDS; round++) {
		const char *base = seeds[round % 2];
		size_t len = strlen(base), n;
		char *buf = pn_malloc(len + 64);
		pn_mime_info info;
		pn_mime_msg m;
		const char *why;
		uint8_t *out;

		memcpy(buf, base, len);
		n = len;
		for (int e = 1 + rand_r(&seed) % 8; e > 0; e--) {
			size_t at = (size_t)rand_r(&seed) % n;
			switch (rand_r(&seed) % 4) {
			case 0: buf[at] = (char)(rand_r(&seed) % 256); break;
			case 1: n = at + 1; break;                      /* cut */
			case 2: buf[at] = "\r\n:;=\"-<>"[rand_r(&seed) % 9]; break;
			default: buf[at] = '\0'; break;
			}
		}
		if (pn_mime_inspect(buf, n, &info, &why) == PN_OK) {
			assert_null(why);
			assert_non_null(strchr(info.from_addr, '@'));
			pn_mime_info_free(&info);
		} else {
			assert_non_null(why);
		}
		if (pn_mime_read(buf, n, &m) == PN_OK) {
			assert_non_null(m.text);
			assert_true(m.n_att <= PN_MIME_FILES_MAX);
			pn_mime_msg_free(&m);
		}
		if ((out = pn_mime_pgp_entity(buf, n, round % 2, &len, &why)) != NULL)
			assert_int_equal(strlen((char *)out), len);
		else
			assert_non_null(why);
		free(out);
		pn_free(&buf);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entity_plain),
		cmocka_unit_test(test_entity_protected),
		cmocka_unit_test(test_wrap),
		cmocka_unit_test(test_inspect),
		cmocka_unit_test(test_read),
		cmocka_unit_test(test_read_limits),
		cmocka_unit_test(test_header_codec),
		cmocka_unit_test(test_text_helpers),
		cmocka_unit_test(test_compose),
		cmocka_unit_test(test_fuzz),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
