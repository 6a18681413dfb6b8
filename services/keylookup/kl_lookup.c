/*
 * kl_lookup.c - one KeyLookup batch: normalise, then cache, keyring,
 * mailstore, discovery, in that order, each asked once per batch for what
 * is still open.
 *
 * Every address gets exactly one result in the order given. An address
 * that does not parse gets INVALID with the reason and does not disturb
 * the rest. Duplicates (after normalisation) are looked up once. The
 * cache is read with one MGET per chunk, the keyring is scanned once per
 * chunk (one gpg process, not one per address), and mailstore is asked
 * only for addresses neither cache nor keyring could answer.
 *
 * What the cache holds is the packed KeyResult the sources produced, under
 * "kl:<normalised address>", with a TTL per kind. A cached answer comes
 * back with its source prefixed "cache:". A cache that cannot be reached
 * is only a slower lookup; a keyring or mailstore that cannot be reached
 * fails the batch, because answering NONE would make provision create a
 * mailbox for someone who has a key.
 *
 * A mailbox whose recipient has a key of their own (uploaded in the web
 * UI, or found by discovery before) answers KEY_FOUND with that key and
 * its source ("recipient", "wkd", "vks"). What is still GUEST or NONE
 * then goes to discovery (WKD, VKS), when it is on. Its answers are kept
 * under "kld:<address>" with TTLs of their own - a key found, no key, or
 * a failure (short) - and read even for a fresh lookup: fresh is about
 * Postern's own state, and asking the internet for every send event would
 * make every mail wait for it. A failure is only a NONE (or GUEST) for a
 * while, never an error. A key found for an address that has a mailbox
 * graduates it: the key is stored with the mailbox and the recipient told
 * once (sources.graduate); from then on the mailbox itself answers.
 */
#include <stdlib.h>
#include <string.h>

#include "postern/addr.h"
#include "postern/log.h"
#include "postern/pb.h"
#include "postern/text.h"
#include "kl.h"

#define KL_MAX_CACHED 1048576       /* bytes of one cached value */

/* An address of the batch, for sorting out duplicates. */
typedef struct slot {
	const char *addr;            /* normalised */
	size_t index;                /* position in the request */
} slot;

