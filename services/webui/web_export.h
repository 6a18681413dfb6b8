/*
 * web_export.h - the mailbox exported as an encrypted archive, and closed
 * early at its recipient's wish (web_export.c).
 */
#ifndef POSTERN_WEB_EXPORT_H
#define POSTERN_WEB_EXPORT_H

#include <stddef.h>

#include "web_http.h"
#include "web_util.h"

/* web_export_post - POST /export: postern-mailbox.tar.asc, encrypted to the own key */
int web_export_post(web_req *rq);
/* web_close_post - POST /close (confirm=yes): CloseMailbox, the session ends */
int web_close_post(web_req *rq);
/* web_tar_add - a file (name up to 99 bytes) into a ustar archive in b; -1 if the name is too long */
int web_tar_add(web_buf *b, const char *name, const void *data, size_t len, long mtime);
/* web_tar_end - the end of the archive */
void web_tar_end(web_buf *b);

#endif
