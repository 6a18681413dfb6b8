/*
 * prov_mailbox.c - one recipient without a key: its temporary mailbox.
 * A recipient keylookup knows as GUEST gets the mail encrypted to its
 * mailbox's key and a notification; one it knows nothing of gets a new
 * mailbox - the event record (the link secret and PIN, claimed once per
 * event and address in Redis), a guest key from the pool or made now,
 * the invitation - in one Accept, and the PIN copy for "check assigned
 * PIN". The order of work and the idempotency argument are in prov_send.c.
 */
#include <stdio.h>
#include <stdlib.h>
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
typedef Postern__V1__Mailbox Mailbox;

/* ---- event records ---- */

/* prov_record_key - "prov:ev:<hash of event and address>" */
char *prov_record_key(prov_event *e, const char *address)
{
	char id[65];

	prov_record_id(e->ev->event_id, address, id);
	return pn_pool_printf(e->pool, "prov:ev:%s", id);
}

/* prov_record_get - 1 found (sec_r set), 0 none, or -1 with the error in *err_r */
int prov_record_get(prov_event *e, const char *address, prov_secret *sec_r, pn_err *err_r)
{
	char *key = prov_record_key(e, address), id[65];
	redisReply *r = NULL;
	int found = 0;

	prov_record_id(e->ev->event_id, address, id);
	if ((*err_r = pn_redis_cmdv(e->st->redis, &r, "GET", key, (char *)NULL)) != PN_OK) {
		e->why = "Redis is unavailable";
		*err_r = PN_ERR_TEMP;
		return -1;
	}
	if (r->type == REDIS_REPLY_STRING) {
		if (prov_record_open(e->st->key, id, (const uint8_t *)r->str, r->len, sec_r) < 0) {
			pn_error("msg=\"event record does not open (other POSTERN_PROVISION_KEY?)\" "
			    "event=%s", e->ev->event_id);
			e->why = "an event record cannot be opened";
			*err_r = PN_ERR_INTERNAL;
			found = -1;
		} else {
			found = 1;
		}
	}
	pn_redis_free(&r);
	return found;
}

/*
 * prov_record_claim - the secrets of (event, address): the stored ones, or new
 * ones stored now - offer's (a pooled key's secrets) when given, for the
 * first try.
 */
pn_err prov_record_claim(prov_event *e, const char *address, const prov_secret *offer,
    prov_secret *sec)
{
	char *key = prov_record_key(e, address), id[65], ttl[32];
	uint8_t sealed[PROV_RECORD_MAX];
	redisReply *r = NULL;
	pn_err err;

	prov_record_id(e->ev->event_id, address, id);
	snprintf(ttl, sizeof(ttl), "%ld", prov_cfg.record_ttl);
	for (int tries = 0; tries < 3; tries++) {
		prov_secret fresh;
		size_t n;
		int found;

		if (offer && tries == 0) {
			fresh = *offer;
		} else {
			prov_link_new(fresh.link);
			if (e->ev->with_pin)
				prov_pin_new(fresh.pin, (size_t)prov_cfg.pin_length);
			else
				fresh.pin[0] = '\0';
		}
		n = prov_record_seal(e->st->key, id, &fresh, sealed);
		const char *argv[] = { "SET", key, (const char *)sealed, "NX", "EX", ttl };
		const size_t argvlen[] = { 3, strlen(key), n, 2, 2, strlen(ttl) };
		err = pn_redis_cmd(e->st->redis, &r, 6, argv, argvlen);
		sodium_memzero(sealed, sizeof(sealed));
		if (err != PN_OK) {
			sodium_memzero(&fresh, sizeof(fresh));
			e->why = "Redis is unavailable";
			return PN_ERR_TEMP;
		}
		if (r->type == REDIS_REPLY_STATUS) {
			pn_redis_free(&r);
			*sec = fresh;
			sodium_memzero(&fresh, sizeof(fresh));
			return PN_OK;
		}
		pn_redis_free(&r);
		sodium_memzero(&fresh, sizeof(fresh));
		/* taken: a retry of this event came first */
		found = prov_record_get(e, address, sec, &err);
		if (found < 0)
			return err;
		if (found)
			return PN_OK;
		/* expired in between: claim again */
	}
	e->why = "the event record keeps vanishing";
	return PN_ERR_TEMP;
}

