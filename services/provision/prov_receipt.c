/*
 * prov_receipt.c - the sender's receipts, made into mails.
 *
 * A send event with receipts (SendEvent.receipts) stores its message with
 * the sender as receipt_to (prov_encrypt_message); from then on mailstore
 * writes one pending receipt per (mailbox, event, milestone) in the
 * transaction of the milestone itself - invitation delivered, mailbox
 * opened, message read, reply sent, mailbox locked, message expired or
 * revoked, mailbox deleted. Only provision can encrypt (GnuPG, and
 * keylookup for the sender's key), so its background thread turns them
 * into mails, once a second:
 *
 *   1. ClaimReceipts: a batch leased to this replica (other replicas skip
 *      it; a replica killed mid-batch leaves a lease that runs out, and
 *      the batch is taken again);
 *   2. per receipt one KeyLookup of the sender; with a key the receipt is
 *      PGP/MIME encrypted to it (protected headers: the outer subject is
 *      "..."), naming the recipient, the milestone, its time and the event
 *      id; without one, POSTERN_PROVISION_RECEIPTS_WITHOUT_KEY: "none"
 *      sends nothing, "plain" a plain mail naming only the recipient and
 *      the milestone (and its time);
 *   3. CompleteReceipt: the mail into the outbox (idempotency key
 *      receipt/<id>) and the receipt marked done in one transaction, its
 *      sender and recipient wiped from the row.
 *
 * Exactly once: the receipt row is unique per milestone, the outbox row
 * unique per receipt, and a receipt done already queues nothing, so a
 * retried event, a repeated milestone, a killed replica or two replicas
 * at once never make a second mail. Anything transient (keylookup,
 * mailstore, GnuPG) leaves the receipt pending for a later pass. Logs
 * name receipt ids and milestones, never an address.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postern/calls.h"
#include "postern/log.h"
#include "postern/metrics.h"
#include "postern/mime.h"
#include "prov.h"

#define RECEIPT_LEASE_S 120

/* count - one receipt's fate in /metrics */
static void count(const char *result)
{
	char name[96];

	snprintf(name, sizeof(name), "postern_provision_receipts_total{result=\"%s\"}", result);
	pn_metrics_add(name, "receipts done, by how they went to the sender "
	    "(encrypted, plain, withheld)", 1);
}

/* sender_key - the sender's key (KEY_FOUND), NULL without one; PN_ERR_TEMP when keylookup did not answer */
static pn_err sender_key(pn_client *bus, pn_pool *pool, const char *sender,
    const Postern__V1__KeyResult **key_r)
{
	Postern__V1__KeyLookupResult *res = NULL;
	char *addrs[1] = { (char *)sender };
	const char *why = NULL;
	pn_err err;

	*key_r = NULL;
	if ((err = pn_kl_lookup(bus, pool, addrs, 1, 0, &res, &why)) != PN_OK)
		return err == PN_ERR_TEMP ? PN_ERR_TEMP : PN_OK;
	if (res->n_results == 1 && res->results[0]->kind == POSTERN__V1__KEY_RESULT__KIND__KEY_FOUND &&
	    res->results[0]->public_key.len > 0)
		*key_r = res->results[0];
	return PN_OK;
}

/*
 * encrypt - data (a rendered receipt) as PGP/MIME to key, replacing it;
 * PN_ERR_PARAMS when the key cannot encrypt, PN_ERR_TEMP otherwise
 */
static pn_err encrypt(prov_state *st, const Postern__V1__KeyResult *key, uint8_t **data,
    size_t *len)
{
	const char *why = NULL;
	size_t elen = 0, slen = 0;
	uint8_t *entity = pn_mime_pgp_entity(*data, *len, 1, &elen, &why), *sealed = NULL;
	pn_gpg *gpg;
	pn_err err = PN_ERR_TEMP;

	if (!entity)
		return PN_ERR_TEMP;
	if ((gpg = prov_keyring_lock(st->keyring, NULL))) {
		err = prov_pgp_seal(gpg, &key->public_key, *data, *len, entity, elen, &sealed, &slen,
		    &why);
		prov_keyring_unlock(st->keyring);
	}
	pn_wipe(entity, elen);
	free(entity);
	if (err != PN_OK)
		return err == PN_ERR_PARAMS ? PN_ERR_PARAMS : PN_ERR_TEMP;
	pn_wipe(*data, *len);
	free(*data);
	*data = sealed;
	*len = slen;
	return PN_OK;
}

