/*
 * seal.c - the secretbox seal of records kept in Redis (seal.h): a fresh
 * nonce from libsodium's generator, then crypto_secretbox_easy behind it.
 * Nothing else; the callers bind what a record belongs to.
 */
#include <sodium.h>

#include "postern/seal.h"

_Static_assert(PN_SEAL_EXTRA == crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES,
    "PN_SEAL_EXTRA is secretbox's nonce and MAC");
_Static_assert(PN_SEAL_KEYBYTES == crypto_secretbox_KEYBYTES, "a secretbox key");

/* pn_seal - nonce || secretbox */
size_t pn_seal(const uint8_t key[PN_SEAL_KEYBYTES], const void *plain, size_t n, uint8_t *out)
{
	randombytes_buf(out, crypto_secretbox_NONCEBYTES);
	crypto_secretbox_easy(out + crypto_secretbox_NONCEBYTES, plain, n, out, key);
	return PN_SEAL_EXTRA + n;
}

/* pn_unseal - check and open nonce || secretbox */
int pn_unseal(const uint8_t key[PN_SEAL_KEYBYTES], const uint8_t *in, size_t len, void *plain)
{
	if (len < PN_SEAL_EXTRA)
		return -1;
	return crypto_secretbox_open_easy(plain, in + crypto_secretbox_NONCEBYTES,
	    len - crypto_secretbox_NONCEBYTES, in, key) == 0 ? 0 : -1;
}
