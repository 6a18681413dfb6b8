/*
 * health.c - the small HTTP port for probes and scraping, on civetweb.
 *
 * Plain HTTP (civetweb's in-process TLS is broken on Debian 12, and this
 * port is for the cluster only). /healthz fails while some work is stuck
 * past its watchdog bound (watchdog.h). Each response is written with one
 * mg_write and tcp_nodelay is set: the Nagle stall otherwise costs 40 ms.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <civetweb.h>

#include "postern/health.h"
#include "postern/log.h"
#include "postern/mem.h"
#include "postern/metrics.h"
#include "postern/watchdog.h"

struct pn_health {
	struct mg_context *ctx;
	int (*ready)(void *);
	void *arg;
};

/* respond - one complete response in one write */
static int respond(struct mg_connection *conn, int status, const char *reason,
    const char *type, const char *body)
{
	size_t blen = strlen(body);
	char *buf = pn_asprintf("HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nCache-Control: no-store\r\n"
	    "X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n%s",
	    status, reason, type, blen, body);

	mg_write(conn, buf, strlen(buf));
	pn_free(&buf);
	return status;
}

/* handle - route the three paths; anything else is 404 */
static int handle(struct mg_connection *conn, void *data)
{
	pn_health *h = data;
	const struct mg_request_info *ri = mg_get_request_info(conn);

	if (strcmp(ri->request_method, "GET") && strcmp(ri->request_method, "HEAD"))
		return respond(conn, 405, "Method Not Allowed", "text/plain", "method not allowed\n");
	if (!strcmp(ri->local_uri, "/healthz")) {
		char why[160], body[192];

		/* work stuck past its watchdog bound: let the liveness probe restart us */
		if (pn_watchdog_check(why, sizeof(why))) {
			snprintf(body, sizeof(body), "stuck %s\n", why);
			return respond(conn, 503, "Service Unavailable", "text/plain", body);
		}
		return respond(conn, 200, "OK", "text/plain", "ok\n");
	}
	if (!strcmp(ri->local_uri, "/readyz")) {
		if (!h->ready || h->ready(h->arg))
			return respond(conn, 200, "OK", "text/plain", "ready\n");
		return respond(conn, 503, "Service Unavailable", "text/plain", "not ready\n");
	}
	if (!strcmp(ri->local_uri, "/metrics")) {
		char *text = pn_metrics_render();
		respond(conn, 200, "OK", "text/plain; version=0.0.4", text);
		free(text);
		return 200;
	}
	return respond(conn, 404, "Not Found", "text/plain", "not found\n");
}

/* log_message - civetweb's own errors, as our log lines */
static int log_message(const struct mg_connection *conn, const char *message)
{
	(void)conn;
	pn_warn("msg=\"health http\" detail=\"%.200s\"", message);
	return 1;
}

pn_health *pn_health_start(const char *listen, int (*ready)(void *), void *arg)
{
	const char *colon = strrchr(listen, ':');
	if (!colon || atoi(colon + 1) == 0)
		return NULL;
	pn_health *h = pn_calloc(1, sizeof(*h));
	h->ready = ready;
	h->arg = arg;
	const char *options[] = {
		"listening_ports", listen,
		"num_threads", "2",
		"tcp_nodelay", "1",
		"request_timeout_ms", "5000",
		"enable_keep_alive", "no",
		NULL
	};
	struct mg_callbacks cb;
	memset(&cb, 0, sizeof(cb));
	cb.log_message = log_message;
	mg_init_library(0);
	h->ctx = mg_start(&cb, h, options);
	if (!h->ctx) {
		pn_error("msg=\"cannot listen for health\" listen=%s", listen);
		free(h);
		return NULL;
	}
	mg_set_request_handler(h->ctx, "/", handle, h);
	pn_info("msg=\"health port open\" listen=%s", listen);
	return h;
}

void pn_health_stop(pn_health **hp)
{
	pn_health *h = hp ? *hp : NULL;
	if (!h)
		return;
	*hp = NULL;
	mg_stop(h->ctx);
	free(h);
}
