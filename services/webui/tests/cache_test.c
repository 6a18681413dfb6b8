/*
 * cache_test.c - the pure parts of the envelope cache (web_cache.c) and
 * of the lazy session touch (web_sess.c): the envelope key derivation
 * (pinned with a vector computed independently with Python's
 * hashlib.blake2b), sealed entries that open only for their own key,
 * mailbox and message, that hold no plaintext and refuse anything
 * damaged; and when a touch is due.
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

#include "../web_cache.h"
#include "../web_cfg.h"
#include "../web_crypto.h"
#include "../web_mail.h"
#include "../web_sess.h"
#include "../web_util.h"

static void test_env_box(void **state)
{
	uint8_t c[32], env[32], box[32];
	char hex[65];
	(void)state;

	for (int i = 0; i < 32; i++)
		c[i] = (uint8_t)(100 + i);
	web_env_box(c, env);
	web_hex(hex, env, 32);
	assert_string_equal(hex, "e5424c1ef726495bae3a815cd845450abf924bf36f8fe3db0c2225d048dcc768");
	web_sess_box(c, box);
	assert_memory_not_equal(env, box, 32);        /* its own purpose */
}

/* full - an envelope with every field at its longest */
static void full(web_env *e)
{
	memset(e, 0, sizeof(*e));
	memset(e->from, 'f', sizeof(e->from) - 1);
	memset(e->to, 't', sizeof(e->to) - 1);
	memset(e->subject, 's', sizeof(e->subject) - 1);
	memset(e->date, 'd', sizeof(e->date) - 1);
	e->attachments = 1;
}

static void test_seal_open(void **state)
{
	uint8_t key[32], other[32], *box;
	web_env e, back;
	size_t len;
	(void)state;

	randombytes_buf(key, sizeof(key));
	randombytes_buf(other, sizeof(other));
	memset(&e, 0, sizeof(e));
	strcpy(e.from, "\"Alice Sender\" <alice@example.org>");
	strcpy(e.to, "bob@example.net");
	strcpy(e.subject, "Quarterly <report> \xc3\xa4");
	strcpy(e.date, "Tue, 01 Jul 2025 10:00:00 +0000");
	box = web_env_seal(key, 11, 4711, &e, &len);
	assert_null(memmem(box, len, "Quarterly", 9));   /* ciphertext only */
	assert_null(memmem(box, len, "alice", 5));
	assert_int_equal(web_env_open(key, 11, 4711, box, len, &back), 0);
	assert_string_equal(back.from, e.from);
	assert_string_equal(back.to, e.to);
	assert_string_equal(back.subject, e.subject);
	assert_string_equal(back.date, e.date);
	assert_int_equal(back.attachments, 0);

	/* another key, message or mailbox: the entry does not open (nor leaves anything) */
	assert_int_equal(web_env_open(other, 11, 4711, box, len, &back), -1);
	assert_string_equal(back.subject, "");
	assert_int_equal(web_env_open(key, 11, 4712, box, len, &back), -1);
	assert_int_equal(web_env_open(key, 12, 4711, box, len, &back), -1);
	/* damaged or cut */
	box[len / 2] ^= 1;
	assert_int_equal(web_env_open(key, 11, 4711, box, len, &back), -1);
	box[len / 2] ^= 1;
	assert_int_equal(web_env_open(key, 11, 4711, box, len - 1, &back), -1);
	assert_int_equal(web_env_open(key, 11, 4711, box, 0, &back), -1);
	assert_int_equal(web_env_open(key, 11, 4711, box, 30, &back), -1);
	assert_int_equal(web_env_open(key, 11, 4711, box, len, &back), 0);
	free(box);

	/* every field at its longest round-trips; a nonce of its own each time */
	full(&e);
	box = web_env_seal(key, 1, 2, &e, &len);
	assert_int_equal(web_env_open(key, 1, 2, box, len, &back), 0);
	assert_memory_equal(&back, &e, sizeof(e));
	{
		size_t len2;
		uint8_t *box2 = web_env_seal(key, 1, 2, &e, &len2);
		assert_int_equal(len2, len);
		assert_memory_not_equal(box, box2, len);
		free(box2);
	}
	free(box);
}

/* seal_raw - a box of arbitrary plaintext under key, as web_env_seal lays it out */
static uint8_t *seal_raw(const uint8_t key[32], const uint8_t *plain, size_t n, size_t *len_r)
{
	uint8_t *out = malloc(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + n);

	assert_non_null(out);
	randombytes_buf(out, crypto_secretbox_NONCEBYTES);
	crypto_secretbox_easy(out + crypto_secretbox_NONCEBYTES, plain, n, out, key);
	*len_r = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + n;
	return out;
}

