/*
 * roles.c - the bus's policy: for every operation of every service, the
 * roles whose certificates may call it (roles.h).
 *
 * Each role gets what its programs call today and nothing more:
 *   publisher  the gateway and mail backends: send events, look up keys,
 *              ask for a sender's PIN;
 *   webui      the recipients' web UI: their mailbox, its messages and
 *              keys, PIN verification;
 *   reaper     finding and deleting idle mailboxes, the warning mail;
 *   operator   posternctl: what a publisher may, re-issue, and read the
 *              audit log (times and kinds, never content);
 *   service    provision and keylookup calling mailstore and keylookup
 *              (provision's receipts, its audit notes).
 * The web UI and provision note audit events; only the reaper prunes the
 * audit log.
 * Nobody but the web UI reads a message; nobody but the reaper deletes a
 * mailbox; a publisher never reaches mailstore. ping is open to every
 * role (a caller without a role gets nothing, not even ping).
 *
 * A new operation is declared here, in its service's table, with the
 * roles that need it. lib/tests/roles_test.c fails while one is missing.
 */
#include <string.h>

#include "postern/roles.h"
#include "postern/v1/keylookup.pb-c.h"
#include "postern/v1/mailstore.pb-c.h"
#include "postern/v1/provision.pb-c.h"
#include "postern/v1/reaper.pb-c.h"
#include "postern/v1/webui.pb-c.h"

typedef struct rule {
	uint32_t op;                 /* oneof field number; 0 ends a table */
	unsigned roles;
} rule;

#define PUB PN_ROLE_PUBLISHER
#define WEB PN_ROLE_WEBUI
#define REAP PN_ROLE_REAPER
#define OPER PN_ROLE_OPERATOR
#define SVC PN_ROLE_SERVICE
#define NOBODY 0u                /* retired: declared, refused to all */

#define KL(x) POSTERN__V1__KEYLOOKUP_REQUEST__OP_##x
static const rule keylookup_rules[] = {
	{ KL(PING), PN_ROLES_ALL },
	{ KL(LOOKUP), PUB | WEB | OPER | SVC },
	{ 0, 0 }
};

#define MS(x) POSTERN__V1__MAILSTORE_REQUEST__OP_##x
static const rule mailstore_rules[] = {
	{ MS(PING), PN_ROLES_ALL },
	{ MS(GET_MAILBOX), WEB | SVC },
	{ MS(ACCEPT), SVC },
	{ MS(STORE_MESSAGE), WEB },
	{ MS(LIST_FOLDER), WEB },
	{ MS(GET_MESSAGE), WEB },
	{ MS(MARK_SEEN), WEB },
	{ MS(DELETE_MESSAGE), WEB },
	{ MS(UPDATE_MAILBOX), WEB | SVC },
	{ MS(TOUCH), WEB },
	{ MS(DELETE_MAILBOX), NOBODY },
	{ MS(QUEUE_MAIL), WEB | REAP | SVC },
	{ MS(LIST_INACTIVE), REAP },
	{ MS(LIST_TOMBSTONES), REAP },
	{ MS(FORGET_TOMBSTONES), REAP },
	{ MS(DELETE_MAILBOXES), REAP },
	{ MS(REISSUE), SVC },
	{ MS(SET_KEYS), WEB },
	{ MS(SET_OWN_KEY), WEB | SVC },
	{ MS(CLOSE_MAILBOX), WEB },
	{ MS(SET_LOCALE), WEB },
	{ MS(AUDIT_NOTE), WEB | SVC },
	{ MS(QUERY_AUDIT), OPER },
	{ MS(PRUNE_AUDIT), REAP },
	{ MS(CLAIM_RECEIPTS), SVC },
	{ MS(COMPLETE_RECEIPT), SVC },
	{ MS(APPEND_PART), SVC },
	{ MS(REVOKE_MESSAGES), SVC },
	{ MS(EXPIRE_MESSAGES), REAP },
	{ MS(LIST_MAILBOXES), OPER },
	{ MS(INSPECT_MAILBOX), OPER },
	{ MS(LOCK_MAILBOX), OPER },
	{ MS(PURGE_MAILBOX), OPER },
	{ 0, 0 }
};

