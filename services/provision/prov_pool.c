/*
 * prov_pool.c - guest keys made ahead of time, so that key generation is
 * off the send path.
 *
 * Making a guest key costs five gpg runs (generate, export public, export
 * secret, find, delete) and most of a new-mailbox event's time. A
 * background thread makes them before they are needed, at a lower CPU
 * priority than the worker, and keeps up to POSTERN_PROVISION_KEY_POOL
 * of each kind ready: with a PIN and without one.
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
 * event stores its sealed record. The user id of a pooled key cannot name
 * the recipient (unknown until the event): it is POOL_UID. Nothing reads
 * the user id - mailboxes are found by address and keys by fingerprint -
 * and docs/security.md says so.
 *
 * The thread also imports each public key into the worker's own home, so
 * that encrypting the first message to it costs no import either.
 *
 * An event takes an entry and offers its secrets to record_claim (SET NX
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
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "postern/guest.h"
#include "postern/log.h"
#include "prov.h"

#define POOL_UID "Postern temporary mailbox"

struct prov_pool {
	pthread_mutex_t home;       /* writes to POSTERN_GNUPGHOME's keyring (see below) */
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	int running, stop;
	long size;                  /* target per kind */
	pn_gpg *gpg;                /* the thread's own GnuPG home */
	pn_gpg *main;               /* the thread's handle on POSTERN_GNUPGHOME */
	prov_pooled **ready[2];     /* [0] without PIN, [1] with PIN */
	long n[2];
	long made, taken, missed;
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

/* make_one - one protected key with fresh secrets of the given kind */
static prov_pooled *make_one(prov_pool *pool, int with_pin)
{
	prov_pooled *p = pn_calloc(1, sizeof(*p));
	char pass[PROV_PASS_TEXT];
	pn_err err;

	prov_link_new(p->sec.link);
	if (with_pin)
		prov_pin_new(p->sec.pin, (size_t)prov_cfg.pin_length);
	pn_guest_passphrase(p->sec.link, p->sec.pin, pass);
	err = pn_gpg_keygen(pool->gpg, POOL_UID, pass, &p->fpr, &p->pub, &p->seckey);
	sodium_memzero(pass, sizeof(pass));
	if (err != PN_OK) {
		pn_warn("msg=\"key pool: key generation failed\" status=%s", pn_err_str(err));
		prov_pooled_free(&p);
		return NULL;
	}
	/*
	 * the public key into the worker's keyring now: encrypting to it then
	 * needs no import. Two gpg processes writing one keyring at once can
	 * make the other's key generation fail, so the worker holds "home"
	 * while it delivers (prov_pool_home_lock) and we hold it here.
	 */
	pthread_mutex_lock(&pool->home);
	err = pn_gpg_import_public(pool->main, p->pub.data, p->pub.len, NULL);
	pthread_mutex_unlock(&pool->home);
	if (err != PN_OK)
		pn_warn("msg=\"key pool: cannot import the public key ahead\"");
	else
		p->imported = 1;
	return p;
}

/* pool_main - the refill thread */
static void *pool_main(void *arg)
{
	prov_pool *pool = arg;

	/* below the worker: a new-mailbox event must not wait for a refill */
	if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10) < 0)
		pn_debug("msg=\"key pool: cannot lower priority\" error=\"%s\"", strerror(errno));
	pthread_mutex_lock(&pool->lock);
	while (!pool->stop) {
		int kind = pool->n[1] <= pool->n[0] ? 1 : 0;
		if (pool->n[kind] >= pool->size) {
			pthread_cond_wait(&pool->wake, &pool->lock);
			continue;
		}
		pthread_mutex_unlock(&pool->lock);
		prov_pooled *p = make_one(pool, kind);
		pthread_mutex_lock(&pool->lock);
		if (!p) {
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += 1;
			pthread_cond_timedwait(&pool->wake, &pool->lock, &until);
			continue;
		}
		pool->ready[kind][pool->n[kind]++] = p;
		pool->made++;
	}
	pthread_mutex_unlock(&pool->lock);
	return NULL;
}

/* prov_pool_start - open the pool's home and start the thread; NULL = no pool */
prov_pool *prov_pool_start(long size)
{
	prov_pool *pool;
	char home[512];

	if (size <= 0)
		return NULL;
	snprintf(home, sizeof(home), "%s/pool", prov_cfg.gnupghome);
	pool = pn_calloc(1, sizeof(*pool));
	pool->size = size;
	pthread_mutex_init(&pool->home, NULL);
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->wake, NULL);
	pool->ready[0] = pn_calloc((size_t)size, sizeof(prov_pooled *));
	pool->ready[1] = pn_calloc((size_t)size, sizeof(prov_pooled *));
	/* fast S2K as the main home: these keys get 256-bit derived passphrases */
	if (!(pool->gpg = pn_gpg_open(home, 65536)) ||
	    !(pool->main = pn_gpg_open(prov_cfg.gnupghome, 65536))) {
		pn_warn("msg=\"key pool off: its GnuPG home is not usable\" home=%s", home);
		prov_pool_stop(&pool);
		return NULL;
	}
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
	if (pool->made)
		pn_info("msg=\"key pool stopped\" made=%ld taken=%ld missed=%ld",
		    pool->made, pool->taken, pool->missed);
	pn_gpg_close(&pool->gpg);
	pn_gpg_close(&pool->main);
	pthread_cond_destroy(&pool->wake);
	pthread_mutex_destroy(&pool->lock);
	pthread_mutex_destroy(&pool->home);
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

/* prov_pool_home_lock - the worker is about to use POSTERN_GNUPGHOME (NULL-tolerant) */
void prov_pool_home_lock(prov_pool *pool)
{
	if (pool)
		pthread_mutex_lock(&pool->home);
}

/* prov_pool_home_unlock - done with it */
void prov_pool_home_unlock(prov_pool *pool)
{
	if (pool)
		pthread_mutex_unlock(&pool->home);
}
