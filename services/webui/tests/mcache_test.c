/*
 * mcache_test.c - the message cache (web_mcache.c, on web_kept.c) on its
 * own: a kept message comes back byte for byte with its flags only for
 * its own session, mailbox, message and folder version, only while young
 * enough; a new version (a message deleted, revoked or marked seen
 * elsewhere) misses; logout drops the session's messages and only those;
 * the byte bound forgets the oldest first and never keeps what does not
 * fit; an entry past the age bound is freed by the next put; a table
 * turned off keeps nothing. (The message-box key's vector is pinned in
 * crypto_test.c.)
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

#include "../web_crypto.h"
#include "../web_mail.h"
#include "../web_mcache.h"
#include "../web_sess.h"
#include "../web_util.h"

#include "cache_fixture.h"

#define MAIL "From: a@example.org\r\nSubject: Quarterly <report>\r\n\r\nsecret body text\r\n"


/* get - web_mcache_get into a fresh buffer; the text or NULL (caller frees) */
static char *get(const web_sess *s, int64_t id, const char *ver, long now, int64_t *flags)
{
	web_buf b;

	web_buf_init(&b);
	return taken(&b, web_mcache_get(s, id, ver, now, &b, flags));
}

static void test_hit_miss_invalidation(void **state)
{
	const int64_t flags_in = 1 | WEB_MCACHE_SEEN;
	web_sess s, other, moved;
	int64_t flags = 0;
	char *got;
	(void)state;

	assert_int_equal(web_mcache_init(64, 60, 0), 0);
	sess(&s, 7, 42);
	assert_int_equal(web_mcache_mailbox(s.c, 900), 0);
	assert_null(get(&s, 900, VER_A, NOW, &flags));       /* miss: nothing kept yet */
	web_mcache_put(&s, 900, VER_A, NOW, MAIL, strlen(MAIL), flags_in);
	assert_int_equal(web_mcache_mailbox(s.c, 900), 42);

	/* hit: the text byte for byte, the flags */
	got = get(&s, 900, VER_A, NOW + 5, &flags);
	assert_non_null(got);
	assert_string_equal(got, MAIL);
	assert_int_equal(flags, flags_in);
	free(got);

	/* every part of the key matters */
	assert_null(get(&s, 900, VER_B, NOW, &flags));       /* deleted, revoked, seen: a new version */
	assert_null(get(&s, 901, VER_A, NOW, &flags));       /* another message */
	assert_null(get(&s, 900, "", NOW, &flags));          /* no version */
	sess(&other, 8, 42);                                 /* another session, same mailbox */
	assert_null(get(&other, 900, VER_A, NOW, &flags));
	assert_int_equal(web_mcache_mailbox(other.c, 900), 0);
	sess(&moved, 7, 43);                                 /* the cookie, another mailbox */
	assert_null(get(&moved, 900, VER_A, NOW, &flags));
	moved.mailbox_id = 42;
	moved.kind = WEB_SESS_NONE;                          /* expired or logged out: no record */
	assert_null(get(&moved, 900, VER_A, NOW, &flags));

	/* age: up to the bound, not past it, not from the future */
	got = get(&s, 900, VER_A, NOW + 60, &flags);
	assert_non_null(got);
	free(got);
	assert_null(get(&s, 900, VER_A, NOW + 61, &flags));
	assert_null(get(&s, 900, VER_A, NOW - 1, &flags));

	/* logout drops every message of the cookie, and only those */
	web_mcache_put(&s, 901, VER_A, NOW, "two", 3, 1);
	web_mcache_put(&other, 900, VER_A, NOW, "theirs", 6, 1);
	web_mcache_drop(s.c);
	assert_null(get(&s, 900, VER_A, NOW, &flags));
	assert_null(get(&s, 901, VER_A, NOW, &flags));
	got = get(&other, 900, VER_A, NOW, &flags);
	assert_string_equal(got, "theirs");
	free(got);
	web_mcache_drop(other.c);
	assert_int_equal(web_mcache_bytes(), 0);
	web_mcache_fini();
}

