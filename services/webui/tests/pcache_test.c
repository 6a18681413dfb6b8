/*
 * pcache_test.c - the folder page cache (web_pcache.c) on its own: a kept
 * page comes back byte for byte only for its own session, mailbox,
 * folder, page and version, only while young enough; logout drops it; a
 * slot taken by another page forgets the first; an entry too large or a
 * cache turned off keeps nothing; and threads that share the table only
 * ever see their own pages. The page-box key derivation is pinned with a
 * vector computed independently (Python's hashlib.blake2b).
 */
#include <pthread.h>
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
#include "../web_pcache.h"
#include "../web_sess.h"
#include "../web_util.h"

#include "cache_fixture.h"

/* get - web_pcache_get into a fresh buffer; the body or NULL (caller frees) */
static char *get(const web_sess *s, int folder, long page, const char *ver, long now,
    int64_t *la)
{
	web_buf b;

	web_buf_init(&b);
	return taken(&b, web_pcache_get(s, folder, page, ver, now, &b, la));
}

static void test_page_box(void **state)
{
	uint8_t c[32], page[32], env[32];
	char hex[65];
	(void)state;

	for (int i = 0; i < 32; i++)
		c[i] = (uint8_t)(100 + i);
	web_page_box(c, page);
	web_hex(hex, page, 32);
	assert_string_equal(hex, "4e3c168b7e2b663c4cee58898522f25acebb5be659f0ef775ee9833b8bb22c67");
	web_env_box(c, env);
	assert_memory_not_equal(page, env, 32);      /* its own purpose */
}

static void test_kept_and_matched(void **state)
{
	static const char body[] = "<ul class=\"msgs\"><li>Quarterly &lt;report&gt;</li></ul>\n";
	web_sess s, other, moved;
	int64_t la = 0;
	char *got;
	(void)state;

	assert_int_equal(web_pcache_init(64, 60), 0);
	sess(&s, 7, 42);
	assert_int_equal(web_pcache_mailbox(s.c, 0, 0), 0);
	assert_null(get(&s, 0, 0, VER_A, NOW, &la));
	web_pcache_put(&s, 0, 0, VER_A, NOW, body, strlen(body), 1234567);
	assert_int_equal(web_pcache_mailbox(s.c, 0, 0), 42);

	got = get(&s, 0, 0, VER_A, NOW + 5, &la);
	assert_non_null(got);
	assert_string_equal(got, body);
	assert_int_equal(la, 1234567);
	free(got);

	/* every part of the key matters */
	assert_null(get(&s, 0, 0, VER_B, NOW, &la));          /* the folders changed */
	assert_null(get(&s, 1, 0, VER_A, NOW, &la));          /* Sent */
	assert_null(get(&s, 0, 1, VER_A, NOW, &la));          /* page 2 */
	assert_null(get(&s, 0, 0, "", NOW, &la));             /* no version */
	assert_null(get(&s, 0, 0, "0123", NOW, &la));         /* not a version */
	sess(&other, 8, 42);                                  /* another session, same mailbox */
	assert_null(get(&other, 0, 0, VER_A, NOW, &la));
	assert_int_equal(web_pcache_mailbox(other.c, 0, 0), 0);
	sess(&moved, 7, 43);                                  /* the cookie, another mailbox */
	assert_null(get(&moved, 0, 0, VER_A, NOW, &la));
	moved.mailbox_id = 42;
	moved.kind = WEB_SESS_FLOW;                           /* not logged in */
	assert_null(get(&moved, 0, 0, VER_A, NOW, &la));

	/* age: up to the bound, not past it, not from the future */
	got = get(&s, 0, 0, VER_A, NOW + 60, &la);
	assert_non_null(got);
	free(got);
	assert_null(get(&s, 0, 0, VER_A, NOW + 61, &la));
	assert_null(get(&s, 0, 0, VER_A, NOW - 1, &la));

	/* a newer put under a new version replaces it */
	web_pcache_put(&s, 0, 0, VER_B, NOW + 10, "new", 3, 7);
	assert_null(get(&s, 0, 0, VER_A, NOW + 10, &la));
	got = get(&s, 0, 0, VER_B, NOW + 10, &la);
	assert_string_equal(got, "new");
	free(got);

	/* logout drops every page of the cookie, and only those */
	web_pcache_put(&s, 1, 0, VER_B, NOW, "sent", 4, 7);
	web_pcache_put(&other, 0, 0, VER_B, NOW, "theirs", 6, 7);
	web_pcache_drop(s.c);
	assert_null(get(&s, 0, 0, VER_B, NOW + 10, &la));
	assert_null(get(&s, 1, 0, VER_B, NOW, &la));
	got = get(&other, 0, 0, VER_B, NOW, &la);
	assert_string_equal(got, "theirs");
	free(got);
	web_pcache_fini();
}

