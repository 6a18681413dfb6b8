/*
 * calls_keylookup.c - the typed call to keylookup (calls.h). Besides the
 * result's case it checks the count: one result per address asked.
 */
#include "postern/calls.h"
#include "calls_int.h"

pn_err pn_kl_lookup(pn_client *client, pn_pool *pool, char *const *addrs, size_t n,
    int flags, Postern__V1__KeyLookupResult **result_r, const char **why_r)
{
	Postern__V1__KeyLookup kl = POSTERN__V1__KEY_LOOKUP__INIT;
	pn_err err;

	kl.addresses = (char **)addrs;
	kl.n_addresses = n;
	kl.fresh = (flags & PN_KL_FRESH) != 0;
	kl.with_mailbox = (flags & PN_KL_WITH_MAILBOX) != 0;
	err = pn_call(client, pool, &pn_call_keylookup, POSTERN__V1__KEYLOOKUP_REQUEST__OP_LOOKUP,
	    &kl.base, POSTERN__V1__KEYLOOKUP_REPLY__RESULT_LOOKUP, result_r, why_r);
	if (err == PN_OK && (*result_r)->n_results != n) {
		err = pn_call_bad(&pn_call_keylookup, POSTERN__V1__KEYLOOKUP_REQUEST__OP_LOOKUP,
		    pool, why_r, "%zu results for %zu addresses", (*result_r)->n_results, n);
		*result_r = NULL;
	}
	return err;
}
