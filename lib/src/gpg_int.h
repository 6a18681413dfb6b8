/*
 * gpg_int.h - what the layers of pn_gpg share; private to lib/src/gpg*.c.
 *
 * pn_gpg (gpg.h) is one GnuPG home directory behind one GPGME context.
 * Its code is in layers, one file each, every file using only those
 * above it in this list:
 *   gpg.c         the handle and its home directory: GPGME context,
 *                 output sink, passphrase callback, error mapping,
 *                 open, close, remove;
 *   gpg_agent.c   talking to the homedir's gpg-agent over Assuan
 *                 (passwd per key grip, complete key removal, stopping it);
 *   gpg_server.c  the "gpg --server" process: encryption without a fork;
 *   gpg_keys.c    keys in the keyring: the import memo, export, keygen,
 *                 encrypt, decrypt, passwd, is a key usable;
 *   gpg_find.c    the key finder (keylookup) and its cache;
 *   gpg_check.c   is a key from outside good for an address (listed, not imported).
 * (gpg.c's close and remove call down into the agent, the server and the
 * finder's cache, to stop and free what they hold.) The OpenPGP format
 * code underneath, pure, is openpgp.c (openpgp.h).
 *
 * This header is not installed. The struct and the gpg_* functions below
 * are for those files only; libgpg-error's own gpg_ names (gpg_err_*,
 * gpg_error*, gpg_strerror, gpg_strsource) are not used for ours.
 */
#ifndef POSTERN_GPG_INT_H
#define POSTERN_GPG_INT_H

#include <stddef.h>
#include <stdint.h>

#include <assuan.h>
#include <gpgme.h>

#include "postern/gpg.h"

#define PN_GPG_MAX_OUTPUT (256UL * 1024 * 1024)   /* bytes per operation */
#define PN_GPG_MAX_INPUT (256UL * 1024 * 1024)
#define PN_GPG_MEMO 256             /* imported blobs remembered */
#define PN_GPG_MAX_SUBKEYS 8
#define PN_GPG_FPR_MAX 64
#define PN_GPG_GRIP_LEN 40          /* a keygrip in hex */

/* What the passphrase callback hands out, and what it saw. */
typedef struct pass_state {
	const char *pass;            /* the one passphrase this operation may use */
	int calls;
	int bad;                     /* the agent said the previous one was wrong */
	int refused;                 /* we had nothing to give */
	int need_hint;               /* only for a secret key gpg names (not symmetric) */
} pass_state;

/* One imported key blob: which fingerprint and subkeys it brought. */
typedef struct memo {
	int used;
	int secret;
	unsigned long tick;
	uint8_t hash[32];
	char fpr[PN_GPG_FPR_MAX];
	int nkeyids;
	char keyids[PN_GPG_MAX_SUBKEYS][17];
} memo;

/* A remembered pn_gpg_find_keys answer for one address (gpg_find.c). */
typedef struct found found;

struct pn_gpg {
	gpgme_ctx_t ctx;
	found *found;                /* PN_GPG_FIND_SLOTS, allocated on first use */
	unsigned long found_stamp[5];   /* the keyring file they were read from */
	char *homedir;
	assuan_context_t srv[2];     /* "gpg --server" for encryption, armored [1] or
	                                binary [0] output (started on first use), or NULL */
	char *agent_sock;            /* the agent's socket, asked once (gpgconf) */
	int srv_fails;               /* failed starts; PN_GPG_SRV_TRIES = off */
	unsigned long added;         /* keys imported new into the keyring (pn_gpg_keys_added) */
	pass_state ps;
	unsigned long tick;
	memo memo[PN_GPG_MEMO];
};

/* A growable output buffer that wipes what it frees. */
typedef struct sink {
	uint8_t *data;
	size_t len, cap;
	size_t max;
	int overflow;
} sink;

/* ---- the handle (gpg.c) ---- */

/* gpg_sink_open - a GPGME data object writing into s (at most PN_GPG_MAX_OUTPUT) */
gpgme_error_t gpg_sink_open(sink *s, gpgme_data_t *dh_r);
/* gpg_sink_take - hand the sink's content to out (NUL-terminated) */
void gpg_sink_take(sink *s, pn_buf *out);
/* gpg_sink_wipe - wipe and free whatever the sink still holds */
void gpg_sink_wipe(sink *s);
/* gpg_data_release - gpgme_data_release that takes a pointer and clears it */
void gpg_data_release(gpgme_data_t *dh);
/* gpg_key_release - gpgme_key_unref that takes a pointer and clears it */
void gpg_key_release(gpgme_key_t *key);
/* gpg_pass_set - arm the passphrase callback for one operation with one passphrase (or NULL) */
void gpg_pass_set(pn_gpg *gpg, const char *pass);
/* gpg_pass_clear - forget the borrowed passphrase pointers */
void gpg_pass_clear(pn_gpg *gpg);
/* gpg_pass_valid - one line of text: a passphrase must not hold CR or LF */
int gpg_pass_valid(const char *p);
/* gpg_map_err - a GPGME error as pn_err; a refused passphrase is PERM */
pn_err gpg_map_err(pn_gpg *gpg, gpgme_error_t err, const char *what);
/* gpg_program - the gpg program GPGME runs for this handle */
const char *gpg_program(pn_gpg *gpg);