/* cmp_slot - order by address, then by position */
static int cmp_slot(const void *a, const void *b)
{
	const slot *x = a, *y = b;
	int c = strcmp(x->addr, y->addr);
	if (c)
		return c;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* kl_printable - s as valid UTF-8 without controls, at most max bytes */
char *kl_printable(const char *s, size_t max, pn_pool *pool)
{
	size_t n = strlen(s), o = 0;
	char *out = pn_pool_alloc(pool, (n < max ? n : max) + 1);

	for (size_t i = 0; i < n;) {
		const unsigned char *p = (const unsigned char *)s + i;
		unsigned cp;
		size_t len = pn_utf8_next(p, n - i, &cp);
		if (len == 0 || (len == 1 && (*p < 0x20 || *p == 0x7f))) {
			if (o + 1 > max)
				break;
			out[o++] = '?';
			i += len ? len : 1;
			continue;
		}
		if (o + len > max)
			break;
		memcpy(out + o, p, len);
		o += len;
		i += len;
	}
	out[o] = '\0';
	return out;
}

/* new_result - an empty KeyResult in pool */
static Postern__V1__KeyResult *new_result(pn_pool *pool)
{
	return (Postern__V1__KeyResult *)pn_pb_new(&postern__v1__key_result__descriptor, pool);
}

/* kl_cache_encode - a result packed for the cache */
uint8_t *kl_cache_encode(const Postern__V1__KeyResult *res, size_t *len_r,
    pn_pool *pool)
{
	size_t len = protobuf_c_message_get_packed_size(&res->base);
	uint8_t *buf = pn_pool_alloc(pool, len ? len : 1);

	*len_r = protobuf_c_message_pack(&res->base, buf);
	return buf;
}

/* kl_cache_decode - a cached value as a result for address, or NULL */
Postern__V1__KeyResult *kl_cache_decode(const uint8_t *val, size_t len,
    const char *address, pn_pool *pool)
{
	Postern__V1__KeyResult *r;

	if (!val || len == 0 || len > KL_MAX_CACHED)
		return NULL;
	r = (Postern__V1__KeyResult *)pn_pb_unpack(&postern__v1__key_result__descriptor,
	    val, len, KL_MAX_CACHED, pool);
	if (!r || !r->address || strcmp(r->address, address))
		return NULL;
	switch (r->kind) {
	case POSTERN__V1__KEY_RESULT__KIND__KEY_FOUND:
		if (!r->fingerprint || !*r->fingerprint || r->public_key.len == 0)
			return NULL;
		break;
	case POSTERN__V1__KEY_RESULT__KIND__GUEST:
	case POSTERN__V1__KEY_RESULT__KIND__NONE:
		break;
	default:
		return NULL;
	}
	r->source = pn_pool_printf(pool, "cache:%s", r->source ? r->source : "");
	r->error = (char *)protobuf_c_empty_string;
	return r;
}

/* cache_key - "kl:<address>" in pool */
static char *cache_key(const char *addr, pn_pool *pool)
{
	return pn_pool_printf(pool, KL_CACHE_PREFIX "%s", addr);
}

/* remember - put a fresh result into the cache with its kind's TTL */
static void remember(const kl_sources *src, const kl_limits *lim,
    const Postern__V1__KeyResult *r, pn_pool *pool)
{
	long ttl;
	size_t len;

	if (!src->cache_put)
		return;
	switch (r->kind) {
	case POSTERN__V1__KEY_RESULT__KIND__KEY_FOUND: ttl = lim->ttl_found; break;
	case POSTERN__V1__KEY_RESULT__KIND__GUEST: ttl = lim->ttl_guest; break;
	case POSTERN__V1__KEY_RESULT__KIND__NONE: ttl = lim->ttl_none; break;
	default: return;
	}
	if (ttl <= 0)
		return;
	uint8_t *val = kl_cache_encode(r, &len, pool);
	if (len > KL_MAX_CACHED)
		return;
	src->cache_put(src->arg, cache_key(r->address, pool), val, len, ttl);
}

/* from_cache - fill ures[] from the cache where it has an answer */
static void from_cache(const kl_sources *src, const char **uaddr, size_t u,
    Postern__V1__KeyResult **ures, pn_pool *pool)
{
	for (size_t off = 0; off < u; off += KL_CHUNK) {
		size_t m = u - off < KL_CHUNK ? u - off : KL_CHUNK;
		const char **keys = pn_pool_alloc(pool, m * sizeof(*keys));
		uint8_t **vals = pn_pool_alloc(pool, m * sizeof(*vals));
		size_t *lens = pn_pool_alloc(pool, m * sizeof(*lens));

		for (size_t j = 0; j < m; j++)
			keys[j] = cache_key(uaddr[off + j], pool);
		if (src->cache_get(src->arg, keys, m, vals, lens, pool) != PN_OK)
			continue;
		for (size_t j = 0; j < m; j++)
			if (vals[j])
				ures[off + j] = kl_cache_decode(vals[j], lens[j], uaddr[off + j], pool);
	}
}

/* from_keyring - KEY_FOUND for open addresses with a usable keyring key */
static pn_err from_keyring(const kl_sources *src, const kl_limits *lim,
    const char **uaddr, size_t u, Postern__V1__KeyResult **ures, pn_pool *pool)
{
	const char **open = pn_pool_alloc(pool, (u ? u : 1) * sizeof(*open));
	size_t *where = pn_pool_alloc(pool, (u ? u : 1) * sizeof(*where));
	size_t k = 0;

	for (size_t j = 0; j < u; j++)
		if (!ures[j]) {
			open[k] = uaddr[j];
			where[k++] = j;
		}
	for (size_t off = 0; off < k; off += KL_CHUNK) {
		size_t m = k - off < KL_CHUNK ? k - off : KL_CHUNK;
		char **fpr = pn_pool_alloc(pool, m * sizeof(*fpr));
		uint8_t **pub = pn_pool_alloc(pool, m * sizeof(*pub));
		size_t *publen = pn_pool_alloc(pool, m * sizeof(*publen));
		pn_err rc = src->keyring(src->arg, open + off, m, fpr, pub, publen, pool);

		if (rc != PN_OK)
			return rc;
		for (size_t j = 0; j < m; j++) {
			if (!fpr[j] || !pub[j])
				continue;
			Postern__V1__KeyResult *r = new_result(pool);
			r->address = (char *)open[off + j];
			r->kind = POSTERN__V1__KEY_RESULT__KIND__KEY_FOUND;
			r->fingerprint = fpr[j];
			r->public_key.data = pub[j];
			r->public_key.len = publen[j];
			r->source = "keyring";
			ures[where[off + j]] = r;
		}
	}
	return PN_OK;
}

/* key_found - a KEY_FOUND result for addr in pool */
static Postern__V1__KeyResult *key_found(const char *addr, char *fpr,
    uint8_t *pub, size_t len, const char *source, pn_pool *pool)
{
	Postern__V1__KeyResult *r = new_result(pool);

	r->address = (char *)addr;
	r->kind = POSTERN__V1__KEY_RESULT__KIND__KEY_FOUND;
	r->fingerprint = fpr;
	r->public_key.data = pub;
	r->public_key.len = len;
	r->source = (char *)source;
	return r;
}

/* from_mailstore - the own key of a mailbox, GUEST, or NONE for what is still open */
static pn_err from_mailstore(const kl_sources *src, const char **uaddr, size_t u,
    Postern__V1__KeyResult **ures, kl_mailbox *mbs, pn_pool *pool)
{
	for (size_t j = 0; j < u; j++) {
		if (ures[j])
			continue;
		pn_err rc = src->mailbox(src->arg, uaddr[j], &mbs[j], pool);
		Postern__V1__KeyResult *r = new_result(pool);
		r->address = (char *)uaddr[j];
		if (rc == PN_OK && mbs[j].own_fpr && mbs[j].own_len > 0) {
			r = key_found(uaddr[j], mbs[j].own_fpr, mbs[j].own_key,
			    mbs[j].own_len, mbs[j].own_source ? mbs[j].own_source : "recipient", pool);
		} else if (rc == PN_OK) {
			r->kind = POSTERN__V1__KEY_RESULT__KIND__GUEST;
			r->source = "mailbox";
		} else if (rc == PN_ERR_NOTFOUND || rc == PN_ERR_PARAMS) {
			/* PARAMS: mailstore refuses the address, so it has no mailbox */
			memset(&mbs[j], 0, sizeof(mbs[j]));
			r->kind = POSTERN__V1__KEY_RESULT__KIND__NONE;
			r->source = "none";
		} else {
			return rc;
		}
		ures[j] = r;
	}
	return PN_OK;
}

/* guest_mailbox - what a GUEST result tells one of Postern's services of its mailbox */
static Postern__V1__GuestMailbox *guest_mailbox(const kl_mailbox *mb, pn_pool *pool)
{
	Postern__V1__GuestMailbox *g;

	if (mb->id <= 0 || !mb->pub || mb->publen == 0)
		return NULL;            /* the caller asks mailstore itself */
	g = pn_pool_alloc(pool, sizeof(*g));
	postern__v1__guest_mailbox__init(g);
	g->id = mb->id;
	g->state = mb->state;
	g->public_key.data = mb->pub;
	g->public_key.len = mb->publen;
	g->fingerprint = mb->fpr ? mb->fpr : "";
	g->locale = mb->locale ? mb->locale : "";
	return g;
}

/* disc_decode - a cached discovery answer for addr, or -1 */
static int disc_decode(const uint8_t *val, size_t len, const char *addr,
    kl_found *f, pn_pool *pool)
{
	Postern__V1__KeyResult *r;

	if (!val || len == 0 || len > KL_MAX_CACHED)
		return -1;
	r = (Postern__V1__KeyResult *)pn_pb_unpack(&postern__v1__key_result__descriptor,
	    val, len, KL_MAX_CACHED, pool);
	if (!r || !r->address || strcmp(r->address, addr))
		return -1;
	memset(f, 0, sizeof(*f));
	if (r->kind == POSTERN__V1__KEY_RESULT__KIND__KEY_FOUND) {
		if (!r->fingerprint || !*r->fingerprint || !r->public_key.len || !r->source)
			return -1;
		f->state = KL_FOUND;
		f->fpr = r->fingerprint;
		f->pub = r->public_key.data;
		f->publen = r->public_key.len;
		f->source = !strcmp(r->source, "vks") ? "vks" : "wkd";
		return 0;
	}
	f->state = r->source && !strcmp(r->source, "failed") ? KL_FAILED : KL_NOTFOUND;
	return 0;
}

/* disc_remember - cache a discovery answer with its TTL */
static void disc_remember(const kl_sources *src, const kl_limits *lim,
    const char *addr, const kl_found *f, pn_pool *pool)
{
	Postern__V1__KeyResult *r;
	long ttl = f->state == KL_FOUND ? lim->ttl_disc_found :
	    f->state == KL_FAILED ? lim->ttl_disc_fail : lim->ttl_disc_none;
	size_t len;

	if (!src->cache_put || ttl <= 0)
		return;
	if (f->state == KL_FOUND) {
		r = key_found(addr, f->fpr, f->pub, f->publen, f->source, pool);
	} else {
		r = new_result(pool);
		r->address = (char *)addr;
		r->kind = POSTERN__V1__KEY_RESULT__KIND__NONE;
		r->source = f->state == KL_FAILED ? "failed" : "none";
	}
	uint8_t *val = kl_cache_encode(r, &len, pool);
	if (len <= KL_MAX_CACHED)
		src->cache_put(src->arg, pn_pool_printf(pool, KL_DISCOVERY_PREFIX "%s", addr),
		    val, len, ttl);
}

/* discovery_round - fs[] for the k addresses: from "kld:" where kept, else discovered now */
static void discovery_round(const kl_sources *src, const kl_limits *lim,
    const char **addrs, size_t k, kl_found *fs, pn_pool *pool)
{
	const char **keys = pn_pool_alloc(pool, k * sizeof(*keys));
	uint8_t **vals = pn_pool_alloc(pool, k * sizeof(*vals));
	size_t *lens = pn_pool_alloc(pool, k * sizeof(*lens));
	const char **miss = pn_pool_alloc(pool, k * sizeof(*miss));
	size_t *where = pn_pool_alloc(pool, k * sizeof(*where));
	kl_found *mf = pn_pool_alloc(pool, k * sizeof(*mf));
	size_t m = 0;

	for (size_t i = 0; i < k; i++)
		keys[i] = pn_pool_printf(pool, KL_DISCOVERY_PREFIX "%s", addrs[i]);
	if (!src->cache_get || src->cache_get(src->arg, keys, k, vals, lens, pool) != PN_OK)
		memset(vals, 0, k * sizeof(*vals));
	for (size_t i = 0; i < k; i++)
		if (disc_decode(vals[i], lens[i], addrs[i], &fs[i], pool) < 0) {
			where[m] = i;
			miss[m++] = addrs[i];
		}
	if (m == 0)
		return;
	src->discover(src->arg, miss, m, mf, pool);
	for (size_t i = 0; i < m; i++) {
		fs[where[i]] = mf[i];
		disc_remember(src, lim, miss[i], &mf[i], pool);
	}
}

/* from_discovery - KEY_FOUND from WKD/VKS for what is GUEST or NONE; graduation */
static pn_err from_discovery(const kl_sources *src, const kl_limits *lim,
    const char **uaddr, size_t u, Postern__V1__KeyResult **ures,
    const kl_mailbox *mbs, kl_stats *stats, pn_pool *pool)
{
	const char **open = pn_pool_alloc(pool, (u ? u : 1) * sizeof(*open));
	size_t *where = pn_pool_alloc(pool, (u ? u : 1) * sizeof(*where));
	size_t k = 0;

	for (size_t j = 0; j < u; j++) {
		const char *s = ures[j]->source;
		if (!strncmp(s, "cache:", 6) ||
		    (strcmp(s, "mailbox") && strcmp(s, "none")))
			continue;
		open[k] = uaddr[j];
		where[k++] = j;
	}
	for (size_t off = 0; off < k; off += KL_CHUNK) {
		size_t m = k - off < KL_CHUNK ? k - off : KL_CHUNK;
		kl_found *fs = pn_pool_alloc(pool, m * sizeof(*fs));

		discovery_round(src, lim, open + off, m, fs, pool);
		for (size_t i = 0; i < m; i++) {
			size_t j = where[off + i];
			if (fs[i].state != KL_FOUND)
				continue;
			if (ures[j]->kind == POSTERN__V1__KEY_RESULT__KIND__GUEST) {
				pn_err rc = src->graduate ? src->graduate(src->arg, uaddr[j],
				    &mbs[j], &fs[i]) : PN_OK;
				if (rc != PN_OK)
					return rc;
				stats->graduated++;
			}
			ures[j] = key_found(uaddr[j], fs[i].fpr, fs[i].pub, fs[i].publen,
			    fs[i].source, pool);
			stats->discovered++;
		}
	}
	return PN_OK;
}

/* kl_lookup - one batch, results in request order */
pn_err kl_lookup(const kl_sources *src, const kl_limits *lim,
    char *const *addresses, size_t n, int flags,
    Postern__V1__KeyLookupResult *out, kl_stats *stats, pn_pool *pool,
    const char **err_r)
{
	int fresh = flags & KL_FRESH;
	Postern__V1__KeyResult **res, **ures;
	const char **uaddr;
	kl_mailbox *mbs;
	size_t *uid, nvalid = 0, u = 0;
	slot *slots;
	pn_err rc;

	memset(stats, 0, sizeof(*stats));
	*err_r = NULL;
	if (lim->max_addresses > 0 && n > (size_t)lim->max_addresses) {
		*err_r = pn_pool_printf(pool, "too many addresses: %zu (limit %ld)", n,
		    lim->max_addresses);
		return PN_ERR_TOOLARGE;
	}
	out->n_results = n;
	out->results = res = pn_pool_alloc(pool, (n ? n : 1) * sizeof(*res));
	slots = pn_pool_alloc(pool, (n ? n : 1) * sizeof(*slots));
	uid = pn_pool_alloc(pool, (n ? n : 1) * sizeof(*uid));

	for (size_t i = 0; i < n; i++) {
		char norm[PN_ADDR_MAX + 1];
		const char *why = NULL;
		const char *in = addresses[i] ? addresses[i] : "";

		if (pn_addr_normalise(in, norm, sizeof(norm), &why) < 0) {
			res[i] = new_result(pool);
			res[i]->address = kl_printable(in, PN_ADDR_MAX, pool);
			res[i]->kind = POSTERN__V1__KEY_RESULT__KIND__INVALID;
			res[i]->error = (char *)why;
			stats->invalid++;
			continue;
		}
		slots[nvalid].addr = pn_pool_strdup(pool, norm);
		slots[nvalid].index = i;
		nvalid++;
	}

	/* one lookup per distinct address */
	qsort(slots, nvalid, sizeof(*slots), cmp_slot);
	uaddr = pn_pool_alloc(pool, (nvalid ? nvalid : 1) * sizeof(*uaddr));
	ures = pn_pool_alloc(pool, (nvalid ? nvalid : 1) * sizeof(*ures));
	for (size_t k = 0; k < nvalid; k++) {
		if (k == 0 || strcmp(slots[k].addr, slots[k - 1].addr))
			uaddr[u++] = slots[k].addr;
		uid[slots[k].index] = u - 1;
	}

	if (!fresh && src->cache_get)
		from_cache(src, uaddr, u, ures, pool);
	for (size_t j = 0; j < u; j++)
		if (ures[j])
			stats->cached++;
	if ((rc = from_keyring(src, lim, uaddr, u, ures, pool)) != PN_OK) {
		*err_r = "keyring unavailable";
		return rc == PN_ERR_TEMP ? PN_ERR_TEMP : PN_ERR_INTERNAL;
	}
	mbs = pn_pool_alloc(pool, (nvalid ? nvalid : 1) * sizeof(*mbs));
	if ((rc = from_mailstore(src, uaddr, u, ures, mbs, pool)) != PN_OK) {
		*err_r = "mailstore unavailable";
		return PN_ERR_TEMP;
	}
	if (src->discover &&
	    (rc = from_discovery(src, lim, uaddr, u, ures, mbs, stats, pool)) != PN_OK) {
		*err_r = "mailstore unavailable";
		return PN_ERR_TEMP;
	}
	for (size_t j = 0; j < u; j++)
		if (strncmp(ures[j]->source, "cache:", 6))
			remember(src, lim, ures[j], pool);
	if (fresh && (flags & KL_WITH_MAILBOX))
		for (size_t j = 0; j < u; j++)
			if (ures[j]->kind == POSTERN__V1__KEY_RESULT__KIND__GUEST)
				ures[j]->mailbox = guest_mailbox(&mbs[j], pool);

	for (size_t k = 0; k < nvalid; k++) {
		size_t i = slots[k].index;
		res[i] = ures[uid[i]];
	}
	for (size_t j = 0; j < u; j++) {
		if (!strncmp(ures[j]->source, "cache:", 6))
			continue;
		switch (ures[j]->kind) {
		case POSTERN__V1__KEY_RESULT__KIND__KEY_FOUND: stats->found++; break;
		case POSTERN__V1__KEY_RESULT__KIND__GUEST: stats->guest++; break;
		default: stats->none++; break;
		}
	}
	return PN_OK;
}
