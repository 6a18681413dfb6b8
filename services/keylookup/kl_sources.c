/*
 * kl_sources.c - keylookup's real sources: the Redis cache, the GnuPG
 * keyring, the mailstore service, and discovery (kl_discover.c).
 *
 * Cache reads are one MGET per chunk, writes one SET ... EX per result.
 * Redis trouble is logged by pn_redis (once per outage) and makes every
 * address a cache miss. The keyring is scanned by pn_gpg_find_keys: one
 * gpg process per chunk, exact user-id address match, expired, revoked
 * and encryption-less keys left out. Mailstore is asked GetMailbox by
 * address; the reply (which may carry key material) lives in a pool of
 * its own that is wiped when the answer has been read - only the public
 * own key, if the mailbox has one, is copied out. Graduation is one
 * mailstore SetOwnKey with the notice mail, keep_existing set.
 */
#include <string.h>

#include "postern/calls.h"
#include "postern/log.h"
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

/* real_mailbox - does mailstore have a mailbox for addr, and an own key with it? */
static pn_err real_mailbox(void *arg, const char *addr, kl_mailbox *mb_r, pn_pool *out)
{
	kl_backends *b = arg;
	Postern__V1__GetMailbox get = POSTERN__V1__GET_MAILBOX__INIT;
	Postern__V1__Mailbox *mb;
	pn_pool *pool = pn_pool_new();
	const char *why;
	pn_err rc;

	memset(mb_r, 0, sizeof(*mb_r));
	get.address = (char *)addr;
	rc = pn_ms_get_mailbox(b->mailstore, pool, &get, &mb, &why);
	if (rc == PN_OK) {
		mb_r->id = mb->id;
		mb_r->locale = pn_pool_strdup(out, mb->locale ? mb->locale : "");
		mb_r->state = (int)mb->state;
		mb_r->fpr = pn_pool_strdup(out, mb->fingerprint ? mb->fingerprint : "");
		if (mb->public_key.len > 0) {
			mb_r->pub = pn_pool_memdup(out, mb->public_key.data, mb->public_key.len);
			mb_r->publen = mb->public_key.len;
		}
		if (mb->own_fingerprint && *mb->own_fingerprint && mb->own_key.len > 0) {
			mb_r->own_fpr = pn_pool_strdup(out, mb->own_fingerprint);
			mb_r->own_key = pn_pool_memdup(out, mb->own_key.data, mb->own_key.len);
			mb_r->own_len = mb->own_key.len;
			mb_r->own_source = pn_pool_strdup(out, mb->own_key_source ?
			    mb->own_key_source : "recipient");
		}
	}
	pn_pool_destroy(&pool);
	return rc;
}

/* real_discover - WKD and VKS */
static void real_discover(void *arg, const char *const *addrs, size_t n,
    kl_found *found, pn_pool *pool)
{
	kl_backends *b = arg;

	kl_discover(&b->discovery, addrs, n, found, pool);
}

/* real_graduate - SetOwnKey with the notice, keeping a key the recipient chose */
static pn_err real_graduate(void *arg, const char *addr, const kl_mailbox *mb,
    const kl_found *f)
{
	kl_backends *b = arg;
	Postern__V1__SetOwnKey set = POSTERN__V1__SET_OWN_KEY__INIT;
	Postern__V1__OutMail notice = POSTERN__V1__OUT_MAIL__INIT;
	Postern__V1__OwnKeySet *done;
	pn_pool *pool = pn_pool_new();
	char *rcpt[1] = { (char *)addr };
	const char *why;
	char *text;
	pn_err rc;

	text = kl_graduate_mail(&b->notice, addr, mb->locale, f->fpr, f->source, pool);
	if (text == NULL)
		pn_warn("msg=\"cannot write the graduation notice\" mailbox=%lld", (long long)mb->id);
	notice.idem_key = pn_pool_printf(pool, "graduate/%lld/%s", (long long)mb->id, f->fpr);
	notice.mail_from = (char *)b->notice.return_path;
	notice.n_rcpt_to = 1;
	notice.rcpt_to = rcpt;
	notice.data.data = (uint8_t *)text;
	notice.data.len = text ? strlen(text) : 0;
	set.mailbox_id = mb->id;
	set.public_key.data = f->pub;
	set.public_key.len = f->publen;
	set.fingerprint = f->fpr;
	set.source = (char *)f->source;
	set.keep_existing = 1;
	set.notice = text ? &notice : NULL;
	rc = pn_ms_set_own_key(b->mailstore, pool, &set, &done, &why);
	if (rc == PN_OK && done->changed)
		pn_info("msg=\"address graduated\" mailbox=%lld source=%s", (long long)mb->id,
		    f->source);
	pn_pool_destroy(&pool);
	/* the mailbox is gone meanwhile: nothing to graduate */
	return rc == PN_ERR_NOTFOUND ? PN_OK : rc;
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
	if (b->discovery.wkd || (b->discovery.keyserver && *b->discovery.keyserver)) {
		src->discover = real_discover;
		src->graduate = real_graduate;
	}
}
