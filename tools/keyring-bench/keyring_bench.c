/*
 * keyring_bench.c - what one new key and one encryption cost in a GnuPG
 * keyring of a given size, through pn_gpg (lib/src/gpg*.c) as provision uses it.
 *
 *   keyring_bench HOME KNOWN.asc NEWDIR N
 *
 * HOME is a GnuPG home whose keyring is already filled (the run script
 * copies a prepared one); KNOWN.asc one public key that is in it;
 * NEWDIR/<i>.asc (i = 0..) public keys that are not. Prints, medians of
 * N tries each:
 *   import    pn_gpg_import_public of one new key (one gpg --import run)
 *   batch8    pn_gpg_import_public_all of eight new keys (the key pool)
 *   encrypt   pn_gpg_encrypt of 10 KB to a key in the keyring (the
 *             "gpg --server" path, no import)
 *   first     pn_gpg_encrypt of 10 KB to a new key (import + encrypt,
 *             what every new mailbox and every sender's PIN costs)
 *   renew     pn_gpg_remove of HOME with its agent, then pn_gpg_open of an
 *             empty home and the first encryption there (agent and server
 *             start): what one renewal of provision's keyring costs
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "postern/gpg.h"
#include "postern/log.h"
#include "postern/mem.h"

#define MAXN 64

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	return v[n / 2];
}

static char *slurp(const char *path, size_t *len_r)
{
	FILE *fp = fopen(path, "r");
	char *buf;
	long n;

	if (!fp)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = pn_malloc((size_t)n + 1);
	if (fread(buf, 1, (size_t)n, fp) != (size_t)n) {
		fclose(fp);
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	fclose(fp);
	*len_r = (size_t)n;
	return buf;
}

static char *new_key(const char *dir, int i, size_t *len_r)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%d.asc", dir, i);
	char *k = slurp(path, len_r);
	if (!k) {
		fprintf(stderr, "missing %s\n", path);
		exit(1);
	}
	return k;
}

int main(int argc, char **argv)
{
	static char plain[10240];
	double t_imp[MAXN], t_b8[MAXN], t_enc[MAXN], t_first[MAXN], t0, t_rm, t_open, t_enc0;
	int n, next = 0;
	size_t klen;
	char *known, fpr_known[64] = "", *fpr = NULL, fresh[600];
	pn_buf c = { 0 };
	pn_gpg *g;

	if (argc != 5 || (n = atoi(argv[4])) < 1 || n > MAXN) {
		fprintf(stderr, "usage: keyring_bench HOME KNOWN.asc NEWDIR N(1..%d)\n", MAXN);
		return 2;
	}
	pn_log_init("keyring_bench", PN_LOG_WARN);
	memset(plain, 'x', sizeof(plain));
	if (!(known = slurp(argv[2], &klen)) || !(g = pn_gpg_open(argv[1], 65536)))
		return 1;
	/* the known key is in the keyring: note it (no import), as a pooled key is */
	if (pn_gpg_import_public(g, known, klen, &fpr) != PN_OK)
		return 1;
	snprintf(fpr_known, sizeof(fpr_known), "%s", fpr);
	pn_free(&fpr);
	/* warm up: agent and server running */
	if (pn_gpg_encrypt(g, known, klen, plain, sizeof(plain), &c) != PN_OK)
		return 1;
	pn_buf_free(&c);
	for (int i = 0; i < n; i++) {
		t0 = now_ms();
		if (pn_gpg_encrypt(g, known, klen, plain, sizeof(plain), &c) != PN_OK)
			return 1;
		t_enc[i] = now_ms() - t0;
		pn_buf_free(&c);
	}
	for (int i = 0; i < n; i++) {
		size_t len;
		char *k = new_key(argv[3], next++, &len);
		t0 = now_ms();
		if (pn_gpg_import_public(g, k, len, NULL) != PN_OK)
			return 1;
		t_imp[i] = now_ms() - t0;
		free(k);
	}
	for (int i = 0; i < n; i++) {
		size_t len;
		char *k = new_key(argv[3], next++, &len);
		t0 = now_ms();
		if (pn_gpg_encrypt(g, k, len, plain, sizeof(plain), &c) != PN_OK)
			return 1;
		t_first[i] = now_ms() - t0;
		pn_buf_free(&c);
		free(k);
	}
	for (int i = 0; i < n; i++) {
		size_t len = 0, l;
		char *all = NULL;
		for (int j = 0; j < 8; j++) {
			char *k = new_key(argv[3], next++, &l);
			all = pn_realloc(all, len + l);
			memcpy(all + len, k, l);
			len += l;
			free(k);
		}
		t0 = now_ms();
		if (pn_gpg_import_public_all(g, all, len, 8) != PN_OK)
			return 1;
		t_b8[i] = now_ms() - t0;
		free(all);
	}
	/* one renewal: the old home goes, an empty one comes, first use there */
	snprintf(fresh, sizeof(fresh), "%s.next", argv[1]);
	t0 = now_ms();
	if (pn_gpg_remove(&g) < 0)
		return 1;
	t_rm = now_ms() - t0;
	t0 = now_ms();
	if (!(g = pn_gpg_open(fresh, 65536)))
		return 1;
	t_open = now_ms() - t0;
	t0 = now_ms();
	if (pn_gpg_encrypt(g, known, klen, plain, sizeof(plain), &c) != PN_OK)
		return 1;
	t_enc0 = now_ms() - t0;
	pn_buf_free(&c);
	pn_gpg_remove(&g);
	printf("import %.1f ms  batch8 %.1f ms  encrypt %.1f ms  first %.1f ms  "
	    "renew: remove %.1f ms + open %.1f ms + first encrypt %.1f ms  (medians of %d)\n",
	    median(t_imp, n), median(t_b8, n), median(t_enc, n), median(t_first, n),
	    t_rm, t_open, t_enc0, n);
	free(known);
	return 0;
}