/* ---- the PIN for "check assigned PIN" ---- */

/*
 * prov_pin_store - the PIN encrypted to the sender's own key, for PinQuery.
 * Listed with the mailbox's keys, so it goes when the mailbox is deleted.
 */
void prov_pin_store(prov_event *e, int64_t mailbox_id, const char *address,
    const char *pin)
{
	const Postern__V1__KeyResult *k = e->sender_key;
	pn_buf cipher = { NULL, 0 };
	char *key, ttl[32];
	pn_err err;

	if (!pin || !*pin)
		return;
	if (!k) {
		pn_info("msg=\"sender has no key: PIN not kept for checking\" event=%s",
		    e->ev->event_id);
		return;
	}
	err = pn_gpg_encrypt(e->gpg, k->public_key.data, k->public_key.len, pin,
	    strlen(pin), &cipher);
	if (err != PN_OK) {
		pn_warn("msg=\"cannot encrypt the PIN to the sender's key\" event=%s status=%s",
		    e->ev->event_id, pn_err_str(err));
		return;
	}
	key = prov_pin_key(e->sender, address, e->pool);
	snprintf(ttl, sizeof(ttl), "%ld", prov_cfg.inactivity_days * 86400L);
	const char *argv[] = { "SET", key, (const char *)cipher.data, "EX", ttl };
	const size_t argvlen[] = { 3, strlen(key), cipher.len, 2, strlen(ttl) };
	if (pn_redis_cmd(e->st->redis, NULL, 5, argv, argvlen) != PN_OK ||
	    pn_redis_track(e->st->redis, mailbox_id, key) != PN_OK)
		pn_warn("msg=\"cannot keep the PIN for checking\" event=%s", e->ev->event_id);
	pn_buf_free(&cipher);
}

/* ---- encryption ---- */

/*
 * encrypt_into - plaintext encrypted to pub, the ciphertext handed to the
 * event's pool (not copied: it may be 10 MB); binary OpenPGP, since only
 * the web UI reads it back
 */
static pn_err encrypt_into(prov_event *e, const ProtobufCBinaryData *pub,
    const void *plain, size_t len, ProtobufCBinaryData *out)
{
	pn_buf c = { NULL, 0 };
	pn_err err = pn_gpg_encrypt_binary(e->gpg, pub->data, pub->len, plain, len, &c);

	if (err != PN_OK)
		return err;
	out->data = c.data;
	out->len = c.len;
	pn_pool_on_destroy(e->pool, free, c.data);
	return PN_OK;
}

/* message_init - the message's fields but its body and envelope */
static void message_init(prov_event *e, Postern__V1__NewMessage *m)
{
	postern__v1__new_message__init(m);
	m->folder = POSTERN__V1__FOLDER__FOLDER_INBOX;
	m->event_id = e->ev->event_id;
	m->size = (int64_t)e->ev->mime.len;
	m->has_attachments = e->has_attachments;
	m->sender = (char *)e->sender;          /* only they may revoke it */
	m->expires_at = e->ev->expires_at;
	/* the sender asked for receipts: mailstore keeps who, while the mailbox lives */
	m->receipt_to = (char *)(e->ev->receipts ? e->sender : "");
}

/* prov_encrypt_message - body and envelope to the guest key */
pn_err prov_encrypt_message(prov_event *e, const ProtobufCBinaryData *pub,
    Postern__V1__NewMessage *m)
{
	pn_err err;

	message_init(e, m);
	if ((err = encrypt_into(e, pub, e->ev->mime.data, e->ev->mime.len, &m->body)) != PN_OK ||
	    (err = encrypt_into(e, pub, e->envelope, strlen(e->envelope), &m->envelope)) != PN_OK)
		return err;
	return PN_OK;
}

