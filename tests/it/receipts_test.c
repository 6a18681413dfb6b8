/*
 * receipts_test.c - the sender's receipts end to end: the broker (CURVE),
 * mailstore on its own PostgreSQL database, keylookup with the senders'
 * keyring, two provision replicas, Redis and the SMTP sink. The
 * milestones are reached through mailstore's operations, each called
 * with the certificate of the service that calls it in production (the
 * web UI's for activation, reading, a reply and closing; provision's for
 * a lock), so nothing here is a stand-in for a component.
 *
 * Covered:
 *   - exactly once: an event with receipts to two new mailboxes; one
 *     provision replica SIGKILLed at once and the event retried; a
 *     replica that claimed receipts and died (the test claims a batch and
 *     never completes it: the lease runs out and a live replica sends
 *     them); the other replica killed mid-way too; the milestones reached
 *     (a message read twice, marked unread between). Each of bob's six
 *     milestones (delivered, opened, read, replied, locked, deleted) and
 *     carol's two (delivered, deleted) arrives exactly once, and the
 *     sender's key decrypts each to the recipient, the milestone and the
 *     event; a late CompleteReceipt of a receipt done queues nothing; the
 *     done rows keep neither sender nor recipient;
 *   - a sender without a key, policy "plain": one plain receipt naming
 *     the recipient and the milestone, and nothing of the message (not
 *     the subject, the body or the event);
 *   - policy "none" (both replicas restarted with it): the receipt is
 *     withheld, no mail.
 */
#include <dirent.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../harness/harness.h"
#include "postern/calls.h"
#include "postern/mem.h"

#define SUBJECT "Quarterly figures 5150"
#define BODY "The secret body 4711"

typedef struct fx {
	th_stack st;
	char tag[64];
	char domain[96];
	char *senderhome;            /* alice's key pair, for decrypting */
	char *keyring;               /* keylookup's keyring: alice's public key */
	pn_client *webui, *prov;     /* the test as those services */
} fx;

static fx *F;

/* addr - local@the test's domain (static, rotating) */
static const char *addr(const char *local)
{
	return th_addr(F->domain, local);
}

/* mime - a mail from sender with the subject and body nobody may see in a receipt */
static char *mime(const char *sender)
{
	static int seq;             /* the Message-ID's own part: the run's tag and a count */
	char *m = NULL;

	assert_true(asprintf(&m, "From: <%s>\r\nTo: <x@%s>\r\nSubject: " SUBJECT "\r\n"
	    "Message-ID: <%s.%d@test>\r\n\r\n" BODY "\r\n", sender, F->domain, F->tag,
	    ++seq) > 0);
	return m;
}

/* send - an event with receipts; every outcome MAILBOX_CREATED */
static void send(const char *id, const char *sender, const char *const *rcpts, size_t n)
{
	pn_pool *pool = pn_pool_new();
	Postern__V1__SendResult *res = NULL;
	const char *why = NULL;
	char *m = mime(sender);
	const th_event ev = { .id = id, .sender = sender, .rcpts = rcpts, .n = n, .mime = m,
		.len = strlen(m), .with_pin = 1, .receipts = 1 };

	assert_int_equal(th_send_event(F->st.client, pool, &ev, &res, &why), PN_OK);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(res->outcomes[i]->kind, POSTERN__V1__OUTCOME__KIND__MAILBOX_CREATED);
	free(m);
	pn_pool_destroy(&pool);
}

/* id_of - the mailbox id of address */
static long long id_of(const char *address)
{
	long long id = th_sql_longf(F->st.dsn, "SELECT id FROM mailboxes WHERE address = '%s'",
	    address);

	assert_true(id > 0);
	return id;
}

/* wait_receipts - until n receipts of milestone exist for the mailbox (pending or done) */
static void wait_receipts(long long mailbox, const char *milestone, long n)
{
	long got = 0;

	for (int i = 0; i < 600; i++) {
		got = th_sql_longf(F->st.dsn, "SELECT count(*) FROM receipts WHERE mailbox_id = %lld "
		    "AND milestone = '%s'", mailbox, milestone);
		if (got >= n)
			return;
		usleep(100000);
	}
	fail_msg("receipt %s of mailbox %lld: %ld of %ld", milestone, mailbox, got, n);
}

