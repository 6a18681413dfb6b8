/*
 * prov_pool.c - guest keys made ahead of time, so that key generation is
 * off the send path.
 *
 * A background thread makes them before they are needed, at a lower CPU
 * priority than the worker, and keeps up to POSTERN_PROVISION_KEY_POOL
 * of each kind ready: with a PIN and without one.
 *
 * It makes them in batches of up to POOL_BATCH keys, in this process
 * (prov_pool_keygen_here: pn_gpg_keygen_here, openpgp_keygen.c - no gpg
 * run, well under a millisecond a key). What costs is the import: the
 * public keys of a batch go into the worker's keyring with one gpg run,
 * so that encrypting the first message to a new mailbox costs no import;
 * gpg checks both self-signatures of every key there, and a batch it does
 * not take whole hands out nothing. Each entry notes the keyring
 * generation it went into (prov_keyring.c renews the keyring), and an
 * entry used after a renewal has its key imported again by the
 * encryption, like any other key. A batch starts once POOL_BATCH entries
 * are missing, or a kind is down to half its size (small pools): one
 * import per key would pay a gpg run per key. Until the fifteenth
 * session of the second wave gpg-agent made the keys, in a GnuPG home of
 * their own per batch (POSTERN_GNUPGHOME/pool); a home left there by
 * that version is removed at start (docs/performance.md, "Keys made
 * in-process").
 *
 * What a pooled entry holds is exactly what a new mailbox needs: the
 * secrets (link secret L, and the PIN P for the PIN kind, drawn as
 * prov_link_new / prov_pin_new would draw them at the event) and a key
 * already protected with passphrase(L, P). The key's protection can only
 * be chosen once L and P exist; choosing them at pool time rather than at
 * event time is what makes the event need no GnuPG key operation at all
 * (protecting at use would still cost two gpg runs: passwd and export).
 * L and P are random and unused until the event takes the entry, so
 * drawing them earlier changes nothing about their secrecy; they live in
 * this process's memory only (as during an event), are wiped when the
 * entry is used or dropped, and are never written anywhere before the
 * event stores its sealed record. Before an entry is handed out, every
 * key of its secret key must open with its own passphrase (keep_opening,
 * read from the key's bytes): a mailbox whose key did not open would
 * never open, whatever made the key (gpg once exported, under load,
 * batch keys whose subkey was protected with another passphrase).
 * The passphrases of a batch exist only while it is made (wiped after;
 * they never leave this process). A batch that fails hands out nothing
 * (the thread tries again a second later; events meanwhile make their
 * own keys). The user id of a pooled key
 * cannot name the recipient (unknown until the event): it is POOL_UID.
 * Nothing reads the user id - mailboxes are found by address and keys by
 * fingerprint - and docs/security.md says so.
 *
 * An event takes an entry and offers its secrets to prov_record_claim (SET NX
 * of the event record). When a record exists already (a retried event),
 * the record's secrets win, the entry goes back to the pool unused, and
 * the key is made the slow way for those secrets, as before.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "postern/guest.h"
#include "postern/log.h"
#include "postern/metrics.h"
#include "postern/openpgp.h"
#include "postern/watchdog.h"
#include "prov.h"

#define POOL_UID "Postern temporary mailbox"
#define POOL_BATCH 8                /* keys per batch (16 saves little more per key) */

pn_err (*prov_pool_keygen)(const char *name, pn_gpg_newkey *keys, size_t n) =
    prov_pool_keygen_here;

struct prov_pool {
	pn_watch *watch;            /* the batch in progress, for the watchdog */
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	int running, stop;
	long size;                  /* target per kind */
	prov_keyring *keyring;      /* the worker's keyring, where public keys go ahead */
	prov_pooled **ready[2];     /* [0] without PIN, [1] with PIN */
	long n[2];
	long made, taken, missed, batches, failed;
};

/* prov_pooled_free - wipe and free an entry (NULL-tolerant) */
void prov_pooled_free(prov_pooled **pp)
{
	prov_pooled *p = pp ? *pp : NULL;

	if (!p)
		return;
	*pp = NULL;
	pn_free(&p->fpr);
	pn_buf_free(&p->pub);
	pn_buf_free(&p->seckey);
	sodium_memzero(p, sizeof(*p));
	free(p);
}

