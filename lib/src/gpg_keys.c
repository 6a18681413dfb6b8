/*
 * gpg_keys.c - keys in the keyring: the import memo, export, keygen,
 * import, encrypt, decrypt and passwd of pn_gpg (gpg.h), and whether a
 * keyring key is usable for encryption.
 *
 * Secret keys given to decrypt and passwd are imported into the keyring and
 * remembered by a hash of the exact armored blob. The keyring must hold
 * exactly the protection the caller passed: if gpg reports the secret key
 * as already present but this handle did not import that very blob (an
 * older protection, a previous process), the key is deleted and imported
 * again - otherwise an old passphrase could keep unlocking a key after it
 * was re-protected. That holds per subkey: gpg counts a blob as "secret
 * unchanged" when any of its keys was there already. Deleting a key means
 * the keyring and the agent's material of every key grip (gpg_delete_key).
 * passwd removes the key afterwards for the same reason.
 *
 * passwd talks to the agent itself (PASSWD per key grip, over Assuan)
 * rather than through gpg --passwd, whose two passphrase prompts cannot be
 * told apart and come in a timing-dependent order (see gpg_agent.c); it
 * hands back the exported key only once a re-import shows secret material
 * for every key it re-protected (gpg's export skips what it cannot unlock,
 * silently).
 *
 * Encryption tries the "gpg --server" path first (gpg_server.c) and falls
 * back to GPGME here, which is the reference behaviour.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <assuan.h>
#include <gpgme.h>
#include <sodium.h>

#include "postern/gpg.h"
#include "postern/log.h"
#include "postern/mem.h"
#include "postern/openpgp.h"
#include "gpg_int.h"

/* tries at a key gpg-agent cannot export (pn_gpg_keygen) */
#define KEYGEN_ROUNDS 3

/* gpg_get_key - the keyring key with this fingerprint (secret: its secret part) */
gpgme_error_t gpg_get_key(pn_gpg *gpg, const char *fpr, int secret,
    gpgme_key_t *key_r)
{
	return gpgme_get_key(gpg->ctx, fpr, key_r, secret);
}

/*
 * gpg_delete_key - remove the key fpr completely: the public key and every
 * secret key of it from the keyring, and then, in the agent, the secret
 * material of every key grip it had plus the n extra grips the caller
 * knows from before. gpg's own deletion stops at the first subkey the
 * agent does not delete and does nothing without the public key; secret
 * material left behind would make a later import of the same key report
 * "unchanged" and keep the old protection. Absent is fine.
 */
pn_err gpg_delete_key(pn_gpg *gpg, const char *fpr,
    char (*extra)[PN_GPG_GRIP_LEN + 1], int nextra)
{
	char (*grips)[PN_GPG_GRIP_LEN + 1] = NULL;
	gpgme_key_t key = NULL;
	gpgme_error_t err;
	pn_err rc = PN_OK;
	int n = 0, cap = nextra;

	err = gpg_get_key(gpg, fpr, 0, &key);
	if (err && gpg_err_code(err) != GPG_ERR_EOF && gpg_err_code(err) != GPG_ERR_NO_PUBKEY)
		return gpg_map_err(gpg, err, "delete");
	if (key)
		for (gpgme_subkey_t sk = key->subkeys; sk; sk = sk->next)
			cap++;
	if (cap > 0)
		grips = pn_calloc((size_t)cap, sizeof(*grips));
	if (key) {
		for (gpgme_subkey_t sk = key->subkeys; sk; sk = sk->next)
			if (sk->keygrip && strlen(sk->keygrip) == PN_GPG_GRIP_LEN)
				memcpy(grips[n++], sk->keygrip, PN_GPG_GRIP_LEN + 1);
		err = gpgme_op_delete_ext(gpg->ctx, key,
		    GPGME_DELETE_ALLOW_SECRET | GPGME_DELETE_FORCE);
		gpg_key_release(&key);
		if (err && gpg_err_code(err) != GPG_ERR_NO_PUBKEY) {
			pn_warn("msg=\"gpg delete failed\" fpr=%s error=\"%s\"", fpr,
			    gpgme_strerror(err));
			rc = gpg_map_err(gpg, err, "delete");
		}
	}
	for (int i = 0; i < nextra; i++)
		if (extra[i][0])
			memcpy(grips[n++], extra[i], PN_GPG_GRIP_LEN + 1);
	if (gpg_agent_delete_grips(gpg, grips, n) < 0 && rc == PN_OK)
		rc = PN_ERR_INTERNAL;
	free(grips);
	return rc;
}

/* memo_find - the remembered import of exactly this blob, or NULL */
static memo *memo_find(pn_gpg *gpg, const uint8_t hash[32])
{
	for (int i = 0; i < PN_GPG_MEMO; i++)
		if (gpg->memo[i].used && !memcmp(gpg->memo[i].hash, hash, 32)) {
			gpg->memo[i].tick = ++gpg->tick;
			return &gpg->memo[i];
		}
	return NULL;
}

