/*
 * mdp.c - fuzz target: MDP frames at the broker. The harness compiles the
 * broker's own brk_broker.c into itself and hands each message to its
 * handle(), exactly as brk_run does after recv_bounded: client requests,
 * worker READY/REPLY/HEARTBEAT/DISCONNECT, MMI, in any order and from
 * several peers, so the routing state (services, idle workers, queued
 * requests) is exercised, not just the frame checks. Housekeeping runs
 * after every message. There is no ZAP: every request goes to its worker
 * with an envelope naming one certificate without a role.
 *
 * The broker's ROUTER is real (ZeroMQ, inproc, without CURVE: the
 * handshake is not under test) with four DEALER peers "w0", "w1", "c0",
 * "c1" connected, so sends to them succeed and sends to other identities
 * fail as a vanished peer's would. Their inboxes are emptied after each
 * input, and each input gets a fresh broker state.
 *
 * Input: records until the end, each
 *   peer   1 byte: bits 0-1 one of the four peers; bit 2 set: the
 *          identity is the first frame instead (an unknown peer)
 *   count  1 byte: frames that follow (mod 11; over 9 is malformed, as
 *          recv_bounded marks it)
 *   frame  1 byte length, then that many bytes (cut at the end of input)
 */
#include "../../services/broker/brk_broker.c"
#include "../../services/broker/brk_roles.c"  /* brk_new needs brk_zap_new */
#include "postern/log.h"
#include "fuzz.h"

#define MDP_MAX_MESSAGE 512

static zsock_t *router;
static zsock_t *peer[4];
static const char *const peer_id[4] = { "w0", "w1", "c0", "c1" };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	pn_log_init("fuzz-mdp", PN_LOG_ERROR);
	zsys_init();
	zsys_set_logstream(NULL);
	router = zsock_new(ZMQ_ROUTER);
	zsock_set_router_mandatory(router, 1);
	zsock_set_sndtimeo(router, 0);
	if (!router || zsock_bind(router, "inproc://fuzz-broker") < 0)
		abort();
	for (int i = 0; i < 4; i++) {
		peer[i] = zsock_new(ZMQ_DEALER);
		zsock_set_identity(peer[i], peer_id[i]);
		zsock_set_rcvtimeo(peer[i], 0);
		if (!peer[i] || zsock_connect(peer[i], "inproc://fuzz-broker") < 0)
			abort();
	}
	/* wait until the router knows every peer */
	for (int tries = 0; tries < 1000; tries++) {
		int known = 0;

		for (int i = 0; i < 4; i++) {
			void *h = zsock_resolve(router);

			if (zmq_send(h, peer_id[i], 2, ZMQ_SNDMORE) == 0 &&
			    zmq_send(h, "", 0, 0) == 0)
				known++;
		}
		if (known == 4)
			break;
		zclock_sleep(1);
	}
	return 0;
}

/* drain - empty every peer's inbox */
static void drain(void)
{
	for (int i = 0; i < 4; i++) {
		zmsg_t *m;

		while ((m = zmsg_recv_nowait(peer[i])))
			zmsg_destroy(&m);
	}
}

/* broker_new - a broker on the shared ROUTER with nothing tracked */
static brk_broker *broker_new(void)
{
	brk_broker *b = pn_calloc(1, sizeof(*b));

	b->cfg.heartbeat_ms = 1000;
	b->cfg.liveness = 3;
	b->cfg.queue_max = 4;
	b->cfg.queue_ttl_ms = 10000;
	b->cfg.queue_bytes = 1024;
	b->cfg.max_message = MDP_MAX_MESSAGE;
	b->services = zhash_new();
	b->workers = zhash_new();
	b->router = router;
	return b;
}

/* next - one record as [identity][frames...]; NULL at the end of input */
static zmsg_t *next(const uint8_t **p, size_t *n, int *bad_r, size_t *total_r)
{
	zmsg_t *msg;
	int who, count;
	size_t total = 0;

	if (*n < 2)
		return NULL;
	who = (*p)[0];
	count = (*p)[1] % 11;
	*p += 2;
	*n -= 2;
	msg = zmsg_new();
	if (!(who & 4))
		zmsg_addstr(msg, peer_id[who & 3]);
	for (int i = 0; i < count || (i == 0 && (who & 4)); i++) {
		size_t len = *n ? (*p)[0] : 0;

		if (*n) {
			(*p)++;
			(*n)--;
		}
		if (len > *n)
			len = *n;
		zmsg_addmem(msg, *p, len);
		if (i > 0 || !(who & 4))
			total += len;
		*p += len;
		*n -= len;
	}
	*bad_r = count > BRK_FRAMES_MAX + 1 ? 1 : total > MDP_MAX_MESSAGE ? 2 : 0;
	*total_r = total;
	return msg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	brk_broker *b = broker_new();
	/* no ZAP here: every caller is one certificate without a role */
	brk_caller caller = { "fuzz", "-" };
	zmsg_t *msg;
	int bad;
	size_t total;

	while ((msg = next(&data, &size, &bad, &total))) {
		handle(b, msg, bad, total, &caller);
		zmsg_destroy(&msg);
		housekeeping(b);
	}
	b->router = NULL;       /* shared: brk_destroy must not close it */
	brk_destroy(&b);
	drain();
	return 0;
}