/* entry_new - an entry of the kind with fresh secrets (no key yet) */
static prov_pooled *entry_new(int with_pin)
{
	prov_pooled *p = pn_calloc(1, sizeof(*p));

	prov_link_new(p->sec.link);
	if (with_pin)
		prov_pin_new(p->sec.pin, (size_t)prov_cfg.pin_length);
	return p;
}

/*
 * import_ahead - the batch's public keys into the worker's keyring, one
 * run; gpg takes a key only if both its self-signatures hold, so a batch
 * it does not take whole is not handed out
 */
static pn_err import_ahead(prov_pool *pool, prov_pooled **p, size_t n)
{
	size_t len = 0, off = 0;
	unsigned long gen = 0;
	uint8_t *all;
	pn_gpg *gpg;
	pn_err err = PN_ERR_INTERNAL;

	for (size_t i = 0; i < n; i++)
		len += p[i]->pub.len;
	all = pn_malloc(len);
	for (size_t i = 0; i < n; i++) {
		memcpy(all + off, p[i]->pub.data, p[i]->pub.len);
		off += p[i]->pub.len;
	}
	/*
	 * Two gpg processes writing one keyring at once can make the other's
	 * import fail: the worker holds the keyring while it delivers, and
	 * we hold it here (prov_keyring_lock).
	 */
	if ((gpg = prov_keyring_lock(pool->keyring, &gen))) {
		err = pn_gpg_import_public_all(gpg, all, len, n);
		prov_keyring_unlock(pool->keyring);
	}
	free(all);
	if (err != PN_OK) {
		pn_warn("msg=\"key pool: gpg did not take the batch's public keys\" keys=%zu "
		    "status=%s", n, pn_err_str(err));
		return err;
	}
	for (size_t i = 0; i < n; i++)
		p[i]->imported = gen;
	return PN_OK;
}

/*
 * opens - does entry p's secret key open, every key of it, with the
 * entry's own passphrase (pn_openpgp_secret_opens: the key's bytes, no
 * gpg run)? A mailbox made from a key that does not would never open.
 */
static int opens(const prov_pooled *p)
{
	char pass[PROV_PASS_TEXT];
	uint8_t *pub = NULL, *sec = NULL;
	size_t publen = 0, seclen = 0;
	pn_openpgp_key pk, sk;
	int ok;

	pn_guest_passphrase(p->sec.link, p->sec.pin, pass);
	ok = pn_openpgp_dearmor((const char *)p->pub.data, p->pub.len, "PUBLIC KEY BLOCK",
	    &pub, &publen) == 0 &&
	    pn_openpgp_dearmor((const char *)p->seckey.data, p->seckey.len, "PRIVATE KEY BLOCK",
	    &sec, &seclen) == 0 &&
	    pn_openpgp_split_keys(pub, publen, PN_OPENPGP_TAG_PUBLIC_KEY, &pk, 1) == 0 &&
	    pn_openpgp_split_keys(sec, seclen, PN_OPENPGP_TAG_SECRET_KEY, &sk, 1) == 0 &&
	    pn_openpgp_secret_opens(&pk, &sk, pass);
	sodium_memzero(pass, sizeof(pass));
	if (sec)
		sodium_memzero(sec, seclen);
	free(pub);
	free(sec);
	return ok;
}

/*
 * keep_opening - out[] without the entries whose key does not open with
 * their passphrase (dropped, counted, warned); the number kept
 */
static size_t keep_opening(prov_pooled **out, size_t n, int *kinds)
{
	size_t kept = 0;

	for (size_t i = 0; i < n; i++) {
		if (opens(out[i])) {
			kinds[kept] = kinds[i];
			out[kept++] = out[i];
			continue;
		}
		pn_warn("msg=\"key pool: a new key does not open with its passphrase; dropped\"");
		pn_metrics_add("postern_provision_pool_keys_dropped_total",
		    "pooled keys dropped: their secret key did not open with their passphrase", 1);
		prov_pooled_free(&out[i]);
	}
	return kept;
}

/* prov_pool_keygen_here - n keys made in this process; all or nothing */
pn_err prov_pool_keygen_here(const char *name, pn_gpg_newkey *keys, size_t n)
{
	pn_err err = PN_OK;

	for (size_t i = 0; i < n && err == PN_OK; i++)
		err = pn_gpg_keygen_here(name, keys[i].passphrase, &keys[i].fpr, &keys[i].pub,
		    &keys[i].sec);
	if (err != PN_OK)
		for (size_t i = 0; i < n; i++) {
			pn_free(&keys[i].fpr);
			pn_buf_free(&keys[i].pub);
			pn_buf_free(&keys[i].sec);
		}
	return err;
}

