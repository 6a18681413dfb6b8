/*
 * web_export.c - POST /export: the whole mailbox as one OpenPGP-encrypted
 * archive of .eml files, to the recipient's own key; POST /close: the
 * recipient closes the mailbox early.
 *
 * The archive is a POSIX tar (ustar): inbox/<n>-<id>.eml and
 * sent/<n>-<id>.eml, each the message exactly as stored - the RFC 5322
 * mail the sender composed, or the reply as the recipient sent it -
 * decrypted with the session's key. The tar is built in memory, at most
 * POSTERN_WEBUI_EXPORT_MAX bytes (a larger mailbox is refused with a page
 * that says so, before anything is encrypted), encrypted to the own key
 * (armored), wiped, and sent as postern-mailbox.tar.asc. Only a mailbox
 * with an own key can be exported: the archive must be readable by its
 * recipient alone, and that key is the only one Postern knows to be theirs.
 *
 * Closing asks for a ticked confirm box. mailstore's CloseMailbox deletes
 * the messages (and, without an own key, the mailbox); the session ends.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "postern/calls.h"
#include "postern/gpg.h"
#include "postern/log.h"
#include "postern/mem.h"
#include "web_bus.h"
#include "web_cfg.h"
#include "web_export.h"
#include "web_html.h"
#include "web_key.h"
#include "web_mcache.h"
#include "web_pcache.h"
#include "web_sess.h"
#include "web_text.h"

#define TAR_BLOCK 512
#define EXPORT_PAGE 200             /* messages per ListFolder */

/* octal - n as a NUL-terminated octal field of width w (w - 1 digits, zero-padded) */
static void octal(char *field, size_t w, unsigned long long n)
{
	field[w - 1] = '\0';
	for (size_t i = w - 1; i-- > 0; n >>= 3)
		field[i] = (char)('0' + (n & 7));
}

/* web_tar_add - one regular file into the tar in b (name up to 99 bytes) */
int web_tar_add(web_buf *b, const char *name, const void *data, size_t len, long mtime)
{
	unsigned char h[TAR_BLOCK];
	unsigned sum = 0;
	static const unsigned char zero[TAR_BLOCK];

	if (strlen(name) > 99)
		return -1;
	memset(h, 0, sizeof(h));
	memcpy(h, name, strlen(name));
	octal((char *)h + 100, 8, 0600);
	octal((char *)h + 108, 8, 0);
	octal((char *)h + 116, 8, 0);
	octal((char *)h + 124, 12, len);
	octal((char *)h + 136, 12, (unsigned long long)(mtime > 0 ? mtime : 0));
	memset(h + 148, ' ', 8);
	h[156] = '0';
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	for (size_t i = 0; i < sizeof(h); i++)
		sum += h[i];
	octal((char *)h + 148, 7, sum);
	h[155] = ' ';
	web_buf_add(b, h, sizeof(h));
	web_buf_add(b, data, len);
	if (len % TAR_BLOCK)
		web_buf_add(b, zero, TAR_BLOCK - len % TAR_BLOCK);
	return 0;
}

/* web_tar_end - the two zero blocks that end an archive */
void web_tar_end(web_buf *b)
{
	static const unsigned char zero[2 * TAR_BLOCK];

	web_buf_add(b, zero, sizeof(zero));
}

/* add_folder - every message of one folder into the tar; 0, 413 when too large, or another status */
static int add_folder(web_req *rq, int folder, const char *dir, web_buf *tar, int *count)
{
	Postern__V1__ListFolder lf = POSTERN__V1__LIST_FOLDER__INIT;
	const Postern__V1__FolderPage *pg;
	pn_err err;

	lf.mailbox_id = rq->sess.mailbox_id;
	lf.folder = folder;
	lf.limit = EXPORT_PAGE;
	for (;;) {
		if (!(pg = web_list_folder(rq, &lf, &err)))
			return err == PN_ERR_TEMP ? 503 : 500;
		for (size_t i = 0; i < pg->n_messages; i++) {
			const Postern__V1__Message *m;
			pn_buf plain = { NULL, 0 };
			char name[100];

			if (pg->messages[i]->withdrawn_at)
				continue;           /* revoked or expired: nothing left to export */
			if (!(m = web_get_message(rq, pg->messages[i]->id, &err))) {
				if (err == PN_ERR_NOTFOUND)
					continue;   /* withdrawn since the page was listed */
				return err == PN_ERR_TEMP ? 503 : 500;
			}
			if ((err = web_key_decrypt(rq, &m->body, &plain)) != PN_OK)
				return err == PN_ERR_TEMP ? 503 : 500;
			if (tar->len + plain.len + 3 * TAR_BLOCK > (size_t)web_cfg.export_max) {
				pn_buf_free(&plain);
				return 413;
			}
			snprintf(name, sizeof(name), "%s/%04d-%lld.eml", dir, ++*count,
			    (long long)pg->messages[i]->id);
			web_tar_add(tar, name, plain.data, plain.len, (long)m->summary->received_at);
			pn_buf_free(&plain);
		}
		if (pg->n_messages < EXPORT_PAGE)
			return 0;
		lf.offset += EXPORT_PAGE;
	}
}

