/*
 * kl_wkd.c - the addresses and answers of key discovery, as pure
 * functions: no I/O, no allocation but the caller's buffers.
 *
 * Web Key Directory (draft-koch-openpgp-webkey-service, section 3.1): the
 * key of local@domain lives at
 *   advanced: https://openpgpkey.<domain>/.well-known/openpgpkey/<domain>/hu/<hash>?l=<local>
 *   direct:   https://<domain>/.well-known/openpgpkey/hu/<hash>?l=<local>
 * where <hash> is the z-base-32 encoding of the SHA-1 of the local part
 * with ASCII upper case mapped to lower case (32 characters). The direct
 * method is only for a domain whose advanced host does not exist. The
 * answer is the key in binary (unarmored) form.
 *
 * Verifying Keyserver (VKS, keys.openpgp.org and hagrid): the key is at
 *   <keyserver>/vks/v1/by-email/<percent-encoded address>
 * and comes armored.
 *
 * kl_key_answer says whether an answer body can be a key at all - binary
 * packets starting with a public key packet, or an armored public key
 * block - before GnuPG is asked to look at it (a fuzz target reads it
 * with hostile bytes).
 */
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "postern/openpgp.h"
#include "kl_wkd.h"

#define ARMOR_PUBLIC "-----BEGIN PGP PUBLIC KEY BLOCK-----"

/* zbase32 - the z-base-32 text of 20 bytes (32 characters and a NUL) */
static void zbase32(const uint8_t in[20], char out[KL_WKD_HASH_LEN + 1])
{
	static const char alphabet[] = "ybndrfg8ejkmcpqxot1uwisza345h769";
	unsigned acc = 0;
	int bits = 0, o = 0;

	for (int i = 0; i < 20; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = alphabet[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	out[o] = '\0';
}

/* kl_wkd_hash - z-base-32(SHA-1(lower-case ASCII local part)) */
int kl_wkd_hash(const char *local, size_t len, char out[KL_WKD_HASH_LEN + 1])
{
	char low[KL_LOCAL_MAX];
	uint8_t digest[20];
	gsize dlen = sizeof(digest);
	GChecksum *c;

	if (len == 0 || len > sizeof(low))
		return -1;
	for (size_t i = 0; i < len; i++)
		low[i] = local[i] >= 'A' && local[i] <= 'Z' ? (char)(local[i] - 'A' + 'a') : local[i];
	c = g_checksum_new(G_CHECKSUM_SHA1);
	g_checksum_update(c, (const guchar *)low, len);
	g_checksum_get_digest(c, digest, &dlen);
	g_checksum_free(c);
	zbase32(digest, out);
	return 0;
}

/* unreserved - a character that stays as it is in a URL (RFC 3986 2.3) */
static int unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
}

/* pct - s[0..len) percent-encoded into out (size cap); -1 if it does not fit */
static int pct(const char *s, size_t len, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (unreserved(c)) {
			if (o + 1 >= cap)
				return -1;
			out[o++] = (char)c;
		} else {
			if (o + 3 >= cap)
				return -1;
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return 0;
}

/* domain_ok - lower-case letters, digits, '-' and '.', as the normaliser leaves it */
static int domain_ok(const char *d)
{
	if (!*d || strlen(d) > 253)
		return 0;
	for (const char *p = d; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
			return 0;
	return 1;
}

/* kl_wkd_urls - the advanced and the direct WKD URL of a normalised address */
int kl_wkd_urls(const char *address, char *advanced, char *direct, size_t cap)
{
	const char *at = strrchr(address, '@');
	char hash[KL_WKD_HASH_LEN + 1], local[3 * KL_LOCAL_MAX + 1];
	int n;

	if (!at || at == address || !domain_ok(at + 1))
		return -1;
	if (kl_wkd_hash(address, (size_t)(at - address), hash) < 0 ||
	    pct(address, (size_t)(at - address), local, sizeof(local)) < 0)
		return -1;
	n = snprintf(advanced, cap,
	    "https://openpgpkey.%s/.well-known/openpgpkey/%s/hu/%s?l=%s",
	    at + 1, at + 1, hash, local);
	if (n < 0 || (size_t)n >= cap)
		return -1;
	n = snprintf(direct, cap, "https://%s/.well-known/openpgpkey/hu/%s?l=%s",
	    at + 1, hash, local);
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* kl_vks_url - <keyserver>/vks/v1/by-email/<address> */
int kl_vks_url(const char *keyserver, const char *address, char *out, size_t cap)
{
	char enc[3 * 254 + 1];
	size_t kl = strlen(keyserver);
	int n;

	if (kl == 0 || strncmp(keyserver, "https://", 8) ||
	    pct(address, strlen(address), enc, sizeof(enc)) < 0)
		return -1;
	while (kl > 8 && keyserver[kl - 1] == '/')
		kl--;
	n = snprintf(out, cap, "%.*s/vks/v1/by-email/%s", (int)kl, keyserver, enc);
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* kl_key_answer - can body be a key? binary from a public key packet, or armored */
kl_answer kl_key_answer(const uint8_t *body, size_t len)
{
	pn_openpgp_packet pk;
	size_t off = 0;

	if (!body || len == 0)
		return KL_ANSWER_EMPTY;
	if (len > KL_ANSWER_MAX)
		return KL_ANSWER_JUNK;
	while (off < len && (body[off] == ' ' || body[off] == '\t' ||
	    body[off] == '\r' || body[off] == '\n'))
		off++;
	if (len - off >= sizeof(ARMOR_PUBLIC) - 1 &&
	    !memcmp(body + off, ARMOR_PUBLIC, sizeof(ARMOR_PUBLIC) - 1))
		return KL_ANSWER_ARMORED;
	if (pn_openpgp_packet_read(body, len, &pk) == 0 &&
	    pk.tag == PN_OPENPGP_TAG_PUBLIC_KEY)
		return KL_ANSWER_BINARY;
	return KL_ANSWER_JUNK;
}
