/*
 * kl_fetch.h - bounded HTTPS GETs in parallel for key discovery
 * (kl_fetch.c).
 */
#ifndef POSTERN_KL_FETCH_H
#define POSTERN_KL_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "postern/mem.h"

/* How every discovery transfer is bounded. */
typedef struct kl_http {
	long timeout_ms;            /* whole transfer */
	long connect_timeout_ms;
	size_t max_bytes;           /* body */
	long parallel;              /* connections at a time */
	const char *ca_file;        /* NULL or "": the system's CAs */
	const char *connect_to;     /* curl CONNECT_TO entries, comma-separated, or NULL */
} kl_http;

/* One GET: the URL in, the outcome out. */
typedef struct kl_get {
	const char *url;
	int status;                 /* HTTP status; 0 if none came */
	int failed;                 /* transport failure (no answer, TLS, timeout) */
	int too_large;              /* the body was over max_bytes */
	int curl_code;              /* CURLcode of the end */
	uint8_t *body;              /* pool memory, NUL-terminated; set with a status */
	size_t len;
} kl_get;

/*
 * kl_fetch_all - run the n GETs at once and return when each has ended
 * (at most about timeout_ms after the last one started). Exactly one of
 * status, failed, too_large describes each outcome.
 */
void kl_fetch_all(const kl_http *http, kl_get *gets, size_t n, pn_pool *pool);

/* kl_fetch_no_host - did the GET fail because the host does not exist or refused? */
int kl_fetch_no_host(const kl_get *g);

#endif
