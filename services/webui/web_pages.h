/*
 * web_pages.h - the request handlers and their routing (being split).
 */
#ifndef POSTERN_WEB_PAGES_H
#define POSTERN_WEB_PAGES_H

#include "web_http.h"

/* web_folder_of - 0 for GET /inbox or /sent: *sent_r and the page (?page=N) */
int web_folder_of(const char *path, const char *query, int *sent_r, long *page_r);
/* web_routes - what the web UI answers (web_http.h), ended by WEB_ROUTE_END */
extern const web_route web_routes[];
/* web_reply_body_max - the largest body the reply route reads */
long web_reply_body_max(void);
/* web_pages_init - what every handler shares (blocklist, timing key); -1 = cannot run */
int web_pages_init(void);
void web_pages_fini(void);

#endif
