/*
 * ctl_ping.c - "posternctl ping SERVICE": liveness through the bus.
 *
 * Every service's request message has "Ping ping = 1" in its oneof, so
 * the request is the same bytes for all of them: field 1, length-delimited,
 * empty (0x0a 0x00). Every reply starts with "Status status = 1; string
 * error = 2;" and carries "Pong pong = 10" for a ping, so the reply is
 * decoded here generically from the wire format, without knowing the
 * service's types. Unknown fields are skipped; anything malformed is
 * reported, never trusted.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <czmq.h>

#include "ctl.h"
#include "postern/bus.h"
#include "postern/cfg.h"
#include "postern/err.h"
#include "postern/log.h"
#include "postern/mdp.h"
#include "postern/mem.h"

/* a length-delimited field seen in the reply */
typedef struct span {
	const uint8_t *p;
	size_t n;
} span;

typedef struct pong {
	uint64_t status;
	span error, service, version, instance;
	int has_pong;
} pong;

/* varint - read a base-128 varint; 0 or -1 */
static int varint(const uint8_t **p, const uint8_t *end, uint64_t *v_r)
{
	uint64_t v = 0;

	for (int shift = 0; shift < 64; shift += 7) {
		if (*p >= end)
			return -1;
		v |= (uint64_t)(**p & 0x7f) << shift;
		if (!(*(*p)++ & 0x80)) {
			*v_r = v;
			return 0;
		}
	}
	return -1;
}

/*
 * fields - walk one message's fields; on_field(num, type, value, span)
 * sees each. Returns 0 or -1 if the bytes are not a protobuf message.
 */
static int fields(const uint8_t *p, size_t len,
    int (*on_field)(void *, uint32_t, uint64_t, span), void *arg)
{
	const uint8_t *end = p + len;

	while (p < end) {
		uint64_t key, v = 0;
		span s = { NULL, 0 };

		if (varint(&p, end, &key) < 0 || (key >> 3) == 0 || (key >> 3) > 0x1fffffff)
			return -1;
		switch (key & 7) {
		case 0:
			if (varint(&p, end, &v) < 0)
				return -1;
			break;
		case 1:
			if ((size_t)(end - p) < 8)
				return -1;
			p += 8;
			break;
		case 2:
			if (varint(&p, end, &v) < 0 || v > (uint64_t)(end - p))
				return -1;
			s.p = p;
			s.n = (size_t)v;
			p += v;
			break;
		case 5:
			if ((size_t)(end - p) < 4)
				return -1;
			p += 4;
			break;
		default:
			return -1;
		}
		if (on_field && on_field(arg, (uint32_t)(key >> 3), v, s) < 0)
			return -1;
	}
	return 0;
}

/* pong_field - fields of a Pong */
static int pong_field(void *arg, uint32_t num, uint64_t v, span s)
{
	pong *pg = arg;

	(void)v;
	if (num == 1 && s.p)
		pg->service = s;
	else if (num == 2 && s.p)
		pg->version = s;
	else if (num == 3 && s.p)
		pg->instance = s;
	return 0;
}

/* reply_field - fields of the common reply prefix and the pong */
static int reply_field(void *arg, uint32_t num, uint64_t v, span s)
{
	pong *pg = arg;

	if (num == 1 && !s.p)
		pg->status = v;
	else if (num == 2 && s.p)
		pg->error = s;
	else if (num == 10 && s.p) {
		pg->has_pong = 1;
		return fields(s.p, s.n, pong_field, pg);
	}
	return 0;
}

/* print_span - a reply string, with control characters made harmless */
static void print_span(const char *key, span s)
{
	if (!s.p)
		return;
	printf(" %s=\"", key);
	for (size_t i = 0; i < s.n && i < 256; i++) {
		unsigned char c = s.p[i];

		putchar(c < 0x20 || c == 0x7f || c == '"' || c == '\\' ? '?' : c);
	}
	putchar('"');
}

/* ctl_ping - posternctl ping SERVICE */
int ctl_ping(int argc, char **argv)
{
	static const uint8_t request[] = { 0x0a, 0x00 };   /* ping = 1, empty */
	const char *service;
	pn_client *client;
	uint8_t *reply = NULL;
	size_t len = 0;
	pong pg;
	pn_err rc;
	int status = 1;

	if (argc != 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fprintf(argc == 2 ? stdout : stderr, "usage: posternctl ping SERVICE\n");
		return argc == 2 ? 0 : 2;
	}
	service = argv[1];
	if (!pn_mdp_service_valid(service, strlen(service))) {
		fprintf(stderr, "posternctl ping: bad service name \"%s\"\n", service);
		return 2;
	}
	if (!(client = ctl_client("ping", 5000, &status)))
		return status;
	rc = pn_client_call_raw(client, service, request, sizeof(request), &reply, &len);
	if (rc == PN_ERR_TEMP) {
		ctl_unreachable("ping", service);
		goto done;
	}
	if (rc != PN_OK) {
		fprintf(stderr, "posternctl ping: %s\n", pn_err_str(rc));
		goto done;
	}
	memset(&pg, 0, sizeof(pg));
	if (fields(reply, len, reply_field, &pg) < 0) {
		fprintf(stderr, "posternctl ping: malformed reply from %s (%zu bytes)\n",
		    service, len);
		goto done;
	}
	printf("%s: status=%s", service,
	    pg.status >= PN_OK && pg.status <= PN_ERR_BUSY ?
	    pn_err_str((pn_err)pg.status) : "invalid");
	print_span("error", pg.error);
	print_span("service", pg.service);
	print_span("version", pg.version);
	print_span("instance", pg.instance);
	putchar('\n');
	status = pg.status == PN_OK ? 0 : 1;
done:
	pn_free(&reply);
	ctl_client_done(&client);
	return status;
}
