/*
 * web_ownkey.c - the recipient's keys: GET /key (the page), GET
 * /key/guest.asc (the mailbox's own public key, to download) and POST
 * /key (upload of the recipient's own public key), and the notice the
 * inbox shows once there is one.
 *
 * An uploaded key is at most POSTERN_WEBUI_OWN_KEY_MAX bytes, a file
 * (field "key") or pasted text (field "keytext"), armored or binary.
 * GnuPG only lists it (pn_gpg_check_public, never an import): it must be
 * one public key, unrevoked, unexpired, usable for encryption, with a user
 * id carrying the mailbox's address. Each refusal says what is wrong and
 * what to do. An accepted key goes to mailstore (SetOwnKey, source
 * "recipient") and keylookup's cache entry for the address is dropped, so
 * the next lookup answers KEY_FOUND with it at once: new mail goes to that
 * key, not into this mailbox. Uploading again replaces it.
 */
#include <stdio.h>
#include <string.h>

#include "postern/calls.h"
#include "postern/gpg.h"
#include "postern/log.h"
#include "postern/mem.h"
#include "postern/openpgp.h"
#include "postern/redis.h"
#include "web_bus.h"
#include "web_cfg.h"
#include "web_html.h"
#include "web_multipart.h"
#include "web_ownkey.h"
#include "web_text.h"
#include "web_util.h"

#define ARMOR_PUBLIC "-----BEGIN PGP PUBLIC KEY BLOCK-----"

/* verdict_text - what a refused key is told */
static const char *verdict_text(pn_key_verdict v)
{
	switch (v) {
	case PN_KEY_SECRET:
		return TXT->key_secret;
	case PN_KEY_MANY:
		return TXT->key_many;
	case PN_KEY_REVOKED:
		return TXT->key_revoked;
	case PN_KEY_EXPIRED:
		return TXT->key_expired;
	case PN_KEY_NO_ENCRYPTION:
		return TXT->key_no_encryption;
	case PN_KEY_NO_ADDRESS:
		return TXT->key_no_address;
	case PN_KEY_NOT_A_KEY:
	case PN_KEY_OK:
		break;
	}
	return TXT->key_not_a_key;
}

/* source_text - where the own key came from, for the notice */
static const char *source_text(const char *source)
{
	if (source && !strcmp(source, "wkd"))
		return TXT->key_from_wkd;
	if (source && !strcmp(source, "vks"))
		return TXT->key_from_vks;
	return TXT->key_from_you;
}

/* web_ownkey_notice - the notice of a mailbox whose mail goes to the recipient's own key */
void web_ownkey_notice(web_buf *b, const web_mailbox *mb)
{
	char text[512];

	if (!mb || !mb->own_fingerprint || !*mb->own_fingerprint) {
		web_buf_wrap(b, "<p class=\"keylink\"><a href=\"/key\">", TXT->key_title,
		    "</a></p>\n");
		return;
	}
	web_tfmt(text, sizeof(text), TXT->key_forwarded, mb->own_fingerprint,
	    source_text(mb->own_key_source), NULL);
	web_buf_wrap(b, "<div class=\"notice ownkey\" role=\"status\"><p>", text,
	    " <a href=\"/key\">");
	web_buf_esc(b, TXT->key_link);
	web_buf_puts(b, "</a></p></div>\n");
}

/* key_guest_part - the mailbox's own key, to check its replies */
static void key_guest_part(web_buf *b)
{
	web_buf_wrap(b, "<h2>", TXT->key_guest_title, "</h2>\n");
	web_buf_wrap(b, "<p>", TXT->key_guest_text, " ");
	web_buf_wrap(b, "<a href=\"/key/guest.asc\" download>", TXT->key_guest_download,
	    "</a></p>\n");
	web_buf_wrap(b, "<h2>", TXT->key_own_title, "</h2>\n");
}

/* key_export_part - export, then close (a mailbox with an own key) */
static void key_export_part(web_buf *b, const char *csrf)
{
	web_buf_wrap(b, "<h2>", TXT->key_export_title, "</h2>\n");
	web_buf_wrap(b, "<p>", TXT->key_export_text, "</p>\n");
	web_buf_puts(b, "<form method=\"post\" action=\"/export\">");
	web_html_hidden_csrf(b, csrf);
	web_buf_wrap(b, "<button type=\"submit\">", TXT->key_export_submit, "</button></form>\n");
	web_buf_wrap(b, "<p>", TXT->key_close_text, "</p>\n");
	web_buf_puts(b, "<form method=\"post\" action=\"/close\">");
	web_html_hidden_csrf(b, csrf);
	web_buf_wrap(b, "<label><input type=\"checkbox\" name=\"confirm\" value=\"yes\" "
	    "required> ", TXT->key_close_confirm, "</label> ");
	web_buf_wrap(b, "<button type=\"submit\">", TXT->key_close_submit, "</button></form>\n");
}

