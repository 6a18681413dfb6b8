/*
 * prov_keyring.c - provision's keyring is a cache, and it is renewed.
 *
 * provision never owns a key in its GnuPG keyring: guest keys live in
 * mailstore, sender keys in keylookup's organisation keyring. Its keyring
 * only holds the public keys it encrypted to (pn_gpg_encrypt imports a
 * key on first use) and the ones the key pool imported ahead. Left alone
 * it would only grow: the address and key of a mailbox the reaper deleted
 * would stay forever, and GnuPG 2.2 rewrites the whole keybox file for
 * every key it adds, so each new mailbox would cost more than the one
 * before. Measured (tools/keyring-bench/run, three runs on a shared
 * 2-core machine): one import took 6-12 ms into a keyring of 100 keys,
 * 11-19 ms at 2,000 and 31-34 ms at 10,000 (a batch of eight from the
 * pool 38-68, 68-85 and 165-253 ms), while an encryption of 10 KB to a
 * key already there stays at 2-3.5 ms whatever the size; one renewal
 * (remove, open, first encryption with a new agent) costs 45-80 ms.
 *
 * So the keyring lives in a home of its own, POSTERN_GNUPGHOME/kr.<n>,
 * and is replaced by an empty one, generation n + 1, once imports have
 * added POSTERN_PROVISION_KEYRING_MAX keys to it or it is
 * POSTERN_PROVISION_KEYRING_MAX_AGE seconds old. The old home goes with
 * everything in it, its gpg-agent first (pn_gpg_remove). Nothing is lost:
 * encryption imports a missing key again, and a pooled key imported into
 * an older generation is simply imported again when used (the pool notes
 * the generation it imported into). Every generation has a new directory
 * name, so a dying agent that removes its sockets by path never takes a
 * newer agent's socket with it; for the same reason generations left
 * behind by an earlier process are removed at start and numbering goes on
 * above them.
 *
 * What must survive a renewal: nothing in the keyring. The home's
 * configuration (gpg.conf with trust-model always, gpg-agent.conf with the
 * fast S2K count) is written by pn_gpg_open for every generation; keys
 * are made in the process (pn_gpg_keygen_here), never in a keyring; only
 * their public keys are imported, and an import lost with a renewal is
 * made again by the next encryption.
 *
 * The worker (per recipient it delivers to) and the pool thread (per
 * batch it imports ahead) use the one handle under this module's lock
 * (prov_keyring_lock): two gpg processes writing one keyring at once can
 * make the other's import fail, and a renewal must not pull the
 * home from under an operation. A renewal is due-checked at every lock,
 * and once a second by the service's background thread (prov_keyring_tick),
 * so that an idle keyring does not outlive its maximum age.
 *
 * With several workers (POSTERN_WORKERS) each has a keyring of its own,
 * opened beside the first (prov_keyring_open_beside), so that one
 * worker's gpg never waits for another's. They share the directory and
 * one sequence of generation numbers: no two keyrings ever use the same
 * home, the first one's sweep at start removes whatever any of them left,
 * its tick (the background thread's) renews them all when due,
 * and a generation number names one keyring only, so the pool's note of
 * where it imported a key ahead holds for that keyring and no other.
 *
 * keylookup's organisation keyring is the source of keys, not a cache: it
 * has no such renewal and must never get one.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "postern/log.h"
#include "postern/metrics.h"
#include "prov.h"

#define KR_PREFIX "kr."
#define KR_S2K 65536                /* keys here only get 256-bit derived passphrases */

struct prov_keyring {
	pthread_mutex_t lock;
	char *base;                 /* POSTERN_GNUPGHOME */
	pn_gpg *gpg;                /* the current generation, or NULL until the next lock */
	unsigned long gen;          /* its number: <base>/kr.<gen> */
	prov_keyring *first;        /* opened beside this one (prov_keyring_open_beside); NULL = first */
	prov_keyring *beside;       /* the first's: those opened beside it, a list under list_lock */
	pthread_mutex_t list_lock;
	prov_keyring *next;         /* the next in the first's list */
	unsigned long seq;          /* the first's: the last generation number given */
	long born;                  /* prov_keyring_clock() when it was opened */
	unsigned long max_keys;
	long max_age;
};

/* clock_mono - seconds of the monotonic clock */
static long clock_mono(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long)t.tv_sec;
}

long (*prov_keyring_clock)(void) = clock_mono;

/* gen_dir - <base>/kr.<gen> */
static void gen_dir(const prov_keyring *kr, unsigned long gen, char *out, size_t len)
{
	snprintf(out, len, "%s/" KR_PREFIX "%lu", kr->base, gen);
}

