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
 *   msg  = ..."postern/message-box/v1"       secretbox key of the session's
 *                                            kept messages (web_mcache.c)
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

void web_msg_box(const uint8_t c[WEB_COOKIE_BYTES], uint8_t out[32])
{
	pn_kdf(c, WEB_COOKIE_BYTES, "postern/message-box/v1", NULL, out);
}

/* web_addr_tag - a fixed-size Redis key part for an address */
void web_addr_tag(const char *address, char out[65])
{
	uint8_t h[32];

	pn_kdf(NULL, 0, "postern/login/v1", address, h);
	web_hex(out, h, sizeof(h));
}