/* memo_forget - drop every memo of fingerprint fpr */
static void memo_forget(pn_gpg *gpg, const char *fpr)
{
	for (int i = 0; i < PN_GPG_MEMO; i++)
		if (gpg->memo[i].used && !strcmp(gpg->memo[i].fpr, fpr))
			memset(&gpg->memo[i], 0, sizeof(gpg->memo[i]));
}

/* memo_slot - a free slot, or the least recently used one */
static memo *memo_slot(pn_gpg *gpg)
{
	memo *best = &gpg->memo[0];

	for (int i = 0; i < PN_GPG_MEMO; i++) {
		if (!gpg->memo[i].used)
			return &gpg->memo[i];
		if (gpg->memo[i].tick < best->tick)
			best = &gpg->memo[i];
	}
	memset(best, 0, sizeof(*best));
	return best;
}

/* import_mem - gpgme import of the len bytes at key, no passphrase; *res_r its result (or NULL) */
static gpgme_error_t import_mem(pn_gpg *gpg, const void *key, size_t len,
    gpgme_import_result_t *res_r)
{
	gpgme_data_t in = NULL;
	gpgme_error_t err;

	*res_r = NULL;
	if ((err = gpgme_data_new_from_mem(&in, key, len, 0)) != 0)
		return err;
	gpg_pass_set(gpg, NULL);
	if ((err = gpgme_op_import(gpg->ctx, in)) == 0)
		*res_r = gpgme_op_import_result(gpg->ctx);
	gpg_data_release(&in);
	return err;
}

/* import_raw - gpgme import of key; the first key's fingerprint and counts */
static pn_err import_raw(pn_gpg *gpg, const void *key, size_t len,
    char fpr_r[PN_GPG_FPR_MAX], int *secret_read_r, int *secret_unchanged_r,
    int *secret_imported_r)
{
	gpgme_error_t err;
	gpgme_import_result_t res;

	fpr_r[0] = '\0';
	if ((err = import_mem(gpg, key, len, &res)) != 0)
		return gpg_map_err(gpg, err, "import");
	if (!res || res->considered == 0 || !res->imports)
		return PN_ERR_PARAMS;
	for (gpgme_import_status_t st = res->imports; st; st = st->next)
		if (st->fpr && st->result == 0) {
			snprintf(fpr_r, PN_GPG_FPR_MAX, "%s", st->fpr);
			break;
		}
	if (!fpr_r[0])
		return PN_ERR_PARAMS;
	if (res->imported > 0)
		gpg->added += (unsigned long)res->imported;
	*secret_read_r = res->secret_read;
	*secret_unchanged_r = res->secret_unchanged;
	*secret_imported_r = res->secret_imported;
	return PN_OK;
}

/*
 * ensure_key - make the keyring hold exactly this key blob (public, or
 * with secret the protection it carries); returns its memo entry.
 */
static pn_err ensure_key(pn_gpg *gpg, const void *key, size_t len, int secret,
    memo **memo_r)
{
	uint8_t hash[32];
	char fpr[PN_GPG_FPR_MAX];
	int sread = 0, sunchanged = 0, simported = 0;
	gpgme_key_t k = NULL;
	gpgme_error_t err;
	pn_err rc;
	memo *m;

	if (!key || len == 0 || len > PN_GPG_MAX_INPUT)
		return PN_ERR_PARAMS;
	crypto_generichash(hash, sizeof(hash), key, len, NULL, 0);
	if ((m = memo_find(gpg, hash)) && m->secret == secret) {
		*memo_r = m;
		return PN_OK;
	}
	if ((rc = import_raw(gpg, key, len, fpr, &sread, &sunchanged, &simported)) != PN_OK)
		return rc;
	if (secret) {
		if (sread == 0)
			return PN_ERR_PARAMS;
		if (sunchanged > 0) {
			/* the agent holds this key, or some of its subkeys,
			 * under whatever protection it had then: counted per
			 * key, so "some imported, some unchanged" is stale too */
			memo_forget(gpg, fpr);
			if ((rc = gpg_delete_key(gpg, fpr, NULL, 0)) != PN_OK)
				return rc;
			if ((rc = import_raw(gpg, key, len, fpr, &sread, &sunchanged,
			    &simported)) != PN_OK)
				return rc;
			if (simported == 0 || sunchanged > 0) {
				pn_warn("msg=\"stale secret key stays in gpg-agent\" fpr=%s", fpr);
				return PN_ERR_INTERNAL;
			}
		}
	}
	if ((err = gpg_get_key(gpg, fpr, 0, &k)) != 0)
		return gpg_map_err(gpg, err, "import");
	m = memo_slot(gpg);
	m->used = 1;
	m->secret = secret;
	m->tick = ++gpg->tick;
	memcpy(m->hash, hash, sizeof(hash));
	snprintf(m->fpr, sizeof(m->fpr), "%s", fpr);
	for (gpgme_subkey_t sk = k->subkeys; sk && m->nkeyids < PN_GPG_MAX_SUBKEYS;
	    sk = sk->next)
		if (sk->keyid)
			snprintf(m->keyids[m->nkeyids++], 17, "%s", sk->keyid);
	gpg_key_release(&k);
	*memo_r = m;
	return PN_OK;
}