/* key_upload_form - the upload of a public key: a file, or pasted */
static void key_upload_form(web_buf *b, const char *csrf)
{
	char size[32], label[160];

	snprintf(size, sizeof(size), "%ld", web_cfg.own_key_max / 1024);
	web_tfmt(label, sizeof(label), TXT->key_file_label, size, NULL, NULL);
	web_buf_puts(b, "<form method=\"post\" action=\"/key\" enctype=\"multipart/form-data\">");
	web_buf_wrap(b, "<p><label>", label, " <input type=\"file\" name=\"key\" "
	    "accept=\".asc,.gpg,.pgp,.txt\"></label></p>\n");
	web_buf_wrap(b, "<p><label>", TXT->key_paste_label, " <textarea name=\"keytext\" "
	    "rows=\"6\" cols=\"64\"></textarea></label></p>\n");
	web_html_hidden_csrf(b, csrf);
	web_buf_wrap(b, "<button type=\"submit\">", TXT->key_upload_submit, "</button></form>\n");
}

/* key_page - the page, with an alert (cls "error" or "ok") if text is set */
static int key_page(web_req *rq, int status, const web_mailbox *mb, const char *cls,
    const char *text)
{
	web_page p = web_page_for(rq, TXT->key_title, NULL);
	web_buf b;
	int rc;

	web_buf_init(&b);
	web_html_begin(&b, &p);
	web_buf_wrap(&b, "<h1>", TXT->key_title, "</h1>\n");
	web_html_alert(&b, cls, text);
	key_guest_part(&b);
	if (mb && mb->own_fingerprint && *mb->own_fingerprint) {
		web_ownkey_notice(&b, mb);
		key_export_part(&b, rq->csrf);
	} else {
		web_buf_wrap(&b, "<p>", TXT->key_upload_text, "</p>\n");
	}
	key_upload_form(&b, rq->csrf);
	web_html_end(&b, &p);
	rc = web_respond_page(rq, status, &b);
	web_buf_free(&b);
	return rc;
}

/* this_mailbox - the session's mailbox, or the answer already sent (*rc_r) */
static const web_mailbox *this_mailbox(web_req *rq, int *rc_r)
{
	pn_err err;
	const web_mailbox *mb = web_get_mailbox(rq, rq->sess.mailbox_id, NULL, NULL, &err);

	if (!mb)
		*rc_r = web_error(rq, err == PN_ERR_TEMP ? 503 : 500);
	return mb;
}

/* web_key_page_get - GET /key */
int web_key_page_get(web_req *rq)
{
	int rc = 0;
	const web_mailbox *mb = this_mailbox(rq, &rc);

	if (!mb)
		return rc;
	return key_page(rq, 200, mb, NULL, !strcmp(rq->query, "saved=1") ?
	    TXT->key_saved : NULL);
}

/* web_key_guest_get - GET /key/guest.asc: the mailbox's public key */
int web_key_guest_get(web_req *rq)
{
	int rc = 0;
	const web_mailbox *mb = this_mailbox(rq, &rc);

	if (!mb)
		return rc;
	return web_respond(rq, 200, "application/pgp-keys",
	    "Content-Disposition: attachment; filename=\"mailbox-key.asc\"\r\n",
	    mb->public_key.data, mb->public_key.len);
}

/* uploaded - the key the form carries: the (first) file, else the pasted text */
static const uint8_t *uploaded(web_req *rq, size_t *len_r)
{
	const char *text;

	for (int i = 0; i < rq->files.n; i++)
		if (rq->files.f[i].len > 0) {
			*len_r = rq->files.f[i].len;
			return rq->files.f[i].data;
		}
	text = web_form_get(&rq->form, "keytext");
	*len_r = text ? strlen(text) : 0;
	return *len_r ? (const uint8_t *)text : NULL;
}

