/*
 * web_defang.h - untrusted HTML rewritten so that it can fetch nothing
 * and navigate nowhere but to our link page. Owns: web_defang_opt,
 * web_defang_out. Pure: text in, text out; images are resolved through a
 * hook (web_msg.c inlines cid: parts and proxied remote images).
 */
#ifndef POSTERN_WEB_DEFANG_H
#define POSTERN_WEB_DEFANG_H

#include <stddef.h>
#include <stdint.h>

#include "web_util.h"

/* What an image URL of the mail is. */
typedef enum web_img_kind {
	WEB_IMG_CID,                /* cid:<content-id> (url is the id, decoded) */
	WEB_IMG_REMOTE,             /* http:, https: or // (url is the absolute URL) */
} web_img_kind;

/*
 * web_img_hook - the URL to put in place of an image of the mail (a data:
 * URL), or NULL to drop it; the returned string is the hook's and must
 * stay valid until web_defang returns.
 */
typedef const char *(*web_img_hook)(void *ctx, web_img_kind kind, const char *url);

typedef struct web_defang_opt {
	int64_t id;                 /* the message: links go to /link?m=<id>&u=... */
	web_img_hook image;         /* NULL: every image URL is dropped */
	void *ctx;
} web_defang_opt;

typedef struct web_defang_out {
	web_buf html;               /* the rewritten document */
	size_t n_remote;            /* remote image URLs seen (shown or dropped) */
	long height;                /* estimated height in CSS pixels at ~900px width */
} web_defang_out;

/*
 * web_defang - html[0..len) rewritten into out->html (web_buf_free it):
 *   - every start tag is parsed as the HTML tokenizer does and written
 *     again with its attribute values double-quoted and escaped, so that
 *     nothing we looked past can become markup;
 *   - iframe, frame, frameset, object, embed, portal, fencedframe, applet,
 *     link, meta, base, script and param tags become x-<name> (start and
 *     end tags);
 *   - srcdoc, srcset, data, action, formaction, ping, target, http-equiv
 *     and the other fetching attributes are renamed x-<name>, their value
 *     dropped;
 *   - src, background, poster: only what the hook gives for a cid: or a
 *     remote image (else renamed away); data:image/ URLs stay;
 *   - href: /link?m=<id>&u=<url> (target=_top), with &t=<text> when the
 *     link's text shows another host; "#..." stays;
 *   - style attributes and <style> content: CSS escapes of letters
 *     resolved, then url(, image-set( and @import made invalid.
 */
void web_defang(const char *html, size_t len, const web_defang_opt *opt, web_defang_out *out);

/*
 * web_link_host - the host of an http(s) URL (lower case, without user
 * info or port) or the address of a mailto: URL, into out; -1 if url is
 * none of the three schemes or has no host
 */
int web_link_host(const char *url, char *out, size_t outlen);
/* web_shown_host - the host a link's text shows ("www.bank.example/x" -> "www.bank.example"), or -1 */
int web_shown_host(const char *text, char *out, size_t outlen);
/* web_hosts_differ - shown is neither host nor a parent domain of it (www. ignored) */
int web_hosts_differ(const char *shown, const char *host);

#endif
