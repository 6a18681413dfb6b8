/*
 * web_compose.h - what a reply is made of: its recipients (from the message
 * replied to only), its subject and quoted text, and the PGP/MIME
 * (RFC 3156) mail signed and encrypted in a given GnuPG home. No request,
 * no bus.
 */
#ifndef POSTERN_WEB_COMPOSE_H
#define POSTERN_WEB_COMPOSE_H

#include <stddef.h>

#include "postern/err.h"
#include "postern/gpg.h"
#include "postern/mem.h"
#include "web_mail.h"

#define WEB_COMPOSE_MAX_RCPT 20

/*
 * web_compose_recipients - who a reply to m goes to: its Reply-To, else its
 * From; with all, also the From and Cc mailboxes. Never self, no
 * duplicates, at most WEB_COMPOSE_MAX_RCPT. Nothing else can be a
 * recipient: a guest only answers people whose mail is in the inbox.
 * Returns the count; *rcpt_r (pn_malloc'd array of pn_malloc'd strings,
 * web_reply_free_list) is NULL when 0.
 */
size_t web_compose_recipients(const web_mail *m, const char *self, int all, char ***rcpt_r);
/* web_compose_subject - "Re: " + subject unless it starts so already; pn_malloc'd */
char *web_compose_subject(const char *subject);
/* web_compose_body - text, then the original quoted ("> "); pn_malloc'd */
char *web_compose_body(const char *text, const web_mail *orig);
/*
 * web_compose_pgp - the outgoing mail: plain (an RFC 5322 message as
 * pn_mime_compose renders it) with its body signed by the secret key
 * (armored, protected by passphrase) and encrypted to every public key
 * (armored), as RFC 3156 multipart/encrypted; the headers stay. Runs in
 * the GnuPG home homedir (the thread's fast one), whose handle gpg first
 * makes the keyring hold this blob's copy of the secret key: another
 * session of the same mailbox may have left its own there, under its own
 * passphrase. PN_ERR_PERM if the passphrase is wrong, PN_ERR_PARAMS if a
 * key is unusable.
 */
pn_err web_compose_pgp(pn_gpg *gpg, const char *homedir, const void *plain, size_t plain_len,
    const void *seckey, size_t seckey_len, const char *passphrase,
    const pn_buf *pubkeys, size_t n_pub, pn_buf *out_r);

#endif
