/*
 * calls_provision.c - the typed calls to provision (calls.h). A send's
 * answer is checked for its count too: one outcome per recipient.
 */
#include "postern/calls.h"
#include "calls_int.h"

/* PROV - pn_call to provision: request member OP = arg, reply member RESULT into res_r */
#define PROV(OP, arg, RESULT, res_r) pn_call(client, pool, &pn_call_provision, \
	POSTERN__V1__PROVISION_REQUEST__OP_##OP, &(arg)->base, \
	POSTERN__V1__PROVISION_REPLY__RESULT_##RESULT, (res_r), why_r)

pn_err pn_prov_send(pn_client *client, pn_pool *pool, const Postern__V1__SendEvent *event,
    Postern__V1__SendResult **result_r, const char **why_r)
{
	pn_err err = PROV(SEND, event, SEND, result_r);

	if (err == PN_OK && (*result_r)->n_outcomes != event->n_recipients) {
		err = pn_call_bad(&pn_call_provision, POSTERN__V1__PROVISION_REQUEST__OP_SEND,
		    pool, why_r, "%zu outcomes for %zu recipients", (*result_r)->n_outcomes,
		    event->n_recipients);
		*result_r = NULL;
	}
	return err;
}

pn_err pn_prov_pin_query(pn_client *client, pn_pool *pool, const Postern__V1__PinQuery *query,
    Postern__V1__PinCiphertext **pin_r, const char **why_r)
{
	return PROV(PIN_QUERY, query, PIN, pin_r);
}

pn_err pn_prov_pin_verify(pn_client *client, pn_pool *pool,
    const Postern__V1__PinVerify *verify, Postern__V1__PinVerdict **verdict_r,
    const char **why_r)
{
	return PROV(PIN_VERIFY, verify, VERDICT, verdict_r);
}
