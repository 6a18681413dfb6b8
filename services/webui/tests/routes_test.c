/*
 * routes_test.c - the route table (web_routes.c) and its matcher
 * (web_http.c), without a server: every route states its auth, every
 * POST needs CSRF, only the reply takes a larger multipart body, a table
 * that leaves a field unsaid is refused, and paths find the routes the
 * old if/else chain sent them to.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../web_http.h"
#include "../web_routes.h"

/* dummy - a handler for the made-up tables below */
static int dummy(web_req *rq)
{
	(void)rq;
	return 200;
}

static long big(void)
{
	return 1 << 20;
}

/* the table walk: a route without an explicit auth fails here */
static void test_every_route_says_auth(void **state)
{
	char why[160] = "";
	int n = 0;
	(void)state;

	for (const web_route *r = web_routes; r->method; r++, n++) {
		if (r->auth == WEB_AUTH_UNSET)
			fail_msg("%s %s has no auth", r->method, r->pattern);
		assert_true(r->auth == WEB_AUTH_NONE || r->auth == WEB_AUTH_LINK ||
		    r->auth == WEB_AUTH_SESSION);
		assert_non_null(r->handler);
		assert_non_null(r->pattern);
		assert_int_equal(r->pattern[0], '/');
	}
	assert_int_equal(n, 28);
	if (web_routes_valid(web_routes, why, sizeof(why)) != 0)
		fail_msg("route table refused: %s", why);
}

/* every state change is a POST with the token */
static void test_every_post_needs_csrf(void **state)
{
	(void)state;
	for (const web_route *r = web_routes; r->method; r++) {
		if (!strcmp(r->method, "POST") && !r->csrf)
			fail_msg("POST %s without CSRF", r->pattern);
		if (strcmp(r->method, "POST"))
			assert_string_equal(r->method, "GET");
	}
}

/* only the reply and the own key upload take files and a larger body, and only logged in */
static void test_only_reply_takes_files(void **state)
{
	int n = 0;
	(void)state;

	for (const web_route *r = web_routes; r->method; r++) {
		if (!r->multipart && !r->body_max && !r->too_large)
			continue;
		n++;
		if (strcmp(r->pattern, "/key"))
			assert_string_equal(r->pattern, "/msg/{id}/reply");
		assert_string_equal(r->method, "POST");
		assert_int_equal(r->auth, WEB_AUTH_SESSION);
		assert_true(r->multipart);
		assert_non_null(r->body_max);
		assert_non_null(r->too_large);
	}
	assert_int_equal(n, 2);
}

/* the policy, path by path: who may use what */
static void test_auth_policy(void **state)
{
	static const struct {
		const char *method, *path;
		web_auth auth;
	} want[] = {
		{ "GET", "/static/postern.css", WEB_AUTH_NONE },
		{ "GET", "/", WEB_AUTH_NONE },
		{ "GET", "/m/abc", WEB_AUTH_NONE },
		{ "GET", "/activate", WEB_AUTH_LINK },
		{ "POST", "/activate/pin", WEB_AUTH_LINK },
		{ "POST", "/activate/password", WEB_AUTH_LINK },
		{ "GET", "/login", WEB_AUTH_NONE },
		{ "POST", "/login", WEB_AUTH_NONE },
		{ "POST", "/logout", WEB_AUTH_NONE },
		{ "GET", "/inbox", WEB_AUTH_SESSION },
		{ "GET", "/sent", WEB_AUTH_SESSION },
		{ "GET", "/msg/1", WEB_AUTH_SESSION },
		{ "GET", "/msg/1/html", WEB_AUTH_SESSION },
		{ "GET", "/msg/1/att/0", WEB_AUTH_SESSION },
		{ "POST", "/msg/1/reply", WEB_AUTH_SESSION },
		{ "GET", "/link", WEB_AUTH_NONE },      /* reached from the sandbox: no cookie */
		{ "GET", "/key", WEB_AUTH_SESSION },
		{ "GET", "/key/guest.asc", WEB_AUTH_SESSION },
		{ "POST", "/key", WEB_AUTH_SESSION },
		{ "POST", "/export", WEB_AUTH_SESSION },
		{ "POST", "/close", WEB_AUTH_SESSION },
	};
	web_args a;
	(void)state;

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const web_route *r = web_route_find(web_routes, want[i].method, want[i].path, &a);
		if (!r)
			fail_msg("%s %s finds no route", want[i].method, want[i].path);
		assert_int_equal(r->auth, want[i].auth);
	}
}

