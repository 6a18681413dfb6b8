/*
 * kl_fetch.c - many HTTPS GETs at once, each bounded: key discovery's
 * only way out to the internet.
 *
 * kl_fetch_all runs one round of transfers in parallel with libcurl's
 * multi interface (at most kl_http.parallel connections at a time) and
 * returns when every transfer has ended, which the per-transfer timeout
 * bounds. Every transfer: https only (also for redirects, at most 3), TLS
 * peer and host verified (against the system's CAs or kl_http.ca_file),
 * a connect timeout and a total timeout, and a size bound enforced while
 * the body arrives (a server that sends more is cut off; one that
 * announces more is not read at all). connect_to (curl's CONNECT_TO list)
 * sends a host to another address while TLS still checks the original
 * name: split-horizon setups and the tests' loopback server use it.
 *
 * The outcome of a transfer is one of: an HTTP status with the body
 * (pool memory), a transport failure (with the curl code, for the caller
 * to tell "host does not exist" from the rest), or too large. Nothing
 * here logs a URL: it holds the address.
 */
#include <string.h>

#include <curl/curl.h>

#include "postern/log.h"
#include "postern/smtp.h"
#include "kl_fetch.h"

#define KL_MAX_REDIRS 3L

/* The state of one transfer while it runs. */
typedef struct xfer {
	kl_get *get;
	CURL *curl;                  /* NULL once ended and cleaned up */
	const kl_http *http;
	pn_pool *pool;
	uint8_t *buf;
	size_t len, cap;
	char errbuf[CURL_ERROR_SIZE];
} xfer;

/* on_data - append to the body; refuse (abort) past the bound */
static size_t on_data(char *p, size_t size, size_t nmemb, void *arg)
{
	xfer *x = arg;
	size_t n = size * nmemb;

	if (x->len + n > x->http->max_bytes) {
		x->get->too_large = 1;
		return 0;
	}
	if (x->len + n + 1 > x->cap) {
		size_t cap = x->cap ? x->cap : 16384;
		while (cap < x->len + n + 1)
			cap *= 2;
		if (cap > x->http->max_bytes + 1)
			cap = x->http->max_bytes + 1;
		uint8_t *nb = pn_pool_alloc(x->pool, cap);
		if (x->len)
			memcpy(nb, x->buf, x->len);
		x->buf = nb;
		x->cap = cap;
	}
	memcpy(x->buf + x->len, p, n);
	x->len += n;
	x->buf[x->len] = 0;
	return n;
}

/* easy_for - one configured transfer */
static CURL *easy_for(xfer *x, struct curl_slist *connect_to)
{
	const kl_http *h = x->http;
	CURL *c = curl_easy_init();

	if (!c)
		return NULL;
	curl_easy_setopt(c, CURLOPT_URL, x->get->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, KL_MAX_REDIRS);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (h->ca_file && *h->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_file);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, h->connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, h->timeout_ms);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)h->max_bytes);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "postern-keylookup");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(c, CURLOPT_PRIVATE, x);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, x->errbuf);
	if (connect_to)
		curl_easy_setopt(c, CURLOPT_CONNECT_TO, connect_to);
	return c;
}

/* connect_list - kl_http.connect_to ("a,b,c") as a curl list, or NULL */
static struct curl_slist *connect_list(const char *spec, pn_pool *pool)
{
	struct curl_slist *list = NULL;
	char *copy, *save = NULL;

	if (!spec || !*spec)
		return NULL;
	copy = pn_pool_strdup(pool, spec);
	for (char *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
		struct curl_slist *nl = curl_slist_append(list, t);
		if (!nl)
			break;
		list = nl;
	}
	return list;
}

/* finish - record how transfer x ended */
static void finish(CURL *c, xfer *x, CURLcode code)
{
	long status = 0;

	x->get->curl_code = (int)code;
	if (code == CURLE_FILESIZE_EXCEEDED || (code == CURLE_WRITE_ERROR && x->get->too_large)) {
		x->get->too_large = 1;
		return;
	}
	if (code != CURLE_OK) {
		x->get->failed = 1;
		return;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	x->get->status = (int)status;
	x->get->body = x->buf;
	x->get->len = x->len;
}

/* kl_fetch_all - run the n GETs in parallel; each gets its outcome */
void kl_fetch_all(const kl_http *http, kl_get *gets, size_t n, pn_pool *pool)
{
	struct curl_slist *connect_to = NULL;
	xfer *xs;
	CURLM *m;
	CURLMsg *msg;
	int running = 0, left;

	for (size_t i = 0; i < n; i++) {
		gets[i].status = gets[i].failed = gets[i].too_large = gets[i].curl_code = 0;
		gets[i].body = NULL;
		gets[i].len = 0;
	}
	if (n == 0)
		return;
	pn_smtp_init();
	if (!(m = curl_multi_init())) {
		for (size_t i = 0; i < n; i++)
			gets[i].failed = 1;
		return;
	}
	curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, http->parallel > 0 ? http->parallel : 8L);
	connect_to = connect_list(http->connect_to, pool);
	xs = pn_pool_alloc(pool, n * sizeof(*xs));
	for (size_t i = 0; i < n; i++) {
		CURL *c;
		xs[i].get = &gets[i];
		xs[i].http = http;
		xs[i].pool = pool;
		if (!(c = easy_for(&xs[i], connect_to)) || curl_multi_add_handle(m, c) != CURLM_OK) {
			if (c)
				curl_easy_cleanup(c);
			gets[i].failed = 1;
			continue;
		}
		xs[i].curl = c;
	}
	do {
		if (curl_multi_perform(m, &running) != CURLM_OK)
			break;
		while ((msg = curl_multi_info_read(m, &left))) {
			xfer *x = NULL;
			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
			finish(msg->easy_handle, x, msg->data.result);
			curl_multi_remove_handle(m, msg->easy_handle);
			curl_easy_cleanup(msg->easy_handle);
			x->curl = NULL;
		}
		if (running && curl_multi_poll(m, NULL, 0, 200, NULL) != CURLM_OK)
			break;
	} while (running);
	/* whatever is still attached (a multi error) ends as a failure */
	for (size_t i = 0; i < n; i++) {
		if (xs[i].curl) {
			curl_multi_remove_handle(m, xs[i].curl);
			curl_easy_cleanup(xs[i].curl);
			xs[i].curl = NULL;
		}
		if (!gets[i].status && !gets[i].failed && !gets[i].too_large)
			gets[i].failed = 1;
	}
	curl_multi_cleanup(m);
	curl_slist_free_all(connect_to);
}

/* kl_fetch_no_host - the host does not resolve, or nothing listens there */
int kl_fetch_no_host(const kl_get *g)
{
	return g->failed && (g->curl_code == CURLE_COULDNT_RESOLVE_HOST ||
	    g->curl_code == CURLE_COULDNT_CONNECT);
}
