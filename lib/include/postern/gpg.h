/*
 * gpg.h - OpenPGP through GPGME, wrapped once.
 *
 * A pn_gpg is one GnuPG home directory (its path must stay short: the agent
 * socket lives in it) used by one thread at a time. pn_gpg_open prepares
 * the directory: mode 0700, gpg.conf with "pinentry-mode loopback",
 * gpg-agent.conf with "s2k-count <n>" when asked for a fast profile (keys
 * protected by high-entropy secrets only — never a human password).
 * Passphrases are passed per call and never stored; GPGME's passphrase
 * callback writes them to the agent and they are wiped after. The agent
 * of a Postern homedir never caches passphrases (default-cache-ttl 0):
 * every private-key operation must be given the right one. Passphrases
 * are one line of text (no CR or LF, at most 4096 bytes).
 *
 * Keys live in mailstore, not in these keyrings: a generated key is
 * exported and deleted from the keyring (a batch of them stays in a
 * homedir of its own, which is then removed whole); public keys used for
 * encryption are imported on first use (cached by fingerprint). Nothing
 * here removes them again, so such a keyring only grows (and GnuPG 2.2
 * rewrites the whole keybox file for every key it adds): a service that
 * uses its keyring as a cache renews the home now and then, counting with
 * pn_gpg_keys_added (provision: prov_keyring.c). A keyring that is the
 * source of keys (keylookup's) is never renewed.
 */
#ifndef POSTERN_GPG_H
#define POSTERN_GPG_H

#include <stddef.h>
#include <stdint.h>

#include "postern/err.h"

typedef struct pn_gpg pn_gpg;

typedef struct pn_buf {
	uint8_t *data;      /* pn_malloc'd, NUL-terminated for convenience */
	size_t len;
} pn_buf;
void pn_buf_free(pn_buf *buf);          /* wipes and frees; NULL-tolerant */

/*
 * pn_gpg_open - create homedir if needed (a relative path is taken from
 * the current directory; the absolute path must fit 80 characters) and
 * write its configuration. s2k_count 0 = GnuPG's calibrated default
 * (strong, slow). NULL with a log line if it cannot be used.
 */
pn_gpg *pn_gpg_open(const char *homedir, unsigned long s2k_count);
/* pn_gpg_close - close and stop the agent of this homedir */
void pn_gpg_close(pn_gpg **gpg);

/*
 * pn_gpg_keygen - ed25519 primary + cv25519 encryption subkey for uid
 * ("Name <addr>" or "<addr>"), protected by passphrase, no expiry.
 * Returns armored public and (protected) secret key and the fingerprint;
 * the key is removed from the keyring afterwards.
 */
pn_err pn_gpg_keygen(pn_gpg *gpg, const char *uid, const char *passphrase,
    char **fpr_r, pn_buf *pub_r, pn_buf *sec_r);

/*
 * pn_gpg_keygen_here - the same kind of key, made in this process
 * (pn_openpgp_keygen, openpgp_keygen.c): no gpg run, no keyring, well
 * under a millisecond. A passphrase is required. PN_ERR_PARAMS for a bad
 * uid (1..512 bytes, no CR or LF) or passphrase.
 */
pn_err pn_gpg_keygen_here(const char *uid, const char *passphrase, char **fpr_r,
    pn_buf *pub_r, pn_buf *sec_r);

/* One key to make (provision's key pool): the passphrase in, the key out. */
typedef struct pn_gpg_newkey {
	const char *passphrase;     /* in: 1..100 printable ASCII, no space at either end */
	char *fpr;                  /* out: caller frees */
	pn_buf pub;                 /* out: armored public key */
	pn_buf sec;                 /* out: armored secret key, protected by passphrase */
} pn_gpg_newkey;

/* pn_gpg_remove - pn_gpg_close that also deletes the homedir and everything in it; -1 if some is left */
int pn_gpg_remove(pn_gpg **gpg);

