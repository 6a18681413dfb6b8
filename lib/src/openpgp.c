/*
 * openpgp.c - the OpenPGP packet reader, v4 fingerprint, secret-key
 * match and opening, CRC24 and ASCII armor (openpgp.h), apart from
 * GnuPG. SHA and AES come from OpenSSL's libcrypto.
 *
 * provision's key pool checks with it that every key it hands out opens
 * with its passphrase, and armors keys the way gpg would; key generation
 * (openpgp_keygen.c) shares its S2K derivation. It was part of gpg.c; it
 * lives on its own because a parser of bytes another program may have
 * written must be tested with fixtures and fuzzed without a gpg-agent in
 * the way (lib/tests/openpgp_test.c). Everything here is pure: memory in, memory
 * out, no I/O, no state. A length is checked against what is left before
 * anything is read; what a key export never holds (partial body lengths,
 * indeterminate lengths, a key packet over 64 KiB) is refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <sodium.h>

#include "postern/mem.h"
#include "postern/openpgp.h"
#include "openpgp_int.h"

/* pn_openpgp_packet_read - the packet at p (n bytes left); -1 if malformed or of a length a key export never has */
int pn_openpgp_packet_read(const uint8_t *p, size_t n, pn_openpgp_packet *k)
{
	size_t hl, bl;

	if (n < 2 || !(p[0] & 0x80))
		return -1;
	if (p[0] & 0x40) {                  /* new format */
		k->tag = p[0] & 0x3f;
		if (p[1] < 192) {
			hl = 2;
			bl = p[1];
		} else if (p[1] < 224) {
			if (n < 3)
				return -1;
			hl = 3;
			bl = ((size_t)(p[1] - 192) << 8) + p[2] + 192;
		} else if (p[1] == 255) {
			if (n < 6)
				return -1;
			hl = 6;
			bl = (size_t)p[2] << 24 | (size_t)p[3] << 16 | (size_t)p[4] << 8 | p[5];
		} else {
			return -1;              /* partial body length */
		}
	} else {                            /* old format */
		k->tag = (p[0] >> 2) & 0x0f;
		switch (p[0] & 3) {
		case 0:
			hl = 2;
			bl = p[1];
			break;
		case 1:
			if (n < 3)
				return -1;
			hl = 3;
			bl = (size_t)p[1] << 8 | p[2];
			break;
		case 2:
			if (n < 5)
				return -1;
			hl = 5;
			bl = (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4];
			break;
		default:
			return -1;              /* indeterminate length */
		}
	}
	if (bl > n - hl)
		return -1;
	k->body = p + hl;
	k->len = bl;
	k->total = hl + bl;
	return 0;
}

/* pn_openpgp_split_keys - cut a binary export into exactly want keys, each opening with a packet of tag primary */
int pn_openpgp_split_keys(const uint8_t *data, size_t len, int primary,
    pn_openpgp_key *out, size_t want)
{
	size_t off = 0, k = 0;
	pn_openpgp_packet pk;

	while (off < len) {
		if (pn_openpgp_packet_read(data + off, len - off, &pk) < 0)
			return -1;
		if (pk.tag == primary) {
			if (k == want)
				return -1;
			out[k].data = data + off;
			out[k].len = 0;
			k++;
		} else if (k == 0) {
			return -1;
		}
		out[k - 1].len += pk.total;
		off += pk.total;
	}
	return k == want ? 0 : -1;
}

/* next_key_packet - the next key packet (of tag ta or tb) in key from *off on: 1, 0 at the end, -1 if malformed */
static int next_key_packet(const pn_openpgp_key *key, size_t *off, int ta, int tb,
    pn_openpgp_packet *pk)
{
	while (*off < key->len) {
		if (pn_openpgp_packet_read(key->data + *off, key->len - *off, pk) < 0)
			return -1;
		*off += pk->total;
		if (pk->tag == ta || pk->tag == tb)
			return 1;
	}
	return 0;
}