/*
 * make_batch - n entries (kinds[i]: with PIN or not) with their keys,
 * imported ahead into the worker's keyring; PN_OK with the *n_r entries
 * whose keys open with their passphrase in out[] (kinds[] likewise), or
 * nothing at all.
 */
static pn_err make_batch(prov_pool *pool, int *kinds, size_t *n_r, prov_pooled **out)
{
	size_t n = *n_r;
	pn_gpg_newkey keys[POOL_BATCH];
	char pass[POOL_BATCH][PROV_PASS_TEXT];
	pn_err err;

	memset(keys, 0, sizeof(keys));
	for (size_t i = 0; i < n; i++) {
		out[i] = entry_new(kinds[i]);
		pn_guest_passphrase(out[i]->sec.link, out[i]->sec.pin, pass[i]);
		keys[i].passphrase = pass[i];
	}
	err = prov_pool_keygen(POOL_UID, keys, n);
	sodium_memzero(pass, sizeof(pass));
	if (err != PN_OK) {
		pn_warn("msg=\"key pool: key generation failed\" keys=%zu status=%s", n,
		    pn_err_str(err));
		for (size_t i = 0; i < n; i++)
			prov_pooled_free(&out[i]);
		return err;
	}
	for (size_t i = 0; i < n; i++) {
		out[i]->fpr = keys[i].fpr;
		out[i]->pub = keys[i].pub;
		out[i]->seckey = keys[i].sec;
	}
	*n_r = n = keep_opening(out, n, kinds);
	if (n == 0)
		return PN_ERR_INTERNAL;
	/* a gpg run that never returns shows in the log and, later, in /healthz */
	pn_watch_begin(pool->watch, "keypool_import");
	err = import_ahead(pool, out, n);
	pn_watch_end(pool->watch);
	if (err != PN_OK) {
		for (size_t i = 0; i < n; i++)
			prov_pooled_free(&out[i]);
		return err;
	}
	return PN_OK;
}

/* pool_main - the refill thread */
static void *pool_main(void *arg)
{
	prov_pool *pool = arg;
	prov_pooled *made[POOL_BATCH];
	int kinds[POOL_BATCH];

	/* below the worker: a new-mailbox event must not wait for a refill */
	if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10) < 0)
		pn_debug("msg=\"key pool: cannot lower priority\" error=\"%s\"", strerror(errno));
	pthread_mutex_lock(&pool->lock);
	while (!pool->stop) {
		long miss[2] = { pool->size - pool->n[0], pool->size - pool->n[1] };
		int low = pool->n[0] <= pool->size / 2 || pool->n[1] <= pool->size / 2;
		size_t n = 0;

		/* a full batch's worth missing, or a kind down to half (small pools) */
		if (miss[0] + miss[1] < POOL_BATCH && !low) {
			pthread_cond_wait(&pool->wake, &pool->lock);
			continue;
		}
		/* the kind that misses more first; the PIN kind on a tie */
		while (n < POOL_BATCH && miss[0] + miss[1] > 0) {
			int k = miss[1] >= miss[0] ? 1 : 0;
			kinds[n++] = k;
			miss[k]--;
		}
		pthread_mutex_unlock(&pool->lock);
		pn_err err = make_batch(pool, kinds, &n, made);
		pthread_mutex_lock(&pool->lock);
		pool->batches++;
		if (err != PN_OK) {
			/* a second before the next try, whatever events take meanwhile */
			struct timespec until;
			pool->failed++;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += 1;
			while (!pool->stop &&
			    pthread_cond_timedwait(&pool->wake, &pool->lock, &until) == 0)
				;
			continue;
		}
		for (size_t i = 0; i < n; i++) {
			int k = kinds[i];
			/* put_back may have filled the kind meanwhile */
			if (pool->n[k] < pool->size) {
				pool->ready[k][pool->n[k]++] = made[i];
				pool->made++;
			} else {
				prov_pooled_free(&made[i]);
			}
		}
	}
	pthread_mutex_unlock(&pool->lock);
	return NULL;
}

