/*
 * web_key.c - the guest key at work in a request, in the thread's GnuPG
 * homes (web_http.c): re-protecting it under a new passphrase (the
 * password at activation, a session's working copy at activation and
 * login), decrypting with the session's working copy (envelopes,
 * messages), encrypting the Sent copy of a reply to the guest's own key,
 * and opening a stored message for the read view, its HTML part, its
 * attachments and the reply.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "postern/v1/mailstore.pb-c.h"
#include "postern/gpg.h"
#include "postern/log.h"
#include "postern/mem.h"
#include "web_key.h"
#include "web_bus.h"
#include "web_crypto.h"
#include "web_http.h"
#include "web_mail.h"

#define REPROTECT_TRIES 3

/*
 * web_key_reprotect - pn_gpg_passwd, checked: the new copy must decrypt a probe
 * encrypted to the mailbox's public key with the new passphrase. GnuPG
 * under a calibrated S2K count now and then hands back a key whose
 * encryption subkey does not open (seen with gpg 2.2.40); a copy like
 * that must never be stored, so it is made again (up to three times).
 * PN_ERR_PERM: the old passphrase is wrong (no retry).
 */
pn_err web_key_reprotect(web_req *rq, int strong, const ProtobufCBinaryData *pub,
    const void *key, size_t keylen, const char *old, const char *new_pass, pn_buf *out)
{
	static const char probe_text[] = "postern-probe";
	pn_buf probe = { NULL, 0 }, plain = { NULL, 0 };
	pn_gpg *f = web_gpg_fast(rq->t), *g;
	pn_err err;

	if (!f)
		return PN_ERR_TEMP;
	if ((err = pn_gpg_encrypt(f, pub->data, pub->len, probe_text, sizeof(probe_text) - 1,
	    &probe)) != PN_OK)
		return err;
	for (int i = 0; i < REPROTECT_TRIES; i++) {
		pn_buf_free(out);
		if (i > 0)
			web_gpg_recycle(rq->t);     /* a home that made a bad copy is not trusted */
		f = web_gpg_fast(rq->t);
		g = strong ? web_gpg_strong(rq->t) : f;
		if (!f || !g) {
			err = PN_ERR_TEMP;
			break;
		}
		if ((err = pn_gpg_passwd(g, key, keylen, old, new_pass, out)) != PN_OK)
			break;
		err = pn_gpg_decrypt(f, out->data, out->len, new_pass, probe.data, probe.len, &plain);
		if (err == PN_OK && plain.len == sizeof(probe_text) - 1 &&
		    !memcmp(plain.data, probe_text, plain.len))
			break;
		pn_buf_free(&plain);
		pn_warn("msg=\"re-protected key does not open, making it again\" try=%d status=%s",
		    i + 1, pn_err_str(err));
		err = PN_ERR_INTERNAL;
	}
	if (err != PN_OK)
		pn_buf_free(out);
	pn_buf_free(&plain);
	pn_buf_free(&probe);
	return err;
}

/* web_key_decrypt - with the session's working copy */
pn_err web_key_decrypt(web_req *rq, const ProtobufCBinaryData *cipher, pn_buf *plain)
{
	char spass[WEB_PASS_TEXT];
	pn_gpg *g = web_gpg_fast(rq->t);
	pn_err err;

	if (!g)
		return PN_ERR_TEMP;
	web_sess_pass(rq->sess.c, spass);
	err = pn_gpg_decrypt(g, rq->sess.key.data, rq->sess.key.len, spass, cipher->data,
	    cipher->len, plain);
	sodium_memzero(spass, sizeof(spass));
	return err;
}

/* web_key_seal - encrypt to the guest's own key (the Sent copy) */
pn_err web_key_seal(web_req *rq, const web_mailbox *mb, const void *data, size_t len,
    ProtobufCBinaryData *out)
{
	pn_buf c = { NULL, 0 };
	pn_gpg *g = web_gpg_fast(rq->t);
	pn_err err;

	if (!g)
		return PN_ERR_TEMP;
	if ((err = pn_gpg_encrypt(g, mb->public_key.data, mb->public_key.len, data, len, &c)) != PN_OK)
		return err;
	out->data = pn_pool_alloc(web_bus_pool(rq), c.len + 1);
	memcpy(out->data, c.data, c.len);
	out->len = c.len;
	pn_buf_free(&c);
	return PN_OK;
}