static void test_bounds(void **state)
{
	web_sess s, t;
	int64_t la;
	char *big, *got;
	(void)state;

	sess(&s, 1, 5);
	sess(&t, 2, 6);

	/* one slot: the second page takes it */
	assert_int_equal(web_pcache_init(1, 60), 0);
	web_pcache_put(&s, 0, 0, VER_A, NOW, "first", 5, 1);
	web_pcache_put(&t, 0, 0, VER_A, NOW, "second", 6, 1);
	assert_null(get(&s, 0, 0, VER_A, NOW, &la));
	got = get(&t, 0, 0, VER_A, NOW, &la);
	assert_string_equal(got, "second");
	free(got);

	/* too large to keep */
	big = malloc(WEB_PCACHE_ENTRY_MAX + 2);
	memset(big, 'x', WEB_PCACHE_ENTRY_MAX + 1);
	big[WEB_PCACHE_ENTRY_MAX + 1] = '\0';
	web_pcache_put(&s, 0, 0, VER_B, NOW, big, WEB_PCACHE_ENTRY_MAX + 1, 1);
	assert_null(get(&s, 0, 0, VER_B, NOW, &la));
	web_pcache_put(&s, 0, 0, VER_B, NOW, big, WEB_PCACHE_ENTRY_MAX, 1);
	got = get(&s, 0, 0, VER_B, NOW, &la);
	assert_non_null(got);
	assert_int_equal(strlen(got), WEB_PCACHE_ENTRY_MAX);
	free(got);
	free(big);

	/* turned off: nothing is kept, nothing found */
	assert_int_equal(web_pcache_init(0, 60), 0);
	web_pcache_put(&s, 0, 0, VER_A, NOW, "first", 5, 1);
	assert_null(get(&s, 0, 0, VER_A, NOW, &la));
	assert_int_equal(web_pcache_mailbox(s.c, 0, 0), 0);
	web_pcache_drop(s.c);
	web_pcache_fini();
}

/* ---- threads: each writes and reads its own pages in a small shared table ---- */

typedef struct worker {
	int id;
	long hits, wrong;
} worker;

static void *work(void *arg)
{
	worker *w = arg;
	web_sess s;
	char body[64], want[64];
	int64_t la;

	sess(&s, (uint8_t)(w->id + 1), 100 + w->id);
	for (int i = 0; i < 4000; i++) {
		long page = i % 3;
		web_buf b;
		snprintf(body, sizeof(body), "worker %d page %ld round %d", w->id, page, i);
		web_pcache_put(&s, 0, page, VER_A, NOW, body, strlen(body), w->id);
		web_buf_init(&b);
		if (web_pcache_get(&s, 0, (i + 1) % 3, VER_A, NOW, &b, &la) == 0) {
			snprintf(want, sizeof(want), "worker %d page %ld ", w->id, (long)((i + 1) % 3));
			if (strncmp(b.data, want, strlen(want)) || la != w->id)
				w->wrong++;
			else
				w->hits++;
		}
		web_buf_free(&b);
	}
	return NULL;
}

static void test_threads(void **state)
{
	pthread_t th[4];
	worker w[4];
	long hits = 0;
	(void)state;

	assert_int_equal(web_pcache_init(8, 60), 0);
	for (int i = 0; i < 4; i++) {
		w[i] = (worker){ .id = i };
		assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].wrong, 0);
		hits += w[i].hits;
	}
	assert_true(hits > 0);                      /* pages were found, not only missed */
	web_pcache_fini();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_page_box),
		cmocka_unit_test(test_kept_and_matched),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_threads),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