/* pn_gpg_import - import key material; fingerprint of the first key (fpr_r optional, caller frees) */
pn_err pn_gpg_import(pn_gpg *gpg, const void *key, size_t len, char **fpr_r);
/*
 * pn_gpg_import_public - the same for public keys only: input holding
 * secret key material is refused with PN_ERR_PERM (and nothing of it kept).
 */
pn_err pn_gpg_import_public(pn_gpg *gpg, const void *key, size_t len,
    char **fpr_r);

/*
 * pn_gpg_import_public_all - import n public keys (armored blocks or
 * binary, concatenated) with one gpg run: PN_OK only if it held exactly n
 * keys and each is in the keyring now; secret key material is refused
 * with PN_ERR_PERM (and nothing of it kept).
 */
pn_err pn_gpg_import_public_all(pn_gpg *gpg, const void *keys, size_t len, size_t n);

/*
 * pn_gpg_keys_added - how many keys imports through this handle have
 * added to its keyring since pn_gpg_open (explicit imports, and the ones
 * encrypt and decrypt make on first use; a key already there does not
 * count, nor does a generated key, which is removed again). 0 for NULL.
 */
unsigned long pn_gpg_keys_added(const pn_gpg *gpg);

/*
 * pn_gpg_note_public - the public key (armored, fingerprint fpr) is in
 * this handle's keyring already, put there by another handle on the same
 * home: encrypting to it will not import it again. Should it be missing
 * after all, encryption imports it as usual.
 */
void pn_gpg_note_public(pn_gpg *gpg, const void *key, size_t len, const char *fpr);

/*
 * pn_gpg_encrypt - encrypt plain to the public key (armored, imported on
 * first use), armored output, no compression, always-trust (the key comes
 * from our own store or a verified source). PN_ERR_PARAMS if the key has
 * no usable encryption subkey.
 */
pn_err pn_gpg_encrypt(pn_gpg *gpg, const void *pubkey, size_t pubkey_len,
    const void *plain, size_t plain_len, pn_buf *cipher_r);
/*
 * pn_gpg_encrypt_binary - the same as binary OpenPGP, without armor: 3/4
 * of the size, for ciphertext only Postern itself reads (stored messages;
 * gpg decrypts either kind). Its own "gpg --server", started on first use.
 */
pn_err pn_gpg_encrypt_binary(pn_gpg *gpg, const void *pubkey, size_t pubkey_len,
    const void *plain, size_t plain_len, pn_buf *cipher_r);

/*
 * pn_gpg_pieces - where pn_gpg_encrypt_pieces hands the ciphertext on: in
 * order, pieces of exactly `piece` bytes, then a last one of 1 to
 * `last_max` bytes (last set). seq counts from 0, so seq 0 with last set
 * is the whole ciphertext in one piece. each returns PN_OK to go on;
 * anything else stops the encryption and is what the call returns.
 */
typedef struct pn_gpg_pieces {
	size_t piece;
	size_t last_max;                /* >= piece */
	pn_err (*each)(void *arg, const uint8_t *data, size_t len, uint32_t seq, int last);
	void *arg;
} pn_gpg_pieces;

/*
 * pn_gpg_encrypt_pieces - pn_gpg_encrypt_binary for a large plaintext,
 * the ciphertext handed to out->each while gpg is still encrypting: the
 * plaintext goes in and the ciphertext comes out through pipes, so
 * neither is copied whole, and what each does with a piece (a round trip
 * to mailstore) overlaps gpg's work on the next. Should the server path
 * be unusable, the whole ciphertext is made the usual way and cut into
 * the same pieces. PN_ERR_TEMP if gpg failed after a piece was handed on:
 * the caller's pieces so far are then of no use.
 */
pn_err pn_gpg_encrypt_pieces(pn_gpg *gpg, const void *pubkey, size_t pubkey_len,
    const void *plain, size_t plain_len, const pn_gpg_pieces *out);

/*
 * pn_gpg_decrypt - decrypt with the secret key (armored, protected by
 * passphrase; imported for the call and kept in the keyring, cached).
 * PN_ERR_PERM if the passphrase is wrong, PN_ERR_PARAMS if cipher is not
 * OpenPGP or not for that key.
 */
