/*
 * web_recover.c - the recovery code: the one way back into an activated
 * mailbox whose password is forgotten.
 *
 *   at activation      (web_activate.c calls web_recovery_make) a random
 *                      code of 28 Crockford base32 characters (140 bits),
 *                      shown once, in groups of four; the guest key gets a
 *                      second protected copy under a passphrase derived
 *                      from the code (fast S2K: the code is high-entropy),
 *                      and mailstore a verifier keyed with the code. The
 *                      code itself is never stored (docs/security.md).
 *   GET  /recovery-code the code just made, once: it waits sealed in Redis
 *                      under a key derived from the new session's cookie
 *                      (web:rs:<session id>, 15 minutes) and is deleted as
 *                      it is shown
 *   GET  /recover      the form: address, code, new password twice
 *   POST /recover      the password rules first (web_pw.c), then the code:
 *                      verifier compared in constant time, the recovery
 *                      copy unlocked with it and re-protected three ways -
 *                      the new password (strong S2K), the session's
 *                      working copy, and a NEW code - stored with SetKeys,
 *                      compare-and-set on the old verifier, so the old
 *                      password and the old code stop working at once and
 *                      one code cannot be used twice. The sender is told
 *                      by mail (template kind "recovered", in the
 *                      mailbox's language, branded: web_recover_notice).
 *
 * Lock-out, as for the PIN (lib's pn_throttle): per address (tag of
 * "recover:" + address, the same for known and unknown addresses, so it
 * enumerates nothing) from the POSTERN_RECOVERY_LOCKOUT_AFTER-th
 * consecutive failure a lock-out of POSTERN_RECOVERY_LOCKOUT_SECONDS,
 * doubling; at POSTERN_RECOVERY_MAX_FAILURES recovery is closed for the
 * address (the password still works); per client the login's window.
 * Keys web:rvf:<tag>, web:rvl:<tag>, web:rvc:<client>.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "postern/v1/mailstore.pb-c.h"
#include "postern/addr.h"
#include "postern/calls.h"
#include "postern/brand.h"
#include "postern/guest.h"
#include "postern/i18n.h"
#include "postern/log.h"
#include "postern/mem.h"
#include "postern/mime.h"
#include "postern/seal.h"
#include "postern/throttle.h"
#include "web_recover.h"
#include "web_bus.h"
#include "web_cfg.h"
#include "web_crypto.h"
#include "web_form.h"
#include "web_html.h"
#include "web_http.h"
#include "web_key.h"
#include "web_login.h"
#include "web_pw.h"
#include "web_sess.h"
#include "web_text.h"
#include "web_util.h"

#define SHOW_TTL 900
#define FAILURES_KEPT 86400L * 90
#define LOCKOUT_CAP 86400L

static char *invite_addr;           /* addr-spec of POSTERN_INVITE_FROM, "" = <> */

/* Crockford's base32: no I, L, O, U */
static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* web_recovery_new - WEB_CODE_CHARS random symbols (140 bits) */
void web_recovery_new(char code[WEB_CODE_TEXT])
{
	for (int i = 0; i < WEB_CODE_CHARS; i++)
		code[i] = alphabet[randombytes_uniform(32)];
	code[WEB_CODE_CHARS] = '\0';
}

/* web_recovery_norm - what a person typed: case, spaces, dashes, I/L/O forgiven; 0 or -1 */
int web_recovery_norm(const char *in, char code[WEB_CODE_TEXT])
{
	int n = 0;

	for (const char *p = in ? in : ""; *p; p++) {
		char c = *p >= 'a' && *p <= 'z' ? (char)(*p - 'a' + 'A') : *p;

		if (c == ' ' || c == '-' || c == '\t')
			continue;
		if (c == 'I' || c == 'L')
			c = '1';
		else if (c == 'O')
			c = '0';
		if (!strchr(alphabet, c) || c == '\0' || n == WEB_CODE_CHARS) {
			sodium_memzero(code, WEB_CODE_TEXT);
			return -1;
		}
		code[n++] = c;
	}
	code[n] = '\0';
	return n == WEB_CODE_CHARS ? 0 : -1;
}