/* openpgp_hash_key - 0x99, the two-octet length, the key packet's body */
int openpgp_hash_key(EVP_MD_CTX *c, const uint8_t *body, size_t len)
{
	uint8_t head[3] = { 0x99, (uint8_t)(len >> 8), (uint8_t)len };

	return len <= 0xffff && EVP_DigestUpdate(c, head, sizeof(head)) == 1 &&
	    EVP_DigestUpdate(c, body, len) == 1;
}

/* openpgp_fpr_hex - upper-case hex, as gpg prints a fingerprint */
void openpgp_fpr_hex(const uint8_t fpr[20], char out[41])
{
	static const char hex[] = "0123456789ABCDEF";

	for (int i = 0; i < 20; i++) {
		out[2 * i] = hex[fpr[i] >> 4];
		out[2 * i + 1] = hex[fpr[i] & 15];
	}
	out[40] = '\0';
}

/* pn_openpgp_fingerprint - v4 fingerprint (upper-case hex) of a public key's primary key */
int pn_openpgp_fingerprint(const pn_openpgp_key *pub, char out[41])
{
	uint8_t digest[EVP_MAX_MD_SIZE];
	EVP_MD_CTX *c;
	pn_openpgp_packet pk;
	int ok;

	if (pn_openpgp_packet_read(pub->data, pub->len, &pk) < 0 ||
	    pk.tag != PN_OPENPGP_TAG_PUBLIC_KEY || pk.len < 1 || pk.len > 0xffff ||
	    pk.body[0] != 4)
		return -1;
	ok = (c = EVP_MD_CTX_new()) != NULL && EVP_DigestInit_ex(c, EVP_sha1(), NULL) == 1 &&
	    openpgp_hash_key(c, pk.body, pk.len) && EVP_DigestFinal_ex(c, digest, NULL) == 1;
	EVP_MD_CTX_free(c);
	if (!ok)
		return -1;
	openpgp_fpr_hex(digest, out);
	return 0;
}

/* openpgp_s2k_md - the hash of an S2K specifier, or NULL for one not used here */
const EVP_MD *openpgp_s2k_md(int algo)
{
	switch (algo) {
	case 2: return EVP_sha1();
	case 8: return EVP_sha256();
	case 9: return EVP_sha384();
	case 10: return EVP_sha512();
	case 11: return EVP_sha224();
	default: return NULL;
	}
}

/* aes_cfb - AES in CFB mode for a symmetric algorithm number, or NULL */
static const EVP_CIPHER *aes_cfb(int algo)
{
	switch (algo) {
	case 7: return EVP_aes_128_cfb128();
	case 8: return EVP_aes_192_cfb128();
	case 9: return EVP_aes_256_cfb128();
	default: return NULL;
	}
}

/*
 * openpgp_s2k_derive - the key of keylen bytes that pass gives under an
 * S2K specifier (RFC 4880, 3.7.1): the hash of the salt and the
 * passphrase, repeated to count octets when iterated; each further hash
 * context is preloaded with one more zero octet. 0, or -1.
 */
int openpgp_s2k_derive(const EVP_MD *md, int type, const uint8_t *salt, size_t count,
    const char *pass, uint8_t *key, size_t keylen)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	size_t plen = strlen(pass), slen = type == PN_S2K_SIMPLE ? 0 : 8, ulen = slen + plen, done = 0;
	uint8_t digest[EVP_MAX_MD_SIZE], *unit = pn_malloc(ulen + 1);
	unsigned int dlen;
	int ok = c != NULL;

	memcpy(unit, salt, slen);              /* what is hashed: salt, passphrase, again */
	memcpy(unit + slen, pass, plen);
	for (size_t ctx = 0; ok && done < keylen; ctx++) {
		size_t left = type == PN_S2K_ITERATED && count > ulen ? count : ulen, k;

		ok = EVP_DigestInit_ex(c, md, NULL) == 1;
		for (size_t z = 0; ok && z < ctx; z++)
			ok = EVP_DigestUpdate(c, "", 1) == 1;
		for (; ok && left > 0; left -= k) {
			k = left < ulen ? left : ulen;
			ok = EVP_DigestUpdate(c, unit, k) == 1;
		}
		if (ok && (ok = EVP_DigestFinal_ex(c, digest, &dlen) == 1)) {
			k = keylen - done < dlen ? keylen - done : dlen;
			memcpy(key + done, digest, k);
			done += k;
		}
	}
	sodium_memzero(digest, sizeof(digest));
	sodium_memzero(unit, ulen);
	free(unit);
	EVP_MD_CTX_free(c);
	return ok ? 0 : -1;
}

