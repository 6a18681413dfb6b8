/*
 * gateway_mta_test.c - a real Postfix in front of postern-gateway, end to
 * end: mail submitted with swaks (SMTP, smtpd_milters) or Postfix's own
 * sendmail (pickup, non_smtpd_milters), the whole Postern stack behind the
 * milter, and the SMTP sink as the outside world, which Postfix and
 * mailstore's outbox both relay to:
 *
 *   - one triggered mail to an internal recipient, a key holder and a new
 *     guest: the guest gets exactly one invitation, the key holder exactly
 *     one PGP/MIME mail that gpg decrypts to the original body, the
 *     internal recipient the original without the tags, the sender one
 *     PIN notice encrypted to the sender's key; and no mail to an
 *     external address holds the body's token in plaintext;
 *   - untriggered mail passes through Postfix unchanged;
 *   - Postfix's retry: while provision is stopped the gateway answers
 *     451 and Postfix keeps the mail; once provision is back, a queue
 *     flush delivers it, and the guest has exactly one message and one
 *     invitation;
 *   - a submitting client sees 451 while Postern is unavailable.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "../harness/harness.h"

typedef struct fx {
	th_stack st;                    /* broker, database, sink, mailstore, keylookup, provision */
	char *home;                     /* alice's and kim's secret keys */
	char *keyring, *postfix;
	pid_t gw;
	int mta, gw_health;
	char ext[64], in[64];
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

/* postfix - tools/postfix-local with args (NULL-terminated); its exit status */
static int postfix(const char *verb, ...)
{
	const char *argv[16];
	int n = 0;
	va_list ap;
	const char *a;

	argv[n++] = "tools/postfix-local";
	argv[n++] = verb;
	argv[n++] = F->postfix;
	va_start(ap, verb);
	while ((a = va_arg(ap, const char *)) != NULL && n < 15)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	return th_run(argv, NULL, NULL);
}

/* queued - mails in Postfix's queue */
static long queued(void)
{
	char out[512], *text;
	long n;

	snprintf(out, sizeof(out), "%s/queue.txt", F->postfix);
	const char *argv[] = { "tools/postfix-local", "queue", F->postfix, NULL };
	if (th_run(argv, NULL, out) != 0 || !(text = th_read_file(out, NULL)))
		return -1;
	n = strtol(text, NULL, 10);
	free(text);
	return n;
}

/*
 * swaks - submit one mail through Postfix's SMTP port; the transcript goes
 * to out (NULL: none); swaks's exit status (0 = accepted)
 */
static int swaks(const char *out, const char *to, const char *subject, const char *body,
    const char *msgid)
{
	char server[64], hsubj[300], hmid[200];

	snprintf(server, sizeof(server), "127.0.0.1:%d", F->mta);
	snprintf(hsubj, sizeof(hsubj), "Subject: %s", subject);
	snprintf(hmid, sizeof(hmid), "Message-ID: <%s.%s@%s>", msgid, F->tag, F->in);
	const char *argv[] = { "swaks", "--server", server, "--from", in("alice"), "--to", to,
		"--header", hsubj, "--header", hmid, "--body", body, "--timeout", "120", NULL };
	return th_run(argv, NULL, out ? out : "/dev/null");
}

/* mails_to - sink mails for rcpt, waiting up to ms for at least want */
static int mails_to(const char *rcpt, int want, long ms)
{
	return th_wait_mails(F->st.maildir, rcpt, want, ms);
}