#define PV(x) POSTERN__V1__PROVISION_REQUEST__OP_##x
static const rule provision_rules[] = {
	{ PV(PING), PN_ROLES_ALL },
	{ PV(SEND), PUB | OPER },
	{ PV(PIN_QUERY), PUB | OPER },
	{ PV(PIN_VERIFY), WEB },
	{ PV(REISSUE), OPER },
	{ PV(REVOKE), PUB | OPER },   /* the composer API is a publisher, posternctl the operator */
	{ 0, 0 }
};

static const rule reaper_rules[] = {
	{ POSTERN__V1__REAPER_REQUEST__OP_PING, PN_ROLES_ALL },
	{ 0, 0 }
};

static const rule webui_rules[] = {
	{ POSTERN__V1__WEBUI_REQUEST__OP_PING, PN_ROLES_ALL },
	{ 0, 0 }
};

static const pn_role_service services[] = {
	{ "keylookup", &postern__v1__keylookup_request__descriptor },
	{ "provision", &postern__v1__provision_request__descriptor },
	{ "mailstore", &postern__v1__mailstore_request__descriptor },
	{ "reaper", &postern__v1__reaper_request__descriptor },
	{ "webui", &postern__v1__webui_request__descriptor },
	{ NULL, NULL }
};

/* in the order of services[] */
static const rule *const tables[] = {
	keylookup_rules, provision_rules, mailstore_rules, reaper_rules, webui_rules,
};

static const char *const names[PN_ROLE_COUNT] = {
	"publisher", "webui", "reaper", "operator", "service",
};

/* pn_role_parse - the bit of a role name, 0 if none */
unsigned pn_role_parse(const char *name)
{
	for (int i = 0; name && i < PN_ROLE_COUNT; i++)
		if (!strcmp(name, names[i]))
			return 1u << i;
	return 0;
}

/* pn_role_name - the name of one role bit, or NULL */
const char *pn_role_name(unsigned role)
{
	for (int i = 0; i < PN_ROLE_COUNT; i++)
		if (role == 1u << i)
			return names[i];
	return NULL;
}

const pn_role_service *pn_role_services(void)
{
	return services;
}

/* table_of - the rules of service, or NULL */
static const rule *table_of(const char *service)
{
	for (size_t i = 0; services[i].name; i++)
		if (!strcmp(services[i].name, service))
			return tables[i];
	return NULL;
}

/* pn_roles_of - the declared roles of op, -1 if undeclared */
long pn_roles_of(const char *service, uint32_t op)
{
	const rule *r = service ? table_of(service) : NULL;

	for (; r && r->op; r++)
		if (r->op == op)
			return (long)r->roles;
	return -1;
}

/* pn_roles_allowed - may role call op of service? */
int pn_roles_allowed(const char *service, uint32_t op, const char *role)
{
	long allowed = pn_roles_of(service, op);
	unsigned bit = pn_role_parse(role);

	return allowed > 0 && bit && ((unsigned long)allowed & bit);
}

/* pn_roles_markdown - one table per service: operation x role */
void pn_roles_markdown(FILE *out)
{
	fprintf(out, "| service | operation |");
	for (int i = 0; i < PN_ROLE_COUNT; i++)
		fprintf(out, " %s |", names[i]);
	fprintf(out, "\n|---|---|");
	for (int i = 0; i < PN_ROLE_COUNT; i++)
		fprintf(out, ":-:|");
	fprintf(out, "\n");
	for (size_t s = 0; services[s].name; s++) {
		const ProtobufCMessageDescriptor *d = services[s].request;

		for (unsigned f = 0; f < d->n_fields; f++) {
			long roles = pn_roles_of(services[s].name, d->fields[f].id);

			fprintf(out, "| %s | %s%s |", services[s].name, d->fields[f].name,
			    roles == 0 ? " (retired: nobody)" : roles < 0 ? " (UNDECLARED)" : "");
			for (int i = 0; i < PN_ROLE_COUNT; i++)
				fprintf(out, " %s |", roles > 0 && (roles & (1L << i)) ? "yes" : "");
			fprintf(out, "\n");
		}
	}
}
