/*
 * web_activate.c - the way in, once: the invitation link, the PIN and the
 * password.
 *
 *   GET  /m/<link>          a valid link of a pending mailbox starts a
 *                           FLOW session and redirects to /activate (the
 *                           secret leaves the address bar); anything else
 *                           gets the same neutral page
 *   GET  /activate          the PIN form, or the password form
 *   POST /activate/pin      provision's PinVerify (the PIN lock-out is
 *                           provision's)
 *   POST /activate/password rules (web_pw.c), then activation: the guest
 *                           key is re-protected with the password (strong
 *                           S2K), for the new session with the session
 *                           passphrase (fast S2K), and with a new recovery
 *                           code's passphrase (web_recover.c); SetKeys
 *                           pending -> active with clear_link; then the
 *                           code is shown once (303 to /recovery-code)
 *
 * The last three need the FLOW session (WEB_AUTH_LINK in the route
 * table); without it the table answers web_activate_gone. The forms are
 * rendered by pure functions (web_activate.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "postern/v1/mailstore.pb-c.h"
#include "postern/v1/provision.pb-c.h"
#include "postern/bus.h"
#include "postern/calls.h"
#include "postern/guest.h"
#include "postern/log.h"
#include "postern/mem.h"
#include "postern/text.h"
#include "web_activate.h"
#include "web_bus.h"
#include "web_cfg.h"
#include "web_crypto.h"
#include "web_form.h"
#include "web_html.h"
#include "web_http.h"
#include "web_key.h"
#include "web_login.h"
#include "web_pw.h"
#include "web_recover.h"
#include "web_sess.h"
#include "web_text.h"
#include "web_util.h"

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

/* neutral - the one page for every link that does not lead anywhere */
static int neutral(web_req *rq)
{
	web_page p = { .title = TXT->link_invalid_title, .expires_days = -1 };

	return web_respond_notice(rq, 404, &p, TXT->link_invalid_title, TXT->link_invalid_text,
	    "/login", TXT->link_invalid_login);
}