/* test_forged_layout - authentic boxes with a bad inside are refused too */
static void test_forged_layout(void **state)
{
	uint8_t key[32], plain[2048], *box;
	size_t len, n;
	web_env back;
	(void)state;

	randombytes_buf(key, sizeof(key));
	/* version 1, mailbox 1, message 2, attachments 0, then four fields */
#define HEAD() do { memset(plain, 0, sizeof(plain)); plain[0] = 1; plain[8] = 1; \
	plain[16] = 2; n = 18; } while (0)
#define FIELD(len16) do { plain[n] = (uint8_t)((len16) >> 8); plain[n + 1] = (uint8_t)(len16); \
	memset(plain + n + 2, 'x', (len16)); n += 2 + (len16); } while (0)
	HEAD();
	FIELD(3); FIELD(3); FIELD(3); FIELD(3);
	box = seal_raw(key, plain, n, &len);
	assert_int_equal(web_env_open(key, 1, 2, box, len, &back), 0);    /* the layout is right */
	assert_string_equal(back.subject, "xxx");
	free(box);

	HEAD();                                   /* a from longer than its field */
	FIELD(256); FIELD(0); FIELD(0); FIELD(0);
	box = seal_raw(key, plain, n, &len);
	assert_int_equal(web_env_open(key, 1, 2, box, len, &back), -1);
	free(box);

	HEAD();                                   /* a length past the end */
	FIELD(3); FIELD(3); FIELD(3);
	plain[n] = 0; plain[n + 1] = 50; n += 2 + 3;
	box = seal_raw(key, plain, n, &len);
	assert_int_equal(web_env_open(key, 1, 2, box, len, &back), -1);
	free(box);

	HEAD();                                   /* trailing bytes */
	FIELD(1); FIELD(1); FIELD(1); FIELD(1);
	n += 1;
	box = seal_raw(key, plain, n, &len);
	assert_int_equal(web_env_open(key, 1, 2, box, len, &back), -1);
	free(box);

	HEAD();                                   /* a NUL inside a value */
	FIELD(3); FIELD(3); FIELD(3); FIELD(3);
	plain[18 + 2 + 1] = '\0';
	box = seal_raw(key, plain, n, &len);
	assert_int_equal(web_env_open(key, 1, 2, box, len, &back), -1);
	free(box);

	HEAD();                                   /* another version */
	plain[0] = 2;
	FIELD(1); FIELD(1); FIELD(1); FIELD(1);
	box = seal_raw(key, plain, n, &len);
	assert_int_equal(web_env_open(key, 1, 2, box, len, &back), -1);
	free(box);

	HEAD();                                   /* attachments must be 0 or 1 */
	plain[17] = 7;
	FIELD(1); FIELD(1); FIELD(1); FIELD(1);
	box = seal_raw(key, plain, n, &len);
	assert_int_equal(web_env_open(key, 1, 2, box, len, &back), -1);
	free(box);
#undef HEAD
#undef FIELD
}

static void test_touch_due(void **state)
{
	web_sess s;
	(void)state;

	web_cfg.session_idle = 900;
	web_cfg.session_max = 28800;
	memset(&s, 0, sizeof(s));
	s.kind = WEB_SESS_AUTH;
	s.created = 1000;
	assert_int_equal(web_sess_slack_ms(), 60000);      /* a tenth of 900 s, capped at a minute */

	s.ttl_ms = -1;                                       /* unknown: touch */
	assert_true(web_sess_touch_due(&s, 1100));
	s.ttl_ms = 900000;                                   /* just touched */
	assert_false(web_sess_touch_due(&s, 1100));
	s.ttl_ms = 900000 - 59999;
	assert_false(web_sess_touch_due(&s, 1100));
	s.ttl_ms = 900000 - 60000;                           /* a minute gone */
	assert_true(web_sess_touch_due(&s, 1100));
	/* near the absolute end the full value is what is left: nothing to extend */
	s.ttl_ms = 50000;
	assert_false(web_sess_touch_due(&s, 1000 + 28800 - 50));
	assert_false(web_sess_touch_due(&s, 1000 + 28800));  /* expired */
	/* not logged in: never */
	s.kind = WEB_SESS_FLOW;
	s.ttl_ms = -1;
	assert_false(web_sess_touch_due(&s, 1100));

	/* a short idle timeout: a tenth of it */
	web_cfg.session_idle = 3;
	assert_int_equal(web_sess_slack_ms(), 300);
	s.kind = WEB_SESS_AUTH;
	s.ttl_ms = 2800;
	assert_false(web_sess_touch_due(&s, 1100));
	s.ttl_ms = 2700;
	assert_true(web_sess_touch_due(&s, 1100));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_env_box),
		cmocka_unit_test(test_seal_open),
		cmocka_unit_test(test_forged_layout),
		cmocka_unit_test(test_touch_due),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
