/*
 * prov_early.c - the mail encrypted while its key lookup is on the way.
 *
 * A send event waits for keylookup's fresh answer before it knows where
 * each recipient's mail goes (prov_send.c, step 3). For a recipient whose
 * mailbox was seen recently, the answer is nearly always the same key as
 * last time. So while the lookup travels, the mail is encrypted to that
 * key (prov_recent.c) - GnuPG works while keylookup and mailstore do -
 * and when the answer comes, to_existing (prov_mailbox.c) uses that
 * ciphertext only if the answer names the very same key, byte for byte.
 * Any other answer (another key, a re-created mailbox, a key of the
 * recipient's own, none) and the early ciphertext is dropped unused; the
 * mail is encrypted to what the lookup said, as without this file.
 *
 * Nothing is decided early: the lookup still decides everything, and
 * nothing early is stored or sent unless it matches. What is encrypted
 * early is the same as what would be encrypted after (same plaintext,
 * same envelope, same key), so a hit changes when the work is done, not
 * what is done. Only mails up to PROV_EARLY_MAX_BYTES: beyond that the
 * lookup is a small part of the event, and a miss would waste a large
 * encryption.
 *
 * After each lookup, prov_early_learn keeps what it said for the next
 * mail: an active guest mailbox's key is put, anything else forgets the
 * address.
 */
#include <string.h>

#include "postern/log.h"
#include "postern/metrics.h"
#include "prov.h"

/* early encryption only for mails up to this size */
#define PROV_EARLY_MAX_BYTES (1024 * 1024)

/* wasted - count early encryptions the lookup did not confirm */
static void wasted(size_t n)
{
	pn_metrics_add("postern_provision_early_wasted_total",
	    "early encryptions dropped: the lookup named another key, or none", (double)n);
}

void prov_early_plan(prov_event *e, char *const *addrs, size_t n)
{
	e->early = NULL;
	e->n_early = 0;
	/* nor for one that goes in parts: those go as gpg writes them, after the lookup */
	if (!e->st->recent || n == 0 || e->ev->mime.len > PROV_EARLY_MAX_BYTES || prov_in_parts(e))
		return;
	e->early = pn_pool_alloc(e->pool, n * sizeof(*e->early));
	for (size_t i = 0; i < n; i++) {
		memset(&e->early[i], 0, sizeof(e->early[i]));
		e->early[i].address = addrs[i];
	}
	e->n_early = n;
}

void prov_early_encrypt(void *arg)
{
	prov_event *e = arg;
	size_t done = 0;

	for (size_t i = 0; i < e->n_early; i++) {
		prov_early *x = &e->early[i];
		/* a copy: prov_early_learn replaces the table's entry before it is compared */
		const ProtobufCBinaryData *key = prov_recent_get(e->st->recent, x->address,
		    e->pool);

		if (!key)
			continue;
		x->key = *key;
		if (!e->gpg && !(e->gpg = prov_keyring_lock(e->st->keyring, &e->gen)))
			return;         /* GnuPG unusable: the event finds out after the lookup */
		if (prov_encrypt_message(e, &x->key, &x->m) != PN_OK) {
			memset(&x->m, 0, sizeof(x->m));
			x->key.len = 0;
			continue;
		}
		done++;
	}
	if (e->gpg) {
		prov_keyring_unlock(e->st->keyring);
		e->gpg = NULL;
	}
	if (done)
		pn_metrics_add("postern_provision_early_encrypted_total",
		    "mails encrypted to a recent mailbox key while the key lookup ran", (double)done);
}

int prov_early_take(prov_event *e, const char *address, const ProtobufCBinaryData *key,
    Postern__V1__NewMessage *m)
{
	for (size_t i = 0; i < e->n_early; i++) {
		prov_early *x = &e->early[i];

		if (!x->address || strcmp(x->address, address) != 0)
			continue;
		if (x->m.body.len == 0 || !prov_recent_same(&x->key, key)) {
			if (x->m.body.len > 0)
				wasted(1);
			x->address = NULL;
			return 0;
		}
		*m = x->m;
		x->address = NULL;      /* used up: a second try encrypts anew */
		pn_metrics_add("postern_provision_early_used_total",
		    "early encryptions the lookup confirmed", 1);
		return 1;
	}
	return 0;
}

void prov_early_learn(prov_event *e, char *const *addrs, size_t n,
    const Postern__V1__KeyLookupResult *kl)
{
	if (!e->st->recent)
		return;
	for (size_t i = 0; i < n && i < kl->n_results; i++) {
		const Postern__V1__KeyResult *r = kl->results[i];
		const Postern__V1__GuestMailbox *g = r->mailbox;

		if (r->kind == POSTERN__V1__KEY_RESULT__KIND__GUEST && g && g->id > 0 &&
		    g->state == POSTERN__V1__MAILBOX_STATE__MAILBOX_ACTIVE && g->public_key.len > 0)
			prov_recent_put(e->st->recent, addrs[i], &g->public_key);
		else
			prov_recent_forget(e->st->recent, addrs[i]);
	}
}

void prov_early_drop(prov_event *e)
{
	size_t n = 0;

	for (size_t i = 0; i < e->n_early; i++)
		if (e->early[i].address && e->early[i].m.body.len > 0)
			n++;
	if (n)
		wasted(n);
	e->early = NULL;
	e->n_early = 0;
}
