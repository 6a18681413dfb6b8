/*
 * bus_int.h - what the bus's client (bus_client.c) and worker
 * (bus_worker.c) share, private to lib/src: the keys and broker
 * endpoints, a watched link to one broker, whole-message send and
 * receive, the clock. bus.c implements it.
 */
#ifndef POSTERN_BUS_INT_H
#define POSTERN_BUS_INT_H

#include <stddef.h>
#include <stdint.h>

#include <czmq.h>

#include "postern/bus.h"

#define BUS_BROKERS_MAX 8
#define BUS_ENDPOINT_MAX 256
#define BUS_LINGER_CLOSE_MS 1000

/* Our certificate, the brokers' common public key, their endpoints. */
typedef struct bus_keys {
	char *brokers[BUS_BROKERS_MAX];  /* endpoints, as POSTERN_BROKER lists them */
	int nbrokers;
	zcert_t *cert;                   /* ours, with secret */
	char *server_key;                /* the brokers' public key, Z85 */
	long max_message;
} bus_keys;

/* bus_keys_load - certificates and the endpoint list; 0, or -1 with a log line */
int bus_keys_load(bus_keys *k, const pn_bus_cfg *cfg);
/* bus_keys_free - forget keys and endpoints */
void bus_keys_free(bus_keys *k);

/*
 * A link is a socket to one broker and the monitor that reports its
 * connection: "up" once a CURVE handshake succeeded, "lost" when that
 * connection drops afterwards (the broker died or restarted).
 */
typedef struct bus_link {
	zsock_t *sock;
	zsock_t *mon;                /* PAIR receiving sock's monitor events */
	int up;                      /* a handshake succeeded on sock */
} bus_link;

/* bus_link_open - a fresh socket to broker i, watched from before it connects; 0 or -1 */
int bus_link_open(bus_link *l, const bus_keys *k, int i);
/* bus_link_close - close the socket and its monitor; NULL-tolerant */
void bus_link_close(bus_link *l);
/* bus_link_lost - read pending monitor events; 1 if an established connection dropped */
int bus_link_lost(bus_link *l);

/*
 * bus_msg_recv - one whole message without blocking (frames past max
 * drained), its frames as they came, not copied; NULL if none
 */
zmsg_t *bus_msg_recv(zsock_t *sock, size_t max, size_t *total_r);
/* bus_now_ms - monotonic milliseconds */
int64_t bus_now_ms(void);

#endif