/*
 * opens - does the protected secret material s (n bytes: the S2K usage
 * octet and what follows it) decrypt with pass, its checksum holding?
 * Usage 254: SHA-1 of the material; 255: the sum of its octets.
 */
static int opens(const uint8_t *s, size_t n, const char *pass)
{
	const EVP_CIPHER *cipher;
	const EVP_MD *md;
	uint8_t key[32], salt[8] = { 0 }, sum[20], *plain = NULL;
	size_t o = 3, count = 0, keylen, len;
	EVP_CIPHER_CTX *c = NULL;
	int type, out = 0, ok = 0;

	if (n < 3 || (s[0] != 254 && s[0] != 255) || !(cipher = aes_cfb(s[1])))
		return 0;
	type = s[2];
	if ((type != PN_S2K_SIMPLE && type != PN_S2K_SALTED && type != PN_S2K_ITERATED) ||
	    o >= n || !(md = openpgp_s2k_md(s[o++])))
		return 0;
	if (type != PN_S2K_SIMPLE) {
		if (n - o < 8)
			return 0;
		memcpy(salt, s + o, 8);
		o += 8;
	}
	if (type == PN_S2K_ITERATED) {
		if (o >= n)
			return 0;
		count = (size_t)(16 + (s[o] & 15)) << ((s[o] >> 4) + 6);
		o++;
	}
	keylen = (size_t)EVP_CIPHER_get_key_length(cipher);
	if (n - o < 16 + (s[0] == 254 ? 20 : 2) || keylen > sizeof(key))
		return 0;
	len = n - o - 16;
	plain = pn_malloc(len);
	if (openpgp_s2k_derive(md, type, salt, count, pass, key, keylen) == 0 &&
	    (c = EVP_CIPHER_CTX_new()) &&
	    EVP_DecryptInit_ex(c, cipher, NULL, key, s + o) == 1 &&
	    EVP_DecryptUpdate(c, plain, &out, s + o + 16, (int)len) == 1 && (size_t)out == len) {
		if (s[0] == 254) {
			SHA1(plain, len - 20, sum);
			ok = sodium_memcmp(sum, plain + len - 20, 20) == 0;
		} else {
			unsigned int total = 0;

			for (size_t i = 0; i < len - 2; i++)
				total += plain[i];
			ok = (total & 0xffff) == ((unsigned int)plain[len - 2] << 8 | plain[len - 1]);
		}
	}
	EVP_CIPHER_CTX_free(c);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(sum, sizeof(sum));
	sodium_memzero(plain, len);
	free(plain);
	return ok;
}

/*
 * pair_walk - is sec the secret key of pub, key packet by key packet, each
 * with protected secret material, at least two keys; and, when pass is
 * not NULL, does each open with pass? A secret key packet is its public
 * key packet's body, then the S2K usage octet (254 or 255: protected),
 * the cipher and the S2K specifier (0, 1 or 3; GnuPG's 101 marks a key
 * whose secret is not there).
 */
