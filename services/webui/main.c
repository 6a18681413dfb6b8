/*
 * NAME
 *	postern-webui - the recipients' web mail reader
 * SUMMARY
 *	A skeleton for now: it starts, registers with the broker as service
 *	"webui" and answers a ping, so that deployment, health checks and
 *	the bus can be tested before its own work lands.
 * PROTOCOL
 *	MDP/0.1 worker for "webui"; request postern.v1.WebuiRequest, reply
 *	postern.v1.WebuiReply (proto/postern/v1/webui.proto).
 * ENVIRONMENT
 *	Only the common variables (lib/include/postern/service.h); health
 *	port default 9104.
 * SECURITY
 *	CURVE client of the broker with its own certificate.
 * DIAGNOSTICS
 *	logfmt lines on stderr; exit 0 after SIGTERM, 1 if it cannot start,
 *	2 on bad configuration.
 */
#include "postern/v1/webui.pb-c.h"
#include "postern/service.h"

static const pn_op ops[] = {
	{ POSTERN__V1__WEBUI_REQUEST__OP_PING, "ping", pn_op_ping },
	PN_OP_END
};

static const pn_service service = {
	.name = "webui",
	.summary = "the recipients' web mail reader",
	.health_port = 9104,
	.request = &postern__v1__webui_request__descriptor,
	.reply = &postern__v1__webui_reply__descriptor,
	.ops = ops,
};

int main(int argc, char **argv)
{
	return pn_service_main(argc, argv, &service);
}
