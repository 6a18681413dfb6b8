/*
 * web_pages.c - what the recipient does, one handler per page.
 *
 *   GET  /m/<link>          the invitation link: a valid link of a pending
 *                           mailbox starts a FLOW session and redirects to
 *                           /activate (the secret leaves the address bar);
 *                           anything else gets the same neutral page
 *   GET  /activate          the PIN form, or the password form
 *   POST /activate/pin      provision's PinVerify
 *   POST /activate/password rules, then activation: the guest key is
 *                           re-protected with the password (strong S2K)
 *                           and, for the new session, with the session
 *                           passphrase (fast S2K); UpdateMailbox
 *                           pending -> active with clear_link
 *   GET  /login, POST /login  address + password; throttled; no enumeration
 *   POST /logout            deletes the session server-side
 *   GET  /inbox, /sent      folder pages: the current page from mailstore,
 *                           each envelope from the session's cache
 *                           (web_cache.c) or decrypted and then cached
 *   GET  /msg/<id>          read view; marks seen, touches the mailbox
 *   GET  /msg/<id>/html     the HTML part, sandboxed, for an <iframe>
 *   GET  /msg/<id>/att/<n>  an attachment, always as a download
 *   POST /msg/<id>/reply    reply (mode=all: reply to all) to an inbox
 *                           message: recipients from that message only,
 *                           keys from keylookup (fresh), PGP/MIME signed
 *                           and encrypted; the mail and its Sent copy in
 *                           one StoreMessage, idempotent per form (nonce).
 *                           multipart/form-data with attachments (the only
 *                           route that takes it, and the larger body);
 *                           at most POSTERN_WEBUI_REPLY_MAX replies per
 *                           mailbox in POSTERN_WEBUI_REPLY_WINDOW (429)
 *   GET  /static/postern.css
 *
 * Every state change is a POST with a CSRF token derived from the cookie
 * (web_crypto.c). Reading a message (GET) marks it seen: bookkeeping the
 * recipient expects of any mail reader, which no other site can trigger
 * because the session cookie is SameSite=Strict.
 *
 * Login without enumeration: an unknown address, a mailbox that is not
 * active and a wrong password all cost one strong-S2K unlock (a dummy
 * key made at start stands in for a missing one) and get the same page;
 * failures are counted per address string and per client either way.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "postern/v1/keylookup.pb-c.h"
#include "postern/v1/mailstore.pb-c.h"
#include "postern/v1/provision.pb-c.h"
#include "postern/addr.h"
#include "postern/log.h"
#include "postern/mime.h"
#include "postern/pb.h"
#include "postern/guest.h"
#include "web_pages.h"
#include "web_cache.h"
#include "web_cfg.h"
#include "web_crypto.h"
#include "web_form.h"
#include "web_html.h"
#include "web_http.h"
#include "web_mail.h"
#include "web_multipart.h"
#include "web_pcache.h"
#include "web_pw.h"
#include "web_reply.h"
#include "web_sess.h"
#include "web_static.h"
#include "web_text.h"
#include "web_util.h"

typedef Postern__V1__MailstoreRequest MsReq;
typedef Postern__V1__MailstoreReply MsRep;
typedef Postern__V1__Mailbox Mailbox;

static web_blocklist *blocklist;
static pn_buf dummy_key;            /* strong-S2K key nobody can unlock */
static ProtobufCBinaryData dummy_pub;   /* its public key */

/* ---- shared helpers ---- */

static pn_pool *pool_of(web_req *rq)
{
	if (!rq->pool)
		rq->pool = pn_pool_new();
	return rq->pool;
}

/* ms_call - one mailstore request; the reply (also errors) in *rep_r */
static pn_err ms_call(web_req *rq, MsReq *req, MsRep **rep_r)
{
	ProtobufCMessage *out = NULL;
	pn_err err = pn_client_call(rq->t->bus, "mailstore", &req->base,
	    &postern__v1__mailstore_reply__descriptor, pool_of(rq), &out);

	*rep_r = (MsRep *)out;
	if (err == PN_ERR_BUSY)
		err = PN_ERR_TEMP;
	if (err != PN_OK && err != PN_ERR_NOTFOUND && err != PN_ERR_EXISTS)
		pn_warn("msg=\"mailstore call failed\" op=%d status=%s", (int)req->op_case,
		    pn_err_str(err));
	return err;
}

/* get_mailbox - by id, address or link hash; NULL with *err_r */
static const Mailbox *get_mailbox(web_req *rq, int64_t id, const char *address,
    const uint8_t *hash, pn_err *err_r)
{
	MsReq req = POSTERN__V1__MAILSTORE_REQUEST__INIT;
	Postern__V1__GetMailbox g = POSTERN__V1__GET_MAILBOX__INIT;
	MsRep *rep = NULL;

	g.id = id;
	g.address = (char *)(address ? address : "");
	if (hash) {
		g.link_hash.data = (uint8_t *)hash;
		g.link_hash.len = 32;
	}
	req.op_case = POSTERN__V1__MAILSTORE_REQUEST__OP_GET_MAILBOX;
	req.get_mailbox = &g;
	*err_r = ms_call(rq, &req, &rep);
	if (*err_r == PN_OK && rep->result_case != POSTERN__V1__MAILSTORE_REPLY__RESULT_MAILBOX)
		*err_r = PN_ERR_INTERNAL;
	return *err_r == PN_OK ? rep->mailbox : NULL;
}

/* touch - the mailbox was used (best effort) */
static void touch(web_req *rq, int64_t id)
{
	MsReq req = POSTERN__V1__MAILSTORE_REQUEST__INIT;
	Postern__V1__Touch t = POSTERN__V1__TOUCH__INIT;
	MsRep *rep = NULL;

	t.mailbox_id = id;
	req.op_case = POSTERN__V1__MAILSTORE_REQUEST__OP_TOUCH;
	req.touch = &t;
	ms_call(rq, &req, &rep);
}

/* page_for - the frame's parameters for the current session */
static web_page page_for(web_req *rq, const char *title, const char *nav)
{
	web_page p = { .title = title, .expires_days = -1 };

	if (rq->sess.kind != WEB_SESS_NONE)
		p.address = rq->sess.address;
	if (rq->sess.kind == WEB_SESS_AUTH) {
		p.nav = nav;
		p.csrf = rq->csrf;
	}
	return p;
}

/* human_wait - "2 minutes" */
static void human_wait(char *out, size_t outlen, long secs)
{
	if (secs < 60)
		snprintf(out, outlen, "%ld second%s", secs, secs == 1 ? "" : "s");
	else if (secs < 7200)
		snprintf(out, outlen, "%ld minute%s", (secs + 59) / 60, (secs + 59) / 60 == 1 ? "" : "s");
	else
		snprintf(out, outlen, "%ld hours", (secs + 3599) / 3600);
}

/* alert - a message box (escaped) */
static void alert(web_buf *b, const char *cls, const char *text)
{
	if (!text)
		return;
	web_buf_printf(b, "<p class=\"%s\" role=\"alert\">", cls);
	web_buf_esc(b, text);
	web_buf_puts(b, "</p>\n");
}

/* new_session - replace whatever cookie came by a fresh one (new id) */
static void new_session(web_req *rq, web_sess_kind kind, int64_t mailbox_id,
    const char *address)
{
	if (rq->sess.kind != WEB_SESS_NONE)
		web_sess_delete(rq->t->redis, &rq->sess);
	web_sess_clear(&rq->sess);
	web_sess_new_cookie(&rq->sess);
	rq->sess.kind = kind;
	rq->sess.mailbox_id = mailbox_id;
	rq->sess.created = rq->now;
	rq->sess.address = pn_strdup(address ? address : "");
	rq->set_cookie = 1;
	web_sess_csrf(rq->sess.c, rq->csrf);
}

/* ---- the invitation link ---- */

/* neutral - the one page for every link that does not lead anywhere */
static int neutral(web_req *rq)
{
	web_buf b;
	web_page p = { .title = TXT->link_invalid_title, .expires_days = -1 };
	int rc;

	web_buf_init(&b);
	web_html_notice(&b, &p, TXT->link_invalid_title, TXT->link_invalid_text, "/login",
	    TXT->link_invalid_login);
	rc = web_respond_page(rq, 404, &b);
	web_buf_free(&b);
	return rc;
}

