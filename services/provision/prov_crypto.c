/*
 * prov_crypto.c - the secrets of a temporary mailbox and what is derived
 * from them. Pure functions over libsodium; docs/security.md explains the
 * model. The derivations the web UI checks too (link hash, passphrase, PIN
 * verifier) live in lib (postern/guest.h); this file makes the secrets and
 * seals the event records.
 *
 *   link secret   32 random bytes; exists only in the invitation URL
 *                 (base64url, no padding: 43 characters)
 *   link_hash     BLAKE2b-256(link)                    -> mailstore, lookup
 *   PIN           POSTERN_PIN_LENGTH uniform digits     -> only the reply
 *   passphrase    base64url(BLAKE2b-256 keyed with link over
 *                 "postern/guest-key/v1\0" || PIN)     -> protects the guest key
 *   pin_verifier  BLAKE2b-256 keyed with link over
 *                 "postern/pin-verifier/v1\0" || PIN   -> mailstore
 *
 * The keyed hashes make every stored value useless without the link
 * secret: 10^6 PINs are nothing to brute-force, 2^256 links are.
 *
 * Event records (Redis, for idempotent retries across replicas) hold the
 * link and the PIN sealed (lib's pn_seal) under the server key; the
 * record id (a hash of event id and address) is sealed inside, so a record
 * copied to another key does not open.
 */
#include <ctype.h>
#include <string.h>

#include <sodium.h>

#include "postern/guest.h"
#include "postern/seal.h"
#include "prov.h"

#define RECORD_VERSION 1

/* prov_key_parse - 64 hex digits, or base64 / base64url of exactly 32 bytes */
int prov_key_parse(const char *text, uint8_t key[32])
{
	size_t n = 0, len;
	const char *end = NULL;

	if (!text)
		return -1;
	len = strlen(text);
	while (len > 0 && isspace((unsigned char)text[len - 1]))
		len--;
	if (len == 64 && sodium_hex2bin(key, 32, text, len, NULL, &n, &end) == 0 &&
	    n == 32 && end == text + len)
		return 0;
	static const int variants[] = {
		sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
		sodium_base64_VARIANT_URLSAFE, sodium_base64_VARIANT_URLSAFE_NO_PADDING,
	};
	for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++)
		if (sodium_base642bin(key, 32, text, len, NULL, &n, &end, variants[i]) == 0 &&
		    n == 32 && end == text + len)
			return 0;
	sodium_memzero(key, 32);
	return -1;
}

/* prov_link_new - a fresh link secret */
void prov_link_new(uint8_t link[PROV_LINK_BYTES])
{
	randombytes_buf(link, PROV_LINK_BYTES);
}

/* prov_pin_new - uniform digits (randombytes_uniform has no modulo bias) */
void prov_pin_new(char *pin, size_t len)
{
	for (size_t i = 0; i < len; i++)
		pin[i] = (char)('0' + randombytes_uniform(10));
	pin[len] = '\0';
}

/* prov_record_id - hex BLAKE2b-256(event_id || NUL || address) */
void prov_record_id(const char *event_id, const char *address, char out[65])
{
	crypto_generichash_state st;
	uint8_t h[32];

	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, (const uint8_t *)event_id, strlen(event_id) + 1);
	crypto_generichash_update(&st, (const uint8_t *)address, strlen(address));
	crypto_generichash_final(&st, h, sizeof(h));
	sodium_bin2hex(out, 65, h, sizeof(h));
}

/* record plaintext: version(1) id(32) link(32) pinlen(1) pin(<=12) */
#define RECORD_PLAIN_MAX (1 + 32 + PROV_LINK_BYTES + 1 + PROV_PIN_MAX)

