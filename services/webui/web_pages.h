/*
 * web_pages.h - the request handlers and their routing (being split).
 */
#ifndef POSTERN_WEB_PAGES_H
#define POSTERN_WEB_PAGES_H

#include "web_http.h"

/* web_folder_of - 0 for GET /inbox or /sent: *sent_r and the page (?page=N) */
int web_folder_of(const char *path, const char *query, int *sent_r, long *page_r);
/* web_route - dispatch one request; returns the status sent */
int web_route(web_req *rq);
/* web_route_multipart - does POST path take multipart/form-data (the reply)? */
int web_route_multipart(const char *path);
/* web_route_too_large - answer a POST body over its limit (the reply's page says the limit) */
int web_route_too_large(web_req *rq);
/* web_reply_body_max - the largest body the reply route reads */
long web_reply_body_max(void);
/* web_pages_init - what every handler shares (blocklist, timing key); -1 = cannot run */
int web_pages_init(void);
void web_pages_fini(void);

#endif
