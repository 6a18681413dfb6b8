/*
 * web_routes.h - the route table: every path the web UI answers, who may
 * use it, and what its body may be. main.c hands it to web_http_start.
 */
#ifndef POSTERN_WEB_ROUTES_H
#define POSTERN_WEB_ROUTES_H

#include "web_http.h"

/* web_routes - ended by WEB_ROUTE_END (web_http.h says what each field enforces) */
extern const web_route web_routes[];

#endif
