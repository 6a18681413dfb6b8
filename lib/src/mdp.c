/*
 * mdp.c - build and check Majordomo Protocol 0.1 frames (ZeroMQ RFC 7).
 *
 * Nothing here touches a socket: the broker, the client and the worker
 * hand every message they receive to these parsers first, and the parsers
 * assume the bytes are hostile. A message is accepted only when it has
 * exactly the frames the protocol names, the exact protocol string, a
 * known one-byte command and a service name of [a-z0-9._-]{1,64}. The one
 * body frame may be empty (a protobuf message of defaults encodes to zero
 * bytes). Anything else returns -1 and leaves the caller's outputs NULL.
 *
 * The envelope (mdp.h) carries the caller the broker authenticated to the
 * worker; a worker believes it because only the broker, whose key the
 * worker checked, can send it requests.
 */
#include <stdio.h>
#include <string.h>

#include "postern/mdp.h"
#include "postern/mem.h"

/* frame_is - frame holds exactly the NUL-free string s */
static int frame_is(zframe_t *frame, const char *s)
{
	size_t n = strlen(s);

	return frame && zframe_size(frame) == n &&
	    memcmp(zframe_data(frame), s, n) == 0;
}

/* frame_empty - frame exists and has no bytes */
static int frame_empty(zframe_t *frame)
{
	return frame && zframe_size(frame) == 0;
}

