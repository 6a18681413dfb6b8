/*
 * web_crypto.h - what the web UI derives from the 256-bit cookie secret
 * (session id, record key, key passphrase, CSRF token, cache keys) and
 * the throttle tags. Pure, over libsodium. The session record and both
 * caches are sealed with lib's pn_seal (postern/seal.h) under these keys.
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
 *   msg     "postern/message-box/v1"  secretbox key of the session's
 *                                     kept decrypted messages (web_mcache.c)
 */
void web_sess_id(const uint8_t c[WEB_COOKIE_BYTES], char out[65]);
void web_sess_box(const uint8_t c[WEB_COOKIE_BYTES], uint8_t out[32]);
void web_sess_pass(const uint8_t c[WEB_COOKIE_BYTES], char out[WEB_PASS_TEXT]);
void web_sess_csrf(const uint8_t c[WEB_COOKIE_BYTES], char out[WEB_PASS_TEXT]);
void web_env_box(const uint8_t c[WEB_COOKIE_BYTES], uint8_t out[32]);
void web_page_box(const uint8_t c[WEB_COOKIE_BYTES], uint8_t out[32]);
void web_msg_box(const uint8_t c[WEB_COOKIE_BYTES], uint8_t out[32]);
/* web_addr_tag - hex BLAKE2b-256("postern/login/v1\0" || address): throttle keys */
void web_addr_tag(const char *address, char out[65]);

#endif