static void test_bounds(void **state)
{
	web_sess s;
	int64_t flags;
	char *big, *got;
	size_t one;
	(void)state;

	sess(&s, 1, 5);
	/* the byte bound: room for two entries of this size, the oldest goes first */
	assert_int_equal(web_mcache_init(64, 60, 0), 0);
	web_mcache_put(&s, 1, VER_A, NOW, MAIL, strlen(MAIL), 0);
	one = web_mcache_bytes();
	assert_true(one > strlen(MAIL) + 16);             /* the text, the head, the box's MAC */
	web_mcache_fini();
	assert_int_equal(web_mcache_init(64, 60, (long)(2 * one)), 0);
	web_mcache_put(&s, 1, VER_A, NOW, MAIL, strlen(MAIL), 0);
	web_mcache_put(&s, 2, VER_A, NOW + 1, MAIL, strlen(MAIL), 0);
	web_mcache_put(&s, 3, VER_A, NOW + 2, MAIL, strlen(MAIL), 0);
	assert_int_equal(web_mcache_bytes(), 2 * one);
	assert_null(get(&s, 1, VER_A, NOW + 2, &flags));      /* the oldest went */
	got = get(&s, 3, VER_A, NOW + 2, &flags);
	assert_non_null(got);
	free(got);
	/* an entry that cannot fit at all is not kept, and costs nothing */
	big = malloc(3 * one);
	memset(big, 'x', 3 * one);
	web_mcache_put(&s, 4, VER_A, NOW + 3, big, 3 * one, 0);
	assert_null(get(&s, 4, VER_A, NOW + 3, &flags));
	free(big);

	/* past the age bound: freed by the next put, not only refused */
	web_mcache_put(&s, 5, VER_A, NOW + 100, MAIL, strlen(MAIL), 0);
	assert_int_equal(web_mcache_bytes(), one);

	/* larger than one entry may be */
	web_mcache_fini();
	assert_int_equal(web_mcache_init(4, 60, 0), 0);
	big = malloc(WEB_MCACHE_ENTRY_MAX + 1);
	memset(big, 'y', WEB_MCACHE_ENTRY_MAX + 1);
	web_mcache_put(&s, 6, VER_A, NOW, big, WEB_MCACHE_ENTRY_MAX + 1, 0);
	assert_null(get(&s, 6, VER_A, NOW, &flags));
	assert_int_equal(web_mcache_bytes(), 0);
	free(big);

	/* turned off: nothing is kept, nothing found */
	assert_int_equal(web_mcache_init(0, 60, 0), 0);
	web_mcache_put(&s, 1, VER_A, NOW, MAIL, strlen(MAIL), 0);
	assert_null(get(&s, 1, VER_A, NOW, &flags));
	assert_int_equal(web_mcache_mailbox(s.c, 1), 0);
	web_mcache_drop(s.c);
	web_mcache_fini();
}

/* what is kept is the message taken apart: packed and unpacked, it is the same message */
static void test_pack(void **state)
{
	static const char mime[] =
	    "From: \"Alice\" <alice@example.org>\r\nTo: bob@example.net\r\nCc: c@example.org\r\n"
	    "Reply-To: r@example.org\r\nSubject: Quarterly <report>\r\nMessage-ID: <m1@example.org>\r\n"
	    "Date: Thu, 03 Dec 2026 15:04:05 +0100\r\n"
	    "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
	    "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nsecret body text\r\n"
	    "--b\r\nContent-Type: application/octet-stream; name=\"x.bin\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\nAAECAwD/\r\n--b--\r\n";
	web_mail m, u;
	web_buf b;
	(void)state;

	assert_int_equal(web_mail_parse(mime, strlen(mime), &m), 0);
	web_buf_init(&b);
	web_mail_pack(&m, &b);
	assert_int_equal(web_mail_unpack(b.data, b.len, &u), 0);
	assert_string_equal(u.from, m.from);
	assert_string_equal(u.to, m.to);
	assert_string_equal(u.cc, m.cc);
	assert_string_equal(u.subject, m.subject);
	assert_string_equal(u.text, m.text);
	assert_null(u.html);
	assert_string_equal(u.message_id, m.message_id);
	/* the parsed Date too: the read view shows it in the reader's language and zone */
	assert_string_equal(u.date, m.date);
	assert_true(m.date_unix == 1796306645LL);
	assert_true(u.date_unix == m.date_unix);
	assert_int_equal(u.n_att, 1);
	assert_string_equal(u.att[0].filename, "x.bin");
	assert_int_equal(u.att[0].len, 6);
	assert_memory_equal(u.att[0].data, m.att[0].data, 6);
	assert_int_equal(u.n_from, m.n_from);
	assert_string_equal(u.from_list[0], m.from_list[0]);
	assert_int_equal(u.n_reply_to, m.n_reply_to);
	assert_int_equal(u.n_cc, m.n_cc);
	web_mail_free(&u);
	/* anything but the whole of it does not unpack */
	for (size_t cut = 0; cut < b.len; cut += 7)
		assert_int_equal(web_mail_unpack(b.data, cut, &u), -1);
	web_buf_add(&b, "x", 1);
	assert_int_equal(web_mail_unpack(b.data, b.len, &u), -1);
	web_buf_free(&b);
	web_mail_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hit_miss_invalidation),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_pack),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