/* pn_gpg_note_public - remember a public key another handle imported */
void pn_gpg_note_public(pn_gpg *gpg, const void *key, size_t len, const char *fpr)
{
	uint8_t hash[32];
	memo *m;

	if (!key || len == 0 || !fpr || !*fpr || strlen(fpr) >= PN_GPG_FPR_MAX)
		return;
	crypto_generichash(hash, sizeof(hash), key, len, NULL, 0);
	if (memo_find(gpg, hash))
		return;
	m = memo_slot(gpg);
	m->used = 1;
	m->secret = 0;
	m->tick = ++gpg->tick;
	memcpy(m->hash, hash, sizeof(hash));
	snprintf(m->fpr, sizeof(m->fpr), "%s", fpr);
}

/* gpg_export_keys - export of the keys patterns names (mode: 0, MINIMAL or SECRET), armored or binary */
pn_err gpg_export_keys(pn_gpg *gpg, const char **patterns, gpgme_export_mode_t mode,
    int armored, pn_buf *out)
{
	gpgme_data_t dh = NULL;
	gpgme_error_t err;
	sink s;
	pn_err rc;

	if ((err = gpg_sink_open(&s, &dh)) != 0)
		goto fail;
	gpgme_set_armor(gpg->ctx, armored);
	err = gpgme_op_export_ext(gpg->ctx, patterns, mode, dh);
	gpgme_set_armor(gpg->ctx, 1);
	if (err)
		goto fail;
	if (s.len == 0) {
		rc = PN_ERR_NOTFOUND;
		goto done;
	}
	gpg_data_release(&dh);
	gpg_sink_take(&s, out);
	return PN_OK;
fail:
	rc = s.overflow ? PN_ERR_TOOLARGE : gpg_map_err(gpg, err, "export");
done:
	gpg_data_release(&dh);
	gpg_sink_wipe(&s);
	return rc;
}

/* gpg_export_key - armored export of fpr (mode: 0, MINIMAL or SECRET) */
pn_err gpg_export_key(pn_gpg *gpg, const char *fpr, gpgme_export_mode_t mode,
    pn_buf *out)
{
	const char *patterns[2] = { fpr, NULL };

	return gpg_export_keys(gpg, patterns, mode, 1, out);
}

/*
 * revocation_remove - gpg stores a revocation certificate for every key it
 * generates (openpgp-revocs.d/<fpr>.rev); of a key that was removed it is
 * only litter, one file per key ever made.
 */
static void revocation_remove(pn_gpg *gpg, const char *fpr)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/openpgp-revocs.d/%s.rev", gpg->homedir, fpr);
	if (unlink(path) < 0 && errno != ENOENT)
		pn_debug("msg=\"cannot remove revocation certificate\" error=\"%s\"",
		    strerror(errno));
}

/*
 * keygen_once - one key made, exported and removed from the keyring;
 * *again_r set when the key was made but its secret part did not export
 */
static pn_err keygen_once(pn_gpg *gpg, const char *uid, const char *passphrase,
    char **fpr_r, pn_buf *pub_r, pn_buf *sec_r, int *again_r)
{
	gpgme_error_t err;
	gpgme_genkey_result_t res;
	char fpr[PN_GPG_FPR_MAX] = "";
	pn_buf pub = { 0 }, sec = { 0 };
	pn_err rc;
	unsigned int flags = GPGME_CREATE_NOEXPIRE | GPGME_CREATE_FORCE;

	*again_r = 0;
	if (!passphrase || !*passphrase)
		flags |= GPGME_CREATE_NOPASSWD;
	gpg_pass_set(gpg, passphrase);
	err = gpgme_op_createkey(gpg->ctx, uid, "future-default", 0, 0, NULL, flags);
	if (err) {
		rc = gpg_map_err(gpg, err, "keygen");
		goto done;
	}
	res = gpgme_op_genkey_result(gpg->ctx);
	if (!res || !res->fpr) {
		rc = PN_ERR_INTERNAL;
		goto done;
	}
	snprintf(fpr, sizeof(fpr), "%s", res->fpr);
	if ((rc = gpg_export_key(gpg, fpr, 0, &pub)) != PN_OK)
		goto done;
	gpg_pass_set(gpg, passphrase);
	if ((rc = gpg_export_key(gpg, fpr, GPGME_EXPORT_MODE_SECRET, &sec)) != PN_OK) {
		*again_r = 1;
		goto done;
	}
	*fpr_r = pn_strdup(fpr);
	*pub_r = pub;
	*sec_r = sec;
	pub.data = sec.data = NULL;
	rc = PN_OK;
done:
	gpg_pass_clear(gpg);
	if (fpr[0] && gpg_delete_key(gpg, fpr, NULL, 0) != PN_OK)
		pn_warn("msg=\"generated key left in keyring\" fpr=%s", fpr);
	if (fpr[0])
		revocation_remove(gpg, fpr);
	pn_buf_free(&pub);
	pn_buf_free(&sec);
	return rc;
}

