/*
 * prov_proof.c - a person proves a key: the challenge that "posternctl
 * reissue" (prov_ctl.c) and "posternctl revoke" (prov_revoke.c) answer.
 *
 * The bus certificate authenticates a program, not the person using it,
 * so a request that only a sender or an operator may make is done in two
 * calls:
 *   1. the challenge: a fresh 256-bit token encrypted to the person's
 *      OpenPGP key (the sender's, from keylookup; or the operator key,
 *      POSTERN_PROVISION_OPERATOR_KEY). Redis keeps
 *      prov:rt:<hex BLAKE2b(token)> -> the request it is for (a text the
 *      caller builds, "the binding") for five minutes - never the token;
 *   2. the redemption: the decrypted token with the same request. It
 *      proves the request when the kept binding is exactly the request's.
 *      The hash names the request for idempotency (a retry with the same
 *      token repeats nothing).
 * Only the holder of the secret key can decrypt the token.
 */
#include <string.h>

#include <sodium.h>

#include "postern/calls.h"
#include "postern/guest.h"
#include "postern/log.h"
#include "postern/pb.h"
#include "prov.h"

#define TOKEN_BYTES 32
#define TOKEN_TTL "300"

/* token_key - "prov:rt:<hex BLAKE2b(token)>", the hex into hex_r */
static char *token_key(pn_pool *pool, const uint8_t token[TOKEN_BYTES], char hex_r[65])
{
	uint8_t h[32];

	crypto_generichash(h, sizeof(h), token, TOKEN_BYTES, NULL, 0);
	sodium_bin2hex(hex_r, 65, h, sizeof(h));
	return pn_pool_printf(pool, "prov:rt:%s", hex_r);
}

const Postern__V1__KeyResult *prov_proof_sender_key(prov_state *st, pn_pool *pool,
    const char *address, pn_err *err_r)
{
	Postern__V1__KeyLookupResult *kl = NULL;
	char *addrs[1] = { (char *)address };
	const char *why;

	*err_r = pn_kl_lookup(st->bus, pool, addrs, 1, 1, &kl, &why);
	if (*err_r != PN_OK)
		return NULL;
	if (kl->results[0]->kind != POSTERN__V1__KEY_RESULT__KIND__KEY_FOUND ||
	    kl->results[0]->public_key.len == 0)
		return NULL;
	return kl->results[0];
}

pn_err prov_proof_challenge(prov_state *st, pn_pool *pool, const char *binding,
    const uint8_t *pub, size_t pub_len, ProtobufCBinaryData *challenge_r, const char **why_r)
{
	uint8_t token[TOKEN_BYTES];
	char text[PROV_LINK_TEXT], hex[65], *key;
	pn_buf cipher = { NULL, 0 };
	pn_gpg *gpg;
	pn_err err;

	randombytes_buf(token, sizeof(token));
	key = token_key(pool, token, hex);
	pn_b64url(text, sizeof(text), token, sizeof(token));
	sodium_memzero(token, sizeof(token));
	if (pn_redis_cmdv(st->redis, NULL, "SET", key, binding, "EX", TOKEN_TTL,
	    (char *)NULL) != PN_OK) {
		sodium_memzero(text, sizeof(text));
		*why_r = "Redis is unavailable";
		return PN_ERR_TEMP;
	}
	if (!(gpg = prov_keyring_lock(st->keyring, NULL))) {
		sodium_memzero(text, sizeof(text));
		*why_r = "GnuPG is not usable; try again";
		return PN_ERR_TEMP;
	}
	err = pn_gpg_encrypt(gpg, pub, pub_len, text, strlen(text), &cipher);
	prov_keyring_unlock(st->keyring);
	sodium_memzero(text, sizeof(text));
	if (err != PN_OK) {
		*why_r = "cannot encrypt the challenge to the key";
		return err == PN_ERR_TEMP ? err : PN_ERR_INTERNAL;
	}
	challenge_r->data = pn_pool_memdup(pool, cipher.data, cipher.len);
	challenge_r->len = cipher.len;
	pn_buf_free(&cipher);
	return PN_OK;
}

pn_err prov_proof_redeem(prov_state *st, pn_pool *pool, const char *binding,
    const ProtobufCBinaryData *token, char hex_r[65], const char **why_r)
{
	uint8_t raw[TOKEN_BYTES];
	redisReply *r = NULL;
	char *key;
	int ok;

	if (token->len != PROV_LINK_TEXT - 1 || pn_b64url_decode(raw, sizeof(raw),
	    (const char *)token->data, token->len) != TOKEN_BYTES) {
		*why_r = "the token is not valid";
		return PN_ERR_PERM;
	}
	key = token_key(pool, raw, hex_r);
	sodium_memzero(raw, sizeof(raw));
	if (pn_redis_cmdv(st->redis, &r, "GET", key, (char *)NULL) != PN_OK) {
		*why_r = "Redis is unavailable";
		return PN_ERR_TEMP;
	}
	ok = r->type == REDIS_REPLY_STRING && !strcmp(r->str, binding);
	pn_redis_free(&r);
	if (!ok) {
		*why_r = "the token is not valid (expired, or for another request)";
		return PN_ERR_PERM;
	}
	return PN_OK;
}
