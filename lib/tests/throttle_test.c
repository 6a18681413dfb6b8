/*
 * throttle_test.c - the lock-out and back-off arithmetic (pn_backoff,
 * with the numbers of the web UI's login, provision's PIN and mailstore's
 * outbox) and the counters against the real Redis of the test run
 * (POSTERN_TEST_REDIS; tests/run sets it, and without it those cases fail).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "postern/redis.h"
#include "postern/throttle.h"

static void test_backoff(void **state)
{
	static const struct {
		long n, after, first, cap, want;
	} cases[] = {
		/* the login: from the 5th failure 60 s, doubling, at most an hour */
		{ 1, 5, 60, 3600, 0 }, { 4, 5, 60, 3600, 0 }, { 5, 5, 60, 3600, 60 },
		{ 6, 5, 60, 3600, 120 }, { 50, 5, 60, 3600, 3600 },
		/* the PIN: at most a day */
		{ 9, 5, 60, 86400, 960 }, { 40, 5, 60, 86400, 86400 },
		/* the outbox: from the first attempt */
		{ 1, 1, 2000, 3600000, 2000 }, { 11, 1, 2000, 3600000, 2048000 },
		{ 12, 1, 2000, 3600000, 3600000 }, { 1000000, 1, 2000, 3600000, 3600000 },
		{ 3, 1, 100, 250, 250 },
		/* the edges: a cap below first, first <= 0, no overflow */
		{ 1, 1, 5000, 1000, 1000 }, { 5, 5, 7200, 3600, 3600 }, { 2, 1, 0, 100, 2 },
		{ 63, 1, 1, 0x7fffffffffffffffL, 0x4000000000000000L },
		{ 64, 1, 1, 0x7fffffffffffffffL, 0x7fffffffffffffffL },
		{ 0, 1, 2000, 3600000, 0 },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long got = pn_backoff(cases[i].n, cases[i].after, cases[i].first, cases[i].cap);
		if (got != cases[i].want)
			fail_msg("case %zu: pn_backoff(%ld, %ld, %ld, %ld) = %ld, want %ld", i,
			    cases[i].n, cases[i].after, cases[i].first, cases[i].cap, got,
			    cases[i].want);
	}
}

/* redis - the test run's Redis; fails the case without one */
static pn_redis *redis(void)
{
	const char *w = getenv("POSTERN_TEST_REDIS");
	pn_redis *r;

	if (!w || !*w)
		fail_msg("POSTERN_TEST_REDIS is not set: run this under tests/run");
	r = pn_redis_open(w, NULL, 2000);
	assert_non_null(r);
	return r;
}

static void test_counters(void **state)
{
	pn_redis *r = redis();
	char key[64], lock[64];
	long long n;
	(void)state;

	snprintf(key, sizeof(key), "throttle_test:%ld:n", (long)getpid());
	snprintf(lock, sizeof(lock), "throttle_test:%ld:lock", (long)getpid());
	pn_redis_cmdv(r, NULL, "DEL", key, lock, (char *)NULL);

	/* nothing yet: not over, no TTL */
	assert_int_equal(pn_throttle_over(r, key, 2, 99), 0);
	assert_int_equal(pn_throttle_ttl(r, key), 0);
	/* a window: the expiry is set by the first count only */
	assert_int_equal(pn_throttle_count(r, key, 100, 1), 1);
	assert_int_equal(pn_throttle_count(r, key, 5000, 1), 2);
	n = pn_throttle_ttl(r, key);
	assert_true(n > 0 && n <= 100);
	/* at the maximum: the seconds left */
	n = pn_throttle_over(r, key, 2, 99);
	assert_true(n > 0 && n <= 100);
	assert_int_equal(pn_throttle_over(r, key, 3, 99), 0);
	/* not a window: every count moves the expiry */
	assert_int_equal(pn_throttle_count(r, key, 5000, 0), 3);
	assert_true(pn_throttle_ttl(r, key) > 100);
	/* without a TTL the default answers */
	assert_int_equal(pn_redis_cmdv(r, NULL, "PERSIST", key, (char *)NULL), PN_OK);
	assert_int_equal(pn_throttle_over(r, key, 3, 99), 99);
	assert_int_equal(pn_throttle_int(r, "GET", key, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(pn_throttle_int(r, "DEL", key, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(pn_throttle_int(r, "GET", key, &n), 0);
	assert_int_equal(n, 0);

	/* a lock-out */
	assert_int_equal(pn_throttle_lock(r, lock, 60), 0);
	n = pn_throttle_ttl(r, lock);
	assert_true(n > 0 && n <= 60);
	pn_redis_cmdv(r, NULL, "DEL", lock, (char *)NULL);
	pn_redis_close(&r);
}

static void test_unreachable(void **state)
{
	pn_redis *r = pn_redis_open("127.0.0.1:1", NULL, 200);
	long long n;
	(void)state;

	assert_non_null(r);
	assert_int_equal(pn_throttle_int(r, "GET", "x", &n), -1);
	assert_int_equal(pn_throttle_count(r, "x", 10, 1), -1);
	assert_int_equal(pn_throttle_over(r, "x", 1, 5), -1);
	assert_int_equal(pn_throttle_ttl(r, "x"), -1);
	assert_int_equal(pn_throttle_lock(r, "x", 10), -1);
	pn_redis_close(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_counters),
		cmocka_unit_test(test_unreachable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
