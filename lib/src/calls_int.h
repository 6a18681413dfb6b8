/*
 * calls_int.h - what the typed calls share beyond calls.h; lib/src only.
 */
#ifndef POSTERN_CALLS_INT_H
#define POSTERN_CALLS_INT_H

#include "postern/calls.h"

/*
 * pn_call_bad - an answer with status OK that breaks the operation's
 * promise (fmt says how): *why_r "<service> answered <op> with <fmt>",
 * logged as a warning; returns PN_ERR_INTERNAL
 */
pn_err pn_call_bad(const pn_call_svc *svc, uint32_t op, pn_pool *pool, const char **why_r,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/*
 * PN_CALL_DEFINE - the typed call name(arg) to service svc (its SVC in
 * the generated names): request member OP, reply member RESULT of type
 * Res. PN_CALL_DEFINE_STATUS - one whose reply carries its status only.
 */
#define PN_CALL_DEFINE(name, svc, SVC, Arg, OP, Res, RESULT) \
	pn_err name(pn_client *client, pn_pool *pool, const Postern__V1__##Arg *arg, \
	    Postern__V1__##Res **result_r, const char **why_r) \
	{ \
		return pn_call(client, pool, &pn_call_##svc, POSTERN__V1__##SVC##_REQUEST__OP_##OP, \
		    &arg->base, POSTERN__V1__##SVC##_REPLY__RESULT_##RESULT, result_r, why_r); \
	}
#define PN_CALL_DEFINE_STATUS(name, svc, SVC, Arg, OP) \
	pn_err name(pn_client *client, pn_pool *pool, const Postern__V1__##Arg *arg, \
	    const char **why_r) \
	{ \
		return pn_call(client, pool, &pn_call_##svc, POSTERN__V1__##SVC##_REQUEST__OP_##OP, \
		    &arg->base, 0, NULL, why_r); \
	}

#endif