/* armored_copy - the key armored (pool memory): as given, or armored here */
static uint8_t *armored_copy(web_req *rq, const uint8_t *key, size_t len, size_t *len_r)
{
	size_t skip = strspn((const char *)key, " \t\r\n");
	char *a;
	uint8_t *out;

	if (skip < len && len - skip >= sizeof(ARMOR_PUBLIC) - 1 &&
	    !memcmp(key + skip, ARMOR_PUBLIC, sizeof(ARMOR_PUBLIC) - 1)) {
		*len_r = len - skip;
		return pn_pool_memdup(web_bus_pool(rq), key + skip, len - skip);
	}
	if (!(a = pn_openpgp_armor(key, len, "PUBLIC KEY BLOCK", len_r)))
		return NULL;
	out = pn_pool_memdup(web_bus_pool(rq), a, *len_r + 1);
	pn_free(&a);
	return out;
}

/* forget_lookup - drop keylookup's cache entry, so the next lookup sees the key */
static void forget_lookup(web_req *rq, const char *address)
{
	char key[300];

	snprintf(key, sizeof(key), "kl:%s", address);
	if (pn_redis_cmdv(rq->t->redis, NULL, "DEL", key, (char *)NULL) != PN_OK)
		pn_warn("msg=\"own key: keylookup cache entry not dropped\" mailbox=%lld",
		    (long long)rq->sess.mailbox_id);
}

/* store - SetOwnKey for the session's mailbox */
static pn_err store(web_req *rq, const uint8_t *armored, size_t len, char *fpr)
{
	Postern__V1__SetOwnKey set = POSTERN__V1__SET_OWN_KEY__INIT;
	Postern__V1__OwnKeySet *done;
	const char *why;

	set.mailbox_id = rq->sess.mailbox_id;
	set.public_key.data = (uint8_t *)armored;
	set.public_key.len = len;
	set.fingerprint = fpr;
	set.source = "recipient";
	return pn_ms_set_own_key(rq->t->bus, web_bus_pool(rq), &set, &done, &why);
}

/* web_key_upload_post - POST /key: check the key, store it, or say what is wrong */
int web_key_upload_post(web_req *rq)
{
	const web_mailbox *mb;
	const uint8_t *key;
	uint8_t *armored;
	size_t len = 0, alen = 0;
	pn_key_verdict v;
	char *fpr = NULL;
	pn_gpg *g;
	pn_err err;
	int rc = 0;

	if (!(mb = this_mailbox(rq, &rc)))
		return rc;
	if (!(key = uploaded(rq, &len)))
		return key_page(rq, 400, mb, "error", TXT->key_missing);
	if (len > (size_t)web_cfg.own_key_max)
		return web_key_over_limit(rq);
	if (!(g = web_gpg_fast(rq->t)))
		return web_error(rq, 503);
	if ((err = pn_gpg_check_public(g, key, len, rq->sess.address, &v, &fpr)) != PN_OK)
		return web_error(rq, 503);
	if (v != PN_KEY_OK) {
		pn_info("msg=\"own key refused\" mailbox=%lld why=\"%s\"",
		    (long long)rq->sess.mailbox_id, pn_key_verdict_str(v));
		return key_page(rq, 422, mb, "error", verdict_text(v));
	}
	if (!(armored = armored_copy(rq, key, len, &alen)) ||
	    (err = store(rq, armored, alen, fpr)) != PN_OK) {
		pn_free(&fpr);
		return web_error(rq, err == PN_ERR_TEMP ? 503 : 500);
	}
	pn_info("msg=\"own key saved\" mailbox=%lld", (long long)rq->sess.mailbox_id);
	pn_free(&fpr);
	forget_lookup(rq, rq->sess.address);
	return web_redirect(rq, "/key?saved=1");
}

/* web_key_body_max - the key, the text fields and the framing of every part */
long web_key_body_max(void)
{
	return web_cfg.own_key_max + web_cfg.max_body +
	    (long)WEB_MP_MAX_PARTS * (WEB_MP_MAX_HEADER + WEB_MP_BOUNDARY_MAX + 8);
}

/* web_key_over_limit - a key over POSTERN_WEBUI_OWN_KEY_MAX: the page says the limit */
int web_key_over_limit(web_req *rq)
{
	char text[400], size[32];
	int rc = 0;
	const web_mailbox *mb = this_mailbox(rq, &rc);

	if (!mb)
		return rc;
	snprintf(size, sizeof(size), "%ld", web_cfg.own_key_max / 1024);
	web_tfmt(text, sizeof(text), TXT->key_too_large, size, NULL, NULL);
	return key_page(rq, 413, mb, "error", text);
}
