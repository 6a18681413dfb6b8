/*
 * roles_test.c - the bus's policy (lib/src/roles.c) is complete and
 * means what it says.
 *
 * It walks the request message of every service - its oneof, which is
 * the service's table of operations on the wire - and fails on any
 * operation the policy does not declare: an operation added to a proto
 * (and to its service's table) without roles fails here, by name, before
 * anything runs. It also pins the decisions that matter most: ping is
 * open to every role, nobody without a role gets anything, only the web
 * UI reads a message, only the reaper deletes mailboxes, no publisher
 * reaches mailstore, an operator only its audit log.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "postern/roles.h"
#include "postern/v1/mailstore.pb-c.h"
#include "postern/v1/provision.pb-c.h"

static const char *const every_role[] = {
	"publisher", "webui", "reaper", "operator", "service", NULL
};

/* every operation of every service is declared; the live ones for someone */
static void test_every_operation_declared(void **state)
{
	const pn_role_service *s = pn_role_services();
	size_t ops = 0, undeclared = 0;

	(void)state;
	assert_non_null(s[0].name);
	for (; s->name; s++) {
		const ProtobufCMessageDescriptor *d = s->request;

		assert_true(d->n_fields > 0);
		for (unsigned f = 0; f < d->n_fields; f++) {
			long roles = pn_roles_of(s->name, d->fields[f].id);

			ops++;
			if (roles < 0) {
				printf("# %s: operation %s (field %u) has no declared roles: "
				    "declare them in lib/src/roles.c\n", s->name, d->fields[f].name,
				    d->fields[f].id);
				undeclared++;
			}
			assert_true(roles < 0 || (roles & ~(long)PN_ROLES_ALL) == 0);
		}
	}
	printf("# %zu operations checked\n", ops);
	assert_int_equal(undeclared, 0);
}

/* only the one retired operation is declared for nobody */
static void test_nobody_only_when_retired(void **state)
{
	const pn_role_service *s = pn_role_services();

	(void)state;
	for (; s->name; s++)
		for (unsigned f = 0; f < s->request->n_fields; f++) {
			uint32_t id = s->request->fields[f].id;

			if (!strcmp(s->name, "mailstore") &&
			    id == POSTERN__V1__MAILSTORE_REQUEST__OP_DELETE_MAILBOX)
				assert_int_equal(pn_roles_of(s->name, id), 0);
			else
				assert_true(pn_roles_of(s->name, id) > 0);
		}
}

/* ping: every role; nothing for no role, an unknown one, another service */
static void test_ping_and_strangers(void **state)
{
	const pn_role_service *s = pn_role_services();

	(void)state;
	for (; s->name; s++) {
		for (int r = 0; every_role[r]; r++)
			assert_true(pn_roles_allowed(s->name, 1, every_role[r]));
		assert_false(pn_roles_allowed(s->name, 1, NULL));
		assert_false(pn_roles_allowed(s->name, 1, "-"));
		assert_false(pn_roles_allowed(s->name, 1, "none"));
		assert_false(pn_roles_allowed(s->name, 1, "admin"));
		assert_false(pn_roles_allowed(s->name, 1, "WEBUI"));
		assert_false(pn_roles_allowed(s->name, 1, ""));
		assert_int_equal(pn_roles_of(s->name, 100000), -1);
		assert_false(pn_roles_allowed(s->name, 100000, "operator"));
	}
	assert_int_equal(pn_roles_of("nosuchservice", 1), -1);
	assert_false(pn_roles_allowed("nosuchservice", 1, "operator"));
	assert_int_equal(pn_roles_of(NULL, 1), -1);
}