/*
 * pn_gpg_keygen - ed25519 + cv25519 for uid, exported and removed.
 * gpg-agent now and then makes a key it cannot unprotect itself
 * ("Corrupted protection" at the secret export, for that key every time):
 * such a key is made again. (provision makes its keys in-process:
 * pn_gpg_keygen_here, below.)
 */
pn_err pn_gpg_keygen(pn_gpg *gpg, const char *uid, const char *passphrase,
    char **fpr_r, pn_buf *pub_r, pn_buf *sec_r)
{
	pn_err rc = PN_ERR_INTERNAL;
	int again = 1;

	if (!uid || !*uid || strlen(uid) > 512 || strpbrk(uid, "\r\n"))
		return PN_ERR_PARAMS;
	if (passphrase && !gpg_pass_valid(passphrase))
		return PN_ERR_PARAMS;
	for (int round = 1; again && round <= KEYGEN_ROUNDS; round++) {
		rc = keygen_once(gpg, uid, passphrase, fpr_r, pub_r, sec_r, &again);
		if (again && round < KEYGEN_ROUNDS)
			pn_warn("msg=\"gpg-agent cannot export a key it made; making it again\" "
			    "round=%d", round);
	}
	return rc;
}

/* pn_gpg_keygen_here - pn_gpg_keygen's kind of key, made in this process and armored as gpg exports it */
pn_err pn_gpg_keygen_here(const char *uid, const char *passphrase, char **fpr_r,
    pn_buf *pub_r, pn_buf *sec_r)
{
	pn_openpgp_newkey k;
	char *pub, *sec;
	size_t publen = 0, seclen = 0;

	*fpr_r = NULL;
	*pub_r = *sec_r = (pn_buf){ NULL, 0 };
	if (pn_openpgp_keygen(uid, passphrase, (uint32_t)time(NULL), &k) < 0)
		return PN_ERR_PARAMS;
	pub = pn_openpgp_armor(k.pub, k.publen, "PUBLIC KEY BLOCK", &publen);
	sec = pn_openpgp_armor(k.sec, k.seclen, "PRIVATE KEY BLOCK", &seclen);
	if (!pub || !sec) {                 /* only over PN_OPENPGP_MAX_ARMOR: never */
		free(pub);
		if (sec)
			sodium_memzero(sec, seclen);
		free(sec);
		pn_openpgp_newkey_free(&k);
		return PN_ERR_INTERNAL;
	}
	*fpr_r = pn_strdup(k.fpr);
	*pub_r = (pn_buf){ (uint8_t *)pub, publen };
	*sec_r = (pn_buf){ (uint8_t *)sec, seclen };
	pn_openpgp_newkey_free(&k);
	return PN_OK;
}

/* pn_gpg_import_public_all - n public keys in one run */
pn_err pn_gpg_import_public_all(pn_gpg *gpg, const void *keys, size_t len, size_t n)
{
	gpgme_error_t err;
	gpgme_import_result_t res;
	size_t ok = 0;
	pn_err rc;

	if (!keys || len == 0 || len > PN_GPG_MAX_INPUT || n == 0)
		return PN_ERR_PARAMS;
	if (memmem(keys, len, "PRIVATE KEY BLOCK", 17))
		return PN_ERR_PERM;
	if ((err = import_mem(gpg, keys, len, &res)) != 0) {
		rc = gpg_map_err(gpg, err, "import");
		goto done;
	}
	if (!res || res->considered == 0) {
		rc = res ? PN_ERR_PARAMS : PN_ERR_INTERNAL;
		goto done;
	}
	if (res->imported > 0)
		gpg->added += (unsigned long)res->imported;
	if (res->secret_read > 0) {
		for (gpgme_import_status_t st = res->imports; st; st = st->next)
			if (st->fpr) {
				memo_forget(gpg, st->fpr);
				if (gpg_delete_key(gpg, st->fpr, NULL, 0) != PN_OK)
					pn_warn("msg=\"refused secret key left in keyring\" fpr=%s",
					    st->fpr);
			}
		rc = PN_ERR_PERM;
		goto done;
	}
	for (gpgme_import_status_t st = res->imports; st; st = st->next)
		if (st->fpr && st->result == 0)
			ok++;
	if (res->considered < 0 || (size_t)res->considered != n || ok != n) {
		pn_warn("msg=\"import incomplete\" keys=%zu considered=%d imported=%zu", n,
		    res->considered, ok);
		rc = PN_ERR_INTERNAL;
		goto done;
	}
	rc = PN_OK;
done:
	gpg_pass_clear(gpg);
	return rc;
}

