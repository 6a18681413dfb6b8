/*
 * web_proxy.c - the remote-image proxy. A mail's remote images would tell
 * its sender when and from where it was read (a per-recipient URL is a
 * read receipt). So the browser never fetches them: until the recipient
 * asks, nothing is fetched at all; once asked, the web UI fetches them
 * here and serves them inside the sandboxed document as data: URLs.
 *
 * What the sender's server learns is that someone fetched the URL from the
 * web UI's address at about that time: no cookie, no Referer, no
 * User-Agent, no Accept-Language, only "Accept: image/...". Every
 * connection, redirects included, is checked at connect time
 * (CURLOPT_OPENSOCKETFUNCTION) against the address it really goes to, so
 * neither a redirect nor a DNS answer that changes can reach loopback or
 * the internal network. Bounds: WEB_PROXY_MAX_IMAGES per message, bytes per
 * image and per message, one deadline for all, three redirects; only 200
 * answers whose bytes are a PNG, JPEG, GIF or WebP are kept (the declared
 * type is not trusted).
 */
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <curl/curl.h>

#include "postern/log.h"
#include "postern/mem.h"
#include "web_proxy.h"
#include "web_cfg.h"

/* One transfer in flight. */
typedef struct xfer {
	CURL *h;
	uint8_t *data;
	size_t len;
	int over;                   /* past a bound: dropped */
	size_t *total;              /* bytes of all transfers together */
} xfer;

/* web_proxy_init - libcurl's global init, once, before threads */
void web_proxy_init(void)
{
	static int done;

	if (!done && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		pn_fatalx("curl_global_init failed");
	done = 1;
}

/* v4_public - an IPv4 address (host order) outside every special-purpose block */
static int v4_public(uint32_t a)
{
	static const struct { uint32_t net, mask; } special[] = {
		{ 0x00000000, 0xff000000 },   /* 0/8 this network */
		{ 0x0a000000, 0xff000000 },   /* 10/8 */
		{ 0x64400000, 0xffc00000 },   /* 100.64/10 shared */
		{ 0x7f000000, 0xff000000 },   /* 127/8 loopback */
		{ 0xa9fe0000, 0xffff0000 },   /* 169.254/16 link-local, cloud metadata */
		{ 0xac100000, 0xfff00000 },   /* 172.16/12 */
		{ 0xc0000000, 0xffffff00 },   /* 192.0.0/24 */
		{ 0xc0000200, 0xffffff00 },   /* 192.0.2/24 documentation */
		{ 0xc0a80000, 0xffff0000 },   /* 192.168/16 */
		{ 0xc6120000, 0xfffe0000 },   /* 198.18/15 benchmarking */
		{ 0xc6336400, 0xffffff00 },   /* 198.51.100/24 documentation */
		{ 0xcb007100, 0xffffff00 },   /* 203.0.113/24 documentation */
		{ 0xe0000000, 0xf0000000 },   /* 224/4 multicast */
		{ 0xf0000000, 0xf0000000 },   /* 240/4 reserved, broadcast */
	};

	for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++)
		if ((a & special[i].mask) == special[i].net)
			return 0;
	return 1;
}

/* web_addr_public - see web_proxy.h */
int web_addr_public(const void *sa, size_t len)
{
	const struct sockaddr *s = sa;

	if (s->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = sa;
		return v4_public(ntohl(in->sin_addr.s_addr));
	}
	if (s->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const uint8_t *b = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
		static const uint8_t nat64[12] = { 0, 0x64, 0xff, 0x9b };
		uint32_t v4 = (uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15];
		if (!memcmp(b, mapped, 12) || !memcmp(b, nat64, 12))
			return v4_public(v4);
		if ((b[0] & 0xe0) != 0x20)
			return 0;               /* only 2000::/3 is global unicast */
		if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)
			return 0;               /* 2001:db8::/32 documentation */
		if (b[0] == 0x20 && b[1] == 0x02)
			return v4_public((uint32_t)b[2] << 24 | (uint32_t)b[3] << 16 |
			    (uint32_t)b[4] << 8 | b[5]);   /* 6to4: its IPv4 */
		return 1;
	}
	return 0;
}

/* open_socket - CURLOPT_OPENSOCKETFUNCTION: a socket only towards an allowed address */
static curl_socket_t open_socket(void *ctx, curlsocktype purpose, struct curl_sockaddr *a)
{
	(void)ctx;
	if (purpose != CURLSOCKTYPE_IPCXN)
		return CURL_SOCKET_BAD;
	if (!web_cfg.image_proxy_private && !web_addr_public(&a->addr, a->addrlen))
		return CURL_SOCKET_BAD;
	return socket(a->family, a->socktype, a->protocol);
}