/* pn_mdp_service_valid - name is 1..64 chars of [a-z0-9._-] */
int pn_mdp_service_valid(const char *name, size_t len)
{
	if (!name || len == 0 || len > PN_MDP_SERVICE_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* service_frame - the frame's bytes as a service name, or NULL */
static char *service_frame(zframe_t *frame)
{
	if (!frame || !pn_mdp_service_valid((const char *)zframe_data(frame),
	    zframe_size(frame)))
		return NULL;
	return pn_strndup((const char *)zframe_data(frame), zframe_size(frame));
}

/* pn_mdp_client_head - new [""][MDPC01][service] */
zmsg_t *pn_mdp_client_head(const char *service)
{
	zmsg_t *msg;

	if (!service || !pn_mdp_service_valid(service, strlen(service)))
		return NULL;
	msg = zmsg_new();
	zmsg_addmem(msg, "", 0);
	zmsg_addstr(msg, PN_MDPC);
	zmsg_addstr(msg, service);
	return msg;
}

/* pn_mdp_client_request - new [""][MDPC01][service][body] */
zmsg_t *pn_mdp_client_request(const char *service, const void *body, size_t len)
{
	zmsg_t *msg;

	if (!body && len)
		return NULL;
	if ((msg = pn_mdp_client_head(service)))
		zmsg_addmem(msg, body, len);
	return msg;
}

/* pn_mdp_client_parse - check [""][MDPC01][service][body] */
int pn_mdp_client_parse(zmsg_t *msg, char **service_r, zframe_t **body_r)
{
	zframe_t *empty, *proto, *service, *body;

	if (service_r)
		*service_r = NULL;
	if (body_r)
		*body_r = NULL;
	if (!msg || zmsg_size(msg) != 4)
		return -1;
	empty = zmsg_first(msg);
	proto = zmsg_next(msg);
	service = zmsg_next(msg);
	body = zmsg_next(msg);
	if (!frame_empty(empty) || !frame_is(proto, PN_MDPC) || !body)
		return -1;
	if (!pn_mdp_service_valid((const char *)zframe_data(service),
	    zframe_size(service)))
		return -1;
	if (service_r)
		*service_r = service_frame(service);
	if (body_r)
		*body_r = body;
	return 0;
}

/* pn_mdp_worker_head - new [""][MDPW01][command][...] without a body */
zmsg_t *pn_mdp_worker_head(int command, const char *service, zframe_t *client)
{
	zmsg_t *msg;
	unsigned char cmd = (unsigned char)command;

	switch (command) {
	case PN_MDPW_READY:
		if (!service || !pn_mdp_service_valid(service, strlen(service)))
			return NULL;
		break;
	case PN_MDPW_REQUEST:
	case PN_MDPW_REPLY:
		if (!client || zframe_size(client) == 0)
			return NULL;
		break;
	case PN_MDPW_HEARTBEAT:
	case PN_MDPW_DISCONNECT:
		break;
	default:
		return NULL;
	}
	msg = zmsg_new();
	zmsg_addmem(msg, "", 0);
	zmsg_addstr(msg, PN_MDPW);
	zmsg_addmem(msg, &cmd, 1);
	if (command == PN_MDPW_READY) {
		zmsg_addstr(msg, service);
	} else if (command == PN_MDPW_REQUEST || command == PN_MDPW_REPLY) {
		zmsg_addmem(msg, zframe_data(client), zframe_size(client));
		zmsg_addmem(msg, "", 0);
	}
	return msg;
}

/* pn_mdp_worker_msg - new [""][MDPW01][command][...] */
zmsg_t *pn_mdp_worker_msg(int command, const char *service,
    zframe_t *client, const void *body, size_t len)
{
	zmsg_t *msg;

	if (!body && len)
		return NULL;
	if ((msg = pn_mdp_worker_head(command, service, client)) &&
	    (command == PN_MDPW_REQUEST || command == PN_MDPW_REPLY))
		zmsg_addmem(msg, body, len);
	return msg;
}

/* pn_mdp_worker_parse - check a worker-protocol message */
int pn_mdp_worker_parse(zmsg_t *msg, int *command_r, char **service_r,
    zframe_t **client_r, zframe_t **body_r)
{
	zframe_t *empty, *proto, *cmdf, *f4, *f5, *f6;
	int cmd;

	if (command_r)
		*command_r = 0;
	if (service_r)
		*service_r = NULL;
	if (client_r)
		*client_r = NULL;
	if (body_r)
		*body_r = NULL;
	if (!msg || zmsg_size(msg) < 3)
		return -1;
	empty = zmsg_first(msg);
	proto = zmsg_next(msg);
	cmdf = zmsg_next(msg);
	if (!frame_empty(empty) || !frame_is(proto, PN_MDPW) ||
	    !cmdf || zframe_size(cmdf) != 1)
		return -1;
	cmd = *(unsigned char *)zframe_data(cmdf);
	switch (cmd) {
	case PN_MDPW_READY:
		if (zmsg_size(msg) != 4)
			return -1;
		f4 = zmsg_next(msg);
		if (!pn_mdp_service_valid((const char *)zframe_data(f4),
		    zframe_size(f4)))
			return -1;
		if (service_r)
			*service_r = service_frame(f4);
		break;
	case PN_MDPW_REQUEST:
	case PN_MDPW_REPLY:
		if (zmsg_size(msg) != 6)
			return -1;
		f4 = zmsg_next(msg);
		f5 = zmsg_next(msg);
		f6 = zmsg_next(msg);
		if (zframe_size(f4) == 0 || zframe_size(f4) > 255 ||
		    !frame_empty(f5) || !f6)
			return -1;
		if (client_r)
			*client_r = zframe_dup(f4);
		if (body_r)
			*body_r = f6;
		break;
	case PN_MDPW_HEARTBEAT:
	case PN_MDPW_DISCONNECT:
		if (zmsg_size(msg) != 3)
			return -1;
		break;
	default:
		return -1;
	}
	if (command_r)
		*command_r = cmd;
	return 0;
}

#define ENVELOPE_MAGIC 0xC1

/* caller_text_ok - 1..max bytes of [A-Za-z0-9._-] */
static int caller_text_ok(const char *s, size_t n, size_t max)
{
	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* pn_mdp_envelope - [0xC1][n][route][role " " name] */
zframe_t *pn_mdp_envelope(zframe_t *route, const char *role, const char *name)
{
	uint8_t buf[PN_MDP_ENVELOPE_MAX];
	size_t n = route ? zframe_size(route) : 0, len;
	char caller[2 * PN_MDP_CALLER_MAX + 2];

	if (!role || !caller_text_ok(role, strlen(role), PN_MDP_CALLER_MAX))
		role = "-";
	if (!name || !caller_text_ok(name, strlen(name), PN_MDP_CALLER_MAX))
		name = "-";
	snprintf(caller, sizeof(caller), "%s %s", role, name);
	len = 2 + n + strlen(caller);
	if (n == 0 || n > 255 || len > sizeof(buf))
		return NULL;
	buf[0] = ENVELOPE_MAGIC;
	buf[1] = (uint8_t)n;
	memcpy(buf + 2, zframe_data(route), n);
	memcpy(buf + 2 + n, caller, strlen(caller));
	return zframe_new(buf, len);
}

/* envelope_route_len - n of a well-formed envelope, else 0 */
static size_t envelope_route_len(zframe_t *envelope)
{
	const uint8_t *p = envelope ? zframe_data(envelope) : NULL;
	size_t len = envelope ? zframe_size(envelope) : 0;

	if (len < 3 || p[0] != ENVELOPE_MAGIC || p[1] == 0 || (size_t)p[1] + 2 > len)
		return 0;
	return p[1];
}

/* pn_mdp_envelope_route - the routing id, or NULL */
zframe_t *pn_mdp_envelope_route(zframe_t *envelope)
{
	size_t n = envelope_route_len(envelope);

	return n ? zframe_new(zframe_data(envelope) + 2, n) : NULL;
}

/* pn_mdp_envelope_caller - role and name from an envelope, -1 if none */
int pn_mdp_envelope_caller(zframe_t *envelope, char role_r[PN_MDP_CALLER_MAX + 1],
    char name_r[PN_MDP_CALLER_MAX + 1])
{
	size_t n = envelope_route_len(envelope), len, rl;
	const char *text, *sp;

	role_r[0] = name_r[0] = '\0';
	if (!n)
		return -1;
	text = (const char *)zframe_data(envelope) + 2 + n;
	len = zframe_size(envelope) - 2 - n;
	sp = memchr(text, ' ', len);
	if (!sp)
		return -1;
	rl = (size_t)(sp - text);
	if (!caller_text_ok(text, rl, PN_MDP_CALLER_MAX) ||
	    !caller_text_ok(sp + 1, len - rl - 1, PN_MDP_CALLER_MAX))
		return -1;
	memcpy(role_r, text, rl);
	role_r[rl] = '\0';
	memcpy(name_r, sp + 1, len - rl - 1);
	name_r[len - rl - 1] = '\0';
	return 0;
}

/* pn_mdp_send - the frames of *msg, then tail shared; destroys msg; 0 or -1 */
int pn_mdp_send(zmsg_t **msg, void *sock, zframe_t *tail)
{
	void *handle = zsock_resolve(sock);
	size_t n = zmsg_size(*msg) + (tail != NULL), i = 0;
	int rc = 0;

	/* on a ROUTER the first frame names the peer: once it is accepted the rest follows */
	for (zframe_t *f = zmsg_first(*msg); f; f = zmsg_next(*msg), i++) {
		if (zmq_send(handle, zframe_data(f), zframe_size(f),
		    i + 1 < n ? ZMQ_SNDMORE : 0) < 0) {
			rc = -1;
			break;
		}
	}
	/* ZFRAME_REUSE: zmq shares the frame's data (reference counted) */
	if (rc == 0 && tail && zframe_send(&tail, handle, ZFRAME_REUSE) < 0)
		rc = -1;
	zmsg_destroy(msg);
	return rc;
}