/* pn_gpg_keys_added - keys this handle's imports added to its keyring */
unsigned long pn_gpg_keys_added(const pn_gpg *gpg)
{
	return gpg ? gpg->added : 0;
}

/*
 * import_one - pn_gpg_import; with public_only, pn_gpg_import_public:
 * secret key material is refused and removed again
 */
static pn_err import_one(pn_gpg *gpg, const void *key, size_t len, int public_only,
    char **fpr_r)
{
	char fpr[PN_GPG_FPR_MAX];
	int sread = 0, sunchanged = 0, simported = 0;
	pn_err rc;

	if (!key || len == 0 || len > PN_GPG_MAX_INPUT)
		return PN_ERR_PARAMS;
	if (public_only && memmem(key, len, "PRIVATE KEY BLOCK", 17))
		return PN_ERR_PERM;
	rc = import_raw(gpg, key, len, fpr, &sread, &sunchanged, &simported);
	gpg_pass_clear(gpg);
	if (rc != PN_OK)
		return rc;
	if (public_only && sread > 0) {
		memo_forget(gpg, fpr);
		if (gpg_delete_key(gpg, fpr, NULL, 0) != PN_OK)
			pn_warn("msg=\"refused secret key left in keyring\" fpr=%s", fpr);
		return PN_ERR_PERM;
	}
	if (fpr_r)
		*fpr_r = pn_strdup(fpr);
	return PN_OK;
}

/* pn_gpg_import - import key material; fingerprint of the first key */
pn_err pn_gpg_import(pn_gpg *gpg, const void *key, size_t len, char **fpr_r)
{
	return import_one(gpg, key, len, 0, fpr_r);
}

/* pn_gpg_import_public - import public keys only; secret material is refused and removed */
pn_err pn_gpg_import_public(pn_gpg *gpg, const void *key, size_t len, char **fpr_r)
{
	return import_one(gpg, key, len, 1, fpr_r);
}

/* encrypt_once - ensure the key is in the keyring and encrypt to it, armored or binary */
static pn_err encrypt_once(pn_gpg *gpg, int armored, const void *pubkey, size_t pubkey_len,
    const void *plain, size_t plain_len, pn_buf *cipher_r, char *fpr_r)
{
	gpgme_data_t in = NULL, out = NULL;
	gpgme_error_t err;
	gpgme_encrypt_result_t res;
	memo *m = NULL;
	sink s = { 0 };
	pn_err rc;
	char recp[PN_GPG_FPR_MAX + 2];

	if (!plain || plain_len > PN_GPG_MAX_INPUT)
		return PN_ERR_PARAMS;
	if ((rc = ensure_key(gpg, pubkey, pubkey_len, 0, &m)) != PN_OK)
		return rc;
	snprintf(recp, sizeof(recp), "%s", m->fpr);
	snprintf(fpr_r, PN_GPG_FPR_MAX, "%s", m->fpr);
	memset(&s, 0, sizeof(s));
	s.max = PN_GPG_MAX_OUTPUT;
	if ((rc = gpg_server_encrypt(gpg, armored, recp, plain, plain_len, &s)) != PN_ERR_TEMP) {
		if (rc == PN_OK)
			gpg_sink_take(&s, cipher_r);
		goto done;
	}
	gpg_sink_wipe(&s);
	if ((err = gpgme_data_new_from_mem(&in, plain, plain_len, 0)) != 0)
		goto fail;
	if ((err = gpg_sink_open(&s, &out)) != 0)
		goto fail;
	gpg_pass_set(gpg, NULL);
	gpgme_set_armor(gpg->ctx, armored);
	err = gpgme_op_encrypt_ext(gpg->ctx, NULL, recp,
	    GPGME_ENCRYPT_ALWAYS_TRUST | GPGME_ENCRYPT_NO_COMPRESS, in, out);
	gpgme_set_armor(gpg->ctx, 1);
	res = gpgme_op_encrypt_result(gpg->ctx);
	if (res && res->invalid_recipients) {
		rc = PN_ERR_PARAMS;
		goto done;
	}
	if (err)
		goto fail;
	gpg_data_release(&out);
	gpg_sink_take(&s, cipher_r);
	rc = PN_OK;
	goto done;
fail:
	rc = s.overflow ? PN_ERR_TOOLARGE : gpg_map_err(gpg, err, "encrypt");
done:
	gpg_data_release(&in);
	gpg_data_release(&out);
	gpg_sink_wipe(&s);
	return rc;
}

