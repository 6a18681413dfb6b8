/*
 * wkd.c - fuzz target: what keylookup does with addresses and answers
 * from the Web Key Directory and keyservers (services/keylookup/kl_wkd.c).
 * The address comes from a sender; the answer body from any web server
 * on the Internet that the recipient's domain points at.
 *
 * Input: an address, a NUL, a keyserver URL, a NUL, then the answer
 * body. Checks beyond "no crash": URLs that are made are NUL-terminated
 * within their buffer and start with "https://"; the WKD hash is 32
 * z-base-32 characters; the answer is classified as one of the four kinds,
 * and an empty body is EMPTY.
 */
#include <stdlib.h>
#include <string.h>

#include "../../services/keylookup/kl_wkd.h"
#include "fuzz.h"

#define URL_CAP 1024

/* check_urls - the two WKD URLs and the VKS URL for address, when made */
static void check_urls(const char *address, const char *keyserver)
{
	char adv[URL_CAP], direct[URL_CAP], vks[URL_CAP];

	if (kl_wkd_urls(address, adv, direct, URL_CAP) == 0) {
		if (strnlen(adv, URL_CAP) == URL_CAP || strncmp(adv, "https://", 8) ||
		    strnlen(direct, URL_CAP) == URL_CAP || strncmp(direct, "https://", 8))
			abort();
	}
	if (kl_vks_url(keyserver, address, vks, URL_CAP) == 0 &&
	    strnlen(vks, URL_CAP) == URL_CAP)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *address = fz_split(&data, &size, 0);
	char *keyserver = fz_split(&data, &size, 0);
	char hash[KL_WKD_HASH_LEN + 1];
	kl_answer a;

	check_urls(address, keyserver);
	if (kl_wkd_hash(address, strlen(address), hash) == 0 &&
	    strspn(hash, "ybndrfg8ejkmcpqxot1uwisza345h769") != KL_WKD_HASH_LEN)
		abort();
	a = kl_key_answer(data, size);
	if (a != KL_ANSWER_EMPTY && a != KL_ANSWER_JUNK &&
	    a != KL_ANSWER_BINARY && a != KL_ANSWER_ARMORED)
		abort();
	if (size == 0 && a != KL_ANSWER_EMPTY)
		abort();
	free(address);
	free(keyserver);
	return 0;
}