/* link_get - GET /m/<link> */
static int link_get(web_req *rq)
{
	const char *text = rq->arg.rest;
	uint8_t link[WEB_LINK_BYTES], hash[32];
	const Mailbox *mb;
	int valid;
	pn_err err;

	valid = strlen(text) == WEB_LINK_TEXT - 1 &&
	    pn_b64url_decode(link, sizeof(link), text, strlen(text)) == WEB_LINK_BYTES;
	if (!valid)
		memset(link, 0, sizeof(link));
	/* the same work for every input: hash and ask */
	pn_guest_link_hash(link, hash);
	mb = get_mailbox(rq, 0, NULL, hash, &err);
	if (err == PN_ERR_TEMP) {
		sodium_memzero(link, sizeof(link));
		return web_error(rq, 503);
	}
	if (!valid || !mb || mb->state != POSTERN__V1__MAILBOX_STATE__MAILBOX_PENDING ||
	    mb->link_hash.len != 32 || sodium_memcmp(mb->link_hash.data, hash, 32) != 0) {
		sodium_memzero(link, sizeof(link));
		return neutral(rq);
	}
	new_session(rq, WEB_SESS_FLOW, mb->id, mb->address);
	memcpy(rq->sess.link, link, sizeof(link));
	sodium_memzero(link, sizeof(link));
	rq->sess.has_pin = mb->pin_verifier.len > 0;
	if (web_sess_save(rq->t->redis, &rq->sess, rq->now) < 0)
		return web_error(rq, 503);
	pn_info("msg=\"link opened\" mailbox=%lld pin=%d", (long long)mb->id, rq->sess.has_pin);
	return web_redirect(rq, "/activate");
}

/* ---- re-protecting the guest key ---- */

#define REPROTECT_TRIES 3

/*
 * reprotect - pn_gpg_passwd, checked: the new copy must decrypt a probe
 * encrypted to the mailbox's public key with the new passphrase. GnuPG
 * under a calibrated S2K count now and then hands back a key whose
 * encryption subkey does not open (seen with gpg 2.2.40); a copy like
 * that must never be stored, so it is made again (up to three times).
 * PN_ERR_PERM: the old passphrase is wrong (no retry).
 */
static pn_err reprotect(web_req *rq, int strong, const ProtobufCBinaryData *pub,
    const void *key, size_t keylen, const char *old, const char *new_pass, pn_buf *out)
{
	static const char probe_text[] = "postern-probe";
	pn_buf probe = { NULL, 0 }, plain = { NULL, 0 };
	pn_gpg *f = web_gpg_fast(rq->t), *g;
	pn_err err;

	if (!f)
		return PN_ERR_TEMP;
	if ((err = pn_gpg_encrypt(f, pub->data, pub->len, probe_text, sizeof(probe_text) - 1,
	    &probe)) != PN_OK)
		return err;
	for (int i = 0; i < REPROTECT_TRIES; i++) {
		pn_buf_free(out);
		if (i > 0)
			web_gpg_recycle(rq->t);     /* a home that made a bad copy is not trusted */
		f = web_gpg_fast(rq->t);
		g = strong ? web_gpg_strong(rq->t) : f;
		if (!f || !g) {
			err = PN_ERR_TEMP;
			break;
		}
		if ((err = pn_gpg_passwd(g, key, keylen, old, new_pass, out)) != PN_OK)
			break;
		err = pn_gpg_decrypt(f, out->data, out->len, new_pass, probe.data, probe.len, &plain);
		if (err == PN_OK && plain.len == sizeof(probe_text) - 1 &&
		    !memcmp(plain.data, probe_text, plain.len))
			break;
		pn_buf_free(&plain);
		pn_warn("msg=\"re-protected key does not open, making it again\" try=%d status=%s",
		    i + 1, pn_err_str(err));
		err = PN_ERR_INTERNAL;
	}
	if (err != PN_OK)
		pn_buf_free(out);
	pn_buf_free(&plain);
	pn_buf_free(&probe);
	return err;
}

/* ---- PIN and password forms ---- */

static int pin_form(web_req *rq, int status, const char *msg)
{
	web_page p = page_for(rq, TXT->pin_title, NULL);
	web_buf b;
	int rc;

	web_buf_init(&b);
	web_html_begin(&b, &p);
	web_buf_printf(&b, "<section class=\"card\">\n<h1>%s</h1>\n<p class=\"lead\">", TXT->pin_title);
	web_buf_esc(&b, TXT->pin_intro);
	web_buf_puts(&b, "</p>\n");
	alert(&b, "alert", msg);
	web_buf_puts(&b, "<form method=\"post\" action=\"/activate/pin\">");
	web_html_hidden_csrf(&b, rq->csrf);
	web_buf_printf(&b, "\n<label for=\"pin\">%s</label>\n"
	    "<input id=\"pin\" name=\"pin\" type=\"text\" class=\"pin\" inputmode=\"numeric\" "
	    "autocomplete=\"one-time-code\" maxlength=\"16\" required autofocus "
	    "aria-describedby=\"pin-hint\"%s>\n<p class=\"hint\" id=\"pin-hint\">%s</p>\n"
	    "<button type=\"submit\" class=\"btn\">%s</button>\n</form>\n</section>\n",
	    TXT->pin_label, msg ? " aria-invalid=\"true\"" : "", TXT->pin_hint, TXT->pin_submit);
	web_html_end(&b, &p);
	rc = web_respond_page(rq, status, &b);
	web_buf_free(&b);
	return rc;
}

static int password_form(web_req *rq, int status, const char *msg)
{
	web_page p = page_for(rq, TXT->pw_title, NULL);
	web_buf b;
	int rc;

	web_buf_init(&b);
	web_html_begin(&b, &p);
	web_buf_printf(&b, "<section class=\"card\">\n<h1>%s</h1>\n<p class=\"lead\">", TXT->pw_title);
	web_buf_esc(&b, TXT->pw_intro);
	web_buf_puts(&b, "</p>\n");
	alert(&b, "warn", TXT->pw_warning);
	alert(&b, "alert", msg);
	web_buf_puts(&b, "<form method=\"post\" action=\"/activate/password\">");
	web_html_hidden_csrf(&b, rq->csrf);
	web_buf_printf(&b, "\n<label for=\"user\">%s</label>\n"
	    "<input id=\"user\" name=\"username\" type=\"email\" autocomplete=\"username\" readonly value=\"",
	    TXT->addr_label);
	web_buf_esc(&b, rq->sess.address);
	web_buf_printf(&b, "\">\n<label for=\"pw\">%s</label>\n"
	    "<input id=\"pw\" name=\"password\" type=\"password\" autocomplete=\"new-password\" "
	    "minlength=\"%ld\" maxlength=\"%ld\" required autofocus aria-describedby=\"pw-hint\"%s>\n"
	    "<p class=\"hint\" id=\"pw-hint\">", TXT->pw_label, web_cfg.password_min,
	    web_cfg.password_max, msg ? " aria-invalid=\"true\"" : "");
	{
		char hint[256];
		web_tfmtl(hint, sizeof(hint), TXT->pw_hint, web_cfg.password_min,
		    web_cfg.password_max, 0);
		web_buf_esc(&b, hint);
	}
	web_buf_printf(&b, "</p>\n<label for=\"pw2\">%s</label>\n"
	    "<input id=\"pw2\" name=\"confirm\" type=\"password\" autocomplete=\"new-password\" "
	    "maxlength=\"%ld\" required>\n"
	    "<button type=\"submit\" class=\"btn\">%s</button>\n</form>\n</section>\n",
	    TXT->pw_confirm_label, web_cfg.password_max, TXT->pw_submit);
	web_html_end(&b, &p);
	rc = web_respond_page(rq, status, &b);
	web_buf_free(&b);
	return rc;
}

/* flow_gone - no (more) FLOW session */
static int flow_gone(web_req *rq)
{
	web_page p = { .title = TXT->flow_expired_title, .expires_days = -1 };
	web_buf b;
	int rc;

	if (rq->sess.kind == WEB_SESS_AUTH)
		return web_redirect(rq, "/inbox");
	web_buf_init(&b);
	web_html_notice(&b, &p, TXT->flow_expired_title, TXT->flow_expired_text, "/login",
	    TXT->link_invalid_login);
	rc = web_respond_page(rq, 200, &b);
	web_buf_free(&b);
	return rc;
}

/* activate_get - GET /activate */
static int activate_get(web_req *rq)
{
	if (rq->sess.has_pin && !rq->sess.pin_ok)
		return pin_form(rq, 200, NULL);
	return password_form(rq, 200, NULL);
}

