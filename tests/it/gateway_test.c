/*
 * gateway_test.c - the milter against the real stack: the broker (CURVE
 * on), mailstore on its own PostgreSQL database, keylookup with a real
 * GnuPG keyring, provision, the SMTP sink, and postern-gateway. The MTA
 * side is Debian's miltertest, an independent implementation of the
 * protocol, running tests/gateway/milter.lua one scenario at a time; the
 * script checks the milter's answers, this file what Postern then stored
 * and mailed:
 *
 *   - subject tag: the guest recipient leaves the envelope, a mailbox
 *     and one invitation exist for it, the internal one stays, the tag
 *     goes from the subject;
 *   - the same message again (the MTA's retry): nothing stored twice;
 *   - header trigger with a PIN header: a mailbox with a PIN, discard;
 *   - no trigger, the null sender: accepted untouched after the headers;
 *   - internal recipients only: the marks go, no mailbox;
 *   - internal, key holder and guest at once;
 *   - oversize (552), malformed mail (554), invalid recipient (550);
 *   - provision stopped: 451, the envelope untouched, nothing stored.
 *
 * Addresses carry a per-run domain so the shared Redis never mixes runs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "../harness/harness.h"
#include "../support/support.h"

#define MAX_MAIL 65536

typedef struct fx {
	th_stack st;                    /* broker, database, sink, mailstore, keylookup, provision */
	char *senderhome, *keyring;
	pid_t gw;
	int milter, gw_health;
	char ext[64], in[64];           /* the external and the internal domain */
	char tag[32];
	char env[12][512];
} fx;

static fx *F;

/* ext, in - an external and an internal address of this run */
static const char *ext(const char *local)
{
	return th_addr(F->ext, local);
}

static const char *in(const char *local)
{
	return th_addr(F->in, local);
}

/*
 * scenario - run one milter.lua scenario with guest as the guest address
 * and token in the body; the script's exit status
 */
static int scenario(const char *name, const char *guest, const char *token)
{
	char script[512], d[7][300];
	const char *argv[20];
	int n = 0;

	/* tests/run runs every suite from the top of the tree */
	snprintf(script, sizeof(script), "tests/gateway/milter.lua");
	assert_int_equal(access(script, R_OK), 0);
	snprintf(d[0], sizeof(d[0]), "port=%d", F->milter);
	snprintf(d[1], sizeof(d[1]), "scenario=%s", name);
	snprintf(d[2], sizeof(d[2]), "sender=%s", in("alice"));
	snprintf(d[3], sizeof(d[3]), "guest=%s", guest);
	snprintf(d[4], sizeof(d[4]), "internal=%s", in("carol"));
	snprintf(d[5], sizeof(d[5]), "keyuser=%s", ext("kim"));
	snprintf(d[6], sizeof(d[6]), "tag=%s", F->tag);
	argv[n++] = "miltertest";
	argv[n++] = "-s";
	argv[n++] = script;
	for (int i = 0; i < 7; i++) {
		argv[n++] = "-D";
		argv[n++] = d[i];
	}
	char tok[300];
	snprintf(tok, sizeof(tok), "token=%s", token);
	argv[n++] = "-D";
	argv[n++] = tok;
	argv[n] = NULL;
	return th_run(argv, NULL, NULL);
}

/*
 * decided - the gateway logged a decision for queue id Q<scenario> with
 * this reply code: miltertest sees only that a code came, not which
 */
static int decided(const char *scen, const char *reply)
{
	char path[512], needle[128];
	char *text;
	int found;

	snprintf(path, sizeof(path), "%s/logs/postern-gateway.%ld.log",
	    th_env("POSTERN_TEST_TMP"), (long)F->gw);
	snprintf(needle, sizeof(needle), "queue=Q%s decision=", scen);
	if ((text = th_read_file(path, NULL)) == NULL)
		return 0;
	found = 0;
	for (char *p = strstr(text, needle); p; p = strstr(p + 1, needle)) {
		char *eol = strchr(p, '\n'), want[32];
		snprintf(want, sizeof(want), " reply=%s ", reply);
		if (eol)
			*eol = '\0';
		if (strstr(p, want))
			found = 1;
		if (eol)
			*eol = '\n';
	}
	free(text);
	return found;
}

/* mailbox_count - mailboxes for address */
static long mailbox_count(const char *address)
{
	return th_sql_longf(F->st.dsn, "SELECT count(*) FROM mailboxes WHERE address = '%s'", address);
}

