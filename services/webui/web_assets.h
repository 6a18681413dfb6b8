/*
 * web_assets.h - the static files (GET /static/postern.css), compiled in.
 */
#ifndef POSTERN_WEB_ASSETS_H
#define POSTERN_WEB_ASSETS_H

#include "web_http.h"

/* web_assets_css - the style sheet, cacheable for an hour */
int web_assets_css(web_req *rq);

#endif
