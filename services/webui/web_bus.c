/*
 * web_bus.c - every call the web UI makes on the bus, in one place: to
 * mailstore (mailboxes, folders, messages, replies), to provision (the
 * PIN) and to keylookup (recipients' keys). Each is a typed call of
 * lib's calls.h, which maps BUSY to TEMP, checks the result and logs a
 * failure once; here the calls only get the request's pool, so the
 * replies live until the request ends (web_http.c frees the pool), and
 * the web UI's own arguments (the session's mailbox, its link secret).
 */
#include "postern/calls.h"
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

/* web_get_mailbox - by id, address or link hash; NULL with *err_r */
const web_mailbox *web_get_mailbox(web_req *rq, int64_t id, const char *address,
    const uint8_t *hash, pn_err *err_r)
{
	Postern__V1__GetMailbox g = POSTERN__V1__GET_MAILBOX__INIT;
	web_mailbox *mb;
	const char *why;

	g.id = id;
	g.address = (char *)(address ? address : "");
	if (hash) {
		g.link_hash.data = (uint8_t *)hash;
		g.link_hash.len = 32;
	}
	*err_r = pn_ms_get_mailbox(rq->t->bus, web_bus_pool(rq), &g, &mb, &why);
	return *err_r == PN_OK ? mb : NULL;
}

/* web_update_mailbox - compare-and-set of a mailbox (EXISTS: its state differs) */
pn_err web_update_mailbox(web_req *rq, const Postern__V1__UpdateMailbox *u)
{
	web_mailbox *mb;
	const char *why;

	return pn_ms_update_mailbox(rq->t->bus, web_bus_pool(rq), u, &mb, &why);
}

/* web_list_folder - one page of a folder; NULL with *err_r */
const Postern__V1__FolderPage *web_list_folder(web_req *rq, const Postern__V1__ListFolder *lf,
    pn_err *err_r)
{
	Postern__V1__FolderPage *pg;
	const char *why;

	*err_r = pn_ms_list_folder(rq->t->bus, web_bus_pool(rq), lf, &pg, &why);
	return *err_r == PN_OK ? pg : NULL;
}

/* web_get_message - message id of the session's mailbox; NULL with *err_r */
const Postern__V1__Message *web_get_message(web_req *rq, int64_t id, pn_err *err_r)
{
	Postern__V1__GetMessage gm = POSTERN__V1__GET_MESSAGE__INIT;
	Postern__V1__Message *m;
	const char *why;

	gm.mailbox_id = rq->sess.mailbox_id;
	gm.message_id = id;
	*err_r = pn_ms_get_message(rq->t->bus, web_bus_pool(rq), &gm, &m, &why);
	return *err_r == PN_OK ? m : NULL;
}

/* web_store_message - a message (and its mail) into a mailbox; NULL with *err_r */
const Postern__V1__Stored *web_store_message(web_req *rq, const Postern__V1__StoreMessage *sm,
    pn_err *err_r)
{
	Postern__V1__Stored *st;
	const char *why;

	*err_r = pn_ms_store_message(rq->t->bus, web_bus_pool(rq), sm, &st, &why);
	return *err_r == PN_OK ? st : NULL;
}

/* web_touch - the mailbox was used (best effort) */
void web_touch(web_req *rq, int64_t id)
{
	Postern__V1__Touch t = POSTERN__V1__TOUCH__INIT;
	const char *why;

	t.mailbox_id = id;
	pn_ms_touch(rq->t->bus, web_bus_pool(rq), &t, &why);
}

/* web_note - a login or a failed one into the audit log (best effort: logged by the call) */
void web_note(web_req *rq, int64_t id, const char *kind)
{
	const char *why;

	pn_ms_note(rq->t->bus, web_bus_pool(rq), id, kind, NULL, &why);
}

/* web_set_locale - the mailbox's language (best effort: the session keeps it anyway) */
void web_set_locale(web_req *rq, int64_t id, const char *lang)
{
	Postern__V1__SetLocale l = POSTERN__V1__SET_LOCALE__INIT;
	const char *why;

	l.mailbox_id = id;
	l.locale = (char *)lang;
	pn_ms_set_locale(rq->t->bus, web_bus_pool(rq), &l, &why);
}

/* web_mark_seen - message id of the session's mailbox has been read (best effort) */
void web_mark_seen(web_req *rq, int64_t id)
{
	Postern__V1__MarkSeen ms = POSTERN__V1__MARK_SEEN__INIT;
	const char *why;

	ms.mailbox_id = rq->sess.mailbox_id;
	ms.message_id = id;
	ms.seen = 1;
	pn_ms_mark_seen(rq->t->bus, web_bus_pool(rq), &ms, &why);
}

/*
 * web_pin_verify - provision's PinVerify for the FLOW session's mailbox
 * and link secret; the verdict (the pool's) in *v_r, NULL unless PN_OK.
 */
pn_err web_pin_verify(web_req *rq, const char *pin, const Postern__V1__PinVerdict **v_r)
{
	Postern__V1__PinVerify pv = POSTERN__V1__PIN_VERIFY__INIT;
	Postern__V1__PinVerdict *v;
	const char *why;
	pn_err err;

	pv.mailbox_id = rq->sess.mailbox_id;
	pv.link_secret.data = rq->sess.link;
	pv.link_secret.len = WEB_LINK_BYTES;
	pv.pin = (char *)pin;
	pv.client = rq->client;
	err = pn_prov_pin_verify(rq->t->bus, web_bus_pool(rq), &pv, &v, &why);
	*v_r = err == PN_OK ? v : NULL;
	return err;
}

/*
 * web_kl_lookup - keylookup, fresh, for addrs[0..n): one result per
 * address (the pool's), or NULL (logged by the call) if keylookup did
 * not answer so
 */
const Postern__V1__KeyLookupResult *web_kl_lookup(web_req *rq, char **addrs, size_t n)
{
	Postern__V1__KeyLookupResult *res;
	const char *why;

	if (pn_kl_lookup(rq->t->bus, web_bus_pool(rq), addrs, n, 1, &res, &why) != PN_OK)
		return NULL;
	return res;
}
