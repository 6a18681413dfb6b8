/*
 * gw_bus.c - the gateway's calls to provision and keylookup.
 *
 * libmilter runs each MTA connection in a thread of its own, and civetweb
 * each API request in one of its workers. ZeroMQ sockets must not be used
 * by two threads at once, so a call takes a client from a small free list
 * (made on first need), uses it, and gives it back; the mutex around the
 * list also orders the memory of a socket that moves between threads. A
 * client whose call got no answer is destroyed instead of given back: its
 * socket may still hold the late reply. The calls themselves, their
 * status mapping and their texts are the library's (postern/calls.h).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "postern/calls.h"
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

/* done - a client after its call: back to the list if it was answered */
static void done(pn_client *c)
{
	if (pn_client_answered(c))
		give_back(c);
	else
		pn_client_destroy(&c);
}

/* gw_send - one SendEvent to provision */
pn_err gw_send(const Postern__V1__SendEvent *ev, pn_pool *pool,
    Postern__V1__SendResult **res_r, const char **why_r)
{
	pn_client *c = take();
	pn_err err;

	*res_r = NULL;
	*why_r = "cannot load the bus certificates";
	if (!c)
		return PN_ERR_INTERNAL;
	err = pn_prov_send(c, pool, ev, res_r, why_r);
	done(c);
	return err;
}

/* gw_lookup - one KeyLookup (cached answers are fine for a composer) */
pn_err gw_lookup(char **addresses, size_t n, pn_pool *pool,
    Postern__V1__KeyLookupResult **res_r, const char **why_r)
{
	pn_client *c = take();
	pn_err err;

	*res_r = NULL;
	*why_r = "cannot load the bus certificates";
	if (!c)
		return PN_ERR_INTERNAL;
	err = pn_kl_lookup(c, pool, addresses, n, 0, res_r, why_r);
	done(c);
	return err;
}

/* gw_pin_query - the PIN the sender assigned, encrypted to the sender's key */
pn_err gw_pin_query(const char *sender, const char *recipient, pn_pool *pool,
    ProtobufCBinaryData *armored_r, const char **why_r)
{
	Postern__V1__PinQuery q = POSTERN__V1__PIN_QUERY__INIT;
	Postern__V1__PinCiphertext *pin;
	pn_client *c = take();
	pn_err err;

	memset(armored_r, 0, sizeof(*armored_r));
	*why_r = "cannot load the bus certificates";
	if (!c)
		return PN_ERR_INTERNAL;
	q.sender = (char *)sender;
	q.recipient = (char *)recipient;
	if ((err = pn_prov_pin_query(c, pool, &q, &pin, why_r)) == PN_OK)
		*armored_r = pin->armored;
	done(c);
	return err;
}

/* gw_revoke - RevokeEvent through the pool's client */
pn_err gw_revoke(const Postern__V1__RevokeEvent *rq, pn_pool *pool,
    Postern__V1__RevokeResult **res_r, const char **why_r)
{
	pn_client *c = take();
	pn_err err;

	*res_r = NULL;
	*why_r = "cannot load the bus certificates";
	if (!c)
		return PN_ERR_INTERNAL;
	err = pn_prov_revoke(c, pool, rq, res_r, why_r);
	done(c);
	return err;
}
