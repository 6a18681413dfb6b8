/*
 * kl.h - keylookup's logic, apart from its sockets.
 *
 * kl_lookup answers one KeyLookup batch by asking its sources in order:
 * the cache, the keyring, mailstore. The sources are function pointers so
 * that the unit tests can drive the logic with fakes; kl_sources.c
 * provides the real ones (Redis, the GnuPG keyring, the mailstore
 * service). Everything a lookup allocates lives in the request's pool.
 */
#ifndef POSTERN_KL_H
#define POSTERN_KL_H

#include <stddef.h>
#include <stdint.h>

#include "postern/v1/keylookup.pb-c.h"
#include "postern/bus.h"
#include "postern/err.h"
#include "postern/gpg.h"
#include "postern/mem.h"
#include "postern/redis.h"

#define KL_CACHE_PREFIX "kl:"
#define KL_CHUNK 500                /* addresses per cache or keyring round */

typedef struct kl_limits {
	long max_addresses;         /* more: PN_ERR_TOOLARGE */
	long ttl_found;             /* seconds a KEY_FOUND stays cached; 0 = never cached */
	long ttl_guest;             /* GUEST */
	long ttl_none;              /* NONE */
} kl_limits;

typedef struct kl_sources {
	void *arg;
	/*
	 * cache_get - values for the n keys: vals_r[i] (pool memory) and
	 * lens_r[i], NULL on a miss. An error counts as n misses.
	 */
	pn_err (*cache_get)(void *arg, const char *const *keys, size_t n,
	    uint8_t **vals_r, size_t *lens_r, pn_pool *pool);
	/* cache_put - store value under key for ttl seconds (failures are only logged) */
	pn_err (*cache_put)(void *arg, const char *key, const void *val,
	    size_t len, long ttl);
	/*
	 * keyring - for each address with a usable key: fpr_r[i] and the
	 * armored key pub_r[i]/publen_r[i] (pool memory); NULL elsewhere.
	 */
	pn_err (*keyring)(void *arg, const char *const *addrs, size_t n,
	    char **fpr_r, uint8_t **pub_r, size_t *publen_r, pn_pool *pool);
	/* mailbox - PN_OK: a temporary mailbox exists; PN_ERR_NOTFOUND: none */
	pn_err (*mailbox)(void *arg, const char *addr);
} kl_sources;

/* Counters of one batch, for logs and metrics. */
typedef struct kl_stats {
	size_t invalid, cached, found, guest, none;
} kl_stats;

/*
 * kl_lookup - answer addresses[0..n-1] into out (results in order, one
 * per address). fresh skips the cache read. Returns PN_OK, PN_ERR_TOOLARGE
 * for too many addresses, or the error of a source that failed (keyring
 * or mailstore: without them NONE could be a lie); *err_r then says why.
 */
pn_err kl_lookup(const kl_sources *src, const kl_limits *lim,
    char *const *addresses, size_t n, int fresh,
    Postern__V1__KeyLookupResult *out, kl_stats *stats, pn_pool *pool,
    const char **err_r);

/* kl_cache_encode - a result as the cache stores it (packed KeyResult, pool memory) */
uint8_t *kl_cache_encode(const Postern__V1__KeyResult *res, size_t *len_r,
    pn_pool *pool);
/*
 * kl_cache_decode - a cached value back into a result for address, source
 * prefixed "cache:"; NULL if the value is malformed or for another address.
 */
Postern__V1__KeyResult *kl_cache_decode(const uint8_t *val, size_t len,
    const char *address, pn_pool *pool);

/* ---- the real sources (kl_sources.c) ---- */
typedef struct kl_backends {
	pn_redis *redis;            /* NULL: no cache */
	pn_gpg *keyring;
	pn_client *mailstore;
} kl_backends;

/* kl_sources_real - sources backed by Redis, the keyring and mailstore */
void kl_sources_real(kl_sources *src, kl_backends *b);

/* kl_printable - s as valid UTF-8 without controls, at most max bytes (pool) */
char *kl_printable(const char *s, size_t max, pn_pool *pool);

#endif