/* web_recovery_grouped - "XXXX-XXXX-...": seven groups of four */
void web_recovery_grouped(const char *code, char out[WEB_CODE_GROUPED])
{
	int o = 0;

	for (int i = 0; i < WEB_CODE_CHARS; i++) {
		if (i > 0 && i % 4 == 0)
			out[o++] = '-';
		out[o++] = code[i];
	}
	out[o] = '\0';
}

/* web_recovery_pass - the passphrase of the recovery copy of the key */
void web_recovery_pass(const char *code, char out[WEB_PASS_TEXT])
{
	uint8_t h[32];

	pn_kdf((const uint8_t *)code, WEB_CODE_CHARS, "postern/recovery-key/v1", NULL, h);
	pn_b64url(out, WEB_PASS_TEXT, h, sizeof(h));
	sodium_memzero(h, sizeof(h));
}

/* web_recovery_verifier - what mailstore keeps to check a code: keyed with it, bound to the address */
void web_recovery_verifier(const char *code, const char *address, uint8_t out[32])
{
	pn_kdf((const uint8_t *)code, WEB_CODE_CHARS, "postern/recovery-verifier/v1", address, out);
}

/* web_recovery_make - a new code, the key's recovery copy under it, its verifier */
pn_err web_recovery_make(web_req *rq, const ProtobufCBinaryData *pub, const void *key,
    size_t keylen, const char *old, const char *address, char code[WEB_CODE_TEXT],
    pn_buf *copy, uint8_t verifier[32])
{
	char pass[WEB_PASS_TEXT];
	pn_err err;

	web_recovery_new(code);
	web_recovery_pass(code, pass);
	err = web_key_reprotect(rq, 0, pub, key, keylen, old, pass, copy);
	sodium_memzero(pass, sizeof(pass));
	web_recovery_verifier(code, address, verifier);
	return err;
}

/* ---- showing it once ---- */

/* show_key - "web:rs:<session id>" and the seal key, both from the cookie */
static void show_key(const web_sess *s, char key[80], uint8_t box[32])
{
	char id[65];

	web_sess_id(s->c, id);
	snprintf(key, 80, "web:rs:%s", id);
	pn_kdf(s->c, WEB_COOKIE_BYTES, "postern/recovery-show/v1", NULL, box);
}

/* web_recovery_keep - the code sealed for the session's next GET /recovery-code; 0 or -1 */
int web_recovery_keep(web_req *rq, const char *code)
{
	uint8_t box[32], sealed[WEB_CODE_CHARS + PN_SEAL_EXTRA];
	char key[80], ttl[16];
	size_t n;
	int rc;

	show_key(&rq->sess, key, box);
	n = pn_seal(box, code, WEB_CODE_CHARS, sealed);
	sodium_memzero(box, sizeof(box));
	snprintf(ttl, sizeof(ttl), "%d", SHOW_TTL);
	{
		const char *argv[] = { "SET", key, (const char *)sealed, "EX", ttl };
		const size_t len[] = { 3, strlen(key), n, 2, strlen(ttl) };
		rc = pn_redis_cmd(rq->t->redis, NULL, 5, argv, len) == PN_OK &&
		    pn_redis_track(rq->t->redis, rq->sess.mailbox_id, key) == PN_OK ? 0 : -1;
	}
	return rc;
}

/* web_recovery_code_html - the page that shows the code (pure) */
void web_recovery_code_html(web_buf *b, const web_page *p, const char *grouped)
{
	char warn[256];

	web_html_begin(b, p);
	web_buf_wrap(b, "<section class=\"card\">\n<h1>", TXT->rec_code_title,
	    "</h1>\n<p class=\"lead\">");
	web_buf_esc(b, TXT->rec_code_lead);
	web_buf_wrap(b, "</p>\n<p class=\"recovery-code\" id=\"recovery-code\"><code>", grouped,
	    "</code></p>\n");
	web_tfmt(warn, sizeof(warn), TXT->rec_code_warn, TXT->product, NULL, NULL);
	web_html_alert(b, "warn", warn);
	web_buf_wrap(b, "<p><a class=\"btn\" href=\"/inbox\">", TXT->rec_code_done,
	    "</a></p>\n</section>\n");
	web_html_end(b, p);
}

