/*
 * reaper_test.c - postern-reaper end to end: the real reaper (one-shot
 * and long-lived) against the real broker over CURVE, real mailstore
 * replicas on a fresh PostgreSQL database per case, the run's Redis, and
 * the SMTP sink for the warning mails.
 *
 * The clock is ours: last_activity (and warned_at) are set in the past
 * with SQL; nothing waits for days. Each case restarts the mailbox id
 * sequence at its own base, so the Redis keys it makes (mbx:<id>:keys,
 * kl:<address>) cannot meet another case's or suite's.
 *
 * Covered: 91 days deleted, 89 kept, 91 with a Touch or a new mail kept;
 * deleted means gone (no rows in any table, no Redis keys, keylookup's
 * GUEST cache entry gone, and a new send event through provision gives
 * MAILBOX_CREATED again); the warning at 76
 * days arrives once and again only after new activity; two reapers over
 * 2,000 mailboxes delete each exactly once; a reaper SIGKILLed mid-run
 * and restarted finishes (also a tombstone left between the PostgreSQL
 * and the Redis step); --dry-run changes nothing and counts right; the
 * long-lived mode answers ping and reaps; mailstore's reaper operations
 * (claims, take, tombstones, request ids, the warning re-check); the
 * audit log of a deleted mailbox kept for POSTERN_AUDIT_RETENTION, then
 * pruned by a pass, append-only meanwhile.
 * Expiry: a message past its expires_at is withdrawn by the next pass
 * (--once, and the long-lived mode's expiry-only pass), keeps nothing,
 * leaves the mailbox's other messages alone, and its web caches in Redis
 * (folder version, the sessions' envelope cache entries) are cleared; a
 * second pass and --dry-run change nothing; two reapers over 1,000
 * expired messages, ten of them revoked first, withdraw each exactly once,
 * without errors.
 */
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
#include "postern/bus.h"
#include "postern/err.h"
#include "postern/mem.h"
#include "postern/redis.h"
#include "postern/v1/common.pb-c.h"
#include "postern/v1/mailstore.pb-c.h"
#include "postern/v1/keylookup.pb-c.h"
#include "postern/v1/provision.pb-c.h"
#include "postern/v1/reaper.pb-c.h"

typedef Postern__V1__MailstoreRequest Req;
typedef Postern__V1__MailstoreReply Rep;

#define MAXMS 2

typedef struct fx {
	th_broker broker;
	char *dsn;
	pid_t ms[MAXMS];
	int nms;
	pn_client *client;
	th_callers callers;         /* mailstore's operations, each with a role that may */
	pn_pool *pool;
	pn_redis *redis;
	int smtp_port;
	char *sinkdir;
	pid_t sink;
	long long idbase;
	char dsn_env[512], smtp_env[64];
} fx;

static int case_seq;

/* ---- helpers ---- */

/* rows_anywhere - rows that mention mailbox id in any mailstore table */
static long rows_anywhere(fx *f, long long id)
{
	return th_sql_longf(f->dsn, "SELECT (SELECT count(*) FROM mailboxes WHERE id = %lld) + "
	    "(SELECT count(*) FROM messages WHERE mailbox_id = %lld) + "
	    "(SELECT count(*) FROM outbox WHERE mailbox_id = %lld) + "
	    "(SELECT count(*) FROM mailbox_tombstones WHERE mailbox_id = %lld)",
	    id, id, id, id);
}

/* redis_exists - 1 if key exists */
static long redis_exists(fx *f, const char *key)
{
	redisReply *r = NULL;
	long n = -1;

	if (pn_redis_cmdv(f->redis, &r, "EXISTS", key, (char *)NULL) == PN_OK &&
	    r->type == REDIS_REPLY_INTEGER)
		n = (long)r->integer;
	pn_redis_free(&r);
	return n;
}

/* tracked_prov_key - a "prov:" key provision itself listed for mailbox id, or NULL */
static char *tracked_prov_key(fx *f, long long id)
{
	char set[64];
	redisReply *r = NULL;
	char *key = NULL;

	snprintf(set, sizeof(set), "mbx:%lld:keys", id);
	if (pn_redis_cmdv(f->redis, &r, "SMEMBERS", set, (char *)NULL) == PN_OK &&
	    r->type == REDIS_REPLY_ARRAY)
		for (size_t i = 0; i < r->elements && !key; i++)
			if (!strncmp(r->element[i]->str, "prov:", 5))
				key = strdup(r->element[i]->str);
	pn_redis_free(&r);
	return key;
}

/* redis_state - a mailbox's Redis state as provision/webui make it */
static void redis_state(fx *f, long long id, const char *address)
{
	char key[128], kl[300];

	snprintf(key, sizeof(key), "prov:pinfail:%lld", id);
	assert_int_equal(pn_redis_cmdv(f->redis, NULL, "SET", key, "2", (char *)NULL), PN_OK);
	assert_int_equal(pn_redis_track(f->redis, id, key), PN_OK);
	snprintf(key, sizeof(key), "web:sess:test-%lld", id);
	assert_int_equal(pn_redis_cmdv(f->redis, NULL, "SET", key, "x", (char *)NULL), PN_OK);
	assert_int_equal(pn_redis_track(f->redis, id, key), PN_OK);
	snprintf(kl, sizeof(kl), "kl:%s", address);
	assert_int_equal(pn_redis_cmdv(f->redis, NULL, "SET", kl, "guest", (char *)NULL), PN_OK);
}

/* redis_keys - how many of redis_state's keys for id (and address, if not NULL) exist */
static long redis_keys(fx *f, long long id, const char *address)
{
	char key[300];
	long n = 0;

	snprintf(key, sizeof(key), "prov:pinfail:%lld", id);
	n += redis_exists(f, key);
	snprintf(key, sizeof(key), "web:sess:test-%lld", id);
	n += redis_exists(f, key);
	snprintf(key, sizeof(key), "mbx:%lld:keys", id);
	n += redis_exists(f, key);
	if (address != NULL) {
		snprintf(key, sizeof(key), "kl:%s", address);
		n += redis_exists(f, key);
	}
	return n;
}

/* redis_gone - none of redis_state's keys for id/address exist (1), else 0 */
static int redis_gone(fx *f, long long id, const char *address)
{
	return redis_keys(f, id, address) == 0;
}

/* redis_intact - all of redis_state's keys exist */
static int redis_intact(fx *f, long long id, const char *address)
{
	return redis_keys(f, id, address) == 4;
}

static pn_err call(fx *f, Req *req, Rep **rep_r)
{
	ProtobufCMessage *out = NULL;
	pn_err err = pn_client_call(th_caller(&f->callers, "mailstore", req->op_case),
	    "mailstore", &req->base, &postern__v1__mailstore_reply__descriptor, f->pool, &out);

	if (rep_r != NULL)
		*rep_r = (Rep *)out;
	return err;
}

static ProtobufCBinaryData bin(pn_pool *pool, const char *s)
{
	ProtobufCBinaryData b;

	b.len = strlen(s);
	b.data = pn_pool_memdup(pool, s, b.len);
	return b;
}

