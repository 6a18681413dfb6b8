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
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../prov.h"

static long fake_now = 1000;

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
	got = prov_recent_get(r, "anna@example.org");
	assert_non_null(got);
	assert_int_equal(got->len, strlen("public key one"));
	assert_memory_equal(got->data, "public key one", got->len);
	assert_null(prov_recent_get(r, "otto@example.org"));
	assert_null(prov_recent_get(r, "ANNA@example.org"));
	prov_recent_put(r, "anna@example.org", &k2);
	got = prov_recent_get(r, "anna@example.org");
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
	assert_non_null(prov_recent_get(one, "anna@example.org"));
	prov_recent_forget(one, "anna@example.org");
	assert_null(prov_recent_get(one, "anna@example.org"));
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
	assert_non_null(prov_recent_get(r, "anna@example.org"));
	prov_recent_put(r, "anna@example.org", &k);      /* seen again: renewed */
	fake_now += PROV_RECENT_MAX_AGE - 1;
	assert_non_null(prov_recent_get(r, "anna@example.org"));
	fake_now += 1;
	assert_null(prov_recent_get(r, "anna@example.org"));
	/* and gone for good, not back when the clock is turned */
	fake_now -= 10;
	assert_null(prov_recent_get(r, "anna@example.org"));
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
	assert_null(prov_recent_get(off, "anna@example.org"));
	prov_recent_free(&off);

	prov_recent_put(one, "anna@example.org", &empty);
	assert_null(prov_recent_get(one, "anna@example.org"));
	big.len = PROV_RECENT_KEY_MAX + 1;
	big.data = calloc(1, big.len);
	prov_recent_put(one, "anna@example.org", &big);
	assert_null(prov_recent_get(one, "anna@example.org"));
	big.len = PROV_RECENT_KEY_MAX;
	prov_recent_put(one, "anna@example.org", &big);
	assert_non_null(prov_recent_get(one, "anna@example.org"));
	free(big.data);
	prov_recent_put(one, "", &k);
	prov_recent_put(one, NULL, &k);
	assert_non_null(prov_recent_get(one, "anna@example.org"));

	/* one slot, the newest entry wins */
	prov_recent_put(one, "otto@example.org", &k);
	assert_null(prov_recent_get(one, "anna@example.org"));
	assert_non_null(prov_recent_get(one, "otto@example.org"));
	prov_recent_free(&one);

	{
		ProtobufCBinaryData a = key_of("abc"), b = key_of("abd"), c = key_of("abc");
		assert_true(prov_recent_same(&a, &c));
		assert_false(prov_recent_same(&a, &b));
		assert_false(prov_recent_same(&empty, &empty));
		assert_false(prov_recent_same(&a, NULL));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_get),
		cmocka_unit_test(test_forget),
		cmocka_unit_test(test_age),
		cmocka_unit_test(test_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
