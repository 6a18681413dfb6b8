/*
 * ctl_lookup.c - "posternctl lookup [--fresh] ADDR...": ask keylookup
 * through the broker and print one line per address, tab-separated:
 *
 *	alice@example.org	KEY_FOUND	<fingerprint>	keyring
 *	guest@example.net	GUEST	-	mailbox
 *	nobody@example.com	NONE	-	none
 *	not an address	INVALID	address contains spaces
 *
 * The source of a cached answer reads "cache:<source>". --fresh asks the
 * sources instead of the cache. Exit 0 when keylookup answered (whatever
 * the kinds), 1 when the broker or keylookup could not be reached after
 * the retries or refused the request, 2 on bad arguments.
 */
#include <stdio.h>
#include <string.h>

#include <czmq.h>

#include "ctl.h"
#include "postern/bus.h"
#include "postern/calls.h"
#include "postern/cfg.h"
#include "postern/err.h"
#include "postern/log.h"
#include "postern/mem.h"

#define CTL_LOOKUP_MAX 100000

/* kind_name - the wire name of a result kind */
static const char *kind_name(Postern__V1__KeyResult__Kind kind)
{
	switch (kind) {
	case POSTERN__V1__KEY_RESULT__KIND__KEY_FOUND: return "KEY_FOUND";
	case POSTERN__V1__KEY_RESULT__KIND__GUEST: return "GUEST";
	case POSTERN__V1__KEY_RESULT__KIND__NONE: return "NONE";
	case POSTERN__V1__KEY_RESULT__KIND__INVALID: return "INVALID";
	default: return "UNSPECIFIED";
	}
}

/* put_clean - a reply string without tabs or control characters */
static void put_clean(const char *s)
{
	for (size_t i = 0; s && s[i] && i < 512; i++) {
		unsigned char c = (unsigned char)s[i];
		putchar(c < 0x20 || c == 0x7f ? '?' : c);
	}
}

/* lookup_usage - the synopsis */
static int lookup_usage(FILE *out)
{
	fprintf(out, "usage: posternctl lookup [--fresh] ADDR...\n");
	return out == stdout ? 0 : 2;
}

/* ctl_lookup - posternctl lookup [--fresh] ADDR... */
int ctl_lookup(int argc, char **argv)
{
	Postern__V1__KeyLookupResult *res;
	pn_client *client = NULL;
	pn_pool *pool = NULL;
	const char *why;
	int i = 1, status = 1, fresh = 0;
	pn_err rc;

	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))
		return lookup_usage(stdout);
	if (i < argc && !strcmp(argv[i], "--fresh")) {
		fresh = 1;
		i++;
	}
	if (i < argc && !strcmp(argv[i], "--"))
		i++;
	else if (i < argc && !strncmp(argv[i], "--", 2)) {
		fprintf(stderr, "posternctl lookup: unknown option \"%s\"\n", argv[i]);
		return lookup_usage(stderr);
	}
	if (i >= argc || argc - i > CTL_LOOKUP_MAX)
		return lookup_usage(stderr);
	if (!(client = ctl_client("lookup", 5000, &status)))
		return status;
	pool = pn_pool_new();
	rc = pn_kl_lookup(client, pool, argv + i, (size_t)(argc - i), fresh, &res, &why);
	if (rc != PN_OK) {
		ctl_failed("lookup", "keylookup", client, rc, why);
		goto done;
	}
	for (size_t k = 0; k < res->n_results; k++) {
		const Postern__V1__KeyResult *r = res->results[k];
		put_clean(r->address);
		printf("\t%s\t", kind_name(r->kind));
		if (r->kind == POSTERN__V1__KEY_RESULT__KIND__INVALID) {
			put_clean(r->error);
		} else {
			put_clean(r->fingerprint && *r->fingerprint ? r->fingerprint : "-");
			putchar('\t');
			put_clean(r->source);
		}
		putchar('\n');
	}
	status = 0;
done:
	pn_pool_destroy(&pool);
	ctl_client_done(&client);
	return status;
}
