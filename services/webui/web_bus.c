/*
 * web_bus.c - every call the web UI makes on the bus, in one place: to
 * mailstore (mailboxes, folders, messages, replies), to provision (the
 * PIN) and to keylookup (recipients' keys). Each goes through the
 * request's pool, so the replies live until the request ends
 * (web_http.c frees the pool), maps BUSY to TEMP and logs a failure
 * once, the same way for every call.
 */
#include "postern/v1/keylookup.pb-c.h"
#include "postern/v1/mailstore.pb-c.h"
#include "postern/v1/provision.pb-c.h"
#include "postern/bus.h"
#include "postern/log.h"
#include "postern/mem.h"
#include "web_bus.h"
#include "web_http.h"

/* web_bus_pool - the request's pool, made on first use; web_http.c destroys it */
pn_pool *web_bus_pool(web_req *rq)
{
	if (!rq->pool)
		rq->pool = pn_pool_new();
	return rq->pool;
}

/* web_ms_call - one mailstore request; the reply (also errors) in *rep_r */
pn_err web_ms_call(web_req *rq, web_ms_req *req, web_ms_rep **rep_r)
{
	ProtobufCMessage *out = NULL;
	pn_err err = pn_client_call(rq->t->bus, "mailstore", &req->base,
	    &postern__v1__mailstore_reply__descriptor, web_bus_pool(rq), &out);

	*rep_r = (web_ms_rep *)out;
	if (err == PN_ERR_BUSY)
		err = PN_ERR_TEMP;
	if (err != PN_OK && err != PN_ERR_NOTFOUND && err != PN_ERR_EXISTS)
		pn_warn("msg=\"mailstore call failed\" op=%d status=%s", (int)req->op_case,
		    pn_err_str(err));
	return err;
}

/* web_get_mailbox - by id, address or link hash; NULL with *err_r */
const web_mailbox *web_get_mailbox(web_req *rq, int64_t id, const char *address,
    const uint8_t *hash, pn_err *err_r)
{
	web_ms_req req = POSTERN__V1__MAILSTORE_REQUEST__INIT;
	Postern__V1__GetMailbox g = POSTERN__V1__GET_MAILBOX__INIT;
	web_ms_rep *rep = NULL;

	g.id = id;
	g.address = (char *)(address ? address : "");
	if (hash) {
		g.link_hash.data = (uint8_t *)hash;
		g.link_hash.len = 32;
	}
	req.op_case = POSTERN__V1__MAILSTORE_REQUEST__OP_GET_MAILBOX;
	req.get_mailbox = &g;
	*err_r = web_ms_call(rq, &req, &rep);
	if (*err_r == PN_OK && rep->result_case != POSTERN__V1__MAILSTORE_REPLY__RESULT_MAILBOX)
		*err_r = PN_ERR_INTERNAL;
	return *err_r == PN_OK ? rep->mailbox : NULL;
}

/* web_touch - the mailbox was used (best effort) */
void web_touch(web_req *rq, int64_t id)
{
	web_ms_req req = POSTERN__V1__MAILSTORE_REQUEST__INIT;
	Postern__V1__Touch t = POSTERN__V1__TOUCH__INIT;
	web_ms_rep *rep = NULL;

	t.mailbox_id = id;
	req.op_case = POSTERN__V1__MAILSTORE_REQUEST__OP_TOUCH;
	req.touch = &t;
	web_ms_call(rq, &req, &rep);
}

/* web_mark_seen - message id of the session's mailbox has been read (best effort) */
void web_mark_seen(web_req *rq, int64_t id)
{
	web_ms_req req = POSTERN__V1__MAILSTORE_REQUEST__INIT;
	Postern__V1__MarkSeen ms = POSTERN__V1__MARK_SEEN__INIT;
	web_ms_rep *rep = NULL;

	ms.mailbox_id = rq->sess.mailbox_id;
	ms.message_id = id;
	ms.seen = 1;
	req.op_case = POSTERN__V1__MAILSTORE_REQUEST__OP_MARK_SEEN;
	req.mark_seen = &ms;
	web_ms_call(rq, &req, &rep);
}

/*
 * web_pin_verify - provision's PinVerify for the FLOW session's mailbox
 * and link secret; the verdict (the pool's) in *v_r, NULL if the reply
 * has none. The bus's answer as it came (BUSY included).
 */
pn_err web_pin_verify(web_req *rq, const char *pin, const Postern__V1__PinVerdict **v_r)
{
	Postern__V1__ProvisionRequest req = POSTERN__V1__PROVISION_REQUEST__INIT;
	Postern__V1__PinVerify pv = POSTERN__V1__PIN_VERIFY__INIT;
	Postern__V1__ProvisionReply *rep;
	ProtobufCMessage *out = NULL;
	pn_err err;

	pv.mailbox_id = rq->sess.mailbox_id;
	pv.link_secret.data = rq->sess.link;
	pv.link_secret.len = WEB_LINK_BYTES;
	pv.pin = (char *)pin;
	pv.client = rq->client;
	req.op_case = POSTERN__V1__PROVISION_REQUEST__OP_PIN_VERIFY;
	req.pin_verify = &pv;
	err = pn_client_call(rq->t->bus, "provision", &req.base,
	    &postern__v1__provision_reply__descriptor, web_bus_pool(rq), &out);
	rep = (Postern__V1__ProvisionReply *)out;
	*v_r = err == PN_OK && rep->result_case == POSTERN__V1__PROVISION_REPLY__RESULT_VERDICT ?
	    rep->verdict : NULL;
	return err;
}

/*
 * web_kl_lookup - keylookup, fresh, for addrs[0..n): one result per
 * address (the pool's), or NULL (logged) if keylookup did not answer so
 */
const Postern__V1__KeyLookupResult *web_kl_lookup(web_req *rq, char **addrs, size_t n)
{
	Postern__V1__KeylookupRequest req = POSTERN__V1__KEYLOOKUP_REQUEST__INIT;
	Postern__V1__KeyLookup kl = POSTERN__V1__KEY_LOOKUP__INIT;
	Postern__V1__KeylookupReply *rep;
	ProtobufCMessage *out = NULL;
	pn_err err;

	kl.addresses = addrs;
	kl.n_addresses = n;
	kl.fresh = 1;
	req.op_case = POSTERN__V1__KEYLOOKUP_REQUEST__OP_LOOKUP;
	req.lookup = &kl;
	err = pn_client_call(rq->t->bus, "keylookup", &req.base,
	    &postern__v1__keylookup_reply__descriptor, web_bus_pool(rq), &out);
	rep = (Postern__V1__KeylookupReply *)out;
	if (err != PN_OK || rep->result_case != POSTERN__V1__KEYLOOKUP_REPLY__RESULT_LOOKUP ||
	    rep->lookup->n_results != n) {
		pn_warn("msg=\"keylookup failed\" status=%s", pn_err_str(err));
		return NULL;
	}
	return rep->lookup;
}