/* prov_record_seal - the record, sealed (pn_seal: nonce || secretbox) */
size_t prov_record_seal(const uint8_t key[32], const char *record_id,
    const prov_secret *sec, uint8_t *out)
{
	uint8_t plain[RECORD_PLAIN_MAX];
	size_t n = 0, pinlen = strlen(sec->pin);

	plain[n++] = RECORD_VERSION;
	sodium_hex2bin(plain + n, 32, record_id, 64, NULL, NULL, NULL);
	n += 32;
	memcpy(plain + n, sec->link, PROV_LINK_BYTES);
	n += PROV_LINK_BYTES;
	plain[n++] = (uint8_t)pinlen;
	memcpy(plain + n, sec->pin, pinlen);
	n += pinlen;
	n = pn_seal(key, plain, n, out);
	sodium_memzero(plain, sizeof(plain));
	return n;
}

/* prov_record_open - check, decrypt and parse a record */
int prov_record_open(const uint8_t key[32], const char *record_id,
    const uint8_t *in, size_t len, prov_secret *sec)
{
	uint8_t plain[RECORD_PLAIN_MAX], id[32];
	size_t n, pinlen;
	int rc = -1;

	memset(sec, 0, sizeof(*sec));
	if (len < PN_SEAL_EXTRA + 1 + 32 + PROV_LINK_BYTES + 1 || len > PROV_RECORD_MAX)
		return -1;
	n = len - PN_SEAL_EXTRA;
	if (pn_unseal(key, in, len, plain) != 0)
		goto done;
	if (plain[0] != RECORD_VERSION)
		goto done;
	if (sodium_hex2bin(id, sizeof(id), record_id, 64, NULL, NULL, NULL) != 0 ||
	    sodium_memcmp(id, plain + 1, 32) != 0)
		goto done;
	pinlen = plain[1 + 32 + PROV_LINK_BYTES];
	if (pinlen > PROV_PIN_MAX || n != 1 + 32 + PROV_LINK_BYTES + 1 + pinlen)
		goto done;
	memcpy(sec->link, plain + 1 + 32, PROV_LINK_BYTES);
	memcpy(sec->pin, plain + 1 + 32 + PROV_LINK_BYTES + 1, pinlen);
	sec->pin[pinlen] = '\0';
	for (size_t i = 0; i < pinlen; i++)
		if (sec->pin[i] < '0' || sec->pin[i] > '9')
			goto done;
	rc = 0;
done:
	sodium_memzero(plain, sizeof(plain));
	if (rc != 0)
		sodium_memzero(sec, sizeof(*sec));
	return rc;
}

/*
 * box_key - the key of a mailbox's reissue box: BLAKE2b-256 keyed with the
 * server key over "postern/reissue-box/v1\0" || fingerprint, so a box
 * moved to another mailbox (another guest key) does not open
 */
static void box_key(const uint8_t key[32], const char *fpr, uint8_t out[32])
{
	pn_kdf(key, 32, "postern/reissue-box/v1", fpr, out);
}

/* prov_reissue_seal - the guest key's passphrase sealed for a later re-issue */
size_t prov_reissue_seal(const uint8_t key[32], const char *fpr,
    const char pass[PROV_PASS_TEXT], uint8_t out[PROV_BOX_MAX])
{
	uint8_t k[32];
	size_t n;

	box_key(key, fpr, k);
	n = pn_seal(k, (const uint8_t *)pass, PROV_PASS_TEXT - 1, out);
	sodium_memzero(k, sizeof(k));
	return n;
}

/* prov_reissue_open - the passphrase back; -1 if the box is not this key's */
int prov_reissue_open(const uint8_t key[32], const char *fpr, const uint8_t *in,
    size_t len, char pass_r[PROV_PASS_TEXT])
{
	uint8_t k[32];
	int rc = -1;

	memset(pass_r, 0, PROV_PASS_TEXT);
	if (len != PN_SEAL_EXTRA + PROV_PASS_TEXT - 1)
		return -1;
	box_key(key, fpr, k);
	rc = pn_unseal(k, in, len, (uint8_t *)pass_r);
	sodium_memzero(k, sizeof(k));
	pass_r[PROV_PASS_TEXT - 1] = '\0';
	if (rc != 0)
		sodium_memzero(pass_r, PROV_PASS_TEXT);
	return rc == 0 ? 0 : -1;
}
