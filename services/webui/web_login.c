/*
 * web_login.c - login, logout, and the login lock-out.
 *
 *   GET  /login, POST /login  address + password; throttled per address
 *                             and per client (web_sess.c: web:lf:, web:ll:,
 *                             web:lc:); no enumeration
 *   POST /logout              deletes the session server-side
 *   GET  /                    to the inbox, or to the login
 *
 * Login without enumeration: an unknown address, a mailbox that is not
 * active and a wrong password all cost one strong-S2K unlock (a dummy
 * key made at start by web_login_init stands in for a missing one) and
 * get the same page; failures are counted per address string and per
 * client either way. The form is rendered by a pure function.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "postern/v1/mailstore.pb-c.h"
#include "postern/addr.h"
#include "postern/gpg.h"
#include "postern/i18n.h"
#include "postern/log.h"
#include "postern/mem.h"
#include "postern/guest.h"
#include "postern/text.h"
#include "web_login.h"
#include "web_bus.h"
#include "web_cfg.h"
#include "web_crypto.h"
#include "web_form.h"
#include "web_html.h"
#include "web_http.h"
#include "web_key.h"
#include "web_pcache.h"
#include "web_sess.h"
#include "web_text.h"
#include "web_throttle.h"
#include "web_util.h"

static pn_buf dummy_key;            /* strong-S2K key nobody can unlock */
static ProtobufCBinaryData dummy_pub;   /* its public key */

/* login_form - the login page as the answer (never with the session's frame) */
static int login_form(web_req *rq, int status, const char *msg, const char *cls,
    const char *address)
{
	web_page p = { .title = TXT->login_title, .expires_days = -1 };
	web_buf b;
	int rc;

	web_buf_init(&b);
	web_login_html(&b, &p, rq->csrf, msg, cls, address);
	rc = web_respond_page(rq, status, &b);
	web_buf_free(&b);
	return rc;
}

/* web_login_html - the login form in the frame */
void web_login_html(web_buf *b, const web_page *p, const char *csrf, const char *msg,
    const char *cls, const char *address)
{
	web_html_begin(b, p);
	web_buf_printf(b, "<section class=\"card\">\n<h1>%s</h1>\n<p class=\"lead\">", TXT->login_title);
	web_buf_esc(b, TXT->login_intro);
	web_buf_puts(b, "</p>\n");
	web_html_alert(b, cls ? cls : "alert", msg);
	web_buf_puts(b, "<form method=\"post\" action=\"/login\">");
	web_html_hidden_csrf(b, csrf);
	web_buf_printf(b, "\n<label for=\"address\">%s</label>\n"
	    "<input id=\"address\" name=\"address\" type=\"email\" autocomplete=\"username\" "
	    "maxlength=\"254\" required%s value=\"", TXT->addr_label,
	    address && *address ? "" : " autofocus");
	web_buf_esc(b, address ? address : "");
	web_buf_printf(b, "\">\n<label for=\"password\">%s</label>\n"
	    "<input id=\"password\" name=\"password\" type=\"password\" "
	    "autocomplete=\"current-password\" maxlength=\"%ld\" required%s>\n"
	    "<button type=\"submit\" class=\"btn\">%s</button>\n</form>\n"
	    "<p><a href=\"/recover\">%s</a></p>\n"
	    "</section>\n",
	    TXT->password_label, web_cfg.password_max,
	    address && *address ? " autofocus" : "", TXT->login_submit, TXT->login_forgot);
	web_html_end(b, p);
}

/* web_login_get - GET /login (?bye=1 after a logout) */
int web_login_get(web_req *rq)
{
	if (rq->sess.kind == WEB_SESS_AUTH)
		return web_redirect(rq, "/inbox");
	web_ensure_cookie(rq);
	if (!strcmp(rq->query, "bye=1"))
		return login_form(rq, 200, TXT->logged_out, "ok", NULL);
	return login_form(rq, 200, NULL, NULL, NULL);
}

