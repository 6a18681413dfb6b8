/*
 * pb.c - protobuf-c wrapped once: bounded checked decoding into pools,
 * encoding into owned buffers, and the reply conventions every service
 * shares (status = 1, error = 2, one oneof per request and reply).
 *
 * The generic accessors go through the message descriptors, so the
 * skeleton and the broker can answer any service without knowing its types.
 */
#include <string.h>

#include "postern/v1/common.pb-c.h"
#include "postern/log.h"
#include "postern/pb.h"

ProtobufCMessage *pn_pb_unpack(const ProtobufCMessageDescriptor *desc,
    const void *data, size_t len, size_t max, pn_pool *pool)
{
	if (len > max)
		return NULL;
	return protobuf_c_message_unpack(desc, pn_pool_allocator(pool), len,
	    data);
}

uint8_t *pn_pb_pack(const ProtobufCMessage *msg, size_t *len_r)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf = pn_malloc(len ? len : 1);
	*len_r = protobuf_c_message_pack(msg, buf);
	return buf;
}

ProtobufCMessage *pn_pb_new(const ProtobufCMessageDescriptor *desc,
    pn_pool *pool)
{
	ProtobufCMessage *msg = pn_pool_alloc(pool, desc->sizeof_message);
	protobuf_c_message_init(desc, msg);
	return msg;
}

/* oneof_field - descriptor of the oneof member set in msg, or NULL */
static const ProtobufCFieldDescriptor *oneof_field(const ProtobufCMessage *msg)
{
	const ProtobufCMessageDescriptor *desc = msg->descriptor;
	for (unsigned i = 0; i < desc->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &desc->fields[i];
		if (!(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
			continue;
		uint32_t which = *(const uint32_t *)((const char *)msg +
		    f->quantifier_offset);
		if (which == f->id)
			return f;
	}
	return NULL;
}

uint32_t pn_pb_oneof_case(const ProtobufCMessage *msg)
{
	const ProtobufCFieldDescriptor *f = oneof_field(msg);
	return f ? f->id : 0;
}

const char *pn_pb_oneof_name(const ProtobufCMessage *msg)
{
	const ProtobufCFieldDescriptor *f = oneof_field(msg);
	return f ? f->name : NULL;
}

/* oneof_member - descriptor of msg's oneof message member id; fatal if there is none */
static const ProtobufCFieldDescriptor *oneof_member(const ProtobufCMessage *msg, uint32_t id)
{
	const ProtobufCFieldDescriptor *f =
	    protobuf_c_message_descriptor_get_field(msg->descriptor, id);

	if (!f || !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) || f->type != PROTOBUF_C_TYPE_MESSAGE)
		pn_fatalx("msg=\"no oneof message member\" type=%s field=%u",
		    msg->descriptor->name, id);
	return f;
}

void pn_pb_oneof_set(ProtobufCMessage *msg, uint32_t id, const ProtobufCMessage *value)
{
	const ProtobufCFieldDescriptor *f = oneof_member(msg, id);

	*(uint32_t *)((char *)msg + f->quantifier_offset) = id;
	*(const ProtobufCMessage **)((char *)msg + f->offset) = value;
}

ProtobufCMessage *pn_pb_oneof_get(const ProtobufCMessage *msg, uint32_t id)
{
	const ProtobufCFieldDescriptor *f = oneof_member(msg, id);

	if (*(const uint32_t *)((const char *)msg + f->quantifier_offset) != id)
		return NULL;
	return *(ProtobufCMessage *const *)((const char *)msg + f->offset);
}

/* status_fields - the shared reply prefix, checked once per call */
static int status_fields(const ProtobufCMessageDescriptor *desc,
    const ProtobufCFieldDescriptor **status_r,
    const ProtobufCFieldDescriptor **error_r)
{
	*status_r = protobuf_c_message_descriptor_get_field(desc, 1);
	*error_r = protobuf_c_message_descriptor_get_field(desc, 2);
	return *status_r && (*status_r)->type == PROTOBUF_C_TYPE_ENUM &&
	    *error_r && (*error_r)->type == PROTOBUF_C_TYPE_STRING ? 0 : -1;
}

void pn_pb_set_status(ProtobufCMessage *reply, pn_err status,
    const char *error, pn_pool *pool)
{
	const ProtobufCFieldDescriptor *fs, *fe;
	if (status_fields(reply->descriptor, &fs, &fe) < 0)
		pn_fatalx("msg=\"reply type lacks status/error\" type=%s",
		    reply->descriptor->name);
	*(int *)((char *)reply + fs->offset) = (int)status;
	if (error)
		*(char **)((char *)reply + fe->offset) = pn_pool_strdup(pool, error);
}

pn_err pn_pb_get_status(const ProtobufCMessage *reply, const char **error_r)
{
	const ProtobufCFieldDescriptor *fs, *fe;
	int status;

	if (error_r)
		*error_r = "";
	if (status_fields(reply->descriptor, &fs, &fe) < 0)
		return PN_ERR_INTERNAL;
	status = *(const int *)((const char *)reply + fs->offset);
	if (error_r) {
		const char *e = *(char *const *)((const char *)reply + fe->offset);
		*error_r = e ? e : "";
	}
	if (status < PN_OK || status > PN_ERR_BUSY)
		return PN_ERR_INTERNAL;      /* unset or unknown: never "ok" */
	return (pn_err)status;
}

uint8_t *pn_pb_error_reply(pn_err status, const char *error, size_t *len_r)
{
	Postern__V1__ErrorReply reply = POSTERN__V1__ERROR_REPLY__INIT;
	reply.status = (Postern__V1__Status)status;
	reply.error = (char *)(error ? error : "");
	return pn_pb_pack(&reply.base, len_r);
}
