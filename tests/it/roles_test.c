/*
 * roles_test.c - least privilege on the bus, end to end: for every
 * operation of every service, each role not allowed gets STATUS_PERM.
 *
 * Real broker, mailstore, keylookup, provision and reaper on the test
 * certificates ("posternctl certs": one certificate per role). For each
 * service, each operation of its request message (the proto's oneof,
 * walked from the descriptor, so a new operation is covered without a
 * change here) and each of the five roles, the test sends the operation
 * with an empty body through the broker with that role's certificate:
 *   - a role lib/src/roles.c does not allow gets STATUS_PERM with the
 *     text "operation X is not allowed for role R", the worker logs the
 *     refusal naming the operation, role and certificate, and counts it
 *     in postern_bus_refused_total{op,role};
 *   - an allowed role is never refused for its role (its empty request
 *     may well be refused as malformed: that is the handler speaking).
 * Then certificates on the allow-list with no role file and with an
 * unknown role are admitted by the broker but refused everything, ping
 * included. The web UI's worker is not started: its only operation is
 * ping, which every role may call (checked here from the policy), so it
 * has nothing to refuse but to a certificate without a role.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <czmq.h>

#include "../harness/harness.h"
#include "postern/pb.h"
#include "postern/roles.h"
#include "postern/v1/keylookup.pb-c.h"
#include "postern/v1/mailstore.pb-c.h"
#include "postern/v1/provision.pb-c.h"
#include "postern/v1/reaper.pb-c.h"
#include "postern/v1/webui.pb-c.h"

static const char *const roles[] = {
	"publisher", "webui", "reaper", "operator", "service", NULL
};

typedef struct fx {
	th_stack st;
	pid_t reaper;
	int reaper_health;
	pn_pool *pool;
} fx;

static fx *F;

/* the services under test, with their reply messages and processes */
typedef struct target {
	const char *name;
	const ProtobufCMessageDescriptor *request, *reply;
	pid_t pid;
	int health;
} target;

static int setup(void **state)
{
	static const th_stack_opts o = { .tag = "roles", .client_timeout_ms = 10000,
		.client_retries = 1 };
	char redis[256];
	const char *env[] = { redis, "POSTERN_REAPER_INTERVAL_S=3600",
		"POSTERN_PUBLIC_URL=https://postern.example.com/", NULL };

	F = calloc(1, sizeof(*F));
	assert_non_null(F);
	th_stack_start(&F->st, &o);
	snprintf(redis, sizeof(redis), "POSTERN_REDIS=%s", th_env("POSTERN_TEST_REDIS"));
	F->reaper = th_service_start("reaper", F->st.broker.endpoint, env, &F->reaper_health);
	assert_true(F->reaper > 0);
	F->pool = pn_pool_new();
	*state = F;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	assert_int_equal(th_stop(F->reaper, 15000), 0);
	assert_int_equal(th_stack_stop(&F->st), 0);
	pn_pool_destroy(&F->pool);
	free(F);
	return 0;
}

/* targets - the services started here */
static size_t targets(target *t)
{
	size_t n = 0;

	t[n++] = (target){ "keylookup", &postern__v1__keylookup_request__descriptor,
		&postern__v1__keylookup_reply__descriptor, F->st.kl, F->st.kl_health };
	t[n++] = (target){ "provision", &postern__v1__provision_request__descriptor,
		&postern__v1__provision_reply__descriptor, F->st.pv[0], F->st.pv_health[0] };
	t[n++] = (target){ "mailstore", &postern__v1__mailstore_request__descriptor,
		&postern__v1__mailstore_reply__descriptor, F->st.ms, F->st.ms_health };
	t[n++] = (target){ "reaper", &postern__v1__reaper_request__descriptor,
		&postern__v1__reaper_reply__descriptor, F->reaper, F->reaper_health };
	return n;
}

/*
 * call_op - operation f of t with an empty body, as certificate cert;
 * the status, and the reply's error text in *why_r
 */
static pn_err call_op(const target *t, const ProtobufCFieldDescriptor *f, const char *cert,
    const char **why_r)
{
	pn_client *c = th_client(F->st.broker.endpoint, cert, 10000, 1);
	ProtobufCMessage *req = pn_pb_new(t->request, F->pool), *out = NULL;
	pn_err err;

	assert_non_null(c);
	*(void **)((char *)req + f->offset) = pn_pb_new(f->descriptor, F->pool);
	*(uint32_t *)((char *)req + f->quantifier_offset) = f->id;
	err = pn_client_call(c, t->name, req, t->reply, F->pool, &out);
	*why_r = "";
	if (out)
		pn_pb_get_status(out, why_r);
	pn_client_destroy(&c);
	return err;
}

/* log_has - the log of service name (pid) holds needle */
static int log_has(const char *name, pid_t pid, const char *needle)
{
	char prog[64];

	snprintf(prog, sizeof(prog), "postern-%s", name);
	return th_log_has(prog, pid, needle);
}

/* refused_for_role - the reply is the skeleton's refusal of role */
static int refused_for_role(pn_err err, const char *why, const char *op, const char *role)
{
	char want[160];

	snprintf(want, sizeof(want), "operation %s is not allowed for role %s", op, role);
	return err == PN_ERR_PERM && why && strstr(why, want) != NULL;
}