/* pin_post - POST /activate/pin */
static int pin_post(web_req *rq)
{
	Postern__V1__ProvisionRequest req = POSTERN__V1__PROVISION_REQUEST__INIT;
	Postern__V1__PinVerify pv = POSTERN__V1__PIN_VERIFY__INIT;
	Postern__V1__ProvisionReply *rep;
	ProtobufCMessage *out = NULL;
	const Postern__V1__PinVerdict *v;
	char pin[WEB_PIN_MAX + 1], msg[256], wait[64], num[24];
	const char *in = web_form_get(&rq->form, "pin");
	size_t n = 0;
	pn_err err;

	if (!rq->sess.has_pin || rq->sess.pin_ok)
		return web_redirect(rq, "/activate");
	/* digits only; spaces people type between groups are dropped */
	for (const char *p = in ? in : ""; *p; p++) {
		if (*p == ' ' || *p == '-')
			continue;
		if (n >= WEB_PIN_MAX) {
			n = 0;
			break;
		}
		pin[n++] = *p;
	}
	pin[n] = '\0';
	pv.mailbox_id = rq->sess.mailbox_id;
	pv.link_secret.data = rq->sess.link;
	pv.link_secret.len = WEB_LINK_BYTES;
	pv.pin = pin;
	pv.client = rq->client;
	req.op_case = POSTERN__V1__PROVISION_REQUEST__OP_PIN_VERIFY;
	req.pin_verify = &pv;
	err = pn_client_call(rq->t->bus, "provision", &req.base,
	    &postern__v1__provision_reply__descriptor, pool_of(rq), &out);
	rep = (Postern__V1__ProvisionReply *)out;
	if (err == PN_ERR_PERM || err == PN_ERR_NOTFOUND) {
		sodium_memzero(pin, sizeof(pin));
		web_sess_delete(rq->t->redis, &rq->sess);
		rq->clear_cookie = 1;
		return neutral(rq);
	}
	if (err != PN_OK || rep->result_case != POSTERN__V1__PROVISION_REPLY__RESULT_VERDICT) {
		sodium_memzero(pin, sizeof(pin));
		pn_warn("msg=\"PIN verification failed\" status=%s", pn_err_str(err));
		return web_error(rq, err == PN_ERR_TEMP || err == PN_ERR_BUSY ? 503 : 500);
	}
	v = rep->verdict;
	switch (v->verdict) {
	case POSTERN__V1__PIN_VERDICT__VERDICT__PIN_OK:
		snprintf(rq->sess.pin, sizeof(rq->sess.pin), "%s", pin);
		sodium_memzero(pin, sizeof(pin));
		rq->sess.pin_ok = 1;
		if (web_sess_save(rq->t->redis, &rq->sess, rq->now) < 0)
			return web_error(rq, 503);
		return web_redirect(rq, "/activate");
	case POSTERN__V1__PIN_VERDICT__VERDICT__PIN_WRONG:
		sodium_memzero(pin, sizeof(pin));
		if (v->locked_until > rq->now) {
			human_wait(wait, sizeof(wait), (long)(v->locked_until - rq->now));
			snprintf(num, sizeof(num), "%ld", (long)v->tries_left);
			web_tfmt(msg, sizeof(msg), TXT->pin_wrong_wait, num, wait, NULL);
		} else {
			web_tfmtl(msg, sizeof(msg), TXT->pin_wrong, (long)v->tries_left, 0, 0);
		}
		return pin_form(rq, 200, msg);
	default:
		sodium_memzero(pin, sizeof(pin));
		if (v->locked_until > 0) {
			human_wait(wait, sizeof(wait), (long)(v->locked_until > rq->now ?
			    v->locked_until - rq->now : 1));
			web_tfmt(msg, sizeof(msg), TXT->pin_locked_wait, wait, NULL, NULL);
			return pin_form(rq, 429, msg);
		}
		{
			web_page p = page_for(rq, TXT->pin_locked_title, NULL);
			web_buf b;
			int rc;
			web_buf_init(&b);
			web_html_notice(&b, &p, TXT->pin_locked_title, TXT->pin_locked_text, NULL, NULL);
			rc = web_respond_page(rq, 403, &b);
			web_buf_free(&b);
			return rc;
		}
	}
}

/* pw_message - the text for a verdict (static buffer) */
static const char *pw_message(web_pw_verdict v)
{
	static __thread char buf[160];

	switch (v) {
	case WEB_PW_TOO_SHORT:
		web_tfmtl(buf, sizeof(buf), TXT->pw_too_short, web_cfg.password_min, 0, 0);
		return buf;
	case WEB_PW_TOO_LONG:
		web_tfmtl(buf, sizeof(buf), TXT->pw_too_long, web_cfg.password_max, 0, 0);
		return buf;
	case WEB_PW_CONTROL: return TXT->pw_control;
	case WEB_PW_COMMON: return TXT->pw_common;
	case WEB_PW_PATTERN: return TXT->pw_pattern;
	case WEB_PW_CONTEXT: return TXT->pw_context;
	case WEB_PW_MISMATCH: return TXT->pw_mismatch;
	default: return NULL;
	}
}

/* already_active - the password was set meanwhile */
static int already_active(web_req *rq)
{
	web_page p = { .title = TXT->pw_title, .expires_days = -1 };
	web_buf b;
	int rc;

	web_sess_delete(rq->t->redis, &rq->sess);
	rq->clear_cookie = 1;
	web_buf_init(&b);
	web_html_notice(&b, &p, TXT->pw_title, TXT->pw_already, "/login", TXT->home);
	rc = web_respond_page(rq, 200, &b);
	web_buf_free(&b);
	return rc;
}

/* password_post - POST /activate/password: rules, then activation */
static int password_post(web_req *rq)
{
	MsReq req = POSTERN__V1__MAILSTORE_REQUEST__INIT;
	Postern__V1__UpdateMailbox u = POSTERN__V1__UPDATE_MAILBOX__INIT;
	MsRep *rep = NULL;
	const char *pw = web_form_get(&rq->form, "password");
	const char *confirm = web_form_get(&rq->form, "confirm");
	char pass0[WEB_PASS_TEXT], spass[WEB_PASS_TEXT];
	uint8_t hash[32], link[WEB_LINK_BYTES];
	pn_buf strong = { NULL, 0 }, work = { NULL, 0 };
	const Mailbox *mb;
	web_pw_verdict v;
	pn_gpg *g;
	int64_t id;
	char *address = NULL;
	web_sess fresh;
	pn_err err;
	int rc;

	memset(&fresh, 0, sizeof(fresh));
	if (rq->sess.has_pin && !rq->sess.pin_ok)
		return web_redirect(rq, "/activate");
	v = web_pw_check(blocklist, pw, confirm, rq->sess.address, web_cfg.password_min,
	    web_cfg.password_max);
	if (v != WEB_PW_OK)
		return password_form(rq, 200, pw_message(v));

	id = rq->sess.mailbox_id;
	mb = get_mailbox(rq, id, NULL, NULL, &err);
	if (err == PN_ERR_TEMP)
		return web_error(rq, 503);
	if (!mb)
		return neutral(rq);
	if (mb->state != POSTERN__V1__MAILBOX_STATE__MAILBOX_PENDING)
		return already_active(rq);
	pn_guest_link_hash(rq->sess.link, hash);
	if (mb->link_hash.len != 32 || sodium_memcmp(mb->link_hash.data, hash, 32) != 0)
		return neutral(rq);
	pn_guest_passphrase(rq->sess.link, rq->sess.pin, pass0);
	memcpy(link, rq->sess.link, sizeof(link));

	/* the stored copy: the password, strong S2K */
	if (!(g = web_gpg_strong(rq->t))) {
		rc = web_error(rq, 503);
		goto done;
	}
	err = reprotect(rq, 1, &mb->public_key, mb->secret_key.data, mb->secret_key.len, pass0,
	    pw, &strong);
	if (err != PN_OK) {
		pn_warn("msg=\"cannot re-protect the guest key\" mailbox=%lld status=%s",
		    (long long)id, pn_err_str(err));
		rc = err == PN_ERR_PERM ? neutral(rq) : web_error(rq, 500);
		goto done;
	}
	/* the session's working copy: a fresh cookie (new id), fast S2K */
	memset(&fresh, 0, sizeof(fresh));
	web_sess_new_cookie(&fresh);
	web_sess_pass(fresh.c, spass);
	if (reprotect(rq, 0, &mb->public_key, mb->secret_key.data, mb->secret_key.len, pass0,
	    spass, &work) != PN_OK) {
		rc = web_error(rq, 500);
		goto done;
	}
	u.mailbox_id = id;
	u.expected_state = POSTERN__V1__MAILBOX_STATE__MAILBOX_PENDING;
	u.new_state = POSTERN__V1__MAILBOX_STATE__MAILBOX_ACTIVE;
	u.secret_key.data = strong.data;
	u.secret_key.len = strong.len;
	u.clear_link = 1;
	req.op_case = POSTERN__V1__MAILSTORE_REQUEST__OP_UPDATE_MAILBOX;
	req.update_mailbox = &u;
	err = ms_call(rq, &req, &rep);
	if (err == PN_ERR_EXISTS) {
		rc = already_active(rq);
		goto done;
	}
	if (err != PN_OK) {
		rc = web_error(rq, err == PN_ERR_TEMP ? 503 : 500);
		goto done;
	}
	/* active: the FLOW record goes, the new session comes */
	address = pn_strdup(mb->address);
	web_sess_delete(rq->t->redis, &rq->sess);
	web_sess_clear(&rq->sess);
	rq->sess = fresh;
	memset(&fresh, 0, sizeof(fresh));
	rq->sess.kind = WEB_SESS_AUTH;
	rq->sess.mailbox_id = id;
	rq->sess.created = rq->now;
	rq->sess.address = address;
	address = NULL;
	rq->sess.key = work;
	work.data = NULL;
	work.len = 0;
	rq->set_cookie = 1;
	web_sess_csrf(rq->sess.c, rq->csrf);
	if (web_sess_save(rq->t->redis, &rq->sess, rq->now) < 0) {
		rc = web_error(rq, 503);
		goto done;
	}
	touch(rq, id);
	pn_info("msg=\"mailbox activated\" mailbox=%lld", (long long)id);
	rc = web_redirect(rq, "/inbox");
done:
	sodium_memzero(pass0, sizeof(pass0));
	sodium_memzero(spass, sizeof(spass));
	sodium_memzero(link, sizeof(link));
	pn_buf_free(&strong);
	pn_buf_free(&work);
	pn_free(&address);
	web_sess_clear(&fresh);
	return rc;
}