/*
 * encrypt - encrypt to one public key, uncompressed. If the key this
 * handle imported earlier has gone from the keyring (removed by another
 * user of the homedir), it is imported again and tried once more.
 */
static pn_err encrypt(pn_gpg *gpg, int armored, const void *pubkey, size_t pubkey_len,
    const void *plain, size_t plain_len, pn_buf *cipher_r)
{
	char fpr[PN_GPG_FPR_MAX] = "";
	pn_err rc = encrypt_once(gpg, armored, pubkey, pubkey_len, plain, plain_len, cipher_r,
	    fpr);

	if (rc == PN_ERR_PARAMS && fpr[0] && !pn_gpg_key_usable(gpg, fpr)) {
		memo_forget(gpg, fpr);
		rc = encrypt_once(gpg, armored, pubkey, pubkey_len, plain, plain_len, cipher_r,
		    fpr);
	}
	return rc;
}

/* pn_gpg_encrypt - encrypt to one public key, armored */
pn_err pn_gpg_encrypt(pn_gpg *gpg, const void *pubkey, size_t pubkey_len,
    const void *plain, size_t plain_len, pn_buf *cipher_r)
{
	return encrypt(gpg, 1, pubkey, pubkey_len, plain, plain_len, cipher_r);
}

/* pn_gpg_encrypt_binary - encrypt to one public key, binary OpenPGP */
pn_err pn_gpg_encrypt_binary(pn_gpg *gpg, const void *pubkey, size_t pubkey_len,
    const void *plain, size_t plain_len, pn_buf *cipher_r)
{
	return encrypt(gpg, 0, pubkey, pubkey_len, plain, plain_len, cipher_r);
}

/*
 * pn_gpg_encrypt_pieces - binary, the ciphertext handed on as gpg writes
 * it; without the server, the whole ciphertext cut the same way
 */
pn_err pn_gpg_encrypt_pieces(pn_gpg *gpg, const void *pubkey, size_t pubkey_len,
    const void *plain, size_t plain_len, const pn_gpg_pieces *out)
{
	pn_buf c = { NULL, 0 };
	memo *m = NULL;
	int handed = 0;
	pn_err rc;

	if (!plain || plain_len > PN_GPG_MAX_INPUT || !gpg_pieces_valid(out))
		return PN_ERR_PARAMS;
	if ((rc = ensure_key(gpg, pubkey, pubkey_len, 0, &m)) != PN_OK)
		return rc;
	rc = gpg_server_encrypt_pieces(gpg, m->fpr, plain, plain_len, out, &handed);
	if (rc != PN_ERR_TEMP || handed)
		return rc;
	/* no server, or one that refused before the first piece: the reference path */
	if ((rc = encrypt(gpg, 0, pubkey, pubkey_len, plain, plain_len, &c)) != PN_OK)
		return rc;
	rc = gpg_pieces_whole(out, c.data, c.len);
	pn_buf_free(&c);
	return rc;
}

/* gpg_key_usable - valid, unexpired, unrevoked, with such an encryption subkey */
int gpg_key_usable(gpgme_key_t key)
{
	if (!key || key->revoked || key->expired || key->disabled || key->invalid)
		return 0;
	for (gpgme_subkey_t sk = key->subkeys; sk; sk = sk->next)
		if (sk->can_encrypt && !sk->revoked && !sk->expired &&
		    !sk->disabled && !sk->invalid)
			return 1;
	return 0;
}

/* pn_gpg_key_usable - does the keyring key fpr have a usable encryption subkey? */
int pn_gpg_key_usable(pn_gpg *gpg, const char *fpr)
{
	gpgme_key_t key = NULL;
	int ok;

	if (!fpr || !*fpr || gpg_get_key(gpg, fpr, 0, &key) != 0)
		return 0;
	ok = gpg_key_usable(key);
	gpg_key_release(&key);
	return ok;
}

/* for_key - was the message (per the decrypt result) encrypted to memo m? */
static int for_key(const memo *m, gpgme_decrypt_result_t res)
{
	if (!res)
		return 0;
	for (gpgme_recipient_t r = res->recipients; r; r = r->next)
		for (int i = 0; i < m->nkeyids; i++)
			if (r->keyid && !strcasecmp(r->keyid, m->keyids[i]))
				return 1;
	return 0;
}

