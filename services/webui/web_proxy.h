/*
 * web_proxy.h - the remote-image proxy: the web UI, not the recipient's
 * browser, fetches a message's remote images once the recipient asked for
 * them, anonymously and within bounds. Owns: web_proxy_img.
 */
#ifndef POSTERN_WEB_PROXY_H
#define POSTERN_WEB_PROXY_H

#include <stddef.h>
#include <stdint.h>

#define WEB_PROXY_MAX_IMAGES 20             /* fetched per message */
#define WEB_PROXY_MAX_BYTES (2L << 20)      /* per image */
#define WEB_PROXY_MAX_TOTAL (8L << 20)      /* per message */
#define WEB_PROXY_TIMEOUT_MS 8000           /* for all of a message's images together */
#define WEB_PROXY_CONNECT_MS 3000
#define WEB_PROXY_MAX_REDIRECTS 3

/* One fetched image: a type we show and its bytes, or nothing (type NULL). */
typedef struct web_proxy_img {
	const char *type;           /* "image/png", "image/jpeg", "image/gif", "image/webp" */
	uint8_t *data;
	size_t len;
} web_proxy_img;

/* web_proxy_init - libcurl's global state, once, before the worker threads */
void web_proxy_init(void);
/*
 * web_proxy_fetch - urls[0..n) (http or https) fetched in parallel into
 * out[0..n) (zeroed first; free with web_proxy_free): GET without cookies,
 * Referer, User-Agent or any other identifying header, no proxy from the
 * environment, at most WEB_PROXY_MAX_REDIRECTS redirects (http/https
 * only), every connection only to a public address (unless
 * POSTERN_WEBUI_IMAGE_PROXY_PRIVATE), within the bounds above; an answer
 * is kept only when it is 200 and its bytes are a PNG, JPEG, GIF or WebP
 * image. Returns how many images were kept.
 */
size_t web_proxy_fetch(const char *const *urls, size_t n, web_proxy_img *out);
void web_proxy_free(web_proxy_img *img, size_t n);
/* web_image_type - the type of an image by its first bytes (PNG, JPEG, GIF, WebP), or NULL */
const char *web_image_type(const uint8_t *p, size_t len);
/*
 * web_addr_public - the socket address (IPv4 or IPv6) is one on the
 * public Internet: not loopback, private, link-local, shared, multicast,
 * reserved or unspecified (IPv4-mapped and NAT64 IPv6 judged by their IPv4)
 */
int web_addr_public(const void *sockaddr, size_t len);

#endif