/* gen_number - n for a directory entry named kr.<n> (n > 0), else 0 */
static unsigned long gen_number(const char *name)
{
	char *end;
	unsigned long n;

	if (strncmp(name, KR_PREFIX, strlen(KR_PREFIX)))
		return 0;
	name += strlen(KR_PREFIX);
	if (*name < '0' || *name > '9')
		return 0;
	errno = 0;
	n = strtoul(name, &end, 10);
	return errno || *end ? 0 : n;
}

/* remove_home - stop the agent of dir and delete it whole; -1 if something stayed */
static int remove_home(const char *dir)
{
	pn_gpg *old = pn_gpg_open(dir, KR_S2K);

	return old ? pn_gpg_remove(&old) : -1;
}

/*
 * sweep - remove the generations an earlier process left (crashed, or
 * killed before it could remove its own); returns the highest number seen
 */
static unsigned long sweep(prov_keyring *kr)
{
	DIR *d = opendir(kr->base);
	struct dirent *de;
	unsigned long top = 0, n;
	char dir[600];

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (!(n = gen_number(de->d_name)))
			continue;
		if (n > top)
			top = n;
		gen_dir(kr, n, dir, sizeof(dir));
		if (remove_home(dir) < 0)
			pn_warn("msg=\"old provision keyring not removed\" home=%s", dir);
		else
			pn_info("msg=\"old provision keyring removed\" home=%s", dir);
	}
	closedir(d);
	return top;
}

/*
 * sweep_flat - before generations, the keyring lay in POSTERN_GNUPGHOME
 * itself: its public keys go (the retention bound holds for them too).
 * Only when the home holds no secret key, which provision never kept:
 * a directory with one is not a keyring of ours.
 */
static void sweep_flat(const prov_keyring *kr)
{
	static const char *const files[] = { "pubring.kbx", "pubring.kbx~", "trustdb.gpg" };
	char path[600];
	struct stat st;
	struct dirent *de;
	DIR *d;
	int secret = 0;

	snprintf(path, sizeof(path), "%s/pubring.kbx", kr->base);
	if (stat(path, &st) < 0)
		return;
	snprintf(path, sizeof(path), "%s/private-keys-v1.d", kr->base);
	if ((d = opendir(path))) {
		while (!secret && (de = readdir(d)))
			secret = strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
		closedir(d);
	}
	if (secret) {
		pn_warn("msg=\"POSTERN_GNUPGHOME holds a keyring with secret keys; left alone\" "
		    "home=%s", kr->base);
		return;
	}
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", kr->base, files[i]);
		if (unlink(path) < 0 && errno != ENOENT)
			pn_warn("msg=\"cannot remove the old keyring\" path=%s error=\"%s\"", path,
			    strerror(errno));
	}
	pn_info("msg=\"old provision keyring removed\" home=%s", kr->base);
}

/* open_next - the next generation's home, empty; 0 or -1 */
static int open_next(prov_keyring *kr)
{
	char dir[600];

	kr->gen = __atomic_add_fetch(kr->first ? &kr->first->seq : &kr->seq, 1,
	    __ATOMIC_SEQ_CST);
	gen_dir(kr, kr->gen, dir, sizeof(dir));
	if (!(kr->gpg = pn_gpg_open(dir, KR_S2K))) {
		pn_error("msg=\"provision keyring not usable\" home=%s", dir);
		return -1;
	}
	kr->born = prov_keyring_clock();
	return 0;
}

/* due - why the current generation must go ("keys", "age"), or NULL */
static const char *due(const prov_keyring *kr)
{
	if (!kr->gpg)
		return NULL;
	if (pn_gpg_keys_added(kr->gpg) >= kr->max_keys)
		return "keys";
	if (prov_keyring_clock() - kr->born >= kr->max_age)
		return "age";
	return NULL;
}

/* renew - replace the current generation by an empty one (lock held); 0 or -1 */
static int renew(prov_keyring *kr, const char *why)
{
	unsigned long keys = pn_gpg_keys_added(kr->gpg), gen = kr->gen;
	long age = prov_keyring_clock() - kr->born;

	if (pn_gpg_remove(&kr->gpg) < 0)
		pn_warn("msg=\"old provision keyring not all removed; removed at the next start\" "
		    "generation=%lu", gen);
	pn_metrics_add("postern_provision_keyring_renewals_total",
	    "provision keyrings replaced by an empty one", 1);
	pn_info("msg=\"provision keyring renewed\" reason=%s keys=%lu age_s=%ld generation=%lu",
	    why, keys, age, gen + 1);
	return open_next(kr);
}

