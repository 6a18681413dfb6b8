/*
 * recent_test.c - prov_recent.c: the table of recent guest mailboxes'
 * public keys that early encryption reads.
 *
 * test_put_get: what is put comes back (a copy: the caller's buffer may
 * change), another address gets nothing, a second put replaces the key.
 * test_forget: forgotten is gone; forgetting an address that shares the
 * slot but is not there leaves the entry alone.
 * test_age: with a test clock, an entry is used until PROV_RECENT_MAX_AGE
 * and not after; a put of the same key renews it.
 * test_bounds: slots 0 is off (NULL, and every call on NULL is harmless),
 * empty and oversized keys are not kept, one slot holds one entry (the
 * newest), prov_recent_same compares bytes and never calls empty equal.
 * test_shared: what get gives is a copy in the caller's pool (a later put
 * does not change it); two threads putting and getting the same addresses
 * at once (as two workers do) only ever get a whole key one of them put.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>

#include <cmocka.h>

#include "../prov.h"

static long fake_now = 1000;
static pn_pool *pool;           /* where the tests' gets copy to */

static long test_clock(void)
{
	return fake_now;
}

/* key_of - a binary key over text (not copied) */
static ProtobufCBinaryData key_of(const char *text)
{
	ProtobufCBinaryData k = { strlen(text), (uint8_t *)text };
	return k;
}

static void test_put_get(void **state)
{
	prov_recent *r = prov_recent_new(64);
	char buf[] = "public key one";
	ProtobufCBinaryData k = key_of(buf), k2 = key_of("public key two");
	const ProtobufCBinaryData *got;
	(void)state;

	prov_recent_put(r, "anna@example.org", &k);
	buf[0] = 'X';           /* the table holds its own copy */
	got = prov_recent_get(r, "anna@example.org", pool);
	assert_non_null(got);
	assert_int_equal(got->len, strlen("public key one"));
	assert_memory_equal(got->data, "public key one", got->len);
	assert_null(prov_recent_get(r, "otto@example.org", pool));
	assert_null(prov_recent_get(r, "ANNA@example.org", pool));
	prov_recent_put(r, "anna@example.org", &k2);
	got = prov_recent_get(r, "anna@example.org", pool);
	assert_true(prov_recent_same(got, &k2));
	prov_recent_free(&r);
	assert_null(r);
}

static void test_forget(void **state)
{
	prov_recent *one = prov_recent_new(1);  /* every address shares the slot */
	ProtobufCBinaryData k = key_of("key");
	(void)state;

	prov_recent_put(one, "anna@example.org", &k);
	prov_recent_forget(one, "otto@example.org");
	assert_non_null(prov_recent_get(one, "anna@example.org", pool));
	prov_recent_forget(one, "anna@example.org");
	assert_null(prov_recent_get(one, "anna@example.org", pool));
	prov_recent_free(&one);
}

static void test_age(void **state)
{
	prov_recent *r = prov_recent_new(16);
	ProtobufCBinaryData k = key_of("key");
	(void)state;

	prov_recent_clock = test_clock;
	fake_now = 1000;
	prov_recent_put(r, "anna@example.org", &k);
	fake_now += PROV_RECENT_MAX_AGE - 1;
	assert_non_null(prov_recent_get(r, "anna@example.org", pool));
	prov_recent_put(r, "anna@example.org", &k);      /* seen again: renewed */
	fake_now += PROV_RECENT_MAX_AGE - 1;
	assert_non_null(prov_recent_get(r, "anna@example.org", pool));
	fake_now += 1;
	assert_null(prov_recent_get(r, "anna@example.org", pool));
	/* and gone for good, not back when the clock is turned */
	fake_now -= 10;
	assert_null(prov_recent_get(r, "anna@example.org", pool));
	prov_recent_free(&r);
}