static int pair_walk(const pn_openpgp_key *pub, const pn_openpgp_key *sec, const char *pass)
{
	size_t po = 0, so = 0;
	int keys = 0, a, b;
	pn_openpgp_packet pp, sp;

	for (;;) {
		a = next_key_packet(pub, &po, PN_OPENPGP_TAG_PUBLIC_KEY,
		    PN_OPENPGP_TAG_PUBLIC_SUBKEY, &pp);
		b = next_key_packet(sec, &so, PN_OPENPGP_TAG_SECRET_KEY,
		    PN_OPENPGP_TAG_SECRET_SUBKEY, &sp);
		if (a < 0 || b < 0 || a != b)
			return 0;
		if (a == 0)
			return keys >= 2;
		if (sp.tag != (pp.tag == PN_OPENPGP_TAG_PUBLIC_KEY ? PN_OPENPGP_TAG_SECRET_KEY :
		    PN_OPENPGP_TAG_SECRET_SUBKEY) || sp.len < pp.len + 3 ||
		    memcmp(sp.body, pp.body, pp.len) != 0)
			return 0;
		if ((sp.body[pp.len] != 254 && sp.body[pp.len] != 255) ||
		    (sp.body[pp.len + 2] != 0 && sp.body[pp.len + 2] != 1 &&
		    sp.body[pp.len + 2] != 3))
			return 0;
		if (pass && !opens(sp.body + pp.len, sp.len - pp.len, pass))
			return 0;
		keys++;
	}
}

/* pn_openpgp_secret_matches - is sec the key of pub, with protected secret material throughout? */
int pn_openpgp_secret_matches(const pn_openpgp_key *pub, const pn_openpgp_key *sec)
{
	return pair_walk(pub, sec, NULL);
}

/* pn_openpgp_secret_opens - does it match, and does every key's secret open with pass? */
int pn_openpgp_secret_opens(const pn_openpgp_key *pub, const pn_openpgp_key *sec,
    const char *pass)
{
	return pass ? pair_walk(pub, sec, pass) : 0;
}

/* pn_openpgp_crc24 - the armor checksum (RFC 4880, 6.1) */
uint32_t pn_openpgp_crc24(const uint8_t *p, size_t n)
{
	uint32_t crc = 0xB704CEu;

	while (n--) {
		crc ^= (uint32_t)*p++ << 16;
		for (int i = 0; i < 8; i++) {
			crc <<= 1;
			if (crc & 0x1000000u)
				crc ^= 0x1864CFBu;
		}
	}
	return crc & 0xFFFFFFu;
}

/* pn_openpgp_armor - what as gpg armors an export: header, blank line, base64 in 64 columns, "=crc", footer */
char *pn_openpgp_armor(const uint8_t *data, size_t len, const char *what, size_t *len_r)
{
	size_t cap, n;
	uint32_t crc;
	uint8_t c[3];
	char *o;

	if (!data || len == 0 || len > PN_OPENPGP_MAX_ARMOR || !what)
		return NULL;
	cap = 2 * strlen(what) + 64 + (len / 48 + 1) * 65 + 1;
	crc = pn_openpgp_crc24(data, len);
	c[0] = (uint8_t)(crc >> 16);
	c[1] = (uint8_t)(crc >> 8);
	c[2] = (uint8_t)crc;
	o = pn_malloc(cap);
	n = (size_t)snprintf(o, cap, "-----BEGIN PGP %s-----\n\n", what);
	for (size_t i = 0; i < len; i += 48) {
		size_t k = len - i < 48 ? len - i : 48;
		sodium_bin2base64(o + n, cap - n, data + i, k, sodium_base64_VARIANT_ORIGINAL);
		n += strlen(o + n);
		o[n++] = '\n';
	}
	o[n++] = '=';
	sodium_bin2base64(o + n, cap - n, c, sizeof(c), sodium_base64_VARIANT_ORIGINAL);
	n += strlen(o + n);
	n += (size_t)snprintf(o + n, cap - n, "\n-----END PGP %s-----\n", what);
	*len_r = n;
	return o;
}