/* web_recovery_code_get - GET /recovery-code: the code kept for this session, once */
int web_recovery_code_get(web_req *rq)
{
	char key[80], code[WEB_CODE_TEXT], grouped[WEB_CODE_GROUPED];
	uint8_t box[32];
	redisReply *r = NULL;
	int ok, rc;

	show_key(&rq->sess, key, box);
	if (pn_redis_cmdv(rq->t->redis, &r, "GETDEL", key, (char *)NULL) != PN_OK) {
		sodium_memzero(box, sizeof(box));
		return web_error(rq, 503);
	}
	ok = r->type == REDIS_REPLY_STRING && r->len == WEB_CODE_CHARS + PN_SEAL_EXTRA &&
	    pn_unseal(box, (const uint8_t *)r->str, r->len, code) == 0;
	pn_redis_free(&r);
	sodium_memzero(box, sizeof(box));
	if (!ok)
		return web_redirect(rq, "/inbox");
	code[WEB_CODE_CHARS] = '\0';
	web_recovery_grouped(code, grouped);
	{
		web_page p = web_page_for(rq, TXT->rec_code_title, NULL);
		web_buf b;

		web_buf_init(&b);
		web_recovery_code_html(&b, &p, grouped);
		rc = web_respond_page(rq, 200, &b);
		pn_wipe(b.data, b.len);
		web_buf_free(&b);
	}
	sodium_memzero(code, sizeof(code));
	sodium_memzero(grouped, sizeof(grouped));
	return rc;
}

/* ---- the lock-out ---- */

typedef struct guard {
	char fail[96], lock[96], client[96];
} guard;

/* guard_keys - the counters of an address (known or not) and of the client */
static void guard_keys(web_req *rq, const char *address, guard *g)
{
	char tag[65], *what = NULL;

	if (asprintf(&what, "recover:%s", address) < 0)
		abort();
	web_addr_tag(what, tag);
	free(what);
	snprintf(g->fail, sizeof(g->fail), "web:rvf:%s", tag);
	snprintf(g->lock, sizeof(g->lock), "web:rvl:%s", tag);
	snprintf(g->client, sizeof(g->client), "web:rvc:%s", rq->client);
}

/*
 * guard_check - 0 free, > 0 seconds to wait, -2 closed for good, -1 Redis
 * trouble
 */
static long guard_check(web_req *rq, const guard *g)
{
	long long n, ttl;

	if ((ttl = pn_throttle_over(rq->t->redis, g->client, web_cfg.login_client_max,
	    web_cfg.login_client_window)) != 0)
		return (long)ttl;
	if (pn_throttle_int(rq->t->redis, "GET", g->fail, &n) < 0)
		return -1;
	if (n >= web_cfg.recovery_max_failures)
		return -2;
	return (long)pn_throttle_ttl(rq->t->redis, g->lock);
}

/* guard_fail - one more failure; the lock-out it starts (0 none, -2 closed) */
static long guard_fail(web_req *rq, const guard *g, int64_t mailbox_id)
{
	long long n;
	long lock;

	pn_throttle_count(rq->t->redis, g->client, web_cfg.login_client_window, 1);
	if ((n = pn_throttle_count(rq->t->redis, g->fail, FAILURES_KEPT, 0)) < 0)
		return 0;
	if (mailbox_id > 0 && n == 1)
		pn_redis_track(rq->t->redis, mailbox_id, g->fail);
	if (n >= web_cfg.recovery_max_failures)
		return -2;
	lock = pn_backoff((long)n, web_cfg.recovery_lockout_after,
	    web_cfg.recovery_lockout_seconds, LOCKOUT_CAP);
	if (lock > 0)
		pn_throttle_lock(rq->t->redis, g->lock, lock);
	return lock;
}

/* ---- the form ---- */

