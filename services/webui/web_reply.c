/*
 * web_reply.c - POST /msg/<id>/reply: a reply (mode=all: to all) to an
 * inbox message, with its attachments, and the form that asks for it.
 *
 * Recipients come from that message only (web_compose.c), keys from
 * keylookup (fresh); the mail is PGP/MIME, signed and encrypted; the mail
 * and its Sent copy go to mailstore in one StoreMessage, idempotent per
 * form (its nonce). The route takes multipart/form-data and the larger
 * body (web_reply_body_max), only logged in; a body over it gets this
 * file's page, which says the limit. At most POSTERN_WEBUI_REPLY_MAX
 * replies per mailbox in POSTERN_WEBUI_REPLY_WINDOW (429). The mail
 * carries an Autocrypt header with the guest's public key (web_autocrypt.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "postern/v1/keylookup.pb-c.h"
#include "postern/v1/mailstore.pb-c.h"
#include "postern/bus.h"
#include "postern/log.h"
#include "postern/mem.h"
#include "postern/mime.h"
#include "postern/guest.h"
#include "postern/text.h"
#include "web_reply.h"
#include "web_autocrypt.h"
#include "web_bus.h"
#include "web_cfg.h"
#include "web_compose.h"
#include "web_crypto.h"
#include "web_folder.h"
#include "web_form.h"
#include "web_html.h"
#include "web_http.h"
#include "web_key.h"
#include "web_mail.h"
#include "web_open.h"
#include "web_multipart.h"
#include "web_pw.h"
#include "web_sess.h"
#include "web_text.h"
#include "web_throttle.h"
#include "web_util.h"

/* addr_line - the addresses, escaped, comma-separated */
static void addr_line(web_buf *b, char **list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i)
			web_buf_puts(b, ", ");
		web_buf_esc(b, list[i]);
	}
}

/* web_reply_form - below an inbox message; a fresh nonce makes a double submit one mail */
void web_reply_form(web_req *rq, web_buf *b, int64_t id, const web_mail *m)
{
	char nonce[WEB_PASS_TEXT];
	uint8_t r[16];

	randombytes_buf(r, sizeof(r));
	pn_b64url(nonce, sizeof(nonce), r, sizeof(r));
	web_reply_form_html(b, rq->csrf, nonce, id, m, rq->sess.address);
}

/* web_reply_form_html - to whom, the text, the files, the buttons */
void web_reply_form_html(web_buf *b, const char *csrf, const char *nonce, int64_t id,
    const web_mail *m, const char *self)
{
	char **one = NULL, **all = NULL;
	size_t n_one = web_compose_recipients(m, self, 0, &one);
	size_t n_all = web_compose_recipients(m, self, 1, &all);

	if (n_one == 0 && n_all == 0)
		goto done;
	web_buf_printf(b, "<section class=\"card reply\" aria-labelledby=\"reply-h\">\n"
	    "<h2 id=\"reply-h\">%s</h2>\n<form method=\"post\" action=\"/msg/%lld/reply\" "
	    "enctype=\"multipart/form-data\">", TXT->reply_title, (long long)id);
	web_html_hidden_csrf(b, csrf);
	web_buf_printf(b, "<input type=\"hidden\" name=\"nonce\" value=\"%s\">\n", nonce);
	web_buf_printf(b, "<p class=\"hint\">%s: <strong>", TXT->reply_to_label);
	addr_line(b, n_one ? one : all, n_one ? n_one : n_all);
	web_buf_puts(b, "</strong>");
	if (n_all > n_one) {
		web_buf_printf(b, "<br>%s: ", TXT->reply_all_note);
		addr_line(b, all, n_all);
	}
	web_buf_printf(b, "</p>\n<label for=\"reply-text\">%s</label>\n"
	    "<textarea id=\"reply-text\" name=\"text\" rows=\"8\" maxlength=\"%d\" required "
	    "aria-describedby=\"reply-hint\"></textarea>\n<p class=\"hint\" id=\"reply-hint\">",
	    TXT->reply_label, WEB_FORM_MAX_VALUE / 4);
	web_buf_esc(b, TXT->reply_hint);
	web_buf_puts(b, "</p>\n");
	if (web_cfg.reply_max_attach > 0) {
		char size[32], files[16], hint[512];
		web_html_size(size, sizeof(size), web_cfg.reply_max_attach);
		snprintf(files, sizeof(files), "%d", WEB_MP_MAX_FILES);
		web_tfmt(hint, sizeof(hint), web_textn(WEB_N_ATTACH_HINT, WEB_MP_MAX_FILES), size,
		    files, NULL);
		web_buf_printf(b, "<label for=\"reply-files\">%s</label>\n"
		    "<input type=\"file\" id=\"reply-files\" name=\"attachment\" multiple "
		    "aria-describedby=\"reply-files-hint\">\n<p class=\"hint\" id=\"reply-files-hint\">",
		    TXT->reply_attach_label);
		web_buf_esc(b, hint);
		web_buf_puts(b, "</p>\n");
	}
	if (n_one)
		web_buf_printf(b, "<button type=\"submit\" class=\"btn\" name=\"mode\" value=\"one\">%s</button>\n",
		    TXT->reply_submit);
	if (n_all > n_one)
		web_buf_printf(b, "<button type=\"submit\" class=\"btn-quiet\" name=\"mode\" value=\"all\">%s</button>\n",
		    TXT->reply_all_submit);
	web_buf_puts(b, "</form>\n</section>\n");
done:
	web_strlist_free(&one, n_one);
	web_strlist_free(&all, n_all);
}