/* line_next - the line at *p (before end) without its LF or CRLF; *p moves past it; -1 at the end */
static int line_next(const char **p, const char *end, const char **line_r, size_t *len_r)
{
	const char *s = *p, *nl;
	size_t n;

	if (s >= end)
		return -1;
	nl = memchr(s, '\n', (size_t)(end - s));
	n = nl ? (size_t)(nl - s) : (size_t)(end - s);
	*p = nl ? nl + 1 : end;
	if (n > 0 && s[n - 1] == '\r')
		n--;
	*line_r = s;
	*len_r = n;
	return 0;
}

/* armor_line - is line exactly "-----<edge> PGP <what>-----"? */
static int armor_line(const char *line, size_t n, const char *edge, const char *what)
{
	size_t el = strlen(edge), wl = strlen(what);

	return n == el + wl + 15 && !memcmp(line, "-----", 5) &&
	    !memcmp(line + 5, edge, el) && !memcmp(line + 5 + el, " PGP ", 5) &&
	    !memcmp(line + 10 + el, what, wl) && !memcmp(line + 10 + el + wl, "-----", 5);
}

/* base64_line - a line of the body: 1..76 characters of the base64 alphabet */
static int base64_line(const char *line, size_t n)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";

	if (n == 0 || n > 76)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!line[i] || !strchr(alphabet, line[i]))
			return 0;
	return 1;
}

/* pn_openpgp_dearmor - the bytes of one armored block of kind what, checksum checked */
int pn_openpgp_dearmor(const char *text, size_t len, const char *what,
    uint8_t **data_r, size_t *len_r)
{
	const char *p = text, *end = text + len, *line, *last = NULL;
	size_t n, blen = 0, dlen = 0, crclen = 0;
	char *b64 = NULL;
	uint8_t *data = NULL, crc[3];
	int headers = 0, have_crc = 0, rc = -1;

	*data_r = NULL;
	*len_r = 0;
	if (!text || !what || len == 0 || len > PN_OPENPGP_MAX_ARMOR)
		return -1;
	if (line_next(&p, end, &line, &n) < 0 || !armor_line(line, n, "BEGIN", what))
		return -1;
	for (;;) {                          /* header lines up to the blank line */
		if (line_next(&p, end, &line, &n) < 0)
			return -1;
		if (n == 0)
			break;
		if (++headers > 16 || !memmem(line, n, ": ", 2))
			return -1;
	}
	b64 = pn_malloc(len + 1);
	for (;;) {
		if (line_next(&p, end, &line, &n) < 0)
			goto done;
		if (armor_line(line, n, "END", what))
			break;
		if (have_crc)
			goto done;          /* only the END line follows the checksum */
		if (n == 5 && line[0] == '=') {
			if (!base64_line(line + 1, 4) ||
			    sodium_base642bin(crc, sizeof(crc), line + 1, 4, NULL, &crclen,
			    NULL, sodium_base64_VARIANT_ORIGINAL) != 0 || crclen != 3)
				goto done;
			have_crc = 1;
			continue;
		}
		if (!base64_line(line, n))
			goto done;
		memcpy(b64 + blen, line, n);
		blen += n;
	}
	for (; p < end; p++)
		if (*p != '\n' && *p != '\r')
			goto done;
	if (blen == 0)
		goto done;
	data = pn_malloc(blen / 4 * 3 + 3);
	if (sodium_base642bin(data, blen / 4 * 3 + 3, b64, blen, NULL, &dlen, &last,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || last != b64 + blen || dlen == 0)
		goto done;
	if (have_crc && pn_openpgp_crc24(data, dlen) !=
	    ((uint32_t)crc[0] << 16 | (uint32_t)crc[1] << 8 | crc[2]))
		goto done;
	*data_r = data;
	*len_r = dlen;
	data = NULL;
	rc = 0;
done:
	free(b64);
	free(data);
	return rc;
}
