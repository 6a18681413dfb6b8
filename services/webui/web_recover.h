/*
 * web_recover.h - the recovery code: made at activation (web_recovery_make),
 * shown once (GET /recovery-code), and used at /recover to choose a new
 * password, which also makes a new code. Owns the Redis keys web:rs:
 * (the code waiting to be shown), web:rvf:, web:rvl:, web:rvc: (the
 * lock-out). The derivations are pure and documented in docs/security.md.
 */
#ifndef POSTERN_WEB_RECOVER_H
#define POSTERN_WEB_RECOVER_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "postern/err.h"
#include "postern/gpg.h"
#include "postern/tmpl.h"
#include "web_bus.h"
#include "web_crypto.h"
#include "web_html.h"
#include "web_http.h"

#define WEB_CODE_CHARS 28           /* Crockford base32: 140 bits */
#define WEB_CODE_TEXT (WEB_CODE_CHARS + 1)
#define WEB_CODE_GROUPED (WEB_CODE_CHARS + WEB_CODE_CHARS / 4)   /* dashes + NUL */

/* web_recovery_new - a random code */
void web_recovery_new(char code[WEB_CODE_TEXT]);
/* web_recovery_norm - a typed code normalised (case, spaces, dashes, I/L/O); 0 or -1 */
int web_recovery_norm(const char *in, char code[WEB_CODE_TEXT]);
/* web_recovery_grouped - the code in seven dash-separated groups of four */
void web_recovery_grouped(const char *code, char out[WEB_CODE_GROUPED]);
/* web_recovery_pass - base64url(BLAKE2b-256 keyed with the code, "postern/recovery-key/v1") */
void web_recovery_pass(const char *code, char out[WEB_PASS_TEXT]);
/* web_recovery_verifier - BLAKE2b-256 keyed with the code, "postern/recovery-verifier/v1" || address */
void web_recovery_verifier(const char *code, const char *address, uint8_t out[32]);
/*
 * web_recovery_make - a new code, key (under old) re-protected under its
 * passphrase into copy (fast S2K), and its verifier for address
 */
pn_err web_recovery_make(web_req *rq, const ProtobufCBinaryData *pub, const void *key,
    size_t keylen, const char *old, const char *address, char code[WEB_CODE_TEXT],
    pn_buf *copy, uint8_t verifier[32]);
/* web_recovery_keep - the code sealed for this session's GET /recovery-code; 0 or -1 */
int web_recovery_keep(web_req *rq, const char *code);

/* web_recovery_code_get - GET /recovery-code (logged in): the kept code, once */
int web_recovery_code_get(web_req *rq);
/* web_recover_get, web_recover_post - GET and POST /recover */
int web_recover_get(web_req *rq);
int web_recover_post(web_req *rq);

/* web_recovery_code_html, web_recover_html - the pages (pure) */
void web_recovery_code_html(web_buf *b, const web_page *p, const char *grouped);
void web_recover_html(web_buf *b, const web_page *p, const char *csrf, const char *address,
    const char *msg);

/* the template kind of the notice to the sender ("recovered"), loaded by web_lang_init */
extern const pn_tmpl_kind web_recover_kind;
/*
 * web_recover_notice - the mail telling mb's creator that its recipient
 * used the recovery code at now: in the mailbox's language, branded
 * (pn_malloc'd), NULL (logged) if it cannot be composed
 */
uint8_t *web_recover_notice(const web_mailbox *mb, time_t now, size_t *len_r);

/* web_recover_init - the SMTP sender of the notice (POSTERN_INVITE_FROM); -1 = cannot run */
int web_recover_init(void);
void web_recover_fini(void);

#endif