/* ms_call - one mailstore request with client; the status */
static pn_err ms_call(pn_client *client, Postern__V1__MailstoreRequest *req)
{
	pn_pool *pool = pn_pool_new();
	ProtobufCMessage *out = NULL;
	pn_err err = pn_client_call(client, "mailstore", &req->base,
	    &postern__v1__mailstore_reply__descriptor, pool, &out);

	pn_pool_destroy(&pool);
	return err;
}

static ProtobufCBinaryData bin(const char *s)
{
	ProtobufCBinaryData b = { strlen(s), (uint8_t *)s };

	return b;
}

/* activate - SetKeys PENDING -> ACTIVE, as the web UI does at the password */
static void activate(long long id)
{
	Postern__V1__MailstoreRequest req = POSTERN__V1__MAILSTORE_REQUEST__INIT;
	Postern__V1__SetKeys k = POSTERN__V1__SET_KEYS__INIT;

	k.mailbox_id = id;
	k.expected_state = POSTERN__V1__MAILBOX_STATE__MAILBOX_PENDING;
	k.new_state = POSTERN__V1__MAILBOX_STATE__MAILBOX_ACTIVE;
	k.secret_key = bin("-----BEGIN PGP PRIVATE KEY BLOCK-----password");
	k.recovery_key = bin("-----BEGIN PGP PRIVATE KEY BLOCK-----recovery");
	k.recovery_verifier = bin("recovery-verifier-0123456789");
	k.clear_link = 1;
	req.op_case = POSTERN__V1__MAILSTORE_REQUEST__OP_SET_KEYS;
	req.set_keys = &k;
	assert_int_equal(ms_call(F->webui, &req), PN_OK);
}

/* mark_seen - the web UI's MarkSeen of the mailbox's one message */
static void mark_seen(long long id, int seen)
{
	Postern__V1__MailstoreRequest req = POSTERN__V1__MAILSTORE_REQUEST__INIT;
	Postern__V1__MarkSeen m = POSTERN__V1__MARK_SEEN__INIT;

	m.mailbox_id = id;
	m.message_id = th_sql_longf(F->st.dsn, "SELECT id FROM messages WHERE mailbox_id = %lld "
	    "AND folder = 'inbox'", id);
	m.seen = seen;
	req.op_case = POSTERN__V1__MAILSTORE_REQUEST__OP_MARK_SEEN;
	req.mark_seen = &m;
	assert_int_equal(ms_call(F->webui, &req), PN_OK);
}

/* reply - the web UI's StoreMessage of a reply to to (folder Sent, the mail queued) */
static void reply(long long id, const char *from, const char *to)
{
	Postern__V1__MailstoreRequest req = POSTERN__V1__MAILSTORE_REQUEST__INIT;
	Postern__V1__StoreMessage s = POSTERN__V1__STORE_MESSAGE__INIT;
	Postern__V1__NewMessage m = POSTERN__V1__NEW_MESSAGE__INIT;
	Postern__V1__OutMail o = POSTERN__V1__OUT_MAIL__INIT, *mails[1] = { &o };
	char *rcpt[1] = { (char *)to }, idem[96], data[1024];

	snprintf(idem, sizeof(idem), "reply/%s/%lld", F->tag, id);
	snprintf(data, sizeof(data), "From: <%s>\r\nTo: <%s>\r\nSubject: re\r\n\r\nreply\r\n",
	    from, to);
	m.folder = POSTERN__V1__FOLDER__FOLDER_SENT;
	m.event_id = idem;
	m.size = 5;
	m.envelope = bin("-----BEGIN PGP MESSAGE-----env");
	m.body = bin("-----BEGIN PGP MESSAGE-----body");
	o.idem_key = idem;
	o.mail_from = (char *)from;
	o.rcpt_to = rcpt;
	o.n_rcpt_to = 1;
	o.data = bin(data);
	s.mailbox_id = id;
	s.message = &m;
	s.mail = mails;
	s.n_mail = 1;
	req.op_case = POSTERN__V1__MAILSTORE_REQUEST__OP_STORE_MESSAGE;
	req.store_message = &s;
	assert_int_equal(ms_call(F->webui, &req), PN_OK);
}