/* decrypt_once - one decrypt; stale_fpr_r set when our key was missing */
static pn_err decrypt_once(pn_gpg *gpg, const void *seckey, size_t seckey_len,
    const char *passphrase, const void *cipher, size_t cipher_len,
    pn_buf *plain_r, char *stale_fpr_r)
{
	gpgme_data_t in = NULL, out = NULL;
	gpgme_error_t err;
	gpgme_decrypt_result_t res;
	memo *m = NULL;
	sink s = { 0 };
	pn_err rc;

	if (!cipher || cipher_len == 0 || cipher_len > PN_GPG_MAX_INPUT)
		return PN_ERR_PARAMS;
	if (passphrase && !gpg_pass_valid(passphrase))
		return PN_ERR_PARAMS;
	if ((rc = ensure_key(gpg, seckey, seckey_len, 1, &m)) != PN_OK)
		return rc;
	if ((err = gpgme_data_new_from_mem(&in, cipher, cipher_len, 0)) != 0)
		goto fail;
	if ((err = gpg_sink_open(&s, &out)) != 0)
		goto fail;
	gpg_pass_set(gpg, passphrase);
	gpg->ps.need_hint = 1;
	err = gpgme_op_decrypt(gpg->ctx, in, out);
	res = gpgme_op_decrypt_result(gpg->ctx);
	if (err) {
		if (s.overflow) {
			rc = PN_ERR_TOOLARGE;
			goto done;
		}
		if (!for_key(m, res)) {
			rc = PN_ERR_PARAMS;     /* not OpenPGP, or not for this key */
			goto done;
		}
		if (gpg->ps.calls > 0 && gpg_err_code(err) != GPG_ERR_BAD_DATA &&
		    gpg_err_code(err) != GPG_ERR_INV_PACKET) {
			rc = PN_ERR_PERM;       /* asked for the passphrase and failed */
			goto done;
		}
		if (gpg->ps.calls == 0 && gpg_err_code(err) == GPG_ERR_NO_SECKEY) {
			/* for our key, yet no secret key: gone from the keyring */
			snprintf(stale_fpr_r, PN_GPG_FPR_MAX, "%s", m->fpr);
		}
		goto fail;
	}
	if (!for_key(m, res)) {
		rc = PN_ERR_PARAMS;
		goto done;
	}
	gpg_data_release(&out);
	gpg_sink_take(&s, plain_r);
	rc = PN_OK;
	goto done;
fail:
	rc = gpg_map_err(gpg, err, "decrypt");
	if (rc == PN_ERR_INTERNAL && gpg_err_code(err) == GPG_ERR_DECRYPT_FAILED)
		rc = PN_ERR_PARAMS;
done:
	gpg_pass_clear(gpg);
	gpg_data_release(&in);
	gpg_data_release(&out);
	gpg_sink_wipe(&s);
	return rc;
}

/* pn_gpg_hold_secret - the keyring holds this blob's copy of its key */
pn_err pn_gpg_hold_secret(pn_gpg *gpg, const void *seckey, size_t seckey_len)
{
	memo *m;

	return ensure_key(gpg, seckey, seckey_len, 1, &m);
}

/*
 * pn_gpg_decrypt - decrypt with the given protected secret key; if the key
 * this handle imported has gone from the keyring, import it and try again.
 */
pn_err pn_gpg_decrypt(pn_gpg *gpg, const void *seckey, size_t seckey_len,
    const char *passphrase, const void *cipher, size_t cipher_len,
    pn_buf *plain_r)
{
	char stale[PN_GPG_FPR_MAX] = "";
	pn_err rc = decrypt_once(gpg, seckey, seckey_len, passphrase, cipher,
	    cipher_len, plain_r, stale);

	if (rc != PN_OK && stale[0]) {
		memo_forget(gpg, stale);
		stale[0] = '\0';
		rc = decrypt_once(gpg, seckey, seckey_len, passphrase, cipher,
		    cipher_len, plain_r, stale);
	}
	return rc;
}

/*
 * secret_grips - the key grips of fpr's keys that have secret material
 * (the primary key first); *n_r of them, at most max. PN_ERR_PARAMS if
 * there is none.
 */
static pn_err secret_grips(pn_gpg *gpg, const char *fpr,
    char (*grips)[PN_GPG_GRIP_LEN + 1], int max, int *n_r)
{
	gpgme_key_t key = NULL;
	gpgme_error_t err;
	pn_err rc = PN_OK;
	int n = 0;

	*n_r = 0;
	if ((err = gpg_get_key(gpg, fpr, 1, &key)) != 0)
		return gpg_map_err(gpg, err, "passwd");
	for (gpgme_subkey_t sk = key->subkeys; sk; sk = sk->next) {
		if (!sk->secret)
			continue;
		if (!sk->keygrip || strlen(sk->keygrip) != PN_GPG_GRIP_LEN || n == max) {
			rc = PN_ERR_PARAMS;
			break;
		}
		memcpy(grips[n++], sk->keygrip, PN_GPG_GRIP_LEN + 1);
	}
	gpg_key_release(&key);
	if (rc == PN_OK && n == 0)
		rc = PN_ERR_PARAMS;
	if (rc == PN_OK)
		*n_r = n;
	return rc;
}

