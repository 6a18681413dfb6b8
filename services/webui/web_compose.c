/*
 * web_compose.c - what a reply is made of, apart from the request that
 * asks for it (web_reply.c).
 *
 * Recipients come only from the message replied to (its Reply-To or From,
 * with "reply all" also its From and Cc), never from the form: a guest
 * can only write to people whose mail is in the inbox, whatever the
 * browser sends.
 *
 * The outgoing mail is PGP/MIME (RFC 3156): the plaintext body entity
 * (the text, or with attachments a multipart/mixed of the text and one
 * base64 part per file, as pn_mime_compose renders it), with CRLF line
 * ends, is signed with the guest key and encrypted to the recipients'
 * keys in one GnuPG operation, then wrapped as
 *
 *   multipart/encrypted; protocol="application/pgp-encrypted"
 *     application/pgp-encrypted    "Version: 1"
 *     application/octet-stream     the armored OpenPGP message
 *
 * under the same RFC 5322 headers (From, To, Subject, Date, Message-ID,
 * In-Reply-To, References). The Subject stays readable in transit, as in
 * every PGP/MIME mail without protected headers. The MIME halves are
 * lib's (pn_mime_pgp_entity, pn_mime_pgp_wrap), shared with provision.
 *
 * GPGME is used directly here, not through GMime's GPG context: that one
 * cannot be pointed at a GnuPG home and would use the process-wide
 * GNUPGHOME, while every civetweb thread here has its own home (the pn_gpg
 * of web_gpg_fast, whose keyring already caches the session's key).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <gpgme.h>
#include <sodium.h>

#include "postern/log.h"
#include "postern/i18n.h"
#include "postern/mem.h"
#include "postern/mime.h"
#include "web_compose.h"
#include "web_html.h"
#include "web_mail.h"
#include "web_util.h"

#define QUOTE_MAX (256 * 1024)      /* bytes of the original quoted */

/* add_unique - append a copy of a unless it is self or already there */
static void add_unique(char ***out, size_t *n, const char *a, const char *self)
{
	if (*n >= WEB_COMPOSE_MAX_RCPT || !strcasecmp(a, self))
		return;
	for (size_t i = 0; i < *n; i++)
		if (!strcasecmp((*out)[i], a))
			return;
	*out = pn_realloc(*out, (*n + 1) * sizeof(**out));
	(*out)[(*n)++] = pn_strdup(a);
}

/* web_compose_recipients - from the message itself, nothing else */
size_t web_compose_recipients(const web_mail *m, const char *self, int all, char ***rcpt_r)
{
	size_t n = 0;

	*rcpt_r = NULL;
	if (m->n_reply_to > 0)
		for (size_t i = 0; i < m->n_reply_to; i++)
			add_unique(rcpt_r, &n, m->reply_to_list[i], self);
	else
		for (size_t i = 0; i < m->n_from; i++)
			add_unique(rcpt_r, &n, m->from_list[i], self);
	if (all) {
		for (size_t i = 0; i < m->n_from; i++)
			add_unique(rcpt_r, &n, m->from_list[i], self);
		for (size_t i = 0; i < m->n_cc; i++)
			add_unique(rcpt_r, &n, m->cc_list[i], self);
	}
	return n;
}

/* web_compose_subject - "Re: subject" */
char *web_compose_subject(const char *subject)
{
	web_buf b;
	char *out;

	if (!subject)
		subject = "";
	while (*subject == ' ')
		subject++;
	if (!strncasecmp(subject, "re:", 3))
		return pn_strdup(subject);
	web_buf_init(&b);
	web_buf_puts(&b, "Re: ");
	web_buf_puts(&b, subject);
	out = pn_strdup(b.data);
	web_buf_free(&b);
	return out;
}