/* lock - provision's UpdateMailbox to LOCKED (wrong PINs) */
static void lock(long long id)
{
	Postern__V1__MailstoreRequest req = POSTERN__V1__MAILSTORE_REQUEST__INIT;
	Postern__V1__UpdateMailbox u = POSTERN__V1__UPDATE_MAILBOX__INIT;

	u.mailbox_id = id;
	u.expected_state = POSTERN__V1__MAILBOX_STATE__MAILBOX_ACTIVE;
	u.new_state = POSTERN__V1__MAILBOX_STATE__MAILBOX_LOCKED;
	req.op_case = POSTERN__V1__MAILSTORE_REQUEST__OP_UPDATE_MAILBOX;
	req.update_mailbox = &u;
	assert_int_equal(ms_call(F->prov, &req), PN_OK);
}

/* close_box - the web UI's CloseMailbox: deleted */
static void close_box(long long id)
{
	Postern__V1__MailstoreRequest req = POSTERN__V1__MAILSTORE_REQUEST__INIT;
	Postern__V1__CloseMailbox c = POSTERN__V1__CLOSE_MAILBOX__INIT;

	c.mailbox_id = id;
	req.op_case = POSTERN__V1__MAILSTORE_REQUEST__OP_CLOSE_MAILBOX;
	req.close_mailbox = &c;
	assert_int_equal(ms_call(F->webui, &req), PN_OK);
}


/* The milestones' sentences, as the English receipt says them. */
static const struct { const char *name, *text; } milestones[] = {
	{ "delivered", "accepted the invitation" },
	{ "opened", "opened the mailbox" },
	{ "read", "read the message" },
	{ "replied", "The recipient replied" },
	{ "locked", "was locked" },
	{ "deleted", "The mailbox was deleted" },
};
#define N_MILESTONES (sizeof(milestones) / sizeof(milestones[0]))

/* tally - decrypt every encrypted mail to alice; counts[r][m] per recipient (bob 0, carol 1) */
static int tally(int counts[2][N_MILESTONES], const char *event)
{
	char want[300], path[1024], tag[16], *names[2];
	DIR *d = opendir(F->st.maildir);
	struct dirent *de;
	int total = 0, n = 0;

	assert_non_null(d);
	memset(counts, 0, sizeof(int) * 2 * N_MILESTONES);
	names[0] = pn_strdup(addr("bob"));
	names[1] = pn_strdup(addr("carol"));
	snprintf(want, sizeof(want), "X-Sink-Rcpt-To: <%s>", addr("alice"));
	while ((de = readdir(d)) != NULL) {
		char *mail, *plain;
		snprintf(path, sizeof(path), "%s/%s", F->st.maildir, de->d_name);
		if (de->d_name[0] == '.' || !(mail = th_read_file(path, NULL)))
			continue;
		if (!strstr(mail, want) || !strstr(mail, "-----BEGIN PGP MESSAGE-----")) {
			free(mail);
			continue;
		}
		/* nothing of the message, outside or inside */
		assert_null(strstr(mail, "figures 5150"));
		assert_null(strstr(mail, "body 4711"));
		snprintf(tag, sizeof(tag), "r%d", n++);
		plain = th_gpg_decrypt_mail(F->senderhome, mail, tag);
		assert_null(strstr(plain, "figures 5150"));
		assert_null(strstr(plain, "body 4711"));
		assert_non_null(strstr(plain, event));
		for (int r = 0; r < 2; r++) {
			if (!strstr(plain, names[r]))
				continue;
			for (size_t m = 0; m < N_MILESTONES; m++)
				if (strstr(plain, milestones[m].text))
					counts[r][m]++;
		}
		total++;
		free(plain);
		free(mail);
	}
	closedir(d);
	free(names[0]);
	free(names[1]);
	return total;
}

/* claim_batch - claim what is pending as a replica that then dies; the ids in ids (at most 100) */
static size_t claim_batch(int64_t *ids)
{
	pn_pool *pool = pn_pool_new();
	Postern__V1__ClaimReceipts c = POSTERN__V1__CLAIM_RECEIPTS__INIT;
	Postern__V1__ReceiptList *list = NULL;
	const char *why;
	size_t n;

	c.take = 100;
	c.lease_seconds = 10;
	assert_int_equal(pn_ms_claim_receipts(F->prov, pool, &c, &list, &why), PN_OK);
	n = list->n_receipts;
	for (size_t i = 0; i < n; i++)
		ids[i] = list->receipts[i]->id;
	pn_pool_destroy(&pool);
	return n;
}

