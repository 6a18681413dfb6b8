/*
 * prov_send.c - SendEvent: for each recipient without a key, a temporary
 * mailbox, the mail encrypted into it, and an invitation or notification,
 * handed to mailstore in one Accept per recipient; for each recipient
 * with a key, if the event asks for it, the mail as PGP/MIME to that key;
 * and, if asked for, one notice to the sender.
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
 *      without new_mailbox.
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
#include "prov.h"

#define EVENT_ID_MAX 128

struct prov_config prov_cfg;     /* filled by main.c's table */

typedef Postern__V1__Outcome Outcome;
typedef Postern__V1__Mailbox Mailbox;

/* Everything one event's recipients share. */
typedef struct event {
	pn_ctx *ctx;
	prov_state *st;
	pn_pool *pool;
	const Postern__V1__SendEvent *ev;
	const char *sender;                 /* normalised */
	const char *sender_name;            /* from the mail's From, if it is the sender */
	const Postern__V1__KeyResult *sender_key;   /* KEY_FOUND or NULL */
	char *envelope;                     /* plaintext list-view record */
	int has_attachments;
	const char *date;                   /* the mail's Date header, for the sender notice */
	uint8_t *entity;                    /* the mail's protected body entity (PGP/MIME), once */
	size_t entity_len;
	const char *why;                    /* reason of a whole-event failure */
	pn_gpg *gpg;                        /* the keyring, held while delivering */
	unsigned long gen;                  /* its generation (prov_keyring_lock) */
	int created, exists, found, rejected, delivered;
	const char *notice;                 /* what became of the sender notice (log) */
} event;

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

/* reject - fill an outcome as REJECTED */
static void reject(event *e, Outcome *o, const char *why)
{
	o->kind = POSTERN__V1__OUTCOME__KIND__REJECTED;
	o->error = pn_pool_strdup(e->pool, why);
	e->rejected++;
}

/* ---- event records ---- */

/* record_key - "prov:ev:<hash of event and address>" */
static char *record_key(event *e, const char *address)
{
	char id[65];

	prov_record_id(e->ev->event_id, address, id);
	return pn_pool_printf(e->pool, "prov:ev:%s", id);
}

/* record_get - 1 found (sec_r set), 0 none, or -1 with the error in *err_r */
static int record_get(event *e, const char *address, prov_secret *sec_r, pn_err *err_r)
{
	char *key = record_key(e, address), id[65];
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
 * record_claim - the secrets of (event, address): the stored ones, or new
 * ones stored now - offer's (a pooled key's secrets) when given, for the
 * first try.
 */
