/*
 * prov_test.c - provision's pure parts, table-driven and hermetic: the
 * derivations of prov_crypto.c (fixed vectors, so a change that would
 * orphan every existing mailbox fails here), event records, the lock-out
 * policy, the mails of prov_render.c (no PIN, escaped sender, the link
 * only in the invitation) and the envelope record.
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

#include "../prov.h"
#include "postern/guest.h"
#include "postern/mime.h"
#include "../../../tests/support/support.h"

static const uint8_t LINK[32] = {
	0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
	16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31,
};

/* keyed - the documented construction, written out once more */
static void keyed(const char *context, const char *pin, uint8_t out[32])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, LINK, 32, 32);
	crypto_generichash_update(&st, (const uint8_t *)context, strlen(context) + 1);
	crypto_generichash_update(&st, (const uint8_t *)pin, strlen(pin));
	crypto_generichash_final(&st, out, 32);
}

static void test_derivations(void **state)
{
	uint8_t h[32], want[32];
	char pass[PROV_PASS_TEXT], text[PROV_PASS_TEXT], pass2[PROV_PASS_TEXT];
	(void)state;

	pn_guest_link_hash(LINK, h);
	crypto_generichash(want, 32, LINK, 32, NULL, 0);
	assert_memory_equal(h, want, 32);

	pn_guest_passphrase(LINK, "123456", pass);
	keyed("postern/guest-key/v1", "123456", want);
	pn_b64url(text, sizeof(text), want, 32);
	assert_string_equal(pass, text);
	assert_int_equal(strlen(pass), 43);
	/* PIN and no PIN, and different PINs, give different passphrases */
	pn_guest_passphrase(LINK, "", pass2);
	assert_string_not_equal(pass, pass2);
	pn_guest_passphrase(LINK, "123457", pass2);
	assert_string_not_equal(pass, pass2);

	pn_guest_pin_verifier(LINK, "123456", h);
	keyed("postern/pin-verifier/v1", "123456", want);
	assert_memory_equal(h, want, 32);
	/* verifier and passphrase are separated by their contexts */
	keyed("postern/guest-key/v1", "123456", want);
	assert_memory_not_equal(h, want, 32);
}

static void test_b64url(void **state)
{
	char text[PROV_LINK_TEXT];
	uint8_t back[32];
	(void)state;

	pn_b64url(text, sizeof(text), LINK, 32);
	assert_int_equal(strlen(text), 43);
	assert_null(strpbrk(text, "+/="));
	assert_int_equal(pn_b64url_decode(back, sizeof(back), text, strlen(text)), 32);
	assert_memory_equal(back, LINK, 32);
	assert_int_equal(pn_b64url_decode(back, sizeof(back), "a+b/", 4), -1);
}

static void test_pin_new(void **state)
{
	int seen[10] = { 0 };
	char pin[PROV_PIN_MAX + 1];
	(void)state;

	for (size_t len = PROV_PIN_MIN; len <= PROV_PIN_MAX; len++) {
		prov_pin_new(pin, len);
		assert_int_equal(strlen(pin), len);
	}
	for (int i = 0; i < 2000; i++) {
		prov_pin_new(pin, 6);
		for (int j = 0; j < 6; j++) {
			assert_true(pin[j] >= '0' && pin[j] <= '9');
			seen[pin[j] - '0']++;
		}
	}
	/* 12000 digits: each of ten should appear about 1200 times */
	for (int d = 0; d < 10; d++)
		assert_true(seen[d] > 1000 && seen[d] < 1400);
}

static void test_key_parse(void **state)
{
	uint8_t k[32];
	static const struct { const char *text; int ok; } cases[] = {
		{ "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", 1 },
		{ "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", 1 },
		{ "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", 1 },
		{ "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", 1 },
		{ "000102", 0 },
		{ "", 0 },
		{ "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8fHw==", 0 },   /* 34 bytes */
		{ "zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", 0 },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = prov_key_parse(cases[i].text, k);
		if ((rc == 0) != cases[i].ok)
			fail_msg("case %zu: rc %d", i, rc);
		if (rc == 0)
			assert_memory_equal(k, LINK, 32);
	}
}