/* the decisions the issue names: who reads, who deletes, who sends */
static void test_least_privilege(void **state)
{
	const ProtobufCMessageDescriptor *ms = &postern__v1__mailstore_request__descriptor;

	(void)state;
	/*
	 * no publisher reaches any mailstore operation but ping; an operator
	 * only ping, the audit log and its mailbox commands (times, kinds,
	 * states and counts, never content or keys)
	 */
	for (unsigned f = 0; f < ms->n_fields; f++) {
		uint32_t id = ms->fields[f].id;

		if (id == POSTERN__V1__MAILSTORE_REQUEST__OP_PING)
			continue;
		assert_false(pn_roles_allowed("mailstore", id, "publisher"));
		assert_int_equal(pn_roles_allowed("mailstore", id, "operator"),
		    id == POSTERN__V1__MAILSTORE_REQUEST__OP_QUERY_AUDIT ||
		    id == POSTERN__V1__MAILSTORE_REQUEST__OP_LIST_MAILBOXES ||
		    id == POSTERN__V1__MAILSTORE_REQUEST__OP_INSPECT_MAILBOX ||
		    id == POSTERN__V1__MAILSTORE_REQUEST__OP_LOCK_MAILBOX ||
		    id == POSTERN__V1__MAILSTORE_REQUEST__OP_PURGE_MAILBOX);
	}
	assert_true(pn_roles_allowed("mailstore", POSTERN__V1__MAILSTORE_REQUEST__OP_GET_MESSAGE,
	    "webui"));
	for (int r = 0; every_role[r]; r++) {
		int web = !strcmp(every_role[r], "webui"), reap = !strcmp(every_role[r], "reaper");

		assert_int_equal(pn_roles_allowed("mailstore",
		    POSTERN__V1__MAILSTORE_REQUEST__OP_GET_MESSAGE, every_role[r]), web);
		assert_int_equal(pn_roles_allowed("mailstore",
		    POSTERN__V1__MAILSTORE_REQUEST__OP_DELETE_MAILBOXES, every_role[r]), reap);
		assert_int_equal(pn_roles_allowed("provision",
		    POSTERN__V1__PROVISION_REQUEST__OP_PIN_VERIFY, every_role[r]), web);
	}
	assert_true(pn_roles_allowed("provision", POSTERN__V1__PROVISION_REQUEST__OP_SEND,
	    "publisher"));
	assert_false(pn_roles_allowed("provision", POSTERN__V1__PROVISION_REQUEST__OP_SEND,
	    "webui"));
	assert_false(pn_roles_allowed("provision", POSTERN__V1__PROVISION_REQUEST__OP_REISSUE,
	    "publisher"));
}

/* role names and bits */
static void test_names(void **state)
{
	unsigned all = 0;

	(void)state;
	for (int r = 0; every_role[r]; r++) {
		unsigned bit = pn_role_parse(every_role[r]);

		assert_true(bit != 0);
		assert_int_equal(bit & all, 0);
		all |= bit;
		assert_string_equal(pn_role_name(bit), every_role[r]);
	}
	assert_int_equal(all, PN_ROLES_ALL);
	assert_int_equal(pn_role_parse(NULL), 0);
	assert_int_equal(pn_role_parse("operators"), 0);
	assert_null(pn_role_name(0));
	assert_null(pn_role_name(PN_ROLE_WEBUI | PN_ROLE_REAPER));
}

/* the Markdown table has a row per operation and a column per role */
static void test_markdown(void **state)
{
	char *buf = NULL;
	size_t len = 0, rows = 0, ops = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	pn_roles_markdown(f);
	fclose(f);
	for (const char *p = buf; (p = strchr(p, '\n')); p++)
		rows++;
	for (const pn_role_service *s = pn_role_services(); s->name; s++)
		ops += s->request->n_fields;
	assert_int_equal(rows, ops + 2);
	assert_non_null(strstr(buf, "| mailstore | get_message |  | yes |  |  |  |\n"));
	assert_non_null(strstr(buf, "| publisher | webui | reaper | operator | service |"));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_operation_declared),
		cmocka_unit_test(test_nobody_only_when_retired),
		cmocka_unit_test(test_ping_and_strangers),
		cmocka_unit_test(test_least_privilege),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_markdown),
	};

	return cmocka_run_group_tests_name("roles", tests, NULL, NULL);
}