/* ---- the agent (gpg_agent.c) ---- */

/* gpg_agent_kill_all - gpgconf --homedir D --kill all */
void gpg_agent_kill_all(const char *homedir);
/* gpg_agent_kill - stop the homedir's agent if one runs and wait until it has exited */
void gpg_agent_kill(pn_gpg *gpg);
/* gpg_agent_open - an Assuan connection to the homedir's agent (started if need be), loopback pinentry */
gpg_error_t gpg_agent_open(pn_gpg *gpg, assuan_context_t *ctx_r);
/* gpg_agent_passwd - re-protect the agent's key grip from old to new passphrase */
pn_err gpg_agent_passwd(assuan_context_t ctx, const char *grip,
    const char *old_pass, const char *new_pass);
/* gpg_agent_has_key - does the agent hold secret material for grip? */
int gpg_agent_has_key(assuan_context_t ctx, const char *grip);
/* gpg_agent_delete_grips - remove the agent's secret material for each grip; -1 if some is left */
int gpg_agent_delete_grips(pn_gpg *gpg, char (*grips)[PN_GPG_GRIP_LEN + 1], int n);

/* ---- the encryption server (gpg_server.c) ---- */

/* gpg_server_stop - end the server process, if one runs */
void gpg_server_stop(pn_gpg *gpg);
/*
 * gpg_server_encrypt - encrypt to keyring key fpr through the server,
 * armored or binary; PN_ERR_TEMP: use GPGME
 */
pn_err gpg_server_encrypt(pn_gpg *gpg, int armored, const char *fpr, const void *plain,
    size_t plain_len, sink *s);
/*
 * gpg_server_encrypt_pieces - binary, to keyring key fpr, the ciphertext
 * handed to out as gpg writes it; PN_ERR_TEMP with *handed_r 0: use GPGME
 */
pn_err gpg_server_encrypt_pieces(pn_gpg *gpg, const char *fpr, const void *plain,
    size_t plain_len, const pn_gpg_pieces *out, int *handed_r);
/* gpg_pieces_valid - sizes the cutter can keep (and a callback) */
int gpg_pieces_valid(const pn_gpg_pieces *out);
/* gpg_pieces_whole - a whole ciphertext handed on in the pieces a stream gives */
pn_err gpg_pieces_whole(const pn_gpg_pieces *out, const uint8_t *data, size_t len);

/* ---- keys in the keyring (gpg_keys.c) ---- */

/* gpg_get_key - the keyring key with this fingerprint (secret: its secret part) */
gpgme_error_t gpg_get_key(pn_gpg *gpg, const char *fpr, int secret, gpgme_key_t *key_r);
/* gpg_delete_key - remove key fpr from keyring and agent, with n extra grips; absent is fine */
pn_err gpg_delete_key(pn_gpg *gpg, const char *fpr,
    char (*extra)[PN_GPG_GRIP_LEN + 1], int nextra);
/* gpg_export_keys - export of the keys patterns names (mode: 0, MINIMAL or SECRET), armored or binary */
pn_err gpg_export_keys(pn_gpg *gpg, const char **patterns, gpgme_export_mode_t mode,
    int armored, pn_buf *out);
/* gpg_export_key - armored export of fpr (mode: 0, MINIMAL or SECRET) */
pn_err gpg_export_key(pn_gpg *gpg, const char *fpr, gpgme_export_mode_t mode,
    pn_buf *out);
/* gpg_key_usable - valid, unexpired, unrevoked, with such an encryption subkey */
int gpg_key_usable(gpgme_key_t key);

/* ---- the key finder (gpg_find.c) ---- */

/* gpg_found_flush - forget every remembered answer */
void gpg_found_flush(pn_gpg *gpg);
/* gpg_uid_matches - a valid, unrevoked user id of key whose address is address (any case) */
int gpg_uid_matches(gpgme_key_t key, const char *address);

#endif
