/*
 * prov_pgp.c - mails provision encrypts to someone's own OpenPGP key: the
 * message itself for a recipient with a key, when the event asks Postern
 * to deliver it (deliver_key_found), and the sender's notice with the new
 * PINs and the refused recipients (sender_notice). Both are PGP/MIME with
 * protected headers (lib/src/mime_pgp.c) and go out through mailstore's
 * outbox, queued once per event by their idempotency keys.
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
#include "prov.h"

typedef Postern__V1__Outcome Outcome;

/*
 * prov_pgp_seal - mail (entity: its protected body entity) as PGP/MIME
 * encrypted to pub with gpg, in *out_r (pn_malloc'd). PN_ERR_PARAMS: the
 * key cannot encrypt; PN_ERR_INTERNAL: it cannot be wrapped (*why_r).
 */
pn_err prov_pgp_seal(pn_gpg *gpg, const ProtobufCBinaryData *pub, const void *mail, size_t len,
    const uint8_t *entity, size_t entity_len, uint8_t **out_r, size_t *len_r, const char **why_r)
{
	pn_buf cipher = { NULL, 0 };
	pn_err err;

	*out_r = NULL;
	if ((err = pn_gpg_encrypt(gpg, pub->data, pub->len, entity, entity_len,
	    &cipher)) != PN_OK)
		return err;
	if (!(*out_r = pn_mime_pgp_wrap(mail, len, cipher.data, cipher.len, 1, len_r, why_r)))
		err = PN_ERR_INTERNAL;
	pn_buf_free(&cipher);
	return err;
}

/* seal - prov_pgp_seal with the event's keyring, a wrapping failure logged */
static pn_err seal(prov_event *e, const ProtobufCBinaryData *pub, const void *mail, size_t len,
    const uint8_t *entity, size_t entity_len, uint8_t **out_r, size_t *len_r)
{
	const char *why = NULL;
	pn_err err = prov_pgp_seal(e->gpg, pub, mail, len, entity, entity_len, out_r, len_r, &why);

	if (err == PN_ERR_INTERNAL)
		pn_warn("msg=\"cannot wrap PGP/MIME\" event=%s why=\"%s\"", e->ev->event_id,
		    why ? why : "");
	return err;
}

/* queue - QueueMail{mailbox 0, m}: PN_OK, PN_ERR_TEMP (e->why set) or a refusal (*why_r) */
static pn_err queue(prov_event *e, Postern__V1__OutMail *m, const char **why_r)
{
	Postern__V1__QueueMail q = POSTERN__V1__QUEUE_MAIL__INIT;
	pn_err err;

	q.mailbox_id = 0;
	q.mail = m;
	err = pn_ms_queue_mail(e->st->bus, e->pool, &q, why_r);
	if (err == PN_ERR_TEMP)
		e->why = "mailstore is unavailable";
	return err;
}

/*
 * prov_deliver_pgp - a KEY_FOUND recipient of an event with deliver_key_found:
 * the mail as PGP/MIME with protected headers, encrypted to the key that
 * keylookup found, into mailstore's outbox (once per event and address:
 * the idempotency key). A key GnuPG cannot use rejects the recipient.
 */
pn_err prov_deliver_pgp(prov_event *e, const char *address, const Postern__V1__KeyResult *r,
    Outcome *o)
{
	const char *why = NULL;
	uint8_t *data;
	size_t len;
	pn_err err;

	o->kind = POSTERN__V1__OUTCOME__KIND__KEY_FOUND;
	o->fingerprint = r->fingerprint;
	if (!e->entity && !(e->entity = pn_mime_pgp_entity(e->ev->mime.data, e->ev->mime.len, 1,
	    &e->entity_len, &why))) {
		prov_reject(e, o, "the mail cannot be made PGP/MIME");
		return PN_OK;
	}
	err = seal(e, &r->public_key, e->ev->mime.data, e->ev->mime.len, e->entity,
	    e->entity_len, &data, &len);
	if (err == PN_ERR_INTERNAL) {
		e->why = "cannot build the PGP/MIME mail";
		return err;
	}
	if (err != PN_OK)
		return prov_gpg_fail(e, o, err, "encrypt to a recipient's key");
	err = queue(e, prov_outmail(e, address, "pgp", data, len), &why);
	if (err == PN_ERR_TEMP)
		return err;
	if (err != PN_OK) {
		prov_reject(e, o, why);
		return PN_OK;
	}
	o->delivered = 1;
	e->found++;
	e->delivered++;
	return PN_OK;
}