/* kept_form - the reply as written, in a form to send again (files must be chosen again) */
static void kept_form(web_req *rq, web_buf *b, int64_t id)
{
	const char *text = web_form_get(&rq->form, "text");
	const char *mode = web_form_get(&rq->form, "mode");
	char nonce[WEB_PASS_TEXT];
	uint8_t r[16];

	if (!text || strspn(text, " \t\r\n") == strlen(text))
		return;
	randombytes_buf(r, sizeof(r));
	pn_b64url(nonce, sizeof(nonce), r, sizeof(r));
	web_buf_printf(b, "<section class=\"card reply\">\n<form method=\"post\" "
	    "action=\"/msg/%lld/reply\" enctype=\"multipart/form-data\">", (long long)id);
	web_html_hidden_csrf(b, rq->csrf);
	web_buf_printf(b, "<input type=\"hidden\" name=\"nonce\" value=\"%s\">\n"
	    "<input type=\"hidden\" name=\"mode\" value=\"%s\">\n", nonce,
	    mode && !strcmp(mode, "all") ? "all" : "one");
	web_buf_printf(b, "<label for=\"reply-text\">%s</label>\n<textarea id=\"reply-text\" "
	    "name=\"text\" rows=\"8\" maxlength=\"%d\" required>", "Your reply (not sent yet)",
	    WEB_FORM_MAX_VALUE / 4);
	web_buf_esc(b, text);
	web_buf_printf(b, "</textarea>\n<p class=\"hint\">%s</p>\n"
	    "<button type=\"submit\" class=\"btn\">%s</button>\n</form>\n</section>\n",
	    "Files you attached were not kept: choose them again if you send from here.",
	    TXT->reply_submit);
}

/* reply_notice - a refusal or failure page; nothing was sent, the text written is kept */
static int reply_notice(web_req *rq, int status, int64_t id, const char *heading,
    const char *text)
{
	web_page p = web_page_for(rq, heading, "inbox");
	char back[64];
	web_buf b;
	int rc;

	snprintf(back, sizeof(back), "/msg/%lld", (long long)id);
	web_buf_init(&b);
	web_html_begin(&b, &p);
	web_html_card(&b, heading, text, back, TXT->back);
	kept_form(rq, &b, id);
	web_html_end(&b, &p);
	rc = web_respond_page(rq, status, &b);
	web_buf_free(&b);
	return rc;
}

/* reply_too_large - 413: the attachments are over the limit; nothing was sent */
static int reply_too_large(web_req *rq, int64_t id)
{
	char size[32], files[16], msg[512];

	web_html_size(size, sizeof(size), web_cfg.reply_max_attach);
	snprintf(files, sizeof(files), "%d", WEB_MP_MAX_FILES);
	web_tfmt(msg, sizeof(msg), web_cfg.reply_max_attach > 0 ?
	    web_textn(WEB_N_TOO_LARGE, WEB_MP_MAX_FILES) : TXT->reply_no_attach, size, files, NULL);
	return reply_notice(rq, 413, id, TXT->reply_failed_title, msg);
}

