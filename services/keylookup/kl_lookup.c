/*
 * kl_lookup.c - one KeyLookup batch: normalise, then cache, keyring,
 * mailstore, in that order, each asked once per batch for what is still
 * open.
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
			remember(src, lim, r, pool);
			ures[where[off + j]] = r;
		}
	}
	return PN_OK;
}

/* from_mailstore - GUEST or NONE for what is still open */
static pn_err from_mailstore(const kl_sources *src, const kl_limits *lim,
    const char **uaddr, size_t u, Postern__V1__KeyResult **ures, pn_pool *pool)
{
	for (size_t j = 0; j < u; j++) {
		if (ures[j])
			continue;
		pn_err rc = src->mailbox(src->arg, uaddr[j]);
		Postern__V1__KeyResult *r = new_result(pool);
		r->address = (char *)uaddr[j];
		if (rc == PN_OK) {
			r->kind = POSTERN__V1__KEY_RESULT__KIND__GUEST;
			r->source = "mailbox";
		} else if (rc == PN_ERR_NOTFOUND || rc == PN_ERR_PARAMS) {
			/* PARAMS: mailstore refuses the address, so it has no mailbox */
			r->kind = POSTERN__V1__KEY_RESULT__KIND__NONE;
			r->source = "none";
		} else {
			return rc;
		}
		remember(src, lim, r, pool);
		ures[j] = r;
	}
	return PN_OK;
}

/* kl_lookup - one batch, results in request order */
pn_err kl_lookup(const kl_sources *src, const kl_limits *lim,
    char *const *addresses, size_t n, int fresh,
    Postern__V1__KeyLookupResult *out, kl_stats *stats, pn_pool *pool,
    const char **err_r)
{
	Postern__V1__KeyResult **res, **ures;
	const char **uaddr;
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
	if ((rc = from_mailstore(src, lim, uaddr, u, ures, pool)) != PN_OK) {
		*err_r = "mailstore unavailable";
		return PN_ERR_TEMP;
	}

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
