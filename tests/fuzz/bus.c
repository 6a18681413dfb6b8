/*
 * bus.c - fuzz target: protobuf bodies on the bus. The first byte picks
 * the service (keylookup, mailstore, provision, reaper, webui); the rest
 * is one body frame, decoded as the skeleton decodes a request
 * (lib/src/service.c: pn_pb_unpack into a pool under a size bound, the
 * oneof case and name for dispatch) and as a client decodes that
 * service's reply (pn_pb_get_status). A decoded request must pack again
 * to bytes that decode and pack to the same bytes. Then the checks each
 * service runs before any backend sees the request:
 *   keylookup  every address normalised, kl_printable; the body as a
 *              cached value (kl_cache_decode)
 *   mailstore  Accept, StoreMessage, QueueMail, CompleteReceipt:
 *              ms_check_new_mailbox, ms_check_message (receipt_to too),
 *              ms_check_outmail, ms_address_norm; QueryAudit's address
 *              and event id
 *   provision  SendEvent: prov_event_id_ok, sender and recipients
 *              normalised, the mail through pn_mime_inspect
 */
#include <stdlib.h>
#include <string.h>

#include "postern/addr.h"
#include "postern/mem.h"
#include "postern/mime.h"
#include "postern/pb.h"
#include "postern/v1/keylookup.pb-c.h"
#include "postern/v1/mailstore.pb-c.h"
#include "postern/v1/provision.pb-c.h"
#include "postern/v1/reaper.pb-c.h"
#include "postern/v1/webui.pb-c.h"
#include "../../services/keylookup/kl.h"
#include "../../services/mailstore/ms.h"
#include "../../services/provision/prov.h"
#include "fuzz.h"

#define BUS_MAX (1024 * 1024)

static const struct {
	const ProtobufCMessageDescriptor *request, *reply;
} svc[] = {
	{ &postern__v1__keylookup_request__descriptor, &postern__v1__keylookup_reply__descriptor },
	{ &postern__v1__mailstore_request__descriptor, &postern__v1__mailstore_reply__descriptor },
	{ &postern__v1__provision_request__descriptor, &postern__v1__provision_reply__descriptor },
	{ &postern__v1__reaper_request__descriptor, &postern__v1__reaper_reply__descriptor },
	{ &postern__v1__webui_request__descriptor, &postern__v1__webui_reply__descriptor },
};
#define N_SVC (sizeof(svc) / sizeof(svc[0]))

/*
 * roundtrip - pack, unpack, pack: the same bytes twice. protobuf-c keeps
 * unknown fields and packs them again; one with the invalid field number
 * 0, which it reads in an over-long tag, it then refuses in the canonical
 * one. Nothing of ours re-sends a decoded request, so that only ends the
 * check.
 */
static void roundtrip(const ProtobufCMessage *m, pn_pool *pool)
{
	size_t a_len, b_len;
	uint8_t *a = pn_pb_pack(m, &a_len), *b;
	ProtobufCMessage *again = pn_pb_unpack(m->descriptor, a, a_len, BUS_MAX * 2, pool);

	if (again) {
		b = pn_pb_pack(again, &b_len);
		if (a_len != b_len || memcmp(a, b, a_len) != 0)
			abort();
		pn_free(&b);
	}
	pn_free(&a);
}

static void address(const char *a)
{
	char out[PN_ADDR_MAX + 1];

	if (a)
		(void)pn_addr_normalise(a, out, sizeof(out), NULL);
}

static void keylookup(const Postern__V1__KeylookupRequest *r, const uint8_t *body,
    size_t len, pn_pool *pool)
{
	if (r->op_case == POSTERN__V1__KEYLOOKUP_REQUEST__OP_LOOKUP && r->lookup)
		for (size_t i = 0; i < r->lookup->n_addresses; i++) {
			address(r->lookup->addresses[i]);
			(void)kl_printable(r->lookup->addresses[i], 254, pool);
		}
	(void)kl_cache_decode(body, len, "bob@example.org", pool);
}

static void outmail(const Postern__V1__OutMail *m, pn_pool *pool)
{
	const char *why;

	(void)ms_check_outmail(m, BUS_MAX, pool, &why);
}