static void test_records(void **state)
{
	uint8_t key[32], other[32], sealed[PROV_RECORD_MAX];
	char id[65], id2[65];
	prov_secret s, back;
	size_t n;
	(void)state;

	randombytes_buf(key, 32);
	randombytes_buf(other, 32);
	prov_record_id("evt-1", "bob@example.org", id);
	prov_record_id("evt-1", "carol@example.org", id2);
	assert_string_not_equal(id, id2);
	/* the NUL separator: ("ab","c") and ("a","bc") differ */
	prov_record_id("ab", "c", id2);
	{
		char id3[65];
		prov_record_id("a", "bc", id3);
		assert_string_not_equal(id2, id3);
	}
	memcpy(s.link, LINK, 32);
	strcpy(s.pin, "042424");
	n = prov_record_seal(key, id, &s, sealed);
	assert_true(n <= PROV_RECORD_MAX);
	assert_int_equal(prov_record_open(key, id, sealed, n, &back), 0);
	assert_memory_equal(back.link, LINK, 32);
	assert_string_equal(back.pin, "042424");
	/* the wrong key, another record's id, a flipped byte, a short one */
	assert_int_equal(prov_record_open(other, id, sealed, n, &back), -1);
	prov_record_id("evt-2", "bob@example.org", id2);
	assert_int_equal(prov_record_open(key, id2, sealed, n, &back), -1);
	sealed[n - 1] ^= 1;
	assert_int_equal(prov_record_open(key, id, sealed, n, &back), -1);
	assert_int_equal(prov_record_open(key, id, sealed, 10, &back), -1);
	/* no PIN */
	s.pin[0] = '\0';
	n = prov_record_seal(key, id, &s, sealed);
	assert_int_equal(prov_record_open(key, id, sealed, n, &back), 0);
	assert_string_equal(back.pin, "");
}