/* accept - a mail for address through mailstore's Accept (create if asked) */
static pn_err accept(fx *f, const char *address, int create, const char *event,
    Rep **rep_r)
{
	Req req = POSTERN__V1__MAILSTORE_REQUEST__INIT;
	Postern__V1__Accept a = POSTERN__V1__ACCEPT__INIT;
	Postern__V1__NewMessage m = POSTERN__V1__NEW_MESSAGE__INIT;
	Postern__V1__Mailbox nm = POSTERN__V1__MAILBOX__INIT;

	a.address = (char *)address;
	m.event_id = (char *)event;
	m.size = 10;
	m.envelope = bin(f->pool, "-----BEGIN PGP MESSAGE-----env");
	m.body = bin(f->pool, "-----BEGIN PGP MESSAGE-----body");
	a.message = &m;
	if (create) {
		nm.public_key = bin(f->pool, "-----BEGIN PGP PUBLIC KEY BLOCK-----pub");
		nm.secret_key = bin(f->pool, "-----BEGIN PGP PRIVATE KEY BLOCK-----sec");
		nm.fingerprint = "0123456789ABCDEF0123456789ABCDEF01234567";
		nm.link_hash = bin(f->pool, pn_pool_printf(f->pool, "linkhash-%-24s", event));
		nm.created_by = "alice@example.com";
		a.new_mailbox = &nm;
	}
	req.op_case = POSTERN__V1__MAILSTORE_REQUEST__OP_ACCEPT;
	req.accept = &a;
	return call(f, &req, rep_r);
}

/* out_mail - m: from postern@example.com to rcpt[0], key idem, subject and body word */
static void out_mail(fx *f, Postern__V1__OutMail *m, char **rcpt, char *idem, const char *word)
{
	m->idem_key = idem;
	m->mail_from = "postern@example.com";
	m->rcpt_to = rcpt;
	m->n_rcpt_to = 1;
	m->data = bin(f->pool, pn_pool_printf(f->pool,
	    "From: postern@example.com\r\nSubject: %s\r\n\r\n%s\r\n", word, word));
}

/* mailbox - create one with a message and an outbox row; returns its id */
static long long mailbox(fx *f, const char *address)
{
	Req req = POSTERN__V1__MAILSTORE_REQUEST__INIT;
	Postern__V1__QueueMail q = POSTERN__V1__QUEUE_MAIL__INIT;
	Postern__V1__OutMail m = POSTERN__V1__OUT_MAIL__INIT;
	char *rcpt[1] = { (char *)address };
	Rep *rep = NULL;
	long long id;

	assert_int_equal(accept(f, address, 1, pn_pool_printf(f->pool, "create-%s", address),
	    &rep), PN_OK);
	assert_true(rep->accepted->created);
	id = rep->accepted->mailbox->id;
	/* an outbox row tied to it, still queued (the far side is not there) */
	out_mail(f, &m, rcpt, pn_pool_printf(f->pool, "test-invite-%lld", id), "x");
	q.mailbox_id = id;
	q.mail = &m;
	req.op_case = POSTERN__V1__MAILSTORE_REQUEST__OP_QUEUE_MAIL;
	req.queue_mail = &q;
	assert_int_equal(call(f, &req, NULL), PN_OK);
	return id;
}

/* idle - last_activity days ago (and warned_at cleared) */
static void idle(fx *f, long long id, double days)
{
	assert_int_equal(th_sql_longf(f->dsn, "UPDATE mailboxes SET last_activity = "
	    "now() - interval '1 day' * %f, warned_at = NULL WHERE id = %lld RETURNING 1",
	    days, id), 1);
}

static pn_err touch(fx *f, long long id)
{
	Req req = POSTERN__V1__MAILSTORE_REQUEST__INIT;
	Postern__V1__Touch t = POSTERN__V1__TOUCH__INIT;

	t.mailbox_id = id;
	req.op_case = POSTERN__V1__MAILSTORE_REQUEST__OP_TOUCH;
	req.touch = &t;
	return call(f, &req, NULL);
}

/* WARNING - what marks the reaper's warning mails in the sink */
#define WARNING "<reaper-warn."

/* warnings - how many warning mails the sink holds */
static int warnings(const char *dir)
{
	return th_count_mails(dir, WARNING);
}

/* wait_warnings - until the sink holds n warnings (or time is up); the count */
static int wait_warnings(const char *dir, int n, long timeout_ms)
{
	return th_wait_count_mails(dir, WARNING, n, timeout_ms);
}

/* warning_text - the text of one warning in dir (caller frees), NULL if none */
static char *warning_text(const char *dir)
{
	return th_mail_with(dir, WARNING);
}

/* ---- the reaper ---- */

/* reaper_spawn - postern-reaper with args, not waiting; extra env appended */
static pid_t reaper_spawn(fx *f, const char *arg1, const char *arg2,
    const char *const *extra, int health)
{
	static char b[6][600];
	const char *certs = th_env("POSTERN_TEST_CERTS");
	const char *argv[] = { "postern-reaper", arg1, arg2, NULL };
	const char *env[24];
	int n = 0;

	snprintf(b[0], sizeof(b[0]), "POSTERN_BROKER=%s", f->broker.endpoint);
	snprintf(b[1], sizeof(b[1]), "POSTERN_CERT=%s/reaper.cert", certs);
	snprintf(b[2], sizeof(b[2]), "POSTERN_BROKER_CERT=%s/broker.cert", certs);
	snprintf(b[3], sizeof(b[3]), "POSTERN_HEALTH_LISTEN=127.0.0.1:%d", health);
	snprintf(b[4], sizeof(b[4]), "POSTERN_REDIS=%s", th_env("POSTERN_TEST_REDIS"));
	for (int i = 0; i < 5; i++)
		env[n++] = b[i];
	env[n++] = "POSTERN_PUBLIC_URL=https://postern.example.com/login";
	env[n++] = "POSTERN_MAIL_FROM=Postern Test <postern@example.com>";
	for (int i = 0; extra != NULL && extra[i] != NULL && n < 23; i++)
		env[n++] = extra[i];
	env[n] = NULL;
	return th_spawn(argv, env);
}

/* reaper_wait - wait for a one-shot reaper to exit; its exit status */
static int reaper_wait(pid_t pid, long timeout_ms)
{
	long long deadline = th_now_ms() + timeout_ms;

	while (th_alive(pid) && th_now_ms() < deadline)
		usleep(20000);
	return th_stop(pid, 1000);
}

/* reaper_out - the summary line of a finished reaper (caller frees), "" if none */
static char *reaper_out(pid_t pid)
{
	char path[600], *text, *line, *end;

	snprintf(path, sizeof(path), "%s/logs/postern-reaper.%d.log",
	    th_env("POSTERN_TEST_TMP"), (int)pid);
	text = th_read_file(path, NULL);
	if (text == NULL)
		return pn_strdup("");
	line = strstr(text, "\nreaper: ");
	if (line == NULL && strncmp(text, "reaper: ", 8) == 0)
		line = text;
	else if (line != NULL)
		line++;
	if (line == NULL) {
		free(text);
		return pn_strdup("");
	}
	if ((end = strchr(line, '\n')) != NULL)
		*end = '\0';
	line = pn_strdup(line);
	free(text);
	return line;
}

/* field - a number "name=N" from a summary line, -1 if absent */
static long field(const char *line, const char *name)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), " %s=", name);
	if ((p = strstr(line, pat)) == NULL)
		return -1;
	return strtol(p + strlen(pat), NULL, 10);
}