/* web_recover_html - the recovery form (pure); msg (an error, escaped) may be NULL */
void web_recover_html(web_buf *b, const web_page *p, const char *csrf, const char *address,
    const char *msg)
{
	web_html_begin(b, p);
	web_buf_wrap(b, "<section class=\"card\">\n<h1>", TXT->rec_title,
	    "</h1>\n<p class=\"lead\">");
	web_buf_esc(b, TXT->rec_lead);
	web_buf_puts(b, "</p>\n");
	web_html_alert(b, "alert", msg);
	web_buf_puts(b, "<form method=\"post\" action=\"/recover\">");
	web_html_hidden_csrf(b, csrf);
	web_buf_puts(b, "\n<label for=\"address\">");
	web_buf_esc(b, TXT->addr_label);
	web_buf_puts(b, "</label>\n<input id=\"address\" name=\"address\" type=\"email\" "
	    "autocomplete=\"username\" "
	    "maxlength=\"254\" required value=\"");
	web_buf_esc(b, address ? address : "");
	web_buf_puts(b, "\">\n<label for=\"code\">");
	web_buf_esc(b, TXT->rec_code_label);
	web_buf_puts(b, "</label>\n<input id=\"code\" name=\"code\" type=\"text\" "
	    "autocomplete=\"off\" spellcheck=\"false\" maxlength=\"64\" required>\n"
	    "<label for=\"pw\">");
	web_buf_esc(b, TXT->rec_pw_label);
	web_buf_printf(b, "</label>\n<input id=\"pw\" name=\"password\" type=\"password\" "
	    "autocomplete=\"new-password\" minlength=\"%ld\" maxlength=\"%ld\" required>\n"
	    "<label for=\"pw2\">", web_cfg.password_min, web_cfg.password_max);
	web_buf_esc(b, TXT->rec_pw2_label);
	web_buf_printf(b, "</label>\n<input id=\"pw2\" name=\"confirm\" type=\"password\" "
	    "autocomplete=\"new-password\" maxlength=\"%ld\" required>\n"
	    "<button type=\"submit\" class=\"btn\">", web_cfg.password_max);
	web_buf_esc(b, TXT->rec_submit);
	web_buf_wrap(b, "</button>\n</form>\n<p><a href=\"/login\">", TXT->rec_back,
	    "</a></p>\n</section>\n");
	web_html_end(b, p);
}

/* recover_form - the form as the answer */
static int recover_form(web_req *rq, int status, const char *address, const char *msg)
{
	web_page p = { .title = TXT->rec_title, .expires_days = -1 };
	web_buf b;
	int rc;

	web_buf_init(&b);
	web_recover_html(&b, &p, rq->csrf, address, msg);
	rc = web_respond_page(rq, status, &b);
	web_buf_free(&b);
	return rc;
}

/* web_recover_get - GET /recover */
int web_recover_get(web_req *rq)
{
	if (rq->sess.kind == WEB_SESS_AUTH)
		return web_redirect(rq, "/inbox");
	web_ensure_cookie(rq);
	return recover_form(rq, 200, NULL, NULL);
}

/* ---- telling the sender ---- */

/* the recovery notice's template kind (loaded and checked at start with the page frame) */
static const char *const recovered_vars[] = { PN_BRAND_VAR_NAMES, "address", "when", NULL };
const pn_tmpl_kind web_recover_kind = { "recovered", recovered_vars,
	PN_TMPL_SUBJECT | PN_TMPL_TEXT | PN_TMPL_HTML };

/* web_recover_notice - the mail to the mailbox's creator, in the mailbox's language */
uint8_t *web_recover_notice(const web_mailbox *mb, time_t now, size_t *len_r)
{
	const char *lang = pn_i18n_pick(mb->locale, "mailbox");
	const char *prev = pn_i18n_use(lang);
	char when[128];
	const pn_tmpl_var v[] = { { "address", mb->address }, { "when", when } };
	pn_brand_mail m = { .kind = "recovered", .lang = lang, .from = web_cfg.invite_from,
		.to = mb->created_by, .vars = v, .n_vars = sizeof(v) / sizeof(v[0]) };
	const char *why = NULL;
	uint8_t *data;

	/* the date as the sender reads it: their language, the organisation's zone */
	if (pn_i18n_date(when, sizeof(when), now, (int)web_cfg.brand.utc_offset, 1) == 0)
		when[0] = '\0';
	pn_i18n_use(prev);
	if ((data = pn_brand_compose(&web_cfg.brand, &m, len_r, &why)) == NULL)
		pn_warn("msg=\"cannot write the recovery notice\" why=\"%s\"", why ? why : "");
	return data;
}