/* reply_limited - 429: the mailbox has sent its replies for this window */
static int reply_limited(web_req *rq, int64_t id, long wait)
{
	char count[32], window[64], left[64], msg[512];

	snprintf(count, sizeof(count), "%ld", web_cfg.reply_max);
	web_human_wait(window, sizeof(window), web_cfg.reply_window);
	web_human_wait(left, sizeof(left), wait);
	web_tfmt(msg, sizeof(msg), web_textn(WEB_N_REPLY_LIMIT, (unsigned long)web_cfg.reply_max),
	    count, window, left);
	return reply_notice(rq, 429, id, TXT->reply_limit_title, msg);
}

/*
 * lookup_keys - keylookup (fresh) for every recipient; 0 with keys[i]
 * copied into the request's pool, else 1 with the addresses that have
 * none in *missing_r, or -1 if keylookup did not answer.
 */
static int lookup_keys(web_req *rq, char **rcpt, size_t n, pn_buf *keys, web_buf *missing_r)
{
	const Postern__V1__KeyLookupResult *res = web_kl_lookup(rq, rcpt, n);
	int missing = 0;

	if (!res)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const Postern__V1__KeyResult *k = res->results[i];
		if (k->kind == POSTERN__V1__KEY_RESULT__KIND__KEY_FOUND && k->public_key.len > 0) {
			keys[i].data = k->public_key.data;      /* the pool's */
			keys[i].len = k->public_key.len;
			continue;
		}
		if (missing++)
			web_buf_puts(missing_r, ", ");
		web_buf_puts(missing_r, rcpt[i]);
	}
	return missing ? 1 : 0;
}

/* idem_of - the idempotency key of one reply form: mailbox and nonce, hashed */
static void idem_of(int64_t mailbox_id, const char *nonce, char out[48])
{
	uint8_t h[16];
	char hex[33];
	crypto_generichash_state st;
	char id[32];

	snprintf(id, sizeof(id), "%lld", (long long)mailbox_id);
	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, (const uint8_t *)"postern/reply/v1", 17);
	crypto_generichash_update(&st, (const uint8_t *)id, strlen(id) + 1);
	crypto_generichash_update(&st, (const uint8_t *)nonce, strlen(nonce));
	crypto_generichash_final(&st, h, sizeof(h));
	web_hex(hex, h, sizeof(h));
	snprintf(out, 48, "reply-%s", hex);
}

