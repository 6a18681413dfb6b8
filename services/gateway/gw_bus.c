/*
 * gw_bus.c - the gateway's calls to provision and keylookup.
 *
 * libmilter runs each MTA connection in a thread of its own, and civetweb
 * each API request in one of its workers. ZeroMQ sockets must not be used
 * by two threads at once, so a call takes a client from a small free list
 * (made on first need), uses it, and gives it back; the mutex around the
 * list also orders the memory of a socket that moves between threads. A
 * client whose call got no answer is destroyed instead of given back: its
 * socket may still hold the late reply.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "postern/log.h"
#include "postern/pb.h"
#include "gw.h"

typedef struct idle_client {
	pn_client *client;
	struct idle_client *next;
} idle_client;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pn_bus_cfg bus_cfg;
static idle_client *idle;

/* gw_bus_init - remember the bus settings; clients are made on demand */
void gw_bus_init(const pn_bus_cfg *cfg)
{
	bus_cfg = *cfg;
}

/* gw_bus_fini - destroy every pooled client */
void gw_bus_fini(void)
{
	pthread_mutex_lock(&lock);
	while (idle) {
		idle_client *i = idle;
		idle = i->next;
		pn_client_destroy(&i->client);
		free(i);
	}
	pthread_mutex_unlock(&lock);
}

/* take - an idle client, or a new one (NULL if certificates do not load) */
static pn_client *take(void)
{
	pn_client *c = NULL;

	pthread_mutex_lock(&lock);
	if (idle) {
		idle_client *i = idle;
		idle = i->next;
		c = i->client;
		free(i);
	}
	pthread_mutex_unlock(&lock);
	return c ? c : pn_client_new(&bus_cfg);
}

/* give_back - an idle client goes back to the list */
static void give_back(pn_client *c)
{
	idle_client *i = pn_malloc(sizeof(*i));

	i->client = c;
	pthread_mutex_lock(&lock);
	i->next = idle;
	idle = i;
	pthread_mutex_unlock(&lock);
}

/* gw_bus_call - one request over a pooled client */
pn_err gw_bus_call(const char *service, const ProtobufCMessage *request,
    const ProtobufCMessageDescriptor *reply_desc, pn_pool *pool,
    ProtobufCMessage **reply_r)
{
	pn_client *c = take();
	pn_err err;

	*reply_r = NULL;
	if (!c)
		return PN_ERR_INTERNAL;
	err = pn_client_call(c, service, request, reply_desc, pool, reply_r);
	if (*reply_r)
		give_back(c);
	else
		pn_client_destroy(&c);
	return err == PN_ERR_BUSY ? PN_ERR_TEMP : err;
}

/* reply_why - the reply's error text, or a text for a call without reply */
static const char *reply_why(const ProtobufCMessage *out, pn_err err, const char *service)
{
	const char *why = NULL;

	if (out)
		pn_pb_get_status(out, &why);
	if (why && *why)
		return why;
	if (err == PN_ERR_TEMP)
		return !strcmp(service, "provision") ? "provision is unavailable" :
		    "keylookup is unavailable";
	return pn_err_str(err);
}

/* gw_send - one SendEvent to provision */
pn_err gw_send(const Postern__V1__SendEvent *ev, pn_pool *pool,
    Postern__V1__SendResult **res_r, const char **why_r)
{
	Postern__V1__ProvisionRequest req = POSTERN__V1__PROVISION_REQUEST__INIT;
	ProtobufCMessage *out = NULL;
	pn_err err;

	*res_r = NULL;
	req.op_case = POSTERN__V1__PROVISION_REQUEST__OP_SEND;
	req.send = (Postern__V1__SendEvent *)ev;
	err = gw_bus_call("provision", &req.base, &postern__v1__provision_reply__descriptor,
	    pool, &out);
	if (err == PN_OK) {
		Postern__V1__ProvisionReply *rep = (Postern__V1__ProvisionReply *)out;
		if (rep->result_case != POSTERN__V1__PROVISION_REPLY__RESULT_SEND ||
		    rep->send->n_outcomes != ev->n_recipients) {
			*why_r = "provision answered badly";
			return PN_ERR_INTERNAL;
		}
		*res_r = rep->send;
		return PN_OK;
	}
	*why_r = reply_why(out, err, "provision");
	return err;
}

/* gw_lookup - one KeyLookup (cached answers are fine for a composer) */
pn_err gw_lookup(char **addresses, size_t n, pn_pool *pool,
    Postern__V1__KeyLookupResult **res_r, const char **why_r)
{
	Postern__V1__KeylookupRequest req = POSTERN__V1__KEYLOOKUP_REQUEST__INIT;
	Postern__V1__KeyLookup kl = POSTERN__V1__KEY_LOOKUP__INIT;
	ProtobufCMessage *out = NULL;
	pn_err err;

	*res_r = NULL;
	kl.addresses = addresses;
	kl.n_addresses = n;
	req.op_case = POSTERN__V1__KEYLOOKUP_REQUEST__OP_LOOKUP;
	req.lookup = &kl;
	err = gw_bus_call("keylookup", &req.base, &postern__v1__keylookup_reply__descriptor,
	    pool, &out);
	if (err == PN_OK) {
		Postern__V1__KeylookupReply *rep = (Postern__V1__KeylookupReply *)out;
		if (rep->result_case != POSTERN__V1__KEYLOOKUP_REPLY__RESULT_LOOKUP ||
		    rep->lookup->n_results != n) {
			*why_r = "keylookup answered badly";
			return PN_ERR_INTERNAL;
		}
		*res_r = rep->lookup;
		return PN_OK;
	}
	*why_r = reply_why(out, err, "keylookup");
	return err;
}

/* gw_pin_query - the PIN the sender assigned, encrypted to the sender's key */
pn_err gw_pin_query(const char *sender, const char *recipient, pn_pool *pool,
    ProtobufCBinaryData *armored_r, const char **why_r)
{
	Postern__V1__ProvisionRequest req = POSTERN__V1__PROVISION_REQUEST__INIT;
	Postern__V1__PinQuery q = POSTERN__V1__PIN_QUERY__INIT;
	ProtobufCMessage *out = NULL;
	pn_err err;

	memset(armored_r, 0, sizeof(*armored_r));
	q.sender = (char *)sender;
	q.recipient = (char *)recipient;
	req.op_case = POSTERN__V1__PROVISION_REQUEST__OP_PIN_QUERY;
	req.pin_query = &q;
	err = gw_bus_call("provision", &req.base, &postern__v1__provision_reply__descriptor,
	    pool, &out);
	if (err == PN_OK) {
		Postern__V1__ProvisionReply *rep = (Postern__V1__ProvisionReply *)out;
		if (rep->result_case != POSTERN__V1__PROVISION_REPLY__RESULT_PIN) {
			*why_r = "provision answered badly";
			return PN_ERR_INTERNAL;
		}
		*armored_r = rep->pin->armored;
		return PN_OK;
	}
	*why_r = reply_why(out, err, "provision");
	return err;
}