/* pv_restart - both provision replicas with pv_env */
static void pv_restart(const char *const *pv_env)
{
	for (int i = 0; i < 2; i++) {
		if (F->st.pv[i] > 0)
			assert_int_equal(th_stop(F->st.pv[i], 20000), 0);
		F->st.pv[i] = -1;
	}
	F->st.opts.pv_env = pv_env;
	for (int i = 0; i < 2; i++)
		th_stack_provision_start(&F->st, i);
}

static const char *const pv_plain[] = { "POSTERN_BUS_TIMEOUT_MS=20000",
	"POSTERN_PROVISION_RECEIPTS_WITHOUT_KEY=plain", NULL };
static const char *const pv_none[] = { "POSTERN_BUS_TIMEOUT_MS=20000",
	"POSTERN_PROVISION_RECEIPTS_WITHOUT_KEY=none", NULL };

static int setup(void **state)
{
	char path[512];
	fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	F = f;
	snprintf(f->tag, sizeof(f->tag), "%ld-%ld", (long)getpid(), (long)time(NULL));
	snprintf(f->domain, sizeof(f->domain), "rc%s.example", f->tag);
	f->senderhome = th_tmpdir("rcs");
	f->keyring = th_tmpdir("rck");
	assert_int_equal(th_gpg_keygen(f->senderhome, "Alice Sender", addr("alice")), 0);
	snprintf(path, sizeof(path), "%s/alice.asc", f->senderhome);
	assert_int_equal(th_gpg(f->senderhome, path, "--armor", "--export", (char *)NULL), 0);
	assert_int_equal(th_key_import(f->keyring, f->senderhome, path), 0);
	{
		const th_stack_opts o = { .tag = "receipts", .keyring = f->keyring,
			.provisions = 2, .pv_env = pv_plain, .client_timeout_ms = 30000,
			.client_retries = 2 };
		th_stack_start(&f->st, &o);
	}
	f->webui = th_client(f->st.broker.endpoint, "webui", 10000, 3);
	f->prov = th_client(f->st.broker.endpoint, "provision", 10000, 3);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;
	const char *kill[] = { "gpgconf", "--homedir", f->senderhome, "--kill", "all", NULL };

	pn_client_destroy(&f->webui);
	pn_client_destroy(&f->prov);
	assert_int_equal(th_stack_stop(&f->st), 0);
	th_run(kill, NULL, NULL);
	free(f->senderhome);
	free(f->keyring);
	free(f);
	return 0;
}

/*
 * Every milestone once per recipient, encrypted to the sender, through
 * killed replicas, a retried event and a claim whose holder died.
 */