/* ---- login and logout ---- */

static int login_form(web_req *rq, int status, const char *msg, const char *cls,
    const char *address)
{
	web_page p = { .title = TXT->login_title, .expires_days = -1 };
	web_buf b;
	int rc;

	web_buf_init(&b);
	web_html_begin(&b, &p);
	web_buf_printf(&b, "<section class=\"card\">\n<h1>%s</h1>\n<p class=\"lead\">", TXT->login_title);
	web_buf_esc(&b, TXT->login_intro);
	web_buf_puts(&b, "</p>\n");
	alert(&b, cls ? cls : "alert", msg);
	web_buf_puts(&b, "<form method=\"post\" action=\"/login\">");
	web_html_hidden_csrf(&b, rq->csrf);
	web_buf_printf(&b, "\n<label for=\"address\">%s</label>\n"
	    "<input id=\"address\" name=\"address\" type=\"email\" autocomplete=\"username\" "
	    "maxlength=\"254\" required%s value=\"", TXT->addr_label,
	    address && *address ? "" : " autofocus");
	web_buf_esc(&b, address ? address : "");
	web_buf_printf(&b, "\">\n<label for=\"password\">%s</label>\n"
	    "<input id=\"password\" name=\"password\" type=\"password\" "
	    "autocomplete=\"current-password\" maxlength=\"%ld\" required%s>\n"
	    "<button type=\"submit\" class=\"btn\">%s</button>\n</form>\n</section>\n",
	    TXT->password_label, web_cfg.password_max,
	    address && *address ? " autofocus" : "", TXT->login_submit);
	web_html_end(&b, &p);
	rc = web_respond_page(rq, status, &b);
	web_buf_free(&b);
	return rc;
}

static int login_get(web_req *rq)
{
	if (rq->sess.kind == WEB_SESS_AUTH)
		return web_redirect(rq, "/inbox");
	web_ensure_cookie(rq);
	if (!strcmp(rq->query, "bye=1"))
		return login_form(rq, 200, TXT->logged_out, "ok", NULL);
	return login_form(rq, 200, NULL, NULL, NULL);
}

/* login_post - POST /login */
static int login_post(web_req *rq)
{
	const char *raw = web_form_get(&rq->form, "address");
	const char *pw = web_form_get(&rq->form, "password");
	char norm[PN_ADDR_MAX + 1], tag[65], spass[WEB_PASS_TEXT], wait[64], msg[200];
	const Mailbox *mb = NULL;
	const void *key;
	size_t keylen;
	pn_buf work = { NULL, 0 };
	web_sess fresh;
	int real, rc;
	long left;
	pn_err err;
	pn_gpg *g;

	web_ensure_cookie(rq);
	if (!raw)
		raw = "";
	if (pn_addr_normalise(raw, norm, sizeof(norm), NULL) < 0)
		snprintf(norm, sizeof(norm), "%.254s", raw);
	web_addr_tag(norm, tag);
	if ((left = web_throttle_check(rq->t->redis, tag, rq->client)) < 0)
		return web_error(rq, 503);
	if (left > 0) {
		human_wait(wait, sizeof(wait), left);
		web_tfmt(msg, sizeof(msg), TXT->login_wait, wait, NULL, NULL);
		return login_form(rq, 429, msg, NULL, norm);
	}
	mb = get_mailbox(rq, 0, norm, NULL, &err);
	if (err == PN_ERR_TEMP)
		return web_error(rq, 503);
	real = mb && mb->state == POSTERN__V1__MAILBOX_STATE__MAILBOX_ACTIVE &&
	    mb->secret_key.len > 0;
	key = real ? (const void *)mb->secret_key.data : (const void *)dummy_key.data;
	keylen = real ? mb->secret_key.len : dummy_key.len;

	/* one strong unlock either way, re-protected to the new session's key */
	memset(&fresh, 0, sizeof(fresh));
	web_sess_new_cookie(&fresh);
	web_sess_pass(fresh.c, spass);
	if (!(g = web_gpg_fast(rq->t))) {
		web_sess_clear(&fresh);
		return web_error(rq, 503);
	}
	err = reprotect(rq, 0, real ? &mb->public_key : &dummy_pub, key, keylen, pw ? pw : "",
	    spass, &work);
	sodium_memzero(spass, sizeof(spass));
	if (err != PN_OK || !real) {
		if (err != PN_OK && err != PN_ERR_PERM && err != PN_ERR_PARAMS)
			pn_warn("msg=\"login unlock failed\" status=%s", pn_err_str(err));
		pn_buf_free(&work);
		web_sess_clear(&fresh);
		web_throttle_fail(rq->t->redis, tag, rq->client, mb ? mb->id : 0);
		pn_info("msg=\"login failed\" client=%s", rq->client);
		return login_form(rq, 200, TXT->login_failed, NULL, norm);
	}
	web_throttle_ok(rq->t->redis, tag);
	if (rq->sess.kind != WEB_SESS_NONE)
		web_sess_delete(rq->t->redis, &rq->sess);
	web_sess_clear(&rq->sess);
	rq->sess = fresh;
	rq->sess.kind = WEB_SESS_AUTH;
	rq->sess.mailbox_id = mb->id;
	rq->sess.created = rq->now;
	rq->sess.address = pn_strdup(mb->address);
	rq->sess.key = work;
	rq->set_cookie = 1;
	if (web_sess_save(rq->t->redis, &rq->sess, rq->now) < 0)
		return web_error(rq, 503);
	touch(rq, mb->id);
	pn_info("msg=\"logged in\" mailbox=%lld", (long long)mb->id);
	rc = web_redirect(rq, "/inbox");
	return rc;
}

/* logout_post - POST /logout: the record goes, the cookie is cleared */
static int logout_post(web_req *rq)
{
	if (rq->sess.kind != WEB_SESS_NONE && web_sess_delete(rq->t->redis, &rq->sess) < 0)
		return web_error(rq, 503);
	web_pcache_drop(rq->sess.c);
	if (rq->sess.kind == WEB_SESS_AUTH)
		pn_info("msg=\"logged out\" mailbox=%lld", (long long)rq->sess.mailbox_id);
	rq->clear_cookie = 1;
	return web_redirect(rq, "/login?bye=1");
}

/* ---- folders ---- */

/*
 * folders_changed - after mailstore answered a change to the session's
 * mailbox (or failed to: a change may still have landed), kept folder
 * pages of it stop matching, in every replica (web_pcache.c)
 */
static void folders_changed(web_req *rq)
{
	if (pn_redis_folders_changed(rq->t->redis, rq->sess.mailbox_id) != PN_OK)
		pn_warn("msg=\"cannot mark the mailbox's folders changed\" mailbox=%lld",
		    (long long)rq->sess.mailbox_id);
}

/* decrypt - with the session's working copy */
static pn_err decrypt(web_req *rq, const ProtobufCBinaryData *cipher, pn_buf *plain)
{
	char spass[WEB_PASS_TEXT];
	pn_gpg *g = web_gpg_fast(rq->t);
	pn_err err;

	if (!g)
		return PN_ERR_TEMP;
	web_sess_pass(rq->sess.c, spass);
	err = pn_gpg_decrypt(g, rq->sess.key.data, rq->sess.key.len, spass, cipher->data,
	    cipher->len, plain);
	sodium_memzero(spass, sizeof(spass));
	return err;
}

