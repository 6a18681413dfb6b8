/*
 * gpg_check.c - is a public key that came from outside good for an
 * address? (pn_gpg_check_public)
 *
 * Keys reach Postern from places it does not control: a recipient's
 * upload in the web UI, a WKD or VKS server on the internet. Before one
 * is used for anything it must be exactly one public key (no secret
 * material, not a keyring of many), valid, not revoked, not expired, with
 * an encryption subkey that is none of those either, and a valid user id
 * carrying the address it is for. The packets are counted here with the
 * pure reader of openpgp.c; the rest is asked of gpg, which lists the key
 * from memory (gpgme_op_keylist_from_data_start, "gpg --import-options
 * show-only"): nothing is imported, so a rejected key never touches the
 * keyring, and keylookup's keyring (the organisation's own keys) never
 * gains a key from the internet.
 *
 * gpg's listing from memory is a dry-run import, and for an expired or
 * revoked key it needs the home's trustdb.gpg: without one gpg stops with
 * "can't open trustdb" and lists nothing, which would make such a key
 * look like no key at all. A home that has none gets one first (our
 * homes say "trust-model always", under which gpg never makes one; a
 * "--trust-model pgp --check-trustdb" does), once.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gpgme.h>

#include "postern/gpg.h"
#include "postern/log.h"
#include "postern/mem.h"
#include "postern/openpgp.h"
#include "gpg_int.h"

#define ARMOR_PUBLIC "-----BEGIN PGP PUBLIC KEY BLOCK-----"
#define ARMOR_PRIVATE "-----BEGIN PGP PRIVATE KEY BLOCK-----"

/* pn_key_verdict_str - a short English text for a verdict */
const char *pn_key_verdict_str(pn_key_verdict v)
{
	switch (v) {
	case PN_KEY_OK: return "usable";
	case PN_KEY_NOT_A_KEY: return "not an OpenPGP public key";
	case PN_KEY_SECRET: return "holds secret key material";
	case PN_KEY_MANY: return "more than one key";
	case PN_KEY_REVOKED: return "revoked";
	case PN_KEY_EXPIRED: return "expired";
	case PN_KEY_NO_ENCRYPTION: return "no usable encryption subkey";
	case PN_KEY_NO_ADDRESS: return "no user id with the address";
	}
	return "unknown";
}

/* skip_space - past leading white space */
static const char *skip_space(const char *p, size_t *len)
{
	while (*len > 0 && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) {
		p++;
		(*len)--;
	}
	return p;
}

/*
 * count_packets - the binary key's primary keys (tag 6) in *pub_r; -1 if
 * a packet is malformed, PN_KEY_SECRET if a secret key packet is there
 */
static int count_packets(const uint8_t *p, size_t n, int *pub_r)
{
	pn_openpgp_packet pk;

	*pub_r = 0;
	while (n > 0) {
		if (pn_openpgp_packet_read(p, n, &pk) < 0)
			return -1;
		if (pk.tag == PN_OPENPGP_TAG_SECRET_KEY || pk.tag == PN_OPENPGP_TAG_SECRET_SUBKEY)
			return PN_KEY_SECRET;
		if (pk.tag == PN_OPENPGP_TAG_PUBLIC_KEY)
			(*pub_r)++;
		p += pk.total;
		n -= pk.total;
	}
	return 0;
}

/* binary_key - the key as binary packets (*bin_r pn_malloc'd), or a verdict against it */
static pn_key_verdict binary_key(const void *key, size_t len, uint8_t **bin_r,
    size_t *binlen_r)
{
	const char *text = skip_space(key, &len);
	int npub = 0, c;

	*bin_r = NULL;
	if (len >= sizeof(ARMOR_PRIVATE) - 1 &&
	    !memcmp(text, ARMOR_PRIVATE, sizeof(ARMOR_PRIVATE) - 1))
		return PN_KEY_SECRET;
	if (len >= sizeof(ARMOR_PUBLIC) - 1 &&
	    !memcmp(text, ARMOR_PUBLIC, sizeof(ARMOR_PUBLIC) - 1)) {
		if (pn_openpgp_dearmor(text, len, "PUBLIC KEY BLOCK", bin_r, binlen_r) < 0)
			return PN_KEY_NOT_A_KEY;
	} else {
		*bin_r = pn_memdup(key, len);
		*binlen_r = len;
	}
	c = count_packets(*bin_r, *binlen_r, &npub);
	if (c == 0 && npub == 1)
		return PN_KEY_OK;
	pn_free(bin_r);
	if (c == PN_KEY_SECRET)
		return PN_KEY_SECRET;
	return c < 0 || npub == 0 ? PN_KEY_NOT_A_KEY : PN_KEY_MANY;
}