/* upload - a body on its way to mailstore in parts (prov_encrypt_upload) */
typedef struct upload {
	prov_event *e;
	Postern__V1__NewMessage *m;
	Postern__V1__AppendPart part;
	int refused;                /* mailstore did not take a part */
	const char **why_r;
} upload;

/* landed - mailstore's answer to the part in flight on lane, if one is */
static pn_err landed(upload *u, pn_client *lane)
{
	pn_err err;

	if (!pn_client_busy(lane))
		return PN_OK;
	if ((err = pn_ms_append_part_finish(lane, u->e->pool, u->why_r)) != PN_OK)
		u->refused = 1;
	return err;
}

/*
 * send_piece - one piece of the body's ciphertext as gpg writes it: the
 * whole body when the first piece is also the last (the message carries
 * it); else a part, sent on the next of the worker's lanes without
 * waiting for its answer, which is taken when that lane comes round
 * again, or after the last part. So PROV_LANES parts are in flight at
 * once while gpg writes the next.
 */
static pn_err send_piece(void *arg, const uint8_t *data, size_t len, uint32_t seq, int last)
{
	upload *u = arg;
	pn_client **lanes = u->e->st->lanes;
	pn_client *lane = lanes[seq % PROV_LANES];
	pn_err err;

	if (seq == 0 && last) {
		uint8_t *body = pn_malloc(len);
		memcpy(body, data, len);
		pn_pool_on_destroy(u->e->pool, free, body);
		u->m->body.data = body;
		u->m->body.len = len;
		return PN_OK;
	}
	if (seq == 0)
		randombytes_buf(u->part.upload.data, u->part.upload.len);
	if ((err = landed(u, lane)) != PN_OK)
		return err;
	u->part.seq = seq;
	u->part.data = (ProtobufCBinaryData){ len, (uint8_t *)data };
	if ((err = pn_ms_append_part_start(lane, u->e->pool, &u->part, u->why_r)) != PN_OK) {
		u->refused = 1;
		return err;
	}
	if (!last)
		return PN_OK;
	for (uint32_t i = 1; i <= PROV_LANES; i++)
		if ((err = landed(u, lanes[(seq + i) % PROV_LANES])) != PN_OK)
			return err;
	/* every part before the last is a whole piece */
	u->m->body_upload = u->part.upload;
	u->m->body_parts = seq + 1;
	u->m->body_len = (int64_t)seq * prov_cfg.part_bytes + (int64_t)len;
	pn_metrics_add("postern_provision_parts_sent_total",
	    "parts of large bodies sent to mailstore ahead of their Accept", (double)(seq + 1));
	return PN_OK;
}

/* prov_in_parts - does the event's mail go to mailstore in parts (prov_encrypt_upload)? */
int prov_in_parts(const prov_event *e)
{
	return e->ev->mime.len > (size_t)prov_cfg.part_bytes;
}

/*
 * prov_encrypt_upload - prov_encrypt_message for a message sent next. A
 * mail larger than a part is not encrypted whole: its ciphertext goes to
 * mailstore part by part (AppendPart, under a new upload id) while gpg is
 * still writing it, and the message names the upload instead of carrying
 * the body. So mailstore's work on parts overlaps gpg's on the next, and
 * provision holds a few pieces of the ciphertext, not all of it. A
 * ciphertext of at most a part and an eighth still goes whole in the
 * message: a second round trip for the rest costs more. *refused_r says
 * whether an error is mailstore's answer to a part (*why_r its reason)
 * rather than gpg's; either way the event is tried again whole, and the
 * parts sent so far are never claimed.
 */
