/*
 * openpgp.h - the few pieces of the OpenPGP format (RFC 4880) that Postern
 * reads and writes itself, without GnuPG.
 *
 * provision makes a new mailbox's key in this process (pn_openpgp_keygen,
 * openpgp_keygen.c: the same key gpg-agent would make, at a small part of
 * its cost) and checks every key before it hands it out: that its secret
 * key carries protected secret material for every key of its public twin
 * and that each opens with its passphrase. That needs a packet reader
 * and writer, the v4 fingerprint, the S2K protection, CRC24 and ASCII
 * armor. They live here, apart from GPGME: every function is pure
 * (memory in, memory out; no I/O, no process, no global state; key
 * generation draws random bytes from libsodium), so the parser can be
 * tested with byte fixtures and fuzzed (lib/tests/openpgp_test.c) and the
 * writer checked against gpg (lib/tests/openpgp_keygen_test.c).
 *
 * Input is untrusted: a malformed, truncated or oversized packet is
 * refused with -1 (or 0 for a yes/no question), never read past its
 * buffer. Only what a key export holds is understood: packets with a
 * known length (no partial body lengths, no indeterminate old-format
 * length).
 */
#ifndef POSTERN_OPENPGP_H
#define POSTERN_OPENPGP_H

#include <stddef.h>
#include <stdint.h>

/* Packet tags a key export holds (RFC 4880, 4.3). */
#define PN_OPENPGP_TAG_SECRET_KEY 5
#define PN_OPENPGP_TAG_PUBLIC_KEY 6
#define PN_OPENPGP_TAG_SECRET_SUBKEY 7
#define PN_OPENPGP_TAG_PUBLIC_SUBKEY 14

/* The largest input armor and dearmor take: far above any key. */
#define PN_OPENPGP_MAX_ARMOR (64UL * 1024 * 1024)

/* One packet inside a buffer (pointers into it, nothing owned). */
typedef struct pn_openpgp_packet {
	int tag;
	const uint8_t *body;
	size_t len;                 /* of the body */
	size_t total;               /* header and body */
} pn_openpgp_packet;

/* One transferable key of an export: its primary key packet up to the next one. */
typedef struct pn_openpgp_key {
	const uint8_t *data;        /* points into the export */
	size_t len;
} pn_openpgp_key;

/*
 * pn_openpgp_packet_read - the packet at p (n bytes left) into *pk_r; -1
 * if malformed, truncated, or of a length a key export never has
 * (partial or indeterminate).
 */
int pn_openpgp_packet_read(const uint8_t *p, size_t n, pn_openpgp_packet *pk_r);

/*
 * pn_openpgp_split_keys - cut a binary export into exactly want keys
 * (out has want slots), each opening with a packet of tag primary
 * (PN_OPENPGP_TAG_PUBLIC_KEY or _SECRET_KEY); -1 if it holds more,
 * fewer, anything before the first, or a malformed packet.
 */
int pn_openpgp_split_keys(const uint8_t *data, size_t len, int primary,
    pn_openpgp_key *out, size_t want);

/*
 * pn_openpgp_fingerprint - the v4 fingerprint (40 upper-case hex digits
 * and a NUL) of a public key's primary key packet; -1 if the key does not
 * open with a v4 public key packet.
 */
int pn_openpgp_fingerprint(const pn_openpgp_key *pub, char out[41]);

/*
 * pn_openpgp_secret_matches - 1 if sec is the secret key of pub with
 * protected secret material (S2K usage 254 or 255, S2K specifier 0, 1 or
 * 3) for its primary key and every subkey, at least two keys in all; 0
 * otherwise (another key, a key missing, an unprotected key, or GnuPG's
 * "secret not here" stub).
 */
int pn_openpgp_secret_matches(const pn_openpgp_key *pub, const pn_openpgp_key *sec);

/*
 * pn_openpgp_secret_opens - 1 if pn_openpgp_secret_matches holds and the
 * secret material of every key (primary and subkeys) opens with pass: the
 * key its S2K specifier derives from pass (simple, salted or iterated;
 * SHA-1 or SHA-2) decrypts it (AES in CFB mode) and its checksum holds
 * (SHA-1 for usage 254, the octet sum for 255). 0 otherwise, for a wrong
 * passphrase, another cipher, or a NULL pass. The derivation costs what
 * the key's S2K count says (65,536 octets hashed for Postern's keys).
 */
