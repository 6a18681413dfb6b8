/*
 * mime_test.c - the PGP/MIME halves of mime.c: the entity that is
 * encrypted (with and without protected headers) and the wrapping around
 * the ciphertext. Hermetic: the "ciphertext" is a fixed text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "postern/mime.h"

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

/* header_part - the header block of text (up to the empty line), NUL-terminated copy */
static char *header_part(const char *text)
{
	const char *end = strstr(text, "\r\n\r\n");
	size_t n = end ? (size_t)(end - text) + 2 : strlen(text);
	char *h = malloc(n + 1);

	assert_non_null(h);
	memcpy(h, text, n);
	h[n] = '\0';
	return h;
}

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
	h = header_part(e);
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
	h = header_part(w);
	assert_non_null(strstr(h, "Subject: ...\r\n"));
	assert_null(strstr(w, "secret-subject-77"));
	assert_null(strstr(w, "8231"));
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
	free(h);
	free(w);
	/* unprotected: every header stays */
	w = (char *)pn_mime_pgp_wrap(MAIL, strlen(MAIL), CIPHER, strlen(CIPHER), 0, &len, &why);
	assert_non_null(w);
	assert_non_null(strstr(w, "secret-subject-77"));
	assert_non_null(strstr(w, "X-Mailer: leaky 1.0\r\n"));
	assert_null(strstr(w, "8231"));
	free(w);
	/* not a mail */
	assert_null(pn_mime_pgp_wrap("no", 2, CIPHER, strlen(CIPHER), 1, &len, &why));
	assert_non_null(why);
	assert_null(pn_mime_pgp_entity("", 0, 1, &len, &why));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entity_plain),
		cmocka_unit_test(test_entity_protected),
		cmocka_unit_test(test_wrap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
