/*
 * crypto_test.c - web_crypto.c and the sealed session records of
 * web_sess.c. The link derivations are pinned with literal vectors
 * computed independently (Python's hashlib.blake2b) from the
 * construction in docs/security.md, so the web UI and provision cannot
 * drift apart without this failing.
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
#include "../web_crypto.h"
#include "../web_sess.h"
#include "../web_util.h"
#include "postern/guest.h"
#include "postern/mem.h"

static const uint8_t LINK[32] = {
	0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
	16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31,
};

static void test_link_vectors(void **state)
{
	uint8_t h[32], back[32];
	char hex[65], pass[WEB_PASS_TEXT], text[WEB_LINK_TEXT];
	(void)state;

	pn_b64url(text, sizeof(text), LINK, 32);
	assert_string_equal(text, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8");
	assert_int_equal(pn_b64url_decode(back, sizeof(back), text, strlen(text)), 32);
	assert_memory_equal(back, LINK, 32);
	assert_int_equal(pn_b64url_decode(back, sizeof(back), "AAEC+wQF", 8), -1);
	assert_int_equal(pn_b64url_decode(back, sizeof(back), "AAECAw==", 8), -1);

	pn_guest_link_hash(LINK, h);
	web_hex(hex, h, 32);
	assert_string_equal(hex, "cb2f5160fc1f7e05a55ef49d340b48da2e5a78099d53393351cd579dd42503d6");
	pn_guest_passphrase(LINK, "123456", pass);
	assert_string_equal(pass, "AuP3xzakapLWSWIylSg6qEheenNiDm3G_JINfJPqNXY");
	pn_guest_passphrase(LINK, "", pass);
	assert_string_equal(pass, "IXHHYBE4f7EvDNDF6PJBThdShekX7yPJ0lRFvp0ekmQ");
	pn_guest_passphrase(LINK, NULL, pass);
	assert_string_equal(pass, "IXHHYBE4f7EvDNDF6PJBThdShekX7yPJ0lRFvp0ekmQ");
}

static void test_session_derivations(void **state)
{
	uint8_t c[32], box[32], box2[32];
	char id[65], csrf[WEB_PASS_TEXT], sp[WEB_PASS_TEXT];
	(void)state;

	for (int i = 0; i < 32; i++)
		c[i] = (uint8_t)(100 + i);
	web_sess_id(c, id);
	assert_string_equal(id, "945d19f2d4f9ddbb298b89ee89f924fcbbefe1937ccaca3386a6dfd41ac5f922");
	web_sess_csrf(c, csrf);
	assert_string_equal(csrf, "JaSCXDgxGO0_jD9wHhxK3V5sd6Q-IiXIeMgGo9DfqHg");
	/* the message cache's box key (Python's hashlib.blake2b computed it) */
	web_msg_box(c, box);
	web_hex(id, box, 32);
	assert_string_equal(id, "b7973701ed8222a15a8ba63bf7686ff93fdcc2b3a483d2584ddc2b6d336d46a7");
	web_page_box(c, box2);
	assert_memory_not_equal(box, box2, 32);
	/* every purpose gets its own value */
	web_sess_pass(c, sp);
	assert_string_not_equal(sp, csrf);
	web_sess_box(c, box);
	c[0] ^= 1;
	web_sess_box(c, box2);
	assert_memory_not_equal(box, box2, 32);

	assert_true(web_ct_equal(csrf, csrf));
	assert_false(web_ct_equal(csrf, sp));
	assert_false(web_ct_equal(csrf, ""));
	assert_false(web_ct_equal("", ""));
	assert_false(web_ct_equal(csrf, NULL));
	csrf[42] ^= 1;
	assert_false(web_ct_equal(csrf, "JaSCXDgxGO0_jD9wHhxK3V5sd6Q-IiXIeMgGo9DfqHg"));
}