/* prov_keyring_open - the keyring's first generation under base; NULL = cannot run */
prov_keyring *prov_keyring_open(const char *base, long max_keys, long max_age)
{
	prov_keyring *kr = pn_calloc(1, sizeof(*kr));

	pthread_mutex_init(&kr->lock, NULL);
	pthread_mutex_init(&kr->list_lock, NULL);
	kr->base = pn_strdup(base);
	kr->max_keys = max_keys > 0 ? (unsigned long)max_keys : 1;
	kr->max_age = max_age > 0 ? max_age : 1;
	kr->seq = sweep(kr);
	if (open_next(kr) < 0) {
		prov_keyring_close(&kr);
		return NULL;
	}
	/* the generation's parent is ours too: made 0755 as a parent, it lists no secret */
	if (chmod(base, 0700) < 0)
		pn_debug("msg=\"cannot make POSTERN_GNUPGHOME 0700\" error=\"%s\"", strerror(errno));
	sweep_flat(kr);
	return kr;
}

/* prov_keyring_open_beside - another keyring in first's directory; NULL = cannot run */
prov_keyring *prov_keyring_open_beside(prov_keyring *first)
{
	prov_keyring *kr = pn_calloc(1, sizeof(*kr));

	pthread_mutex_init(&kr->lock, NULL);
	pthread_mutex_init(&kr->list_lock, NULL);
	kr->base = pn_strdup(first->base);
	kr->max_keys = first->max_keys;
	kr->max_age = first->max_age;
	kr->first = first;
	if (open_next(kr) < 0) {
		kr->first = NULL;       /* never in first's list */
		prov_keyring_close(&kr);
		return NULL;
	}
	pthread_mutex_lock(&first->list_lock);
	kr->next = first->beside;
	first->beside = kr;
	pthread_mutex_unlock(&first->list_lock);
	return kr;
}

/* prov_keyring_close - remove the current generation (a cache) and free (NULL-tolerant) */
void prov_keyring_close(prov_keyring **krp)
{
	prov_keyring *kr = krp ? *krp : NULL;

	if (!kr)
		return;
	*krp = NULL;
	if (kr->first) {
		pthread_mutex_lock(&kr->first->list_lock);
		for (prov_keyring **p = &kr->first->beside; *p; p = &(*p)->next)
			if (*p == kr) {
				*p = kr->next;
				break;
			}
		pthread_mutex_unlock(&kr->first->list_lock);
	}
	if (kr->gpg && pn_gpg_remove(&kr->gpg) < 0)
		pn_warn("msg=\"provision keyring not all removed; removed at the next start\" "
		    "generation=%lu", kr->gen);
	pthread_mutex_destroy(&kr->list_lock);
	pthread_mutex_destroy(&kr->lock);
	pn_free(&kr->base);
	free(kr);
}

/* prov_keyring_lock - the current generation, renewed first if due; NULL = not usable (not locked) */
pn_gpg *prov_keyring_lock(prov_keyring *kr, unsigned long *gen_r)
{
	const char *why;

	pthread_mutex_lock(&kr->lock);
	if ((why = due(kr)))
		(void)renew(kr, why);
	if (!kr->gpg && open_next(kr) < 0) {
		pthread_mutex_unlock(&kr->lock);
		return NULL;
	}
	if (gen_r)
		*gen_r = kr->gen;
	return kr->gpg;
}

/* prov_keyring_unlock - done with the handle prov_keyring_lock gave */
void prov_keyring_unlock(prov_keyring *kr)
{
	pn_metrics_set("postern_provision_keyring_keys",
	    "keys imported into provision's current keyring", (double)pn_gpg_keys_added(kr->gpg));
	pthread_mutex_unlock(&kr->lock);
}

/* tick_one - renew kr if it is due */
static void tick_one(prov_keyring *kr)
{
	const char *why;

	pthread_mutex_lock(&kr->lock);
	if ((why = due(kr)) && renew(kr, why) == 0)
		pn_metrics_set("postern_provision_keyring_keys",
		    "keys imported into provision's current keyring", 0);
	pthread_mutex_unlock(&kr->lock);
}

/* prov_keyring_tick - renew the keyring, and those beside it, if due, also when nobody uses them */
void prov_keyring_tick(prov_keyring *kr)
{
	if (!kr)
		return;
	tick_one(kr);
	pthread_mutex_lock(&kr->list_lock);
	for (prov_keyring *b = kr->beside; b; b = b->next)
		tick_one(b);
	pthread_mutex_unlock(&kr->list_lock);
}

/* prov_keyring_home - the directory of generation gen */
void prov_keyring_home(const prov_keyring *kr, unsigned long gen, char *out, size_t len)
{
	gen_dir(kr, gen, out, len);
}
