/*
 * openpgp_keygen.c - a guest key made in this process (openpgp.h,
 * pn_openpgp_keygen), byte for byte the shape of what gpg exports for
 * the keys it makes for us.
 *
 * Why: a new mailbox needs a key, and gpg-agent spends about 14 ms of
 * CPU on one (two keys generated and self-tested, two signatures, the
 * protection) plus three gpg runs to generate and export it. libsodium
 * makes the same two curve keys and the two signatures in well under a
 * millisecond. What gpg did besides - packets, fingerprint, protection -
 * is plain RFC 4880 (with the curve conventions of RFC 4880bis and
 * RFC 6637) and is written here. Nothing here is trusted on its own
 * word: the pool imports every public key into gpg before it is handed
 * out (gpg checks both self-signatures there), and the tests import the
 * secret keys into gpg, unlock them with the passphrase, decrypt and sign
 * with them (lib/tests/openpgp_keygen_test.c).
 *
 * The transferable public key, as gpg writes it (old-format packet
 * headers):
 *   public key     v4, created, EdDSA (22), OID ed25519, MPI 0x40||A
 *   user id        the uid
 *   signature      0x13 over key and uid: issuer fingerprint, creation
 *                  time, flags certify+sign, algorithm preferences,
 *                  features (MDC), keyserver no-modify; issuer key id
 *                  unhashed
 *   public subkey  v4, created, ECDH (18), OID cv25519, MPI 0x40||u,
 *                  KDF SHA-256 / AES-128
 *   signature      0x18 over key and subkey: issuer fingerprint,
 *                  creation time, flags encrypt; issuer key id unhashed
 * The transferable secret key has the same packets with secret key
 * packets in place of the two key packets: the public body, then S2K
 * usage 254, AES-256, iterated and salted S2K with SHA-256, the IV, and
 * the encrypted secret MPI with its SHA-1.
 *
 * The secret MPIs follow GnuPG's conventions: Ed25519's is the 32-byte
 * seed read as a big-endian number; Curve25519's is the clamped secret
 * scalar, which X25519 reads little-endian, written big-endian (its
 * bytes reversed). An MPI drops its leading zero octets.
 *
 * Every buffer that held a secret is wiped before it is freed.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <sodium.h>

#include "postern/mem.h"
#include "postern/openpgp.h"
#include "openpgp_int.h"

static const uint8_t oid_ed25519[] = { 0x2B, 0x06, 0x01, 0x04, 0x01, 0xDA, 0x47, 0x0F, 0x01 };
static const uint8_t oid_cv25519[] = { 0x2B, 0x06, 0x01, 0x04, 0x01, 0x97, 0x55, 0x01, 0x05,
	0x01 };
static const uint8_t kdf_params[] = { 0x03, 0x01, 0x08, 0x07 };   /* SHA-256, AES-128 */

enum {
	ALGO_ECDH = 18, ALGO_EDDSA = 22,                /* public key algorithms */
	SYM_AES256 = 9, HASH_SHA256 = 8,                /* symmetric and hash algorithms */
	SIG_CERT_POSITIVE = 0x13, SIG_SUBKEY_BINDING = 0x18,
	S2K_USAGE_SHA1 = 254,
	S2K_COUNT_65536 = 0x60,                         /* (16 + 0) << (6 + 6) */
};

/* A byte string that grows as packets are written into it. */
typedef struct bytes {
	uint8_t *p;
	size_t n, cap;
} bytes;

