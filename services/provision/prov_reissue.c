/*
 * prov_reissue.c - a mailbox that was never activated, or is locked, is
 * re-issued instead of being a dead end: when mail arrives for it (the
 * send path, prov_mailbox.c) or when one of its senders or an operator
 * asks (posternctl reissue, prov_ctl.c).
 *
 * What a re-issue does, in one mailstore Reissue (one transaction):
 *   - a new link secret L' and, when the event asks for one, a new PIN P'
 *     - the event's record (prov_record_claim), so a retry of the event
 *     gets the same ones;
 *   - the guest key re-protected from its old passphrase to
 *     passphrase(L', P'). The old passphrase comes from the mailbox's
 *     reissue box: sealed at creation under a key derived from the server
 *     key (POSTERN_PROVISION_KEY) and the key's fingerprint, and cleared at
 *     activation, so only provision can open it, and only before the
 *     recipient chose a password (docs/security.md);
 *   - new link hash and PIN verifier, state back to pending (a LOCKED
 *     mailbox opens again, with fresh PIN counters: they are per link
 *     hash), the event's mail stored, the invitation mailed again;
 *   - last_activity renewed only for the first POSTERN_PROVISION_REISSUE_
 *     RENEW_MAX re-issues, so a mailbox nobody opens is still reaped.
 * The outcome is MAILBOX_REISSUED with the new PIN (kept for PinQuery
 * like a new mailbox's; the other senders' copies of the old PIN go). Another re-issue committed in between makes
 * mailstore answer EXISTS: it starts over on the current row, so the
 * newest invitation is the one that works. An ACTIVE mailbox is never
 * re-issued (mailstore refuses: PERM).
 */
#include <string.h>

#include <sodium.h>

#include "postern/guest.h"
#include "postern/calls.h"
#include "postern/log.h"
#include "postern/metrics.h"
#include "prov.h"

typedef Postern__V1__Outcome Outcome;
typedef Postern__V1__Mailbox Mailbox;

/* The new secrets of one re-issue, derived from the event's record. */
typedef struct fresh {
	uint8_t hash[PROV_HASH_BYTES];
	uint8_t verifier[PROV_HASH_BYTES];
	uint8_t box[PROV_BOX_MAX];
	size_t boxlen;
	char pass[PROV_PASS_TEXT];
	char link_text[PROV_LINK_TEXT];
} fresh;

/* fresh_make - everything stored or mailed that comes from sec, for key fpr */
static void fresh_make(prov_event *e, const prov_secret *sec, const char *fpr, fresh *f)
{
	pn_guest_link_hash(sec->link, f->hash);
	if (sec->pin[0])
		pn_guest_pin_verifier(sec->link, sec->pin, f->verifier);
	pn_guest_passphrase(sec->link, sec->pin, f->pass);
	f->boxlen = prov_reissue_seal(e->st->key, fpr, f->pass, f->box);
	pn_b64url(f->link_text, sizeof(f->link_text), sec->link, PROV_LINK_BYTES);
}

/* invitation - the invitation again, with the new link */
static Postern__V1__OutMail *invitation(prov_event *e, const Mailbox *mb,
    const char *address, const prov_secret *sec, const fresh *f)
{
	prov_invite inv = {
		.from = prov_cfg.invite_from, .recipient = address,
		.sender_name = e->sender_name, .sender_addr = e->sender,
		.public_url = prov_cfg.public_url, .link_text = f->link_text,
		.with_pin = sec->pin[0] != '\0', .reissued = 1,
		.inactivity_days = prov_cfg.inactivity_days,
		/* the language the mailbox keeps, else this event's */
		.lang = mb->locale && *mb->locale ? mb->locale : e->lang,
	};
	size_t len;
	uint8_t *data = prov_render_invitation(&inv, &len);

	return data ? prov_outmail(e, address, "reinvite", data, len) : NULL;
}

/*
 * forget_pins - the PIN copies other senders keep for "check assigned PIN"
 * are stale once the mailbox has a new PIN (or none): they go
 */