static void test_lockout(void **state)
{
	static const struct { long n, want; } cases[] = {
		{ 0, 0 }, { 1, 0 }, { 4, 0 }, { 5, 60 }, { 6, 120 }, { 7, 240 }, { 8, 480 },
		{ 9, 960 }, { 10, -1 }, { 11, -1 }, { 1000, -1 },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(prov_lockout(cases[i].n, 5, 60, 10), cases[i].want);
	/* capped at a day */
	assert_int_equal(prov_lockout(40, 5, 60, 100), 86400);
}

static void test_invitation(void **state)
{
	prov_invite inv = {
		.from = "Postern <postern@localhost>", .recipient = "bob@example.net",
		.sender_name = "Tom & Jerry <script>alert(1)</script>\r\nBcc: x@evil.example",
		.sender_addr = "eve@example.org", .public_url = "https://mail.example",
		.link_text = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", .with_pin = 1,
		.inactivity_days = 90,
	};
	size_t len;
	uint8_t *m = prov_render_invitation(&inv, &len);
	char *text;
	(void)state;

	assert_non_null(m);
	text = (char *)m;
	assert_int_equal(strlen(text), len);
	assert_non_null(strstr(text, "https://mail.example/m/AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"));
	assert_non_null(strstr(text, "multipart/alternative"));
	assert_non_null(strstr(text, "90 days"));
	assert_non_null(strstr(text, "recovery code"));
	assert_null(strstr(text, "links of earlier"));     /* a first invitation */
	/* no header injection, no raw HTML from the sender */
	assert_null(strstr(text, "\r\nBcc:"));
	assert_null(strstr(text, "<script>"));
	assert_non_null(strstr(text, "Tom &amp; Jerry"));
	assert_non_null(strstr(text, "Auto-Submitted: auto-generated"));
	free(m);

	m = prov_render_notification(&inv, &len);
	assert_non_null(m);
	assert_non_null(strstr((char *)m, "https://mail.example/login"));
	assert_null(strstr((char *)m, "/m/"));
	assert_null(strstr((char *)m, inv.link_text));
	free(m);

	m = prov_render_locked("Postern <postern@localhost>", "eve@example.org",
	    "bob@example.net", 10, "", &len);
	assert_non_null(m);
	assert_non_null(strstr((char *)m, "bob@example.net"));
	free(m);
}

/* The sender notice: PINs with their recipients, reasons, nothing else. */
static void test_sender_notice(void **state)
{
	const prov_notice_line lines[] = {
		{ "bob@example.net", "123456", NULL },
		{ "not\r\nBcc: x@evil.example", NULL, "address has no @" },
		{ "carol@example.com", "654321", NULL },
	};
	prov_notice n = {
		.from = "Postern <postern@localhost>", .sender = "alice@example.org",
		.date = "Tue, 01 Jul 2025 10:00:00 +0000", .lines = lines, .n = 3,
	};
	size_t len;
	uint8_t *m = prov_render_sender_notice(&n, &len);
	char *text;
	(void)state;

	assert_non_null(m);
	text = (char *)m;
	assert_int_equal(strlen(text), len);
	assert_non_null(strstr(text, "To: alice@example.org\r\n"));
	assert_non_null(strstr(text, "Subject: Postern: PINs for your encrypted message (2 recipients)\r\n"));
	assert_non_null(strstr(text, "bob@example.net\r\n    PIN: 123456\r\n"));
	assert_non_null(strstr(text, "carol@example.com\r\n    PIN: 654321\r\n"));
	{
		ts_mail mm;
		assert_int_equal(ts_mail_parse(m, len, &mm), 0);
		assert_non_null(strstr(mm.text, "by phone or in person - never by mail"));
		ts_mail_free(&mm);
	}
	assert_non_null(strstr(text, "address has no @"));
	assert_non_null(strstr(text, "Tue, 01 Jul 2025 10:00:00 +0000"));
	assert_non_null(strstr(text, "Auto-Submitted: auto-generated"));
	/* no link, no injected header */
	assert_null(strstr(text, "http"));
	assert_null(strstr(text, "\r\nBcc:"));
	free(m);

	/* one PIN; rejected only */
	n.n = 1;
	m = prov_render_sender_notice(&n, &len);
	assert_non_null(strstr((char *)m, "Subject: Postern: PIN for your encrypted message\r\n"));
	assert_null(strstr((char *)m, "could not be delivered"));
	free(m);
	n.lines = lines + 1;
	n.date = "";
	m = prov_render_sender_notice(&n, &len);
	assert_non_null(strstr((char *)m, "not delivered to 1 recipient\r\n"));
	assert_null(strstr((char *)m, "PIN"));
	free(m);
}

static void test_envelope_and_keys(void **state)
{
	pn_pool *pool = pn_pool_new();
	char *e = prov_envelope("A <a@example.org>", "b@example.org", "", "Hi\r\nInjected: 1",
	    "Tue, 1 Jul 2025 10:00:00 +0000", 1);
	char longid[129], *k;
	(void)state;

	assert_string_equal(e, "From: A <a@example.org>\nTo: b@example.org\nCc: \n"
	    "Subject: Hi  Injected: 1\nDate: Tue, 1 Jul 2025 10:00:00 +0000\nAttachments: yes\n");
	free(e);
	assert_string_equal(prov_idem_key("e1", "b@example.org", "invite", pool),
	    "e1/b@example.org/invite");
	memset(longid, 'x', 128);
	longid[128] = '\0';
	k = prov_idem_key(longid, "a-rather-long-local-part-for-testing@a.very.long.subdomain.of.the.domain.example.org",
	    "invite", pool);
	assert_true(strlen(k) <= 200);
	assert_non_null(strstr(k, "/h:"));
	assert_true(prov_event_id_ok("ctl-abc"));
	assert_false(prov_event_id_ok(""));
	assert_false(prov_event_id_ok("with space"));
	assert_false(prov_event_id_ok(longid + 0) && strlen(longid) > 128);
	assert_string_equal(prov_pin_key("a@x.org", "b@y.org", pool), "prov:pin:a@x.org:b@y.org");
	pn_pool_destroy(&pool);
}

static void test_mime_inspect(void **state)
{
	static const struct { const char *mail; int ok; int att; } cases[] = {
		{ "From: A <a@example.org>\r\nSubject: s\r\n\r\nbody\r\n", 1, 0 },
		{ "From: a@example.org\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
		  "Content-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: application/pdf\r\n"
		  "Content-Disposition: attachment; filename=x.pdf\r\n\r\nJVBE\r\n--b--\r\n", 1, 1 },
		{ "", 0, 0 },
		{ "no header here\n", 0, 0 },
		{ "Subject: x\r\n\r\nno from\r\n", 0, 0 },
		{ "From: a@example.org\r\nContent-Type: multipart/mixed\r\n\r\nx\r\n", 0, 0 },
		{ "From: nobody\r\n\r\nx\r\n", 0, 0 },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pn_mime_info info;
		const char *why = NULL;
		pn_err rc = pn_mime_inspect(cases[i].mail, strlen(cases[i].mail), &info, &why);
		if ((rc == PN_OK) != cases[i].ok)
			fail_msg("case %zu: rc %d why %s", i, rc, why ? why : "");
		if (rc == PN_OK) {
			assert_int_equal(info.has_attachments, cases[i].att);
			pn_mime_info_free(&info);
		} else {
			assert_non_null(why);
		}
	}
}

/* brand_up - the mails render with the built-in templates and catalogues */
static int brand_up(void **state)
{
	char err[512];

	(void)state;
	if (ts_brand(&prov_cfg.brand, prov_templates, prov_n_templates, NULL, NULL, err,
	    sizeof(err)) < 0) {
		fprintf(stderr, "brand: %s\n", err);
		return -1;
	}
	return 0;
}

static int brand_down(void **state)
{
	(void)state;
	ts_brand_free(&prov_cfg.brand);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_derivations),
		cmocka_unit_test(test_b64url),
		cmocka_unit_test(test_pin_new),
		cmocka_unit_test(test_key_parse),
		cmocka_unit_test(test_records),
		cmocka_unit_test(test_lockout),
		cmocka_unit_test(test_invitation),
		cmocka_unit_test(test_sender_notice),
		cmocka_unit_test(test_envelope_and_keys),
		cmocka_unit_test(test_mime_inspect),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, brand_up, brand_down);
}