pn_err prov_encrypt_upload(prov_event *e, const ProtobufCBinaryData *pub,
    Postern__V1__NewMessage *m, int *refused_r, const char **why_r)
{
	size_t size = (size_t)prov_cfg.part_bytes;
	upload u = { .e = e, .m = m, .why_r = why_r };
	pn_gpg_pieces out = { size, size + size / 8, send_piece, &u };
	pn_err err;

	*refused_r = 0;
	if (!prov_in_parts(e))
		return prov_encrypt_message(e, pub, m);
	message_init(e, m);
	postern__v1__append_part__init(&u.part);
	u.part.upload.data = pn_pool_alloc(e->pool, PROV_UPLOAD_ID_BYTES);
	u.part.upload.len = PROV_UPLOAD_ID_BYTES;
	err = pn_gpg_encrypt_pieces(e->gpg, pub->data, pub->len, e->ev->mime.data,
	    e->ev->mime.len, &out);
	for (int i = 0; i < PROV_LANES; i++)
		pn_client_abandon(e->st->lanes[i]);     /* parts of a failed upload */
	if (err != PN_OK) {
		*refused_r = u.refused;
		return err;
	}
	return encrypt_into(e, pub, e->envelope, strlen(e->envelope), &m->envelope);
}

/* let_go - pn_client_packed work: the ciphertext is in the Accept frame now */
static void let_go(void *arg)
{
	prov_event *e = arg;

	pn_pool_run_now(e->pool, free, e->let_go);
	e->let_go = NULL;
}

/*
 * send_accept - hand mailstore the Accept (a large body went ahead in
 * parts: prov_encrypt_upload). Once the Accept is packed, a body it
 * carries goes: it is then held in the frame only while ZeroMQ encrypts
 * the frame. The message's body is not to be read afterwards.
 */
static pn_err send_accept(prov_event *e, Postern__V1__Accept *a,
    Postern__V1__Accepted **acc_r, const char **why_r)
{
	if (a->message->body.len > 0) {
		e->let_go = a->message->body.data;
		pn_client_packed(e->st->bus, let_go, e);
	}
	return pn_ms_accept(e->st->bus, e->pool, a, acc_r, why_r);
}

/* accepted_outcome - what an Accept that went through means for the recipient */
static pn_err accepted_outcome(prov_event *e, const char *address,
    const Postern__V1__Accepted *acc, const prov_secret *sec, Outcome *o)
{
	prov_secret rec;
	pn_err err;

	o->fingerprint = acc->mailbox && acc->mailbox->fingerprint ?
	    pn_pool_strdup(e->pool, acc->mailbox->fingerprint) : "";
	if (!acc->created) {
		o->kind = POSTERN__V1__OUTCOME__KIND__MAILBOX_EXISTS;
		e->exists++;
		/*
		 * New mail in a mailbox someone may be reading: the web UI's
		 * cached folder pages of it stop matching. The mail is stored
		 * either way; a lost change costs at most the page cache's
		 * maximum age (docs/security.md).
		 */
		if (acc->mailbox && pn_redis_folders_changed(e->st->redis, acc->mailbox->id) != PN_OK) {
			pn_warn("msg=\"cannot mark the mailbox's folders changed\" mailbox=%lld",
			    (long long)acc->mailbox->id);
			pn_metrics_add("postern_provision_folder_version_errors_total",
			    "folder versions that could not be replaced after a stored mail", 1);
		}
		return PN_OK;
	}
	o->kind = POSTERN__V1__OUTCOME__KIND__MAILBOX_CREATED;
	e->created++;
	/* the sealed record goes with the mailbox too (it also expires by itself) */
	if (acc->mailbox && pn_redis_track(e->st->redis, acc->mailbox->id,
	    prov_record_key(e, address)) != PN_OK)
		pn_warn("msg=\"cannot list the event record with the mailbox\" event=%s",
		    e->ev->event_id);
	if (!sec) {
		/* a retry that found the mailbox this event made: the record has the PIN */
		int found = prov_record_get(e, address, &rec, &err);
		if (found < 0)
			return err;
		if (!found) {
			pn_warn("msg=\"event record gone: PIN of a created mailbox cannot be repeated\" "
			    "event=%s", e->ev->event_id);
			return PN_OK;
		}
		sec = &rec;
	}
	if (sec->pin[0]) {
		o->pin = pn_pool_strdup(e->pool, sec->pin);
		prov_pin_store(e, acc->mailbox ? acc->mailbox->id : 0, address, sec->pin);
	}
	sodium_memzero(&rec, sizeof(rec));
	return PN_OK;
}