static void test_bounds(void **state)
{
	prov_recent *off = prov_recent_new(0), *one = prov_recent_new(1);
	ProtobufCBinaryData k = key_of("key"), empty = { 0, NULL }, big;
	(void)state;

	assert_null(off);
	prov_recent_put(off, "anna@example.org", &k);
	prov_recent_forget(off, "anna@example.org");
	assert_null(prov_recent_get(off, "anna@example.org", pool));
	prov_recent_free(&off);

	prov_recent_put(one, "anna@example.org", &empty);
	assert_null(prov_recent_get(one, "anna@example.org", pool));
	big.len = PROV_RECENT_KEY_MAX + 1;
	big.data = calloc(1, big.len);
	prov_recent_put(one, "anna@example.org", &big);
	assert_null(prov_recent_get(one, "anna@example.org", pool));
	big.len = PROV_RECENT_KEY_MAX;
	prov_recent_put(one, "anna@example.org", &big);
	assert_non_null(prov_recent_get(one, "anna@example.org", pool));
	free(big.data);
	prov_recent_put(one, "", &k);
	prov_recent_put(one, NULL, &k);
	assert_non_null(prov_recent_get(one, "anna@example.org", pool));

	/* one slot, the newest entry wins */
	prov_recent_put(one, "otto@example.org", &k);
	assert_null(prov_recent_get(one, "anna@example.org", pool));
	assert_non_null(prov_recent_get(one, "otto@example.org", pool));
	prov_recent_free(&one);

	{
		ProtobufCBinaryData a = key_of("abc"), b = key_of("abd"), c = key_of("abc");
		assert_true(prov_recent_same(&a, &c));
		assert_false(prov_recent_same(&a, &b));
		assert_false(prov_recent_same(&empty, &empty));
		assert_false(prov_recent_same(&a, NULL));
	}
}

#define SHARED_ROUNDS 20000
static const char *const shared_addr[] = { "anna@example.org", "otto@example.org" };

/* a thread's side of test_shared: keys "a..." or "b..." of 100 bytes */
struct shared_arg {
	prov_recent *r;
	char fill;
	int bad;                    /* gets that were neither key */
};

static void *shared_main(void *p)
{
	struct shared_arg *a = p;
	uint8_t mine[100];
	ProtobufCBinaryData k = { sizeof(mine), mine };

	memset(mine, a->fill, sizeof(mine));
	for (int i = 0; i < SHARED_ROUNDS; i++) {
		const char *addr = shared_addr[i % 2];
		pn_pool *own = pn_pool_new();
		const ProtobufCBinaryData *got;

		if (i % 7 == 0)
			prov_recent_forget(a->r, addr);
		else
			prov_recent_put(a->r, addr, &k);
		got = prov_recent_get(a->r, addr, own);
		if (got && (got->len != sizeof(mine) || (got->data[0] != 'a' &&
		    got->data[0] != 'b') || memchr(got->data, got->data[0] == 'a' ? 'b' : 'a',
		    got->len)))
			a->bad++;
		pn_pool_destroy(&own);
	}
	return NULL;
}

static void test_shared(void **state)
{
	prov_recent *r = prov_recent_new(1);
	ProtobufCBinaryData k = key_of("key one"), k2 = key_of("key two");
	const ProtobufCBinaryData *got;
	struct shared_arg a = { NULL, 'a', 0 }, b = { NULL, 'b', 0 };
	pthread_t ta, tb;
	(void)state;

	prov_recent_clock = test_clock;
	prov_recent_put(r, "anna@example.org", &k);
	got = prov_recent_get(r, "anna@example.org", pool);
	prov_recent_put(r, "anna@example.org", &k2);
	prov_recent_put(r, "otto@example.org", &k2);      /* and out of the one slot */
	assert_true(prov_recent_same(got, &k));
	assert_null(prov_recent_get(r, "anna@example.org", pool));

	a.r = b.r = r;
	assert_int_equal(pthread_create(&ta, NULL, shared_main, &a), 0);
	assert_int_equal(pthread_create(&tb, NULL, shared_main, &b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	assert_int_equal(a.bad, 0);
	assert_int_equal(b.bad, 0);
	prov_recent_free(&r);
}

static int setup(void **state)
{
	(void)state;
	pool = pn_pool_new();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	pn_pool_destroy(&pool);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_get),
		cmocka_unit_test(test_forget),
		cmocka_unit_test(test_age),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_shared),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
