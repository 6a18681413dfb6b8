/*
 * kl_wkd.h - where keys are discovered (WKD and VKS URLs) and whether an
 * answer can be a key: pure functions, apart from every socket
 * (kl_wkd.c; the fetching is kl_fetch.c, the judging GnuPG's).
 */
#ifndef POSTERN_KL_WKD_H
#define POSTERN_KL_WKD_H

#include <stddef.h>
#include <stdint.h>

#define KL_WKD_HASH_LEN 32          /* z-base-32 of a SHA-1 */
#define KL_LOCAL_MAX 64             /* longest local part (RFC 5321) */
#define KL_URL_MAX 1024             /* longest discovery URL */
#define KL_ANSWER_MAX (1024UL * 1024)   /* longest answer kl_key_answer reads */

/*
 * kl_wkd_hash - the WKD hash of a local part of len bytes (1..64): the
 * z-base-32 text of the SHA-1 of it with ASCII upper case made lower
 * case. 0, or -1 for an empty or too long local part.
 */
int kl_wkd_hash(const char *local, size_t len, char out[KL_WKD_HASH_LEN + 1]);

/*
 * kl_wkd_urls - the advanced and the direct WKD URL of a normalised
 * address (domain in lower case) into two buffers of cap bytes each; -1
 * if the address has no local part, a domain with other characters than
 * [a-z0-9.-], or a URL would not fit.
 */
int kl_wkd_urls(const char *address, char *advanced, char *direct, size_t cap);

/*
 * kl_vks_url - keyserver (an https:// base URL, trailing slashes
 * dropped) + "/vks/v1/by-email/" + the percent-encoded address; -1 if
 * the keyserver is not https or it does not fit.
 */
int kl_vks_url(const char *keyserver, const char *address, char *out, size_t cap);

/* What an answer body looks like, before GnuPG reads it. */
typedef enum kl_answer {
	KL_ANSWER_EMPTY,            /* no bytes */
	KL_ANSWER_JUNK,             /* neither of the below, or over KL_ANSWER_MAX */
	KL_ANSWER_BINARY,           /* opens with a well-formed public key packet */
	KL_ANSWER_ARMORED           /* opens with an armored public key block */
} kl_answer;

/* kl_key_answer - classify an answer body (untrusted; never reads past len) */
kl_answer kl_key_answer(const uint8_t *body, size_t len);

#endif