/* put - n bytes at the end */
static void put(bytes *b, const void *d, size_t n)
{
	if (b->n + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		uint8_t *p;

		while (cap < b->n + n)
			cap *= 2;
		/* not pn_realloc: the old bytes may be secret and are wiped first */
		p = pn_malloc(cap);
		if (b->n)
			memcpy(p, b->p, b->n);
		if (b->p) {
			sodium_memzero(b->p, b->cap);
			free(b->p);
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, d, n);
	b->n += n;
}

static void put8(bytes *b, unsigned v)
{
	uint8_t c = (uint8_t)v;

	put(b, &c, 1);
}

static void put16(bytes *b, size_t v)
{
	uint8_t c[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	put(b, c, 2);
}

static void put32(bytes *b, uint32_t v)
{
	uint8_t c[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };

	put(b, c, 4);
}

/* bytes_free - wipe and free */
static void bytes_free(bytes *b)
{
	if (b->p) {
		sodium_memzero(b->p, b->cap);
		free(b->p);
	}
	*b = (bytes){ NULL, 0, 0 };
}

/* put_mpi - the big-endian number be[0..n) as an MPI: bit count, then the octets from the first non-zero one */
static void put_mpi(bytes *b, const uint8_t *be, size_t n)
{
	size_t bits;
	unsigned top;

	while (n > 0 && be[0] == 0) {
		be++;
		n--;
	}
	bits = n * 8;
	for (top = n ? be[0] : 0x80; !(top & 0x80); top <<= 1)
		bits--;
	put16(b, n ? bits : 0);
	put(b, be, n);
}

/* put_packet - a packet of tag with body, in gpg's old-format header */
static void put_packet(bytes *b, int tag, const bytes *body)
{
	if (body->n < 256) {
		put8(b, 0x80 | (unsigned)tag << 2);
		put8(b, (unsigned)body->n);
	} else if (body->n < 65536) {
		put8(b, 0x80 | (unsigned)tag << 2 | 1);
		put16(b, body->n);
	} else {
		put8(b, 0x80 | (unsigned)tag << 2 | 2);
		put32(b, (uint32_t)body->n);
	}
	put(b, body->p, body->n);
}

/* key_body - a v4 public key packet's body for a curve point (0x40 || 32 bytes) */
static void key_body(bytes *b, uint32_t created, int algo, const uint8_t *oid, size_t oidlen,
    const uint8_t point[32])
{
	uint8_t mpi[33];

	mpi[0] = 0x40;                      /* native point encoding */
	memcpy(mpi + 1, point, 32);
	put8(b, 4);
	put32(b, created);
	put8(b, (unsigned)algo);
	put8(b, (unsigned)oidlen);
	put(b, oid, oidlen);
	put_mpi(b, mpi, sizeof(mpi));
	if (algo == ALGO_ECDH)
		put(b, kdf_params, sizeof(kdf_params));
}

/* hash_key - a key packet as signatures and fingerprints hash it (openpgp_hash_key) */
static int hash_key(EVP_MD_CTX *c, const bytes *body)
{
	return openpgp_hash_key(c, body->p, body->n);
}

/* subpacket - a signature subpacket of type with data (short: under 191 octets) */
static void subpacket(bytes *b, int type, const void *data, size_t n)
{
	put8(b, (unsigned)n + 1);
	put8(b, (unsigned)type);
	put(b, data, n);
}

/* hash_uid - a user id as a certification hashes it: 0xB4, four-octet length, the id */
static int hash_uid(EVP_MD_CTX *c, const bytes *uid)
{
	uint8_t head[5] = { 0xB4, (uint8_t)(uid->n >> 24), (uint8_t)(uid->n >> 16),
		(uint8_t)(uid->n >> 8), (uint8_t)uid->n };

	return EVP_DigestUpdate(c, head, 5) == 1 && EVP_DigestUpdate(c, uid->p, uid->n) == 1;
}

/*
 * self_subpackets - what both self-signatures carry first, as gpg writes
 * them: the issuer's v4 fingerprint, the creation time, the key flags
 */
static void self_subpackets(bytes *subs, const uint8_t fpr[20], uint32_t created,
    uint8_t flags)
{
	uint8_t issuer_fpr[21], when[4] = { (uint8_t)(created >> 24), (uint8_t)(created >> 16),
		(uint8_t)(created >> 8), (uint8_t)created };

	issuer_fpr[0] = 4;
	memcpy(issuer_fpr + 1, fpr, 20);
	subs->n = 0;
	subpacket(subs, 33, issuer_fpr, sizeof(issuer_fpr));
	subpacket(subs, 2, when, sizeof(when));
	subpacket(subs, 27, &flags, 1);
}

/*
 * signature - a v4 signature packet of type by the Ed25519 key sk over
 * what c has hashed already (the key, and the uid or the subkey), with
 * the hashed subpackets subs: the hashed part and its trailer go into c,
 * and EdDSA signs the SHA-256 digest. 0, or -1.
 */
static int signature(bytes *out, EVP_MD_CTX *c, int type, const bytes *subs,
    const uint8_t fpr[20], const uint8_t sk[crypto_sign_SECRETKEYBYTES])
{
	bytes hashed = { 0 }, body = { 0 }, trailer = { 0 };
	uint8_t digest[32], sig[crypto_sign_BYTES], issuer[10];
	unsigned int dlen = 0;
	int ok;

	put8(&hashed, 4);
	put8(&hashed, (unsigned)type);
	put8(&hashed, ALGO_EDDSA);
	put8(&hashed, HASH_SHA256);
	put16(&hashed, subs->n);
	put(&hashed, subs->p, subs->n);
	put8(&trailer, 4);
	put8(&trailer, 0xFF);
	put32(&trailer, (uint32_t)hashed.n);
	ok = EVP_DigestUpdate(c, hashed.p, hashed.n) == 1 &&
	    EVP_DigestUpdate(c, trailer.p, trailer.n) == 1 &&
	    EVP_DigestFinal_ex(c, digest, &dlen) == 1 && dlen == sizeof(digest) &&
	    crypto_sign_detached(sig, NULL, digest, sizeof(digest), sk) == 0;
	if (ok) {
		issuer[0] = 9;                  /* unhashed: the issuer key id (subpacket 16) */
		issuer[1] = 16;
		memcpy(issuer + 2, fpr + 12, 8);
		put(&body, hashed.p, hashed.n);
		put16(&body, sizeof(issuer));
		put(&body, issuer, sizeof(issuer));
		put(&body, digest, 2);
		put_mpi(&body, sig, 32);        /* R */
		put_mpi(&body, sig + 32, 32);   /* S */
		put_packet(out, 2, &body);
	}
	bytes_free(&hashed);
	bytes_free(&trailer);
	bytes_free(&body);
	return ok ? 0 : -1;
}

/*
 * secret_body - a secret key packet's body: the public body, then the
 * secret MPI encrypted under pass (usage 254: S2K, IV, AES-256-CFB of the
 * MPI and its SHA-1). 0, or -1.
 */
static int secret_body(bytes *out, const bytes *pub, const uint8_t secret_be[32],
    const char *pass, const uint8_t salt[8], const uint8_t iv[16])
{
	bytes plain = { 0 };
	uint8_t key[32], sum[SHA_DIGEST_LENGTH], *enc = NULL;
	EVP_CIPHER_CTX *c = NULL;
	int n = 0, ok;

	put_mpi(&plain, secret_be, 32);
	SHA1(plain.p, plain.n, sum);
	put(&plain, sum, sizeof(sum));
	enc = pn_malloc(plain.n);
	ok = openpgp_s2k_derive(openpgp_s2k_md(HASH_SHA256), PN_S2K_ITERATED, salt,
	    PN_OPENPGP_KEYGEN_S2K_COUNT, pass, key, sizeof(key)) == 0 &&
	    (c = EVP_CIPHER_CTX_new()) != NULL &&
	    EVP_EncryptInit_ex(c, EVP_aes_256_cfb128(), NULL, key, iv) == 1 &&
	    EVP_EncryptUpdate(c, enc, &n, plain.p, (int)plain.n) == 1 && (size_t)n == plain.n;
	if (ok) {
		put(out, pub->p, pub->n);
		put8(out, S2K_USAGE_SHA1);
		put8(out, SYM_AES256);
		put8(out, PN_S2K_ITERATED);
		put8(out, HASH_SHA256);
		put(out, salt, 8);
		put8(out, S2K_COUNT_65536);
		put(out, iv, 16);
		put(out, enc, plain.n);
	}
	EVP_CIPHER_CTX_free(c);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(sum, sizeof(sum));
	free(enc);                          /* ciphertext: nothing to wipe */
	bytes_free(&plain);
	return ok ? 0 : -1;
}

/* uid_ok - 1..PN_OPENPGP_UID_MAX octets without CR or LF */
static int uid_ok(const char *uid)
{
	size_t n = uid ? strlen(uid) : 0;

	return n > 0 && n <= PN_OPENPGP_UID_MAX && !strpbrk(uid, "\r\n");
}

/* pass_ok - 1..4096 octets without CR or LF (what gpg_pass_valid allows, not empty) */
static int pass_ok(const char *pass)
{
	size_t n = pass ? strlen(pass) : 0;

	return n > 0 && n <= 4096 && !strpbrk(pass, "\r\n");
}

/* pn_openpgp_keygen_seeded - a key from the given random bytes */
int pn_openpgp_keygen_seeded(const char *uid, const char *pass, uint32_t created,
    const pn_openpgp_seed *seed, pn_openpgp_newkey *key)
{
	static const uint8_t pref_sym[] = { 9, 8, 7, 2 }, pref_hash[] = { 10, 9, 8, 11, 2 },
	    pref_zip[] = { 2, 3, 1 };
	uint8_t sign_pk[crypto_sign_PUBLICKEYBYTES], sign_sk[crypto_sign_SECRETKEYBYTES];
	uint8_t crypt_sk[32], crypt_pk[32], crypt_be[32], fpr[SHA_DIGEST_LENGTH], v;
	bytes primary = { 0 }, sub = { 0 }, uidp = { 0 }, subs = { 0 }, pub = { 0 }, sec = { 0 };
	bytes sprimary = { 0 }, ssub = { 0 };
	EVP_MD_CTX *c = NULL;
	size_t after_key;
	int ok = 0;

	memset(key, 0, sizeof(*key));
	if (!uid_ok(uid) || !pass_ok(pass) || created == 0 || !seed)
		return -1;

	/* the two curve keys */
	crypto_sign_seed_keypair(sign_pk, sign_sk, seed->sign);
	memcpy(crypt_sk, seed->crypt, 32);
	crypt_sk[0] &= 248;                 /* clamped, as X25519 uses it */
	crypt_sk[31] &= 127;
	crypt_sk[31] |= 64;
	if (crypto_scalarmult_base(crypt_pk, crypt_sk) != 0)
		goto done;
	for (int i = 0; i < 32; i++)
		crypt_be[i] = crypt_sk[31 - i];

	/* the key packets' bodies and the fingerprint */
	key_body(&primary, created, ALGO_EDDSA, oid_ed25519, sizeof(oid_ed25519), sign_pk);
	key_body(&sub, created, ALGO_ECDH, oid_cv25519, sizeof(oid_cv25519), crypt_pk);
	if (!(c = EVP_MD_CTX_new()) || EVP_DigestInit_ex(c, EVP_sha1(), NULL) != 1 ||
	    !hash_key(c, &primary) || EVP_DigestFinal_ex(c, fpr, NULL) != 1)
		goto done;
	put(&uidp, uid, strlen(uid));

	/* public key, user id, its certification */
	put_packet(&pub, PN_OPENPGP_TAG_PUBLIC_KEY, &primary);
	after_key = pub.n;
	put_packet(&pub, 13, &uidp);
	self_subpackets(&subs, fpr, created, 0x03);                 /* certify, sign */
	subpacket(&subs, 11, pref_sym, sizeof(pref_sym));
	subpacket(&subs, 21, pref_hash, sizeof(pref_hash));
	subpacket(&subs, 22, pref_zip, sizeof(pref_zip));
	v = 0x01;                                                   /* modification detection */
	subpacket(&subs, 30, &v, 1);
	v = 0x80;                                                   /* keyserver: no modify */
	subpacket(&subs, 23, &v, 1);
	if (EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 || !hash_key(c, &primary) ||
	    !hash_uid(c, &uidp) || signature(&pub, c, SIG_CERT_POSITIVE, &subs, fpr, sign_sk) < 0)
		goto done;
	/* the secret key: its own key packet, then the same user id and certification */
	if (secret_body(&sprimary, &primary, seed->sign, pass, seed->salt[0], seed->iv[0]) < 0)
		goto done;
	put_packet(&sec, PN_OPENPGP_TAG_SECRET_KEY, &sprimary);
	put(&sec, pub.p + after_key, pub.n - after_key);

	/* public subkey, its binding; the secret subkey, the same binding */
	put_packet(&pub, PN_OPENPGP_TAG_PUBLIC_SUBKEY, &sub);
	after_key = pub.n;
	self_subpackets(&subs, fpr, created, 0x0C);                 /* encrypt */
	if (EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 || !hash_key(c, &primary) ||
	    !hash_key(c, &sub) || signature(&pub, c, SIG_SUBKEY_BINDING, &subs, fpr, sign_sk) < 0)
		goto done;
	if (secret_body(&ssub, &sub, crypt_be, pass, seed->salt[1], seed->iv[1]) < 0)
		goto done;
	put_packet(&sec, PN_OPENPGP_TAG_SECRET_SUBKEY, &ssub);
	put(&sec, pub.p + after_key, pub.n - after_key);

	openpgp_fpr_hex(fpr, key->fpr);
	key->pub = pn_memdup(pub.p, pub.n);
	key->publen = pub.n;
	key->sec = pn_memdup(sec.p, sec.n);
	key->seclen = sec.n;
	ok = 1;
done:
	EVP_MD_CTX_free(c);
	sodium_memzero(sign_sk, sizeof(sign_sk));
	sodium_memzero(crypt_sk, sizeof(crypt_sk));
	sodium_memzero(crypt_be, sizeof(crypt_be));
	bytes_free(&primary);
	bytes_free(&sub);
	bytes_free(&uidp);
	bytes_free(&subs);
	bytes_free(&pub);
	bytes_free(&sec);
	bytes_free(&sprimary);
	bytes_free(&ssub);
	if (!ok)
		memset(key, 0, sizeof(*key));
	return ok ? 0 : -1;
}

/* pn_openpgp_keygen - a key from libsodium's random bytes */
int pn_openpgp_keygen(const char *uid, const char *pass, uint32_t created,
    pn_openpgp_newkey *key)
{
	pn_openpgp_seed seed;
	int rc;

	randombytes_buf(&seed, sizeof(seed));
	rc = pn_openpgp_keygen_seeded(uid, pass, created, &seed, key);
	sodium_memzero(&seed, sizeof(seed));
	return rc;
}

/* pn_openpgp_newkey_free - wipe the secret key, free both */
void pn_openpgp_newkey_free(pn_openpgp_newkey *key)
{
	if (!key)
		return;
	if (key->sec) {
		sodium_memzero(key->sec, key->seclen);
		free(key->sec);
	}
	free(key->pub);
	memset(key, 0, sizeof(*key));
}
