/*
 * pb.h - protobuf-c wrapped once.
 *
 * Every decode of bytes from the network goes through pn_pb_unpack, which
 * bounds the size and returns NULL on malformed input. Every reply message
 * starts with "Status status = 1; string error = 2;" (see common.proto), so
 * pn_pb_set_status works on any reply and pn_pb_error_reply builds a reply
 * that decodes as any service's.
 */
#ifndef POSTERN_PB_H
#define POSTERN_PB_H

#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

#include "postern/err.h"
#include "postern/mem.h"

/* pn_pb_unpack - decode data into pool memory; NULL if malformed or > max */
ProtobufCMessage *pn_pb_unpack(const ProtobufCMessageDescriptor *desc,
    const void *data, size_t len, size_t max, pn_pool *pool);
/* pn_pb_pack - encode into a pn_malloc'd buffer (caller frees) */
uint8_t *pn_pb_pack(const ProtobufCMessage *msg, size_t *len_r);
/* pn_pb_new - a zero-initialised message of the given type in pool memory */
ProtobufCMessage *pn_pb_new(const ProtobufCMessageDescriptor *desc, pn_pool *pool);
/* pn_pb_oneof_case - field number of the oneof member set in msg, 0 if none */
uint32_t pn_pb_oneof_case(const ProtobufCMessage *msg);
/* pn_pb_oneof_name - name of that member, NULL if none */
const char *pn_pb_oneof_name(const ProtobufCMessage *msg);
/* pn_pb_oneof_set - make the message member with field number id (of a oneof) value */
void pn_pb_oneof_set(ProtobufCMessage *msg, uint32_t id, const ProtobufCMessage *value);
/* pn_pb_oneof_get - the message member with field number id if it is the one set, else NULL */
ProtobufCMessage *pn_pb_oneof_get(const ProtobufCMessage *msg, uint32_t id);
/* pn_pb_set_status - set status and (pool-copied, may be NULL) error of a reply */
void pn_pb_set_status(ProtobufCMessage *reply, pn_err status,
    const char *error, pn_pool *pool);
/* pn_pb_get_status - read status and error of any reply message */
pn_err pn_pb_get_status(const ProtobufCMessage *reply, const char **error_r);
/* pn_pb_error_reply - pack an ErrorReply{status, error}; caller frees */
uint8_t *pn_pb_error_reply(pn_err status, const char *error, size_t *len_r);

#endif