/* leaked - sink mails to an external address that hold token in plaintext */
static int leaked(const char *token)
{
	char path[1024], rcpt[96];
	struct dirent *de;
	int n = 0;
	DIR *d;

	snprintf(rcpt, sizeof(rcpt), "@%s>", F->ext);
	assert_non_null(d = opendir(F->st.maildir));
	while ((de = readdir(d)) != NULL) {
		char *text, *body;
		if (!strstr(de->d_name, ".eml"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", F->st.maildir, de->d_name);
		if (!(text = th_read_file(path, NULL)))
			continue;
		/* the sink's envelope lines come first, the mail after them */
		body = strstr(text, "\n\n") ? strstr(text, "\n\n") : text;
		for (char *r = strstr(text, "X-Sink-Rcpt-To: <"); r && r < body;
		    r = strstr(r + 1, "X-Sink-Rcpt-To: <")) {
			char *eol = strchr(r, '\n');
			if (eol && memmem(r, (size_t)(eol - r), rcpt, strlen(rcpt)) && strstr(text, token))
				n++;
		}
		free(text);
	}
	closedir(d);
	return n;
}

/* decrypt - gpg --decrypt of the armored block in text with the test's keys */
static char *decrypt(const char *text)
{
	const char *b = strstr(text, "-----BEGIN PGP MESSAGE-----");
	const char *e = b ? strstr(b, "-----END PGP MESSAGE-----") : NULL;
	char in_path[512], out_path[512];
	FILE *f;

	if (!b || !e)
		return NULL;
	snprintf(in_path, sizeof(in_path), "%s/msg.asc", F->home);
	snprintf(out_path, sizeof(out_path), "%s/msg.txt", F->home);
	assert_non_null(f = fopen(in_path, "w"));
	fwrite(b, 1, (size_t)(e - b) + 25, f);
	fclose(f);
	if (th_gpg(F->home, out_path, "--decrypt", in_path, (char *)NULL) != 0)
		return NULL;
	return th_read_file(out_path, NULL);
}

static int setup(void **state)
{
	char relay[64], milter[64], port[16];
	fx *f = F = th_fixture(sizeof(*f));

	th_run_tag(f->tag, sizeof(f->tag));
	snprintf(f->ext, sizeof(f->ext), "mx%s.example", f->tag);
	snprintf(f->in, sizeof(f->in), "mi%s.example", f->tag);
	f->home = th_tmpdir("gmh");
	f->keyring = th_tmpdir("gmk");
	f->postfix = th_tmpdir("pf");

	/* alice writes from inside and has a key; kim is outside and has one */
	th_key_known(f->home, f->keyring, "alice", in("alice"));
	th_key_known(f->home, f->keyring, "kim", ext("kim"));

	{
		static const char *const pv_env[] = { "POSTERN_PUBLIC_URL=http://postern.test",
			"POSTERN_BUS_TIMEOUT_MS=20000", "POSTERN_PROVISION_KEY_POOL=2", NULL };
		const th_stack_opts o = { .tag = "gatewaymta", .keyring = f->keyring, .pv_env = pv_env };
		th_stack_start(&f->st, &o);
	}

	int mport = th_port();
	snprintf(f->env[6], sizeof(f->env[6]), "POSTERN_GATEWAY_MILTER=inet:%d@127.0.0.1", mport);
	snprintf(f->env[7], sizeof(f->env[7]), "POSTERN_GATEWAY_LOCAL_DOMAINS=%s", f->in);
	const char *gw_env[] = { f->env[6], f->env[7], "POSTERN_GATEWAY_API_LISTEN=",
		"POSTERN_BUS_TIMEOUT_MS=3000", "POSTERN_BUS_RETRIES=2", NULL };
	f->gw = th_service_start("gateway", f->st.broker.endpoint, gw_env, &f->gw_health);
	assert_true(f->gw > 0);

	f->mta = th_port();
	snprintf(port, sizeof(port), "%d", f->mta);
	snprintf(relay, sizeof(relay), "127.0.0.1:%d", f->st.smtp);
	snprintf(milter, sizeof(milter), "inet:%d@127.0.0.1", mport);
	assert_int_equal(postfix("start", "--port", port, "--relay", relay, "--milter", milter,
	    (char *)NULL), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;

	assert_int_equal(postfix("stop", (char *)NULL), 0);
	if (f->gw > 0)
		assert_int_equal(th_stop(f->gw, 15000), 0);
	assert_int_equal(th_stack_stop(&f->st), 0);
	th_gpg_stop(f->home);
	free(f->home);
	free(f->keyring);
	free(f->postfix);
	free(f);
	return 0;
}

/* ---- tests ---- */

static void test_triggered_mail_end_to_end(void **state)
{
	char token[64], *m, *plain, to[512];
	(void)state;

	snprintf(token, sizeof(token), "E2E-%s-token", F->tag);
	snprintf(to, sizeof(to), "%s,%s,%s", ext("bob"), ext("kim"), in("carol"));
	assert_int_equal(swaks(NULL, to, "[secure] [pin] Figures", token, "e2e"), 0);

	/* the guest: one invitation */
	assert_int_equal(mails_to(ext("bob"), 1, 30000), 1);
	assert_int_equal(th_sql_longf(F->st.dsn, "SELECT count(*) FROM mailboxes WHERE address = '%s' "
	    "AND pin_verifier IS NOT NULL", ext("bob")), 1);
	/* the key holder: one PGP/MIME mail that decrypts to the body */
	assert_int_equal(mails_to(ext("kim"), 1, 30000), 1);
	assert_non_null(m = th_mail_to(F->st.maildir, ext("kim")));
	assert_non_null(strstr(m, "multipart/encrypted"));
	assert_non_null(plain = decrypt(m));
	assert_non_null(strstr(plain, token));
	free(plain);
	free(m);
	/* the internal recipient: the original, without the tags */
	assert_int_equal(mails_to(in("carol"), 1, 30000), 1);
	assert_non_null(m = th_mail_to(F->st.maildir, in("carol")));
	assert_non_null(strstr(m, token));
	assert_non_null(strstr(m, "Subject: Figures"));
	assert_null(strstr(m, "[secure]"));
	assert_null(strstr(m, "[pin]"));
	free(m);
	/* the sender: one PIN notice, encrypted to alice's key, naming bob */
	assert_int_equal(mails_to(in("alice"), 1, 30000), 1);
	assert_non_null(m = th_mail_to(F->st.maildir, in("alice")));
	assert_null(strstr(m, token));
	assert_non_null(plain = decrypt(m));
	assert_non_null(strstr(plain, ext("bob")));
	free(plain);
	free(m);
	/* nothing went out twice, and no external address got the plaintext */
	sleep(1);
	assert_int_equal(mails_to(ext("bob"), 2, 200), 1);
	assert_int_equal(mails_to(ext("kim"), 2, 200), 1);
	assert_int_equal(mails_to(in("carol"), 2, 200), 1);
	assert_int_equal(leaked(token), 0);
}

static void test_untriggered_passes_unchanged(void **state)
{
	char token[64], *m;
	(void)state;

	snprintf(token, sizeof(token), "PLAIN-%s-token", F->tag);
	assert_int_equal(swaks(NULL, ext("erin"), "Lunch at noon", token, "plain"), 0);
	assert_int_equal(mails_to(ext("erin"), 1, 30000), 1);
	assert_non_null(m = th_mail_to(F->st.maildir, ext("erin")));
	assert_non_null(strstr(m, token));
	assert_non_null(strstr(m, "Subject: Lunch at noon"));
	free(m);
	assert_int_equal(th_sql_longf(F->st.dsn, "SELECT count(*) FROM mailboxes WHERE address = '%s'",
	    ext("erin")), 0);
}

static void test_postfix_retries_after_tempfail(void **state)
{
	char token[64], out[512], *text, mail[1024];
	FILE *f;
	(void)state;

	snprintf(token, sizeof(token), "RETRY-%s-token", F->tag);
	assert_int_equal(th_stop(F->st.pv[0], 15000), 0);
	F->st.pv[0] = -1;

	/* a submitting SMTP client is told to come back later */
	snprintf(out, sizeof(out), "%s/swaks.txt", F->postfix);
	assert_int_not_equal(swaks(out, ext("ivan"), "[secure] Later", token, "smtp-retry"), 0);
	assert_non_null(text = th_read_file(out, NULL));
	assert_non_null(strstr(text, "451 4.3.0"));
	free(text);

	/* mail handed to Postfix itself (sendmail, pickup) stays in its queue */
	snprintf(mail, sizeof(mail), "%s/retry.eml", F->postfix);
	assert_non_null(f = fopen(mail, "w"));
	fprintf(f, "From: Alice <%s>\nTo: %s\nSubject: [secure] Retry\nMessage-ID: <retry.%s@%s>\n"
	    "\n%s\n", in("alice"), ext("dave"), F->tag, F->in, token);
	fclose(f);
	{
		char etc[512];
		snprintf(etc, sizeof(etc), "%s/etc", F->postfix);
		const char *argv[] = { "sh", "-c", "exec sendmail -C \"$1\" -f \"$2\" \"$3\" < \"$4\"",
			"sh", etc, in("alice"), ext("dave"), mail, NULL };
		assert_int_equal(th_run(argv, NULL, NULL), 0);
	}
	long long end = th_now_ms() + 30000;
	while (th_metric(F->gw_health, "postern_gateway_tempfail_total") < 2 && th_now_ms() < end)
		usleep(200 * 1000);
	assert_true(th_metric(F->gw_health, "postern_gateway_tempfail_total") >= 2);
	assert_true(queued() >= 1);
	assert_int_equal(mails_to(ext("dave"), 1, 500), 0);

	/* provision is back: Postfix's retry delivers, once */
	th_stack_provision_start(&F->st, 0);
	end = th_now_ms() + 60000;
	while (queued() > 0 && th_now_ms() < end) {
		assert_int_equal(postfix("flush", (char *)NULL), 0);
		sleep(1);
	}
	assert_int_equal(queued(), 0);
	assert_int_equal(mails_to(ext("dave"), 1, 30000), 1);
	assert_int_equal(th_sql_longf(F->st.dsn, "SELECT count(*) FROM messages m JOIN mailboxes b "
	    "ON b.id = m.mailbox_id WHERE b.address = '%s'", ext("dave")), 1);
	sleep(1);
	assert_int_equal(mails_to(ext("dave"), 2, 200), 1);
	assert_int_equal(leaked(token), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_triggered_mail_end_to_end),
		cmocka_unit_test(test_untriggered_passes_unchanged),
		cmocka_unit_test(test_postfix_retries_after_tempfail),
	};
	return cmocka_run_group_tests_name("gateway_mta", tests, setup, teardown);
}