/* web_compose_body - the text, a blank line, the attribution, the quote */
char *web_compose_body(const char *text, const web_mail *orig)
{
	web_buf b;
	const char *p = orig->text, *end = orig->text + strlen(orig->text);
	char *out;

	if (end - p > QUOTE_MAX)
		end = p + QUOTE_MAX;
	web_buf_init(&b);
	web_buf_puts(&b, text);
	if (*text && text[strlen(text) - 1] != '\n')
		web_buf_puts(&b, "\n");
	web_buf_puts(&b, "\n");
	{
		/* the attribution in the recipient's language; "Re:" stays Latin (RFC 5322 3.6.5) */
		char line[1200], date[128];
		const char *from = *orig->from ? orig->from : "?";
		web_html_mail_date(date, sizeof(date), orig->date, orig->date_unix);
		if (*date)
			web_tfmt(line, sizeof(line), _("On {1}, {2} wrote:"), date, from, NULL);
		else
			web_tfmt(line, sizeof(line), _("{1} wrote:"), from, NULL, NULL);
		web_buf_puts(&b, line);
		web_buf_puts(&b, "\n");
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		web_buf_puts(&b, n > 0 && *p != '>' ? "> " : ">");
		web_buf_add(&b, p, n);
		web_buf_puts(&b, "\n");
		p = nl ? nl + 1 : end;
	}
	out = pn_strdup(b.data);
	web_buf_free(&b);
	return out;
}

/* ---- OpenPGP ---- */

/* pass_cb - loopback pinentry: the passphrase once, never a retry */
static gpgme_error_t pass_cb(void *hook, const char *uid_hint, const char *info,
    int prev_was_bad, int fd)
{
	const char *pass = hook;
	(void)uid_hint;
	(void)info;

	if (prev_was_bad)
		return gpgme_error(GPG_ERR_BAD_PASSPHRASE);
	if (gpgme_io_writen(fd, pass, strlen(pass)) < 0 || gpgme_io_writen(fd, "\n", 1) < 0)
		return gpgme_error_from_errno(errno);
	return 0;
}

/* import - key material into the home; its fingerprint (caller frees) or NULL */
static char *import(gpgme_ctx_t ctx, const void *key, size_t len)
{
	gpgme_data_t d;
	gpgme_import_result_t r;
	char *fpr = NULL;

	if (gpgme_data_new_from_mem(&d, key, len, 0) != 0)
		return NULL;
	if (gpgme_op_import(ctx, d) == 0 && (r = gpgme_op_import_result(ctx)) &&
	    r->imports && r->imports->result == 0 && r->imports->fpr)
		fpr = pn_strdup(r->imports->fpr);
	gpgme_data_release(d);
	return fpr;
}