pn_err pn_gpg_decrypt(pn_gpg *gpg, const void *seckey, size_t seckey_len,
    const char *passphrase, const void *cipher, size_t cipher_len,
    pn_buf *plain_r);

/*
 * pn_gpg_hold_secret - make the keyring hold the secret key (armored) under
 * this blob's own protection, as pn_gpg_decrypt does before it decrypts: a
 * copy of the same key imported earlier from another blob (another
 * session's, under another passphrase) is removed first, because gpg keeps
 * the protection it has and an import of the same key changes nothing. For
 * a caller that then hands the home to GnuPG itself, as the reply signer
 * does. PN_ERR_PARAMS if the blob holds no secret key.
 */
pn_err pn_gpg_hold_secret(pn_gpg *gpg, const void *seckey, size_t seckey_len);

/*
 * pn_gpg_passwd - re-protect a secret key (armored) from old to new
 * passphrase (old may be "" for an unprotected key); returns the newly
 * protected armored secret key, checked to carry secret material for every
 * key it had (primary and subkeys), each unlocked with new by the export.
 * The key is removed from the keyring and the agent afterwards.
 * PN_ERR_PERM if old is wrong, PN_ERR_INTERNAL if no complete copy came out.
 */
pn_err pn_gpg_passwd(pn_gpg *gpg, const void *seckey, size_t seckey_len,
    const char *old_passphrase, const char *new_passphrase, pn_buf *sec_r);

/*
 * pn_gpg_key_usable - is the keyring key with fpr valid, unexpired,
 * unrevoked, and does it have such an encryption subkey?
 */
int pn_gpg_key_usable(pn_gpg *gpg, const char *fpr);

/*
 * pn_gpg_find_key - keyring lookup by address (a normalised addr-spec,
 * matched exactly against user ids): fingerprint (caller frees) and
 * armored public key (minimal export) of the usable key with the newest
 * encryption subkey. PN_ERR_NOTFOUND if there is none.
 */
pn_err pn_gpg_find_key(pn_gpg *gpg, const char *address, char **fpr_r,
    pn_buf *pub_r);
/*
 * pn_gpg_find_keys - the same for n addresses (<= 10000) with one keyring
 * scan: fpr_r[i] and pub_r[i] set where a usable key exists, NULL/empty
 * elsewhere. On an error nothing is returned.
 */
pn_err pn_gpg_find_keys(pn_gpg *gpg, const char *const *addresses, size_t n,
    char **fpr_r, pn_buf *pub_r);

/* What pn_gpg_check_public thinks of a public key for an address. */
typedef enum pn_key_verdict {
	PN_KEY_OK = 0,              /* one usable key with the address as a user id */
	PN_KEY_NOT_A_KEY,           /* not OpenPGP, or no key in it */
	PN_KEY_SECRET,              /* it holds secret key material */
	PN_KEY_MANY,                /* more than one key */
	PN_KEY_REVOKED,             /* the key is revoked */
	PN_KEY_EXPIRED,             /* the key, or every encryption subkey, expired */
	PN_KEY_NO_ENCRYPTION,       /* no usable encryption subkey */
	PN_KEY_NO_ADDRESS           /* no valid user id with exactly this address */
} pn_key_verdict;

/* pn_key_verdict_str - a short English text for a verdict */
const char *pn_key_verdict_str(pn_key_verdict v);

/*
 * pn_gpg_check_public - is key (armored or binary, at most
 * PN_GPG_MAX_CHECK bytes) exactly one public key, valid, unrevoked,
 * unexpired, with a usable encryption subkey and a valid user id whose
 * address is address (compared case-insensitively)? The key is only
 * listed, never imported: the keyring of gpg stays as it was. PN_OK with
 * *verdict_r (and, for PN_KEY_OK, *fpr_r, caller frees); an error only
 * when gpg itself could not be run.
 */
#define PN_GPG_MAX_CHECK (1024UL * 1024)
pn_err pn_gpg_check_public(pn_gpg *gpg, const void *key, size_t len,
    const char *address, pn_key_verdict *verdict_r, char **fpr_r);

#endif
