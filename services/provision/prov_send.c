/*
 * prov_send.c - SendEvent: for each recipient without a key, a temporary
 * mailbox, the mail encrypted into it, and an invitation or notification,
 * handed to mailstore in one Accept per recipient; for each recipient
 * with a key, if the event asks for it, the mail as PGP/MIME to that key;
 * and, if asked for, one notice to the sender. This file is the event as
 * a whole; a recipient's mailbox is prov_mailbox.c, the mails encrypted to
 * someone's own key prov_pgp.c.
 *
 * Order of work for one event:
 *   1. Whole-event checks, nothing stored yet: event id, sender, recipient
 *      count (STATUS_TOO_LARGE), mail size (STATUS_TOO_LARGE), the mail
 *      itself (STATUS_BAD_REQUEST for a 0-byte or malformed mail: the mail
 *      is the same for every recipient, so one clear answer beats N
 *      identical REJECTEDs).
 *   2. Recipients normalised (invalid: REJECTED with the reason; the rest
 *      continue; a repeated address is handled once and reported twice).
 *   3. One KeyLookup (fresh) for every recipient, plus the sender when a
 *      PIN is asked for (the PIN store needs the sender's key) or a
 *      sender notice (it is encrypted to that key when there is one).
 *   4. Per recipient: KEY_FOUND is only reported - unless the event has
 *      deliver_key_found: then the mail goes out as PGP/MIME with
 *      protected headers, encrypted to that key, through QueueMail
 *      (idempotency key <event>/<address>/pgp), and the outcome says
 *      delivered; a key GnuPG cannot use rejects the recipient. GUEST: GetMailbox,
 *      encrypt to its key, Accept with a notification. NONE: the event
 *      record (below), a guest key, encrypt, Accept with new_mailbox and
 *      the invitation; if mailstore says EXISTS (someone else won a race)
 *      the mail is encrypted again to the winner's key and accepted
 *      without new_mailbox. A mailbox found that was never activated, or
 *      is locked, is re-issued instead (prov_reissue.c): new link and PIN,
 *      the mail, the invitation again - MAILBOX_REISSUED.
 *   5. With sender_notice, and a new PIN or a rejected recipient: one
 *      mail to the sender (idempotency key <event>/<sender>/notice) with
 *      each PIN and each reason (sender_notice below).
 *   6. The reply goes out only after every Accept has been answered OK
 *      and every mail is queued (mailstore commits synchronously).
 *      Anything transient (mailstore, keylookup, Redis, GnuPG) makes the
 *      whole event STATUS_TEMP; the publisher retries and every step
 *      above is idempotent.
 *
 * Idempotency across retries and replicas: before anything is generated
 * for (event, recipient), a record holding the link secret and PIN is put
 * into Redis with SET NX, sealed under the server key (prov_crypto.c). A
 * retry - on this replica or another, concurrent or after a crash - finds
 * the record and reuses the same link and PIN, so whatever mailstore
 * committed first matches what the reply says. mailstore's Accept is
 * itself idempotent by (event_id, mailbox) and says whether this event
 * created the mailbox (Accepted.created), which decides between
 * MAILBOX_CREATED (with the record's PIN) and MAILBOX_EXISTS.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "postern/guest.h"
#include "postern/addr.h"
#include "postern/calls.h"
#include "postern/log.h"
#include "postern/metrics.h"
#include "postern/mime.h"
#include "postern/pb.h"
#include "postern/i18n.h"
#include "prov.h"

#define EVENT_ID_MAX 128

struct prov_config prov_cfg;     /* filled by main.c's table */

typedef Postern__V1__Outcome Outcome;


