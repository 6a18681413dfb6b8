/*
 * web_routes.c - what the web UI answers: one line per route, read
 * top-down, the first that fits wins (web_http.c). Whatever a route
 * needs before its handler runs is said here and enforced there: auth
 * (WEB_AUTH_LINK: the link's FLOW session; WEB_AUTH_SESSION: logged in),
 * CSRF on every POST, the body's limit and type, and the answer to a
 * request without the auth (default: 303 to /login). routes_test.c walks
 * this table.
 */
#include "web_routes.h"
#include "web_activate.h"
#include "web_assets.h"
#include "web_folder.h"
#include "web_http.h"
#include "web_link.h"
#include "web_lang.h"
#include "web_login.h"
#include "web_open.h"
#include "web_read.h"
#include "web_recover.h"
#include "web_reply.h"
#include "web_export.h"
#include "web_ownkey.h"

const web_route web_routes[] = {
	/* method, pattern, handler, auth (required), then what the route needs */
	WEB_ROUTE("GET", "/static/postern.css", web_assets_css, WEB_AUTH_NONE),
	WEB_ROUTE("GET", "/static/brand.css", web_assets_brand_css, WEB_AUTH_NONE),
	WEB_ROUTE("GET", "/static/logo", web_assets_logo, WEB_AUTH_NONE),
	WEB_ROUTE("GET", "/lang/*", web_lang_get, WEB_AUTH_NONE),
	WEB_ROUTE("GET", "/tz/*", web_tz_get, WEB_AUTH_NONE),
	WEB_ROUTE("GET", "/", web_root_get, WEB_AUTH_NONE),
	WEB_ROUTE("GET", "/m/*", web_link_get, WEB_AUTH_NONE),
	WEB_ROUTE("GET", "/activate", web_activate_get, WEB_AUTH_LINK, .deny = web_activate_gone),
	WEB_ROUTE("POST", "/activate/pin", web_pin_post, WEB_AUTH_LINK, .csrf = 1,
	    .deny = web_activate_gone),
	WEB_ROUTE("POST", "/activate/password", web_password_post, WEB_AUTH_LINK, .csrf = 1,
	    .deny = web_activate_gone),
	WEB_ROUTE("GET", "/login", web_login_get, WEB_AUTH_NONE),
	WEB_ROUTE("POST", "/login", web_login_post, WEB_AUTH_NONE, .csrf = 1),
	WEB_ROUTE("POST", "/logout", web_logout_post, WEB_AUTH_NONE, .csrf = 1),
	WEB_ROUTE("GET", "/recover", web_recover_get, WEB_AUTH_NONE),
	WEB_ROUTE("POST", "/recover", web_recover_post, WEB_AUTH_NONE, .csrf = 1),
	WEB_ROUTE("GET", "/recovery-code", web_recovery_code_get, WEB_AUTH_SESSION),
	WEB_ROUTE("GET", "/inbox", web_folder_get, WEB_AUTH_SESSION, .preload = web_folder_preload),
	WEB_ROUTE("GET", "/sent", web_folder_get, WEB_AUTH_SESSION, .preload = web_folder_preload),
	WEB_ROUTE("GET", "/msg/{id}", web_read_get, WEB_AUTH_SESSION, .preload = web_open_preload),
	WEB_ROUTE("GET", "/msg/{id}/html", web_read_frame, WEB_AUTH_SESSION, .deny = web_not_found,
	    .preload = web_open_preload),
	WEB_ROUTE("GET", "/msg/{id}/att/{n}", web_read_att, WEB_AUTH_SESSION, .deny = web_not_found,
	    .preload = web_open_preload),
	/* a mail's link, clicked in the sandbox: no cookie comes along (web_link.c) */
	WEB_ROUTE("GET", "/link", web_link_page, WEB_AUTH_NONE),
	WEB_ROUTE("POST", "/msg/{id}/reply", web_reply_post, WEB_AUTH_SESSION, .csrf = 1,
	    .multipart = 1, .body_max = web_reply_body_max, .too_large = web_reply_over_limit),
	WEB_ROUTE("GET", "/key", web_key_page_get, WEB_AUTH_SESSION),
	WEB_ROUTE("GET", "/key/guest.asc", web_key_guest_get, WEB_AUTH_SESSION),
	WEB_ROUTE("POST", "/key", web_key_upload_post, WEB_AUTH_SESSION, .csrf = 1,
	    .multipart = 1, .body_max = web_key_body_max, .too_large = web_key_over_limit),
	WEB_ROUTE("POST", "/export", web_export_post, WEB_AUTH_SESSION, .csrf = 1),
	WEB_ROUTE("POST", "/close", web_close_post, WEB_AUTH_SESSION, .csrf = 1),
	WEB_ROUTE_END
};