/*
 * ms_refused - mailstore did not do it: 1 with what the caller returns in
 * *ret_r - NOTFOUND as it is (the mailbox went: the caller decides),
 * TEMP with the event's reason, anything else rejects this recipient
 * (PN_OK: the event goes on). 0 when err is PN_OK.
 */
static int ms_refused(prov_event *e, Outcome *o, pn_err err, const char *why, pn_err *ret_r)
{
	if (err == PN_OK)
		return 0;
	if (err == PN_ERR_TEMP)
		e->why = "mailstore is unavailable";
	else if (err != PN_ERR_NOTFOUND) {
		prov_reject(e, o, why);
		err = PN_OK;
	}
	*ret_r = err;
	return 1;
}

/*
 * to_existing - encrypt to mailbox mb (fetched by address when NULL) and
 * Accept without new_mailbox. PN_ERR_NOTFOUND: there is no mailbox (any
 * more); otherwise the outcome is set, or a whole-event error returned.
 */
static pn_err to_existing(prov_event *e, const char *address, const Mailbox *mb, Outcome *o)
{
	Postern__V1__Accept a = POSTERN__V1__ACCEPT__INIT;
	Postern__V1__Accepted *acc;
	Postern__V1__NewMessage m;
	Postern__V1__OutMail *mail[1];
	const char *why = NULL;
	uint8_t *data;
	size_t len;
	int pending = 0, refused;
	pn_err err;

	if (!mb) {
		Postern__V1__GetMailbox g = POSTERN__V1__GET_MAILBOX__INIT;
		Mailbox *found;
		g.address = (char *)address;
		err = pn_ms_get_mailbox(e->st->bus, e->pool, &g, &found, &why);
		if (ms_refused(e, o, err, why, &err))
			return err;
		mb = found;
	}
	if (mb->state != POSTERN__V1__MAILBOX_STATE__MAILBOX_ACTIVE) {
		/* never activated, or locked: a new link instead of a dead end */
		err = prov_reissue(e, address, mb->id, 1, o);
		if (err != PN_ERR_PERM && !(err == PN_ERR_INTERNAL && !e->why))
			return err;
		/* active meanwhile (PERM), or made before re-issue existed */
		pending = err == PN_ERR_INTERNAL;
	}
	if (!prov_early_take(e, address, &mb->public_key, &m) &&
	    (err = prov_encrypt_upload(e, &mb->public_key, &m, &refused, &why)) != PN_OK) {
		if (refused && ms_refused(e, o, err, why, &err))
			return err;
		return prov_gpg_fail(e, o, err, "encrypt to mailbox");
	}
	{
		prov_invite inv = {
			.from = prov_cfg.invite_from, .recipient = address,
			.sender_name = e->sender_name, .sender_addr = e->sender,
			.public_url = prov_cfg.public_url, .link_text = NULL,
			.pending = pending,
			.inactivity_days = prov_cfg.inactivity_days,
			/* the language the mailbox keeps, else this event's */
			.lang = mb->locale && *mb->locale ? mb->locale : e->lang,
		};
		if (!(data = prov_render_notification(&inv, &len))) {
			e->why = "cannot render the notification";
			return PN_ERR_INTERNAL;
		}
	}
	mail[0] = prov_outmail(e, address, "notify", data, len);
	a.address = (char *)address;
	a.message = &m;
	a.mail = mail;
	a.n_mail = 1;
	err = send_accept(e, &a, &acc, &why);
	if (ms_refused(e, o, err, why, &err))
		return err;
	return accepted_outcome(e, address, acc, NULL, o);
}

/*
 * to_new - create the mailbox with this event's secrets. PN_ERR_EXISTS
 * with *mb_r: another event created the mailbox first.
 */
