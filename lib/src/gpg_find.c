/*
 * gpg_find.c - the key finder: which usable key the keyring holds for an
 * address (pn_gpg_find_key, pn_gpg_find_keys).
 *
 * keylookup asks for every send event, and a keyring scan forks gpg twice
 * (list, export), so the answers are remembered per address in a small
 * table on the handle, for as long as the keyring file is unchanged and
 * at most PN_GPG_FIND_TTL seconds (see pn_gpg_find_keys). gpg.c frees the
 * table with the handle.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <gpgme.h>

#include "postern/gpg.h"
#include "postern/log.h"
#include "postern/mem.h"
#include "gpg_int.h"

#define PN_GPG_MAX_FIND 10000       /* addresses per pn_gpg_find_keys */
#define PN_GPG_FIND_SLOTS 1024      /* addresses pn_gpg_find_keys remembers */
#define PN_GPG_FIND_TTL 30          /* seconds a remembered answer is used */

/* A remembered pn_gpg_find_keys answer for one address. */
struct found {
	char *address;               /* NULL: empty slot */
	char *fpr;                   /* NULL: no usable key */
	pn_buf pub;
	time_t at;
};

/* found_clear - empty one slot */
static void found_clear(found *f)
{
	pn_free(&f->address);
	pn_free(&f->fpr);
	pn_buf_free(&f->pub);
	f->at = 0;
}

/* gpg_found_flush - forget every remembered answer */
void gpg_found_flush(pn_gpg *gpg)
{
	if (!gpg->found)
		return;
	for (int i = 0; i < PN_GPG_FIND_SLOTS; i++)
		found_clear(&gpg->found[i]);
}

/* keyring_stamp - identity and version of the keyring file (zeros if none) */
static void keyring_stamp(const pn_gpg *gpg, unsigned long st_r[5])
{
	static const char *const names[] = { "pubring.kbx", "pubring.gpg" };
	char path[600];
	struct stat st;

	memset(st_r, 0, 5 * sizeof(st_r[0]));
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", gpg->homedir, names[i]);
		if (stat(path, &st) == 0) {
			st_r[0] = (unsigned long)st.st_dev;
			st_r[1] = (unsigned long)st.st_ino;
			st_r[2] = (unsigned long)st.st_size;
			st_r[3] = (unsigned long)st.st_mtim.tv_sec;
			st_r[4] = (unsigned long)st.st_mtim.tv_nsec;
			return;
		}
	}
}

