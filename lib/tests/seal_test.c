/*
 * seal_test.c - the seal of records in Redis (seal.c): a record sealed
 * before must still open (a fixed vector pins the layout nonce || box),
 * and a forged, cut or foreign one must not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "postern/seal.h"

/* key 00..1f, nonce 40..57, plain "postern/seal/v1": made once with crypto_secretbox_easy */
static const char VECTOR[] =
    "404142434445464748494a4b4c4d4e4f5051525354555657"
    "09eb617885f0daa77f3f008507f631d13a78260d5f23d505b53c100d47ff6b";

static void key_of(uint8_t key[PN_SEAL_KEYBYTES], uint8_t first)
{
	for (int i = 0; i < PN_SEAL_KEYBYTES; i++)
		key[i] = (uint8_t)(first + i);
}

static void test_vector_opens(void **state)
{
	uint8_t key[PN_SEAL_KEYBYTES], in[128], plain[128];
	size_t len = 0;
	(void)state;

	key_of(key, 0);
	assert_int_equal(sodium_hex2bin(in, sizeof(in), VECTOR, strlen(VECTOR), NULL, &len, NULL),
	    0);
	assert_int_equal(len, PN_SEAL_EXTRA + 15);
	assert_int_equal(pn_unseal(key, in, len, plain), 0);
	assert_memory_equal(plain, "postern/seal/v1", 15);
}

static void test_roundtrip(void **state)
{
	uint8_t key[PN_SEAL_KEYBYTES], out[PN_SEAL_EXTRA + 64], again[PN_SEAL_EXTRA + 64];
	uint8_t plain[64];
	const char *msg = "a session record";
	size_t n = strlen(msg), len;
	(void)state;

	key_of(key, 7);
	len = pn_seal(key, msg, n, out);
	assert_int_equal(len, n + PN_SEAL_EXTRA);
	assert_null(memmem(out, len, "session", 7));
	assert_int_equal(pn_unseal(key, out, len, plain), 0);
	assert_memory_equal(plain, msg, n);
	/* a fresh nonce every time */
	assert_int_equal(pn_seal(key, msg, n, again), len);
	assert_memory_not_equal(out, again, 24);
	/* the layout: nonce || crypto_secretbox_easy under that nonce */
	assert_int_equal(crypto_secretbox_easy(again, (const uint8_t *)msg, n, out, key), 0);
	assert_memory_equal(again, out + 24, n + 16);
	/* empty plaintext */
	assert_int_equal(pn_seal(key, "", 0, again), PN_SEAL_EXTRA);
	assert_int_equal(pn_unseal(key, again, PN_SEAL_EXTRA, plain), 0);
}

static void test_refused(void **state)
{
	uint8_t key[PN_SEAL_KEYBYTES], other[PN_SEAL_KEYBYTES], out[PN_SEAL_EXTRA + 8];
	uint8_t plain[8];
	size_t len;
	(void)state;

	key_of(key, 1);
	key_of(other, 2);
	len = pn_seal(key, "12345678", 8, out);
	assert_int_equal(pn_unseal(other, out, len, plain), -1);
	for (size_t i = 0; i < len; i++) {          /* any flipped bit, nonce included */
		out[i] ^= 0x10;
		assert_int_equal(pn_unseal(key, out, len, plain), -1);
		out[i] ^= 0x10;
	}
	assert_int_equal(pn_unseal(key, out, len - 1, plain), -1);
	assert_int_equal(pn_unseal(key, out, PN_SEAL_EXTRA - 1, plain), -1);
	assert_int_equal(pn_unseal(key, out, 0, plain), -1);
	assert_int_equal(pn_unseal(key, out, len, plain), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vector_opens),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_refused),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