static pn_err to_new(prov_event *e, const char *address, Outcome *o, const Mailbox **mb_r)
{
	Postern__V1__Accept a = POSTERN__V1__ACCEPT__INIT;
	Postern__V1__Accepted *acc;
	Postern__V1__Mailbox nm = POSTERN__V1__MAILBOX__INIT;
	Postern__V1__NewMessage m;
	Postern__V1__OutMail *mail[1];
	prov_secret sec;
	prov_pooled *pooled = NULL;
	char pass[PROV_PASS_TEXT], link_text[PROV_LINK_TEXT], *uid, *fpr = NULL;
	uint8_t hash[PROV_HASH_BYTES], verifier[PROV_HASH_BYTES], box[PROV_BOX_MAX], *data;
	pn_buf pub = { NULL, 0 }, seckey = { NULL, 0 };
	const char *why = NULL;
	size_t len, n;
	int refused;
	pn_err err;

	*mb_r = NULL;
	pooled = prov_pool_take(e->st->pool, e->ev->with_pin);
	if ((err = prov_record_claim(e, address, pooled ? &pooled->sec : NULL, &sec)) != PN_OK) {
		prov_pool_put_back(e->st->pool, &pooled);
		return err;
	}
	if (pooled && !sodium_memcmp(&pooled->sec, &sec, sizeof(sec))) {
		/*
		 * our record holds the pooled key's secrets: its key is this
		 * mailbox's; noted as present only if imported ahead into this
		 * very keyring, not into one renewed since
		 */
		if (pooled->imported == e->gen)
			pn_gpg_note_public(e->gpg, pooled->pub.data, pooled->pub.len,
			    pooled->fpr);
		fpr = pooled->fpr;
		pub = pooled->pub;
		seckey = pooled->seckey;
		pooled->fpr = NULL;
		pooled->pub = pooled->seckey = (pn_buf){ NULL, 0 };
	} else {
		/* no pooled key, or a retry: the record's secrets need their own key */
		prov_pool_put_back(e->st->pool, &pooled);
		pn_guest_passphrase(sec.link, sec.pin, pass);
		uid = pn_pool_printf(e->pool, "<%s>", address);
		err = pn_gpg_keygen_here(uid, pass, &fpr, &pub, &seckey);
		sodium_memzero(pass, sizeof(pass));
		if (err != PN_OK) {
			err = prov_gpg_fail(e, o, err == PN_ERR_PARAMS ? PN_ERR_INTERNAL : err, "keygen");
			goto done;
		}
	}
	nm.address = (char *)address;
	nm.state = POSTERN__V1__MAILBOX_STATE__MAILBOX_PENDING;
	nm.public_key.data = pn_pool_memdup(e->pool, pub.data, pub.len);
	nm.public_key.len = pub.len;
	nm.secret_key.data = pn_pool_memdup(e->pool, seckey.data, seckey.len);
	nm.secret_key.len = seckey.len;
	nm.fingerprint = pn_pool_strdup(e->pool, fpr);
	pn_guest_link_hash(sec.link, hash);
	nm.link_hash.data = pn_pool_memdup(e->pool, hash, sizeof(hash));
	nm.link_hash.len = sizeof(hash);
	if (sec.pin[0]) {
		pn_guest_pin_verifier(sec.link, sec.pin, verifier);
		nm.pin_verifier.data = pn_pool_memdup(e->pool, verifier, sizeof(verifier));
		nm.pin_verifier.len = sizeof(verifier);
	}
	nm.created_by = (char *)e->sender;
	nm.locale = (char *)e->lang;
	/* the passphrase, sealed for a re-issue before activation (prov_reissue.c) */
	pn_guest_passphrase(sec.link, sec.pin, pass);
	n = prov_reissue_seal(e->st->key, fpr, pass, box);
	sodium_memzero(pass, sizeof(pass));
	nm.reissue_box.data = pn_pool_memdup(e->pool, box, n);
	nm.reissue_box.len = n;
	if ((err = prov_encrypt_upload(e, &nm.public_key, &m, &refused, &why)) != PN_OK) {
		if (!refused || !ms_refused(e, o, err, why, &err))
			err = prov_gpg_fail(e, o, err, "encrypt to new key");
		goto done;
	}
	pn_b64url(link_text, sizeof(link_text), sec.link, PROV_LINK_BYTES);
	{
		prov_invite inv = {
			.from = prov_cfg.invite_from, .recipient = address,
			.sender_name = e->sender_name, .sender_addr = e->sender,
			.public_url = prov_cfg.public_url, .link_text = link_text,
			.with_pin = sec.pin[0] != '\0',
			.inactivity_days = prov_cfg.inactivity_days,
			.lang = e->lang, .note = e->ev->note,
		};
		data = prov_render_invitation(&inv, &len);
	}
	sodium_memzero(link_text, sizeof(link_text));
	if (!data) {
		e->why = "cannot render the invitation";
		err = PN_ERR_INTERNAL;
		goto done;
	}
	mail[0] = prov_outmail(e, address, "invite", data, len);
	a.address = (char *)address;
	a.new_mailbox = &nm;
	a.message = &m;
	a.mail = mail;
	a.n_mail = 1;
	err = send_accept(e, &a, &acc, &why);
	if (err == PN_ERR_EXISTS && acc && acc->mailbox) {
		*mb_r = acc->mailbox;
		goto done;
	}
	if (err == PN_ERR_TEMP) {
		e->why = "mailstore is unavailable";
		goto done;
	}
	if (err != PN_OK) {
		prov_reject(e, o, why);
		err = PN_OK;
		goto done;
	}
	err = accepted_outcome(e, address, acc, &sec, o);
done:
	sodium_memzero(&sec, sizeof(sec));
	prov_pooled_free(&pooled);
	pn_buf_free(&pub);
	pn_buf_free(&seckey);
	pn_free(&fpr);
	return err;
}

