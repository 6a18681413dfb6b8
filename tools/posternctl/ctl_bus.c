/*
 * ctl_bus.c - the bus settings and messages every posternctl command
 * shares: one configuration table (as for a service: POSTERN_BROKER,
 * POSTERN_CERT, POSTERN_BROKER_CERT, POSTERN_BUS_TIMEOUT_MS,
 * POSTERN_BUS_RETRIES), one way to open a client, and one wording for
 * "unreachable" and "refused" after a typed call (postern/calls.h).
 *
 * Certificates default to certs/posternctl.cert and certs/broker.cert;
 * when those do not exist but the ones "make run" generated under
 * var/certs/ do, those are used, so that commands typed next to a local
 * run work without any environment.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <czmq.h>

#include "ctl.h"
#include "postern/cfg.h"
#include "postern/log.h"

static char *cf_broker, *cf_cert, *cf_broker_cert;
static long cf_timeout, cf_retries;
static char def_timeout[32];
static char def_cert[4200], def_broker_cert[4200];

static const pn_cfg_entry config[] = {
	PN_CFG_STR("POSTERN_BROKER", "tcp://127.0.0.1:5555", &cf_broker,
	    PN_CFG_REQUIRED, "broker endpoints, comma-separated (up to 8)"),
	{ PN_CFG_T_STR, "POSTERN_CERT", def_cert, 0, 0, &cf_cert, PN_CFG_REQUIRED,
	    "our CURVE certificate (secret in <file>_secret)", NULL },
	{ PN_CFG_T_STR, "POSTERN_BROKER_CERT", def_broker_cert, 0, 0, &cf_broker_cert,
	    PN_CFG_REQUIRED, "the broker's public CURVE certificate", NULL },
	{ PN_CFG_T_INT, "POSTERN_BUS_TIMEOUT_MS", def_timeout, 100, 600000, &cf_timeout,
	    0, "reply timeout per try", NULL },
	PN_CFG_INT("POSTERN_BUS_RETRIES", 3, 1, 100, &cf_retries,
	    "tries before giving up"),
	PN_CFG_END
};

/* default_cert - $POSTERN_CERT_DIR/NAME; else certs/NAME, or var/certs/NAME if only that exists */
static void default_cert(char *buf, size_t len, const char *name)
{
	const char *dir = getenv("POSTERN_CERT_DIR");

	if (dir && *dir) {
		snprintf(buf, len, "%s/%s", dir, name);
		return;
	}
	snprintf(buf, len, "certs/%s", name);
	if (access(buf, R_OK) == 0)
		return;
	snprintf(buf, len, "var/certs/%s", name);
	if (access(buf, R_OK) != 0)
		snprintf(buf, len, "certs/%s", name);
}

pn_client *ctl_client(const char *cmd, long default_timeout_ms, int *status_r)
{
	pn_bus_cfg cfg;
	pn_client *client;
	char err[512];

	snprintf(def_timeout, sizeof(def_timeout), "%ld", default_timeout_ms);
	default_cert(def_cert, sizeof(def_cert), "posternctl.cert");
	default_cert(def_broker_cert, sizeof(def_broker_cert), "broker.cert");
	pn_log_init("posternctl", PN_LOG_ERROR);
	if (pn_cfg_load(config, err, sizeof(err)) < 0) {
		fprintf(stderr, "posternctl %s: configuration: %s\n", cmd, err);
		*status_r = 2;
		return NULL;
	}
	/* a CLI: let ^C end the process instead of czmq swallowing it */
	zsys_handler_set(NULL);
	pn_bus_cfg_defaults(&cfg);
	cfg.broker = cf_broker;
	cfg.cert = cf_cert;
	cfg.broker_cert = cf_broker_cert;
	cfg.timeout_ms = cf_timeout;
	cfg.retries = cf_retries;
	if (!(client = pn_client_new(&cfg))) {
		fprintf(stderr, "posternctl %s: cannot load certificates %s and %s "
		    "(make them with \"posternctl certs DIR\", point POSTERN_CERT and "
		    "POSTERN_BROKER_CERT at them)\n", cmd, cf_cert, cf_broker_cert);
		pn_cfg_free(config);
		*status_r = 1;
		return NULL;
	}
	return client;
}

void ctl_client_done(pn_client **client)
{
	if (!client || !*client)
		return;
	pn_client_destroy(client);
	pn_cfg_free(config);
}

void ctl_unreachable(const char *cmd, const char *service)
{
	fprintf(stderr, "posternctl %s: broker unreachable at %s after %ld tries "
	    "(no reply from %s within %ld ms each)\n", cmd, cf_broker, cf_retries,
	    service, cf_timeout);
}

void ctl_refused(const char *cmd, pn_err rc, const char *why)
{
	fprintf(stderr, "posternctl %s: refused: %s", cmd, pn_err_str(rc));
	if (why && *why) {
		fputs(": ", stderr);
		for (const char *p = why; *p; p++)      /* no control bytes to the terminal */
			fputc((unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p, stderr);
	}
	fputc('\n', stderr);
}

void ctl_failed(const char *cmd, const char *service, const pn_client *client, pn_err rc,
    const char *why)
{
	if (!pn_client_answered(client))
		ctl_unreachable(cmd, service);
	else
		ctl_refused(cmd, rc, why);
}
