/*
 * web_link.h - the link page, GET /link?m=<id>&u=<url>[&t=<shown host>]:
 * where every link of a mail leads (web_defang.c rewrites them), saying
 * where the recipient is about to go before they go there.
 */
#ifndef POSTERN_WEB_LINK_H
#define POSTERN_WEB_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "web_http.h"
#include "web_util.h"

#define WEB_LINK_MAX 4096           /* bytes of a URL we offer */

/*
 * web_link_target - url as we let it be followed: http, https or mailto,
 * no control characters, at most WEB_LINK_MAX bytes; http(s) rebuilt as
 * scheme://host[:port]<rest> without user info, so that the browser goes
 * to exactly the host we show. Into *out (web_buf_free it) with the host
 * (or mail address) in host; -1 if the link may not be followed.
 */
int web_link_target(const char *url, web_buf *out, char *host, size_t hostlen);
/*
 * web_link_html - the page's article (pure): the host, the full URL, a
 * warning when the link's text showed another host (shown, or NULL) or
 * the URL carried user info, the button, the way back to message id (0:
 * none)
 */
void web_link_html(web_buf *b, const char *target, const char *host, const char *shown,
    int userinfo, int64_t id);
/* web_link_page - GET /link */
int web_link_page(web_req *rq);

#endif
