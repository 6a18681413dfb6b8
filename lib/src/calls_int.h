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

#endif