static void forget_pins(prov_event *e, const char *address, const Mailbox *mb)
{
	for (size_t i = 0; i <= mb->n_senders; i++) {
		const char *s = i < mb->n_senders ? mb->senders[i] : mb->created_by;

		if (s && *s && pn_redis_cmdv(e->st->redis, NULL, "DEL",
		    prov_pin_key(s, address, e->pool), (char *)NULL) != PN_OK)
			pn_warn("msg=\"cannot drop a stale PIN copy\" mailbox=%lld", (long long)mb->id);
	}
}

/*
 * outcome - what the event did to the mailbox, told as the first time: a
 * retry (duplicate) of the event that created it is CREATED, of one that
 * re-issued it (its record existed before this attempt: only creation and
 * re-issue make one) REISSUED with that PIN, even if a later re-issue has
 * replaced it since; anything else was a plain delivery, EXISTS
 */
static void outcome(prov_event *e, const char *address, const Postern__V1__Reissued *r,
    const prov_secret *sec, int had_record, Outcome *o)
{
	o->fingerprint = pn_pool_strdup(e->pool, r->mailbox->fingerprint);
	if (r->duplicate && !r->created && !had_record) {
		o->kind = POSTERN__V1__OUTCOME__KIND__MAILBOX_EXISTS;
		e->exists++;
		return;
	}
	if (r->duplicate && r->created) {
		o->kind = POSTERN__V1__OUTCOME__KIND__MAILBOX_CREATED;
		e->created++;
	} else {
		o->kind = POSTERN__V1__OUTCOME__KIND__MAILBOX_REISSUED;
		e->reissued++;
		if (!r->duplicate)
			forget_pins(e, address, r->mailbox);
	}
	if (pn_redis_track(e->st->redis, r->mailbox->id, prov_record_key(e, address)) != PN_OK)
		pn_warn("msg=\"cannot list the event record with the mailbox\" event=%s",
		    e->ev->event_id);
	if (sec->pin[0]) {
		o->pin = pn_pool_strdup(e->pool, sec->pin);
		prov_pin_store(e, r->mailbox->id, address, sec->pin);
	}
}

/* old_passphrase - the passphrase the key is protected with now, from its box */
static int old_passphrase(prov_event *e, const Mailbox *mb, char pass[PROV_PASS_TEXT])
{
	if (mb->reissue_box.len == 0 || !mb->fingerprint)
		return -1;
	if (prov_reissue_open(e->st->key, mb->fingerprint, mb->reissue_box.data,
	    mb->reissue_box.len, pass) < 0) {
		pn_warn("msg=\"reissue box does not open (other POSTERN_PROVISION_KEY?)\" "
		    "mailbox=%lld", (long long)mb->id);
		return -1;
	}
	return 0;
}