/* on_data - CURLOPT_WRITEFUNCTION: keep bytes within both bounds */
static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
	xfer *x = ctx;
	size_t len = size * n;

	if (x->len + len > (size_t)WEB_PROXY_MAX_BYTES ||
	    *x->total + len > (size_t)WEB_PROXY_MAX_TOTAL) {
		x->over = 1;
		return 0;                   /* aborts this transfer */
	}
	x->data = pn_realloc(x->data, x->len + len + 1);
	memcpy(x->data + x->len, p, len);
	x->len += len;
	*x->total += len;
	return len;
}

/* web_image_type - see web_proxy.h */
const char *web_image_type(const uint8_t *p, size_t len)
{
	if (len >= 8 && !memcmp(p, "\x89PNG\r\n\x1a\n", 8))
		return "image/png";
	if (len >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff)
		return "image/jpeg";
	if (len >= 6 && (!memcmp(p, "GIF87a", 6) || !memcmp(p, "GIF89a", 6)))
		return "image/gif";
	if (len >= 12 && !memcmp(p, "RIFF", 4) && !memcmp(p + 8, "WEBP", 4))
		return "image/webp";
	return NULL;
}

/* setup - one anonymous, bounded GET */
static CURL *setup(const char *url, xfer *x, struct curl_slist *hdrs)
{
	CURL *h = curl_easy_init();

	if (!h)
		pn_fatalx("curl_easy_init failed");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, (long)WEB_PROXY_MAX_REDIRECTS);
	curl_easy_setopt(h, CURLOPT_PROXY, "");        /* never one from the environment */
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)WEB_PROXY_CONNECT_MS);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)WEB_PROXY_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)WEB_PROXY_MAX_BYTES);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(h, CURLOPT_PRIVATE, x);
	x->h = h;
	return h;
}

/* keep - a finished transfer's answer, if it is an image we show */
static int keep(xfer *x, CURLcode rc, web_proxy_img *out)
{
	long status = 0;
	const char *type;

	curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
	if (rc != CURLE_OK || x->over || status != 200 || !x->data ||
	    !(type = web_image_type(x->data, x->len)))
		return 0;
	out->type = type;
	out->data = x->data;
	out->len = x->len;
	x->data = NULL;
	return 1;
}

/* web_proxy_fetch - see web_proxy.h */
size_t web_proxy_fetch(const char *const *urls, size_t n, web_proxy_img *out)
{
	struct curl_slist *hdrs = NULL;
	CURLM *multi = curl_multi_init();
	xfer *x;
	size_t total = 0, kept = 0;
	int running = 0;

	if (n > WEB_PROXY_MAX_IMAGES)
		n = WEB_PROXY_MAX_IMAGES;
	memset(out, 0, n * sizeof(*out));
	if (!multi || n == 0) {
		if (multi)
			curl_multi_cleanup(multi);
		return 0;
	}
	hdrs = curl_slist_append(hdrs, "Accept: image/png, image/jpeg, image/gif, image/webp");
	hdrs = curl_slist_append(hdrs, "User-Agent:");     /* none at all */
	x = pn_calloc(n, sizeof(*x));
	for (size_t i = 0; i < n; i++) {
		x[i].total = &total;
		curl_multi_add_handle(multi, setup(urls[i], &x[i], hdrs));
	}
	do {
		if (curl_multi_perform(multi, &running) != CURLM_OK)
			break;
		if (running)
			curl_multi_poll(multi, NULL, 0, 200, NULL);
	} while (running);
	for (CURLMsg *msg; (msg = curl_multi_info_read(multi, &running));) {
		xfer *t = NULL;
		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
		kept += keep(t, msg->data.result, &out[t - x]);
	}
	for (size_t i = 0; i < n; i++) {
		curl_multi_remove_handle(multi, x[i].h);
		curl_easy_cleanup(x[i].h);
		pn_free(&x[i].data);
	}
	pn_free(&x);
	curl_slist_free_all(hdrs);
	curl_multi_cleanup(multi);
	pn_info("msg=\"remote images fetched\" asked=%zu kept=%zu bytes=%zu", n, kept, total);
	return kept;
}

/* web_proxy_free - free the images */
void web_proxy_free(web_proxy_img *img, size_t n)
{
	for (size_t i = 0; img && i < n; i++)
		pn_free(&img[i].data);
}