/* reap_once - run "postern-reaper --once" (or other args) to its end; its summary */
static char *reap_once(fx *f, const char *arg, const char *const *extra)
{
	pid_t pid = reaper_spawn(f, arg, NULL, extra, 0);
	int rc;

	assert_true(pid > 0);
	rc = reaper_wait(pid, 60000);
	char *out = reaper_out(pid);
	if (rc != 0)
		fail_msg("reaper %s exited %d: %s", arg, rc, out);
	return out;
}

/* ---- fixture ---- */

static int setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));
	const char *env[5];

	assert_non_null(f);
	assert_int_equal(th_broker_start(&f->broker, NULL), 0);
	f->dsn = th_createdb("reaper");
	f->pool = pn_pool_new();
	f->smtp_port = th_port();
	f->sinkdir = th_tmpdir("reaper-sink");
	f->sink = th_smtpsink_start(f->smtp_port, f->sinkdir);
	assert_true(f->sink > 0);
	snprintf(f->dsn_env, sizeof(f->dsn_env), "POSTERN_PG_DSN=%s", f->dsn);
	snprintf(f->smtp_env, sizeof(f->smtp_env), "POSTERN_SMTP_URL=smtp://127.0.0.1:%d",
	    f->smtp_port);
	env[0] = f->dsn_env;
	env[1] = f->smtp_env;
	env[2] = "POSTERN_OUTBOX_INTERVAL_MS=100";
	env[3] = "POSTERN_LOG_LEVEL=info";
	env[4] = NULL;
	for (int i = 0; i < MAXMS; i++) {
		f->ms[i] = th_service_start("mailstore", f->broker.endpoint, env, NULL);
		assert_true(f->ms[i] > 0);
		f->nms++;
	}
	f->client = th_client(f->broker.endpoint, NULL, 5000, 2);
	assert_non_null(f->client);
	f->callers = (th_callers){ .endpoint = f->broker.endpoint, .timeout_ms = 5000,
		.retries = 2 };
	f->redis = pn_redis_open(th_env("POSTERN_TEST_REDIS"), NULL, 2000);
	assert_non_null(f->redis);
	/* ids of this case start at their own base: no Redis key collides */
	f->idbase = 900000000LL + (long long)getpid() % 10000 * 100000 + ++case_seq * 10000;
	assert_int_equal(th_sql_longf(f->dsn, "SELECT setval('mailboxes_id_seq', %lld)",
	    f->idbase), f->idbase);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;

	pn_client_destroy(&f->client);
	th_callers_destroy(&f->callers);
	pn_redis_close(&f->redis);
	for (int i = 0; i < f->nms; i++)
		assert_int_equal(th_stop(f->ms[i], 15000), 0);
	th_stop(f->sink, 5000);
	th_stop(f->broker.pid, 5000);
	pn_pool_destroy(&f->pool);
	free(f->dsn);
	free(f->sinkdir);
	free(f);
	return 0;
}

/* ---- cases ---- */

/* 91 days deleted everywhere, 89 kept, 91 + Touch kept, 91 + new mail kept */
static void test_lifetime(void **state)
{
	fx *f = *state;
	const char *env[] = { "POSTERN_REAPER_WARN_DAYS=0", NULL };
	long long old, young, touched, mailed;
	Rep *rep = NULL;
	char *out;

	old = mailbox(f, "Old.One@example.org");
	young = mailbox(f, "young@example.org");
	touched = mailbox(f, "touched@example.org");
	mailed = mailbox(f, "mailed@example.org");
	redis_state(f, old, "Old.One@example.org");
	redis_state(f, young, "young@example.org");
	idle(f, old, 91);
	idle(f, young, 89);
	idle(f, touched, 91);
	idle(f, mailed, 91);
	/* activity before the run: a login (Touch) and a new mail (Accept) */
	assert_int_equal(touch(f, touched), PN_OK);
	assert_int_equal(accept(f, "mailed@example.org", 0, "second-mail", &rep), PN_OK);
	assert_false(rep->accepted->created);
	assert_true(rows_anywhere(f, old) >= 3);     /* mailbox, message, outbox row */

	out = reap_once(f, "--once", env);
	assert_int_equal(field(out, "deleted"), 1);
	assert_int_equal(field(out, "errors"), 0);
	free(out);

	/* deleted means gone: no rows anywhere, no Redis keys */
	assert_int_equal(rows_anywhere(f, old), 0);
	assert_true(redis_gone(f, old, "Old.One@example.org"));
	/* the others are untouched, their Redis state too */
	assert_int_equal(th_sql_longf(f->dsn, "SELECT count(*) FROM mailboxes WHERE id IN "
	    "(%lld, %lld, %lld)", young, touched, mailed), 3);
	assert_true(redis_intact(f, young, "young@example.org"));
	assert_int_equal(th_sql_longf(f->dsn, "SELECT count(*) FROM messages WHERE mailbox_id = %lld",
	    mailed), 2);

	/* the address behaves as never seen: a new send creates a new mailbox */
	assert_int_equal(accept(f, "Old.One@example.org", 1, "after-reaping", &rep), PN_OK);
	assert_true(rep->accepted->created);
	assert_true(rep->accepted->mailbox->id != old);

	/* a second run finds nothing more */
	out = reap_once(f, "--once", env);
	assert_int_equal(field(out, "deleted"), 0);
	assert_int_equal(field(out, "errors"), 0);
	free(out);
}

/* kinds - the audit log's kinds of mailbox id, oldest first, joined with ',' (caller frees) */
static char *kinds(fx *f, long long id)
{
	char q[256], *v;

	snprintf(q, sizeof(q), "SELECT coalesce(string_agg(kind, ',' ORDER BY at, id), '') "
	    "FROM audit_log WHERE mailbox_id = %lld", id);
	assert_non_null(v = th_sql(f->dsn, q));
	return v;
}

/*
 * The audit log outlives its mailbox by POSTERN_AUDIT_RETENTION and then
 * goes with the reaper's pass; it is append-only, and the log of a living
 * mailbox is never deleted.
 */
static void test_audit_retention(void **state)
{
	fx *f = *state;
	static const char *const env[] = { "POSTERN_AUDIT_RETENTION=1", NULL };
	long long old, young;
	char *out, *k;

	old = mailbox(f, "audit.old@example.org");
	young = mailbox(f, "audit.young@example.org");
	idle(f, old, 91);
	k = kinds(f, old);
	assert_string_equal(k, "created,message_stored");
	free(k);

	/* deleted: the log says so and stays, within the retention */
	out = reap_once(f, "--once", env);
	assert_int_equal(field(out, "deleted"), 1);
	free(out);
	k = kinds(f, old);
	assert_string_equal(k, "created,message_stored,deleted");
	free(k);
	out = reap_once(f, "--once", env);
	free(out);
	assert_int_equal(th_sql_longf(f->dsn, "SELECT count(*) FROM audit_log WHERE mailbox_id = "
	    "%lld", old), 3);

	/* append-only: no row changes; the rows of a living mailbox cannot go */
	assert_int_equal(th_sql_longf(f->dsn, "WITH u AS (UPDATE audit_log SET kind = 'x' "
	    "WHERE mailbox_id = %lld RETURNING 1) SELECT count(*) FROM u", old), -1);
	assert_int_equal(th_sql_longf(f->dsn, "WITH d AS (DELETE FROM audit_log "
	    "WHERE mailbox_id = %lld RETURNING 1) SELECT count(*) FROM d", young), -1);

	/* two days later (the clock moved by hand, the guard set aside for it) */
	assert_int_equal(th_sql_longf(f->dsn, "ALTER TABLE audit_log DISABLE TRIGGER "
	    "audit_log_append_only; UPDATE audit_log SET at = at - interval '2 days'; "
	    "ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only; SELECT %d", 1), 1);
	out = reap_once(f, "--once", env);
	assert_int_equal(field(out, "errors"), 0);
	free(out);
	assert_int_equal(th_sql_longf(f->dsn, "SELECT count(*) FROM audit_log WHERE mailbox_id = "
	    "%lld", old), 0);
	k = kinds(f, young);
	assert_string_equal(k, "created,message_stored");
	free(k);
}