/* message_count - messages in the mailbox of address */
static long message_count(const char *address)
{
	return th_sql_longf(F->st.dsn, "SELECT count(*) FROM messages m JOIN mailboxes b "
	    "ON b.id = m.mailbox_id WHERE b.address = '%s'", address);
}

static int setup(void **state)
{
	char path[512];
	fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	F = f;
	assert_true(sodium_init() >= 0);
	snprintf(f->tag, sizeof(f->tag), "%ld-%ld", (long)getpid(), (long)time(NULL));
	snprintf(f->ext, sizeof(f->ext), "gx%s.example", f->tag);
	snprintf(f->in, sizeof(f->in), "gi%s.example", f->tag);
	f->senderhome = th_tmpdir("gws");
	f->keyring = th_tmpdir("gwk");

	/* kim, outside the organisation, has a key the organisation knows */
	assert_int_equal(th_gpg_keygen(f->senderhome, "Kim", ext("kim")), 0);
	snprintf(path, sizeof(path), "%s/kim.asc", f->senderhome);
	assert_int_equal(th_gpg(f->senderhome, path, "--armor", "--export", (char *)NULL), 0);
	assert_int_equal(th_key_import(f->keyring, f->senderhome, path), 0);

	{
		static const char *const pv_env[] = { "POSTERN_PUBLIC_URL=http://postern.test",
			"POSTERN_BUS_TIMEOUT_MS=20000", "POSTERN_PROVISION_KEY_POOL=2", NULL };
		const th_stack_opts o = { .tag = "gateway", .keyring = f->keyring, .pv_env = pv_env };
		th_stack_start(&f->st, &o);
	}
	f->milter = th_port();
	snprintf(f->env[6], sizeof(f->env[6]), "POSTERN_GATEWAY_MILTER=inet:%d@127.0.0.1",
	    f->milter);
	snprintf(f->env[7], sizeof(f->env[7]), "POSTERN_GATEWAY_LOCAL_DOMAINS=%s", f->in);
	snprintf(f->env[8], sizeof(f->env[8]), "POSTERN_GATEWAY_MAX_MAIL_BYTES=%d", MAX_MAIL);
	const char *gw_env[] = { f->env[6], f->env[7], f->env[8],
		"POSTERN_GATEWAY_API_LISTEN=", "POSTERN_BUS_TIMEOUT_MS=3000",
		"POSTERN_BUS_RETRIES=2", NULL };
	f->gw = th_service_start("gateway", f->st.broker.endpoint, gw_env, &f->gw_health);
	assert_true(f->gw > 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;
	const char *kill[] = { "gpgconf", "--homedir", f->senderhome, "--kill", "all", NULL };

	if (f->gw > 0)
		assert_int_equal(th_stop(f->gw, 15000), 0);
	assert_int_equal(th_stack_stop(&f->st), 0);
	th_run(kill, NULL, NULL);
	free(f->senderhome);
	free(f->keyring);
	free(f);
	return 0;
}

/* ---- tests ---- */

static void test_tag_creates_mailbox(void **state)
{
	(void)state;
	assert_int_equal(scenario("tag", ext("bob"), "tok-tag-1"), 0);
	assert_int_equal(mailbox_count(ext("bob")), 1);
	assert_int_equal(message_count(ext("bob")), 1);
	assert_int_equal(th_wait_mails(F->st.maildir, ext("bob"), 1, 15000), 1);
	assert_int_equal(th_metric(F->gw_health, "postern_gateway_handed_over_total"), 1);
}

static void test_retry_is_the_same_event(void **state)
{
	(void)state;
	/* the MTA's retry: the same message, the same answers, nothing new */
	assert_int_equal(scenario("tag", ext("bob"), "tok-tag-1"), 0);
	assert_int_equal(message_count(ext("bob")), 1);
	sleep(1);
	assert_int_equal(th_wait_mails(F->st.maildir, ext("bob"), 2, 500), 1);
	/* another body is another message */
	assert_int_equal(scenario("tag", ext("bob"), "tok-tag-2"), 0);
	assert_int_equal(message_count(ext("bob")), 2);
}

static void test_header_trigger_with_pin(void **state)
{
	(void)state;
	assert_int_equal(scenario("header_pin", ext("dora"), "tok-hdr"), 0);
	assert_int_equal(mailbox_count(ext("dora")), 1);
	assert_int_equal(th_sql_longf(F->st.dsn, "SELECT count(*) FROM mailboxes WHERE address = '%s' "
	    "AND pin_verifier IS NOT NULL", ext("dora")), 1);
}

/* X-Postern-Note: the note reaches the invitation (decoded, escaped), the header goes */
static void test_note_header(void **state)
{
	char *mail = NULL;
	ts_mail m;
	(void)state;

	assert_int_equal(scenario("note", ext("nina"), "tok-note"), 0);
	assert_int_equal(th_wait_mails(F->st.maildir, ext("nina"), 1, 15000), 1);
	assert_int_equal(th_mails_to(F->st.maildir, ext("nina"), &mail), 1);
	assert_int_equal(ts_mail_parse(mail, strlen(mail), &m), 0);
	assert_non_null(strstr(m.text, "See you on Gründay <b>soon</b>"));
	assert_non_null(strstr(m.html, "See you on Gründay &lt;b&gt;soon&lt;/b&gt;"));
	ts_mail_free(&m);
	free(mail);
}

/* X-Postern-Receipts: yes asks for the sender's receipts (a receipt request kept), the header goes */
static void test_receipts_header(void **state)
{
	(void)state;

	assert_int_equal(scenario("receipts", ext("rita"), "tok-rcpt"), 0);
	assert_int_equal(mailbox_count(ext("rita")), 1);
	assert_int_equal(th_sql_longf(F->st.dsn, "SELECT count(*) FROM receipt_requests r JOIN "
	    "mailboxes b ON b.id = r.mailbox_id WHERE b.address = '%s'", ext("rita")), 1);
	/* without the header, none */
	assert_int_equal(th_sql_longf(F->st.dsn, "SELECT count(*) FROM receipt_requests r JOIN "
	    "mailboxes b ON b.id = r.mailbox_id WHERE b.address = '%s'", ext("nina")), 0);
}

static void test_untriggered_passes(void **state)
{
	(void)state;
	double before = th_metric(F->gw_health, "postern_gateway_passed_total");

	assert_int_equal(scenario("none", ext("erin"), "tok-none"), 0);
	assert_int_equal(scenario("null_sender", ext("erin"), "tok-null"), 0);
	assert_int_equal(mailbox_count(ext("erin")), 0);
	assert_true(th_metric(F->gw_health, "postern_gateway_passed_total") >= before + 1);
}

static void test_internal_only(void **state)
{
	(void)state;
	assert_int_equal(scenario("local", ext("fred"), "tok-local"), 0);
	assert_int_equal(mailbox_count(in("carol")), 0);
	assert_int_equal(th_metric(F->gw_health, "postern_gateway_internal_total"), 1);
}

static void test_mixed_recipients(void **state)
{
	(void)state;
	assert_int_equal(scenario("mixed", ext("gina"), "tok-mixed"), 0);
	assert_int_equal(mailbox_count(ext("gina")), 1);
	/* the key holder gets no mailbox */
	assert_int_equal(mailbox_count(ext("kim")), 0);
	assert_int_equal(mailbox_count(in("carol")), 0);
}

static void test_refusals(void **state)
{
	(void)state;
	assert_int_equal(scenario("oversize", ext("hank"), "tok-big"), 0);
	assert_int_equal(scenario("malformed", ext("hank"), "tok-bad"), 0);
	assert_int_equal(scenario("invalid", "not..valid@example", "tok-inv"), 0);
	assert_true(decided("oversize", "552"));
	assert_true(decided("malformed", "554"));
	assert_true(decided("invalid", "550"));
	assert_int_equal(mailbox_count(ext("hank")), 0);
	assert_true(th_metric(F->gw_health, "postern_gateway_rejected_total") >= 3);
}

static void test_provision_down_tempfails(void **state)
{
	(void)state;
	assert_int_equal(th_stop(F->st.pv[0], 15000), 0);
	F->st.pv[0] = -1;
	assert_int_equal(scenario("down", ext("ivan"), "tok-down"), 0);
	assert_true(decided("down", "451"));
	assert_int_equal(mailbox_count(ext("ivan")), 0);
	assert_int_equal(th_metric(F->gw_health, "postern_gateway_tempfail_total"), 1);
	/* the gateway itself is still up and ready */
	assert_int_equal(th_http_get(F->gw_health, "/readyz", NULL), 200);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tag_creates_mailbox),
		cmocka_unit_test(test_retry_is_the_same_event),
		cmocka_unit_test(test_header_trigger_with_pin),
		cmocka_unit_test(test_note_header),
		cmocka_unit_test(test_receipts_header),
		cmocka_unit_test(test_untriggered_passes),
		cmocka_unit_test(test_internal_only),
		cmocka_unit_test(test_mixed_recipients),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_provision_down_tempfails),
	};
	return cmocka_run_group_tests_name("gateway", tests, setup, teardown);
}
