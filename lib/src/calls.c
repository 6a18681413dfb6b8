/*
 * calls.c - the one policy of the typed bus calls (calls.h): build the
 * request around the operation's message, call, map the status, check the
 * result's case, say why, log.
 *
 * The typed calls in calls_mailstore.c, calls_keylookup.c and
 * calls_provision.c are one line each over pn_call: the request's oneof
 * member and the reply's are reached through the message descriptors
 * (pn_pb_oneof_set/get), so no service's request is packed by hand more
 * than here. The operation's name in logs and texts is the oneof
 * member's name in the .proto ("get_mailbox").
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "postern/calls.h"
#include "postern/log.h"
#include "postern/pb.h"
#include "calls_int.h"

const pn_call_svc pn_call_mailstore = { "mailstore",
	&postern__v1__mailstore_request__descriptor, &postern__v1__mailstore_reply__descriptor };
const pn_call_svc pn_call_keylookup = { "keylookup",
	&postern__v1__keylookup_request__descriptor, &postern__v1__keylookup_reply__descriptor };
const pn_call_svc pn_call_provision = { "provision",
	&postern__v1__provision_request__descriptor, &postern__v1__provision_reply__descriptor };

/* field_name - the name of desc's field id, "?" if it has none */
static const char *field_name(const ProtobufCMessageDescriptor *desc, uint32_t id)
{
	const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(desc, id);

	return f ? f->name : "?";
}

/* log_failure - trouble warns, refusals inform, answers are not logged */
static void log_failure(const pn_call_svc *svc, uint32_t op, pn_err err, const char *why)
{
	const char *name = field_name(svc->request, op);

	if (err == PN_OK || err == PN_ERR_NOTFOUND || err == PN_ERR_EXISTS)
		return;
	if (err == PN_ERR_TEMP || err == PN_ERR_INTERNAL)
		pn_warn("msg=\"bus call failed\" service=%s op=%s status=%s error=\"%s\"",
		    svc->name, name, pn_err_str(err), why);
	else
		pn_info("msg=\"bus call refused\" service=%s op=%s status=%s error=\"%s\"",
		    svc->name, name, pn_err_str(err), why);
}

/* pn_call_bad - an answer that breaks the operation's promise: INTERNAL, said and logged */
pn_err pn_call_bad(const pn_call_svc *svc, uint32_t op, pn_pool *pool, const char **why_r,
    const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	*why_r = pn_pool_printf(pool, "%s answered %s with %s", svc->name,
	    field_name(svc->request, op), what);
	log_failure(svc, op, PN_ERR_INTERNAL, *why_r);
	return PN_ERR_INTERNAL;
}

/* pn_call_outcome - status, result and why of one call, by the policy */
pn_err pn_call_outcome(const pn_call_svc *svc, uint32_t op, uint32_t result, pn_err err,
    const ProtobufCMessage *reply, pn_pool *pool, void *result_r, const char **why_r)
{
	ProtobufCMessage *res = NULL;
	const char *text = "";

	*why_r = NULL;
	if (reply) {
		pn_pb_get_status(reply, &text);
		if (result)
			res = pn_pb_oneof_get(reply, result);
	}
	if (result_r)
		memcpy(result_r, &res, sizeof(res));    /* a T **: any message pointer */
	if (err == PN_ERR_BUSY)
		err = PN_ERR_TEMP;
	if (err == PN_OK) {
		if (!result || res)
			return PN_OK;
		return pn_call_bad(svc, op, pool, why_r, "%s, not %s",
		    pn_pb_oneof_name(reply) ? pn_pb_oneof_name(reply) : "no result",
		    field_name(svc->reply, result));
	}
	if (!reply && err == PN_ERR_INTERNAL)
		return pn_call_bad(svc, op, pool, why_r, "a malformed reply");
	if (*text)
		*why_r = text;
	else if (!reply && err == PN_ERR_TEMP)
		*why_r = pn_pool_printf(pool, "%s is unavailable", svc->name);
	else if (!reply && err == PN_ERR_TOOLARGE)
		*why_r = pn_pool_printf(pool, "the %s request is too large for the bus",
		    field_name(svc->request, op));
	else
		*why_r = pn_pool_printf(pool, "%s refused %s (%s)", svc->name,
		    field_name(svc->request, op), pn_err_str(err));
	log_failure(svc, op, err, *why_r);
	return err;
}

/* pn_call_start - the first half of pn_call: the request on its way */
pn_err pn_call_start(pn_client *client, pn_pool *pool, const pn_call_svc *svc, uint32_t op,
    const ProtobufCMessage *arg, const char **why_r)
{
	ProtobufCMessage *req = pn_pb_new(svc->request, pool);
	pn_err err;

	pn_pb_oneof_set(req, op, arg);
	if ((err = pn_client_start(client, svc->name, req)) != PN_OK)
		return pn_call_outcome(svc, op, 0, err, NULL, pool, NULL, why_r);
	*why_r = NULL;
	return PN_OK;
}

/* pn_call_finish - the second half: the reply, by the policy */
pn_err pn_call_finish(pn_client *client, pn_pool *pool, const pn_call_svc *svc, uint32_t op,
    uint32_t result, void *result_r, const char **why_r)
{
	ProtobufCMessage *reply = NULL;
	pn_err err = pn_client_finish(client, svc->reply, pool, &reply);

	return pn_call_outcome(svc, op, result, err, reply, pool, result_r, why_r);
}

/* pn_call - one typed request by the policy */
pn_err pn_call(pn_client *client, pn_pool *pool, const pn_call_svc *svc, uint32_t op,
    const ProtobufCMessage *arg, uint32_t result, void *result_r, const char **why_r)
{
	pn_err err = pn_call_start(client, pool, svc, op, arg, why_r);

	if (err != PN_OK) {
		if (result_r)
			memset(result_r, 0, sizeof(ProtobufCMessage *));
		return err;
	}
	return pn_call_finish(client, pool, svc, op, result, result_r, why_r);
}
