/*
 * web_folder.h - the folder pages (GET /inbox, /sent, ?page=N): rows
 * from the page cache or mailstore, envelopes from the session's cache
 * or decrypted. Owns the rows' markup and the page cache's lifetime
 * (web_folder_init); web_folders_changed is how others say a folder
 * changed.
 */
#ifndef POSTERN_WEB_FOLDER_H
#define POSTERN_WEB_FOLDER_H

#include <stdint.h>

#include "postern/v1/mailstore.pb-c.h"
#include "web_http.h"
#include "web_mail.h"
#include "web_util.h"

/* web_folder_get - GET /inbox or /sent, ?page=N (0-based) */
int web_folder_get(web_req *rq);
/* web_folder_preload - the mailbox of a kept page for this cookie, 0 if none (route preload) */
int64_t web_folder_preload(const web_req *rq);

/* web_folder_of - 0 for /inbox or /sent: *sent_r and the page (?page=N, bad numbers 0) */
int web_folder_of(const char *path, const char *query, int *sent_r, long *page_r);
/*
 * web_folders_changed - the session's mailbox's folders changed (or may
 * have): kept pages of it stop matching, in every replica
 */
void web_folders_changed(web_req *rq);
/*
 * web_folder_rows_html - the part of a folder page that comes from
 * mailstore (pure): heading, count, one row per message with env[i],
 * the pager; offset is the first row's index
 */
void web_folder_rows_html(web_buf *b, const Postern__V1__FolderPage *pg, const web_env *env,
    int sent, long page, long offset);

/*
 * web_folder_version - the session's mailbox's folder version, read with
 * the record (route preload) or now; "" if none (then one is set for the
 * next request)
 */
void web_folder_version(web_req *rq, char ver[PN_REDIS_VER_TEXT]);
/* web_folder_init - the page cache (POSTERN_WEBUI_PAGE_CACHE); -1 = cannot run */
int web_folder_init(void);
void web_folder_fini(void);

#endif