/* web_reply_post - POST /msg/<id>/reply */
int web_reply_post(web_req *rq)
{
	int64_t id = rq->arg.id;
	web_opened o;
	const char *text = web_form_get(&rq->form, "text");
	const char *nonce = web_form_get(&rq->form, "nonce");
	const char *mode = web_form_get(&rq->form, "mode");
	Postern__V1__StoreMessage sm = POSTERN__V1__STORE_MESSAGE__INIT;
	Postern__V1__NewMessage nm = POSTERN__V1__NEW_MESSAGE__INIT;
	Postern__V1__OutMail om = POSTERN__V1__OUT_MAIL__INIT;
	Postern__V1__OutMail *oms[1] = { &om };
	const Postern__V1__Stored *stored;
	const web_mailbox *mb;
	web_mail m;
	web_buf missing;
	char **rcpt = NULL, *subject = NULL, *body = NULL, *env = NULL, idem[48];
	char spass[WEB_PASS_TEXT], dir[512], ref[1024];
	uint8_t *plain = NULL;
	size_t n = 0, plain_len = 0;
	pn_buf *keys = NULL, sealed = { NULL, 0 };
	pn_mime_att *att = NULL;
	const char *why = NULL;
	pn_err err;
	int rc, k, taken = 0, sent = 0;
	long wait;

	memset(&m, 0, sizeof(m));
	if (!text || !nonce || strlen(nonce) < 16 || strlen(nonce) > 43 ||
	    strspn(nonce, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") !=
	    strlen(nonce))
		return web_error(rq, 400);
	if (web_utf8_chars(text) < 0) {
		/* tabs and line breaks are fine in a message; other controls are not */
		for (const char *p = text; *p; p++)
			if ((unsigned char)*p < 0x20 && *p != '\n' && *p != '\r' && *p != '\t')
				return web_error(rq, 400);
	}
	for (int i = 0; i < rq->files.n; i++)       /* files come only from the form's input */
		if (strcmp(rq->files.f[i].field, "attachment"))
			return web_error(rq, 400);
	/* the quota before any work: a mailbox that used it up costs nothing more */
	if ((wait = web_quota_take(rq->t->redis, rq->sess.mailbox_id)) != 0) {
		if (wait < 0)
			return web_error(rq, 503);
		pn_info("msg=\"reply refused: over the reply limit\" mailbox=%lld",
		    (long long)rq->sess.mailbox_id);
		return reply_limited(rq, id, wait);
	}
	taken = 1;
	web_buf_init(&missing);
	if ((rc = web_open_message(rq, id, 0, &m, &o)) != 0)
		goto done;
	if (o.folder != POSTERN__V1__FOLDER__FOLDER_INBOX ||
	    (n = web_compose_recipients(&m, rq->sess.address, mode && !strcmp(mode, "all"), &rcpt)) == 0) {
		pn_info("msg=\"reply refused: no allowed recipient\" mailbox=%lld message=%lld",
		    (long long)rq->sess.mailbox_id, (long long)id);
		rc = reply_notice(rq, 403, id, TXT->reply_not_allowed_title, TXT->reply_not_allowed);
		goto done;
	}
	if (strspn(text, " \t\r\n") == strlen(text)) {
		rc = reply_notice(rq, 400, id, TXT->reply_failed_title, TXT->reply_empty);
		goto done;
	}
	keys = pn_calloc(n, sizeof(*keys));
	if ((k = lookup_keys(rq, rcpt, n, keys, &missing)) != 0) {
		char msg[1024];
		if (k < 0) {
			rc = reply_notice(rq, 503, id, TXT->reply_failed_title, TXT->reply_failed);
			goto done;
		}
		pn_info("msg=\"reply refused: a recipient has no key\" mailbox=%lld recipients=%zu",
		    (long long)rq->sess.mailbox_id, n);
		web_tfmt(msg, sizeof(msg), TXT->reply_no_key, missing.data, NULL, NULL);
		rc = reply_notice(rq, 422, id, TXT->reply_no_key_title, msg);
		goto done;
	}
	mb = web_get_mailbox(rq, rq->sess.mailbox_id, NULL, NULL, &err);
	if (!mb) {
		rc = web_error(rq, err == PN_ERR_TEMP ? 503 : 500);
		goto done;
	}

	/* the plaintext: what Sent shows, and whose body goes out sealed */
	subject = web_compose_subject(m.subject);
	body = web_compose_body(text, &m);
	if (rq->files.n > 0) {
		att = pn_calloc((size_t)rq->files.n, sizeof(*att));
		for (int i = 0; i < rq->files.n; i++) {
			att[i].filename = rq->files.f[i].filename;
			att[i].type = rq->files.f[i].type;
			att[i].data = rq->files.f[i].data;
			att[i].len = rq->files.f[i].len;
		}
	}
	{
		const char *hdrs[5] = { NULL };
		pn_mime_mail mail = { .from = rq->sess.address, .to = (const char *const *)rcpt,
			.n_to = n, .subject = subject, .text = body, .headers = hdrs,
			.att = att, .n_att = (size_t)rq->files.n };
		if (*m.message_id && strlen(m.message_id) < sizeof(ref) - 2) {
			snprintf(ref, sizeof(ref), "<%s>", m.message_id);
			hdrs[0] = "In-Reply-To";
			hdrs[1] = ref;
			hdrs[2] = "References";
			hdrs[3] = ref;
		}
		plain = pn_mime_compose(&mail, &plain_len, &why);
	}
	if (!plain) {
		pn_warn("msg=\"reply does not compose\" why=\"%s\"", why ? why : "");
		rc = reply_notice(rq, 500, id, TXT->reply_failed_title, TXT->reply_failed);
		goto done;
	}
	if (!web_gpg_fast(rq->t)) {
		rc = reply_notice(rq, 503, id, TXT->reply_failed_title, TXT->reply_failed);
		goto done;
	}
	web_gpg_fast_dir(rq->t, dir, sizeof(dir));
	web_sess_pass(rq->sess.c, spass);
	err = web_compose_pgp(web_gpg_fast(rq->t), dir, plain, plain_len, rq->sess.key.data,
	    rq->sess.key.len, spass, keys, n, &sealed);
	sodium_memzero(spass, sizeof(spass));
	if (err != PN_OK) {
		rc = reply_notice(rq, err == PN_ERR_TEMP ? 503 : 500, id, TXT->reply_failed_title,
		    TXT->reply_failed);
		goto done;
	}
	/* Autocrypt: the sender's client learns the guest key and checks the signature */
	if (web_autocrypt_add(rq->sess.address, mb->public_key.data, mb->public_key.len,
	    &sealed) < 0)
		pn_warn("msg=\"reply without Autocrypt header: the guest key does not dearmor\"");

	/* one request: the Sent copy and the mail to send, idempotent per form */
	{
		web_buf tl;
		web_buf_init(&tl);
		for (size_t i = 0; i < n; i++)
			web_buf_printf(&tl, "%s%s", i ? ", " : "", rcpt[i]);
		web_buf eb;
		web_buf_init(&eb);
		web_buf_printf(&eb, "From: %s\nTo: %s\nSubject: ", rq->sess.address, tl.data);
		{
			char *cs = pn_mime_clean_line(subject, 500);
			web_buf_puts(&eb, cs);
			pn_free(&cs);
		}
		{
			char date[64];
			web_html_date(date, sizeof(date), rq->now);
			web_buf_printf(&eb, "\nDate: %s\nAttachments: %s\n", date,
			    rq->files.n > 0 ? "yes" : "no");
		}
		env = pn_strdup(eb.data);
		web_buf_free(&eb);
		web_buf_free(&tl);
	}
	if ((err = web_key_seal(rq, mb, plain, plain_len, &nm.body)) != PN_OK ||
	    (err = web_key_seal(rq, mb, env, strlen(env), &nm.envelope)) != PN_OK) {
		pn_warn("msg=\"reply: cannot seal the Sent copy\" status=%s", pn_err_str(err));
		rc = reply_notice(rq, 503, id, TXT->reply_failed_title, TXT->reply_failed);
		goto done;
	}
	idem_of(rq->sess.mailbox_id, nonce, idem);
	nm.folder = POSTERN__V1__FOLDER__FOLDER_SENT;
	nm.event_id = idem;
	nm.size = (int64_t)plain_len;
	nm.has_attachments = rq->files.n > 0;
	om.idem_key = idem;
	om.mail_from = rq->sess.address;
	om.rcpt_to = rcpt;
	om.n_rcpt_to = n;
	om.data.data = sealed.data;
	om.data.len = sealed.len;
	sm.mailbox_id = rq->sess.mailbox_id;
	sm.message = &nm;
	sm.mail = oms;
	sm.n_mail = 1;
	stored = web_store_message(rq, &sm, &err);
	web_folders_changed(rq);            /* Sent has it (even a timed-out call may have stored it) */
	if (!stored) {
		if (err == PN_ERR_TOOLARGE)     /* over mailstore's (or the bus's) size limit */
			rc = reply_too_large(rq, id);
		else
			rc = reply_notice(rq, err == PN_ERR_TEMP ? 503 : 500, id,
			    TXT->reply_failed_title, TXT->reply_failed);
		goto done;
	}
	pn_info("msg=\"reply queued\" mailbox=%lld message=%lld recipients=%zu attachments=%d "
	    "duplicate=%d", (long long)rq->sess.mailbox_id, (long long)stored->message_id, n,
	    rq->files.n, (int)stored->duplicate);
	sent = !stored->duplicate;     /* a double submit does not count twice */
	web_touch(rq, rq->sess.mailbox_id);
	rc = web_redirect(rq, "/sent");
done:
	if (taken && !sent)
		web_quota_give_back(rq->t->redis, rq->sess.mailbox_id);
	free(att);                  /* the files themselves are rq's */
	web_buf_free(&missing);
	web_strlist_free(&rcpt, n);
	free(keys);                 /* the keys themselves are the pool's */
	pn_buf_free(&sealed);
	if (plain) {
		pn_wipe(plain, plain_len);
		free(plain);
	}
	if (body)
		pn_wipe_free(&body);
	if (env)
		pn_wipe_free(&env);
	pn_free(&subject);
	web_mail_free(&m);
	return rc;
}

/*
 * web_reply_body_max - the reply's attachments, the text fields
 * (POSTERN_WEBUI_MAX_BODY) and the framing of every part
 */
long web_reply_body_max(void)
{
	return web_cfg.reply_max_attach + web_cfg.max_body +
	    (long)WEB_MP_MAX_PARTS * (WEB_MP_MAX_HEADER + WEB_MP_BOUNDARY_MAX + 8);
}

/* web_reply_over_limit - a logged-in reply over its limit: the page says the limit */
int web_reply_over_limit(web_req *rq)
{
	pn_info("msg=\"reply refused: too large\" mailbox=%lld", (long long)rq->sess.mailbox_id);
	return reply_too_large(rq, rq->arg.id);
}
