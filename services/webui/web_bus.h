/*
 * web_bus.h - every call the web UI makes on the bus (mailstore,
 * provision, keylookup), each a typed call of lib's calls.h (its one
 * policy: BUSY answered as TEMP, a wrong result as INTERNAL, failures
 * logged once). Replies live in the request's pool (web_bus_pool) until
 * the request ends. Owns nothing else.
 */
#ifndef POSTERN_WEB_BUS_H
#define POSTERN_WEB_BUS_H

#include <stdint.h>

#include "postern/v1/keylookup.pb-c.h"
#include "postern/v1/mailstore.pb-c.h"
#include "postern/v1/provision.pb-c.h"
#include "postern/err.h"
#include "postern/mem.h"
#include "web_http.h"

typedef Postern__V1__Mailbox web_mailbox;

/* web_bus_pool - the request's pool for bus replies (made on first use) */
pn_pool *web_bus_pool(web_req *rq);
/* web_get_mailbox - by id, address or link hash (32 bytes); NULL with *err_r */
const web_mailbox *web_get_mailbox(web_req *rq, int64_t id, const char *address,
    const uint8_t *hash, pn_err *err_r);
/* web_update_mailbox - compare-and-set of a mailbox (EXISTS: its state differs) */
pn_err web_update_mailbox(web_req *rq, const Postern__V1__UpdateMailbox *u);
/* web_list_folder - one page of a folder; NULL with *err_r */
const Postern__V1__FolderPage *web_list_folder(web_req *rq, const Postern__V1__ListFolder *lf,
    pn_err *err_r);
/* web_get_message - message id of the session's mailbox; NULL with *err_r */
const Postern__V1__Message *web_get_message(web_req *rq, int64_t id, pn_err *err_r);
/* web_store_message - a message (and its mail) into a mailbox; NULL with *err_r */
const Postern__V1__Stored *web_store_message(web_req *rq, const Postern__V1__StoreMessage *sm,
    pn_err *err_r);
/* web_touch - the mailbox was used (best effort) */
void web_touch(web_req *rq, int64_t id);
/* web_note - kind ("login", "login_failure") for mailbox id into the audit log (best effort) */
void web_note(web_req *rq, int64_t id, const char *kind);
/* web_pin_verify - provision's PinVerify for the FLOW session; the verdict, or NULL unless OK, in *v_r */
pn_err web_pin_verify(web_req *rq, const char *pin, const Postern__V1__PinVerdict **v_r);
/* web_kl_lookup - recipients' keys, fresh; n results (the pool's), or NULL (logged) */
const Postern__V1__KeyLookupResult *web_kl_lookup(web_req *rq, char **addrs, size_t n);
/* web_set_locale - the recipient chose a language for the mailbox (best effort) */
void web_set_locale(web_req *rq, int64_t id, const char *lang);
/* web_mark_seen - message id of the session's mailbox has been read (best effort) */
void web_mark_seen(web_req *rq, int64_t id);

#endif
