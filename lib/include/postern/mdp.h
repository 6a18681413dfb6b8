/*
 * mdp.h - Majordomo Protocol 0.1 (ZeroMQ RFC 7) frames.
 *
 * Client <-> broker, over DEALER (the empty frame stands in for REQ):
 *   request  [""] ["MDPC01"] [service] [body...]
 *   reply    [""] ["MDPC01"] [service] [body...]
 * Worker <-> broker, over DEALER:
 *   READY      [""] ["MDPW01"] [0x01] [service]
 *   REQUEST    [""] ["MDPW01"] [0x02] [client] [""] [body...]
 *   REPLY      [""] ["MDPW01"] [0x03] [client] [""] [body...]
 *   HEARTBEAT  [""] ["MDPW01"] [0x04]
 *   DISCONNECT [""] ["MDPW01"] [0x05]
 * On the broker's ROUTER every message is preceded by the peer identity.
 *
 * [client] in REQUEST and REPLY is the envelope: opaque to a worker, which
 * echoes it. The broker puts the caller in it (pn_mdp_envelope):
 *   [0xC1] [n] [the client's routing id: n bytes] [role] [" "] [name]
 * role is the caller's role from the allow-list ("-" for none), name its
 * certificate's name. A worker older than this reads nothing in it and
 * still answers; a broker older than this sends the bare routing id, in
 * which pn_mdp_envelope_caller finds no caller.
 *
 * These functions only build and check frames: no sockets, so the unit
 * tests can feed them garbage.
 */
#ifndef POSTERN_MDP_H
#define POSTERN_MDP_H

#include <czmq.h>

#define PN_MDPC "MDPC01"
#define PN_MDPW "MDPW01"

enum {
	PN_MDPW_READY = 1,
	PN_MDPW_REQUEST = 2,
	PN_MDPW_REPLY = 3,
	PN_MDPW_HEARTBEAT = 4,
	PN_MDPW_DISCONNECT = 5,
};

#define PN_MDP_SERVICE_MAX 64    /* service names: [a-z0-9._-]{1,64} */
#define PN_MDP_ENVELOPE_MAX 255  /* bytes of [client] */
#define PN_MDP_CALLER_MAX 64     /* bytes of a caller's name */

/* pn_mdp_service_valid - name is 1..64 chars of [a-z0-9._-] */
int pn_mdp_service_valid(const char *name, size_t len);

/* pn_mdp_client_request - new [""][MDPC01][service][body] */
zmsg_t *pn_mdp_client_request(const char *service, const void *body, size_t len);
/*
 * pn_mdp_client_parse - check a message as a client request or reply
 * (without routing identity) and return service (caller frees) and the
 * body frame (still owned by msg). -1 if malformed.
 */
int pn_mdp_client_parse(zmsg_t *msg, char **service_r, zframe_t **body_r);

/* pn_mdp_worker_msg - new [""][MDPW01][command][...] with optional parts */
zmsg_t *pn_mdp_worker_msg(int command, const char *service,
    zframe_t *client, const void *body, size_t len);

/*
 * pn_mdp_client_head, pn_mdp_worker_head - the same messages without their
 * body frame, for a sender that sends a body frame it holds already: the
 * broker forwards a body as the frame it came in, never copied.
 */
zmsg_t *pn_mdp_client_head(const char *service);
zmsg_t *pn_mdp_worker_head(int command, const char *service, zframe_t *client);

/*
 * pn_mdp_send - send the frames of *msg on sock (a zsock_t or a raw
 * socket), then tail, when not NULL, as the last frame: shared with zmq
 * rather than copied, and still the caller's (a request goes again from
 * the same frame on a retry; the broker forwards a body it keeps queued).
 * Destroys *msg. 0, or -1 at the first frame zmq refused.
 */
int pn_mdp_send(zmsg_t **msg, void *sock, zframe_t *tail);
/*
 * pn_mdp_worker_parse - check a worker-protocol message (without routing
 * identity): sets command; for READY service_r (caller frees); for
 * REQUEST/REPLY client_r (a duplicate, caller destroys) and body_r
 * (borrowed from msg). -1 if malformed.
 */
int pn_mdp_worker_parse(zmsg_t *msg, int *command_r, char **service_r,
    zframe_t **client_r, zframe_t **body_r);

/*
 * pn_mdp_envelope - new envelope for route (a routing id) and the caller's
 * role and name (NULL: none). NULL if route is too long to fit.
 */
zframe_t *pn_mdp_envelope(zframe_t *route, const char *role, const char *name);
/* pn_mdp_envelope_route - the routing id inside an envelope (new frame), or NULL */
zframe_t *pn_mdp_envelope_route(zframe_t *envelope);
/*
 * pn_mdp_envelope_caller - the caller's role and name (NUL-terminated,
 * at most PN_MDP_CALLER_MAX bytes each) from an envelope; -1 if it holds
 * none (a broker older than this, or garbage). A role of "-" is a caller
 * the allow-list gives no role.
 */
int pn_mdp_envelope_caller(zframe_t *envelope, char role_r[PN_MDP_CALLER_MAX + 1],
    char name_r[PN_MDP_CALLER_MAX + 1]);

#endif