/* expires_days - days until the reaper deletes a mailbox last used then */
static long expires_days(web_req *rq, int64_t last_activity)
{
	long long left;

	if (last_activity <= 0)
		return -1;
	left = last_activity + web_cfg.inactivity_days * 86400LL - rq->now;
	return left <= 0 ? 0 : (long)((left + 86399) / 86400);
}

/*
 * page_envelopes - the envelopes of a folder page: from the session's
 * cache, the rest decrypted (one gpg run each) and written back in one
 * round trip. A Redis failure only costs the cache: every row is then
 * decrypted. An envelope that cannot be decrypted stays empty and is not
 * cached. Returns how many could not be decrypted.
 */
static size_t page_envelopes(web_req *rq, const Postern__V1__FolderPage *pg, web_env *env)
{
	size_t n = pg->n_messages, n_new = 0, n_bad = 0;
	int64_t *ids = pn_calloc(n ? n : 1, sizeof(*ids));
	int *hit = pn_calloc(n ? n : 1, sizeof(*hit));
	int *fresh = pn_calloc(n ? n : 1, sizeof(*fresh));

	for (size_t i = 0; i < n; i++)
		ids[i] = pg->messages[i]->id;
	if (web_env_cache_get(rq->t->redis, &rq->sess, ids, n, env, hit) < 0)
		memset(hit, 0, (n ? n : 1) * sizeof(*hit));
	for (size_t i = 0; i < n; i++) {
		const Postern__V1__MessageSummary *s = pg->messages[i];
		pn_buf plain = { NULL, 0 };
		pn_err err;

		if (hit[i])
			continue;
		memset(&env[i], 0, sizeof(env[i]));
		if ((err = decrypt(rq, &s->envelope, &plain)) != PN_OK) {
			pn_warn("msg=\"cannot decrypt an envelope\" message=%lld status=%s",
			    (long long)s->id, pn_err_str(err));
			pn_buf_free(&plain);
			n_bad++;
			continue;
		}
		web_env_parse((const char *)plain.data, plain.len, &env[i]);
		pn_buf_free(&plain);
		fresh[i] = 1;
		n_new++;
	}
	if (n_new && web_env_cache_put(rq->t->redis, &rq->sess, ids, env, fresh, n) < 0)
		pn_warn("msg=\"cannot cache envelopes\" count=%zu", n_new);
	free(fresh);
	free(hit);
	free(ids);
	return n_bad;
}

/* folder_rows - the part of a folder page that comes from mailstore */
static void folder_rows(web_buf *b, const Postern__V1__FolderPage *pg, const web_env *env,
    int sent, long page, long offset)
{
	const char *title = sent ? TXT->sent_title : TXT->inbox_title;

	web_buf_printf(b, "<div class=\"folder-head\"><h1>%s</h1>", title);
	if (pg->total > 0) {
		char range[64];
		web_tfmtl(range, sizeof(range), TXT->page_of, offset + 1,
		    offset + (long)pg->n_messages, (long)pg->total);
		web_buf_printf(b, "<p class=\"count\">%s</p>", range);
	}
	web_buf_puts(b, "</div>\n");
	if (pg->n_messages == 0) {
		web_buf_puts(b, "<p class=\"empty\">");
		web_buf_esc(b, sent ? TXT->empty_sent : TXT->empty_inbox);
		web_buf_puts(b, "</p>\n");
	} else {
		web_buf_puts(b, "<ul class=\"msgs\">\n");
	}
	for (size_t i = 0; i < pg->n_messages; i++) {
		const Postern__V1__MessageSummary *s = pg->messages[i];
		const web_env *e = &env[i];
		char date[64], size[32];
		int unread = !s->seen && !sent;

		web_html_date(date, sizeof(date), s->received_at);
		web_html_size(size, sizeof(size), s->size);
		web_buf_printf(b, "<li><a class=\"msg%s\" href=\"/msg/%lld\">"
		    "<span class=\"dot\" aria-hidden=\"true\"></span>", unread ? " unread" : "",
		    (long long)s->id);
		if (unread)
			web_buf_printf(b, "<span class=\"sr\">%s: </span>", TXT->unread);
		web_buf_puts(b, "<span class=\"from\">");
		if (sent) {
			web_buf_printf(b, "<span class=\"sr\">%s: </span>", TXT->col_to);
			web_buf_esc(b, e->to);
		} else {
			/* the display name when there is one; the address is on the message */
			const char *lt = strstr(e->from, " <");
			if (lt && lt > e->from && e->from[strlen(e->from) - 1] == '>') {
				size_t n = (size_t)(lt - e->from);
				if (n >= 2 && e->from[0] == '"' && e->from[n - 1] == '"')
					web_buf_escn(b, e->from + 1, n - 2);
				else
					web_buf_escn(b, e->from, n);
			} else {
				web_buf_esc(b, e->from);
			}
		}
		web_buf_puts(b, "</span><span class=\"subject\">");
		web_buf_esc(b, *e->subject ? e->subject : TXT->no_subject);
		web_buf_printf(b, "</span><span class=\"meta\">%s \xc2\xb7 %s", date, size);
		if (s->has_attachments || e->attachments)
			web_buf_printf(b, "<span class=\"clip\" title=\"%s\">%s</span>",
			    TXT->has_attachment, TXT->attachments);
		web_buf_puts(b, "</span></a></li>\n");
	}
	if (pg->n_messages > 0)
		web_buf_puts(b, "</ul>\n");
	if (page > 0 || offset + (long)pg->n_messages < (long)pg->total) {
		web_buf_puts(b, "<nav class=\"pager\" aria-label=\"Pages\">");
		if (page > 0)
			web_buf_printf(b, "<a href=\"/%s?page=%ld\">&larr; %s</a>",
			    sent ? "sent" : "inbox", page - 1, TXT->newer);
		else
			web_buf_puts(b, "<span></span>");
		if (offset + (long)pg->n_messages < (long)pg->total)
			web_buf_printf(b, "<a href=\"/%s?page=%ld\">%s &rarr;</a>",
			    sent ? "sent" : "inbox", page + 1, TXT->older);
		web_buf_puts(b, "</nav>\n");
	}
}

/* web_folder_of - GET /inbox or /sent, ?page=N (0-based, bad numbers are 0) */
int web_folder_of(const char *path, const char *query, int *sent_r, long *page_r)
{
	if (strcmp(path, "/inbox") && strcmp(path, "/sent"))
		return -1;
	*sent_r = !strcmp(path, "/sent");
	*page_r = 0;
	if (!strncmp(query, "page=", 5)) {
		char *end;
		long page = strtol(query + 5, &end, 10);
		if (!*end && page >= 0 && page <= 100000)
			*page_r = page;
	}
	return 0;
}

/*
 * folder_version - the mailbox's folder version as read before asking
 * mailstore: with the session record when the page cache knew the
 * mailbox, else now. None yet: one is set (SET NX) for the next view and
 * this one keeps nothing. "" when there is no usable version.
 */
static void folder_version(web_req *rq, char ver[PN_REDIS_VER_TEXT])
{
	char key[64], fresh[PN_REDIS_VER_TEXT], ttl[16];
	redisReply *rep = NULL;

	ver[0] = '\0';
	if (!web_cfg.page_cache)
		return;
	if (rq->sess.ver_of == rq->sess.mailbox_id) {
		snprintf(ver, PN_REDIS_VER_TEXT, "%s", rq->sess.ver);
		if (ver[0])
			return;
	}
	pn_redis_ver_key(key, sizeof(key), rq->sess.mailbox_id);
	if (rq->sess.ver_of != rq->sess.mailbox_id) {
		if (pn_redis_cmdv(rq->t->redis, &rep, "GET", key, (char *)NULL) != PN_OK)
			return;
		if (rep->type == REDIS_REPLY_STRING && rep->len < PN_REDIS_VER_TEXT)
			snprintf(ver, PN_REDIS_VER_TEXT, "%s", rep->str);
		pn_redis_free(&rep);
		if (ver[0])
			return;
	}
	pn_redis_ver_new(fresh);
	snprintf(ttl, sizeof(ttl), "%d", PN_REDIS_VER_TTL);
	pn_redis_cmdv(rq->t->redis, NULL, "SET", key, fresh, "EX", ttl, "NX", (char *)NULL);
}

/*
 * folder_list - the rows from mailstore, rendered into rows; 0, or the
 * status to answer (the session is ended if the mailbox has gone).
 * *keep is cleared when an envelope could not be decrypted (the page
 * must not be kept with a hole in it).
 */