/* ensure_trustdb - create the home's trustdb.gpg if it has none (see above) */
static void ensure_trustdb(pn_gpg *gpg)
{
	extern char **environ;
	char path[600];
	const char *argv[] = { gpg_program(gpg), "--homedir", gpg->homedir, "--batch", "--quiet",
		"--trust-model", "pgp", "--check-trustdb", NULL };
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status;

	snprintf(path, sizeof(path), "%s/trustdb.gpg", gpg->homedir);
	if (access(path, F_OK) == 0)
		return;
	if (posix_spawn_file_actions_init(&fa) != 0)
		return;
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ) == 0)
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	posix_spawn_file_actions_destroy(&fa);
	if (access(path, F_OK) != 0)
		pn_warn("msg=\"gpg home has no trustdb: expired and revoked keys look like no key\"");
}

/* judge - the verdict on one listed key */
static pn_key_verdict judge(gpgme_key_t key, const char *address)
{
	int enc_expired = 0;

	if (key->revoked)
		return PN_KEY_REVOKED;
	if (key->expired)
		return PN_KEY_EXPIRED;
	if (key->invalid || key->disabled)
		return PN_KEY_NOT_A_KEY;
	if (!gpg_key_usable(key)) {
		for (gpgme_subkey_t sk = key->subkeys; sk; sk = sk->next)
			if (sk->can_encrypt && sk->expired)
				enc_expired = 1;
		return enc_expired ? PN_KEY_EXPIRED : PN_KEY_NO_ENCRYPTION;
	}
	return gpg_uid_matches(key, address) ? PN_KEY_OK : PN_KEY_NO_ADDRESS;
}

/* pn_gpg_check_public - one key from outside, judged for address */
pn_err pn_gpg_check_public(pn_gpg *gpg, const void *key, size_t len,
    const char *address, pn_key_verdict *verdict_r, char **fpr_r)
{
	gpgme_data_t dh = NULL;
	gpgme_key_t k = NULL, extra = NULL;
	gpgme_error_t err;
	uint8_t *bin = NULL;
	size_t binlen = 0;
	pn_err rc = PN_OK;

	*verdict_r = PN_KEY_NOT_A_KEY;
	if (fpr_r)
		*fpr_r = NULL;
	if (!key || len == 0 || len > PN_GPG_MAX_CHECK || !address || !*address)
		return PN_OK;
	if ((*verdict_r = binary_key(key, len, &bin, &binlen)) != PN_KEY_OK)
		return PN_OK;
	*verdict_r = PN_KEY_NOT_A_KEY;
	ensure_trustdb(gpg);
	if ((err = gpgme_data_new_from_mem(&dh, (const char *)bin, binlen, 0)) != 0) {
		rc = gpg_map_err(gpg, err, "check");
		goto done;
	}
	gpg_pass_set(gpg, NULL);
	if ((err = gpgme_op_keylist_from_data_start(gpg->ctx, dh, 0)) != 0) {
		rc = gpg_map_err(gpg, err, "check");
		goto done;
	}
	err = gpgme_op_keylist_next(gpg->ctx, &k);
	if (err == 0 && gpgme_op_keylist_next(gpg->ctx, &extra) == 0) {
		*verdict_r = PN_KEY_MANY;
	} else if (err == 0) {
		*verdict_r = judge(k, address);
		if (*verdict_r == PN_KEY_OK && fpr_r && k->fpr)
			*fpr_r = pn_strdup(k->fpr);
		else if (*verdict_r == PN_KEY_OK)
			*verdict_r = PN_KEY_NOT_A_KEY;
	}
	gpgme_op_keylist_end(gpg->ctx);
done:
	gpg_key_release(&k);
	gpg_key_release(&extra);
	gpg_data_release(&dh);
	pn_free(&bin);
	return rc;
}
