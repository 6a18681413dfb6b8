/*
 * ms_parts.c - AppendPart: a large body in parts, ahead of the message
 * that names it (NewMessage.body_upload, migration 012).
 *
 * A part goes into body_parts, unique by (upload, seq): a part sent again
 * replaces itself while it is pending. The message's transaction claims
 * the parts (ms_db.c), and they stay its body; GetMessage joins them. So
 * mailstore never holds more of a body it is given than one part. An
 * upload may not outgrow the largest stored message: postern_append_part
 * counts what the upload holds already, in the same statement. Parts
 * nobody claimed - their caller died, or gave up - go after an hour: the
 * first part of every upload sweeps them.
 */
#include "postern/log.h"
#include "ms_db_int.h"

#define REQ(r) ((const Postern__V1__MailstoreRequest *)(r))

/* append - one part in its own transaction; TOOLARGE when it would not fit */
static pn_err append(pn_pg *pg, const Postern__V1__AppendPart *a, ms_why *why)
{
	pn_pg_params p;
	PGresult *res = NULL;
	int stored;
	pn_err err;

	pn_pg_params_init(&p);
	pn_pg_param_bytea(&p, a->upload.data, a->upload.len);
	pn_pg_param_int(&p, a->seq);
	pn_pg_param_bytea(&p, a->data.data, a->data.len);
	pn_pg_param_int(&p, ms_cfg.max_stored_bytes);
	if ((err = pn_pg_exec_prepared(pg, "ms_append_part",
	    "SELECT postern_append_part($1, $2, $3, $4)", &p, &res)) != PN_OK)
		return ms_db_fail(pg, why, "append part", err);
	stored = pn_pg_bool(res, 0, 0);
	pn_pg_clear(&res);
	if (!stored)
		return ms_set_why(why, PN_ERR_TOOLARGE,
		    "upload is larger than POSTERN_MAILSTORE_MAX_STORED_BYTES");
	return PN_OK;
}

/* ms_drop_upload - parts nobody will claim (ms.h): gone now rather than in an hour */
void ms_drop_upload(pn_pg *pg, const Postern__V1__NewMessage *m)
{
	pn_pg_params p;

	if (m->body_upload.len == 0)
		return;
	pn_pg_params_init(&p);
	pn_pg_param_bytea(&p, m->body_upload.data, m->body_upload.len);
	/* pending ones only: a retry of the same Accept names the stored message's parts */
	if (pn_pg_exec_prepared(pg, "ms_drop_upload", "DELETE FROM body_parts WHERE upload = $1 "
	    "AND message_id IS NULL", &p, NULL) != PN_OK)
		pn_warn("msg=\"cannot drop the parts of an unstored message\" sqlstate=%s",
		    pn_pg_sqlstate(pg));
}

/* ms_op_append_part - AppendPart: checked, stored, answered with its status */
pn_err ms_op_append_part(pn_ctx *ctx, const ProtobufCMessage *request,
    ProtobufCMessage *reply, pn_pool *pool)
{
	const Postern__V1__AppendPart *a = REQ(request)->append_part;
	const char *why = NULL;
	ms_why w = { NULL };
	pn_err err;

	(void)reply;
	(void)pool;
	if ((err = ms_check_part(a, &why)) != PN_OK)
		return ms_fail(ctx, err, why);
	RETRY(err, append(ms_pg(), a, &w));
	if (err != PN_OK)
		return ms_fail(ctx, err, w.text);
	pn_debug("msg=\"part stored\" seq=%d size=%zu", (int)a->seq, a->data.len);
	return PN_OK;
}