/* tell_sender - one mail to the mailbox's creator: its recipient used the recovery code */
static void tell_sender(web_req *rq, const web_mailbox *mb, const uint8_t verifier[32])
{
	char hex[17];
	const char *why = NULL;
	uint8_t *data;
	size_t len;
	pn_err err;

	if (!mb->created_by || !*mb->created_by)
		return;
	if ((data = web_recover_notice(mb, (time_t)rq->now, &len)) == NULL)
		return;
	web_hex(hex, verifier, 8);
	err = pn_ms_queue_to(rq->t->bus, web_bus_pool(rq), mb->id, pn_pool_printf(web_bus_pool(rq),
	    "recovered/%lld/%s", (long long)mb->id, hex), invite_addr, mb->created_by, data, len,
	    &why);
	if (err != PN_OK)
		pn_warn("msg=\"cannot queue the recovery notice\" mailbox=%lld status=%s",
		    (long long)mb->id, pn_err_str(err));
	pn_free(&data);
}

/* ---- recovering ---- */

/* The keys a recovery makes, wiped at the end. */
typedef struct keys {
	char code[WEB_CODE_TEXT], fresh_code[WEB_CODE_TEXT];
	char rpass[WEB_PASS_TEXT], spass[WEB_PASS_TEXT];
	uint8_t verifier[32], fresh_verifier[32];
	pn_buf strong, work, copy;
	web_sess sess;
} keys;

static void keys_wipe(keys *k)
{
	pn_buf_free(&k->strong);
	pn_buf_free(&k->work);
	pn_buf_free(&k->copy);
	web_sess_clear(&k->sess);
	sodium_memzero(k, sizeof(*k));
}

/*
 * code_ok - the mailbox can be recovered with k->code: active, with a
 * recovery copy, and the verifier matches (constant time)
 */
static int code_ok(const web_mailbox *mb, keys *k)
{
	if (!mb || mb->state != POSTERN__V1__MAILBOX_STATE__MAILBOX_ACTIVE ||
	    mb->recovery_key.len == 0 || mb->recovery_verifier.len != 32)
		return 0;
	web_recovery_verifier(k->code, mb->address, k->verifier);
	return sodium_memcmp(k->verifier, mb->recovery_verifier.data, 32) == 0;
}

/* rekey - the recovery copy unlocked and made anew three ways, then SetKeys */
static pn_err rekey(web_req *rq, const web_mailbox *mb, const char *pw, keys *k)
{
	Postern__V1__SetKeys s = POSTERN__V1__SET_KEYS__INIT;
	web_mailbox *now;
	const char *why;
	pn_err err;

	web_recovery_pass(k->code, k->rpass);
	if ((err = web_key_reprotect(rq, 1, &mb->public_key, mb->recovery_key.data,
	    mb->recovery_key.len, k->rpass, pw, &k->strong)) != PN_OK)
		return err;
	web_sess_new_cookie(&k->sess);
	web_sess_pass(k->sess.c, k->spass);
	if ((err = web_key_reprotect(rq, 0, &mb->public_key, mb->recovery_key.data,
	    mb->recovery_key.len, k->rpass, k->spass, &k->work)) != PN_OK ||
	    (err = web_recovery_make(rq, &mb->public_key, mb->recovery_key.data,
	    mb->recovery_key.len, k->rpass, mb->address, k->fresh_code, &k->copy,
	    k->fresh_verifier)) != PN_OK)
		return err;
	s.mailbox_id = mb->id;
	s.expected_state = POSTERN__V1__MAILBOX_STATE__MAILBOX_ACTIVE;
	s.expected_recovery_verifier = (ProtobufCBinaryData){ 32, k->verifier };
	s.secret_key = (ProtobufCBinaryData){ k->strong.len, k->strong.data };
	s.recovery_key = (ProtobufCBinaryData){ k->copy.len, k->copy.data };
	s.recovery_verifier = (ProtobufCBinaryData){ 32, k->fresh_verifier };
	return pn_ms_set_keys(rq->t->bus, web_bus_pool(rq), &s, &now, &why);
}