static void test_exactly_once(void **state)
{
	const char *rcpts[2];
	char bob[256], carol[256], event[96];
	int counts[2][N_MILESTONES], total = 0;
	int64_t claimed[100];
	size_t n_claimed;
	long long b, c;
	(void)state;

	snprintf(bob, sizeof(bob), "%s", addr("bob"));
	snprintf(carol, sizeof(carol), "%s", addr("carol"));
	snprintf(event, sizeof(event), "rc-%s-1", F->tag);
	rcpts[0] = bob;
	rcpts[1] = carol;
	send(event, addr("alice"), rcpts, 2);
	b = id_of(bob);
	c = id_of(carol);

	/* a replica dies at once, and the publisher retries the event */
	assert_int_equal(th_kill(F->st.pv[0], SIGKILL), 0);
	F->st.pv[0] = -1;
	send(event, addr("alice"), rcpts, 2);
	assert_int_equal(th_sql_longf(F->st.dsn, "SELECT count(*) FROM receipt_requests "
	    "WHERE event_id = '%s'", event), 2);

	/* both invitations delivered; a "replica" claims what is pending and dies */
	wait_receipts(b, "delivered", 1);
	wait_receipts(c, "delivered", 1);
	n_claimed = claim_batch(claimed);
	th_stack_provision_start(&F->st, 0);

	/* bob: opened, read (twice), replied, locked, deleted; carol: deleted */
	activate(b);
	mark_seen(b, 1);
	n_claimed += claim_batch(claimed + n_claimed);
	mark_seen(b, 0);
	mark_seen(b, 1);
	reply(b, bob, addr("alice"));
	assert_int_equal(th_kill(F->st.pv[1], SIGKILL), 0);
	F->st.pv[1] = -1;
	lock(b);
	close_box(b);
	close_box(c);
	th_stack_provision_start(&F->st, 1);

	/* eight receipts; then the leases run out, and nothing more comes */
	for (int i = 0; i < 900 && (total = tally(counts, event)) < 8; i++)
		usleep(100000);
	assert_int_equal(total, 8);
	sleep(13);
	assert_int_equal(tally(counts, event), 8);
	for (size_t m = 0; m < N_MILESTONES; m++) {
		assert_int_equal(counts[0][m], 1);
		assert_int_equal(counts[1][m], !strcmp(milestones[m].name, "delivered") ||
		    !strcmp(milestones[m].name, "deleted") ? 1 : 0);
	}
	print_message("receipts: 8 arrived once each; %zu claimed by a replica that died\n",
	    n_claimed);

	/* a late completion of a receipt done queues nothing */
	for (size_t i = 0; i < n_claimed; i++) {
		pn_pool *pool = pn_pool_new();
		Postern__V1__CompleteReceipt done = POSTERN__V1__COMPLETE_RECEIPT__INIT;
		const char *why;
		done.id = claimed[i];
		assert_int_equal(pn_ms_complete_receipt(F->prov, pool, &done, &why), PN_OK);
		pn_pool_destroy(&pool);
	}
	assert_int_equal(th_sql_longf(F->st.dsn, "SELECT count(*) FROM outbox WHERE kind = "
	    "'receipt'"), 8);
	/* done rows keep neither who asked nor about whom */
	assert_int_equal(th_sql_longf(F->st.dsn, "SELECT count(*) FROM receipts WHERE "
	    "state = 'queued' AND sender IS NULL AND recipient IS NULL AND event_id = '%s'",
	    event), 8);
	assert_int_equal(th_sql_longf(F->st.dsn, "SELECT count(*) FROM receipts WHERE "
	    "event_id = '%s'", event), 8);
}

/* A sender without a key, policy "plain": recipient and milestone, nothing else. */
static void test_plain_without_key(void **state)
{
	char dan[256], event[96], *mail = NULL;
	const char *rcpts[1];
	const char *nokey = addr("nokey");
	(void)state;

	snprintf(dan, sizeof(dan), "%s", addr("dan"));
	snprintf(event, sizeof(event), "rc-%s-plain", F->tag);
	rcpts[0] = dan;
	send(event, nokey, rcpts, 1);
	assert_int_equal(th_wait_mails(F->st.maildir, nokey, 1, 60000), 1);
	sleep(3);
	assert_int_equal(th_mails_to(F->st.maildir, nokey, &mail), 1);
	assert_non_null(mail);
	assert_non_null(strstr(mail, dan));
	assert_non_null(strstr(mail, "The recipient's mail server accepted the invitation."));
	assert_null(strstr(mail, "-----BEGIN PGP MESSAGE-----"));
	assert_null(strstr(mail, "figures 5150"));
	assert_null(strstr(mail, "body 4711"));
	assert_null(strstr(mail, event));
	free(mail);
}

/* Policy "none": withheld, nothing sent. */
static void test_none_without_key(void **state)
{
	char erin[256], event[96];
	const char *rcpts[1];
	const char *nokey = addr("nobody");
	long long e;
	(void)state;

	pv_restart(pv_none);
	snprintf(erin, sizeof(erin), "%s", addr("erin"));
	snprintf(event, sizeof(event), "rc-%s-none", F->tag);
	rcpts[0] = erin;
	send(event, nokey, rcpts, 1);
	e = id_of(erin);
	wait_receipts(e, "delivered", 1);
	for (int i = 0; i < 300 && th_sql_longf(F->st.dsn, "SELECT count(*) FROM receipts "
	    "WHERE mailbox_id = %lld AND state = 'withheld'", e) < 1; i++)
		usleep(100000);
	assert_int_equal(th_sql_longf(F->st.dsn, "SELECT count(*) FROM receipts WHERE "
	    "mailbox_id = %lld AND state = 'withheld' AND sender IS NULL", e), 1);
	sleep(3);
	assert_int_equal(th_mails_to(F->st.maildir, nokey, NULL), 0);
	pv_restart(pv_plain);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exactly_once),
		cmocka_unit_test(test_plain_without_key),
		cmocka_unit_test(test_none_without_key),
	};

	return cmocka_run_group_tests_name("receipts", tests, setup, teardown);
}