/* send - a SendEvent to provision with one recipient; its outcome kind */
static int send(fx *f, const char *event, const char *rcpt)
{
	static const char mime[] = "From: Alice <alice@example.com>\r\n"
	    "To: <gone@example.org>\r\nSubject: hello\r\n"
	    "Message-ID: <reaper-test@example.com>\r\n\r\nhello\r\n";
	const char *rcpts[1] = { rcpt };
	const th_event ev = { .id = event, .sender = "alice@example.com", .rcpts = rcpts,
		.n = 1, .mime = mime, .len = sizeof(mime) - 1 };
	Postern__V1__SendResult *res;
	const char *why;

	/* PN_OK: the reply is a SendResult with one outcome (the typed call checks) */
	assert_int_equal(th_send_event(f->client, f->pool, &ev, &res, &why), PN_OK);
	return res->outcomes[0]->kind;
}

/* lookup - KeyLookup for one address (fills keylookup's kl: cache); its kind */
static int lookup(fx *f, const char *address)
{
	char *addrs[1] = { (char *)address };
	Postern__V1__KeyLookupResult *res;
	const char *why;

	/* fresh: skip a NONE cached before the mailbox existed; one result (checked) */
	assert_int_equal(pn_kl_lookup(f->client, f->pool, addrs, 1, 1, &res, &why), PN_OK);
	return res->results[0]->kind;
}

/*
 * the whole send path: provision creates the mailbox, keylookup caches
 * GUEST, the reaper deletes it everywhere, the next send creates a new one
 */
static void test_send_path(void **state)
{
	fx *f = *state;
	char b[5][600], addr[128];
	const char *kl_env[3], *pv_env[6];
	const char *env[] = { "POSTERN_REAPER_WARN_DAYS=0", NULL };
	long long id, id2;
	pid_t kl, pv;
	char *out, *tmp, kl_key[160];

	snprintf(addr, sizeof(addr), "gone.%d@example.org", (int)getpid());
	snprintf(kl_key, sizeof(kl_key), "kl:%s", addr);
	snprintf(b[0], sizeof(b[0]), "POSTERN_REDIS=%s", th_env("POSTERN_TEST_REDIS"));
	tmp = th_tmpdir("rpk");
	snprintf(b[1], sizeof(b[1]), "POSTERN_KEYRING_DIR=%s", tmp);
	free(tmp);
	kl_env[0] = b[0];
	kl_env[1] = b[1];
	kl_env[2] = NULL;
	kl = th_service_start("keylookup", f->broker.endpoint, kl_env, NULL);
	assert_true(kl > 0);
	tmp = th_tmpdir("rpg");
	snprintf(b[2], sizeof(b[2]), "POSTERN_GNUPGHOME=%s", tmp);
	free(tmp);
	pv_env[0] = b[0];
	pv_env[1] = b[2];
	pv_env[2] = "POSTERN_PROVISION_KEY="
	    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
	pv_env[3] = "POSTERN_PUBLIC_URL=https://postern.example.com/";
	pv_env[4] = "POSTERN_BUS_TIMEOUT_MS=20000";
	pv_env[5] = NULL;
	pv = th_service_start("provision", f->broker.endpoint, pv_env, NULL);
	assert_true(pv > 0);

	assert_int_equal(send(f, pn_pool_printf(f->pool, "ev-1-%d", (int)getpid()), addr),
	    POSTERN__V1__OUTCOME__KIND__MAILBOX_CREATED);
	id = th_sql_longf(f->dsn, "SELECT id FROM mailboxes WHERE address = '%s'", addr);
	assert_true(id > 0);
	assert_int_equal(lookup(f, addr), POSTERN__V1__KEY_RESULT__KIND__GUEST);
	assert_int_equal(redis_exists(f, kl_key), 1);
	/* provision listed its own state (the sealed event record) with the mailbox */
	char *prov_key = tracked_prov_key(f, id);
	assert_non_null(prov_key);
	assert_int_equal(redis_exists(f, prov_key), 1);
	redis_state(f, id, addr);                 /* a PIN counter and a session */
	idle(f, id, 91);

	out = reap_once(f, "--once", env);
	assert_int_equal(field(out, "deleted"), 1);
	assert_int_equal(field(out, "errors"), 0);
	free(out);
	assert_int_equal(rows_anywhere(f, id), 0);
	assert_int_equal(th_sql_long(f->dsn, "SELECT count(*) FROM mailboxes"), 0);
	assert_int_equal(th_sql_long(f->dsn, "SELECT count(*) FROM messages"), 0);
	assert_true(redis_gone(f, id, addr));
	assert_int_equal(redis_exists(f, prov_key), 0);
	free(prov_key);

	/* as never seen: keylookup says NONE, a new send creates a new mailbox */
	assert_int_equal(lookup(f, addr), POSTERN__V1__KEY_RESULT__KIND__NONE);
	assert_int_equal(pn_redis_cmdv(f->redis, NULL, "DEL", kl_key, (char *)NULL), PN_OK);
	assert_int_equal(send(f, pn_pool_printf(f->pool, "ev-2-%d", (int)getpid()), addr),
	    POSTERN__V1__OUTCOME__KIND__MAILBOX_CREATED);
	id2 = th_sql_longf(f->dsn, "SELECT id FROM mailboxes WHERE address = '%s'", addr);
	assert_true(id2 > id);
	assert_int_equal(th_stop(pv, 15000), 0);
	assert_int_equal(th_stop(kl, 15000), 0);
}