static int folder_list(web_req *rq, int sent, long page, web_buf *rows,
    int64_t *last_activity_r, int *keep)
{
	MsReq req = POSTERN__V1__MAILSTORE_REQUEST__INIT;
	Postern__V1__ListFolder lf = POSTERN__V1__LIST_FOLDER__INIT;
	MsRep *rep = NULL;
	const Postern__V1__FolderPage *pg;
	web_env *env;
	pn_err err;

	lf.mailbox_id = rq->sess.mailbox_id;
	lf.folder = sent ? POSTERN__V1__FOLDER__FOLDER_SENT : POSTERN__V1__FOLDER__FOLDER_INBOX;
	lf.offset = (int32_t)(page * web_cfg.page_size);
	lf.limit = (int32_t)web_cfg.page_size;
	req.op_case = POSTERN__V1__MAILSTORE_REQUEST__OP_LIST_FOLDER;
	req.list_folder = &lf;
	if ((err = ms_call(rq, &req, &rep)) == PN_ERR_NOTFOUND) {     /* deleted meanwhile */
		web_sess_delete(rq->t->redis, &rq->sess);
		web_pcache_drop(rq->sess.c);
		rq->clear_cookie = 1;
		return web_redirect(rq, "/login");
	}
	if (err != PN_OK || rep->result_case != POSTERN__V1__MAILSTORE_REPLY__RESULT_PAGE)
		return web_error(rq, err == PN_ERR_TEMP ? 503 : 500);
	pg = rep->page;
	if ((*last_activity_r = pg->last_activity) <= 0) {
		const Mailbox *mb = get_mailbox(rq, rq->sess.mailbox_id, NULL, NULL, &err);
		*last_activity_r = mb ? mb->last_activity : 0;
		*keep = 0;
	}
	env = pn_calloc(pg->n_messages ? pg->n_messages : 1, sizeof(*env));
	if (page_envelopes(rq, pg, env) > 0)
		*keep = 0;
	folder_rows(rows, pg, env, sent, page, (long)lf.offset);
	sodium_memzero(env, (pg->n_messages ? pg->n_messages : 1) * sizeof(*env));
	free(env);
	return 0;
}

/*
 * folder_get - GET /inbox or /sent, ?page=N (0-based). The rows come from
 * the page cache while the mailbox's folder version is the one they were
 * kept under (web_pcache.c), else from one mailstore call; the page
 * carries the mailbox's last_activity (for the expiry note), a mailstore
 * too old to fill it costs a GetMailbox as before.
 */
static int folder_get(web_req *rq)
{
	char ver[PN_REDIS_VER_TEXT];
	int64_t last_activity = 0;
	web_page p;
	web_buf b, rows;
	long page;
	int rc, sent, keep = 1;

	web_folder_of(rq->path, rq->query, &sent, &page);
	folder_version(rq, ver);
	web_buf_init(&rows);
	if (web_pcache_get(&rq->sess, sent, page, ver, rq->now, &rows, &last_activity) < 0) {
		if ((rc = folder_list(rq, sent, page, &rows, &last_activity, &keep)) != 0) {
			web_buf_free(&rows);
			return rc;
		}
		if (keep && ver[0])
			web_pcache_put(&rq->sess, sent, page, ver, rq->now, rows.data, rows.len,
			    last_activity);
	}
	p = page_for(rq, sent ? TXT->sent_title : TXT->inbox_title, sent ? "sent" : "inbox");
	p.expires_days = expires_days(rq, last_activity);
	web_buf_init(&b);
	web_html_begin(&b, &p);
	web_buf_add(&b, rows.data, rows.len);
	web_html_end(&b, &p);
	web_buf_free(&rows);
	rc = web_respond_page(rq, 200, &b);
	web_buf_free(&b);
	return rc;
}

/* ---- reading ---- */

/* load_message - GetMessage, decrypt, parse; 0 or the status answered */
static int load_message(web_req *rq, int64_t id, web_mail *m,
    const Postern__V1__MessageSummary **sum_r)
{
	MsReq req = POSTERN__V1__MAILSTORE_REQUEST__INIT;
	Postern__V1__GetMessage gm = POSTERN__V1__GET_MESSAGE__INIT;
	MsRep *rep = NULL;
	pn_buf plain = { NULL, 0 };
	pn_err err;
	int rc;

	gm.mailbox_id = rq->sess.mailbox_id;
	gm.message_id = id;
	req.op_case = POSTERN__V1__MAILSTORE_REQUEST__OP_GET_MESSAGE;
	req.get_message = &gm;
	err = ms_call(rq, &req, &rep);
	if (err == PN_ERR_NOTFOUND || err == PN_ERR_PARAMS)
		return web_error(rq, 404);
	if (err != PN_OK || rep->result_case != POSTERN__V1__MAILSTORE_REPLY__RESULT_MESSAGE)
		return web_error(rq, err == PN_ERR_TEMP ? 503 : 500);
	if ((err = decrypt(rq, &rep->message->body, &plain)) != PN_OK) {
		pn_warn("msg=\"cannot decrypt a message\" message=%lld status=%s", (long long)id,
		    pn_err_str(err));
		return web_error(rq, err == PN_ERR_TEMP ? 503 : 500);
	}
	rc = web_mail_parse(plain.data, plain.len, m) < 0 ? web_error(rq, 500) : 0;
	pn_buf_free(&plain);
	if (sum_r)
		*sum_r = rep->message->summary;
	return rc;
}

/* hdr_row - one <dt>/<dd> */
static void hdr_row(web_buf *b, const char *name, const char *value)
{
	if (!value || !*value)
		return;
	web_buf_printf(b, "<dt>%s</dt><dd>", name);
	web_buf_esc(b, value);
	web_buf_puts(b, "</dd>\n");
}

/* addr_line - the addresses, escaped, comma-separated */
static void addr_line(web_buf *b, char **list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i)
			web_buf_puts(b, ", ");
		web_buf_esc(b, list[i]);
	}
}