/* web_login_post - POST /login */
int web_login_post(web_req *rq)
{
	const char *raw = web_form_get(&rq->form, "address");
	const char *pw = web_form_get(&rq->form, "password");
	char norm[PN_ADDR_MAX + 1], tag[65], spass[WEB_PASS_TEXT], wait[64], msg[200];
	const web_mailbox *mb = NULL;
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
		web_human_wait(wait, sizeof(wait), left);
		web_tfmt(msg, sizeof(msg), TXT->login_wait, wait, NULL, NULL);
		return login_form(rq, 429, msg, NULL, norm);
	}
	mb = web_get_mailbox(rq, 0, norm, NULL, &err);
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
	err = web_key_reprotect(rq, 0, real ? &mb->public_key : &dummy_pub, key, keylen, pw ? pw : "",
	    spass, &work);
	sodium_memzero(spass, sizeof(spass));
	if (err != PN_OK || !real) {
		if (err != PN_OK && err != PN_ERR_PERM && err != PN_ERR_PARAMS)
			pn_warn("msg=\"login unlock failed\" status=%s", pn_err_str(err));
		pn_buf_free(&work);
		web_sess_clear(&fresh);
		web_throttle_fail(rq->t->redis, tag, rq->client, mb ? mb->id : 0);
		if (mb && err != PN_ERR_TEMP)
			web_note(rq, mb->id, "login_failure");
		pn_info("msg=\"login failed\" client=%s", rq->client);
		return login_form(rq, 200, TXT->login_failed, NULL, norm);
	}
	web_throttle_ok(rq->t->redis, tag);
	if (web_login_begin(rq, &fresh, mb->id, mb->address, mb->locale, &work) < 0)
		return web_error(rq, 503);
	web_note(rq, mb->id, "login");
	pn_info("msg=\"logged in\" mailbox=%lld", (long long)mb->id);
	rc = web_redirect(rq, "/inbox");
	return rc;
}

/*
 * web_login_begin - fresh (a new cookie) becomes the request's logged-in
 * session for mailbox id, with work (the key under the session
 * passphrase; taken); whatever session came is deleted. The session
 * speaks the mailbox's language (locale) from now on, else the one this
 * visit chose. 0, or -1 when Redis did not keep it. Shared by login,
 * activation and recovery.
 */
int web_login_begin(web_req *rq, web_sess *fresh, int64_t id, const char *address,
    const char *locale, pn_buf *work)
{
	if (rq->sess.kind != WEB_SESS_NONE)
		web_sess_delete(rq->t->redis, &rq->sess);
	web_sess_clear(&rq->sess);
	rq->sess = *fresh;
	memset(fresh, 0, sizeof(*fresh));
	rq->sess.kind = WEB_SESS_AUTH;
	rq->sess.mailbox_id = id;
	rq->sess.created = rq->now;
	rq->sess.address = pn_strdup(address);
	rq->sess.key = *work;
	work->data = NULL;
	work->len = 0;
	snprintf(rq->sess.lang, sizeof(rq->sess.lang), "%s",
	    locale && *locale ? pn_i18n_pick(locale, "mailbox") : rq->lang);
	rq->set_cookie = 1;
	web_sess_csrf(rq->sess.c, rq->csrf);
	if (web_sess_save(rq->t->redis, &rq->sess, rq->now) < 0)
		return -1;
	web_touch(rq, id);
	return 0;
}

/* web_logout_post - POST /logout: the record goes, the cookie is cleared */
int web_logout_post(web_req *rq)
{
	if (rq->sess.kind != WEB_SESS_NONE && web_sess_delete(rq->t->redis, &rq->sess) < 0)
		return web_error(rq, 503);
	web_pcache_drop(rq->sess.c);
	if (rq->sess.kind == WEB_SESS_AUTH)
		pn_info("msg=\"logged out\" mailbox=%lld", (long long)rq->sess.mailbox_id);
	rq->clear_cookie = 1;
	return web_redirect(rq, "/login?bye=1");
}

/* web_root_get - GET /: where this session starts */
int web_root_get(web_req *rq)
{
	return web_redirect(rq, rq->sess.kind == WEB_SESS_AUTH ? "/inbox" : "/login");
}

/*
 * web_login_init - the stand-in for unknown addresses: a strong-S2K key
 * under a passphrase nobody has; -1 = cannot run
 */
int web_login_init(void)
{
	char dir[512], pass[WEB_PASS_TEXT], *fpr = NULL;
	uint8_t r[32];
	pn_buf pub = { NULL, 0 };
	pn_gpg *g;
	pn_err err;

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
	return 0;
}

/* web_login_fini - the stand-in key goes */
void web_login_fini(void)
{
	pn_buf_free(&dummy_key);
	free(dummy_pub.data);
	dummy_pub.data = NULL;
	dummy_pub.len = 0;
}