/* web_link_get - GET /m/<link> */
int web_link_get(web_req *rq)
{
	const char *text = rq->arg.rest;
	uint8_t link[WEB_LINK_BYTES], hash[32];
	const web_mailbox *mb;
	int valid;
	pn_err err;

	valid = strlen(text) == WEB_LINK_TEXT - 1 &&
	    pn_b64url_decode(link, sizeof(link), text, strlen(text)) == WEB_LINK_BYTES;
	if (!valid)
		memset(link, 0, sizeof(link));
	/* the same work for every input: hash and ask */
	pn_guest_link_hash(link, hash);
	mb = web_get_mailbox(rq, 0, NULL, hash, &err);
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

/* web_pin_html - the PIN form in the frame */
/* pin_form - the PIN page as the answer */
static int pin_form(web_req *rq, int status, const char *msg)
{
	web_page p = web_page_for(rq, TXT->pin_title, NULL);
	web_buf b;
	int rc;

	web_buf_init(&b);
	web_pin_html(&b, &p, rq->csrf, msg);
	rc = web_respond_page(rq, status, &b);
	web_buf_free(&b);
	return rc;
}

/* web_pin_html - the PIN form in the frame */
void web_pin_html(web_buf *b, const web_page *p, const char *csrf, const char *msg)
{
	web_html_begin(b, p);
	web_buf_printf(b, "<section class=\"card\">\n<h1>%s</h1>\n<p class=\"lead\">", TXT->pin_title);
	web_buf_esc(b, TXT->pin_intro);
	web_buf_puts(b, "</p>\n");
	web_html_alert(b, "alert", msg);
	web_buf_puts(b, "<form method=\"post\" action=\"/activate/pin\">");
	web_html_hidden_csrf(b, csrf);
	web_buf_printf(b, "\n<label for=\"pin\">%s</label>\n"
	    "<input id=\"pin\" name=\"pin\" type=\"text\" class=\"pin\" inputmode=\"numeric\" "
	    "autocomplete=\"one-time-code\" maxlength=\"16\" required autofocus "
	    "aria-describedby=\"pin-hint\"%s>\n<p class=\"hint\" id=\"pin-hint\">%s</p>\n"
	    "<button type=\"submit\" class=\"btn\">%s</button>\n</form>\n</section>\n",
	    TXT->pin_label, msg ? " aria-invalid=\"true\"" : "", TXT->pin_hint, TXT->pin_submit);
	web_html_end(b, p);
}

/* password_form - the password page as the answer */
static int password_form(web_req *rq, int status, const char *msg)
{
	web_page p = web_page_for(rq, TXT->pw_title, NULL);
	web_buf b;
	int rc;

	web_buf_init(&b);
	web_password_html(&b, &p, rq->csrf, rq->sess.address, msg);
	rc = web_respond_page(rq, status, &b);
	web_buf_free(&b);
	return rc;
}

/* web_password_html - the password form in the frame */
void web_password_html(web_buf *b, const web_page *p, const char *csrf, const char *address,
    const char *msg)
{
	web_html_begin(b, p);
	web_buf_printf(b, "<section class=\"card\">\n<h1>%s</h1>\n<p class=\"lead\">", TXT->pw_title);
	web_buf_esc(b, TXT->pw_intro);
	web_buf_puts(b, "</p>\n");
	web_html_alert(b, "warn", TXT->pw_warning);
	web_html_alert(b, "alert", msg);
	web_buf_puts(b, "<form method=\"post\" action=\"/activate/password\">");
	web_html_hidden_csrf(b, csrf);
	web_buf_printf(b, "\n<label for=\"user\">%s</label>\n"
	    "<input id=\"user\" name=\"username\" type=\"email\" autocomplete=\"username\" readonly value=\"",
	    TXT->addr_label);
	web_buf_esc(b, address);
	web_buf_printf(b, "\">\n<label for=\"pw\">%s</label>\n"
	    "<input id=\"pw\" name=\"password\" type=\"password\" autocomplete=\"new-password\" "
	    "minlength=\"%ld\" maxlength=\"%ld\" required autofocus aria-describedby=\"pw-hint\"%s>\n"
	    "<p class=\"hint\" id=\"pw-hint\">", TXT->pw_label, web_cfg.password_min,
	    web_cfg.password_max, msg ? " aria-invalid=\"true\"" : "");
	{
		char hint[256];
		web_tfmtl(hint, sizeof(hint), web_textn(WEB_N_PW_HINT,
		    (unsigned long)web_cfg.password_min), web_cfg.password_min,
		    web_cfg.password_max, 0);
		web_buf_esc(b, hint);
	}
	web_buf_printf(b, "</p>\n<label for=\"pw2\">%s</label>\n"
	    "<input id=\"pw2\" name=\"confirm\" type=\"password\" autocomplete=\"new-password\" "
	    "maxlength=\"%ld\" required>\n"
	    "<button type=\"submit\" class=\"btn\">%s</button>\n</form>\n</section>\n",
	    TXT->pw_confirm_label, web_cfg.password_max, TXT->pw_submit);
	web_html_end(b, p);
}

/* web_activate_gone - no (more) FLOW session */
int web_activate_gone(web_req *rq)
{
	web_page p = { .title = TXT->flow_expired_title, .expires_days = -1 };

	if (rq->sess.kind == WEB_SESS_AUTH)
		return web_redirect(rq, "/inbox");
	return web_respond_notice(rq, 200, &p, TXT->flow_expired_title, TXT->flow_expired_text,
	    "/login", TXT->link_invalid_login);
}

/* web_activate_get - GET /activate */
int web_activate_get(web_req *rq)
{
	if (rq->sess.has_pin && !rq->sess.pin_ok)
		return pin_form(rq, 200, NULL);
	return password_form(rq, 200, NULL);
}

/* web_pin_post - POST /activate/pin */
int web_pin_post(web_req *rq)
{
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
	err = web_pin_verify(rq, pin, &v);
	if (err == PN_ERR_PERM || err == PN_ERR_NOTFOUND) {
		sodium_memzero(pin, sizeof(pin));
		web_sess_delete(rq->t->redis, &rq->sess);
		rq->clear_cookie = 1;
		return neutral(rq);
	}
	if (err != PN_OK || !v) {
		sodium_memzero(pin, sizeof(pin));
		pn_warn("msg=\"PIN verification failed\" status=%s", pn_err_str(err));
		return web_error(rq, err == PN_ERR_TEMP ? 503 : 500);
	}
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
			web_human_wait(wait, sizeof(wait), (long)(v->locked_until - rq->now));
			snprintf(num, sizeof(num), "%ld", (long)v->tries_left);
			web_tfmt(msg, sizeof(msg), web_textn(WEB_N_PIN_WRONG_WAIT,
			    (unsigned long)v->tries_left), num, wait, NULL);
		} else {
			web_tfmtl(msg, sizeof(msg), web_textn(WEB_N_PIN_WRONG,
			    (unsigned long)v->tries_left), (long)v->tries_left, 0, 0);
		}
		return pin_form(rq, 200, msg);
	default:
		sodium_memzero(pin, sizeof(pin));
		if (v->locked_until > 0) {
			web_human_wait(wait, sizeof(wait), (long)(v->locked_until > rq->now ?
			    v->locked_until - rq->now : 1));
			web_tfmt(msg, sizeof(msg), TXT->pin_locked_wait, wait, NULL, NULL);
			return pin_form(rq, 429, msg);
		}
		{
			web_page p = web_page_for(rq, TXT->pin_locked_title, NULL);
			return web_respond_notice(rq, 403, &p, TXT->pin_locked_title,
			    TXT->pin_locked_text, NULL, NULL);
		}
	}
}

