/*
 * web_open.h - a stored message opened for a request: from the session's
 * message cache (web_mcache.c), else from mailstore and decrypted with
 * the session's key (then kept). Owns the message cache's lifetime
 * (web_open_init/fini) and web_opened.
 */
#ifndef POSTERN_WEB_OPEN_H
#define POSTERN_WEB_OPEN_H

#include <stdint.h>

#include "web_http.h"
#include "web_mail.h"

typedef struct web_opened {
	int folder;                 /* Postern__V1__Folder */
	int seen;                   /* seen (after this request, when it marked it) */
	int kept;                   /* came from the message cache: no mailstore call */
} web_opened;

/*
 * web_open_message - message id of the session's mailbox, parsed into m
 * (web_mail_free it when 0 came back). mark_seen: the read view; an
 * unseen message is marked seen and the folders announced changed.
 * 0, or the status already answered.
 */
int web_open_message(web_req *rq, int64_t id, int mark_seen, web_mail *m, web_opened *o);
/* web_open_preload - route preload of /msg/{id}...: the mailbox of a kept message, 0 if none */
int64_t web_open_preload(const web_req *rq);
/* web_open_init - the message cache (POSTERN_WEBUI_MESSAGE_CACHE*); -1 = cannot run */
int web_open_init(void);
void web_open_fini(void);

#endif