/* sign_encrypt - entity signed and encrypted, armored; PN_OK with *out_r */
static pn_err sign_encrypt(const char *homedir, const char *entity, size_t len,
    const void *seckey, size_t seckey_len, const char *passphrase,
    const pn_buf *pubkeys, size_t n_pub, pn_buf *out_r)
{
	gpgme_ctx_t ctx = NULL;
	gpgme_key_t *recp = pn_calloc(n_pub + 1, sizeof(*recp)), signer = NULL;
	gpgme_data_t in = NULL, out = NULL;
	gpgme_error_t ge;
	char *fpr = NULL;
	pn_err err = PN_ERR_TEMP;
	size_t n = 0;
	char *data;

	gpgme_check_version(NULL);
	if (gpgme_new(&ctx) != 0)
		goto done;
	if (gpgme_set_protocol(ctx, GPGME_PROTOCOL_OpenPGP) != 0 ||
	    gpgme_ctx_set_engine_info(ctx, GPGME_PROTOCOL_OpenPGP, NULL, homedir) != 0 ||
	    gpgme_set_pinentry_mode(ctx, GPGME_PINENTRY_MODE_LOOPBACK) != 0)
		goto done;
	gpgme_set_armor(ctx, 1);
	gpgme_set_passphrase_cb(ctx, pass_cb, (void *)passphrase);
	err = PN_ERR_PARAMS;
	if (!(fpr = import(ctx, seckey, seckey_len)) ||
	    gpgme_get_key(ctx, fpr, &signer, 1) != 0 || gpgme_signers_add(ctx, signer) != 0) {
		pn_warn("msg=\"reply: the guest key cannot sign\"");
		goto done;
	}
	for (size_t i = 0; i < n_pub; i++) {
		char *rf = import(ctx, pubkeys[i].data, pubkeys[i].len);
		if (!rf || gpgme_get_key(ctx, rf, &recp[n], 0) != 0) {
			pn_warn("msg=\"reply: a recipient key does not import\" index=%zu", i);
			pn_free(&rf);
			goto done;
		}
		pn_free(&rf);
		n++;
	}
	if (gpgme_data_new_from_mem(&in, entity, len, 0) != 0 || gpgme_data_new(&out) != 0) {
		err = PN_ERR_TEMP;
		goto done;
	}
	ge = gpgme_op_encrypt_sign(ctx, recp,
	    GPGME_ENCRYPT_ALWAYS_TRUST | GPGME_ENCRYPT_NO_COMPRESS, in, out);
	if (ge != 0) {
		err = gpgme_err_code(ge) == GPG_ERR_BAD_PASSPHRASE ? PN_ERR_PERM : PN_ERR_PARAMS;
		pn_warn("msg=\"reply: sign and encrypt failed\" error=\"%s\"", gpgme_strerror(ge));
		goto done;
	}
	{
		gpgme_sign_result_t sr = gpgme_op_sign_result(ctx);
		gpgme_encrypt_result_t er = gpgme_op_encrypt_result(ctx);
		if (!sr || !sr->signatures || sr->invalid_signers || !er || er->invalid_recipients) {
			pn_warn("msg=\"reply: not signed or not encrypted to every key\"");
			goto done;
		}
	}
	data = gpgme_data_release_and_get_mem(out, &len);
	out = NULL;
	if (!data) {
		err = PN_ERR_TEMP;
		goto done;
	}
	out_r->data = pn_malloc(len + 1);
	memcpy(out_r->data, data, len);
	out_r->data[len] = '\0';
	out_r->len = len;
	gpgme_free(data);
	err = PN_OK;
done:
	gpgme_data_release(in);
	gpgme_data_release(out);
	for (size_t i = 0; i < n; i++)
		gpgme_key_unref(recp[i]);
	free(recp);
	if (signer)
		gpgme_key_unref(signer);
	pn_free(&fpr);
	if (ctx)
		gpgme_release(ctx);
	return err;
}

/* web_compose_pgp - the plaintext message, its body sealed (RFC 3156) */
pn_err web_compose_pgp(pn_gpg *gpg, const char *homedir, const void *plain, size_t plain_len,
    const void *seckey, size_t seckey_len, const char *passphrase,
    const pn_buf *pubkeys, size_t n_pub, pn_buf *out_r)
{
	pn_buf cipher = { NULL, 0 };
	const char *why = NULL;
	uint8_t *entity;
	size_t len = 0;
	pn_err err;

	out_r->data = NULL;
	out_r->len = 0;
	if (n_pub == 0)
		return PN_ERR_PARAMS;
	if ((err = pn_gpg_hold_secret(gpg, seckey, seckey_len)) != PN_OK)
		return err;
	if (!(entity = pn_mime_pgp_entity(plain, plain_len, 0, &len, &why)))
		return PN_ERR_PARAMS;
	err = sign_encrypt(homedir, (const char *)entity, len, seckey, seckey_len, passphrase,
	    pubkeys, n_pub, &cipher);
	pn_wipe(entity, len);
	free(entity);
	if (err != PN_OK)
		return err;
	if (!(out_r->data = pn_mime_pgp_wrap(plain, plain_len, cipher.data, cipher.len, 0,
	    &out_r->len, &why)))
		err = PN_ERR_PARAMS;
	pn_buf_free(&cipher);
	return err;
}
