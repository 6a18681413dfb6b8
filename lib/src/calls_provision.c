/*
 * calls_provision.c - the typed calls to provision (calls.h). A send's
 * answer is checked for its count too: one outcome per recipient; the
 * PIN calls are plain pn_calls (PN_CALL_DEFINE, calls_int.h).
 */
#include "postern/calls.h"
#include "calls_int.h"

pn_err pn_prov_send(pn_client *client, pn_pool *pool, const Postern__V1__SendEvent *event,
    Postern__V1__SendResult **result_r, const char **why_r)
{
	pn_err err = pn_call(client, pool, &pn_call_provision,
	    POSTERN__V1__PROVISION_REQUEST__OP_SEND, &event->base,
	    POSTERN__V1__PROVISION_REPLY__RESULT_SEND, result_r, why_r);

	if (err == PN_OK && (*result_r)->n_outcomes != event->n_recipients) {
		err = pn_call_bad(&pn_call_provision, POSTERN__V1__PROVISION_REQUEST__OP_SEND,
		    pool, why_r, "%zu outcomes for %zu recipients", (*result_r)->n_outcomes,
		    event->n_recipients);
		*result_r = NULL;
	}
	return err;
}

PN_CALL_DEFINE(pn_prov_pin_query, provision, PROVISION, PinQuery, PIN_QUERY,
    PinCiphertext, PIN)
PN_CALL_DEFINE(pn_prov_pin_verify, provision, PROVISION, PinVerify, PIN_VERIFY,
    PinVerdict, VERDICT)
PN_CALL_DEFINE(pn_prov_reissue, provision, PROVISION, ReissueMailbox, REISSUE,
    ReissueResult, REISSUE)
PN_CALL_DEFINE(pn_prov_revoke, provision, PROVISION, RevokeEvent, REVOKE,
    RevokeResult, REVOKE)