static pn_err record_claim(event *e, const char *address, const prov_secret *offer,
    prov_secret *sec)
{
	char *key = record_key(e, address), id[65], ttl[32];
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
		found = record_get(e, address, sec, &err);
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
 * pin_store - the PIN encrypted to the sender's own key, for PinQuery.
 * Listed with the mailbox's keys, so it goes when the mailbox is deleted.
 */
static void pin_store(event *e, int64_t mailbox_id, const char *address,
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

/* encrypt_into - plaintext encrypted to pub, copied into pool */
static pn_err encrypt_into(event *e, const ProtobufCBinaryData *pub,
    const void *plain, size_t len, ProtobufCBinaryData *out)
{
	pn_buf c = { NULL, 0 };
	pn_err err = pn_gpg_encrypt(e->gpg, pub->data, pub->len, plain, len, &c);

	if (err != PN_OK)
		return err;
	out->data = pn_pool_memdup(e->pool, c.data, c.len);
	out->len = c.len;
	pn_buf_free(&c);
	return PN_OK;
}

/* encrypt_message - body and envelope to the guest key */
static pn_err encrypt_message(event *e, const ProtobufCBinaryData *pub,
    Postern__V1__NewMessage *m)
{
	pn_err err;

	postern__v1__new_message__init(m);
	m->folder = POSTERN__V1__FOLDER__FOLDER_INBOX;
	m->event_id = e->ev->event_id;
	m->size = (int64_t)e->ev->mime.len;
	m->has_attachments = e->has_attachments;
	if ((err = encrypt_into(e, pub, e->ev->mime.data, e->ev->mime.len, &m->body)) != PN_OK ||
	    (err = encrypt_into(e, pub, e->envelope, strlen(e->envelope), &m->envelope)) != PN_OK)
		return err;
	return PN_OK;
}

/* gpg_fail - map a GnuPG failure: an unusable key rejects, the rest is transient */
static pn_err gpg_fail(event *e, Outcome *o, pn_err err, const char *what)
{
	pn_warn("msg=\"gnupg failed\" what=\"%s\" event=%s status=%s", what,
	    e->ev->event_id, pn_err_str(err));
	if (err == PN_ERR_PARAMS) {
		reject(e, o, o->kind == POSTERN__V1__OUTCOME__KIND__KEY_FOUND ?
		    "the OpenPGP key of this recipient cannot be used for encryption" :
		    "the mailbox key of this recipient is not usable");
		return PN_OK;
	}
	if (err == PN_ERR_TOOLARGE) {
		reject(e, o, "the mail is too large to encrypt");
		return PN_OK;
	}
	e->why = "GnuPG failed; try again";
	return PN_ERR_TEMP;
}

/*
 * return_path - the SMTP sender of mails to recipients: the event's
 * sender (bounces reach who wrote), or as POSTERN_INVITE_RETURN_PATH says
 */
static char *return_path(event *e)
{
	return e->st->return_path ? e->st->return_path : (char *)e->sender;
}

/* outmail - one outbox mail to address; data is taken (wiped and freed) */
static Postern__V1__OutMail *outmail(event *e, const char *address,
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

/* accepted_outcome - a stored message: CREATED (with the PIN) or EXISTS */
static pn_err accepted_outcome(event *e, const char *address,
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
	    record_key(e, address)) != PN_OK)
		pn_warn("msg=\"cannot list the event record with the mailbox\" event=%s",
		    e->ev->event_id);
	if (!sec) {
		/* a retry that found the mailbox this event made: the record has the PIN */
		int found = record_get(e, address, &rec, &err);
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
		pin_store(e, acc->mailbox ? acc->mailbox->id : 0, address, sec->pin);
	}
	sodium_memzero(&rec, sizeof(rec));
	return PN_OK;
}

/*
 * to_existing - encrypt to mailbox mb (fetched by address when NULL) and
 * Accept without new_mailbox. PN_ERR_NOTFOUND: there is no mailbox (any
 * more); otherwise the outcome is set, or a whole-event error returned.
 */
static pn_err to_existing(event *e, const char *address, const Mailbox *mb, Outcome *o)
{
	Postern__V1__Accept a = POSTERN__V1__ACCEPT__INIT;
	Postern__V1__Accepted *acc;
	Postern__V1__NewMessage m;
	Postern__V1__OutMail *mail[1];
	const char *why = NULL;
	uint8_t *data;
	size_t len;
	pn_err err;

	if (!mb) {
		Postern__V1__GetMailbox g = POSTERN__V1__GET_MAILBOX__INIT;
		Mailbox *found;
		g.address = (char *)address;
		err = pn_ms_get_mailbox(e->st->bus, e->pool, &g, &found, &why);
		if (err == PN_ERR_NOTFOUND)
			return err;
		if (err == PN_ERR_TEMP) {
			e->why = "mailstore is unavailable";
			return err;
		}
		if (err != PN_OK) {
			reject(e, o, why);
			return PN_OK;
		}
		mb = found;
	}
	if ((err = encrypt_message(e, &mb->public_key, &m)) != PN_OK)
		return gpg_fail(e, o, err, "encrypt to mailbox");
	{
		prov_invite inv = {
			.from = prov_cfg.invite_from, .recipient = address,
			.sender_name = e->sender_name, .sender_addr = e->sender,
			.public_url = prov_cfg.public_url, .link_text = NULL,
			.inactivity_days = prov_cfg.inactivity_days,
		};
		if (!(data = prov_render_notification(&inv, &len))) {
			e->why = "cannot render the notification";
			return PN_ERR_INTERNAL;
		}
	}
	mail[0] = outmail(e, address, "notify", data, len);
	a.address = (char *)address;
	a.message = &m;
	a.mail = mail;
	a.n_mail = 1;
	err = pn_ms_accept(e->st->bus, e->pool, &a, &acc, &why);
	if (err == PN_ERR_NOTFOUND)
		return err;
	if (err == PN_ERR_TEMP) {
		e->why = "mailstore is unavailable";
		return err;
	}
	if (err != PN_OK) {
		reject(e, o, why);
		return PN_OK;
	}
	return accepted_outcome(e, address, acc, NULL, o);
}

/*
 * to_new - create the mailbox with this event's secrets. PN_ERR_EXISTS
 * with *mb_r: another event created the mailbox first.
 */
static pn_err to_new(event *e, const char *address, Outcome *o, const Mailbox **mb_r)
{
	Postern__V1__Accept a = POSTERN__V1__ACCEPT__INIT;
	Postern__V1__Accepted *acc;
	Postern__V1__Mailbox nm = POSTERN__V1__MAILBOX__INIT;
	Postern__V1__NewMessage m;
	Postern__V1__OutMail *mail[1];
	prov_secret sec;
	prov_pooled *pooled = NULL;
	char pass[PROV_PASS_TEXT], link_text[PROV_LINK_TEXT], *uid, *fpr = NULL;
	uint8_t hash[PROV_HASH_BYTES], verifier[PROV_HASH_BYTES], *data;
	pn_buf pub = { NULL, 0 }, seckey = { NULL, 0 };
	const char *why = NULL;
	size_t len;
	pn_err err;

	*mb_r = NULL;
	pooled = prov_pool_take(e->st->pool, e->ev->with_pin);
	if ((err = record_claim(e, address, pooled ? &pooled->sec : NULL, &sec)) != PN_OK) {
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
		err = pn_gpg_keygen(e->gpg, uid, pass, &fpr, &pub, &seckey);
		sodium_memzero(pass, sizeof(pass));
		if (err != PN_OK) {
			err = gpg_fail(e, o, err == PN_ERR_PARAMS ? PN_ERR_INTERNAL : err, "keygen");
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
	if ((err = encrypt_message(e, &nm.public_key, &m)) != PN_OK) {
		err = gpg_fail(e, o, err, "encrypt to new key");
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
		};
		data = prov_render_invitation(&inv, &len);
	}
	sodium_memzero(link_text, sizeof(link_text));
	if (!data) {
		e->why = "cannot render the invitation";
		err = PN_ERR_INTERNAL;
		goto done;
	}
	mail[0] = outmail(e, address, "invite", data, len);
	a.address = (char *)address;
	a.new_mailbox = &nm;
	a.message = &m;
	a.mail = mail;
	a.n_mail = 1;
	err = pn_ms_accept(e->st->bus, e->pool, &a, &acc, &why);
	if (err == PN_ERR_EXISTS && acc && acc->mailbox) {
		*mb_r = acc->mailbox;
		goto done;
	}
	if (err == PN_ERR_TEMP) {
		e->why = "mailstore is unavailable";
		goto done;
	}
	if (err != PN_OK) {
		reject(e, o, why);
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

/* deliver - one recipient without a key; kind is GUEST or NONE */
static pn_err deliver(event *e, const char *address, int guest, Outcome *o)
{
	for (int tries = 0; tries < 4; tries++) {
		const Mailbox *mb = NULL;
		pn_err err;

		if (guest) {
			err = to_existing(e, address, NULL, o);
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

/* ---- PGP/MIME deliveries and the sender notice ---- */

/*
 * seal - mail (entity: its protected body entity) as PGP/MIME encrypted to
 * pub, in *out_r (pn_malloc'd). PN_ERR_PARAMS: the key cannot encrypt.
 */
static pn_err seal(event *e, const ProtobufCBinaryData *pub, const void *mail, size_t len,
    const uint8_t *entity, size_t entity_len, uint8_t **out_r, size_t *len_r)
{
	pn_buf cipher = { NULL, 0 };
	const char *why = NULL;
	pn_err err;

	*out_r = NULL;
	if ((err = pn_gpg_encrypt(e->gpg, pub->data, pub->len, entity, entity_len,
	    &cipher)) != PN_OK)
		return err;
	if (!(*out_r = pn_mime_pgp_wrap(mail, len, cipher.data, cipher.len, 1, len_r, &why))) {
		pn_warn("msg=\"cannot wrap PGP/MIME\" event=%s why=\"%s\"", e->ev->event_id, why);
		err = PN_ERR_INTERNAL;
	}
	pn_buf_free(&cipher);
	return err;
}

/* queue - QueueMail{mailbox 0, m}: PN_OK, PN_ERR_TEMP (e->why set) or a refusal (*why_r) */
static pn_err queue(event *e, Postern__V1__OutMail *m, const char **why_r)
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
 * deliver_pgp - a KEY_FOUND recipient of an event with deliver_key_found:
 * the mail as PGP/MIME with protected headers, encrypted to the key that
 * keylookup found, into mailstore's outbox (once per event and address:
 * the idempotency key). A key GnuPG cannot use rejects the recipient.
 */
static pn_err deliver_pgp(event *e, const char *address, const Postern__V1__KeyResult *r,
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
		reject(e, o, "the mail cannot be made PGP/MIME");
		return PN_OK;
	}
	err = seal(e, &r->public_key, e->ev->mime.data, e->ev->mime.len, e->entity,
	    e->entity_len, &data, &len);
	if (err == PN_ERR_INTERNAL) {
		e->why = "cannot build the PGP/MIME mail";
		return err;
	}
	if (err != PN_OK)
		return gpg_fail(e, o, err, "encrypt to a recipient's key");
	err = queue(e, outmail(e, address, "pgp", data, len), &why);
	if (err == PN_ERR_TEMP)
		return err;
	if (err != PN_OK) {
		reject(e, o, why);
		return PN_OK;
	}
	o->delivered = 1;
	e->found++;
	e->delivered++;
	return PN_OK;
}

/*
 * sender_notice - one mail to the sender naming every new PIN and every
 * rejected recipient of the event (first occurrences), if there is any:
 * PGP/MIME to the sender's key when keylookup found one; without a key
 * plain text for SENDER_NOTICE_PLAIN, nothing for SENDER_NOTICE_ENCRYPTED.
 * Queued once per event (idempotency key); never logs a PIN.
 */
static pn_err sender_notice(event *e, const Postern__V1__SendResult *res, const ssize_t *first)
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
		if (o->kind == POSTERN__V1__OUTCOME__KIND__MAILBOX_CREATED && o->pin && *o->pin)
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
			.date = e->date, .lines = lines, .n = n };
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
	m = outmail(e, e->sender, "notice", data, len);
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
static pn_err key_lookup(event *e, char **addrs, size_t n,
    Postern__V1__KeyLookupResult **res_r)
{
	const char *why;
	pn_err err = pn_kl_lookup(e->st->bus, e->pool, addrs, n, 1, res_r, &why);

	if (err == PN_OK)
		return PN_OK;
	pn_warn("msg=\"key lookup failed\" event=%s status=%s error=\"%s\"",
	    e->ev->event_id, pn_err_str(err), why);
	e->why = err == PN_ERR_INTERNAL ? "key lookup answered badly" : "key lookup is unavailable";
	return err == PN_ERR_TEMP ? PN_ERR_TEMP : PN_ERR_INTERNAL;
}

/* event_free - wipe what the event kept of the plaintext */
static void event_free(event *e)
{
	pn_wipe_free(&e->envelope);
	if (e->entity) {
		pn_wipe(e->entity, e->entity_len);
		pn_free(&e->entity);
	}
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
	event e;
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
			reject(&e, o, why);
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
	if ((err = key_lookup(&e, addrs, nq + (with_sender ? 1 : 0), &kl)) != PN_OK)
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
			err = deliver_pgp(&e, norm[i], r, o);
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
			err = deliver(&e, norm[i], r->kind == POSTERN__V1__KEY_RESULT__KIND__GUEST, o);
			prov_keyring_unlock(e.st->keyring);
			e.gpg = NULL;
			if (err != PN_OK)
				goto fail;
			break;
		default:
			reject(&e, o, r->error && *r->error ? r->error : "the address is not valid");
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
	if (notice && (err = sender_notice(&e, res, first)) != PN_OK)
		goto fail;
	rep->result_case = POSTERN__V1__PROVISION_REPLY__RESULT_SEND;
	rep->send = res;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	pn_info("msg=event event=%s recipients=%zu key_found=%d delivered=%d created=%d exists=%d "
	    "rejected=%d notice=%s ms=%.1f",
	    ev->event_id, n, e.found, e.delivered, e.created, e.exists, e.rejected, e.notice,
	    (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	pn_metrics_add("postern_provision_mailboxes_created_total", "mailboxes created", e.created);
	pn_metrics_add("postern_provision_messages_stored_total", "messages stored into mailboxes",
	    e.created + e.exists);
	pn_metrics_add("postern_provision_delivered_total",
	    "mails to key-found recipients queued as PGP/MIME", e.delivered);
	event_free(&e);
	return PN_OK;
fail:
	event_free(&e);
	pn_ctx_error(ctx, "%s", e.why ? e.why : pn_err_str(err));
	return err;
}