/* reply_form - below an inbox message; a fresh nonce makes a double submit one mail */
static void reply_form(web_req *rq, web_buf *b, int64_t id, const web_mail *m)
{
	char **one = NULL, **all = NULL, nonce[WEB_PASS_TEXT];
	size_t n_one = web_reply_recipients(m, rq->sess.address, 0, &one);
	size_t n_all = web_reply_recipients(m, rq->sess.address, 1, &all);
	uint8_t r[16];

	if (n_one == 0 && n_all == 0)
		goto done;
	randombytes_buf(r, sizeof(r));
	pn_b64url(nonce, sizeof(nonce), r, sizeof(r));
	web_buf_printf(b, "<section class=\"card reply\" aria-labelledby=\"reply-h\">\n"
	    "<h2 id=\"reply-h\">%s</h2>\n<form method=\"post\" action=\"/msg/%lld/reply\" "
	    "enctype=\"multipart/form-data\">", TXT->reply_title, (long long)id);
	web_html_hidden_csrf(b, rq->csrf);
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
		web_tfmt(hint, sizeof(hint), TXT->reply_attach_hint, size, files, NULL);
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

/* read_get - GET /msg/<id> */
static int read_get(web_req *rq)
{
	const Postern__V1__MessageSummary *sum = NULL;
	int64_t id = rq->arg.id;
	web_mail m;
	web_page p;
	web_buf b;
	int rc;

	if ((rc = load_message(rq, id, &m, &sum)) != 0)
		return rc;
	if (sum && !sum->seen) {
		MsReq req = POSTERN__V1__MAILSTORE_REQUEST__INIT;
		Postern__V1__MarkSeen ms = POSTERN__V1__MARK_SEEN__INIT;
		MsRep *rep = NULL;
		ms.mailbox_id = rq->sess.mailbox_id;
		ms.message_id = id;
		ms.seen = 1;
		req.op_case = POSTERN__V1__MAILSTORE_REQUEST__OP_MARK_SEEN;
		req.mark_seen = &ms;
		ms_call(rq, &req, &rep);
		folders_changed(rq);
	}
	touch(rq, rq->sess.mailbox_id);
	int sent = sum && sum->folder == POSTERN__V1__FOLDER__FOLDER_SENT;
	p = page_for(rq, *m.subject ? m.subject : TXT->no_subject, sent ? "sent" : "inbox");
	web_buf_init(&b);
	web_html_begin(&b, &p);
	web_buf_printf(&b, "<a class=\"back\" href=\"/%s\">&larr; %s</a>\n"
	    "<article>\n<header class=\"read-head\">\n<h1>", sent ? "sent" : "inbox", TXT->back);
	web_buf_esc(&b, *m.subject ? m.subject : TXT->no_subject);
	web_buf_puts(&b, "</h1>\n<dl class=\"hdrs\">\n");
	hdr_row(&b, TXT->from, m.from);
	hdr_row(&b, TXT->to, m.to);
	hdr_row(&b, TXT->cc, m.cc);
	hdr_row(&b, TXT->date, m.date);
	web_buf_puts(&b, "</dl>\n</header>\n");
	if (m.n_att > 0) {
		web_buf_printf(&b, "<h2>%s</h2>\n<ul class=\"atts\">\n", TXT->attachments);
		for (size_t i = 0; i < m.n_att; i++) {
			char size[32];
			web_html_size(size, sizeof(size), (long long)m.att[i].len);
			web_buf_printf(&b, "<li><a href=\"/msg/%lld/att/%zu\" download>"
			    "<span class=\"sr\">%s </span>", (long long)id, i, TXT->download);
			web_buf_esc(&b, m.att[i].filename);
			web_buf_printf(&b, " <span class=\"size\">%s</span></a></li>\n", size);
		}
		web_buf_puts(&b, "</ul>\n");
	}
	if (*m.text) {
		web_buf_puts(&b, "<pre class=\"body\">");
		web_buf_esc(&b, m.text);
		web_buf_puts(&b, "</pre>\n");
	} else if (!m.html) {
		web_buf_printf(&b, "<p class=\"empty\">%s</p>\n", TXT->no_text);
	}
	if (m.html) {
		web_buf_printf(&b, "<h2>%s</h2>\n<iframe class=\"html-frame\" sandbox "
		    "referrerpolicy=\"no-referrer\" title=\"%s\" src=\"/msg/%lld/html\"></iframe>\n",
		    TXT->html_note, TXT->html_frame_title, (long long)id);
	}
	web_buf_puts(&b, "</article>\n");
	if (!sent)
		reply_form(rq, &b, id, &m);
	web_html_end(&b, &p);
	rc = web_respond_page(rq, 200, &b);
	web_buf_free(&b);
	web_mail_free(&m);
	return rc;
}

/* ---- replying ---- */

/* reply_notice - a refusal or failure page; nothing was sent */
static int reply_notice(web_req *rq, int status, int64_t id, const char *heading,
    const char *text)
{
	web_page p = page_for(rq, heading, "inbox");
	char back[64];
	web_buf b;
	int rc;

	snprintf(back, sizeof(back), "/msg/%lld", (long long)id);
	web_buf_init(&b);
	web_html_notice(&b, &p, heading, text, back, TXT->back);
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
	web_tfmt(msg, sizeof(msg), web_cfg.reply_max_attach > 0 ? TXT->reply_too_large :
	    TXT->reply_no_attach, size, files, NULL);
	return reply_notice(rq, 413, id, TXT->reply_failed_title, msg);
}

/* reply_limited - 429: the mailbox has sent its replies for this window */
static int reply_limited(web_req *rq, int64_t id, long wait)
{
	char count[32], window[64], left[64], msg[512];

	snprintf(count, sizeof(count), "%ld", web_cfg.reply_max);
	human_wait(window, sizeof(window), web_cfg.reply_window);
	human_wait(left, sizeof(left), wait);
	web_tfmt(msg, sizeof(msg), TXT->reply_limit, count, window, left);
	return reply_notice(rq, 429, id, TXT->reply_limit_title, msg);
}

/*
 * lookup_keys - keylookup (fresh) for every recipient; 0 with keys[i]
 * copied into the request's pool, else 1 with the addresses that have
 * none in *missing_r, or -1 if keylookup did not answer.
 */
static int lookup_keys(web_req *rq, char **rcpt, size_t n, pn_buf *keys, web_buf *missing_r)
{
	Postern__V1__KeylookupRequest req = POSTERN__V1__KEYLOOKUP_REQUEST__INIT;
	Postern__V1__KeyLookup kl = POSTERN__V1__KEY_LOOKUP__INIT;
	Postern__V1__KeylookupReply *rep;
	ProtobufCMessage *out = NULL;
	int missing = 0;
	pn_err err;

	kl.addresses = rcpt;
	kl.n_addresses = n;
	kl.fresh = 1;
	req.op_case = POSTERN__V1__KEYLOOKUP_REQUEST__OP_LOOKUP;
	req.lookup = &kl;
	err = pn_client_call(rq->t->bus, "keylookup", &req.base,
	    &postern__v1__keylookup_reply__descriptor, pool_of(rq), &out);
	rep = (Postern__V1__KeylookupReply *)out;
	if (err != PN_OK || rep->result_case != POSTERN__V1__KEYLOOKUP_REPLY__RESULT_LOOKUP ||
	    rep->lookup->n_results != n) {
		pn_warn("msg=\"keylookup failed\" status=%s", pn_err_str(err));
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const Postern__V1__KeyResult *k = rep->lookup->results[i];
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

/* seal_for_guest - encrypt to the guest's own key (the Sent copy) */
static pn_err seal_for_guest(web_req *rq, const Mailbox *mb, const void *data, size_t len,
    ProtobufCBinaryData *out)
{
	pn_buf c = { NULL, 0 };
	pn_gpg *g = web_gpg_fast(rq->t);
	pn_err err;

	if (!g)
		return PN_ERR_TEMP;
	if ((err = pn_gpg_encrypt(g, mb->public_key.data, mb->public_key.len, data, len, &c)) != PN_OK)
		return err;
	out->data = pn_pool_alloc(pool_of(rq), c.len + 1);
	memcpy(out->data, c.data, c.len);
	out->len = c.len;
	pn_buf_free(&c);
	return PN_OK;
}

/* reply_post - POST /msg/<id>/reply */
static int reply_post(web_req *rq)
{
	int64_t id = rq->arg.id;
	const Postern__V1__MessageSummary *sum = NULL;
	const char *text = web_form_get(&rq->form, "text");
	const char *nonce = web_form_get(&rq->form, "nonce");
	const char *mode = web_form_get(&rq->form, "mode");
	MsReq req = POSTERN__V1__MAILSTORE_REQUEST__INIT;
	Postern__V1__StoreMessage sm = POSTERN__V1__STORE_MESSAGE__INIT;
	Postern__V1__NewMessage nm = POSTERN__V1__NEW_MESSAGE__INIT;
	Postern__V1__OutMail om = POSTERN__V1__OUT_MAIL__INIT;
	Postern__V1__OutMail *oms[1] = { &om };
	MsRep *rep = NULL;
	const Mailbox *mb;
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
	if ((wait = web_reply_take(rq->t->redis, rq->sess.mailbox_id)) != 0) {
		if (wait < 0)
			return web_error(rq, 503);
		pn_info("msg=\"reply refused: over the reply limit\" mailbox=%lld",
		    (long long)rq->sess.mailbox_id);
		return reply_limited(rq, id, wait);
	}
	taken = 1;
	web_buf_init(&missing);
	if ((rc = load_message(rq, id, &m, &sum)) != 0)
		goto done;
	if (!sum || sum->folder != POSTERN__V1__FOLDER__FOLDER_INBOX ||
	    (n = web_reply_recipients(&m, rq->sess.address, mode && !strcmp(mode, "all"), &rcpt)) == 0) {
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
	mb = get_mailbox(rq, rq->sess.mailbox_id, NULL, NULL, &err);
	if (!mb) {
		rc = web_error(rq, err == PN_ERR_TEMP ? 503 : 500);
		goto done;
	}

	/* the plaintext: what Sent shows, and whose body goes out sealed */
	subject = web_reply_subject(m.subject);
	body = web_reply_body(text, &m);
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
	err = web_reply_pgp(dir, plain, plain_len, rq->sess.key.data, rq->sess.key.len, spass,
	    keys, n, &sealed);
	sodium_memzero(spass, sizeof(spass));
	if (err != PN_OK) {
		rc = reply_notice(rq, err == PN_ERR_TEMP ? 503 : 500, id, TXT->reply_failed_title,
		    TXT->reply_failed);
		goto done;
	}

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
	if ((err = seal_for_guest(rq, mb, plain, plain_len, &nm.body)) != PN_OK ||
	    (err = seal_for_guest(rq, mb, env, strlen(env), &nm.envelope)) != PN_OK) {
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
	req.op_case = POSTERN__V1__MAILSTORE_REQUEST__OP_STORE_MESSAGE;
	req.store_message = &sm;
	err = ms_call(rq, &req, &rep);
	folders_changed(rq);            /* Sent has it (even a timed-out call may have stored it) */
	if (err != PN_OK || rep->result_case != POSTERN__V1__MAILSTORE_REPLY__RESULT_STORED) {
		if (err == PN_ERR_TOOLARGE)     /* over mailstore's (or the bus's) size limit */
			rc = reply_too_large(rq, id);
		else
			rc = reply_notice(rq, err == PN_ERR_TEMP ? 503 : 500, id,
			    TXT->reply_failed_title, TXT->reply_failed);
		goto done;
	}
	pn_info("msg=\"reply queued\" mailbox=%lld message=%lld recipients=%zu attachments=%d "
	    "duplicate=%d", (long long)rq->sess.mailbox_id, (long long)rep->stored->message_id, n,
	    rq->files.n, (int)rep->stored->duplicate);
	sent = !rep->stored->duplicate;     /* a double submit does not count twice */
	touch(rq, rq->sess.mailbox_id);
	rc = web_redirect(rq, "/sent");
done:
	if (taken && !sent)
		web_reply_give_back(rq->t->redis, rq->sess.mailbox_id);
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

#define SANDBOX_HEADERS \
	"Content-Security-Policy: sandbox; default-src 'none'; img-src data:; " \
	"style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; " \
	"frame-ancestors 'self'\r\n" \
	"X-Frame-Options: SAMEORIGIN\r\n"

/* html_get - GET /msg/<id>/html: the untrusted HTML, sandboxed */
static int html_get(web_req *rq)
{
	web_mail m;
	int rc;

	if ((rc = load_message(rq, rq->arg.id, &m, NULL)) != 0)
		return rc;
	if (!m.html)
		rc = web_error(rq, 404);
	else {
		web_html_defang(m.html, strlen(m.html));
		rc = web_respond(rq, 200, "text/html; charset=utf-8", SANDBOX_HEADERS, m.html,
		    strlen(m.html));
	}
	web_mail_free(&m);
	return rc;
}

/* pct - RFC 5987 value */
static void pct(web_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    *p == '.' || *p == '-' || *p == '_')
			web_buf_add(b, p, 1);
		else
			web_buf_printf(b, "%%%c%c", hex[*p >> 4], hex[*p & 15]);
	}
}

/* att_get - GET /msg/<id>/att/<n>: always a download */
static int att_get(web_req *rq)
{
	long n = rq->arg.n;
	web_mail m;
	web_buf h;
	int rc;

	if ((rc = load_message(rq, rq->arg.id, &m, NULL)) != 0)
		return rc;
	if (n < 0 || (size_t)n >= m.n_att) {
		web_mail_free(&m);
		return web_error(rq, 404);
	}
	web_buf_init(&h);
	web_buf_puts(&h, "Content-Security-Policy: sandbox; default-src 'none'; frame-ancestors 'none'\r\n"
	    "X-Frame-Options: DENY\r\nContent-Disposition: attachment; filename=\"");
	for (const unsigned char *p = (const unsigned char *)m.att[n].filename; *p; p++)
		web_buf_add(&h, *p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\' ? (const char *)p : "_", 1);
	web_buf_puts(&h, "\"; filename*=UTF-8''");
	pct(&h, m.att[n].filename);
	web_buf_puts(&h, "\r\n");
	rc = web_respond(rq, 200, "application/octet-stream", h.data, m.att[n].data, m.att[n].len);
	web_buf_free(&h);
	web_mail_free(&m);
	return rc;
}

/* ---- routing ---- */

/*
 * web_reply_body_max - the reply's attachments, the text fields
 * (POSTERN_WEBUI_MAX_BODY) and the framing of every part
 */
long web_reply_body_max(void)
{
	return web_cfg.reply_max_attach + web_cfg.max_body +
	    (long)WEB_MP_MAX_PARTS * (WEB_MP_MAX_HEADER + WEB_MP_BOUNDARY_MAX + 8);
}

/* reply_too_large_page - a logged-in reply over its limit: the page says the limit */
static int reply_too_large_page(web_req *rq)
{
	pn_info("msg=\"reply refused: too large\" mailbox=%lld", (long long)rq->sess.mailbox_id);
	return reply_too_large(rq, rq->arg.id);
}

/* not_found - the answer of the message's parts without a session */
static int not_found(web_req *rq)
{
	return web_error(rq, 404);
}

/* root_get - GET /: where this session starts */
static int root_get(web_req *rq)
{
	return web_redirect(rq, rq->sess.kind == WEB_SESS_AUTH ? "/inbox" : "/login");
}

/* css_get - GET /static/postern.css */
static int css_get(web_req *rq)
{
	return web_respond(rq, 200, "text/css; charset=utf-8",
	    "Cache-Control: public, max-age=3600\r\n", web_css, strlen(web_css));
}

/* folder_preload - a folder page kept for this cookie: its version comes with the record */
static int64_t folder_preload(const web_req *rq)
{
	int sent;
	long page;

	if (strcmp(rq->method, "GET") || web_folder_of(rq->path, rq->query, &sent, &page) < 0)
		return 0;
	return web_pcache_mailbox(rq->sess.c, sent, page);
}

const web_route web_routes[] = {
	WEB_ROUTE("GET", "/static/postern.css", css_get, WEB_AUTH_NONE),
	WEB_ROUTE("GET", "/", root_get, WEB_AUTH_NONE),
	WEB_ROUTE("GET", "/m/*", link_get, WEB_AUTH_NONE),
	WEB_ROUTE("GET", "/activate", activate_get, WEB_AUTH_LINK, .deny = flow_gone),
	WEB_ROUTE("POST", "/activate/pin", pin_post, WEB_AUTH_LINK, .csrf = 1, .deny = flow_gone),
	WEB_ROUTE("POST", "/activate/password", password_post, WEB_AUTH_LINK, .csrf = 1,
	    .deny = flow_gone),
	WEB_ROUTE("GET", "/login", login_get, WEB_AUTH_NONE),
	WEB_ROUTE("POST", "/login", login_post, WEB_AUTH_NONE, .csrf = 1),
	WEB_ROUTE("POST", "/logout", logout_post, WEB_AUTH_NONE, .csrf = 1),
	WEB_ROUTE("GET", "/inbox", folder_get, WEB_AUTH_SESSION, .preload = folder_preload),
	WEB_ROUTE("GET", "/sent", folder_get, WEB_AUTH_SESSION, .preload = folder_preload),
	WEB_ROUTE("GET", "/msg/{id}", read_get, WEB_AUTH_SESSION),
	WEB_ROUTE("GET", "/msg/{id}/html", html_get, WEB_AUTH_SESSION, .deny = not_found),
	WEB_ROUTE("GET", "/msg/{id}/att/{n}", att_get, WEB_AUTH_SESSION, .deny = not_found),
	WEB_ROUTE("POST", "/msg/{id}/reply", reply_post, WEB_AUTH_SESSION, .csrf = 1,
	    .multipart = 1, .body_max = web_reply_body_max, .too_large = reply_too_large_page),
	WEB_ROUTE_END
};

/* ---- start and stop ---- */

int web_pages_init(void)
{
	char dir[512], pass[WEB_PASS_TEXT], *fpr = NULL;
	uint8_t r[32];
	pn_buf pub = { NULL, 0 };
	pn_gpg *g;
	pn_err err;

	if (!(blocklist = web_blocklist_load(web_cfg.blocklist)))
		return -1;
	web_pcache_init(web_cfg.page_cache, web_cfg.page_cache_age);
	if (web_blocklist_size(blocklist) < 10000)
		pn_warn("msg=\"the password blocklist is short\" entries=%zu",
		    web_blocklist_size(blocklist));
	/* the stand-in for unknown addresses: strong S2K, a passphrase nobody has */
	snprintf(dir, sizeof(dir), "%s/init", web_cfg.gnupghome);
	if (!(g = pn_gpg_open(dir, (unsigned long)web_cfg.s2k_strong)))
		return -1;
	randombytes_buf(r, sizeof(r));
	pn_b64url(pass, sizeof(pass), r, sizeof(r));
	sodium_memzero(r, sizeof(r));
	err = pn_gpg_keygen(g, "<nobody@postern.invalid>", pass, &fpr, &pub, &dummy_key);
	sodium_memzero(pass, sizeof(pass));
	pn_gpg_close(&g);
	dummy_pub.data = pub.data;          /* kept until fini */
	dummy_pub.len = pub.len;
	pn_free(&fpr);
	if (err != PN_OK) {
		pn_error("msg=\"cannot make the login stand-in key\" status=%s", pn_err_str(err));
		return -1;
	}
	pn_info("msg=\"pages ready\" blocklist=%zu", web_blocklist_size(blocklist));
	return 0;
}

void web_pages_fini(void)
{
	web_pcache_fini();
	web_blocklist_free(&blocklist);
	pn_buf_free(&dummy_key);
	free(dummy_pub.data);
	dummy_pub.data = NULL;
	dummy_pub.len = 0;
}
