/*
 * kl_sources.c - keylookup's real sources: the Redis cache, the GnuPG
 * keyring, and the mailstore service.
 *
 * Cache reads are one MGET per chunk, writes one SET ... EX per result.
 * Redis trouble is logged by pn_redis (once per outage) and makes every
 * address a cache miss. The keyring is scanned by pn_gpg_find_keys: one
 * gpg process per chunk, exact user-id address match, expired, revoked
 * and encryption-less keys left out. Mailstore is asked GetMailbox by
 * address; the reply (which may carry key material) lives in a pool of
 * its own that is wiped when the answer has been read.
 */
#include <string.h>

#include "postern/calls.h"
#include "kl.h"

/* real_cache_get - MGET the keys */
static pn_err real_cache_get(void *arg, const char *const *keys, size_t n,
    uint8_t **vals_r, size_t *lens_r, pn_pool *pool)
{
	kl_backends *b = arg;
	const char **argv = pn_pool_alloc(pool, (n + 1) * sizeof(*argv));
	size_t *argvlen = pn_pool_alloc(pool, (n + 1) * sizeof(*argvlen));
	redisReply *reply = NULL;
	pn_err rc;

	for (size_t i = 0; i < n; i++) {
		vals_r[i] = NULL;
		lens_r[i] = 0;
	}
	if (!b->redis || n == 0)
		return PN_OK;
	argv[0] = "MGET";
	argvlen[0] = 4;
	for (size_t i = 0; i < n; i++) {
		argv[i + 1] = keys[i];
		argvlen[i + 1] = strlen(keys[i]);
	}
	if ((rc = pn_redis_cmd(b->redis, &reply, (int)(n + 1), argv, argvlen)) != PN_OK)
		return rc;
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != n) {
		pn_redis_free(&reply);
		return PN_ERR_INTERNAL;
	}
	for (size_t i = 0; i < n; i++) {
		redisReply *e = reply->element[i];
		if (e->type == REDIS_REPLY_STRING && e->len > 0) {
			vals_r[i] = pn_pool_memdup(pool, e->str, e->len);
			lens_r[i] = e->len;
		}
	}
	pn_redis_free(&reply);
	return PN_OK;
}

/* real_cache_put - SET key val EX ttl */
static pn_err real_cache_put(void *arg, const char *key, const void *val,
    size_t len, long ttl)
{
	kl_backends *b = arg;
	char ttls[24];
	const char *argv[5] = { "SET", key, val, "EX", ttls };
	size_t argvlen[5];

	if (!b->redis)
		return PN_OK;
	snprintf(ttls, sizeof(ttls), "%ld", ttl);
	argvlen[0] = 3;
	argvlen[1] = strlen(key);
	argvlen[2] = len;
	argvlen[3] = 2;
	argvlen[4] = strlen(ttls);
	return pn_redis_cmd(b->redis, NULL, 5, argv, argvlen);
}

/* real_keyring - one keyring scan for the addresses */
static pn_err real_keyring(void *arg, const char *const *addrs, size_t n,
    char **fpr_r, uint8_t **pub_r, size_t *publen_r, pn_pool *pool)
{
	kl_backends *b = arg;
	char **fpr = pn_calloc(n ? n : 1, sizeof(*fpr));
	pn_buf *pub = pn_calloc(n ? n : 1, sizeof(*pub));
	pn_err rc = pn_gpg_find_keys(b->keyring, addrs, n, fpr, pub);

	for (size_t i = 0; i < n; i++) {
		fpr_r[i] = NULL;
		pub_r[i] = NULL;
		publen_r[i] = 0;
		if (rc == PN_OK && fpr[i] && pub[i].data) {
			fpr_r[i] = pn_pool_strdup(pool, fpr[i]);
			pub_r[i] = pn_pool_memdup(pool, pub[i].data, pub[i].len);
			publen_r[i] = pub[i].len;
		}
		pn_free(&fpr[i]);
		pn_buf_free(&pub[i]);
	}
	free(fpr);
	free(pub);
	return rc;
}

/* real_mailbox - does mailstore have a mailbox for addr? */
static pn_err real_mailbox(void *arg, const char *addr)
{
	kl_backends *b = arg;
	Postern__V1__GetMailbox get = POSTERN__V1__GET_MAILBOX__INIT;
	Postern__V1__Mailbox *mb;
	pn_pool *pool = pn_pool_new();
	const char *why;
	pn_err rc;

	get.address = (char *)addr;
	rc = pn_ms_get_mailbox(b->mailstore, pool, &get, &mb, &why);
	pn_pool_destroy(&pool);
	return rc;
}

/* kl_sources_real - wire the sources to the backends */
void kl_sources_real(kl_sources *src, kl_backends *b)
{
	memset(src, 0, sizeof(*src));
	src->arg = b;
	src->cache_get = real_cache_get;
	src->cache_put = real_cache_put;
	src->keyring = real_keyring;
	src->mailbox = real_mailbox;
}
