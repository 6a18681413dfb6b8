/*
 * web_crypto.c - the web UI's derivations, pure functions over libsodium.
 *
 * Link secret (docs/security.md; the same outputs as provision's
 * prov_crypto.c, pinned by a test vector in tests/crypto_test.c):
 *   link_hash  = BLAKE2b-256(L)
 *   passphrase = base64url(BLAKE2b-256_key=L("postern/guest-key/v1\0" || PIN))
 *
 * Session: the cookie carries one 256-bit random secret C and nothing
 * else. Everything the server needs is derived from it with BLAKE2b-256
 * keyed with C over a context string (with its NUL):
 *   id   = hex(..."postern/session-id/v1")   the Redis key: a Redis dump
 *                                            does not yield a usable cookie
 *   box  = ..."postern/session-box/v1"       secretbox key of the record
 *   pass = base64url(..."postern/session-key/v1")  passphrase of the
 *                                            session's copy of the guest key
 *   csrf = base64url(..."postern/csrf/v1")   the form token
 * So Redis holds only ciphertext, any replica can serve any request, and
 * logging out (deleting the record) makes the cookie worthless.
 */
#include <string.h>

#include <sodium.h>

#include "web.h"

#define GUEST_KEY_CONTEXT "postern/guest-key/v1"

/* keyed - BLAKE2b-256 keyed with key over context || NUL || data */
static void keyed(const uint8_t *key, size_t keylen, const char *context,
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

/* web_link_hash - unkeyed BLAKE2b-256 of the link */
void web_link_hash(const uint8_t link[WEB_LINK_BYTES], uint8_t hash[32])
{
	crypto_generichash(hash, 32, link, WEB_LINK_BYTES, NULL, 0);
}

/* web_link_passphrase - the guest key's passphrase before activation */
void web_link_passphrase(const uint8_t link[WEB_LINK_BYTES], const char *pin,
    char out[WEB_PASS_TEXT])
{
	uint8_t h[32];

	keyed(link, WEB_LINK_BYTES, GUEST_KEY_CONTEXT, pin ? pin : "", h);
	web_b64url(out, WEB_PASS_TEXT, h, sizeof(h));
	sodium_memzero(h, sizeof(h));
}

void web_sess_id(const uint8_t c[WEB_COOKIE_BYTES], char out[65])
{
	uint8_t h[32];

	keyed(c, WEB_COOKIE_BYTES, "postern/session-id/v1", NULL, h);
	web_hex(out, h, sizeof(h));
}

void web_sess_box(const uint8_t c[WEB_COOKIE_BYTES], uint8_t out[32])
{
	keyed(c, WEB_COOKIE_BYTES, "postern/session-box/v1", NULL, out);
}

void web_sess_pass(const uint8_t c[WEB_COOKIE_BYTES], char out[WEB_PASS_TEXT])
{
	uint8_t h[32];

	keyed(c, WEB_COOKIE_BYTES, "postern/session-key/v1", NULL, h);
	web_b64url(out, WEB_PASS_TEXT, h, sizeof(h));
	sodium_memzero(h, sizeof(h));
}

void web_sess_csrf(const uint8_t c[WEB_COOKIE_BYTES], char out[WEB_PASS_TEXT])
{
	uint8_t h[32];

	keyed(c, WEB_COOKIE_BYTES, "postern/csrf/v1", NULL, h);
	web_b64url(out, WEB_PASS_TEXT, h, sizeof(h));
	sodium_memzero(h, sizeof(h));
}

/* web_addr_tag - a fixed-size Redis key part for an address */
void web_addr_tag(const char *address, char out[65])
{
	uint8_t h[32];

	keyed(NULL, 0, "postern/login/v1", address, h);
	web_hex(out, h, sizeof(h));
}
