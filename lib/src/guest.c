/*
 * guest.c - link-secret derivations for temporary mailboxes (guest.h).
 * Pure functions over libsodium's BLAKE2b; every intermediate is wiped.
 */
#include <string.h>

#include <sodium.h>

#include "postern/guest.h"

void pn_kdf(const uint8_t *key, size_t keylen, const char *context,
    const char *data, uint8_t out[32])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, key, keylen, 32);
	crypto_generichash_update(&st, (const uint8_t *)context, strlen(context) + 1);
	if (data)
		crypto_generichash_update(&st, (const uint8_t *)data, strlen(data));
	crypto_generichash_final(&st, out, 32);
	sodium_memzero(&st, sizeof(st));
}

void pn_b64url(char *out, size_t outlen, const uint8_t *in, size_t n)
{
	sodium_bin2base64(out, outlen, in, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

long pn_b64url_decode(uint8_t *out, size_t outlen, const char *in, size_t inlen)
{
	size_t n = 0;
	const char *end = NULL;

	if (sodium_base642bin(out, outlen, in, inlen, NULL, &n, &end,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 || end != in + inlen)
		return -1;
	return (long)n;
}

void pn_guest_link_hash(const uint8_t link[PN_GUEST_LINK_BYTES],
    uint8_t hash[PN_GUEST_HASH_BYTES])
{
	crypto_generichash(hash, PN_GUEST_HASH_BYTES, link, PN_GUEST_LINK_BYTES, NULL, 0);
}

void pn_guest_passphrase(const uint8_t link[PN_GUEST_LINK_BYTES],
    const char *pin, char out[PN_GUEST_PASS_TEXT])
{
	uint8_t h[32];

	pn_kdf(link, PN_GUEST_LINK_BYTES, "postern/guest-key/v1", pin ? pin : "", h);
	pn_b64url(out, PN_GUEST_PASS_TEXT, h, sizeof(h));
	sodium_memzero(h, sizeof(h));
}

void pn_guest_pin_verifier(const uint8_t link[PN_GUEST_LINK_BYTES],
    const char *pin, uint8_t out[PN_GUEST_HASH_BYTES])
{
	pn_kdf(link, PN_GUEST_LINK_BYTES, "postern/pin-verifier/v1", pin ? pin : "", out);
}