/*
 * passwd_check - does the armored secret key blob carry secret material
 * for each of the n grips? The keyring and agent are emptied of fpr, the
 * blob imported and the agent asked for every grip; gpg's export skips a
 * subkey it cannot unlock with the passphrase given, silently, so this is
 * what tells a complete copy from a broken one. The export unlocked each
 * key it wrote with the new passphrase: a complete copy opens with it.
 */
static pn_err passwd_check(pn_gpg *gpg, const char *fpr, const pn_buf *blob,
    char (*grips)[PN_GPG_GRIP_LEN + 1], int n)
{
	char ifpr[PN_GPG_FPR_MAX];
	int sread = 0, sunchanged = 0, simported = 0, missing = 0;
	assuan_context_t ctx = NULL;
	pn_err rc;

	if ((rc = gpg_delete_key(gpg, fpr, grips, n)) != PN_OK)
		return rc;
	if ((rc = import_raw(gpg, blob->data, blob->len, ifpr, &sread, &sunchanged,
	    &simported)) != PN_OK)
		return rc;
	if (strcmp(ifpr, fpr) || sunchanged > 0 || simported == 0) {
		pn_warn("msg=\"re-protected key is incomplete\" fpr=%s keys=%d imported=%d "
		    "unchanged=%d", fpr, n, simported, sunchanged);
		return PN_ERR_INTERNAL;
	}
	if (gpg_agent_open(gpg, &ctx) != 0)
		return PN_ERR_INTERNAL;
	for (int i = 0; i < n; i++)
		if (!gpg_agent_has_key(ctx, grips[i]))
			missing++;
	assuan_release(ctx);
	if (missing) {
		pn_warn("msg=\"re-protected key is incomplete\" fpr=%s keys=%d missing=%d",
		    fpr, n, missing);
		return PN_ERR_INTERNAL;
	}
	return PN_OK;
}

/*
 * pn_gpg_passwd - re-protect a secret key: each of its keys in turn,
 * straight with the agent (see gpg_agent_passwd for why not through gpg),
 * then exported under the new passphrase, checked complete (passwd_check)
 * and removed from keyring and agent.
 */
pn_err pn_gpg_passwd(pn_gpg *gpg, const void *seckey, size_t seckey_len,
    const char *old_passphrase, const char *new_passphrase, pn_buf *sec_r)
{
	char grips[PN_GPG_MAX_SUBKEYS][PN_GPG_GRIP_LEN + 1];
	assuan_context_t ctx = NULL;
	memo *m = NULL;
	char fpr[PN_GPG_FPR_MAX] = "";
	pn_buf out = { 0 };
	int n = 0;
	pn_err rc;

	memset(grips, 0, sizeof(grips));
	if (!gpg_pass_valid(old_passphrase) || !gpg_pass_valid(new_passphrase) ||
	    !*new_passphrase)
		return PN_ERR_PARAMS;
	if ((rc = ensure_key(gpg, seckey, seckey_len, 1, &m)) != PN_OK)
		return rc;
	snprintf(fpr, sizeof(fpr), "%s", m->fpr);
	memo_forget(gpg, fpr);          /* whatever happens, the keyring changes */
	if ((rc = secret_grips(gpg, fpr, grips, PN_GPG_MAX_SUBKEYS, &n)) != PN_OK)
		goto done;
	if (gpg_agent_open(gpg, &ctx) != 0) {
		rc = PN_ERR_INTERNAL;
		goto done;
	}
	for (int i = 0; i < n && rc == PN_OK; i++)
		rc = gpg_agent_passwd(ctx, grips[i], old_passphrase, new_passphrase);
	assuan_release(ctx);
	if (rc != PN_OK)
		goto done;
	gpg_pass_set(gpg, new_passphrase);
	if ((rc = gpg_export_key(gpg, fpr, GPGME_EXPORT_MODE_SECRET, &out)) != PN_OK)
		goto done;
	gpg_pass_clear(gpg);
	if ((rc = passwd_check(gpg, fpr, &out, grips, n)) != PN_OK)
		goto done;
	*sec_r = out;
	out.data = NULL;
	out.len = 0;
done:
	gpg_pass_clear(gpg);
	pn_buf_free(&out);
	if (fpr[0] && gpg_delete_key(gpg, fpr, grips, n) != PN_OK)
		pn_warn("msg=\"re-protected key left in keyring\" fpr=%s", fpr);
	return rc;
}