/* the warning at 76 days: once; again only after new activity and 76 more days */
static void test_warning(void **state)
{
	fx *f = *state;
	long long w, x;
	char *out, *mail = NULL;

	w = mailbox(f, "warn.me@example.org");
	x = mailbox(f, "not-yet@example.org");
	idle(f, w, 76.05);
	idle(f, x, 75.9);

	out = reap_once(f, "--once", NULL);
	assert_int_equal(field(out, "warned"), 1);
	assert_int_equal(field(out, "deleted"), 0);
	assert_int_equal(field(out, "errors"), 0);
	free(out);
	assert_int_equal(wait_warnings(f->sinkdir, 1, 15000), 1);
	assert_int_equal(th_sql_longf(f->dsn, "SELECT count(*) FROM mailboxes WHERE id = %lld "
	    "AND warned_at > last_activity", w), 1);
	assert_int_equal(th_sql_longf(f->dsn, "SELECT count(*) FROM mailboxes WHERE id = %lld "
	    "AND warned_at IS NULL", x), 1);
	mail = warning_text(f->sinkdir);
	assert_non_null(mail);
	assert_non_null(strstr(mail, "To: warn.me@example.org"));
	assert_non_null(strstr(mail, "Content-Language: en"));
	assert_non_null(strstr(mail, "From: Postern Test <postern@example.com>"));
	assert_non_null(strstr(mail, "Subject: Your Postern mailbox will be deleted on "));
	assert_non_null(strstr(mail, "Logging in keeps it"));
	assert_non_null(strstr(mail, "https://postern.example.com/login"));
	free(mail);
	/* the audit log: the warning noted once SMTP accepted it */
	for (int i = 0; i < 100 && th_sql_longf(f->dsn, "SELECT count(*) FROM audit_log WHERE "
	    "mailbox_id = %lld AND kind = 'warning_sent'", w) < 1; i++)
		usleep(100000);
	assert_int_equal(th_sql_longf(f->dsn, "SELECT count(*) FROM audit_log WHERE "
	    "mailbox_id = %lld AND kind = 'warning_sent'", w), 1);

	/* the next run: no second warning */
	out = reap_once(f, "--once", NULL);
	assert_int_equal(field(out, "warned"), 0);
	assert_int_equal(field(out, "errors"), 0);
	free(out);
	usleep(800000);      /* several outbox rounds */
	assert_int_equal(warnings(f->sinkdir), 1);
	assert_int_equal(th_sql_long(f->dsn, "SELECT count(*) FROM outbox "
	    "WHERE idem_key LIKE 'reaper-warn:%'"), 1);

	/* activity resets the period: 76 idle days later it warns again */
	assert_int_equal(touch(f, w), PN_OK);
	assert_int_equal(th_sql_longf(f->dsn, "SELECT count(*) FROM mailboxes WHERE id = %lld "
	    "AND warned_at < last_activity", w), 1);
	assert_int_equal(th_sql_longf(f->dsn, "UPDATE mailboxes SET "
	    "warned_at = warned_at - interval '100 days', "
	    "last_activity = now() - interval '77 days' WHERE id = %lld RETURNING 1", w), 1);
	out = reap_once(f, "--once", NULL);
	assert_int_equal(field(out, "warned"), 1);
	free(out);
	assert_int_equal(wait_warnings(f->sinkdir, 2, 15000), 2);
	usleep(500000);
	assert_int_equal(warnings(f->sinkdir), 2);
}