/* already_active - the password was set meanwhile */
static int already_active(web_req *rq)
{
	web_page p = { .title = TXT->pw_title, .expires_days = -1 };

	web_sess_delete(rq->t->redis, &rq->sess);
	rq->clear_cookie = 1;
	return web_respond_notice(rq, 200, &p, TXT->pw_title, TXT->pw_already, "/login", TXT->home);
}

/* The keys one activation makes, wiped at the end. */
typedef struct act_keys {
	char pass0[WEB_PASS_TEXT], spass[WEB_PASS_TEXT], code[WEB_CODE_TEXT];
	uint8_t verifier[32];
	pn_buf strong, work, copy;
	web_sess fresh;
} act_keys;

/*
 * make_keys - the guest key (under the link's passphrase) three ways: the
 * password (strong S2K, stored), a new session's working copy, and the
 * recovery code's copy (stored)
 */
static pn_err make_keys(web_req *rq, const web_mailbox *mb, const char *pw, act_keys *k)
{
	pn_err err;

	pn_guest_passphrase(rq->sess.link, rq->sess.pin, k->pass0);
	if (!web_gpg_strong(rq->t))
		return PN_ERR_TEMP;
	if ((err = web_key_reprotect(rq, 1, &mb->public_key, mb->secret_key.data,
	    mb->secret_key.len, k->pass0, pw, &k->strong)) != PN_OK)
		return err;
	web_sess_new_cookie(&k->fresh);
	web_sess_pass(k->fresh.c, k->spass);
	if ((err = web_key_reprotect(rq, 0, &mb->public_key, mb->secret_key.data,
	    mb->secret_key.len, k->pass0, k->spass, &k->work)) != PN_OK)
		return err;
	return web_recovery_make(rq, &mb->public_key, mb->secret_key.data, mb->secret_key.len,
	    k->pass0, mb->address, k->code, &k->copy, k->verifier);
}

