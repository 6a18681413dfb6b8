/*
 * web_ownkey.h - the recipient's keys: the page, the mailbox's public key
 * to download, the upload of their own key, the inbox's notice
 * (web_ownkey.c).
 */
#ifndef POSTERN_WEB_OWNKEY_H
#define POSTERN_WEB_OWNKEY_H

#include "web_bus.h"
#include "web_http.h"
#include "web_util.h"

/* web_key_page_get - GET /key */
int web_key_page_get(web_req *rq);
/* web_key_guest_get - GET /key/guest.asc: the mailbox's public key as a download */
int web_key_guest_get(web_req *rq);
/* web_key_upload_post - POST /key: the recipient's own public key, checked and stored */
int web_key_upload_post(web_req *rq);
/* web_key_body_max - POST /key's body limit (POSTERN_WEBUI_OWN_KEY_MAX and framing) */
long web_key_body_max(void);
/* web_key_over_limit - the answer to a key over the limit: the page, saying it */
int web_key_over_limit(web_req *rq);
/*
 * web_ownkey_notice - for the inbox: when mb has the recipient's own key,
 * that new mail goes to it (fingerprint, where it came from); else a link
 * to the key page
 */
void web_ownkey_notice(web_buf *b, const web_mailbox *mb);

#endif
