/*
 * th_roles.c - test clients with the right role for what they call.
 *
 * The broker hands every request's role to the worker, and a worker
 * refuses an operation the role may not call (lib/src/roles.c). A test
 * that calls an operation directly therefore uses the certificate of a
 * program whose role may call it: "posternctl certs" made one per role
 * (provision: service, webui, reaper, posternctl: operator, gateway:
 * publisher). th_caller keeps one client per role and picks by operation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "harness.h"
#include "postern/roles.h"

/* the test certificate of each role, in the order of the role bits */
static const char *const role_cert[PN_ROLE_COUNT] = {
	"gateway", "webui", "reaper", "posternctl", "provision",
};

/* role_index - the first role that may call op of service, -1 if none */
static int role_index(const char *service, uint32_t op)
{
	long roles = pn_roles_of(service, op);

	for (int i = 0; roles > 0 && i < PN_ROLE_COUNT; i++)
		if (roles & (1L << i))
			return i;
	return -1;
}

/* th_cert_for - the test certificate whose role may call op of service */
const char *th_cert_for(const char *service, uint32_t op)
{
	int i = role_index(service, op);

	return i < 0 ? "posternctl" : role_cert[i];
}

/* th_cert_of_role - the test certificate of a role name, NULL if none */
const char *th_cert_of_role(const char *role)
{
	unsigned bit = pn_role_parse(role);

	for (int i = 0; i < PN_ROLE_COUNT; i++)
		if (bit == 1u << i)
			return role_cert[i];
	return NULL;
}

/* th_caller - set's client for a role that may call op of service (made once) */
pn_client *th_caller(th_callers *set, const char *service, uint32_t op)
{
	int i = role_index(service, op);

	if (i < 0)
		i = 3;          /* nobody may: the operator's, to be refused */
	if (!set->c[i]) {
		set->c[i] = th_client(set->endpoint, role_cert[i], set->timeout_ms, set->retries);
		assert_non_null(set->c[i]);
	}
	return set->c[i];
}

/* th_callers_destroy - close every client of set */
void th_callers_destroy(th_callers *set)
{
	for (int i = 0; i < PN_ROLE_COUNT; i++)
		pn_client_destroy(&set->c[i]);
}
