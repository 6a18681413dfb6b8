/*
 * kl_discover.c - key discovery on the internet: WKD, then a VKS
 * keyserver, for the addresses nothing local could answer.
 *
 * One call handles a whole batch in at most three rounds of parallel
 * GETs (kl_fetch.c), so a batch of many addresses costs about three
 * timeouts at worst, not one per address:
 *   1. WKD, advanced method, for every address;
 *   2. WKD, direct method, for those whose advanced host does not exist
 *      (it does not resolve or refuses the connection), as the draft says;
 *   3. the keyserver's VKS by-email, for every address still without a key.
 * An answer counts only when it is HTTP 200 with a body that can be a key
 * (kl_key_answer) and GnuPG finds it usable for this address
 * (pn_gpg_check_public: one public key, not revoked, not expired, an
 * encryption subkey, a user id with exactly the address). The key is
 * handed on armored.
 *
 * Each address ends FOUND, NOTFOUND (every source answered, none with a
 * usable key: 404, or a key refused - revoked, expired, another user id)
 * or FAILED (some source did not answer properly: down, timeout, too
 * large, a server error, and none found a key). The caller caches the
 * three with their own TTLs; none of them is an error. Log lines name the
 * source and the verdict, never the address.
 */
#include <string.h>

#include "postern/log.h"
#include "postern/openpgp.h"
#include "kl.h"
#include "kl_wkd.h"

/* One address through the rounds. */
typedef struct job {
	const char *addr;
	char adv[KL_URL_MAX], dir[KL_URL_MAX], vks[KL_URL_MAX];
	int failed;                  /* some source did not answer properly */
	kl_found *out;
} job;

/* armored - the key armored (pool memory); binary keys are armored here */
static uint8_t *armored(const kl_get *g, size_t *len_r, pn_pool *pool)
{
	char *a;
	uint8_t *out;

	if (kl_key_answer(g->body, g->len) == KL_ANSWER_ARMORED) {
		*len_r = g->len;
		return g->body;
	}
	if (!(a = pn_openpgp_armor(g->body, g->len, "PUBLIC KEY BLOCK", len_r)))
		return NULL;
	out = pn_pool_memdup(pool, a, *len_r + 1);
	pn_free(&a);
	return out;
}

/* judge - take the answer of one GET for job j from source */
static void judge(const kl_discovery *d, job *j, const kl_get *g,
    const char *source, pn_pool *pool)
{
	pn_key_verdict v;
	char *fpr = NULL;
	uint8_t *pub;
	size_t len = 0;

	if (g->status == 404 || g->status == 410)
		return;
	if (g->status != 200) {
		j->failed = 1;
		pn_info("msg=\"discovery answer\" source=%s outcome=%s status=%d curl=%d",
		    source, g->too_large ? "too_large" : g->failed ? "failed" : "status",
		    g->status, g->curl_code);
		return;
	}
	if (kl_key_answer(g->body, g->len) < KL_ANSWER_BINARY) {
		pn_info("msg=\"discovery answer\" source=%s outcome=not_a_key", source);
		return;
	}
	if (pn_gpg_check_public(d->gpg, g->body, g->len, j->addr, &v, &fpr) != PN_OK) {
		j->failed = 1;
		return;
	}
	if (v != PN_KEY_OK) {
		pn_info("msg=\"discovery answer\" source=%s outcome=refused why=\"%s\"",
		    source, pn_key_verdict_str(v));
		return;
	}
	if ((pub = armored(g, &len, pool))) {
		j->out->state = KL_FOUND;
		j->out->fpr = pn_pool_strdup(pool, fpr);
		j->out->pub = pub;
		j->out->publen = len;
		j->out->source = source;
	}
	pn_free(&fpr);
}

/* round_of - one parallel GET of url_of(job) for every job that wants it; gets[i] is job i's */
static void round_of(const kl_discovery *d, job *jobs, size_t n,
    const char *(*url_of)(job *, const kl_get *), const kl_get *prev,
    kl_get *gets, pn_pool *pool)
{
	size_t k = 0;
	size_t *which = pn_pool_alloc(pool, (n ? n : 1) * sizeof(*which));
	kl_get *tmp = pn_pool_alloc(pool, (n ? n : 1) * sizeof(*tmp));

	for (size_t i = 0; i < n; i++) {
		const char *url = url_of(&jobs[i], prev ? &prev[i] : NULL);
		if (!url)
			continue;
		which[k] = i;
		tmp[k++].url = url;
	}
	kl_fetch_all(&d->http, tmp, k, pool);
	memset(gets, 0, (n ? n : 1) * sizeof(*gets));
	for (size_t m = 0; m < k; m++)
		gets[which[m]] = tmp[m];
}

/* url_advanced, url_direct, url_vks - what each round asks, or NULL */
static const char *url_advanced(job *j, const kl_get *prev)
{
	return j->adv[0] ? j->adv : NULL;
}

static const char *url_direct(job *j, const kl_get *prev)
{
	return j->dir[0] && prev && prev->url && kl_fetch_no_host(prev) ? j->dir : NULL;
}

static const char *url_vks(job *j, const kl_get *prev)
{
	return j->vks[0] && j->out->state != KL_FOUND ? j->vks : NULL;
}

/* kl_discover - the discovery of n addresses into found[] (one each) */
void kl_discover(const kl_discovery *d, const char *const *addrs, size_t n,
    kl_found *found, pn_pool *pool)
{
	job *jobs = pn_pool_alloc(pool, (n ? n : 1) * sizeof(*jobs));
	kl_get *adv = pn_pool_alloc(pool, (n ? n : 1) * sizeof(*adv));
	kl_get *gets = pn_pool_alloc(pool, (n ? n : 1) * sizeof(*gets));

	for (size_t i = 0; i < n; i++) {
		memset(&found[i], 0, sizeof(found[i]));
		found[i].state = KL_NOTFOUND;
		jobs[i].addr = addrs[i];
		jobs[i].out = &found[i];
		if (d->wkd && kl_wkd_urls(addrs[i], jobs[i].adv, jobs[i].dir, KL_URL_MAX) < 0)
			jobs[i].adv[0] = jobs[i].dir[0] = '\0';
		if (d->keyserver && *d->keyserver &&
		    kl_vks_url(d->keyserver, addrs[i], jobs[i].vks, KL_URL_MAX) < 0)
			jobs[i].vks[0] = '\0';
	}
	if (d->wkd) {
		round_of(d, jobs, n, url_advanced, NULL, adv, pool);
		for (size_t i = 0; i < n; i++)
			if (adv[i].url && !kl_fetch_no_host(&adv[i]))
				judge(d, &jobs[i], &adv[i], "wkd", pool);
		round_of(d, jobs, n, url_direct, adv, gets, pool);
		for (size_t i = 0; i < n; i++)
			if (gets[i].url)
				judge(d, &jobs[i], &gets[i], "wkd", pool);
	}
	if (d->keyserver && *d->keyserver) {
		round_of(d, jobs, n, url_vks, NULL, gets, pool);
		for (size_t i = 0; i < n; i++)
			if (gets[i].url)
				judge(d, &jobs[i], &gets[i], "vks", pool);
	}
	for (size_t i = 0; i < n; i++)
		if (found[i].state != KL_FOUND && jobs[i].failed)
			found[i].state = KL_FAILED;
}
