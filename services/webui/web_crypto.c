/*
 * web_crypto.c - the web UI's derivations, pure functions over libsodium.
 *
 * The link-secret derivations are shared with provision: lib's guest.h.
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
 *   env  = ..."postern/envelope-box/v1"      secretbox key of the session's
 *                                            envelope cache (web_cache.c)
 *   page = ..."postern/page-box/v1"          secretbox key of the session's
 *                                            kept folder pages (web_pcache.c)
 * So Redis holds only ciphertext, any replica can serve any request, and
 * logging out (deleting the record) makes the cookie worthless.
 */
#include <string.h>

#include <sodium.h>

#include "postern/guest.h"
#include "postern/mem.h"
#include "web_crypto.h"
#include "web_util.h"

void web_sess_id(const uint8_t c[WEB_COOKIE_BYTES], char out[65])
{
	uint8_t h[32];

	pn_kdf(c, WEB_COOKIE_BYTES, "postern/session-id/v1", NULL, h);
	web_hex(out, h, sizeof(h));
}

void web_sess_box(const uint8_t c[WEB_COOKIE_BYTES], uint8_t out[32])
{
	pn_kdf(c, WEB_COOKIE_BYTES, "postern/session-box/v1", NULL, out);
}

void web_sess_pass(const uint8_t c[WEB_COOKIE_BYTES], char out[WEB_PASS_TEXT])
{
	uint8_t h[32];

	pn_kdf(c, WEB_COOKIE_BYTES, "postern/session-key/v1", NULL, h);
	pn_b64url(out, WEB_PASS_TEXT, h, sizeof(h));
	sodium_memzero(h, sizeof(h));
}

void web_sess_csrf(const uint8_t c[WEB_COOKIE_BYTES], char out[WEB_PASS_TEXT])
{
	uint8_t h[32];

	pn_kdf(c, WEB_COOKIE_BYTES, "postern/csrf/v1", NULL, h);
	pn_b64url(out, WEB_PASS_TEXT, h, sizeof(h));
	sodium_memzero(h, sizeof(h));
}

void web_env_box(const uint8_t c[WEB_COOKIE_BYTES], uint8_t out[32])
{
	pn_kdf(c, WEB_COOKIE_BYTES, "postern/envelope-box/v1", NULL, out);
}

void web_page_box(const uint8_t c[WEB_COOKIE_BYTES], uint8_t out[32])
{
	pn_kdf(c, WEB_COOKIE_BYTES, "postern/page-box/v1", NULL, out);
}

/* web_addr_tag - a fixed-size Redis key part for an address */
void web_addr_tag(const char *address, char out[65])
{
	uint8_t h[32];

	pn_kdf(NULL, 0, "postern/login/v1", address, h);
	web_hex(out, h, sizeof(h));
}

_Static_assert(WEB_SEAL_EXTRA == crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES,
    "WEB_SEAL_EXTRA is secretbox's nonce and MAC");

uint8_t *web_seal(const uint8_t key[32], const void *plain, size_t n, size_t *len_r)
{
	uint8_t *out = pn_malloc(WEB_SEAL_EXTRA + n);

	randombytes_buf(out, crypto_secretbox_NONCEBYTES);
	crypto_secretbox_easy(out + crypto_secretbox_NONCEBYTES, plain, n, out, key);
	*len_r = WEB_SEAL_EXTRA + n;
	return out;
}

int web_unseal(const uint8_t key[32], const uint8_t *in, size_t len, void *plain)
{
	if (len < WEB_SEAL_EXTRA)
		return -1;
	return crypto_secretbox_open_easy(plain, in + crypto_secretbox_NONCEBYTES,
	    len - crypto_secretbox_NONCEBYTES, in, key) == 0 ? 0 : -1;
}