/* reissue_once - one attempt on the current row; EXISTS: someone else was first */
static pn_err reissue_once(prov_event *e, const char *address, int64_t id,
    const prov_secret *sec, int had_record, int with_message, Outcome *o)
{
	Postern__V1__GetMailbox g = POSTERN__V1__GET_MAILBOX__INIT;
	Postern__V1__Reissue r = POSTERN__V1__REISSUE__INIT;
	Postern__V1__Reissued *done = NULL;
	Postern__V1__NewMessage m;
	Postern__V1__OutMail *mail[1];
	Mailbox *mb;
	char old[PROV_PASS_TEXT];
	pn_buf seckey = { NULL, 0 };
	const char *why = NULL;
	fresh f;
	pn_err err;

	memset(&f, 0, sizeof(f));
	g.id = id;
	if ((err = pn_ms_get_mailbox(e->st->bus, e->pool, &g, &mb, &why)) != PN_OK) {
		if (err == PN_ERR_TEMP)
			e->why = "mailstore is unavailable";
		return err == PN_ERR_TEMP || err == PN_ERR_NOTFOUND ? err : PN_ERR_INTERNAL;
	}
	if (mb->state == POSTERN__V1__MAILBOX_STATE__MAILBOX_ACTIVE)
		return PN_ERR_PERM;
	if (old_passphrase(e, mb, old) < 0)
		return PN_ERR_INTERNAL;
	fresh_make(e, sec, mb->fingerprint, &f);
	err = pn_gpg_passwd(e->gpg, mb->secret_key.data, mb->secret_key.len, old, f.pass, &seckey);
	sodium_memzero(old, sizeof(old));
	if (err == PN_ERR_PERM) {
		pn_warn("msg=\"the reissue box does not unlock the key\" mailbox=%lld", (long long)id);
		err = PN_ERR_INTERNAL;      /* cannot re-issue: the caller delivers as usual */
		goto done;
	}
	if (err != PN_OK) {
		err = prov_gpg_fail(e, o, err, "reissue passwd");
		goto done;
	}
	r.mailbox_id = id;
	r.expected_link_hash = mb->link_hash;
	r.link_hash = (ProtobufCBinaryData){ PROV_HASH_BYTES, f.hash };
	if (sec->pin[0])
		r.pin_verifier = (ProtobufCBinaryData){ PROV_HASH_BYTES, f.verifier };
	r.secret_key = (ProtobufCBinaryData){ seckey.len, seckey.data };
	r.reissue_box = (ProtobufCBinaryData){ f.boxlen, f.box };
	r.sender = (char *)e->sender;
	r.request_id = e->ev->event_id;
	r.restart_limit = (int32_t)prov_cfg.reissue_renew_max;
	if (!(mail[0] = invitation(e, mb, address, sec, &f))) {
		e->why = "cannot render the invitation";
		err = PN_ERR_INTERNAL;
		goto done;
	}
	r.mail = mail;
	r.n_mail = 1;
	/* a large mail goes ahead in parts, as for Accept */
	if (with_message) {
		int refused;
		if ((err = prov_encrypt_upload(e, &mb->public_key, &m, &refused, &why)) != PN_OK &&
		    !refused) {
			err = prov_gpg_fail(e, o, err, "encrypt to mailbox");
			goto done;
		}
		r.message = &m;
	}
	if (err == PN_OK)
		err = pn_ms_reissue(e->st->bus, e->pool, &r, &done, &why);
	if (err == PN_OK)
		outcome(e, address, done, sec, had_record, o);
	else if (err == PN_ERR_TEMP)
		e->why = "mailstore is unavailable";
	else if (err != PN_ERR_EXISTS && err != PN_ERR_PERM && err != PN_ERR_NOTFOUND) {
		prov_reject(e, o, why);
		err = PN_OK;
	}
done:
	if (r.mail)
		pn_wipe(mail[0]->data.data, mail[0]->data.len);
	sodium_memzero(&f, sizeof(f));
	pn_buf_free(&seckey);
	return err;
}

/* prov_reissue - the event's record, then attempts until one wins */
pn_err prov_reissue(prov_event *e, const char *address, int64_t id, int with_message,
    Outcome *o)
{
	prov_secret sec;
	int had_record;
	pn_err err;

	if ((had_record = prov_record_get(e, address, &sec, &err)) < 0)
		return err;
	if ((err = prov_record_claim(e, address, NULL, &sec)) != PN_OK)
		return err;
	for (int tries = 0; tries < 4; tries++) {
		err = reissue_once(e, address, id, &sec, had_record, with_message, o);
		if (err != PN_ERR_EXISTS)
			break;
	}
	sodium_memzero(&sec, sizeof(sec));
	if (err == PN_ERR_EXISTS) {
		e->why = "the mailbox kept changing; try again";
		err = PN_ERR_TEMP;
	}
	if (err == PN_OK && o->kind == POSTERN__V1__OUTCOME__KIND__MAILBOX_REISSUED)
		pn_metrics_add("postern_provision_mailboxes_reissued_total",
		    "mailboxes re-issued (new link and PIN)", 1);
	return err;
}
