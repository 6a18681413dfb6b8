/*
 * web_key.h - the guest key at work in one request, in the thread's
 * GnuPG homes: re-protected under a new passphrase, decrypting with the
 * session's working copy, encrypting to the guest's own key. Owns no state.
 */
#ifndef POSTERN_WEB_KEY_H
#define POSTERN_WEB_KEY_H

#include <stddef.h>
#include <stdint.h>

#include "postern/v1/mailstore.pb-c.h"
#include "postern/err.h"
#include "postern/gpg.h"
#include "web_bus.h"
#include "web_http.h"
#include "web_mail.h"

/*
 * web_key_reprotect - key (under old) re-protected under new_pass into
 * out, in the strong home if strong, else the fast one; the new copy
 * must decrypt a probe encrypted to pub, or it is made again (three
 * times at most). PN_ERR_PERM: old is wrong.
 */
pn_err web_key_reprotect(web_req *rq, int strong, const ProtobufCBinaryData *pub,
    const void *key, size_t keylen, const char *old, const char *new_pass, pn_buf *out);
/* web_key_decrypt - cipher decrypted with the session's working copy of the key */
pn_err web_key_decrypt(web_req *rq, const ProtobufCBinaryData *cipher, pn_buf *plain);
/* web_key_seal - data encrypted to the mailbox's own key, into out (the request's pool) */
pn_err web_key_seal(web_req *rq, const web_mailbox *mb, const void *data, size_t len,
    ProtobufCBinaryData *out);

#endif