/* store_keys - pending -> active with the keys, the link forgotten (compare-and-set) */
static pn_err store_keys(web_req *rq, int64_t id, const act_keys *k)
{
	Postern__V1__SetKeys s = POSTERN__V1__SET_KEYS__INIT;
	web_mailbox *now;
	const char *why;

	s.mailbox_id = id;
	s.expected_state = POSTERN__V1__MAILBOX_STATE__MAILBOX_PENDING;
	s.new_state = POSTERN__V1__MAILBOX_STATE__MAILBOX_ACTIVE;
	s.secret_key = (ProtobufCBinaryData){ k->strong.len, k->strong.data };
	s.recovery_key = (ProtobufCBinaryData){ k->copy.len, k->copy.data };
	s.recovery_verifier = (ProtobufCBinaryData){ 32, (uint8_t *)k->verifier };
	s.clear_link = 1;
	return pn_ms_set_keys(rq->t->bus, web_bus_pool(rq), &s, &now, &why);
}

/*
 * web_password_post - POST /activate/password: rules, then activation,
 * then the recovery code is shown once (/recovery-code)
 */
int web_password_post(web_req *rq)
{
	const char *pw = web_form_get(&rq->form, "password");
	const char *confirm = web_form_get(&rq->form, "confirm");
	uint8_t hash[32];
	const web_mailbox *mb;
	web_pw_verdict v;
	int64_t id;
	act_keys k;
	pn_err err;
	int rc;

	if (rq->sess.has_pin && !rq->sess.pin_ok)
		return web_redirect(rq, "/activate");
	v = web_pw_check(web_pw_common(), pw, confirm, rq->sess.address, web_cfg.password_min,
	    web_cfg.password_max);
	if (v != WEB_PW_OK)
		return password_form(rq, 200, web_pw_message(v));

	id = rq->sess.mailbox_id;
	mb = web_get_mailbox(rq, id, NULL, NULL, &err);
	if (err == PN_ERR_TEMP)
		return web_error(rq, 503);
	if (!mb)
		return neutral(rq);
	if (mb->state != POSTERN__V1__MAILBOX_STATE__MAILBOX_PENDING)
		return already_active(rq);
	pn_guest_link_hash(rq->sess.link, hash);
	if (mb->link_hash.len != 32 || sodium_memcmp(mb->link_hash.data, hash, 32) != 0)
		return neutral(rq);     /* re-issued meanwhile: this link is no longer valid */

	memset(&k, 0, sizeof(k));
	if ((err = make_keys(rq, mb, pw, &k)) != PN_OK) {
		pn_warn("msg=\"cannot re-protect the guest key\" mailbox=%lld status=%s",
		    (long long)id, pn_err_str(err));
		rc = err == PN_ERR_PERM ? neutral(rq) : web_error(rq, err == PN_ERR_TEMP ? 503 : 500);
		goto done;
	}
	err = store_keys(rq, id, &k);
	if (err == PN_ERR_EXISTS) {
		rc = already_active(rq);
		goto done;
	}
	if (err != PN_OK) {
		rc = web_error(rq, err == PN_ERR_TEMP ? 503 : 500);
		goto done;
	}
	/* active: the FLOW record goes, the new session comes, then the code */
	if (web_login_begin(rq, &k.fresh, id, mb->address, mb->locale, &k.work) < 0 ||
	    web_recovery_keep(rq, k.code) < 0) {
		rc = web_error(rq, 503);
		goto done;
	}
	pn_info("msg=\"mailbox activated\" mailbox=%lld", (long long)id);
	rc = web_redirect(rq, "/recovery-code");
done:
	pn_buf_free(&k.strong);
	pn_buf_free(&k.work);
	pn_buf_free(&k.copy);
	web_sess_clear(&k.fresh);
	sodium_memzero(&k, sizeof(k));
	return rc;
}

/* web_activate_init - the password blocklist (web_pw.c); -1 = cannot run */
int web_activate_init(void)
{
	return web_pw_load_common(web_cfg.blocklist);
}

/* web_activate_fini - the blocklist goes */
void web_activate_fini(void)
{
	web_pw_free_common();
}
