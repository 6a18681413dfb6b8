/*
 * addr.c - fuzz target: addresses (lib/src/addr.c, pn_addr_normalise),
 * the one parser every service runs on what senders, publishers and
 * recipients type. The whole input is one address. Checks beyond "no
 * crash": a normalised address is no longer than PN_ADDR_MAX, has one
 * '@', and normalises to itself (the function is idempotent).
 */
#include <stdlib.h>
#include <string.h>

#include "postern/addr.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = fz_strndup(data, size);
	char out[PN_ADDR_MAX + 1], again[PN_ADDR_MAX + 1];
	const char *why = NULL;

	if (pn_addr_normalise(in, out, sizeof(out), &why) == 0) {
		if (strlen(out) > PN_ADDR_MAX || !strchr(out, '@') ||
		    strchr(out, '@') != strrchr(out, '@'))
			abort();
		if (pn_addr_normalise(out, again, sizeof(again), &why) != 0 ||
		    strcmp(out, again) != 0)
			abort();
	} else if (!why) {
		abort();
	}
	/* a short output buffer is refused, never overrun */
	(void)pn_addr_normalise(in, out, 8, NULL);
	free(in);
	return 0;
}
