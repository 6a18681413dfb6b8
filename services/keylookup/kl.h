/*
 * kl.h - keylookup's logic, apart from its sockets.
 *
 * kl_lookup answers one KeyLookup batch by asking its sources in order:
 * the cache, the keyring, mailstore (a mailbox, and the recipient's own
 * key stored with it), then discovery on the internet (WKD, VKS; its
 * answers cached apart, kl_discover.c). The sources are function pointers so
 * that the unit tests can drive the logic with fakes; kl_sources.c
 * provides the real ones (Redis, the GnuPG keyring, the mailstore
 * service). Everything a lookup allocates lives in the request's pool.
 */
#ifndef POSTERN_KL_H
#define POSTERN_KL_H

#include <stddef.h>
#include <stdint.h>

#include "postern/v1/keylookup.pb-c.h"
#include "postern/brand.h"
#include "postern/bus.h"
#include "postern/err.h"
#include "postern/gpg.h"
#include "postern/mem.h"
#include "postern/redis.h"
#include "kl_fetch.h"

#define KL_CACHE_PREFIX "kl:"
#define KL_DISCOVERY_PREFIX "kld:"      /* discovery answers, read even when fresh */
#define KL_CHUNK 500                /* addresses per cache or keyring round */

typedef struct kl_limits {
	long max_addresses;         /* more: PN_ERR_TOOLARGE */
	long ttl_found;             /* seconds a KEY_FOUND stays cached; 0 = never cached */
	long ttl_guest;             /* GUEST */
	long ttl_none;              /* NONE */
	long ttl_disc_found;        /* a key discovery found */
	long ttl_disc_none;         /* discovery: every source answered, no usable key */
	long ttl_disc_fail;         /* discovery: some source failed (down, timeout, too large) */
} kl_limits;

/* What mailstore knows of an address that has a mailbox. */
typedef struct kl_mailbox {
	int64_t id;
	char *own_fpr;              /* the recipient's own key, or NULL */
	uint8_t *own_key;           /* armored */
	size_t own_len;
	char *own_source;           /* "recipient", "wkd", "vks" */
	char *locale;               /* the mailbox's language ("" if none) */
	int state;                  /* mailstore's MailboxState */
	char *fpr;                  /* the guest key: fingerprint, armored public key */
	uint8_t *pub;
	size_t publen;
} kl_mailbox;

/* One address's discovery outcome. */
typedef enum kl_found_state { KL_NOTFOUND = 0, KL_FOUND, KL_FAILED } kl_found_state;
typedef struct kl_found {
	kl_found_state state;
	char *fpr;                  /* KL_FOUND: fingerprint, armored key, "wkd" or "vks" */
	uint8_t *pub;
	size_t publen;
	const char *source;
} kl_found;

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
	/*
	 * mailbox - PN_OK: a temporary mailbox exists (*mb_r filled, pool
	 * memory); PN_ERR_NOTFOUND: none
	 */
	pn_err (*mailbox)(void *arg, const char *addr, kl_mailbox *mb_r, pn_pool *pool);
	/* discover - found[i] for each of the n addresses; NULL: no discovery */
	void (*discover)(void *arg, const char *const *addrs, size_t n,
	    kl_found *found, pn_pool *pool);
	/*
	 * graduate - discovery found a key for an address with a mailbox:
	 * store it with the mailbox and tell the recipient (once). An error
	 * fails the batch (TEMP).
	 */
	pn_err (*graduate)(void *arg, const char *addr, const kl_mailbox *mb,
	    const kl_found *found);
} kl_sources;

/* kl_lookup's flags */
#define KL_FRESH 1
#define KL_WITH_MAILBOX 2

/* Counters of one batch, for logs and metrics. */
typedef struct kl_stats {
	size_t invalid, cached, found, guest, none;
	size_t discovered, graduated;
} kl_stats;

/*
 * kl_lookup - answer addresses[0..n-1] into out (results in order, one
 * per address). flags: KL_FRESH skips the cache read; KL_WITH_MAILBOX
 * (with KL_FRESH) gives each GUEST result mailstore's answer of just now
 * as its GuestMailbox, after the result went into the cache. Returns PN_OK, PN_ERR_TOOLARGE
 * for too many addresses, or the error of a source that failed (keyring
 * or mailstore: without them NONE could be a lie); *err_r then says why.
 */
pn_err kl_lookup(const kl_sources *src, const kl_limits *lim,
    char *const *addresses, size_t n, int flags,
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

/* ---- discovery (kl_discover.c) ---- */
typedef struct kl_discovery {
	int wkd;                    /* ask WKD */
	const char *keyserver;      /* VKS base URL (https://...), or NULL/"" */
	kl_http http;
	pn_gpg *gpg;                /* judges keys (lists them, never imports) */
} kl_discovery;

/* kl_discover - WKD (advanced, then direct), then VKS, for n addresses */
void kl_discover(const kl_discovery *d, const char *const *addrs, size_t n,
    kl_found *found, pn_pool *pool);

/* ---- graduation (kl_graduate.c) ---- */
typedef struct kl_notice {
	const char *from;           /* From: of the mail to the recipient ("Name <addr>") */
	const char *return_path;    /* its SMTP envelope sender ("" = <>) */
	const char *public_url;     /* the web UI, for the mailbox */
	const pn_brand *brand;      /* names, languages, the template */
} kl_notice;

/* the template kinds keylookup writes ("graduated"), checked at start */
extern const pn_tmpl_kind kl_templates[];
extern const size_t kl_n_templates;

/*
 * kl_graduate_mail - the mail that tells addr, in the mailbox's language
 * locale, that its future mail goes to its own key (fingerprint fpr,
 * found by source): RFC 5322 text, pool memory; NULL if it cannot be composed
 */
char *kl_graduate_mail(const kl_notice *n, const char *addr, const char *locale,
    const char *fpr, const char *source, pn_pool *pool);

/* ---- the real sources (kl_sources.c) ---- */
typedef struct kl_backends {
	pn_redis *redis;            /* NULL: no cache */
	pn_gpg *keyring;
	pn_client *mailstore;
	kl_discovery discovery;     /* neither wkd nor keyserver: no discovery */
	kl_notice notice;
} kl_backends;

/* kl_sources_real - sources backed by Redis, the keyring and mailstore */
void kl_sources_real(kl_sources *src, kl_backends *b);

/* kl_printable - s as valid UTF-8 without controls, at most max bytes (pool) */
char *kl_printable(const char *s, size_t max, pn_pool *pool);

#endif