/* found_slot - the slot for address (FNV-1a) */
static found *found_slot(pn_gpg *gpg, const char *address)
{
	uint32_t h = 2166136261u;

	for (const char *p = address; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return &gpg->found[h % PN_GPG_FIND_SLOTS];
}

/* newest_enc - creation time of the newest usable encryption subkey */
static long newest_enc(gpgme_key_t key)
{
	long t = 0;
	for (gpgme_subkey_t sk = key->subkeys; sk; sk = sk->next)
		if (sk->can_encrypt && !sk->revoked && !sk->expired &&
		    !sk->disabled && !sk->invalid && sk->timestamp > t)
			t = sk->timestamp;
	return t;
}

/* gpg_uid_matches - a valid, unrevoked user id of key with exactly this address */
int gpg_uid_matches(gpgme_key_t key, const char *address)
{
	for (gpgme_user_id_t u = key->uids; u; u = u->next)
		if (!u->revoked && !u->invalid && u->address &&
		    !strcasecmp(u->address, address))
			return 1;
	return 0;
}

/*
 * find_keys_scan - one keyring scan for n addresses: fpr_r[i] (caller
 * frees) and pub_r[i] for each address with a usable key, NULL otherwise.
 */
static pn_err find_keys_scan(pn_gpg *gpg, const char *const *addresses, size_t n,
    char **fpr_r, pn_buf *pub_r)
{
	const char **patterns = NULL;
	gpgme_key_t *best = NULL;
	gpgme_key_t key = NULL;
	gpgme_error_t err;
	pn_err rc = PN_OK;
	size_t i;

	if (n == 0)
		return PN_OK;
	if (n > PN_GPG_MAX_FIND)
		return PN_ERR_TOOLARGE;
	patterns = pn_calloc(n + 1, sizeof(*patterns));
	best = pn_calloc(n, sizeof(*best));
	for (i = 0; i < n; i++) {
		fpr_r[i] = NULL;
		memset(&pub_r[i], 0, sizeof(pub_r[i]));
		if (!addresses[i] || !*addresses[i] || strpbrk(addresses[i], "<>\r\n")) {
			rc = PN_ERR_PARAMS;
			goto done;
		}
	}
	for (i = 0; i < n; i++) {
		size_t len = strlen(addresses[i]) + 3;
		char *p = pn_malloc(len);
		snprintf(p, len, "<%s>", addresses[i]);
		patterns[i] = p;
	}
	gpg_pass_set(gpg, NULL);
	if ((err = gpgme_op_keylist_ext_start(gpg->ctx, patterns, 0, 0)) != 0)
		goto fail;
	while ((err = gpgme_op_keylist_next(gpg->ctx, &key)) == 0) {
		if (gpg_key_usable(key)) {
			for (i = 0; i < n; i++) {
				if (!gpg_uid_matches(key, addresses[i]))
					continue;
				if (!best[i] || newest_enc(key) > newest_enc(best[i])) {
					gpg_key_release(&best[i]);
					gpgme_key_ref(key);
					best[i] = key;
				}
			}
		}
		gpg_key_release(&key);
	}
	if (gpg_err_code(err) != GPG_ERR_EOF) {
		gpgme_op_keylist_end(gpg->ctx);
		goto fail;
	}
	for (i = 0; i < n; i++) {
		if (!best[i] || !best[i]->fpr)
			continue;
		if ((rc = gpg_export_key(gpg, best[i]->fpr, GPGME_EXPORT_MODE_MINIMAL,
		    &pub_r[i])) != PN_OK)
			goto done;
		fpr_r[i] = pn_strdup(best[i]->fpr);
	}
	goto done;
fail:
	rc = gpg_map_err(gpg, err, "keylist");
done:
	if (rc != PN_OK)
		for (i = 0; i < n; i++) {
			pn_free(&fpr_r[i]);
			pn_buf_free(&pub_r[i]);
		}
	for (i = 0; i < n; i++) {
		if (patterns && patterns[i])
			free((void *)patterns[i]);
		if (best)
			gpg_key_release(&best[i]);
	}
	free(patterns);
	free(best);
	return rc;
}

/*
 * pn_gpg_find_keys - find_keys_scan, remembering its answers: a keyring
 * scan forks gpg twice (list, export), and keylookup asks for every send
 * event. An answer is reused while the keyring file is the same file,
 * unchanged (inode, size, mtime) and for at most PN_GPG_FIND_TTL seconds,
 * which bounds how late a key's expiry is noticed; any import or deletion
 * changes the file and forgets everything.
 */
pn_err pn_gpg_find_keys(pn_gpg *gpg, const char *const *addresses, size_t n,
    char **fpr_r, pn_buf *pub_r)
{
	unsigned long stamp[5];
	const char **miss = NULL;
	size_t *where = NULL, nmiss = 0, i;
	char **mfpr = NULL;
	pn_buf *mpub = NULL;
	time_t now = time(NULL);
	pn_err rc = PN_OK;

	if (n == 0)
		return PN_OK;
	if (n > PN_GPG_MAX_FIND)
		return PN_ERR_TOOLARGE;
	for (i = 0; i < n; i++) {
		fpr_r[i] = NULL;
		memset(&pub_r[i], 0, sizeof(pub_r[i]));
		if (!addresses[i] || !*addresses[i] || strpbrk(addresses[i], "<>\r\n"))
			return PN_ERR_PARAMS;
	}
	if (!gpg->found)
		gpg->found = pn_calloc(PN_GPG_FIND_SLOTS, sizeof(*gpg->found));
	keyring_stamp(gpg, stamp);
	if (memcmp(stamp, gpg->found_stamp, sizeof(stamp))) {
		gpg_found_flush(gpg);
		memcpy(gpg->found_stamp, stamp, sizeof(stamp));
	}
	miss = pn_calloc(n, sizeof(*miss));
	where = pn_calloc(n, sizeof(*where));
	for (i = 0; i < n; i++) {
		found *f = found_slot(gpg, addresses[i]);
		if (f->address && !strcmp(f->address, addresses[i]) &&
		    now >= f->at && now - f->at < PN_GPG_FIND_TTL) {
			if (f->fpr) {
				fpr_r[i] = pn_strdup(f->fpr);
				pub_r[i].data = pn_memdup(f->pub.data, f->pub.len + 1);
				pub_r[i].len = f->pub.len;
			}
			continue;
		}
		where[nmiss] = i;
		miss[nmiss++] = addresses[i];
	}
	if (nmiss > 0) {
		mfpr = pn_calloc(nmiss, sizeof(*mfpr));
		mpub = pn_calloc(nmiss, sizeof(*mpub));
		if ((rc = find_keys_scan(gpg, miss, nmiss, mfpr, mpub)) != PN_OK) {
			for (i = 0; i < n; i++) {
				pn_free(&fpr_r[i]);
				pn_buf_free(&pub_r[i]);
			}
			goto done;
		}
		for (size_t k = 0; k < nmiss; k++) {
			found *f = found_slot(gpg, miss[k]);
			found_clear(f);
			f->address = pn_strdup(miss[k]);
			f->at = now;
			if (mfpr[k]) {
				f->fpr = pn_strdup(mfpr[k]);
				f->pub.data = pn_memdup(mpub[k].data, mpub[k].len + 1);
				f->pub.len = mpub[k].len;
			}
			fpr_r[where[k]] = mfpr[k];
			pub_r[where[k]] = mpub[k];
			mfpr[k] = NULL;
			memset(&mpub[k], 0, sizeof(mpub[k]));
		}
	}
done:
	free(mfpr);
	free(mpub);
	free(miss);
	free(where);
	return rc;
}

/* pn_gpg_find_key - keyring lookup of one address */
pn_err pn_gpg_find_key(pn_gpg *gpg, const char *address, char **fpr_r,
    pn_buf *pub_r)
{
	const char *a[1] = { address };
	char *fpr = NULL;
	pn_buf pub = { 0 };
	pn_err rc = pn_gpg_find_keys(gpg, a, 1, &fpr, &pub);

	if (rc != PN_OK)
		return rc;
	if (!fpr)
		return PN_ERR_NOTFOUND;
	*fpr_r = fpr;
	*pub_r = pub;
	return PN_OK;
}