/* prov_event_id_ok - what mailstore accepts, shorter (idem keys append to it) */
int prov_event_id_ok(const char *id)
{
	size_t n;

	if (!id || (n = strlen(id)) == 0 || n > EVENT_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (id[i] < 0x21 || id[i] > 0x7e)
			return 0;
	return 1;
}

/* prov_reject - fill an outcome as REJECTED */
void prov_reject(prov_event *e, Outcome *o, const char *why)
{
	o->kind = POSTERN__V1__OUTCOME__KIND__REJECTED;
	o->error = pn_pool_strdup(e->pool, why);
	e->rejected++;
}

pn_err prov_gpg_fail(prov_event *e, Outcome *o, pn_err err, const char *what)
{
	pn_warn("msg=\"gnupg failed\" what=\"%s\" event=%s status=%s", what,
	    e->ev->event_id, pn_err_str(err));
	if (err == PN_ERR_PARAMS) {
		prov_reject(e, o, o->kind == POSTERN__V1__OUTCOME__KIND__KEY_FOUND ?
		    "the OpenPGP key of this recipient cannot be used for encryption" :
		    "the mailbox key of this recipient is not usable");
		return PN_OK;
	}
	if (err == PN_ERR_TOOLARGE) {
		prov_reject(e, o, "the mail is too large to encrypt");
		return PN_OK;
	}
	e->why = "GnuPG failed; try again";
	return PN_ERR_TEMP;
}

/*
 * return_path - the SMTP sender of mails to recipients: the event's
 * sender (bounces reach who wrote), or as POSTERN_INVITE_RETURN_PATH says
 */
static char *return_path(prov_event *e)
{
	return e->st->return_path ? e->st->return_path : (char *)e->sender;
}

/* prov_outmail - one outbox mail to address; data is taken (wiped and freed) */
Postern__V1__OutMail *prov_outmail(prov_event *e, const char *address,
    const char *kind, uint8_t *data, size_t len)
{
	Postern__V1__OutMail *m = pn_pool_alloc(e->pool, sizeof(*m));
	char **rcpt = pn_pool_alloc(e->pool, sizeof(*rcpt));

	postern__v1__out_mail__init(m);
	m->idem_key = prov_idem_key(e->ev->event_id, address, kind, e->pool);
	m->mail_from = return_path(e);
	rcpt[0] = pn_pool_strdup(e->pool, address);
	m->rcpt_to = rcpt;
	m->n_rcpt_to = 1;
	m->data.data = pn_pool_memdup(e->pool, data, len);
	m->data.len = len;
	pn_wipe(data, len);
	free(data);
	return m;
}

/*
 * key_lookup - one fresh lookup of n addresses (the first nq recipients);
 * while it travels, the mail is encrypted early to recent keys
 * (prov_early.c), and what it says is kept for the next mail
 */
static pn_err key_lookup(prov_event *e, char **addrs, size_t n, size_t nq,
    Postern__V1__KeyLookupResult **res_r)
{
	const char *why;
	pn_err err;

	prov_early_plan(e, addrs, nq);
	if (e->n_early)
		pn_client_meanwhile(e->st->bus, prov_early_encrypt, e);
	err = pn_kl_lookup(e->st->bus, e->pool, addrs, n, PN_KL_FRESH | PN_KL_WITH_MAILBOX,
	    res_r, &why);
	if (err == PN_OK) {
		prov_early_learn(e, addrs, nq, *res_r);
		return PN_OK;
	}
	pn_warn("msg=\"key lookup failed\" event=%s status=%s error=\"%s\"",
	    e->ev->event_id, pn_err_str(err), why);
	e->why = err == PN_ERR_INTERNAL ? "key lookup answered badly" : "key lookup is unavailable";
	return err == PN_ERR_TEMP ? PN_ERR_TEMP : PN_ERR_INTERNAL;
}

/* event_free - wipe what the event kept of the plaintext */
static void event_free(prov_event *e)
{
	prov_early_drop(e);
	pn_wipe_free(&e->envelope);
	if (e->entity) {
		pn_wipe(e->entity, e->entity_len);
		pn_free(&e->entity);
	}
}

/* prov_expiry_ok - an expiry after now and at most POSTERN_PROVISION_EXPIRES_MAX_DAYS ahead */
int prov_expiry_ok(int64_t expires_at, int64_t now)
{
	return expires_at > now && expires_at - now <= (int64_t)prov_cfg.expires_max_days * 86400;
}

/* check_event - whole-event checks before anything is stored */
static pn_err check_event(pn_ctx *ctx, const Postern__V1__SendEvent *ev,
    pn_mime_info *info, char *sender, const char **why_r)
{
	const char *why = NULL;

	if (!prov_event_id_ok(ev->event_id)) {
		pn_ctx_error(ctx, "event_id must be 1..%d printable ASCII characters without spaces",
		    EVENT_ID_MAX);
		return PN_ERR_PARAMS;
	}
	if (pn_addr_normalise(ev->sender ? ev->sender : "", sender, PN_ADDR_MAX + 1, &why) < 0) {
		pn_ctx_error(ctx, "sender: %s", why);
		return PN_ERR_PARAMS;
	}
	if (ev->expires_at != 0 && !prov_expiry_ok(ev->expires_at, (int64_t)time(NULL))) {
		pn_ctx_error(ctx, "expires_at must be in the future and at most %ld days ahead "
		    "(POSTERN_PROVISION_EXPIRES_MAX_DAYS)", prov_cfg.expires_max_days);
		return PN_ERR_PARAMS;
	}
	if (ev->n_recipients == 0) {
		pn_ctx_error(ctx, "the event has no recipients");
		return PN_ERR_PARAMS;
	}
	if (ev->n_recipients > (size_t)prov_cfg.max_recipients) {
		pn_ctx_error(ctx, "%zu recipients; at most %ld per event (POSTERN_MAX_RECIPIENTS)",
		    ev->n_recipients, prov_cfg.max_recipients);
		return PN_ERR_TOOLARGE;
	}
	if (ev->mime.len > (size_t)prov_cfg.max_mail_bytes) {
		pn_ctx_error(ctx, "the mail has %zu bytes; at most %ld "
		    "(POSTERN_PROVISION_MAX_MAIL_BYTES)", ev->mime.len, prov_cfg.max_mail_bytes);
		return PN_ERR_TOOLARGE;
	}
	if (ev->sender_notice != POSTERN__V1__SENDER_NOTICE__SENDER_NOTICE_NONE &&
	    ev->sender_notice != POSTERN__V1__SENDER_NOTICE__SENDER_NOTICE_ENCRYPTED &&
	    ev->sender_notice != POSTERN__V1__SENDER_NOTICE__SENDER_NOTICE_PLAIN) {
		pn_ctx_error(ctx, "sender_notice %d is not a SenderNotice", (int)ev->sender_notice);
		return PN_ERR_PARAMS;
	}
	if (ev->note != NULL && ev->note[0] != '\0') {
		char *note = prov_note_clean(ev->note);
		if (note == NULL) {
			pn_ctx_error(ctx, "the note is longer than %d characters", PROV_NOTE_MAX);
			return PN_ERR_PARAMS;
		}
		pn_free(&note);
	}
	if (pn_mime_inspect(ev->mime.data, ev->mime.len, info, &why) != PN_OK) {
		pn_ctx_error(ctx, "the mail is not a valid RFC 5322 message: %s", why);
		return PN_ERR_PARAMS;
	}
	*why_r = NULL;
	return PN_OK;
}

/* prov_op_send - SendEvent -> SendResult */
pn_err prov_op_send(pn_ctx *ctx, const ProtobufCMessage *request,
    ProtobufCMessage *reply, pn_pool *pool)
{
	const Postern__V1__SendEvent *ev = ((const Postern__V1__ProvisionRequest *)request)->send;
	Postern__V1__ProvisionReply *rep = (Postern__V1__ProvisionReply *)reply;
	Postern__V1__SendResult *res;
	Postern__V1__KeyLookupResult *kl = NULL;
	pn_mime_info info;
	char sender[PN_ADDR_MAX + 1], buf[PN_ADDR_MAX + 1];
	const char *why = NULL;
	char **addrs, **norm;
	size_t n, nq = 0;
	ssize_t *slot, *first;
	struct timespec t0, t1;
	int notice = 0, with_sender;
	prov_event e;
	pn_err err;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	memset(&info, 0, sizeof(info));
	if ((err = check_event(ctx, ev, &info, sender, &why)) != PN_OK)
		return err;
	memset(&e, 0, sizeof(e));
	e.ctx = ctx;
	e.st = pn_ctx_state(ctx);
	e.pool = pool;
	e.ev = ev;
	e.sender = pn_pool_strdup(pool, sender);
	/* checked once, logged if hostile; the mailbox keeps it */
	e.lang = pn_i18n_pick(ev->locale, "send event");
	e.sender_name = "";
	if (pn_addr_normalise(info.from_addr, buf, sizeof(buf), NULL) == 0 &&
	    !strcmp(buf, sender))
		e.sender_name = pn_pool_strdup(pool, info.from_name);
	{
		char *from = prov_sender_display(info.from_name, info.from_addr);
		e.envelope = prov_envelope(from, info.to, info.cc, info.subject, info.date,
		    info.has_attachments);
		pn_free(&from);
	}
	e.has_attachments = info.has_attachments;
	e.date = pn_pool_strdup(pool, info.date);
	e.date_unix = info.date_unix;
	e.notice = "-";
	pn_mime_info_free(&info);

	n = ev->n_recipients;
	res = pn_pool_alloc(pool, sizeof(*res));
	postern__v1__send_result__init(res);
	res->event_id = ev->event_id;
	res->n_outcomes = n;
	res->outcomes = pn_pool_alloc(pool, n * sizeof(*res->outcomes));
	addrs = pn_pool_alloc(pool, (n + 1) * sizeof(*addrs));
	norm = pn_pool_alloc(pool, n * sizeof(*norm));
	slot = pn_pool_alloc(pool, n * sizeof(*slot));
	first = pn_pool_alloc(pool, n * sizeof(*first));

	/* 2. normalise; each distinct valid address asked for once */
	for (size_t i = 0; i < n; i++) {
		Outcome *o = pn_pool_alloc(pool, sizeof(*o));
		const char *raw = ev->recipients[i] ? ev->recipients[i] : "";

		postern__v1__outcome__init(o);
		res->outcomes[i] = o;
		slot[i] = -1;
		first[i] = -1;
		if (pn_addr_normalise(raw, buf, sizeof(buf), &why) < 0) {
			char *shown = pn_mime_clean_line(raw, PN_ADDR_MAX);
			o->recipient = pn_pool_strdup(pool, shown);
			pn_free(&shown);
			prov_reject(&e, o, why);
			continue;
		}
		norm[i] = pn_pool_strdup(pool, buf);
		o->recipient = norm[i];
		for (size_t j = 0; j < i; j++)
			if (norm[j] && !strcmp(norm[j], norm[i])) {
				first[i] = (ssize_t)j;
				break;
			}
		if (first[i] < 0) {
			slot[i] = (ssize_t)nq;
			addrs[nq++] = norm[i];
		}
	}
	notice = ev->sender_notice != POSTERN__V1__SENDER_NOTICE__SENDER_NOTICE_NONE;
	if (nq == 0 && !notice)
		goto answer;

	/*
	 * 3. one fresh lookup, the sender last when a PIN may be stored or a
	 * notice may be encrypted to it
	 */
	with_sender = ev->with_pin || notice;
	if (with_sender)
		addrs[nq] = (char *)e.sender;
	if ((err = key_lookup(&e, addrs, nq + (with_sender ? 1 : 0), nq, &kl)) != PN_OK)
		goto fail;
	if (with_sender && kl->results[nq]->kind == POSTERN__V1__KEY_RESULT__KIND__KEY_FOUND &&
	    kl->results[nq]->public_key.len > 0)
		e.sender_key = kl->results[nq];

	/* 4. per recipient */
	for (size_t i = 0; i < n; i++) {
		Outcome *o = res->outcomes[i];
		const Postern__V1__KeyResult *r;

		if (slot[i] < 0)
			continue;
		r = kl->results[slot[i]];
		switch (r->kind) {
		case POSTERN__V1__KEY_RESULT__KIND__KEY_FOUND:
			if (!ev->deliver_key_found) {
				o->kind = POSTERN__V1__OUTCOME__KIND__KEY_FOUND;
				o->fingerprint = r->fingerprint;
				e.found++;
				break;
			}
			if (!(e.gpg = prov_keyring_lock(e.st->keyring, &e.gen))) {
				e.why = "GnuPG is not usable; try again";
				err = PN_ERR_TEMP;
				goto fail;
			}
			err = prov_deliver_pgp(&e, norm[i], r, o);
			prov_keyring_unlock(e.st->keyring);
			e.gpg = NULL;
			if (err != PN_OK)
				goto fail;
			break;
		case POSTERN__V1__KEY_RESULT__KIND__GUEST:
		case POSTERN__V1__KEY_RESULT__KIND__NONE:
			if (!(e.gpg = prov_keyring_lock(e.st->keyring, &e.gen))) {
				e.why = "GnuPG is not usable; try again";
				err = PN_ERR_TEMP;
				goto fail;
			}
			err = prov_deliver_mailbox(&e, norm[i], r, o);
			prov_keyring_unlock(e.st->keyring);
			e.gpg = NULL;
			if (err != PN_OK)
				goto fail;
			break;
		default:
			prov_reject(&e, o, r->error && *r->error ? r->error : "the address is not valid");
			break;
		}
	}

answer:
	/* repeated addresses report what their first occurrence got */
	for (size_t i = 0; i < n; i++) {
		if (first[i] < 0)
			continue;
		Outcome *o = res->outcomes[i], *f = res->outcomes[first[i]];
		o->kind = f->kind;
		o->fingerprint = f->fingerprint;
		o->pin = f->pin;
		o->error = f->error;
		o->delivered = f->delivered;
	}
	/* 5. the notice to the sender, once every recipient is settled */
	if (notice && (err = prov_sender_notice(&e, res, first)) != PN_OK)
		goto fail;
	rep->result_case = POSTERN__V1__PROVISION_REPLY__RESULT_SEND;
	rep->send = res;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	pn_info("msg=event event=%s recipients=%zu key_found=%d delivered=%d created=%d exists=%d "
	    "reissued=%d rejected=%d notice=%s ms=%.1f",
	    ev->event_id, n, e.found, e.delivered, e.created, e.exists, e.reissued, e.rejected,
	    e.notice,
	    (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	pn_metrics_add("postern_provision_mailboxes_created_total", "mailboxes created", e.created);
	pn_metrics_add("postern_provision_messages_stored_total", "messages stored into mailboxes",
	    e.created + e.exists + e.reissued);
	pn_metrics_add("postern_provision_delivered_total",
	    "mails to key-found recipients queued as PGP/MIME", e.delivered);
	event_free(&e);
	return PN_OK;
fail:
	event_free(&e);
	pn_ctx_error(ctx, "%s", e.why ? e.why : pn_err_str(err));
	return err;
}