/* patterns: ids, attachment numbers, the link's rest, HEAD as GET */
static void test_find(void **state)
{
	const web_route *r, *read, *att;
	web_args a;
	(void)state;

	read = web_route_find(web_routes, "GET", "/msg/12", &a);
	assert_non_null(read);
	assert_int_equal(a.id, 12);
	att = web_route_find(web_routes, "HEAD", "/msg/922337203685477580/att/007", &a);
	assert_non_null(att);
	assert_true(att != read);
	assert_int_equal(a.id, 922337203685477580LL);
	assert_int_equal(a.n, 7);
	r = web_route_find(web_routes, "GET", "/m/", &a);
	assert_non_null(r);
	assert_string_equal(a.rest, "");
	r = web_route_find(web_routes, "GET", "/m/x/y", &a);
	assert_non_null(r);
	assert_string_equal(a.rest, "x/y");
	r = web_route_find(web_routes, "POST", "/msg/5/reply", &a);
	assert_non_null(r);
	assert_int_equal(a.id, 5);
	assert_true(r->multipart);

	/* what the old chain answered with 404 */
	static const char *const none[][2] = {
		{ "GET", "/msg/0" }, { "GET", "/msg/012" }, { "GET", "/msg/-1" },
		{ "GET", "/msg/9223372036854775807" }, { "GET", "/msg/1/att/1000" },
		{ "GET", "/msg/1/att/" }, { "GET", "/msg/1/att/1x" }, { "GET", "/msg/1/" },
		{ "GET", "/msg/1/reply" }, { "GET", "/msg/" }, { "GET", "/inbox/" },
		{ "GET", "/logout" }, { "GET", "/activate/pin" }, { "GET", "/m" },
		{ "GET", "/static/other.css" }, { "POST", "/inbox" }, { "POST", "/" },
		{ "POST", "/msg/1" }, { "POST", "/msg/1/reply/" }, { "PUT", "/login" },
	};
	for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
		r = web_route_find(web_routes, none[i][0], none[i][1], &a);
		if (r)
			fail_msg("%s %s found %s", none[i][0], none[i][1], r->pattern);
	}
}

/* a table that leaves something unsaid does not start */
static void test_valid_refuses(void **state)
{
	static const web_route bad[][2] = {
		{ { .method = "GET", .pattern = "/b", .handler = dummy }, WEB_ROUTE_END },
		{ WEB_ROUTE("POST", "/a", dummy, WEB_AUTH_SESSION), WEB_ROUTE_END },
		{ WEB_ROUTE("POST", "/a", dummy, WEB_AUTH_NONE, .csrf = 1, .multipart = 1,
		    .body_max = big), WEB_ROUTE_END },
		{ WEB_ROUTE("GET", "/a", dummy, WEB_AUTH_SESSION, .multipart = 1), WEB_ROUTE_END },
		{ WEB_ROUTE("PUT", "/a", dummy, WEB_AUTH_SESSION), WEB_ROUTE_END },
		{ WEB_ROUTE("GET", "a", dummy, WEB_AUTH_SESSION), WEB_ROUTE_END },
		{ WEB_ROUTE("GET", "/a", NULL, WEB_AUTH_SESSION), WEB_ROUTE_END },
	};
	static const char *const why_bad[] = {
		"GET /b: no auth",
		"POST /a: a POST without CSRF",
		"POST /a: a larger body without auth",
		"GET /a: a body on a route that reads none",
		"PUT /a: method is neither GET nor POST",
		"GET a: pattern does not start with /",
		"GET /a: no handler",
	};
	const web_route ok[] = {
		WEB_ROUTE("GET", "/a", dummy, WEB_AUTH_NONE),
		WEB_ROUTE("POST", "/a/{id}", dummy, WEB_AUTH_SESSION, .csrf = 1, .multipart = 1,
		    .body_max = big, .too_large = dummy),
		WEB_ROUTE_END
	};
	char why[160];
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(web_routes_valid(bad[i], why, sizeof(why)), -1);
		assert_string_equal(why, why_bad[i]);
	}
	assert_int_equal(web_routes_valid(ok, why, sizeof(why)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_route_says_auth),
		cmocka_unit_test(test_every_post_needs_csrf),
		cmocka_unit_test(test_only_reply_takes_files),
		cmocka_unit_test(test_auth_policy),
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_valid_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
