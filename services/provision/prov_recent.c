/*
 * prov_recent.c - the public key each recent guest mailbox had, by
 * address: what lets provision encrypt a mail while its key lookup is
 * still on the way (prov_send.c).
 *
 * It is a hint, never an answer. Whatever is encrypted to a key found
 * here is used only when the fresh lookup then names the same key, byte
 * for byte; otherwise it is thrown away and the mail is encrypted to what
 * the lookup said. A stale entry so costs one wasted encryption, never a
 * mail to the wrong key.
 *
 * A fixed table of slots, one entry per slot, chosen by SipHash of the
 * address under a key drawn at start (an address cannot be made to push
 * out another on purpose more than by chance). A new entry replaces
 * whatever was in its slot. Entries older than PROV_RECENT_MAX_AGE are
 * not used. Only public keys are kept, no larger than
 * PROV_RECENT_KEY_MAX; addresses and keys are copies owned here.
 *
 * The workers of one process (POSTERN_WORKERS) share the table, under its
 * lock: what one worker's lookup learnt serves the next mail whichever
 * worker takes it. A key leaves the table only as a copy in the caller's
 * pool.
 */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "postern/mem.h"
#include "prov.h"

typedef struct recent_entry {
	char *address;
	ProtobufCBinaryData key;
	long at;                    /* prov_recent_clock() when put */
} recent_entry;

struct prov_recent {
	pthread_mutex_t lock;
	recent_entry *slot;
	size_t n;
	unsigned char hkey[crypto_shorthash_KEYBYTES];
};

/* monotonic_s - CLOCK_MONOTONIC in seconds */
static long monotonic_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec;
}

long (*prov_recent_clock)(void) = monotonic_s;

prov_recent *prov_recent_new(long slots)
{
	prov_recent *r;

	if (slots <= 0)
		return NULL;
	r = pn_calloc(1, sizeof(*r));
	r->n = (size_t)slots;
	r->slot = pn_calloc(r->n, sizeof(*r->slot));
	crypto_shorthash_keygen(r->hkey);
	pthread_mutex_init(&r->lock, NULL);
	return r;
}

/* entry_clear - free an entry's copies */
static void entry_clear(recent_entry *e)
{
	pn_free(&e->address);
	pn_free(&e->key.data);
	e->key.len = 0;
	e->at = 0;
}

void prov_recent_free(prov_recent **recent)
{
	prov_recent *r = *recent;

	if (!r)
		return;
	*recent = NULL;
	for (size_t i = 0; i < r->n; i++)
		entry_clear(&r->slot[i]);
	pn_free(&r->slot);
	sodium_memzero(r->hkey, sizeof(r->hkey));
	pthread_mutex_destroy(&r->lock);
	pn_free(&r);
}

/* slot_of - the one slot address may live in */
static recent_entry *slot_of(prov_recent *r, const char *address)
{
	unsigned char h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, (const unsigned char *)address, strlen(address), r->hkey);
	memcpy(&v, h, sizeof(v));
	return &r->slot[v % r->n];
}

void prov_recent_put(prov_recent *r, const char *address, const ProtobufCBinaryData *key)
{
	recent_entry *e;

	if (!r || !address || !*address || !key || key->len == 0 ||
	    key->len > PROV_RECENT_KEY_MAX)
		return;
	pthread_mutex_lock(&r->lock);
	e = slot_of(r, address);
	if (e->address && !strcmp(e->address, address) && prov_recent_same(&e->key, key)) {
		e->at = prov_recent_clock();
	} else {
		entry_clear(e);
		e->address = pn_strdup(address);
		e->key.data = pn_memdup(key->data, key->len);
		e->key.len = key->len;
		e->at = prov_recent_clock();
	}
	pthread_mutex_unlock(&r->lock);
}

void prov_recent_forget(prov_recent *r, const char *address)
{
	recent_entry *e;

	if (!r || !address)
		return;
	pthread_mutex_lock(&r->lock);
	e = slot_of(r, address);
	if (e->address && !strcmp(e->address, address))
		entry_clear(e);
	pthread_mutex_unlock(&r->lock);
}

const ProtobufCBinaryData *prov_recent_get(prov_recent *r, const char *address,
    pn_pool *pool)
{
	ProtobufCBinaryData *copy = NULL;
	recent_entry *e;

	if (!r || !address || !pool)
		return NULL;
	pthread_mutex_lock(&r->lock);
	e = slot_of(r, address);
	if (e->address && !strcmp(e->address, address)) {
		if (prov_recent_clock() - e->at >= PROV_RECENT_MAX_AGE) {
			entry_clear(e);
		} else {
			copy = pn_pool_alloc(pool, sizeof(*copy));
			copy->data = pn_pool_memdup(pool, e->key.data, e->key.len);
			copy->len = e->key.len;
		}
	}
	pthread_mutex_unlock(&r->lock);
	return copy;
}

int prov_recent_same(const ProtobufCBinaryData *a, const ProtobufCBinaryData *b)
{
	return a && b && a->len > 0 && a->len == b->len && !memcmp(a->data, b->data, a->len);
}
