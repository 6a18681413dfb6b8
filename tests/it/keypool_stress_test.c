/*
 * keypool_stress_test.c - the key pool's batch, many times over, with
 * real gpg: what provision's pool thread does (a fresh home, one
 * pn_gpg_keygen_batch of POOL_KEYS keys, pn_gpg_remove), in THREADS
 * threads at once, each with homes of its own - as the pool thread and
 * the worker thread fork gpg side by side in one provision process.
 *
 * It is here for two faults seen once in hundreds of batches: a batch
 * whose secret export failed with "Corrupted protection" from the agent,
 * and a gpg call that never returned. Every batch must hand out all its
 * keys (the export checks in gpg_batch.c run on each) and take less than
 * HANG_S seconds; a batch over that bound fails the test at once and
 * names its thread and number instead of waiting for the suite timeout.
 *
 * POSTERN_STRESS_BATCHES (default 120) sets the number of batches over
 * all threads; the figure for the record is thousands, under ASan
 * (docs/security.md). The time per batch is printed.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "../harness/harness.h"
#include "postern/gpg.h"
#include "postern/log.h"
#include "postern/mem.h"

#define THREADS 2
#define POOL_KEYS 8
#define HANG_S 60

typedef struct runner {
	int n;
	char *home;
	atomic_llong started_at;     /* ms of the batch in progress, 0 = none */
	atomic_int batch;            /* its number */
} runner;

static atomic_int next_batch, failed, made, finished;
static int batches;

/* one_batch - a fresh home, one batch, remove it; 0 when every key came out right */
static int one_batch(runner *r)
{
	pn_gpg_newkey keys[POOL_KEYS];
	char pass[POOL_KEYS][48];
	pn_gpg *gpg = pn_gpg_open(r->home, 65536);
	pn_err err;
	int bad = 0;

	if (!gpg)
		return -1;
	memset(keys, 0, sizeof(keys));
	for (int i = 0; i < POOL_KEYS; i++) {
		unsigned char raw[32];

		randombytes_buf(raw, sizeof(raw));
		sodium_bin2base64(pass[i], sizeof(pass[i]), raw, sizeof(raw),
		    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		keys[i].passphrase = pass[i];
	}
	err = pn_gpg_keygen_batch(gpg, "Postern temporary mailbox", keys, POOL_KEYS);
	if (pn_gpg_remove(&gpg) < 0)
		bad = 1;
	if (err != PN_OK)
		bad = 1;
	for (int i = 0; i < POOL_KEYS; i++) {
		if (err == PN_OK && (!keys[i].fpr || !keys[i].pub.len || !keys[i].sec.len))
			bad = 1;
		pn_free(&keys[i].fpr);
		pn_buf_free(&keys[i].pub);
		pn_buf_free(&keys[i].sec);
	}
	sodium_memzero(pass, sizeof(pass));
	return bad ? -1 : 0;
}

/* run - batches until the shared count is reached */
static void *run(void *arg)
{
	runner *r = arg;
	int b;

	while ((b = atomic_fetch_add(&next_batch, 1)) < batches) {
		atomic_store(&r->batch, b);
		atomic_store(&r->started_at, th_now_ms());
		if (one_batch(r) < 0) {
			fprintf(stderr, "stress: batch %d (thread %d) failed\n", b, r->n);
			atomic_fetch_add(&failed, 1);
		} else {
			atomic_fetch_add(&made, POOL_KEYS);
		}
		atomic_store(&r->started_at, 0);
	}
	atomic_fetch_add(&finished, 1);
	return NULL;
}

static void test_keypool_batches(void **state)
{
	const char *env = getenv("POSTERN_STRESS_BATCHES");
	pthread_t th[THREADS];
	runner r[THREADS];
	long long t0 = th_now_ms(), secs;
	(void)state;

	batches = env ? atoi(env) : 120;
	assert_true(batches > 0 && batches <= 1000000);
	assert_true(sodium_init() >= 0);
	for (int i = 0; i < THREADS; i++) {
		r[i] = (runner){ .n = i, .home = th_tmpdir("kp") };
		assert_int_equal(pthread_create(&th[i], NULL, run, &r[i]), 0);
	}
	/* the hang bound: watch each thread's batch in progress */
	while (atomic_load(&finished) < THREADS) {
		for (int i = 0; i < THREADS; i++) {
			long long at = atomic_load(&r[i].started_at);

			if (at && th_now_ms() - at > HANG_S * 1000LL)
				fail_msg("batch %d of thread %d has run for over %d s: hung",
				    atomic_load(&r[i].batch), i, HANG_S);
		}
		usleep(200000);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		free(r[i].home);
	}
	secs = th_now_ms() - t0;
	print_message("stress: %d batches of %d keys in %d threads: %lld ms, %.0f ms per "
	    "batch, %d keys made, %d batches failed\n", batches, POOL_KEYS, THREADS, secs,
	    (double)secs / batches, atomic_load(&made), atomic_load(&failed));
	assert_int_equal(atomic_load(&failed), 0);
	assert_int_equal(atomic_load(&made), batches * POOL_KEYS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keypool_batches),
	};
	pn_log_init("stress", PN_LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