/* every operation x every role: PERM exactly where the policy says no */
static void test_each_role_not_allowed_gets_perm(void **state)
{
	target t[8];
	size_t n = targets(t), refusals = 0, allowed = 0;

	(void)state;
	for (size_t s = 0; s < n; s++) {
		for (unsigned i = 0; i < t[s].request->n_fields; i++) {
			const ProtobufCFieldDescriptor *f = &t[s].request->fields[i];
			long declared = pn_roles_of(t[s].name, f->id);

			assert_true(declared >= 0);
			for (int r = 0; roles[r]; r++) {
				const char *why;
				pn_err err = call_op(&t[s], f, th_cert_of_role(roles[r]), &why);
				int ok = pn_roles_allowed(t[s].name, f->id, roles[r]);
				char line[256], metric[160];

				if (declared == 0) {
					/* retired: not in the service's table, refused as unknown */
					assert_true(err == PN_ERR_PARAMS || err == PN_ERR_PERM);
					continue;
				}
				if (ok) {
					if (refused_for_role(err, why, f->name, roles[r]))
						fail_msg("%s %s: role %s is allowed but was refused",
						    t[s].name, f->name, roles[r]);
					assert_int_not_equal(err, PN_ERR_TEMP);
					allowed++;
					continue;
				}
				if (!refused_for_role(err, why, f->name, roles[r]))
					fail_msg("%s %s: role %s is not allowed but got %s \"%s\"",
					    t[s].name, f->name, roles[r], pn_err_str(err), why);
				snprintf(line, sizeof(line), "msg=\"operation refused: caller's role "
				    "not allowed\" op=%s role=%s cert=%s", f->name, roles[r],
				    th_cert_of_role(roles[r]));
				assert_true(log_has(t[s].name, t[s].pid, line));
				snprintf(metric, sizeof(metric),
				    "postern_bus_refused_total{op=\"%s\",role=\"%s\"}", f->name, roles[r]);
				assert_true(th_metric(t[s].health, metric) >= 1);
				refusals++;
			}
		}
	}
	printf("# %zu refusals and %zu allowed calls checked\n", refusals, allowed);
	assert_true(refusals > 50);
	assert_true(allowed > 20);
}

/* the web UI's worker has nothing to refuse to a role: only ping */
static void test_webui_has_only_ping(void **state)
{
	const ProtobufCMessageDescriptor *d = &postern__v1__webui_request__descriptor;

	(void)state;
	for (unsigned i = 0; i < d->n_fields; i++)
		assert_int_equal(pn_roles_of("webui", d->fields[i].id), PN_ROLES_ALL);
}

/* add_cert - a new certificate "name" on the allow-list, with role (NULL: no role file) */
static void add_cert(const char *name, const char *role)
{
	const char *certs = th_env("POSTERN_TEST_CERTS");
	char path[600];
	zcert_t *cert = zcert_new();
	FILE *f;

	assert_non_null(cert);
	snprintf(path, sizeof(path), "%s/%s.cert", certs, name);
	assert_int_equal(zcert_save(cert, path), 0);
	snprintf(path, sizeof(path), "%s/allow/%s.cert", certs, name);
	assert_int_equal(zcert_save_public(cert, path), 0);
	if (role) {
		snprintf(path, sizeof(path), "%s/allow/%s.role", certs, name);
		f = fopen(path, "w");
		assert_non_null(f);
		fprintf(f, "%s\n", role);
		fclose(f);
	}
	zcert_destroy(&cert);
}

/* admitted, but without a (known) role nothing is allowed, not even ping */
static void test_without_role_nothing(void **state)
{
	static const char *const certs[] = { "test-norole", "test-badrole" };
	target t[8];
	size_t n = targets(t);

	(void)state;
	add_cert("test-norole", NULL);
	add_cert("test-badrole", "admin");
	for (size_t k = 0; k < 2; k++)
		for (size_t s = 0; s < n; s++)
			for (unsigned i = 0; i < t[s].request->n_fields; i++) {
				const ProtobufCFieldDescriptor *f = &t[s].request->fields[i];
				const char *why;
				pn_err err;

				if (pn_roles_of(t[s].name, f->id) == 0)
					continue;       /* retired */
				err = call_op(&t[s], f, certs[k], &why);
				if (!refused_for_role(err, why, f->name, "-"))
					fail_msg("%s %s as %s: got %s \"%s\"", t[s].name, f->name,
					    certs[k], pn_err_str(err), why);
			}
	assert_true(log_has("keylookup", F->st.kl, "op=ping role=- cert=test-norole"));
	assert_true(log_has("broker", F->st.broker.pid,
	    "certificate has no role file: every worker refuses it\" cert=test-norole"));
	assert_true(log_has("broker", F->st.broker.pid,
	    "certificate has an unknown role: every worker refuses it\" cert=test-badrole"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_role_not_allowed_gets_perm),
		cmocka_unit_test(test_webui_has_only_ping),
		cmocka_unit_test(test_without_role_nothing),
	};

	return cmocka_run_group_tests_name("roles", tests, setup, teardown);
}