/* insert_idle - n mailboxes idle for days, in one statement, with Redis state */
static void insert_idle(fx *f, int n, int days, int with_redis)
{
	pn_pool *pool = pn_pool_new();

	assert_int_equal(th_sql_longf(f->dsn, "WITH i AS (INSERT INTO mailboxes (address, "
	    "public_key, secret_key, fingerprint, last_activity) "
	    "SELECT 'bulk' || g || '@example.net', '\\x00', '\\x00', 'F', "
	    "now() - interval '%d days' - g * interval '1 second' "
	    "FROM generate_series(1, %d) g RETURNING 1) SELECT count(*) FROM i", days, n), n);
	if (with_redis) {
		char *ids = th_sql(f->dsn, "SELECT string_agg(id::text || ':' || address, ' ') "
		    "FROM mailboxes");
		char *save = NULL;

		assert_non_null(ids);
		for (char *t = strtok_r(ids, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
			char *colon = strchr(t, ':');

			*colon = '\0';
			redis_state(f, atoll(t), colon + 1);
		}
		free(ids);
	}
	pn_pool_destroy(&pool);
}

/*
 * all_gone - no mailbox and no tombstone left, and no Redis key of any
 * bulk mailbox in [first, first + n)
 */
static void all_gone(fx *f, long long first, int n)
{
	assert_int_equal(th_sql_long(f->dsn, "SELECT count(*) FROM mailboxes"), 0);
	assert_int_equal(th_sql_long(f->dsn, "SELECT count(*) FROM mailbox_tombstones"), 0);
	for (int i = 0; i < n; i++)
		if (!redis_gone(f, first + i, NULL))
			fail_msg("Redis keys of mailbox %lld remain", first + i);
	/* and the kl: keys, by address */
	for (int i = 1; i <= n; i++) {
		char key[64];

		snprintf(key, sizeof(key), "kl:bulk%d@example.net", i);
		if (redis_exists(f, key) != 0)
			fail_msg("%s remains", key);
	}
}

/* two_reapers - two "--once" reapers started together, run to their end; their summaries */
static void two_reapers(fx *f, const char *const *env, char **oa_r, char **ob_r)
{
	pid_t a = reaper_spawn(f, "--once", NULL, env, 0);
	pid_t b = reaper_spawn(f, "--once", NULL, env, 0);

	assert_int_equal(reaper_wait(a, 90000), 0);
	assert_int_equal(reaper_wait(b, 90000), 0);
	*oa_r = reaper_out(a);
	*ob_r = reaper_out(b);
	print_message("reaper A: %s\nreaper B: %s\n", *oa_r, *ob_r);
}

/* two reapers started together over 2,000 mailboxes: each deleted once */
static void test_two_reapers(void **state)
{
	fx *f = *state;
	const char *env[] = { "POSTERN_REAPER_BATCH=50", "POSTERN_REAPER_WARN_DAYS=0", NULL };
	char *oa, *ob;
	long da, db;
	long long first;

	insert_idle(f, 2000, 100, 1);
	first = th_sql_long(f->dsn, "SELECT min(id) FROM mailboxes");
	two_reapers(f, env, &oa, &ob);
	da = field(oa, "deleted");
	db = field(ob, "deleted");
	assert_int_equal(da + db, 2000);
	assert_int_equal(field(oa, "errors"), 0);
	assert_int_equal(field(ob, "errors"), 0);
	free(oa);
	free(ob);
	all_gone(f, first, 2000);
}

/* SIGKILL mid-run, restart: the job gets finished; a left tombstone too */
static void test_killed(void **state)
{
	fx *f = *state;
	const char *env[] = { "POSTERN_REAPER_BATCH=20", "POSTERN_REAPER_WARN_DAYS=0",
	    "POSTERN_REAPER_CLAIM_S=1", NULL };
	long long first, deadline, orphan;
	long left, before;
	pid_t pid;
	char *out;

	insert_idle(f, 1000, 100, 1);
	first = th_sql_long(f->dsn, "SELECT min(id) FROM mailboxes");
	pid = reaper_spawn(f, "--once", NULL, env, 0);
	deadline = th_now_ms() + 30000;
	while ((left = th_sql_long(f->dsn, "SELECT count(*) FROM mailboxes")) > 700 &&
	    th_now_ms() < deadline && th_alive(pid))
		usleep(2000);
	assert_true(th_alive(pid));
	assert_int_equal(th_kill(pid, SIGKILL), 0);
	left = th_sql_long(f->dsn, "SELECT count(*) FROM mailboxes");
	print_message("killed with %ld mailboxes left, %ld tombstones\n", left,
	    th_sql_long(f->dsn, "SELECT count(*) FROM mailbox_tombstones"));
	assert_true(left > 0 && left < 1000);

	/* a crash between the PostgreSQL commit and Redis, made certain: a
	 * mailbox deleted in mailstore whose Redis keys still exist */
	orphan = th_sql_long(f->dsn, "SELECT min(id) FROM mailboxes");
	assert_int_equal(th_sql_longf(f->dsn, "WITH d AS (DELETE FROM mailboxes WHERE id = %lld "
	    "RETURNING id, address) INSERT INTO mailbox_tombstones (mailbox_id, address) "
	    "SELECT id, address FROM d RETURNING 1", orphan), 1);
	assert_false(redis_gone(f, orphan, NULL));
	before = th_sql_long(f->dsn, "SELECT count(*) FROM mailboxes");

	usleep(1100000);     /* the dead reaper's claims (1 s) run out */
	out = reap_once(f, "--once", env);
	assert_int_equal(field(out, "deleted"), before);
	assert_true(field(out, "finished") >= 1);
	assert_int_equal(field(out, "errors"), 0);
	free(out);
	all_gone(f, first, 1000);
}

/* --dry-run: reports the right counts and changes nothing */
static void test_dry_run(void **state)
{
	fx *f = *state;
	const char *env[] = { "POSTERN_REAPER_BATCH=7", NULL };
	long long a;
	char *out;

	insert_idle(f, 30, 95, 0);
	a = mailbox(f, "soon@example.org");
	for (int i = 0; i < 9; i++)
		mailbox(f, pn_pool_printf(f->pool, "soon%d@example.org", i));
	assert_int_equal(th_sql_longf(f->dsn, "WITH u AS (UPDATE mailboxes SET last_activity = "
	    "now() - interval '80 days' WHERE id >= %lld RETURNING 1) SELECT count(*) FROM u",
	    a), 10);
	mailbox(f, "fresh@example.org");
	redis_state(f, a, "soon@example.org");

	out = reap_once(f, "--dry-run", env);
	assert_int_equal(field(out, "would_delete"), 30);
	assert_int_equal(field(out, "would_warn"), 10);
	assert_int_equal(field(out, "errors"), 0);
	free(out);
	assert_int_equal(th_sql_long(f->dsn, "SELECT count(*) FROM mailboxes"), 41);
	assert_int_equal(th_sql_long(f->dsn, "SELECT count(*) FROM mailboxes WHERE "
	    "warned_at IS NOT NULL OR reap_claimed_until IS NOT NULL"), 0);
	assert_int_equal(th_sql_long(f->dsn, "SELECT count(*) FROM outbox "
	    "WHERE idem_key LIKE 'reaper-%'"), 0);
	assert_true(redis_intact(f, a, "soon@example.org"));
}

/* long-lived: registers, answers ping, reaps at start, metrics, SIGTERM exit 0 */
static void test_service(void **state)
{
	fx *f = *state;
	char b[4][300];
	const char *env[6];
	long long old;
	int health = 0;
	pid_t pid;
	ProtobufCMessage *out = NULL;
	Postern__V1__ReaperRequest req = POSTERN__V1__REAPER_REQUEST__INIT;
	Postern__V1__Ping ping = POSTERN__V1__PING__INIT;
	long long deadline;

	old = mailbox(f, "service@example.org");
	idle(f, old, 100);
	snprintf(b[0], sizeof(b[0]), "POSTERN_REDIS=%s", th_env("POSTERN_TEST_REDIS"));
	env[0] = b[0];
	env[1] = "POSTERN_REAPER_INTERVAL_S=3600";
	env[2] = "POSTERN_PUBLIC_URL=https://postern.example.com/";
	env[3] = NULL;
	pid = th_service_start("reaper", f->broker.endpoint, env, &health);
	assert_true(pid > 0);

	req.op_case = POSTERN__V1__REAPER_REQUEST__OP_PING;
	req.ping = &ping;
	assert_int_equal(pn_client_call(f->client, "reaper", &req.base,
	    &postern__v1__reaper_reply__descriptor, f->pool, &out), PN_OK);
	assert_string_equal(((Postern__V1__ReaperReply *)out)->pong->service, "reaper");

	deadline = th_now_ms() + 15000;
	while (rows_anywhere(f, old) != 0 && th_now_ms() < deadline)
		usleep(50000);
	assert_int_equal(rows_anywhere(f, old), 0);
	deadline = th_now_ms() + 5000;
	while (th_metric(health, "postern_reaper_deleted_total") != 1 && th_now_ms() < deadline)
		usleep(50000);
	assert_int_equal(th_metric(health, "postern_reaper_deleted_total"), 1);
	assert_int_equal(th_metric(health, "postern_reaper_errors_total"), 0);
	assert_true(th_metric(health, "postern_reaper_last_run_seconds") >= 0);
	assert_int_equal(th_stop(pid, 15000), 0);
}

/* mailstore's reaper operations on their own */
static void test_mailstore_ops(void **state)
{
	fx *f = *state;
	Req req = POSTERN__V1__MAILSTORE_REQUEST__INIT;
	Postern__V1__ListInactive li = POSTERN__V1__LIST_INACTIVE__INIT;
	Postern__V1__DeleteMailboxes d = POSTERN__V1__DELETE_MAILBOXES__INIT;
	Postern__V1__ListTombstones lt = POSTERN__V1__LIST_TOMBSTONES__INIT;
	Postern__V1__ForgetTombstones ft = POSTERN__V1__FORGET_TOMBSTONES__INIT;
	Postern__V1__QueueMail q = POSTERN__V1__QUEUE_MAIL__INIT;
	Postern__V1__OutMail m = POSTERN__V1__OUT_MAIL__INIT;
	char *rcpt[1] = { "w@example.org" };
	int64_t ids[1];
	Rep *rep = NULL;
	long long a, w;
	size_t n1;

	insert_idle(f, 10, 100, 0);
	/* two claims never overlap, a third finds nothing */
	li.inactive_before = (int64_t)time(NULL) - 90 * 86400;
	li.limit = 6;
	li.claim_seconds = 60;
	req.op_case = POSTERN__V1__MAILSTORE_REQUEST__OP_LIST_INACTIVE;
	req.list_inactive = &li;
	assert_int_equal(call(f, &req, &rep), PN_OK);
	n1 = rep->mailboxes->n_mailboxes;
	assert_int_equal(n1, 6);
	a = rep->mailboxes->mailboxes[0]->id;
	assert_int_equal(call(f, &req, &rep), PN_OK);
	assert_int_equal(rep->mailboxes->n_mailboxes, 4);
	for (size_t i = 0; i < 4; i++)
		assert_true(rep->mailboxes->mailboxes[i]->id != a);
	assert_int_equal(call(f, &req, &rep), PN_OK);
	assert_int_equal(rep->mailboxes->n_mailboxes, 0);
	/* a walk ignores claims and pages by id */
	li.claim_seconds = 0;
	li.walk = 1;
	li.after_id = 0;
	assert_int_equal(call(f, &req, &rep), PN_OK);
	assert_int_equal(rep->mailboxes->n_mailboxes, 6);
	for (size_t i = 1; i < 6; i++)
		assert_true(rep->mailboxes->mailboxes[i]->id > rep->mailboxes->mailboxes[i - 1]->id);
	li.after_id = rep->mailboxes->mailboxes[5]->id;
	assert_int_equal(call(f, &req, &rep), PN_OK);
	assert_int_equal(rep->mailboxes->n_mailboxes, 4);
	assert_true(rep->mailboxes->mailboxes[0]->id > li.after_id);
	li.claim_seconds = 5;
	assert_int_equal(call(f, &req, &rep), PN_ERR_PARAMS);

	/* take one: tombstone in the same transaction; a retry answers it again */
	d.take = 1;
	d.inactive_before = li.inactive_before;
	d.request_id = "test-run:1";
	req.op_case = POSTERN__V1__MAILSTORE_REQUEST__OP_DELETE_MAILBOXES;
	req.delete_mailboxes = &d;
	assert_int_equal(call(f, &req, &rep), PN_OK);
	assert_int_equal(rep->deleted->n_results, 1);
	a = rep->deleted->results[0]->mailbox_id;
	assert_int_equal(th_sql_longf(f->dsn, "SELECT count(*) FROM mailbox_tombstones WHERE "
	    "mailbox_id = %lld AND address LIKE 'bulk%%' AND deleted_by = 'test-run:1'", a), 1);
	assert_int_equal(call(f, &req, &rep), PN_OK);
	assert_int_equal(rep->deleted->n_results, 1);
	assert_int_equal(rep->deleted->results[0]->mailbox_id, a);
	assert_int_equal(th_sql_long(f->dsn, "SELECT count(*) FROM mailboxes"), 9);
	lt.limit = 10;
	lt.claim_seconds = 60;
	req.op_case = POSTERN__V1__MAILSTORE_REQUEST__OP_LIST_TOMBSTONES;
	req.list_tombstones = &lt;
	assert_int_equal(call(f, &req, &rep), PN_OK);
	assert_int_equal(rep->tombstones->n_tombstones, 1);
	assert_int_equal(rep->tombstones->tombstones[0]->mailbox_id, a);
	assert_int_equal(call(f, &req, &rep), PN_OK);           /* claimed */
	assert_int_equal(rep->tombstones->n_tombstones, 0);
	ids[0] = a;
	ft.mailbox_ids = ids;
	ft.n_mailbox_ids = 1;
	req.op_case = POSTERN__V1__MAILSTORE_REQUEST__OP_FORGET_TOMBSTONES;
	req.forget_tombstones = &ft;
	assert_int_equal(call(f, &req, NULL), PN_OK);
	assert_int_equal(call(f, &req, NULL), PN_OK);           /* idempotent */
	assert_int_equal(th_sql_long(f->dsn, "SELECT count(*) FROM mailbox_tombstones"), 0);

	/* the warning: queued once per period, re-checked, warned_at set */
	w = mailbox(f, "w@example.org");
	idle(f, w, 80);
	out_mail(f, &m, rcpt, pn_pool_printf(f->pool, "reaper-warn:%lld:1", w), "w");
	q.mailbox_id = w;
	q.mail = &m;
	q.warn_inactive_before = (int64_t)time(NULL) - 76 * 86400;
	req.op_case = POSTERN__V1__MAILSTORE_REQUEST__OP_QUEUE_MAIL;
	req.queue_mail = &q;
	assert_int_equal(call(f, &req, NULL), PN_OK);
	assert_int_equal(call(f, &req, NULL), PN_ERR_EXISTS);
	assert_int_equal(th_sql_longf(f->dsn, "SELECT count(*) FROM outbox WHERE mailbox_id = %lld "
	    "AND idem_key LIKE 'reaper-warn:%%'", w), 1);
	/* activity after the warning starts a new period (last_activity > warned_at) */
	assert_int_equal(touch(f, w), PN_OK);
	assert_int_equal(th_sql_longf(f->dsn, "SELECT count(*) FROM mailboxes WHERE id = %lld "
	    "AND last_activity > warned_at", w), 1);
	/* an active mailbox is not warned */
	m.idem_key = pn_pool_printf(f->pool, "reaper-warn:%lld:2", w);
	assert_int_equal(call(f, &req, NULL), PN_ERR_EXISTS);
	q.mailbox_id = 0;
	assert_int_equal(call(f, &req, NULL), PN_ERR_PARAMS);
}

/* message_id - the id of (address's mailbox, event) */
static long long message_id(fx *f, const char *event)
{
	return th_sql_longf(f->dsn, "SELECT id FROM messages WHERE event_id = '%s'", event);
}

/* expire_at - set a message's expires_at that many seconds from now (negative: past) */
static void expire_at(fx *f, const char *event, int secs)
{
	assert_int_equal(th_sql_longf(f->dsn, "UPDATE messages SET expires_at = now() + "
	    "interval '1 second' * %d WHERE event_id = '%s' RETURNING 1", secs, event), 1);
}

/* hexists - field of the Redis hash key exists */
static long hexists(fx *f, const char *key, long long field)
{
	char fs[32];
	redisReply *r = NULL;
	long n = -1;

	snprintf(fs, sizeof(fs), "%lld", field);
	if (pn_redis_cmdv(f->redis, &r, "HEXISTS", key, fs, (char *)NULL) == PN_OK &&
	    r->type == REDIS_REPLY_INTEGER)
		n = (long)r->integer;
	pn_redis_free(&r);
	return n;
}

/* folder_version - mbx:<id>:ver as it is now ("" if none), into out */
static void folder_version(fx *f, long long id, char out[64])
{
	char key[64];
	redisReply *r = NULL;

	snprintf(key, sizeof(key), "mbx:%lld:ver", id);
	out[0] = '\0';
	if (pn_redis_cmdv(f->redis, &r, "GET", key, (char *)NULL) == PN_OK &&
	    r->type == REDIS_REPLY_STRING)
		snprintf(out, 64, "%s", r->str);
	pn_redis_free(&r);
}

/*
 * expiry: the message past its expires_at is withdrawn by the next pass,
 * the web UI's copies of it go from Redis, the rest stays
 */
static void test_expiry(void **state)
{
	fx *f = *state;
	const char *env[] = { "POSTERN_REAPER_WARN_DAYS=0", NULL };
	char sess[64], ver[64], ver2[64];
	long long box, goes, keeps;
	Rep *rep = NULL;
	char *out;

	box = mailbox(f, "expiry@example.org");
	assert_int_equal(accept(f, "expiry@example.org", 0, "goes", &rep), PN_OK);
	assert_int_equal(accept(f, "expiry@example.org", 0, "keeps", &rep), PN_OK);
	goes = message_id(f, "goes");
	keeps = message_id(f, "keeps");
	expire_at(f, "goes", -1);
	expire_at(f, "keeps", 3600);
	/* a live session's envelope cache of both, and a folder version */
	snprintf(sess, sizeof(sess), PN_REDIS_ENV_PREFIX "test-%lld", box);
	assert_int_equal(pn_redis_cmdv(f->redis, NULL, "HSET", sess,
	    pn_pool_printf(f->pool, "%lld", goes), "sealed", pn_pool_printf(f->pool, "%lld", keeps),
	    "sealed", (char *)NULL), PN_OK);
	assert_int_equal(pn_redis_track(f->redis, box, sess), PN_OK);
	assert_int_equal(pn_redis_folders_changed(f->redis, box), PN_OK);
	folder_version(f, box, ver);

	/* dry: counted, nothing changed */
	out = reap_once(f, "--dry-run", env);
	assert_int_equal(field(out, "would_expire"), 1);
	free(out);
	assert_int_equal(th_sql_longf(f->dsn, "SELECT count(*) FROM messages WHERE withdrawn_at "
	    "IS NOT NULL"), 0);

	out = reap_once(f, "--once", env);
	assert_int_equal(field(out, "expired"), 1);
	assert_int_equal(field(out, "deleted"), 0);
	assert_int_equal(field(out, "errors"), 0);
	free(out);
	assert_int_equal(th_sql_longf(f->dsn, "SELECT count(*) FROM messages WHERE id = %lld AND "
	    "withdrawn = 'expired' AND withdrawn_at IS NOT NULL AND octet_length(body) = 0 AND "
	    "octet_length(envelope) = 0 AND size = 0", goes), 1);
	assert_int_equal(th_sql_longf(f->dsn, "SELECT count(*) FROM messages WHERE mailbox_id = "
	    "%lld AND withdrawn_at IS NULL AND octet_length(body) > 0", box), 2);
	/* the web UI's copies: the cached envelope is gone, the other stays; a new version */
	assert_int_equal(hexists(f, sess, goes), 0);
	assert_int_equal(hexists(f, sess, keeps), 1);
	folder_version(f, box, ver2);
	assert_true(ver2[0] != '\0');
	assert_string_not_equal(ver, ver2);

	/* mailstore: the list says when and why; the message cannot be read */
	{
		Req req = POSTERN__V1__MAILSTORE_REQUEST__INIT;
		Postern__V1__ListFolder l = POSTERN__V1__LIST_FOLDER__INIT;
		Postern__V1__GetMessage g = POSTERN__V1__GET_MESSAGE__INIT;
		int found = 0;

		l.mailbox_id = box;
		l.folder = POSTERN__V1__FOLDER__FOLDER_INBOX;
		req.op_case = POSTERN__V1__MAILSTORE_REQUEST__OP_LIST_FOLDER;
		req.list_folder = &l;
		assert_int_equal(call(f, &req, &rep), PN_OK);
		assert_int_equal(rep->page->unseen, 2);
		for (size_t i = 0; i < rep->page->n_messages; i++) {
			const Postern__V1__MessageSummary *m = rep->page->messages[i];
			if (m->id != goes)
				continue;
			found = 1;
			assert_int_equal(m->withdrawn, POSTERN__V1__WITHDRAWAL__WITHDRAWAL_EXPIRED);
			assert_true(m->withdrawn_at > 0);
			assert_int_equal(m->envelope.len, 0);
		}
		assert_true(found);
		g.mailbox_id = box;
		g.message_id = goes;
		req.op_case = POSTERN__V1__MAILSTORE_REQUEST__OP_GET_MESSAGE;
		req.get_message = &g;
		assert_int_equal(call(f, &req, NULL), PN_ERR_NOTFOUND);
	}

	/* the next pass finds nothing more */
	out = reap_once(f, "--once", env);
	assert_int_equal(field(out, "expired"), 0);
	assert_int_equal(field(out, "errors"), 0);
	free(out);
}

/*
 * the long-lived reaper: after its full pass at start, an expiry-only
 * pass every POSTERN_REAPER_EXPIRE_INTERVAL_S withdraws what expired since
 */
static void test_expiry_service(void **state)
{
	fx *f = *state;
	char b[300];
	const char *env[] = { b, "POSTERN_REAPER_INTERVAL_S=3600",
	    "POSTERN_REAPER_EXPIRE_INTERVAL_S=10", "POSTERN_PUBLIC_URL=https://postern.example.com/",
	    NULL };
	long long deadline, took;
	int health = 0;
	Rep *rep = NULL;
	pid_t pid;

	mailbox(f, "later@example.org");
	assert_int_equal(accept(f, "later@example.org", 0, "later", &rep), PN_OK);
	snprintf(b, sizeof(b), "POSTERN_REDIS=%s", th_env("POSTERN_TEST_REDIS"));
	pid = th_service_start("reaper", f->broker.endpoint, env, &health);
	assert_true(pid > 0);
	assert_int_equal(th_wait_metric(health, "postern_reaper_last_run_seconds", 0, 10000), 0);
	expire_at(f, "later", 1);
	took = th_now_ms();
	deadline = took + 25000;
	while (th_sql_longf(f->dsn, "SELECT count(*) FROM messages WHERE event_id = 'later' AND "
	    "withdrawn = 'expired'") != 1 && th_now_ms() < deadline)
		usleep(100000);
	took = th_now_ms() - took;
	print_message("expired %lld ms after its expiry was set (1 s ahead)\n", took);
	assert_int_equal(th_sql_longf(f->dsn, "SELECT count(*) FROM messages WHERE event_id = "
	    "'later' AND withdrawn = 'expired'"), 1);
	assert_true(took <= 12000);
	assert_int_equal(th_metric(health, "postern_reaper_errors_total"), 0);
	assert_int_equal(th_stop(pid, 15000), 0);
}

/*
 * two reapers started together over 1,000 expired messages, ten of them
 * revoked before: each of the others withdrawn once, the revoked ones left
 */
static void test_two_reapers_expiry(void **state)
{
	fx *f = *state;
	const char *env[] = { "POSTERN_REAPER_BATCH=20", "POSTERN_REAPER_WARN_DAYS=0", NULL };
	char *oa, *ob;

	insert_idle(f, 20, 0, 0);
	assert_int_equal(th_sql_long(f->dsn, "WITH i AS (INSERT INTO messages (mailbox_id, folder, "
	    "event_id, envelope, body, expires_at) SELECT (SELECT min(id) FROM mailboxes) + g % 20, "
	    "'inbox', 'exp-' || g, '\\x01', '\\x01', now() - interval '1 minute' "
	    "FROM generate_series(1, 1000) g RETURNING 1) SELECT count(*) FROM i"), 1000);
	/* ten of them revoked first (an operator's RevokeMessages): never expired as well */
	for (int i = 1; i <= 10; i++) {
		Req req = POSTERN__V1__MAILSTORE_REQUEST__INIT;
		Postern__V1__RevokeMessages rv = POSTERN__V1__REVOKE_MESSAGES__INIT;
		Rep *rep = NULL;

		rv.event_id = pn_pool_printf(f->pool, "exp-%d", i);
		req.op_case = POSTERN__V1__MAILSTORE_REQUEST__OP_REVOKE_MESSAGES;
		req.revoke_messages = &rv;
		assert_int_equal(call(f, &req, &rep), PN_OK);
		assert_int_equal(rep->withdrawn->n_messages, 1);
		assert_false(rep->withdrawn->messages[0]->already);
		assert_int_equal(call(f, &req, &rep), PN_OK);     /* again: answered, not redone */
		assert_true(rep->withdrawn->messages[0]->already);
	}
	two_reapers(f, env, &oa, &ob);
	assert_int_equal(field(oa, "expired") + field(ob, "expired"), 990);
	assert_int_equal(field(oa, "errors"), 0);
	assert_int_equal(field(ob, "errors"), 0);
	assert_int_equal(field(oa, "deleted") + field(ob, "deleted"), 0);
	free(oa);
	free(ob);
	assert_int_equal(th_sql_long(f->dsn, "SELECT count(*) FROM messages WHERE withdrawn = "
	    "'expired' AND octet_length(body) = 0"), 990);
	assert_int_equal(th_sql_long(f->dsn, "SELECT count(*) FROM messages WHERE withdrawn = "
	    "'revoked' AND octet_length(body) = 0"), 10);
	assert_int_equal(th_sql_long(f->dsn, "SELECT count(*) FROM mailboxes"), 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_mailstore_ops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lifetime, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_retention, setup, teardown),
		cmocka_unit_test_setup_teardown(test_send_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_warning, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dry_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_service, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_reapers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_killed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry_service, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_reapers_expiry, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