/* export_refused - the key page's answer when there is nothing to export to, or too much */
static int export_refused(web_req *rq, int status, const char *text)
{
	web_page p = web_page_for(rq, TXT->export_title, NULL);

	return web_respond_notice(rq, status, &p, TXT->export_refused_title, text,
	    "/key", TXT->export_back);
}

/* web_export_post - POST /export: the encrypted archive as a download */
int web_export_post(web_req *rq)
{
	const web_mailbox *mb;
	web_buf tar;
	pn_buf cipher = { NULL, 0 };
	pn_gpg *g;
	pn_err err;
	int rc, count = 0;

	if (!(mb = web_get_mailbox(rq, rq->sess.mailbox_id, NULL, NULL, &err)))
		return web_error(rq, err == PN_ERR_TEMP ? 503 : 500);
	if (!mb->own_fingerprint || !*mb->own_fingerprint || mb->own_key.len == 0)
		return export_refused(rq, 409, TXT->export_no_key);
	web_buf_init(&tar);
	if ((rc = add_folder(rq, POSTERN__V1__FOLDER__FOLDER_INBOX, "inbox", &tar, &count)) == 0)
		rc = add_folder(rq, POSTERN__V1__FOLDER__FOLDER_SENT, "sent", &tar, &count);
	if (rc != 0) {
		web_buf_free(&tar);
		if (rc != 413)
			return web_error(rq, rc);
		return export_refused(rq, 413, TXT->export_too_large);
	}
	web_tar_end(&tar);
	if (!(g = web_gpg_fast(rq->t)) ||
	    (err = pn_gpg_encrypt(g, mb->own_key.data, mb->own_key.len, tar.data, tar.len,
	    &cipher)) != PN_OK) {
		web_buf_free(&tar);
		return web_error(rq, 503);
	}
	web_buf_free(&tar);
	pn_info("msg=\"mailbox exported\" mailbox=%lld messages=%d bytes=%zu",
	    (long long)rq->sess.mailbox_id, count, cipher.len);
	rc = web_respond(rq, 200, "application/octet-stream",
	    "Content-Disposition: attachment; filename=\"postern-mailbox.tar.asc\"\r\n",
	    cipher.data, cipher.len);
	pn_buf_free(&cipher);
	return rc;
}

/* web_close_post - POST /close: confirmed, the mailbox is closed and the session ends */
int web_close_post(web_req *rq)
{
	Postern__V1__CloseMailbox c = POSTERN__V1__CLOSE_MAILBOX__INIT;
	const char *confirm = web_form_get(&rq->form, "confirm"), *why;
	const web_mailbox *mb;
	web_page p;
	pn_err err;
	int forward;

	if (!(mb = web_get_mailbox(rq, rq->sess.mailbox_id, NULL, NULL, &err)))
		return web_error(rq, err == PN_ERR_TEMP ? 503 : 500);
	forward = mb->own_fingerprint && *mb->own_fingerprint;
	if (!confirm || strcmp(confirm, "yes"))
		return export_refused(rq, 400, TXT->close_unconfirmed);
	c.mailbox_id = rq->sess.mailbox_id;
	err = pn_ms_close_mailbox(rq->t->bus, web_bus_pool(rq), &c, &why);
	if (err != PN_OK && err != PN_ERR_NOTFOUND)
		return web_error(rq, err == PN_ERR_TEMP ? 503 : 500);
	pn_info("msg=\"mailbox closed by its recipient\" mailbox=%lld",
	    (long long)rq->sess.mailbox_id);
	web_sess_delete(rq->t->redis, &rq->sess);
	web_pcache_drop(rq->sess.c);
	web_mcache_drop(rq->sess.c);
	rq->clear_cookie = 1;
	p = web_page_for(rq, TXT->closed_title, NULL);
	p.address = NULL;
	return web_respond_notice(rq, 200, &p, TXT->closed_heading, forward ?
	    TXT->closed_forward : TXT->closed_text, NULL, NULL);
}