/*
 * known_mailbox - keylookup's GuestMailbox as the Mailbox to_existing
 * takes, in *mb; NULL when it gave none or one that is not whole (then
 * mailstore is asked)
 */
static const Mailbox *known_mailbox(const Postern__V1__KeyResult *r, const char *address,
    Mailbox *mb)
{
	const Postern__V1__GuestMailbox *g = r->mailbox;

	if (!g || g->id <= 0 || g->public_key.len == 0 ||
	    (g->state != POSTERN__V1__MAILBOX_STATE__MAILBOX_PENDING &&
	     g->state != POSTERN__V1__MAILBOX_STATE__MAILBOX_ACTIVE &&
	     g->state != POSTERN__V1__MAILBOX_STATE__MAILBOX_LOCKED))
		return NULL;
	postern__v1__mailbox__init(mb);
	mb->id = g->id;
	mb->address = (char *)address;
	mb->state = (Postern__V1__MailboxState)g->state;
	mb->public_key = g->public_key;
	mb->fingerprint = g->fingerprint;
	mb->locale = g->locale;
	return mb;
}

pn_err prov_deliver_mailbox(prov_event *e, const char *address,
    const Postern__V1__KeyResult *r, Outcome *o)
{
	int guest = r->kind == POSTERN__V1__KEY_RESULT__KIND__GUEST;
	Mailbox known;
	const Mailbox *told = guest ? known_mailbox(r, address, &known) : NULL;

	for (int tries = 0; tries < 4; tries++) {
		const Mailbox *mb = NULL;
		pn_err err;

		if (guest) {
			err = to_existing(e, address, told, o);
			told = NULL;                /* a second try asks mailstore */
			if (err == PN_ERR_NOTFOUND) {
				guest = 0;          /* deleted meanwhile (reaper) */
				continue;
			}
			return err;
		}
		err = to_new(e, address, o, &mb);
		if (err == PN_ERR_EXISTS)
			err = to_existing(e, address, mb, o);
		if (err == PN_ERR_NOTFOUND)
			continue;
		return err;
	}
	e->why = "the mailbox kept changing; try again";
	return PN_ERR_TEMP;
}
