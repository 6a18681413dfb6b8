/*
 * web_msg.c - the HTML part of a message as the sandbox gets it.
 *
 * The sandboxed document has an opaque origin, so Chromium sends no
 * SameSite=Strict cookie with the requests it makes (measured: an <img
 * src="/same-origin"> from such a frame arrives without the cookie). An
 * image URL of ours inside it could therefore only be authorised by a
 * bearer token in the URL. Instead the images travel inside the document
 * the session asked for: a cid: reference whose part is a PNG, JPEG, GIF
 * or WebP (by its bytes, within WEB_INLINE_MAX_BYTES) becomes a data: URL
 * of that part, and so does a remote image the proxy fetched. The CSP of
 * the document allows images from data: only; nothing else can load.
 */
#include <string.h>

#include <sodium.h>

#include "postern/mem.h"
#include "web_msg.h"
#include "web_cfg.h"
#include "web_proxy.h"

/* The hook's state over one or two passes of web_defang. */
typedef struct images {
	const web_mail *m;
	int serve, remote, collect;
	unsigned char *used;
	char *cid_url[PN_MIME_FILES_MAX];
	size_t inline_total;
	const char *urls[WEB_PROXY_MAX_IMAGES];  /* collecting: remote URLs in order */
	size_t n_urls;
	web_proxy_img got[WEB_PROXY_MAX_IMAGES];   /* serving: what the proxy kept */
	char *got_url[WEB_PROXY_MAX_IMAGES];
	size_t next;
} images;

/* web_data_url - see web_msg.h */
char *web_data_url(const char *type, const uint8_t *data, size_t len)
{
	size_t tl = strlen(type), bl = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
	char *u = pn_malloc(5 + tl + 8 + bl);

	memcpy(u, "data:", 5);
	memcpy(u + 5, type, tl);
	memcpy(u + 5 + tl, ";base64,", 8);
	sodium_bin2base64(u + 13 + tl, bl, data, len, sodium_base64_VARIANT_ORIGINAL);
	return u;
}

/* cid_image - the data: URL of the part named cid, if it is an image we show */
static const char *cid_image(images *im, const char *cid)
{
	const web_mail *m = im->m;

	for (size_t i = 0; i < m->n_att; i++) {
		const web_att *a = &m->att[i];
		const char *type;
		if (!a->content_id || strcmp(a->content_id, cid))
			continue;
		if (strncmp(a->type, "image/", 6) || a->len > (size_t)WEB_INLINE_MAX_BYTES ||
		    !(type = web_image_type(a->data, a->len)))
			return NULL;
		if (!im->serve) {
			im->used[i] = 1;
			return "data:,";
		}
		if (!im->cid_url[i]) {
			if (im->inline_total + a->len > (size_t)WEB_INLINE_MAX_TOTAL)
				return NULL;
			im->inline_total += a->len;
			im->cid_url[i] = web_data_url(type, a->data, a->len);
		}
		im->used[i] = 1;
		return im->cid_url[i];
	}
	return NULL;
}

/* remote_image - a remote image: collected, placed, or dropped */
static const char *remote_image(images *im, const char *url)
{
	size_t k;

	if (!im->remote)
		return NULL;
	if (!im->serve)
		return "data:,";
	if (im->collect) {
		if (im->n_urls < WEB_PROXY_MAX_IMAGES)
			im->urls[im->n_urls++] = pn_strdup(url);
		return NULL;
	}
	k = im->next++;
	if (k >= im->n_urls || !im->got[k].type)
		return NULL;
	if (!im->got_url[k])
		im->got_url[k] = web_data_url(im->got[k].type, im->got[k].data, im->got[k].len);
	return im->got_url[k];
}

/* on_image - web_defang's hook */
static const char *on_image(void *ctx, web_img_kind kind, const char *url)
{
	return kind == WEB_IMG_CID ? cid_image(ctx, url) : remote_image(ctx, url);
}

/* web_msg_html_make - see web_msg.h */
void web_msg_html_make(const web_mail *m, int64_t id, int serve, int remote, web_msg_html *out)
{
	images *im = pn_calloc(1, sizeof(*im));
	web_defang_opt opt = { .id = id, .image = on_image, .ctx = im };
	size_t len = strlen(m->html);

	memset(out, 0, sizeof(*out));
	im->m = m;
	im->serve = serve;
	im->remote = remote && web_cfg.remote_images;
	im->used = out->inline_used;
	if (serve && im->remote) {           /* first pass: which remote images */
		im->collect = 1;
		web_defang(m->html, len, &opt, &out->d);
		web_buf_free(&out->d.html);
		im->collect = 0;
		web_proxy_fetch(im->urls, im->n_urls, im->got);
	}
	web_defang(m->html, len, &opt, &out->d);
	out->frame_height = out->d.height < WEB_FRAME_MIN_PX ? WEB_FRAME_MIN_PX :
	    out->d.height > WEB_FRAME_MAX_PX ? WEB_FRAME_MAX_PX : out->d.height;
	for (size_t i = 0; i < PN_MIME_FILES_MAX; i++)
		pn_wipe_free(&im->cid_url[i]);
	for (size_t i = 0; i < WEB_PROXY_MAX_IMAGES; i++) {
		pn_free(&im->urls[i]);
		pn_wipe_free(&im->got_url[i]);
	}
	web_proxy_free(im->got, WEB_PROXY_MAX_IMAGES);
	pn_free(&im);
}

/* web_msg_html_free - the document (wiped) */
void web_msg_html_free(web_msg_html *h)
{
	web_buf_free(&h->d.html);
}
