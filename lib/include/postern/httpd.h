/*
 * httpd.h - civetweb started the one way Postern serves people: the web
 * UI and the gateway's composer API. Plain HTTP (TLS ends in front: the
 * in-process TLS of Debian's civetweb 1.15 is broken), tcp_nodelay on
 * (each response is one write; with Nagle a keep-alive response stalls
 * 40 ms), request heads bounded by head_max (civetweb refuses larger
 * ones itself), 30 s per request, 5 s keep-alive, no directory listing.
 * The caller's callbacks see every request and every error; one handler
 * takes every path. The health port keeps its own, smaller settings
 * (health.c).
 */
#ifndef POSTERN_HTTPD_H
#define POSTERN_HTTPD_H

#include <stddef.h>

#include <civetweb.h>

/*
 * pn_httpd_start - listen on listen ("host:port") with threads workers;
 * NULL (logged, naming what) if it cannot. Stop with mg_stop.
 */
struct mg_context *pn_httpd_start(const char *what, const char *listen, long threads,
    int head_max, const struct mg_callbacks *cb, mg_request_handler handler);
/*
 * pn_httpd_head_size - bytes of a request's line and headers, roughly as
 * sent: what a handler compares with its own head bound
 */
size_t pn_httpd_head_size(const struct mg_request_info *ri);

#endif
