/*
 * web_assets.c - the static files: one style sheet, compiled in
 * (web_static.h), cached by browsers for an hour.
 */
#include <string.h>

#include "web_assets.h"
#include "web_http.h"
#include "web_static.h"

/* web_assets_css - GET /static/postern.css */
int web_assets_css(web_req *rq)
{
	return web_respond(rq, 200, "text/css; charset=utf-8",
	    "Cache-Control: public, max-age=3600\r\n", web_css, strlen(web_css));
}