/*
 * prov_sender_notice - one mail to the sender naming every new PIN and every
 * rejected recipient of the event (first occurrences), if there is any:
 * PGP/MIME to the sender's key when keylookup found one; without a key
 * plain text for SENDER_NOTICE_PLAIN, nothing for SENDER_NOTICE_ENCRYPTED.
 * Queued once per event (idempotency key); never logs a PIN.
 */
pn_err prov_sender_notice(prov_event *e, const Postern__V1__SendResult *res, const ssize_t *first)
{
	prov_notice_line *lines = pn_pool_alloc(e->pool, res->n_outcomes * sizeof(*lines));
	Postern__V1__OutMail *m;
	const char *why = NULL;
	uint8_t *data, *sealed = NULL;
	size_t n = 0, len = 0, slen = 0;
	pn_err err;

	for (size_t i = 0; i < res->n_outcomes; i++) {
		const Outcome *o = res->outcomes[i];
		if (first[i] >= 0)
			continue;
		if ((o->kind == POSTERN__V1__OUTCOME__KIND__MAILBOX_CREATED ||
		    o->kind == POSTERN__V1__OUTCOME__KIND__MAILBOX_REISSUED) && o->pin && *o->pin)
			lines[n++] = (prov_notice_line){ o->recipient, o->pin, NULL };
		else if (o->kind == POSTERN__V1__OUTCOME__KIND__REJECTED)
			lines[n++] = (prov_notice_line){ o->recipient, NULL, o->error };
	}
	if (n == 0) {
		e->notice = "none";
		return PN_OK;
	}
	{
		prov_notice pn = { .from = prov_cfg.invite_from, .sender = e->sender,
			.date = e->date, .date_unix = e->date_unix, .lines = lines, .n = n };
		if (!(data = prov_render_sender_notice(&pn, &len))) {
			e->why = "cannot render the sender notice";
			return PN_ERR_INTERNAL;
		}
	}
	if (e->sender_key) {
		uint8_t *entity = pn_mime_pgp_entity(data, len, 1, &slen, &why);
		size_t elen = slen;
		err = PN_ERR_INTERNAL;
		if (entity && (e->gpg = prov_keyring_lock(e->st->keyring, &e->gen))) {
			err = seal(e, &e->sender_key->public_key, data, len, entity, elen, &sealed, &slen);
			prov_keyring_unlock(e->st->keyring);
			e->gpg = NULL;
		} else if (entity) {
			err = PN_ERR_TEMP;
		}
		if (entity) {
			pn_wipe(entity, elen);
			free(entity);
		}
		if (err == PN_ERR_PARAMS) {
			pn_warn("msg=\"the sender's key cannot encrypt the sender notice\" event=%s",
			    e->ev->event_id);
		} else if (err != PN_OK) {
			pn_wipe(data, len);
			free(data);
			e->why = "GnuPG failed; try again";
			return PN_ERR_TEMP;
		}
	}
	if (sealed) {
		pn_wipe(data, len);
		free(data);
		data = sealed;
		len = slen;
		e->notice = "encrypted";
	} else if (e->ev->sender_notice == POSTERN__V1__SENDER_NOTICE__SENDER_NOTICE_PLAIN) {
		e->notice = "plain";
	} else {
		pn_info("msg=\"sender notice not sent: no usable key of the sender\" event=%s "
		    "lines=%zu", e->ev->event_id, n);
		pn_wipe(data, len);
		free(data);
		e->notice = "withheld";
		return PN_OK;
	}
	m = prov_outmail(e, e->sender, "notice", data, len);
	m->mail_from = e->st->invite_addr;
	err = queue(e, m, &why);
	if (err == PN_ERR_TEMP)
		return err;
	if (err != PN_OK) {
		pn_warn("msg=\"sender notice refused\" event=%s error=\"%s\"", e->ev->event_id,
		    why ? why : "");
		e->notice = "refused";
		return PN_OK;
	}
	pn_metrics_add("postern_provision_sender_notices_total", "sender notices queued", 1);
	return PN_OK;
}

/* key_lookup - one fresh KeyLookup for n addresses */
