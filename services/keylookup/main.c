/*
 * NAME
 *	postern-keylookup - answers whether an OpenPGP key is known for an address
 * SUMMARY
 *	A skeleton for now: it starts, registers with the broker as service
 *	"keylookup" and answers a ping, so that deployment, health checks and
 *	the bus can be tested before its own work lands.
 * PROTOCOL
 *	MDP/0.1 worker for "keylookup"; request postern.v1.KeylookupRequest, reply
 *	postern.v1.KeylookupReply (proto/postern/v1/keylookup.proto).
 * ENVIRONMENT
 *	Only the common variables (lib/include/postern/service.h); health
 *	port default 9101.
 * SECURITY
 *	CURVE client of the broker with its own certificate.
 * DIAGNOSTICS
 *	logfmt lines on stderr; exit 0 after SIGTERM, 1 if it cannot start,
 *	2 on bad configuration.
 */
#include "postern/v1/keylookup.pb-c.h"
#include "postern/service.h"

static const pn_op ops[] = {
	{ POSTERN__V1__KEYLOOKUP_REQUEST__OP_PING, "ping", pn_op_ping },
	PN_OP_END
};

static const pn_service service = {
	.name = "keylookup",
	.summary = "answers whether an OpenPGP key is known for an address",
	.health_port = 9101,
	.request = &postern__v1__keylookup_request__descriptor,
	.reply = &postern__v1__keylookup_reply__descriptor,
	.ops = ops,
};

int main(int argc, char **argv)
{
	return pn_service_main(argc, argv, &service);
}