/*
 * remove_old_home - the home POSTERN_GNUPGHOME/pool where an earlier
 * version made its batches with gpg, when one is there: removed with its
 * agent (a process killed mid-batch left both behind); -1 if it stays
 */
static int remove_old_home(void)
{
	char home[512];
	struct stat st;
	pn_gpg *gpg;

	snprintf(home, sizeof(home), "%s/pool", prov_cfg.gnupghome);
	if (lstat(home, &st) < 0 && errno == ENOENT)
		return 0;
	if (!(gpg = pn_gpg_open(home, 65536)) || pn_gpg_remove(&gpg) < 0) {
		pn_warn("msg=\"key pool: cannot remove the old batch home\" home=%s", home);
		pn_gpg_close(&gpg);
		return -1;
	}
	return 0;
}

/* prov_pool_start - start the thread; NULL = no pool */
prov_pool *prov_pool_start(long size, prov_keyring *keyring)
{
	prov_pool *pool;

	if (size <= 0)
		return NULL;
	if (!keyring) {
		pn_warn("msg=\"key pool off: no keyring to import its keys into\"");
		return NULL;
	}
	remove_old_home();                  /* harmless if it stays: nothing uses it */
	pool = pn_calloc(1, sizeof(*pool));
	pool->size = size;
	pool->watch = pn_watch_new("keypool");
	pool->keyring = keyring;
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->wake, NULL);
	pool->ready[0] = pn_calloc((size_t)size, sizeof(prov_pooled *));
	pool->ready[1] = pn_calloc((size_t)size, sizeof(prov_pooled *));
	if (pthread_create(&pool->thread, NULL, pool_main, pool) != 0) {
		pn_warn("msg=\"key pool off: no thread\"");
		prov_pool_stop(&pool);
		return NULL;
	}
	pool->running = 1;
	return pool;
}

/* prov_pool_stop - stop the thread, wipe every entry (NULL-tolerant) */
void prov_pool_stop(prov_pool **pp)
{
	prov_pool *pool = pp ? *pp : NULL;

	if (!pool)
		return;
	*pp = NULL;
	if (pool->running) {
		pthread_mutex_lock(&pool->lock);
		pool->stop = 1;
		pthread_cond_broadcast(&pool->wake);
		pthread_mutex_unlock(&pool->lock);
		pthread_join(pool->thread, NULL);
	}
	for (int k = 0; k < 2; k++) {
		for (long i = 0; i < pool->n[k]; i++)
			prov_pooled_free(&pool->ready[k][i]);
		free(pool->ready[k]);
	}
	if (pool->batches)
		pn_info("msg=\"key pool stopped\" made=%ld taken=%ld missed=%ld batches=%ld "
		    "failed=%ld", pool->made, pool->taken, pool->missed, pool->batches,
		    pool->failed);
	pthread_cond_destroy(&pool->wake);
	pthread_mutex_destroy(&pool->lock);
	free(pool);
}

/* prov_pool_take - a ready entry of the kind, or NULL (the event makes its own) */
prov_pooled *prov_pool_take(prov_pool *pool, int with_pin)
{
	prov_pooled *p = NULL;
	int k = with_pin ? 1 : 0;

	if (!pool)
		return NULL;
	pthread_mutex_lock(&pool->lock);
	if (pool->n[k] > 0) {
		p = pool->ready[k][--pool->n[k]];
		pool->ready[k][pool->n[k]] = NULL;
		pool->taken++;
	} else {
		pool->missed++;
	}
	pthread_cond_signal(&pool->wake);
	pthread_mutex_unlock(&pool->lock);
	return p;
}

/* prov_pool_put_back - an entry taken but not used (its secrets were not stored) */
void prov_pool_put_back(prov_pool *pool, prov_pooled **pp)
{
	prov_pooled *p = pp ? *pp : NULL;
	int k;

	if (!p)
		return;
	*pp = NULL;
	if (!pool) {
		prov_pooled_free(&p);
		return;
	}
	k = p->sec.pin[0] ? 1 : 0;
	pthread_mutex_lock(&pool->lock);
	if (pool->n[k] < pool->size) {
		pool->ready[k][pool->n[k]++] = p;
		pool->taken--;
		p = NULL;
	}
	pthread_mutex_unlock(&pool->lock);
	prov_pooled_free(&p);
}
