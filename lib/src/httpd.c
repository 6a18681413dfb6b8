/*
 * httpd.c - the hardened civetweb start that the web UI and the composer
 * API share (httpd.h says which settings and why), so that a setting
 * learned the hard way - tcp_nodelay, the head bound - is made once.
 */
#include <stdio.h>
#include <string.h>

#include "postern/httpd.h"
#include "postern/log.h"

/* pn_httpd_start - civetweb with Postern's settings, every path to handler */
struct mg_context *pn_httpd_start(const char *what, const char *listen, long threads,
    int head_max, const struct mg_callbacks *cb, mg_request_handler handler)
{
	char nthreads[32], max_req[32];
	struct mg_context *mg;

	snprintf(nthreads, sizeof(nthreads), "%ld", threads);
	snprintf(max_req, sizeof(max_req), "%d", head_max);
	const char *options[] = {
		"listening_ports", listen,
		"num_threads", nthreads,
		"tcp_nodelay", "1",
		"request_timeout_ms", "30000",
		"keep_alive_timeout_ms", "5000",
		"enable_keep_alive", "yes",
		"max_request_size", max_req,
		"enable_directory_listing", "no",
		NULL
	};
	mg_init_library(0);
	if (!(mg = mg_start(cb, NULL, options))) {
		pn_error("msg=\"%s cannot listen\" listen=%s", what, listen);
		return NULL;
	}
	mg_set_request_handler(mg, "/", handler, NULL);
	pn_info("msg=\"%s listening\" listen=%s threads=%ld", what, listen, threads);
	return mg;
}

size_t pn_httpd_head_size(const struct mg_request_info *ri)
{
	size_t n = strlen(ri->request_method) + strlen(ri->request_uri ? ri->request_uri : "") +
	    (ri->query_string ? strlen(ri->query_string) + 1 : 0) + 12;

	for (int i = 0; i < ri->num_headers; i++)
		n += strlen(ri->http_headers[i].name) + strlen(ri->http_headers[i].value) + 4;
	return n;
}