static void mailstore(const Postern__V1__MailstoreRequest *r, pn_pool *pool)
{
	const char *why;

	switch (r->op_case) {
	case POSTERN__V1__MAILSTORE_REQUEST__OP_ACCEPT:
		if (!r->accept)
			break;
		(void)ms_address_norm(r->accept->address, pool, &why);
		if (r->accept->new_mailbox)
			(void)ms_check_new_mailbox(r->accept->new_mailbox, pool, &why);
		(void)ms_check_message(r->accept->message, BUS_MAX, &why);
		for (size_t i = 0; i < r->accept->n_mail; i++)
			outmail(r->accept->mail[i], pool);
		break;
	case POSTERN__V1__MAILSTORE_REQUEST__OP_STORE_MESSAGE:
		if (!r->store_message)
			break;
		(void)ms_check_message(r->store_message->message, BUS_MAX, &why);
		for (size_t i = 0; i < r->store_message->n_mail; i++)
			outmail(r->store_message->mail[i], pool);
		break;
	case POSTERN__V1__MAILSTORE_REQUEST__OP_QUEUE_MAIL:
		if (r->queue_mail)
			outmail(r->queue_mail->mail, pool);
		break;
	case POSTERN__V1__MAILSTORE_REQUEST__OP_GET_MAILBOX:
		if (r->get_mailbox && r->get_mailbox->address && *r->get_mailbox->address)
			(void)ms_address_norm(r->get_mailbox->address, pool, &why);
		break;
	case POSTERN__V1__MAILSTORE_REQUEST__OP_QUERY_AUDIT:
		if (r->query_audit && r->query_audit->address && *r->query_audit->address)
			(void)ms_address_norm(r->query_audit->address, pool, &why);
		if (r->query_audit && r->query_audit->event_id)
			(void)ms_id_ok(r->query_audit->event_id);
		break;
	case POSTERN__V1__MAILSTORE_REQUEST__OP_COMPLETE_RECEIPT:
		if (r->complete_receipt && r->complete_receipt->mail)
			outmail(r->complete_receipt->mail, pool);
		break;
	case POSTERN__V1__MAILSTORE_REQUEST__OP_APPEND_PART:
		if (r->append_part)
			(void)ms_check_part(r->append_part, &why);
		break;
	default:
		break;
	}
}

static void provision(const Postern__V1__ProvisionRequest *r)
{
	const Postern__V1__SendEvent *ev = r->send;
	pn_mime_info info;
	const char *why;

	if (r->op_case == POSTERN__V1__PROVISION_REQUEST__OP_PIN_QUERY && r->pin_query) {
		address(r->pin_query->sender);
		address(r->pin_query->recipient);
	}
	if (r->op_case != POSTERN__V1__PROVISION_REQUEST__OP_SEND || !ev)
		return;
	(void)prov_event_id_ok(ev->event_id);
	address(ev->sender);
	for (size_t i = 0; i < ev->n_recipients; i++)
		address(ev->recipients[i]);
	memset(&info, 0, sizeof(info));
	if (ev->mime.len && pn_mime_inspect(ev->mime.data, ev->mime.len, &info, &why) == PN_OK)
		pn_mime_info_free(&info);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pn_pool *pool;
	ProtobufCMessage *req, *rep;
	uint8_t *body;
	size_t len, which;

	if (size < 1)
		return 0;
	which = data[0] % N_SVC;
	len = size - 1;
	body = malloc(len ? len : 1);
	memcpy(body, data + 1, len);
	pool = pn_pool_new();
	req = pn_pb_unpack(svc[which].request, body, len, BUS_MAX, pool);
	if (req) {
		(void)pn_pb_oneof_name(req);
		(void)pn_pb_oneof_case(req);
		roundtrip(req, pool);
		if (which == 0)
			keylookup((const Postern__V1__KeylookupRequest *)req, body, len, pool);
		else if (which == 1)
			mailstore((const Postern__V1__MailstoreRequest *)req, pool);
		else if (which == 2)
			provision((const Postern__V1__ProvisionRequest *)req);
	}
	rep = pn_pb_unpack(svc[which].reply, body, len, BUS_MAX, pool);
	if (rep) {
		const char *err;

		(void)pn_pb_get_status(rep, &err);
		(void)pn_pb_oneof_name(rep);
	}
	pn_pool_destroy(&pool);
	free(body);
	return 0;
}
