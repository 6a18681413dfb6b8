/*
 * web_crypto.h - what the web UI derives from the 256-bit cookie secret
 * (session id, record key, key passphrase, CSRF token, cache keys), the
 * seal both caches and the session record use, and the throttle tags.
 * Pure, over libsodium.
 */
#ifndef POSTERN_WEB_CRYPTO_H
#define POSTERN_WEB_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define WEB_LINK_BYTES 32
#define WEB_LINK_TEXT 44            /* 43 characters + NUL */
#define WEB_PASS_TEXT 44
#define WEB_COOKIE_BYTES 32
#define WEB_COOKIE_TEXT 44
#define WEB_PIN_MAX 16

/*
 * Everything a session needs is derived from the 256-bit cookie secret C,
 * each with its own context (BLAKE2b-256 keyed with C):
 *   id      "postern/session-id/v1"   hex, the Redis key (a dump does not
 *                                     give the cookie)
 *   box     "postern/session-box/v1"  secretbox key of the Redis record
 *   pass    "postern/session-key/v1"  base64url: passphrase of the
 *                                     session's working copy of the key
 *   csrf    "postern/csrf/v1"         base64url: the form token
 *   env     "postern/envelope-box/v1" secretbox key of the session's
 *                                     envelope cache (web_cache.c)
 *   page    "postern/page-box/v1"     secretbox key of the session's
 *                                     kept folder pages (web_pcache.c)
 */
void web_sess_id(const uint8_t c[WEB_COOKIE_BYTES], char out[65]);
void web_sess_box(const uint8_t c[WEB_COOKIE_BYTES], uint8_t out[32]);
void web_sess_pass(const uint8_t c[WEB_COOKIE_BYTES], char out[WEB_PASS_TEXT]);
void web_sess_csrf(const uint8_t c[WEB_COOKIE_BYTES], char out[WEB_PASS_TEXT]);
void web_env_box(const uint8_t c[WEB_COOKIE_BYTES], uint8_t out[32]);
void web_page_box(const uint8_t c[WEB_COOKIE_BYTES], uint8_t out[32]);
/*
 * web_seal - nonce(24) || crypto_secretbox(plain) under key, with a fresh
 * random nonce: how the session record and both caches keep what they
 * hold. pn_malloc'd; *len_r = n + WEB_SEAL_EXTRA.
 * web_unseal - the inverse into plain (len - WEB_SEAL_EXTRA bytes); -1 if
 * too short, forged, damaged or under another key (plain is then junk).
 */
#define WEB_SEAL_EXTRA 40           /* crypto_secretbox_NONCEBYTES + _MACBYTES */
uint8_t *web_seal(const uint8_t key[32], const void *plain, size_t n, size_t *len_r);
int web_unseal(const uint8_t key[32], const uint8_t *in, size_t len, void *plain);
/* web_addr_tag - hex BLAKE2b-256("postern/login/v1\0" || address): throttle keys */
void web_addr_tag(const char *address, char out[65]);

#endif