/* complete - CompleteReceipt with the mail (data taken) or without (withheld) */
static pn_err complete(prov_state *st, pn_client *bus, pn_pool *pool,
    const Postern__V1__Receipt *r, uint8_t *data, size_t len)
{
	Postern__V1__CompleteReceipt c = POSTERN__V1__COMPLETE_RECEIPT__INIT;
	Postern__V1__OutMail m = POSTERN__V1__OUT_MAIL__INIT;
	char *to[1] = { r->sender };
	const char *why = NULL;
	pn_err err;

	c.id = r->id;
	if (data) {
		m.idem_key = pn_pool_printf(pool, "receipt/%lld", (long long)r->id);
		m.mail_from = st->invite_addr;
		m.rcpt_to = to;
		m.n_rcpt_to = 1;
		m.data.data = data;
		m.data.len = len;
		c.mail = &m;
	}
	err = pn_ms_complete_receipt(bus, pool, &c, &why);
	if (data) {
		pn_wipe(data, len);
		free(data);
	}
	return err;
}

/* one - a claimed receipt to its mail (or none) and done; PN_ERR_TEMP leaves it pending */
static pn_err one(prov_state *st, pn_client *bus, pn_pool *pool, const Postern__V1__Receipt *r)
{
	const Postern__V1__KeyResult *key = NULL;
	prov_receipt_mail rm = { .from = prov_cfg.invite_from, .sender = r->sender,
		.recipient = r->recipient, .milestone = r->milestone, .at = r->at,
		.lang = r->locale };
	uint8_t *data = NULL;
	size_t len = 0;
	const char *result;
	pn_err err;

	if (!r->sender || !*r->sender || !r->recipient || !*r->recipient)
		return complete(st, bus, pool, r, NULL, 0);
	if ((err = sender_key(bus, pool, r->sender, &key)) != PN_OK)
		return err;
	rm.event = key ? r->event_id : NULL;
	if (!key && strcmp(prov_cfg.receipts_without_key, "plain") != 0) {
		result = "withheld";
	} else if (!(data = prov_render_receipt(&rm, &len))) {
		pn_warn("msg=\"receipt cannot be rendered\" id=%lld milestone=%s", (long long)r->id,
		    r->milestone);
		result = "withheld";
	} else if (key && (err = encrypt(st, key, &data, &len)) != PN_OK) {
		pn_wipe(data, len);
		free(data);
		if (err == PN_ERR_TEMP)
			return err;
		/* the sender's key cannot encrypt: as if there were none */
		pn_warn("msg=\"the sender's key cannot encrypt a receipt\" id=%lld", (long long)r->id);
		data = NULL;
		rm.event = NULL;
		if (!strcmp(prov_cfg.receipts_without_key, "plain") &&
		    (data = prov_render_receipt(&rm, &len)))
			result = "plain";
		else
			result = "withheld";
	} else {
		result = key ? "encrypted" : "plain";
	}
	if ((err = complete(st, bus, pool, r, data, len)) != PN_OK)
		return err;
	count(result);
	pn_info("msg=\"receipt\" id=%lld milestone=%s result=%s", (long long)r->id, r->milestone,
	    result);
	return PN_OK;
}

/*
 * prov_receipts_pass - claim a batch of pending receipts and finish each;
 * the number claimed (a full batch: call again at once), -1 when
 * mailstore could not be asked
 */
int prov_receipts_pass(prov_state *st, pn_client *bus)
{
	Postern__V1__ClaimReceipts c = POSTERN__V1__CLAIM_RECEIPTS__INIT;
	Postern__V1__ReceiptList *list = NULL;
	pn_pool *pool = pn_pool_new();
	const char *why = NULL;
	int n;

	c.take = PROV_RECEIPTS_BATCH;
	c.lease_seconds = RECEIPT_LEASE_S;
	if (pn_ms_claim_receipts(bus, pool, &c, &list, &why) != PN_OK) {
		pn_pool_destroy(&pool);
		return -1;
	}
	n = (int)list->n_receipts;
	for (int i = 0; i < n; i++) {
		pn_err err = one(st, bus, pool, list->receipts[i]);
		if (err != PN_OK)
			pn_warn("msg=\"receipt left for later\" id=%lld status=%s",
			    (long long)list->receipts[i]->id, pn_err_str(err));
	}
	pn_pool_destroy(&pool);
	return n;
}