/* web_recover_post - POST /recover */
int web_recover_post(web_req *rq)
{
	const char *raw = web_form_get(&rq->form, "address");
	const char *pw = web_form_get(&rq->form, "password");
	const char *confirm = web_form_get(&rq->form, "confirm");
	char norm[PN_ADDR_MAX + 1], wait[64], msg[200];
	const web_mailbox *mb;
	web_pw_verdict v;
	guard g;
	keys k;
	long left;
	pn_err err;
	int rc;

	memset(&k, 0, sizeof(k));
	web_ensure_cookie(rq);
	if (pn_addr_normalise(raw ? raw : "", norm, sizeof(norm), NULL) < 0)
		return recover_form(rq, 200, NULL, TXT->rec_bad_addr);
	guard_keys(rq, norm, &g);
	if ((left = guard_check(rq, &g)) == -1)
		return web_error(rq, 503);
	if (left == -2)
		return recover_form(rq, 403, norm, TXT->rec_closed);
	if (left > 0) {
		web_human_wait(wait, sizeof(wait), left);
		web_tfmt(msg, sizeof(msg), TXT->rec_wait, wait, NULL, NULL);
		return recover_form(rq, 429, norm, msg);
	}
	v = web_pw_check(web_pw_common(), pw, confirm, norm, web_cfg.password_min,
	    web_cfg.password_max);
	if (v != WEB_PW_OK)
		return recover_form(rq, 200, norm, web_pw_message(v));
	mb = web_get_mailbox(rq, 0, norm, NULL, &err);
	if (err == PN_ERR_TEMP)
		return web_error(rq, 503);
	if (web_recovery_norm(web_form_get(&rq->form, "code"), k.code) < 0 || !code_ok(mb, &k)) {
		left = guard_fail(rq, &g, mb ? mb->id : 0);
		keys_wipe(&k);
		pn_info("msg=\"recovery failed\" client=%s", rq->client);
		if (left == -2)
			return recover_form(rq, 403, norm, TXT->rec_closed);
		return recover_form(rq, 200, norm, TXT->rec_wrong);
	}
	err = rekey(rq, mb, pw, &k);
	if (err != PN_OK) {
		pn_warn("msg=\"recovery could not store the new keys\" mailbox=%lld status=%s",
		    (long long)mb->id, pn_err_str(err));
		keys_wipe(&k);
		if (err == PN_ERR_EXISTS)
			return recover_form(rq, 409, norm, TXT->rec_used);
		return web_error(rq, err == PN_ERR_TEMP ? 503 : 500);
	}
	{
		long long deleted;      /* pn_throttle_int always writes its result */
		pn_throttle_int(rq->t->redis, "DEL", g.fail, &deleted);
	}
	tell_sender(rq, mb, k.fresh_verifier);
	pn_info("msg=\"mailbox recovered\" mailbox=%lld", (long long)mb->id);
	if (web_login_begin(rq, &k.sess, mb->id, mb->address, mb->locale, &k.work) < 0 ||
	    web_recovery_keep(rq, k.fresh_code) < 0)
		rc = web_error(rq, 503);
	else
		rc = web_redirect(rq, "/recovery-code");
	keys_wipe(&k);
	return rc;
}

/* web_recover_init - the notice's SMTP sender: POSTERN_INVITE_FROM's address, or <> */
int web_recover_init(void)
{
	const char *from = web_cfg.invite_from, *lt = strchr(from, '<');
	char addr[PN_ADDR_MAX + 1], norm[PN_ADDR_MAX + 1];

	snprintf(addr, sizeof(addr), "%.*s", lt ? (int)strcspn(lt + 1, ">") : (int)strlen(from),
	    lt ? lt + 1 : from);
	if (pn_addr_normalise(addr, norm, sizeof(norm), NULL) < 0 || !strchr(strchr(norm, '@'), '.'))
		norm[0] = '\0';
	invite_addr = pn_strdup(norm);
	return 0;
}

void web_recover_fini(void)
{
	pn_free(&invite_addr);
}
