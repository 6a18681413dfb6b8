/*
 * roles.h - least privilege on the bus: who may call which operation.
 *
 * Every CURVE certificate on the broker's allow-list has one role, named
 * in a file beside it (allow/<name>.role, one word). The broker finds the
 * role of each request's authenticated public key and hands it to the
 * worker with the request (mdp.h, the envelope); the skeleton (service.c)
 * asks pn_roles_allowed() before it runs a handler, and answers
 * STATUS_PERM with a log line when the role is not one the operation
 * declares.
 *
 * The policy is one table, in roles.c: for every service, for every
 * operation of its request message (the oneof in proto/), the roles that
 * may call it. An operation the table does not declare is refused to
 * everybody, a service whose table lacks one of its operations does not
 * start, and lib/tests/roles_test.c walks every service's request message
 * and fails on an operation without a declaration: a new operation cannot
 * be added without saying who may call it. docs/security.md shows the
 * table as "posternctl roles" prints it; tests/docs/run.sh compares them.
 */
#ifndef POSTERN_ROLES_H
#define POSTERN_ROLES_H

#include <stdint.h>
#include <stdio.h>

#include <protobuf-c/protobuf-c.h>

enum {
	PN_ROLE_PUBLISHER = 1 << 0,  /* sends events: a mail backend, the gateway */
	PN_ROLE_WEBUI = 1 << 1,      /* the recipients' web UI */
	PN_ROLE_REAPER = 1 << 2,     /* deletes idle mailboxes */
	PN_ROLE_OPERATOR = 1 << 3,   /* posternctl: a person at a terminal */
	PN_ROLE_SERVICE = 1 << 4,    /* the services among themselves */
};
#define PN_ROLE_COUNT 5
#define PN_ROLES_ALL ((1u << PN_ROLE_COUNT) - 1)
#define PN_ROLE_NAME_MAX 16          /* longest role name, with room */

/* pn_role_parse - the bit of a role name ("webui"), 0 if none */
unsigned pn_role_parse(const char *name);
/* pn_role_name - the name of one role bit, or NULL */
const char *pn_role_name(unsigned role);

/* The bus services that take requests, with their request messages. */
typedef struct pn_role_service {
	const char *name;                             /* "mailstore" */
	const ProtobufCMessageDescriptor *request;    /* its oneof of operations */
} pn_role_service;

/* pn_role_services - every service, NULL-name terminated */
const pn_role_service *pn_role_services(void);

/*
 * pn_roles_of - the roles that may call operation op (the oneof field
 * number) of service. -1 if the table does not declare it; 0 for an
 * operation declared for nobody (a retired one).
 */
long pn_roles_of(const char *service, uint32_t op);

/* pn_roles_allowed - may role (a name, NULL = none) call op of service? */
int pn_roles_allowed(const char *service, uint32_t op, const char *role);

/* pn_roles_markdown - the table operation x role as docs/security.md has it */
void pn_roles_markdown(FILE *out);

#endif
