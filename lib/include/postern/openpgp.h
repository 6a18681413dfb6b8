/*
 * openpgp.h - the few pieces of the OpenPGP format (RFC 4880) that Postern
 * reads and writes itself, without GnuPG.
 *
 * provision's key pool takes gpg's binary export of many keys at once and
 * must hand out each key on its own, armored as gpg would armor it, and
 * only after checking the export against what was generated: gpg skips a
 * key it cannot unlock, silently (gpg_batch.c, pn_gpg_keygen_batch). That needs
 * a packet reader, the v4 fingerprint, a check that a secret key carries
 * protected secret material for every key of its public twin and that
 * each opens with its passphrase, CRC24 and ASCII armor. They live here, apart from GPGME: every function is pure
 * (memory in, memory out; no I/O, no process, no global state), so the
 * parser that reads what another program wrote can be tested with byte
 * fixtures and fuzzed (lib/tests/openpgp_test.c).
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

#endif