static void test_seal_open(void **state)
{
	web_sess s, t;
	uint8_t *rec;
	size_t len;
	char text[WEB_COOKIE_TEXT];
	(void)state;

	memset(&s, 0, sizeof(s));
	web_sess_new_cookie(&s);
	s.kind = WEB_SESS_AUTH;
	s.mailbox_id = 4711;
	s.created = 1700000000;
	s.has_pin = 1;
	s.pin_ok = 1;
	memcpy(s.link, LINK, 32);
	strcpy(s.pin, "123456");
	s.address = pn_strdup("bob@example.org");
	s.key.data = (uint8_t *)pn_strdup("-----BEGIN PGP PRIVATE KEY BLOCK-----");
	s.key.len = strlen((char *)s.key.data);
	rec = web_sess_seal(&s, &len);
	/* nothing readable in the sealed record */
	assert_null(memmem(rec, len, "bob@", 4));
	assert_null(memmem(rec, len, "PGP", 3));

	memset(&t, 0, sizeof(t));
	web_sess_cookie_text(&s, text);
	assert_int_equal(web_sess_cookie_parse(&t, text), 0);
	assert_int_equal(web_sess_open(&t, rec, len), 0);
	assert_int_equal(t.kind, WEB_SESS_AUTH);
	assert_int_equal(t.mailbox_id, 4711);
	assert_int_equal(t.created, 1700000000);
	assert_true(t.has_pin && t.pin_ok);
	assert_memory_equal(t.link, LINK, 32);
	assert_string_equal(t.pin, "123456");
	assert_string_equal(t.address, "bob@example.org");
	assert_int_equal(t.key.len, s.key.len);
	assert_memory_equal(t.key.data, s.key.data, s.key.len);
	assert_string_equal(t.lang, "");
	web_sess_clear(&t);
	{
		/* the language travels in the record too */
		uint8_t *rec2;
		size_t len2;
		strcpy(s.lang, "de");
		rec2 = web_sess_seal(&s, &len2);
		memset(&t, 0, sizeof(t));
		memcpy(t.c, s.c, sizeof(t.c));
		assert_int_equal(web_sess_open(&t, rec2, len2), 0);
		assert_string_equal(t.lang, "de");
		assert_string_equal(t.address, "bob@example.org");
		web_sess_clear(&t);
		free(rec2);
		s.lang[0] = '\0';
	}

	/* another cookie, a flipped bit, a cut record: refused */
	memset(&t, 0, sizeof(t));
	web_sess_new_cookie(&t);
	assert_int_equal(web_sess_open(&t, rec, len), -1);
	assert_int_equal(t.kind, WEB_SESS_NONE);
	memcpy(t.c, s.c, 32);
	rec[len - 1] ^= 1;
	assert_int_equal(web_sess_open(&t, rec, len), -1);
	rec[len - 1] ^= 1;
	assert_int_equal(web_sess_open(&t, rec, len - 1), -1);
	assert_int_equal(web_sess_open(&t, rec, 10), -1);
	web_sess_clear(&t);

	/* cookie text must be exactly 43 base64url characters */
	memset(&t, 0, sizeof(t));
	assert_int_equal(web_sess_cookie_parse(&t, "short"), -1);
	assert_int_equal(web_sess_cookie_parse(&t, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="), -1);
	assert_false(t.have_cookie);
	free(rec);
	web_sess_clear(&s);
}

static void test_ttl(void **state)
{
	web_sess s;
	(void)state;

	web_cfg.session_idle = 900;
	web_cfg.session_max = 28800;
	web_cfg.flow_ttl = 1800;
	memset(&s, 0, sizeof(s));
	s.kind = WEB_SESS_AUTH;
	s.created = 1000;
	assert_int_equal(web_sess_ttl(&s, 1000), 900);
	assert_int_equal(web_sess_ttl(&s, 1000 + 28800 - 100), 100);
	assert_true(web_sess_ttl(&s, 1000 + 28800) <= 0);
	s.kind = WEB_SESS_FLOW;
	assert_int_equal(web_sess_ttl(&s, 1000), 1800);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_link_vectors),
		cmocka_unit_test(test_session_derivations),
		cmocka_unit_test(test_seal_open),
		cmocka_unit_test(test_ttl),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