int pn_openpgp_secret_opens(const pn_openpgp_key *pub, const pn_openpgp_key *sec,
    const char *pass);

/* pn_openpgp_crc24 - the armor checksum (RFC 4880, 6.1) of n bytes */
uint32_t pn_openpgp_crc24(const uint8_t *p, size_t n);

/*
 * pn_openpgp_armor - data armored the way gpg 2.2 armors an export:
 * "-----BEGIN PGP <what>-----", a blank line, base64 in 64 columns,
 * "=<crc24>", "-----END PGP <what>-----", each line ending in LF.
 * Returns a NUL-terminated string (pn_malloc'd, the caller frees) and its
 * length in *len_r; NULL if len is 0 or over PN_OPENPGP_MAX_ARMOR.
 */
char *pn_openpgp_armor(const uint8_t *data, size_t len, const char *what, size_t *len_r);

/*
 * pn_openpgp_dearmor - the bytes inside one armored block of kind what
 * ("PUBLIC KEY BLOCK", ...): the BEGIN line, header lines ("Name: value",
 * at most 16), a blank line, base64 lines, the checksum line (optional;
 * checked when there), the END line, then nothing but line ends. LF or
 * CRLF. 0 with *data_r (pn_malloc'd, the caller frees) and *len_r; -1
 * for anything else, a wrong checksum, no data, or text over
 * PN_OPENPGP_MAX_ARMOR.
 */
int pn_openpgp_dearmor(const char *text, size_t len, const char *what,
    uint8_t **data_r, size_t *len_r);

/*
 * Key generation (openpgp_keygen.c). A guest key as gpg makes it for us
 * (pn_gpg_keygen): an Ed25519 primary key for certifying and signing, a
 * Curve25519 subkey for encryption, one user id, no expiry; self-signed
 * (SHA-256); the secret export protected with the passphrase (S2K
 * iterated and salted, SHA-256, PN_OPENPGP_KEYGEN_S2K_COUNT octets,
 * AES-256 in CFB mode, SHA-1 check). The elliptic-curve work is
 * libsodium's; SHA and AES are OpenSSL's.
 */
#define PN_OPENPGP_KEYGEN_S2K_COUNT 65536UL
#define PN_OPENPGP_UID_MAX 512

/* The random bytes a key is made from (pn_openpgp_keygen draws them). */
typedef struct pn_openpgp_seed {
	uint8_t sign[32];           /* Ed25519 seed */
	uint8_t crypt[32];          /* Curve25519 secret (clamped when used) */
	uint8_t salt[2][8];         /* S2K salt: primary key, subkey */
	uint8_t iv[2][16];          /* CFB IV: primary key, subkey */
} pn_openpgp_seed;

/* A new key: binary transferable keys, as gpg --export and --export-secret-keys give them. */
typedef struct pn_openpgp_newkey {
	char fpr[41];               /* v4 fingerprint, upper-case hex */
	uint8_t *pub;               /* pn_malloc'd */
	size_t publen;
	uint8_t *sec;               /* pn_malloc'd; wiped by pn_openpgp_newkey_free */
	size_t seclen;
} pn_openpgp_newkey;

/*
 * pn_openpgp_keygen - a new key for uid (1..PN_OPENPGP_UID_MAX bytes, no
 * CR, LF or NUL) protected by pass (1..4096 bytes, no CR or LF), created
 * at created (seconds since the epoch, > 0): 0 with *key filled, -1 on
 * bad input (nothing allocated). The random bytes come from libsodium.
 */
int pn_openpgp_keygen(const char *uid, const char *pass, uint32_t created,
    pn_openpgp_newkey *key);

/*
 * pn_openpgp_keygen_seeded - the same from the given random bytes: the
 * same seed makes the same bytes (for test vectors). seed is not wiped.
 */
int pn_openpgp_keygen_seeded(const char *uid, const char *pass, uint32_t created,
    const pn_openpgp_seed *seed, pn_openpgp_newkey *key);

/* pn_openpgp_newkey_free - wipe the secret key, free both (NULL-tolerant) */
void pn_openpgp_newkey_free(pn_openpgp_newkey *key);

#endif
