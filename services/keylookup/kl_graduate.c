/*
 * kl_graduate.c - the one mail that tells a recipient their address has
 * graduated: discovery found their own OpenPGP key, and mail to them now
 * goes to that key instead of into the temporary mailbox.
 *
 * Plain text, no secret in it: the fingerprint (so the recipient can
 * check it is theirs), where it was found, and the web UI's address for
 * the messages still in the mailbox. mailstore queues it in the same
 * transaction that stores the key, only when the key changed.
 */
#include <string.h>

#include "postern/mem.h"
#include "postern/mime.h"
#include "kl.h"

/* kl_graduate_mail - the notice for addr (pool memory); NULL if it cannot be composed */
char *kl_graduate_mail(const kl_notice *n, const char *addr, const char *fpr,
    const char *source, pn_pool *pool)
{
	pn_mime_mail m = { 0 };
	const char *to[1] = { addr };
	const char *where = !strcmp(source, "vks") ? "on the keyserver" :
	    "in the Web Key Directory of your domain";
	const char *why = NULL;
	uint8_t *raw;
	size_t len = 0;
	char *text, *out;

	text = pn_pool_printf(pool,
	    "Hello,\n\n"
	    "Your own OpenPGP key was found %s:\n\n"
	    "    %s\n\n"
	    "From now on, encrypted mail to %s is sent to this key and reaches\n"
	    "your own mail program. It no longer goes into your temporary mailbox.\n\n"
	    "The messages already in the temporary mailbox stay there until it\n"
	    "expires. You can still read them at:\n\n"
	    "    %s\n\n"
	    "If this key is not yours, tell the people who write to you.\n",
	    where, fpr, addr, n->public_url);
	m.from = n->from;
	m.to = to;
	m.n_to = 1;
	m.subject = "Your mail now goes to your own OpenPGP key";
	m.text = text;
	if (!(raw = pn_mime_compose(&m, &len, &why)))
		return NULL;
	out = pn_pool_alloc(pool, len + 1);
	memcpy(out, raw, len);
	pn_free(&raw);
	return out;
}
