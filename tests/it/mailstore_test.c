/*
 * mailstore_test.c - postern-mailstore end to end: the real binary against
 * a real PostgreSQL (a fresh database per case), the real broker over
 * CURVE, lib's bus client, and the SMTP sink for the outbox.
 *
 * Every case asserts what is really there afterwards: rows counted with
 * SQL, files in the sink's directory, the service's /metrics, and that the
 * process is still alive. Covered: concurrent migrations, every operation,
 * idempotency of Accept / StoreMessage / QueueMail, the EXISTS rules,
 * racing creators, paging, compare-and-set, deletion with its inactivity
 * re-check, outbox retry and exactly-once delivery (also with two
 * replicas), malformed and oversized requests, a body in parts
 * (AppendPart), synchronous_commit; the
 * audit operations' refusals (AuditNote's three kinds, QueryAudit,
 * PruneAudit, ClaimReceipts, CompleteReceipt) and what they accept.
 */
#include <dirent.h>
#include <pthread.h>
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
#include <libpq-fe.h>

#include "../harness/harness.h"
#include "postern/bus.h"
#include "postern/err.h"
#include "postern/mem.h"
#include "postern/pb.h"
#include "postern/v1/common.pb-c.h"
#include "postern/v1/mailstore.pb-c.h"

#define MAXMS 3

typedef Postern__V1__MailstoreRequest Req;
typedef Postern__V1__MailstoreReply Rep;

/* One case's world: broker, database, mailstores, client, maybe a sink. */
typedef struct fx {
	th_broker broker;
	char *dsn;
	pid_t ms[MAXMS];
	int health[MAXMS];
	int nms;
	pn_client *client;          /* the operator's: malformed requests */
	th_callers callers;         /* a client per role, picked by operation */
	pn_pool *pool;
	int smtp_port;
	char *sinkdir;
	pid_t sink;
	char env_buf[8][256];
	const char *env[16];
} fx;

/* ---- helpers ---- */

/* fx_env - mailstore's environment for this case plus extra entries */
static const char *const *fx_env(fx *f, const char *const *extra)
{
	int n = 0;

	snprintf(f->env_buf[0], sizeof(f->env_buf[0]), "POSTERN_PG_DSN=%s", f->dsn);
	snprintf(f->env_buf[1], sizeof(f->env_buf[1]), "POSTERN_SMTP_URL=smtp://127.0.0.1:%d",
	    f->smtp_port);
	f->env[n++] = f->env_buf[0];
	f->env[n++] = f->env_buf[1];
	f->env[n++] = "POSTERN_OUTBOX_INTERVAL_MS=100";
	f->env[n++] = "POSTERN_SMTP_TIMEOUT_MS=3000";
	for (int i = 0; extra != NULL && extra[i] != NULL && n < 15; i++)
		f->env[n++] = extra[i];
	f->env[n] = NULL;
	return f->env;
}

/* start_ms - one more mailstore replica, ready */
static void start_ms(fx *f, const char *const *extra)
{
	assert_true(f->nms < MAXMS);
	f->ms[f->nms] = th_service_start("mailstore", f->broker.endpoint,
	    fx_env(f, extra), &f->health[f->nms]);
	assert_true(f->ms[f->nms] > 0);
	f->nms++;
}

/* setup - broker, database, client; mailstores are started per case */
static int setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(th_broker_start(&f->broker, NULL), 0);
	f->dsn = th_createdb("mailstore");
	f->client = th_client(f->broker.endpoint, NULL, 5000, 2);
	assert_non_null(f->client);
	f->callers = (th_callers){ .endpoint = f->broker.endpoint, .timeout_ms = 5000,
		.retries = 2 };
	f->pool = pn_pool_new();
	f->smtp_port = th_port();
	f->sink = -1;
	*state = f;
	return 0;
}

/* teardown - stop what the case started; every mailstore must exit 0 */
static int teardown(void **state)
{
	fx *f = *state;

	pn_client_destroy(&f->client);
	th_callers_destroy(&f->callers);
	for (int i = 0; i < f->nms; i++)
		if (f->ms[i] > 0)
			assert_int_equal(th_stop(f->ms[i], 15000), 0);
	if (f->sink > 0)
		th_stop(f->sink, 5000);
	th_stop(f->broker.pid, 5000);
	pn_pool_destroy(&f->pool);
	free(f->dsn);
	free(f->sinkdir);
	free(f);
	return 0;
}

/* call - one request through the broker; the reply (also for errors) in *rep_r */
static pn_err call_with(pn_client *c, pn_pool *pool, Req *req, Rep **rep_r)
{
	ProtobufCMessage *out = NULL;
	pn_err err = pn_client_call(c, "mailstore", &req->base,
	    &postern__v1__mailstore_reply__descriptor, pool, &out);

	if (rep_r != NULL)
		*rep_r = (Rep *)out;
	return err;
}

/* CALLER - f's client of a role that may call mailstore operation OP */
#define CALLER(f, OP) th_caller(&(f)->callers, "mailstore", POSTERN__V1__MAILSTORE_REQUEST__OP_##OP)

static pn_err call(fx *f, Req *req, Rep **rep_r)
{
	return call_with(th_caller(&f->callers, "mailstore", req->op_case), f->pool, req, rep_r);
}

/* bin - binary data from a string (pool copy) */
static ProtobufCBinaryData bin(pn_pool *pool, const char *s)
{
	ProtobufCBinaryData b;

	b.len = strlen(s);
	b.data = pn_pool_memdup(pool, s, b.len);
	return b;
}

/* new_message - a NewMessage with a recognisable body */
static Postern__V1__NewMessage *new_message(pn_pool *pool, int folder,
    const char *event_id, const char *body)
{
	Postern__V1__NewMessage *m = pn_pool_alloc(pool, sizeof(*m));

	postern__v1__new_message__init(m);
	m->folder = folder;
	m->event_id = pn_pool_strdup(pool, event_id);
	m->size = (int64_t)strlen(body);
	m->envelope = bin(pool, "-----BEGIN PGP MESSAGE-----envelope");
	m->body = bin(pool, body);
	return m;
}

/* out_mail - an OutMail to rcpt with idempotency key idem */
static Postern__V1__OutMail *out_mail(pn_pool *pool, const char *idem,
    const char *rcpt)
{
	Postern__V1__OutMail *m = pn_pool_alloc(pool, sizeof(*m));
	char *data = pn_pool_printf(pool, "From: postern@example.com\r\nTo: %s\r\n"
	    "Subject: mail %s\r\n\r\nhello %s\r\n.dot line\r\n", rcpt, idem, idem);

	postern__v1__out_mail__init(m);
	m->idem_key = pn_pool_strdup(pool, idem);
	m->mail_from = "postern@example.com";
	m->n_rcpt_to = 1;
	m->rcpt_to = pn_pool_alloc(pool, sizeof(char *));
	m->rcpt_to[0] = pn_pool_strdup(pool, rcpt);
	m->data = bin(pool, data);
	return m;
}

/* new_mailbox - key material; seed (the creating event) makes the link hash unique */
static Postern__V1__Mailbox *new_mailbox(pn_pool *pool, const char *seed)
{
	Postern__V1__Mailbox *mb = pn_pool_alloc(pool, sizeof(*mb));

	postern__v1__mailbox__init(mb);
	mb->public_key = bin(pool, "-----BEGIN PGP PUBLIC KEY BLOCK-----pub");
	mb->secret_key = bin(pool, "-----BEGIN PGP PRIVATE KEY BLOCK-----sec");
	mb->fingerprint = "0123456789ABCDEF0123456789ABCDEF01234567";
	mb->link_hash = bin(pool, pn_pool_printf(pool, "linkhash-%-24s", seed));
	mb->created_by = "alice@example.com";
	return mb;
}

/* accept_req - an Accept request */
static Req *accept_req(pn_pool *pool, const char *address, int create,
    const char *event_id, const char *idem)
{
	Req *req = pn_pool_alloc(pool, sizeof(*req));
	Postern__V1__Accept *a = pn_pool_alloc(pool, sizeof(*a));

	postern__v1__mailstore_request__init(req);
	postern__v1__accept__init(a);
	a->address = pn_pool_strdup(pool, address);
	if (create)
		a->new_mailbox = new_mailbox(pool, event_id);
	a->message = new_message(pool, POSTERN__V1__FOLDER__FOLDER_INBOX, event_id,
	    "-----BEGIN PGP MESSAGE-----body");
	if (idem != NULL) {
		a->n_mail = 1;
		a->mail = pn_pool_alloc(pool, sizeof(*a->mail));
		a->mail[0] = out_mail(pool, idem, address);
	}
	req->op_case = POSTERN__V1__MAILSTORE_REQUEST__OP_ACCEPT;
	req->accept = a;
	return req;
}

/* do_accept - Accept; returns status, reply in *rep_r */
static pn_err do_accept(fx *f, const char *address, int create,
    const char *event_id, const char *idem, Rep **rep_r)
{
	return call(f, accept_req(f->pool, address, create, event_id, idem), rep_r);
}

/* rows_are - the number of rows in mailboxes, messages and outbox (-1: not checked) */
static void rows_are(fx *f, long mailboxes, long messages, long outbox)
{
	if (mailboxes >= 0)
		assert_int_equal(th_sql_long(f->dsn, "SELECT count(*) FROM mailboxes"), mailboxes);
	assert_int_equal(th_sql_long(f->dsn, "SELECT count(*) FROM messages"), messages);
	assert_int_equal(th_sql_long(f->dsn, "SELECT count(*) FROM outbox"), outbox);
}

/* make_mailbox - a mailbox with one INBOX message; returns its id */
static int64_t make_mailbox(fx *f, const char *address)
{
	Rep *rep = NULL;
	char event[128];

	snprintf(event, sizeof(event), "create-%s", address);
	assert_int_equal(do_accept(f, address, 1, event, NULL, &rep), PN_OK);
	assert_true(rep->accepted->created);
	return rep->accepted->mailbox->id;
}

/* store - StoreMessage; reply in *rep_r */
static pn_err store(fx *f, int64_t mailbox, int folder, const char *event_id,
    const char *body, const char *idem, Rep **rep_r)
{
	Req req = POSTERN__V1__MAILSTORE_REQUEST__INIT;
	Postern__V1__StoreMessage s = POSTERN__V1__STORE_MESSAGE__INIT;
	Postern__V1__OutMail *mail[1];

	s.mailbox_id = mailbox;
	s.message = new_message(f->pool, folder, event_id, body);
	if (idem != NULL) {
		mail[0] = out_mail(f->pool, idem, "alice@example.com");
		s.mail = mail;
		s.n_mail = 1;
	}
	req.op_case = POSTERN__V1__MAILSTORE_REQUEST__OP_STORE_MESSAGE;
	req.store_message = &s;
	return call(f, &req, rep_r);
}

/* append_part - AppendPart of data (len bytes) as part seq of upload id (16 bytes) */
static pn_err append_part(fx *f, const char *id, int seq, const char *data, size_t len)
{
	Req req = POSTERN__V1__MAILSTORE_REQUEST__INIT;
	Postern__V1__AppendPart a = POSTERN__V1__APPEND_PART__INIT;

	a.upload.data = (uint8_t *)id;
	a.upload.len = strlen(id);
	a.seq = seq;
	a.data.data = (uint8_t *)data;
	a.data.len = len;
	req.op_case = POSTERN__V1__MAILSTORE_REQUEST__OP_APPEND_PART;
	req.append_part = &a;
	return call(f, &req, NULL);
}

/* upload_accept - an Accept to address whose body is upload id: parts, len bytes */
static Req *upload_accept(fx *f, const char *address, const char *event_id, const char *id,
    int parts, long len)
{
	Req *req = accept_req(f->pool, address, 0, event_id, NULL);
	Postern__V1__NewMessage *m = req->accept->message;

	m->body.data = NULL;
	m->body.len = 0;
	m->body_upload = bin(f->pool, id);
	m->body_parts = parts;
	m->body_len = len;
	return req;
}

/* body_is - GetMessage of message id in mailbox mb answers the body want */
static void body_is(fx *f, int64_t mb, int64_t id, const char *want)
{
	Req req = POSTERN__V1__MAILSTORE_REQUEST__INIT;
	Postern__V1__GetMessage g = POSTERN__V1__GET_MESSAGE__INIT;
	Rep *rep = NULL;

	g.mailbox_id = mb;
	g.message_id = id;
	req.op_case = POSTERN__V1__MAILSTORE_REQUEST__OP_GET_MESSAGE;
	req.get_message = &g;
	assert_int_equal(call(f, &req, &rep), PN_OK);
	assert_int_equal(rep->message->body.len, strlen(want));
	assert_memory_equal(rep->message->body.data, want, strlen(want));
}

/* pending - parts of uploads no message has claimed */
static long pending(fx *f)
{
	return th_sql_long(f->dsn, "SELECT count(*) FROM body_parts WHERE message_id IS NULL");
}

/* list - ListFolder */
static pn_err list(fx *f, int64_t mailbox, int folder, int offset, int limit,
    Rep **rep_r)
{
	Req req = POSTERN__V1__MAILSTORE_REQUEST__INIT;
	Postern__V1__ListFolder l = POSTERN__V1__LIST_FOLDER__INIT;

	l.mailbox_id = mailbox;
	l.folder = folder;
	l.offset = offset;
	l.limit = limit;
	req.op_case = POSTERN__V1__MAILSTORE_REQUEST__OP_LIST_FOLDER;
	req.list_folder = &l;
	return call(f, &req, rep_r);
}

/* get_mailbox - by id, address or link hash */
static pn_err get_mailbox(fx *f, int64_t id, const char *address,
    const char *link_hash, Rep **rep_r)
{
	Req req = POSTERN__V1__MAILSTORE_REQUEST__INIT;
	Postern__V1__GetMailbox g = POSTERN__V1__GET_MAILBOX__INIT;

	g.id = id;
	if (address)
		g.address = (char *)address;
	if (link_hash)
		g.link_hash = bin(f->pool, link_hash);
	req.op_case = POSTERN__V1__MAILSTORE_REQUEST__OP_GET_MAILBOX;
	req.get_mailbox = &g;
	return call(f, &req, rep_r);
}

/* queue - QueueMail */
static pn_err queue(fx *f, int64_t mailbox, const char *idem, const char *rcpt)
{
	Req req = POSTERN__V1__MAILSTORE_REQUEST__INIT;
	Postern__V1__QueueMail q = POSTERN__V1__QUEUE_MAIL__INIT;

	q.mailbox_id = mailbox;
	q.mail = out_mail(f->pool, idem, rcpt);
	req.op_case = POSTERN__V1__MAILSTORE_REQUEST__OP_QUEUE_MAIL;
	req.queue_mail = &q;
	return call(f, &req, NULL);
}

/* ping - ping mailstore through the broker */
static pn_err ping(fx *f)
{
	Req req = POSTERN__V1__MAILSTORE_REQUEST__INIT;
	Postern__V1__Ping p = POSTERN__V1__PING__INIT;
	Rep *rep = NULL;
	pn_err err;

	req.op_case = POSTERN__V1__MAILSTORE_REQUEST__OP_PING;
	req.ping = &p;
	err = call(f, &req, &rep);
	if (err == PN_OK) {
		assert_int_equal(rep->result_case, POSTERN__V1__MAILSTORE_REPLY__RESULT_PONG);
		assert_string_equal(rep->pong->service, "mailstore");
	}
	return err;
}

/* spawn_ms - start a mailstore without waiting (for racing starts) */
static pid_t spawn_ms(fx *f, int *health_r)
{
	static char b[5][512];
	const char *certs = th_env("POSTERN_TEST_CERTS");
	const char *argv[] = { "postern-mailstore", NULL };
	const char *env[8];

	*health_r = th_port();
	snprintf(b[0], sizeof(b[0]), "POSTERN_BROKER=%s", f->broker.endpoint);
	snprintf(b[1], sizeof(b[1]), "POSTERN_CERT=%s/mailstore.cert", certs);
	snprintf(b[2], sizeof(b[2]), "POSTERN_BROKER_CERT=%s/broker.cert", certs);
	snprintf(b[3], sizeof(b[3]), "POSTERN_HEALTH_LISTEN=127.0.0.1:%d", *health_r);
	snprintf(b[4], sizeof(b[4]), "POSTERN_PG_DSN=%s", f->dsn);
	for (int i = 0; i < 5; i++)
		env[i] = b[i];
	env[5] = "POSTERN_LOG_LEVEL=debug";
	env[6] = NULL;
	return th_spawn(argv, env);
}

/* first_file - contents of one regular file in dir (caller frees), NULL if none */
static char *first_file(const char *dir)
{
	char path[1024];
	struct dirent *de;
	DIR *d = opendir(dir);
	char *text = NULL;

	if (d == NULL)
		return NULL;
	while (text == NULL && (de = readdir(d)) != NULL) {
		if (de->d_type != DT_REG)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		text = th_read_file(path, NULL);
	}
	closedir(d);
	return text;
}

/* ready_timeout - how long a start may take here */
static long ready_timeout(void)
{
	const char *v = getenv("POSTERN_TEST_READY_MS");

	return v && atol(v) > 0 ? atol(v) : 15000;
}

/* ---- migrations ---- */

/* two replicas start at the same moment on a fresh database */
/* migration_files - the .sql files in services/mailstore/migrations */
static long migration_files(void)
{
	DIR *d = opendir("services/mailstore/migrations");
	struct dirent *e;
	long n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		if (l > 4 && !strcmp(e->d_name + l - 4, ".sql"))
			n++;
	}
	closedir(d);
	return n;
}

static void test_migrations_concurrent(void **state)
{
	fx *f = *state;
	int h0, h1;

	/* both spawned before either can finish migrating */
	f->ms[0] = spawn_ms(f, &h0);
	f->ms[1] = spawn_ms(f, &h1);
	f->health[0] = h0;
	f->health[1] = h1;
	f->nms = 2;
	assert_int_equal(th_wait_http(h0, "/readyz", 200, ready_timeout()), 0);
	assert_int_equal(th_wait_http(h1, "/readyz", 200, ready_timeout()), 0);
	assert_true(th_alive(f->ms[0]) && th_alive(f->ms[1]));

	/* every migration of the tree, once (tests/run runs from the repository's top) */
	assert_int_equal(th_sql_long(f->dsn, "SELECT count(*) FROM schema_migrations"),
	    migration_files());
	assert_int_equal(th_sql_long(f->dsn, "SELECT count(*) FROM schema_migrations "
	    "WHERE version IN ('001_init', '002_reaper', '003_reap_order', '006_locale')"), 4);
	assert_int_equal(th_sql_long(f->dsn, "SELECT count(*) FROM information_schema.tables "
	    "WHERE table_schema = 'public' AND table_name IN ('mailboxes', 'messages', 'outbox')"), 3);
	/* and they work: each answers */
	for (int i = 0; i < 4; i++)
		assert_int_equal(ping(f), PN_OK);

	/* a third start on the migrated database applies nothing */
	start_ms(f, NULL);
	/* every migration of the tree, once (tests/run runs from the repository's top) */
	assert_int_equal(th_sql_long(f->dsn, "SELECT count(*) FROM schema_migrations"),
	    migration_files());
}

/* ---- operations ---- */

/* every operation once, with what it returns */
static void test_roundtrip(void **state)
{
	fx *f = *state;
	Rep *rep = NULL;
	int64_t mb, sent_id, in_id;

	start_ms(f, NULL);
	assert_int_equal(ping(f), PN_OK);

	/* Accept creates the mailbox; the reply has no secret key */
	assert_int_equal(do_accept(f, "Bob@Example.ORG", 1, "evt-1", "inv-1", &rep), PN_OK);
	assert_int_equal(rep->result_case, POSTERN__V1__MAILSTORE_REPLY__RESULT_ACCEPTED);
	assert_true(rep->accepted->created);
	assert_false(rep->accepted->duplicate);
	mb = rep->accepted->mailbox->id;
	in_id = rep->accepted->message_id;
	assert_true(mb > 0 && in_id > 0);
	assert_string_equal(rep->accepted->mailbox->address, "Bob@example.org");
	assert_int_equal(rep->accepted->mailbox->state, POSTERN__V1__MAILBOX_STATE__MAILBOX_PENDING);
	assert_int_equal(rep->accepted->mailbox->secret_key.len, 0);
	assert_true(rep->accepted->mailbox->created_at > 0);

	/* GetMailbox three ways, with the secret key */
	assert_int_equal(get_mailbox(f, mb, NULL, NULL, &rep), PN_OK);
	assert_int_equal(rep->result_case, POSTERN__V1__MAILSTORE_REPLY__RESULT_MAILBOX);
	assert_int_equal(rep->mailbox->id, mb);
	assert_memory_equal(rep->mailbox->secret_key.data, "-----BEGIN PGP PRIVATE KEY BLOCK-----sec",
	    rep->mailbox->secret_key.len);
	assert_string_equal(rep->mailbox->created_by, "alice@example.com");
	assert_int_equal(get_mailbox(f, 0, "Bob@EXAMPLE.org", NULL, &rep), PN_OK);
	assert_int_equal(rep->mailbox->id, mb);
	assert_int_equal(get_mailbox(f, 0, NULL,
	    pn_pool_printf(f->pool, "linkhash-%-24s", "evt-1"), &rep), PN_OK);
	assert_int_equal(rep->mailbox->id, mb);
	assert_int_equal(get_mailbox(f, 0, "bob@example.org", NULL, &rep), PN_ERR_NOTFOUND);
	assert_int_equal(get_mailbox(f, 0, NULL, NULL, &rep), PN_ERR_PARAMS);
	assert_int_equal(get_mailbox(f, 0, "no-at-sign", NULL, &rep), PN_ERR_PARAMS);

	/* StoreMessage into Sent with a mail to send */
	assert_int_equal(store(f, mb, POSTERN__V1__FOLDER__FOLDER_SENT, "reply-1",
	    "-----BEGIN PGP MESSAGE-----reply", "reply-1-mail", &rep), PN_OK);
	assert_int_equal(rep->result_case, POSTERN__V1__MAILSTORE_REPLY__RESULT_STORED);
	sent_id = rep->stored->message_id;
	assert_false(rep->stored->duplicate);
	assert_int_equal(store(f, 999999, POSTERN__V1__FOLDER__FOLDER_SENT, "reply-x",
	    "body", NULL, &rep), PN_ERR_NOTFOUND);

	/* ListFolder per folder */
	assert_int_equal(list(f, mb, POSTERN__V1__FOLDER__FOLDER_INBOX, 0, 0, &rep), PN_OK);
	assert_int_equal(rep->page->total, 1);
	assert_int_equal(rep->page->unseen, 1);
	assert_int_equal(rep->page->n_messages, 1);
	assert_int_equal(rep->page->messages[0]->id, in_id);
	assert_string_equal(rep->page->messages[0]->event_id, "evt-1");
	assert_int_equal(rep->page->messages[0]->folder, POSTERN__V1__FOLDER__FOLDER_INBOX);
	assert_true(rep->page->messages[0]->envelope.len > 0);
	assert_int_equal(list(f, mb, POSTERN__V1__FOLDER__FOLDER_SENT, 0, 0, &rep), PN_OK);
	assert_int_equal(rep->page->total, 1);
	assert_int_equal(rep->page->messages[0]->id, sent_id);

	/* GetMessage returns the body byte for byte */
	{
		Req req = POSTERN__V1__MAILSTORE_REQUEST__INIT;
		Postern__V1__GetMessage g = POSTERN__V1__GET_MESSAGE__INIT;

		g.mailbox_id = mb;
		g.message_id = sent_id;
		req.op_case = POSTERN__V1__MAILSTORE_REQUEST__OP_GET_MESSAGE;
		req.get_message = &g;
		assert_int_equal(call(f, &req, &rep), PN_OK);
		assert_int_equal(rep->result_case, POSTERN__V1__MAILSTORE_REPLY__RESULT_MESSAGE);
		assert_int_equal(rep->message->body.len, strlen("-----BEGIN PGP MESSAGE-----reply"));
		assert_memory_equal(rep->message->body.data, "-----BEGIN PGP MESSAGE-----reply",
		    rep->message->body.len);
		assert_string_equal(rep->message->summary->event_id, "reply-1");
		/* another mailbox's id does not reach it */
		g.mailbox_id = mb + 1000;
		assert_int_equal(call(f, &req, &rep), PN_ERR_NOTFOUND);
	}

	/* MarkSeen, then the unseen count drops */
	{
		Req req = POSTERN__V1__MAILSTORE_REQUEST__INIT;
		Postern__V1__MarkSeen m = POSTERN__V1__MARK_SEEN__INIT;

		m.mailbox_id = mb;
		m.message_id = in_id;
		m.seen = 1;
		req.op_case = POSTERN__V1__MAILSTORE_REQUEST__OP_MARK_SEEN;
		req.mark_seen = &m;
		assert_int_equal(call(f, &req, &rep), PN_OK);
		assert_int_equal(list(f, mb, POSTERN__V1__FOLDER__FOLDER_INBOX, 0, 0, &rep), PN_OK);
		assert_int_equal(rep->page->unseen, 0);
		assert_true(rep->page->messages[0]->seen);
		m.message_id = 0;
		assert_int_equal(call(f, &req, &rep), PN_ERR_PARAMS);
	}

	/* Touch */
	{
		Req req = POSTERN__V1__MAILSTORE_REQUEST__INIT;
		Postern__V1__Touch t = POSTERN__V1__TOUCH__INIT;

		assert_int_equal(th_sql_longf(f->dsn, "UPDATE mailboxes SET last_activity = "
		    "now() - interval '10 days' WHERE id = %lld RETURNING 1", (long long)mb), 1);
		t.mailbox_id = mb;
		req.op_case = POSTERN__V1__MAILSTORE_REQUEST__OP_TOUCH;
		req.touch = &t;
		assert_int_equal(call(f, &req, &rep), PN_OK);
		assert_int_equal(th_sql_longf(f->dsn, "SELECT count(*) FROM mailboxes WHERE id = %lld "
		    "AND last_activity > now() - interval '1 minute'", (long long)mb), 1);
		t.mailbox_id = mb + 1000;
		assert_int_equal(call(f, &req, &rep), PN_ERR_NOTFOUND);
	}

	/* ListInactive (the reaper's view) */
	{
		Req req = POSTERN__V1__MAILSTORE_REQUEST__INIT;
		Postern__V1__ListInactive l = POSTERN__V1__LIST_INACTIVE__INIT;

		l.inactive_before = (int64_t)time(NULL) + 60;
		req.op_case = POSTERN__V1__MAILSTORE_REQUEST__OP_LIST_INACTIVE;
		req.list_inactive = &l;
		assert_int_equal(call(f, &req, &rep), PN_OK);
		assert_int_equal(rep->result_case, POSTERN__V1__MAILSTORE_REPLY__RESULT_MAILBOXES);
		assert_int_equal(rep->mailboxes->n_mailboxes, 1);
		assert_int_equal(rep->mailboxes->mailboxes[0]->secret_key.len, 0);
		l.inactive_before = (int64_t)time(NULL) - 3600;
		assert_int_equal(call(f, &req, &rep), PN_OK);
		assert_int_equal(rep->mailboxes->n_mailboxes, 0);
	}

	/* QueueMail, idempotent by key, with or without mailbox */
	assert_int_equal(queue(f, mb, "q-1", "carol@example.net"), PN_OK);
	assert_int_equal(queue(f, mb, "q-1", "carol@example.net"), PN_OK);
	assert_int_equal(queue(f, 0, "q-2", "dave@example.net"), PN_OK);
	assert_int_equal(queue(f, 424242, "q-3", "dave@example.net"), PN_ERR_NOTFOUND);
	assert_int_equal(th_sql_long(f->dsn, "SELECT count(*) FROM outbox WHERE idem_key IN ('q-1', 'q-2')"), 2);
	assert_int_equal(th_sql_long(f->dsn, "SELECT count(*) FROM outbox"), 4);
	assert_int_equal(th_sql_long(f->dsn, "SELECT count(*) FROM outbox WHERE idem_key = 'q-2' "
	    "AND mailbox_id IS NULL AND rcpt_to = ARRAY['dave@example.net']"), 1);

	/* DeleteMessage, then it is gone */
	{
		Req req = POSTERN__V1__MAILSTORE_REQUEST__INIT;
		Postern__V1__DeleteMessage d = POSTERN__V1__DELETE_MESSAGE__INIT;

		d.mailbox_id = mb;
		d.message_id = sent_id;
		req.op_case = POSTERN__V1__MAILSTORE_REQUEST__OP_DELETE_MESSAGE;
		req.delete_message = &d;
		assert_int_equal(call(f, &req, &rep), PN_OK);
		assert_int_equal(call(f, &req, &rep), PN_ERR_NOTFOUND);
		assert_int_equal(list(f, mb, POSTERN__V1__FOLDER__FOLDER_SENT, 0, 0, &rep), PN_OK);
		assert_int_equal(rep->page->total, 0);
	}
	assert_int_equal(list(f, 777777, POSTERN__V1__FOLDER__FOLDER_INBOX, 0, 0, &rep),
	    PN_ERR_NOTFOUND);
	assert_true(th_alive(f->ms[0]));
}

/* the same StoreMessage three times: one row, one id, one outbox row */
static void test_store_idempotent(void **state)
{
	fx *f = *state;
	Rep *rep = NULL;
	int64_t mb, first = 0;

	start_ms(f, NULL);
	mb = make_mailbox(f, "erin@example.org");
	for (int i = 0; i < 3; i++) {
		assert_int_equal(store(f, mb, POSTERN__V1__FOLDER__FOLDER_INBOX, "evt-store",
		    "-----BEGIN PGP MESSAGE-----same", "notify-evt-store", &rep), PN_OK);
		if (i == 0)
			first = rep->stored->message_id;
		assert_int_equal(rep->stored->message_id, first);
		assert_int_equal(rep->stored->duplicate, i > 0);
	}
	assert_int_equal(th_sql_longf(f->dsn, "SELECT count(*) FROM messages WHERE mailbox_id = %lld "
	    "AND event_id = 'evt-store'", (long long)mb), 1);
	assert_int_equal(th_sql_long(f->dsn, "SELECT count(*) FROM outbox "
	    "WHERE idem_key = 'notify-evt-store'"), 1);
	/* the same event id for the other folder is a caller bug, not a retry */
	assert_int_equal(store(f, mb, POSTERN__V1__FOLDER__FOLDER_SENT, "evt-store",
	    "-----BEGIN PGP MESSAGE-----same", NULL, &rep), PN_ERR_EXISTS);
	assert_int_equal(th_sql_longf(f->dsn, "SELECT count(*) FROM messages WHERE mailbox_id = %lld",
	    (long long)mb), 2);
	/* bad input never reaches the database */
	assert_int_equal(store(f, mb, POSTERN__V1__FOLDER__FOLDER_UNSPECIFIED, "evt-x",
	    "body", NULL, &rep), PN_ERR_PARAMS);
	assert_int_equal(store(f, 0, POSTERN__V1__FOLDER__FOLDER_INBOX, "evt-x",
	    "body", NULL, &rep), PN_ERR_PARAMS);
	assert_int_equal(store(f, mb, POSTERN__V1__FOLDER__FOLDER_INBOX, "evt x",
	    "body", NULL, &rep), PN_ERR_PARAMS);
	assert_non_null(rep);
	assert_true(strlen(rep->error) > 0);
}

/* Accept: create in one go, retry is a duplicate, a second creator gets EXISTS */
static void test_accept_rules(void **state)
{
	fx *f = *state;
	Rep *rep = NULL;
	int64_t mb, msg;

	start_ms(f, NULL);
	assert_int_equal(do_accept(f, "frank@example.org", 1, "evt-a", "inv-a", &rep), PN_OK);
	assert_true(rep->accepted->created);
	mb = rep->accepted->mailbox->id;
	msg = rep->accepted->message_id;
	rows_are(f, 1, 1, 1);
	assert_int_equal(th_sql_longf(f->dsn, "SELECT count(*) FROM outbox WHERE mailbox_id = %lld "
	    "AND idem_key = 'inv-a' AND state IN ('queued', 'sending')", (long long)mb), 1);

	/* the retry: first result again, nothing written */
	assert_int_equal(do_accept(f, "frank@example.org", 1, "evt-a", "inv-a", &rep), PN_OK);
	assert_true(rep->accepted->duplicate);
	assert_true(rep->accepted->created);
	assert_int_equal(rep->accepted->message_id, msg);
	assert_int_equal(rep->accepted->mailbox->id, mb);
	rows_are(f, 1, 1, 1);

	/* another event wanting to create the same mailbox: EXISTS, with it */
	assert_int_equal(do_accept(f, "frank@example.org", 1, "evt-b", "inv-b", &rep),
	    PN_ERR_EXISTS);
	assert_non_null(rep);
	assert_int_equal(rep->result_case, POSTERN__V1__MAILSTORE_REPLY__RESULT_ACCEPTED);
	assert_int_equal(rep->accepted->mailbox->id, mb);
	assert_int_equal(rep->accepted->mailbox->secret_key.len, 0);
	rows_are(f, -1, 1, 1);

	/* the caller re-encrypts and retries without new_mailbox */
	assert_int_equal(th_sql_longf(f->dsn, "UPDATE mailboxes SET last_activity = "
	    "now() - interval '5 days' WHERE id = %lld RETURNING 1", (long long)mb), 1);
	assert_int_equal(do_accept(f, "frank@example.org", 0, "evt-b", "inv-b", &rep), PN_OK);
	assert_false(rep->accepted->created);
	assert_false(rep->accepted->duplicate);
	rows_are(f, -1, 2, 2);
	/* new mail counts as activity */
	assert_int_equal(th_sql_longf(f->dsn, "SELECT count(*) FROM mailboxes WHERE id = %lld "
	    "AND last_activity > now() - interval '1 minute'", (long long)mb), 1);
	/* its retry is a duplicate that did not create */
	assert_int_equal(do_accept(f, "frank@example.org", 0, "evt-b", "inv-b", &rep), PN_OK);
	assert_true(rep->accepted->duplicate);
	assert_false(rep->accepted->created);
	/* the message and its notification noted once each, the retry noted nothing */
	assert_int_equal(th_sql_long(f->dsn, "SELECT count(*) FROM audit_log WHERE event_id = 'evt-b' "
	    "AND kind = 'message_stored'"), 1);
	assert_int_equal(th_sql_long(f->dsn, "SELECT count(*) FROM audit_log WHERE event_id = 'evt-b' "
	    "AND kind = 'notification_queued'"), 1);
	/* the notification queued as what it is, about its event (postern_accept's row) */
	assert_int_equal(th_sql_longf(f->dsn, "SELECT count(*) FROM outbox WHERE mailbox_id = %lld "
	    "AND idem_key = 'inv-b' AND kind = 'notification' AND event_id = 'evt-b' "
	    "AND rcpt_to = ARRAY['frank@example.org'] AND mail_from = 'postern@example.com' "
	    "AND length(data) > 0", (long long)mb), 1);
	/* new mail without a notification: the message and its note, no outbox row */
	assert_int_equal(do_accept(f, "frank@example.org", 0, "evt-e", NULL, &rep), PN_OK);
	assert_false(rep->accepted->duplicate);
	assert_int_equal(rep->accepted->mailbox->id, mb);
	assert_true(rep->accepted->message_id > 0);
	rows_are(f, -1, 3, 2);
	assert_int_equal(th_sql_long(f->dsn, "SELECT count(*) FROM audit_log WHERE event_id = 'evt-e' "
	    "AND kind = 'message_stored'"), 1);
	assert_int_equal(th_sql_long(f->dsn, "SELECT count(*) FROM audit_log WHERE event_id = 'evt-e' "
	    "AND kind = 'notification_queued'"), 0);

	/* no mailbox and none to create */
	assert_int_equal(do_accept(f, "nobody@example.org", 0, "evt-c", NULL, &rep),
	    PN_ERR_NOTFOUND);
	/* invalid address */
	assert_int_equal(do_accept(f, "frank@exa mple.org", 1, "evt-d", NULL, &rep),
	    PN_ERR_PARAMS);
	assert_int_equal(th_sql_long(f->dsn, "SELECT count(*) FROM mailboxes"), 1);
}

/* racing creators: per address exactly one creates, the other gets EXISTS */
struct racer {
	fx *f;
	pthread_barrier_t *barrier;
	int id;
	int created, exists, other;
};

#define RACE_ADDRESSES 15

static void *race_main(void *arg)
{
	struct racer *r = arg;
	pn_client *c = th_client(r->f->broker.endpoint,
	    th_cert_for("mailstore", POSTERN__V1__MAILSTORE_REQUEST__OP_ACCEPT), 10000, 1);
	char address[64], event[64];

	for (int i = 0; i < RACE_ADDRESSES; i++) {
		pn_pool *pool = pn_pool_new();
		Rep *rep = NULL;
		pn_err err;

		snprintf(address, sizeof(address), "race%d@example.org", i);
		snprintf(event, sizeof(event), "race-%d-by-%d", i, r->id);
		pthread_barrier_wait(r->barrier);
		err = call_with(c, pool, accept_req(pool, address, 1, event, NULL), &rep);
		if (err == PN_OK && rep->accepted->created)
			r->created++;
		else if (err == PN_ERR_EXISTS)
			r->exists++;
		else
			r->other++;
		pn_pool_destroy(&pool);
	}
	pn_client_destroy(&c);
	return NULL;
}

static void test_accept_race(void **state)
{
	fx *f = *state;
	pthread_barrier_t barrier;
	struct racer r[2];
	pthread_t t[2];

	start_ms(f, NULL);
	start_ms(f, NULL);
	pthread_barrier_init(&barrier, NULL, 2);
	for (int i = 0; i < 2; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].f = f;
		r[i].barrier = &barrier;
		r[i].id = i;
		assert_int_equal(pthread_create(&t[i], NULL, race_main, &r[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&barrier);
	assert_int_equal(r[0].other + r[1].other, 0);
	assert_int_equal(r[0].created + r[1].created, RACE_ADDRESSES);
	assert_int_equal(r[0].exists + r[1].exists, RACE_ADDRESSES);
	assert_int_equal(th_sql_long(f->dsn, "SELECT count(*) FROM mailboxes"), RACE_ADDRESSES);
	assert_int_equal(th_sql_long(f->dsn, "SELECT count(*) FROM messages"), RACE_ADDRESSES);
	assert_true(th_alive(f->ms[0]) && th_alive(f->ms[1]));
}

/* ListFolder: newest first, pages, counts, limits */
static void test_list_paging(void **state)
{
	fx *f = *state;
	Rep *rep = NULL;
	int64_t mb, ids[8];
	char event[32];

	start_ms(f, NULL);
	mb = make_mailbox(f, "grace@example.org");
	assert_int_equal(list(f, mb, POSTERN__V1__FOLDER__FOLDER_INBOX, 0, 0, &rep), PN_OK);
	ids[0] = rep->page->messages[0]->id;
	for (int i = 1; i < 8; i++) {
		snprintf(event, sizeof(event), "page-%d", i);
		assert_int_equal(store(f, mb, POSTERN__V1__FOLDER__FOLDER_INBOX, event,
		    "-----BEGIN PGP MESSAGE-----p", NULL, &rep), PN_OK);
		ids[i] = rep->stored->message_id;
	}
	/* 8 messages: pages of 3, newest (last stored) first */
	for (int page = 0; page < 3; page++) {
		assert_int_equal(list(f, mb, POSTERN__V1__FOLDER__FOLDER_INBOX, page * 3, 3, &rep),
		    PN_OK);
		assert_int_equal(rep->page->total, 8);
		assert_int_equal(rep->page->unseen, 8);
		assert_int_equal(rep->page->n_messages, page < 2 ? 3 : 2);
		for (size_t i = 0; i < rep->page->n_messages; i++)
			assert_int_equal(rep->page->messages[i]->id, ids[7 - (page * 3 + (int)i)]);
	}
	assert_int_equal(list(f, mb, POSTERN__V1__FOLDER__FOLDER_INBOX, 100, 3, &rep), PN_OK);
	assert_int_equal(rep->page->n_messages, 0);
	assert_int_equal(rep->page->total, 8);
	assert_int_equal(list(f, mb, POSTERN__V1__FOLDER__FOLDER_SENT, 0, 0, &rep), PN_OK);
	assert_int_equal(rep->page->total, 0);
	assert_int_equal(list(f, mb, POSTERN__V1__FOLDER__FOLDER_INBOX, 0, 201, &rep), PN_ERR_PARAMS);
	assert_int_equal(list(f, mb, POSTERN__V1__FOLDER__FOLDER_INBOX, -1, 10, &rep), PN_ERR_PARAMS);
	assert_int_equal(list(f, mb, POSTERN__V1__FOLDER__FOLDER_UNSPECIFIED, 0, 10, &rep),
	    PN_ERR_PARAMS);
	assert_int_equal(list(f, mb, POSTERN__V1__FOLDER__FOLDER_INBOX, 0, 200, &rep), PN_OK);
	assert_int_equal(rep->page->n_messages, 8);
}

/* UpdateMailbox is a compare-and-set on state */
static void test_update_cas(void **state)
{
	fx *f = *state;
	Req req = POSTERN__V1__MAILSTORE_REQUEST__INIT;
	Postern__V1__UpdateMailbox u = POSTERN__V1__UPDATE_MAILBOX__INIT;
	Rep *rep = NULL;
	int64_t mb;

	start_ms(f, NULL);
	mb = make_mailbox(f, "heidi@example.org");
	req.op_case = POSTERN__V1__MAILSTORE_REQUEST__OP_UPDATE_MAILBOX;
	req.update_mailbox = &u;

	/* pending -> active with a re-protected key, forgetting the link */
	u.mailbox_id = mb;
	u.expected_state = POSTERN__V1__MAILBOX_STATE__MAILBOX_PENDING;
	u.new_state = POSTERN__V1__MAILBOX_STATE__MAILBOX_ACTIVE;
	u.secret_key = bin(f->pool, "-----BEGIN PGP PRIVATE KEY BLOCK-----password");
	u.clear_link = 1;
	assert_int_equal(call(f, &req, &rep), PN_OK);
	assert_int_equal(rep->mailbox->state, POSTERN__V1__MAILBOX_STATE__MAILBOX_ACTIVE);
	assert_int_equal(rep->mailbox->link_hash.len, 0);

	/* the same CAS again loses: EXISTS, and the reply shows the state now */
	assert_int_equal(call(f, &req, &rep), PN_ERR_EXISTS);
	assert_int_equal(rep->result_case, POSTERN__V1__MAILSTORE_REPLY__RESULT_MAILBOX);
	assert_int_equal(rep->mailbox->state, POSTERN__V1__MAILBOX_STATE__MAILBOX_ACTIVE);

	assert_int_equal(get_mailbox(f, mb, NULL, NULL, &rep), PN_OK);
	assert_memory_equal(rep->mailbox->secret_key.data,
	    "-----BEGIN PGP PRIVATE KEY BLOCK-----password", rep->mailbox->secret_key.len);
	assert_int_equal(get_mailbox(f, 0, NULL,
	    pn_pool_printf(f->pool, "linkhash-%-24s", "create-heidi@example.org"), &rep), PN_ERR_NOTFOUND);

	/* active -> locked keeping the key */
	memset(&u.secret_key, 0, sizeof(u.secret_key));
	u.clear_link = 0;
	u.expected_state = POSTERN__V1__MAILBOX_STATE__MAILBOX_ACTIVE;
	u.new_state = POSTERN__V1__MAILBOX_STATE__MAILBOX_LOCKED;
	assert_int_equal(call(f, &req, &rep), PN_OK);
	assert_int_equal(th_sql_longf(f->dsn, "SELECT count(*) FROM mailboxes WHERE id = %lld AND "
	    "state = 'locked' AND secret_key = convert_to('-----BEGIN PGP PRIVATE KEY BLOCK-----password', 'UTF8')",
	    (long long)mb), 1);

	u.mailbox_id = mb + 1000;
	assert_int_equal(call(f, &req, &rep), PN_ERR_NOTFOUND);
	u.mailbox_id = mb;
	u.expected_state = POSTERN__V1__MAILBOX_STATE__MAILBOX_STATE_UNSPECIFIED;
	assert_int_equal(call(f, &req, &rep), PN_ERR_PARAMS);
}

/* hold_row - another session locks mailbox id (FOR UPDATE) in an open transaction */
static PGconn *hold_row(fx *f, int64_t id)
{
	PGconn *c = PQconnectdb(f->dsn);
	PGresult *res;
	char sql[128];

	assert_int_equal(PQstatus(c), CONNECTION_OK);
	PQclear(PQexec(c, "BEGIN"));
	snprintf(sql, sizeof(sql), "SELECT 1 FROM mailboxes WHERE id = %lld FOR UPDATE",
	    (long long)id);
	res = PQexec(c, sql);
	assert_int_equal(PQntuples(res), 1);
	PQclear(res);
	return c;
}

/* activity_commit - the holder makes mailbox id active and commits */
static void activity_commit(PGconn *c, int64_t id)
{
	char sql[128];

	snprintf(sql, sizeof(sql), "UPDATE mailboxes SET last_activity = now() WHERE id = %lld",
	    (long long)id);
	PQclear(PQexec(c, sql));
	PQclear(PQexec(c, "COMMIT"));
	PQfinish(c);
}

/* take_batch - DeleteMailboxes{take}; the reply in *rep_r */
static pn_err take_batch(fx *f, int take, int64_t before, const char *rid, Rep **rep_r)
{
	Req req = POSTERN__V1__MAILSTORE_REQUEST__INIT;
	Postern__V1__DeleteMailboxes d = POSTERN__V1__DELETE_MAILBOXES__INIT;

	d.take = take;
	d.inactive_before = before;
	d.request_id = (char *)rid;
	req.op_case = POSTERN__V1__MAILSTORE_REQUEST__OP_DELETE_MAILBOXES;
	req.delete_mailboxes = &d;
	return call(f, &req, rep_r);
}

/* taken - the ids of a take reply, all OK with an address, in *ids (max) */
static size_t taken(const Rep *rep, int64_t *ids, size_t max)
{
	assert_int_equal(rep->result_case, POSTERN__V1__MAILSTORE_REPLY__RESULT_DELETED);
	assert_true(rep->deleted->n_results <= max);
	for (size_t i = 0; i < rep->deleted->n_results; i++) {
		assert_int_equal(rep->deleted->results[i]->status, POSTERN__V1__STATUS__STATUS_OK);
		assert_non_null(rep->deleted->results[i]->address);
		assert_true(strchr(rep->deleted->results[i]->address, '@') != NULL);
		ids[i] = rep->deleted->results[i]->mailbox_id;
	}
	return rep->deleted->n_results;
}

/*
 * DeleteMailboxes with take: mailstore picks the longest-idle mailboxes
 * itself, oldest first, skips a row another transaction holds and one
 * that is active, leaves tombstones; a retry of the same request answers
 * the same mailboxes and deletes no more; nothing left: no results
 */
static void test_take_idle(void **state)
{
	fx *f = *state;
	Rep *rep = NULL;
	int64_t oldest, older, old, live, held, got[8];
	int64_t before = (int64_t)time(NULL) - 90 * 86400;
	PGconn *lock;

	start_ms(f, NULL);
	assert_int_equal(do_accept(f, "take1@example.org", 1, "t-1", "t-inv-1", &rep), PN_OK);
	oldest = rep->accepted->mailbox->id;
	assert_int_equal(store(f, oldest, POSTERN__V1__FOLDER__FOLDER_SENT, "t-2",
	    "-----BEGIN PGP MESSAGE-----r", "t-reply", &rep), PN_OK);
	assert_int_equal(th_sql_longf(f->dsn, "SELECT count(*) FROM messages WHERE mailbox_id = %lld",
	    (long long)oldest), 2);    /* the first mail and the reply */
	assert_int_equal(th_sql_longf(f->dsn, "SELECT count(*) FROM outbox WHERE mailbox_id = %lld",
	    (long long)oldest), 2);    /* the invitation and the reply */
	older = make_mailbox(f, "take2@example.org");
	old = make_mailbox(f, "take3@example.org");
	live = make_mailbox(f, "take4@example.org");
	held = make_mailbox(f, "take5@example.org");
	assert_int_equal(th_sql_longf(f->dsn, "WITH u AS (UPDATE mailboxes SET last_activity = "
	    "now() - (CASE id WHEN %lld THEN 300 WHEN %lld THEN 200 WHEN %lld THEN 400 "
	    "ELSE 100 END) * interval '1 day' WHERE id IN (%lld, %lld, %lld, %lld) RETURNING 1) "
	    "SELECT count(*) FROM u", (long long)oldest, (long long)older, (long long)held,
	    (long long)oldest, (long long)older, (long long)old, (long long)held), 4);

	/* the idlest of all is held by another transaction: skipped, not waited for */
	lock = hold_row(f, held);

	/* two at a time, oldest first */
	assert_int_equal(take_batch(f, 2, before, "take-run:1", &rep), PN_OK);
	assert_int_equal(taken(rep, got, 8), 2);
	assert_true(got[0] == oldest || got[1] == oldest);
	assert_true(got[0] == older || got[1] == older);
	assert_int_equal(th_sql_longf(f->dsn, "SELECT count(*) FROM mailboxes WHERE id IN "
	    "(%lld, %lld)", (long long)oldest, (long long)older), 0);
	assert_int_equal(th_sql_longf(f->dsn, "SELECT count(*) FROM messages WHERE mailbox_id = %lld",
	    (long long)oldest), 0);
	assert_int_equal(th_sql_longf(f->dsn, "SELECT count(*) FROM outbox WHERE mailbox_id = %lld",
	    (long long)oldest), 0);
	assert_int_equal(th_sql_longf(f->dsn, "SELECT count(*) FROM mailbox_tombstones WHERE "
	    "mailbox_id IN (%lld, %lld) AND deleted_by = 'take-run:1'", (long long)oldest,
	    (long long)older), 2);
	assert_int_equal(th_sql_longf(f->dsn, "SELECT count(*) FROM mailbox_tombstones WHERE "
	    "mailbox_id = %lld AND address = 'take1@example.org'", (long long)oldest), 1);

	/* a retry of that request: the same two again, nothing more deleted */
	assert_int_equal(take_batch(f, 2, before, "take-run:1", &rep), PN_OK);
	assert_int_equal(taken(rep, got, 8), 2);
	assert_true((got[0] == oldest && got[1] == older) || (got[0] == older && got[1] == oldest));
	assert_int_equal(th_sql_longf(f->dsn, "SELECT count(*) FROM mailboxes WHERE id = %lld",
	    (long long)old), 1);

	/* the next request: the last idle one; the held and the live ones stay */
	assert_int_equal(take_batch(f, 10, before, "take-run:2", &rep), PN_OK);
	assert_int_equal(taken(rep, got, 8), 1);
	assert_int_equal(got[0], old);
	assert_string_equal(rep->deleted->results[0]->address, "take3@example.org");
	assert_int_equal(take_batch(f, 10, before, "take-run:3", &rep), PN_OK);
	assert_int_equal(taken(rep, got, 8), 0);
	assert_int_equal(th_sql_longf(f->dsn, "SELECT count(*) FROM mailboxes WHERE id IN "
	    "(%lld, %lld)", (long long)live, (long long)held), 2);

	/* the holder becomes active and commits: never taken */
	activity_commit(lock, held);
	assert_int_equal(take_batch(f, 10, before, "take-run:4", &rep), PN_OK);
	assert_int_equal(taken(rep, got, 8), 0);

	/* refused: ids (retired, with or without take), out of range, no cut-off, bad id */
	{
		int64_t ids[1] = { live };
		Req req = POSTERN__V1__MAILSTORE_REQUEST__INIT;
		Postern__V1__DeleteMailboxes d = POSTERN__V1__DELETE_MAILBOXES__INIT;
		Postern__V1__DeleteMailbox one = POSTERN__V1__DELETE_MAILBOX__INIT;

		d.mailbox_ids = ids;
		d.n_mailbox_ids = 1;
		d.inactive_before = before;
		req.op_case = POSTERN__V1__MAILSTORE_REQUEST__OP_DELETE_MAILBOXES;
		req.delete_mailboxes = &d;
		assert_int_equal(call(f, &req, &rep), PN_ERR_PARAMS);
		d.take = 5;
		assert_int_equal(call(f, &req, &rep), PN_ERR_PARAMS);
		/* the retired DeleteMailbox: an unknown operation */
		one.mailbox_id = live;
		req.op_case = POSTERN__V1__MAILSTORE_REQUEST__OP_DELETE_MAILBOX;
		req.delete_mailbox = &one;
		assert_int_equal(call(f, &req, &rep), PN_ERR_PARAMS);
	}
	assert_int_equal(take_batch(f, 0, before, NULL, &rep), PN_ERR_PARAMS);
	assert_int_equal(take_batch(f, -1, before, NULL, &rep), PN_ERR_PARAMS);
	assert_int_equal(take_batch(f, 1001, before, NULL, &rep), PN_ERR_PARAMS);
	assert_int_equal(take_batch(f, 5, 0, NULL, &rep), PN_ERR_PARAMS);
	assert_int_equal(take_batch(f, 5, before, "bad\nid", &rep), PN_ERR_PARAMS);
	assert_int_equal(th_sql_long(f->dsn, "SELECT count(*) FROM mailboxes"), 2);
}

/* ---- outbox ---- */

/* sink down: the mail waits and is retried; sink up: delivered exactly once */
static void test_outbox_retry(void **state)
{
	fx *f = *state;
	const char *env[] = { "POSTERN_OUTBOX_BACKOFF_MS=200", "POSTERN_OUTBOX_BACKOFF_MAX_MS=400",
	    NULL };
	char *file_text = NULL;
	long long deadline;
	long attempts = 0;

	f->sinkdir = th_tmpdir("sink-retry");
	start_ms(f, env);
	assert_int_equal(queue(f, 0, "retry-1", "kim@example.org"), PN_OK);

	/* nobody listens on the SMTP port: attempts grow, the row stays queued */
	deadline = th_now_ms() + 15000;
	while (th_now_ms() < deadline &&
	    (attempts = th_sql_long(f->dsn, "SELECT attempts FROM outbox WHERE idem_key = 'retry-1'")) < 3)
		usleep(100000);
	assert_true(attempts >= 3);
	assert_int_equal(th_sql_long(f->dsn, "SELECT count(*) FROM outbox WHERE idem_key = 'retry-1' "
	    "AND state = 'queued' AND last_error IS NOT NULL AND length(data) > 0"), 1);
	assert_true(th_metric(f->health[0], "postern_outbox_retried_total") >= 2);
	assert_int_equal(th_file_count(f->sinkdir), 0);

	/* the relay comes up on that port */
	f->sink = th_smtpsink_start(f->smtp_port, f->sinkdir);
	assert_true(f->sink > 0);
	assert_int_equal(th_wait_file_count(f->sinkdir, 1, 15000), 1);
	deadline = th_now_ms() + 10000;
	while (th_now_ms() < deadline &&
	    th_sql_long(f->dsn, "SELECT count(*) FROM outbox WHERE state = 'sent'") != 1)
		usleep(100000);
	assert_int_equal(th_sql_long(f->dsn, "SELECT count(*) FROM outbox WHERE idem_key = 'retry-1' "
	    "AND state = 'sent' AND sent_at IS NOT NULL AND length(data) = 0"), 1);
	/* and not again: wait several poll rounds */
	usleep(1500000);
	assert_int_equal(th_file_count(f->sinkdir), 1);
	assert_int_equal(th_metric(f->health[0], "postern_outbox_sent_total"), 1);
	assert_int_equal(th_metric(f->health[0], "postern_outbox_queued"), 0);

	/* the same key queued again is not sent again */
	assert_int_equal(queue(f, 0, "retry-1", "kim@example.org"), PN_OK);
	usleep(1000000);
	assert_int_equal(th_file_count(f->sinkdir), 1);

	/* the sink got the mail as queued (the dot line survived) */
	file_text = first_file(f->sinkdir);
	assert_non_null(file_text);
	assert_non_null(strstr(file_text, "Subject: mail retry-1"));
	assert_non_null(strstr(file_text, "\n.dot line"));
	free(file_text);
}

/* two replicas deliver 50 rows: 50 files, each row once */
static void test_outbox_two_replicas(void **state)
{
	fx *f = *state;
	const char *env[] = { "POSTERN_OUTBOX_BATCH=4", NULL };
	long long deadline;
	double s0, s1;

	f->sinkdir = th_tmpdir("sink-two");
	f->sink = th_smtpsink_start(f->smtp_port, f->sinkdir);
	assert_true(f->sink > 0);
	start_ms(f, env);
	start_ms(f, env);
	/* all 50 appear at once, so both replicas compete for them */
	assert_int_equal(th_sql_long(f->dsn, "WITH i AS (INSERT INTO outbox (idem_key, mail_from, "
	    "rcpt_to, data) SELECT 'bulk-' || g, 'postern@example.com', ARRAY['r' || g || '@example.org'], "
	    "convert_to('Subject: bulk ' || g || E'\\r\\n\\r\\nbody\\r\\n', 'UTF8') "
	    "FROM generate_series(1, 50) g RETURNING 1) SELECT count(*) FROM i"), 50);
	assert_int_equal(th_wait_file_count(f->sinkdir, 50, 30000), 50);
	deadline = th_now_ms() + 10000;
	while (th_now_ms() < deadline &&
	    th_sql_long(f->dsn, "SELECT count(*) FROM outbox WHERE state = 'sent'") != 50)
		usleep(100000);
	usleep(1500000);
	assert_int_equal(th_file_count(f->sinkdir), 50);
	assert_int_equal(th_sql_long(f->dsn, "SELECT count(*) FROM outbox WHERE state = 'sent'"), 50);
	assert_int_equal(th_sql_long(f->dsn, "SELECT max(attempts) FROM outbox"), 1);
	s0 = th_metric(f->health[0], "postern_outbox_sent_total");
	s1 = th_metric(f->health[1], "postern_outbox_sent_total");
	assert_int_equal((s0 < 0 ? 0 : s0) + (s1 < 0 ? 0 : s1), 50);
}

/* ---- hostile and oversized input ---- */

/* note - AuditNote of kind for mailbox id through the typed call */
static pn_err note(fx *f, int64_t id, const char *kind, const char *event)
{
	const char *why;

	return pn_ms_note(CALLER(f, AUDIT_NOTE), f->pool, id, kind, event, &why);
}

/*
 * The audit operations refuse what they must: AuditNote takes three
 * kinds (a service cannot write "revoked" or "deleted" into a log) and a
 * mailbox that exists; QueryAudit exactly one of address and event, a
 * sane limit; PruneAudit a sane retention; ClaimReceipts and
 * CompleteReceipt their bounds. What is accepted shows in the log.
 */
static void test_audit_ops(void **state)
{
	fx *f = *state;
	Postern__V1__QueryAudit q = POSTERN__V1__QUERY_AUDIT__INIT;
	Postern__V1__PruneAudit pa = POSTERN__V1__PRUNE_AUDIT__INIT;
	Postern__V1__ClaimReceipts c = POSTERN__V1__CLAIM_RECEIPTS__INIT;
	Postern__V1__CompleteReceipt done = POSTERN__V1__COMPLETE_RECEIPT__INIT;
	Postern__V1__AuditLog *log = NULL;
	Postern__V1__AuditPruned *pruned = NULL;
	Postern__V1__ReceiptList *list = NULL;
	const char *why;
	int64_t id;

	start_ms(f, NULL);
	id = make_mailbox(f, "Audit.Me@Example.org");
	assert_int_equal(note(f, id, "login", NULL), PN_OK);
	assert_int_equal(note(f, id, "pin_failure", "ev-1"), PN_OK);
	for (size_t i = 0; i < 5; i++) {
		static const char *const refused[] = { "revoked", "deleted", "created", "LOGIN", "" };
		assert_int_equal(note(f, id, refused[i], NULL), PN_ERR_PARAMS);
	}
	assert_int_equal(note(f, id, "login", "has space"), PN_ERR_PARAMS);
	assert_int_equal(note(f, 0, "login", NULL), PN_ERR_PARAMS);
	assert_int_equal(note(f, id + 1000, "login", NULL), PN_ERR_NOTFOUND);

	/* by address (normalised as mailboxes are), by event; oldest first */
	q.address = "Audit.Me@EXAMPLE.ORG";
	assert_int_equal(pn_ms_query_audit(CALLER(f, QUERY_AUDIT), f->pool, &q, &log, &why), PN_OK);
	assert_int_equal(log->n_entries, 4);
	assert_string_equal(log->entries[0]->kind, "created");
	assert_string_equal(log->entries[1]->kind, "message_stored");
	assert_string_equal(log->entries[2]->kind, "login");
	assert_string_equal(log->entries[3]->kind, "pin_failure");
	assert_int_equal(log->entries[3]->mailbox_id, id);
	assert_true(log->entries[3]->at_us >= log->entries[0]->at_us);
	q.address = "";
	q.event_id = "ev-1";
	assert_int_equal(pn_ms_query_audit(CALLER(f, QUERY_AUDIT), f->pool, &q, &log, &why), PN_OK);
	assert_int_equal(log->n_entries, 1);
	q.address = "audit.me@example.org";
	assert_int_equal(pn_ms_query_audit(CALLER(f, QUERY_AUDIT), f->pool, &q, &log, &why), PN_ERR_PARAMS);
	q.address = "";
	q.event_id = "";
	assert_int_equal(pn_ms_query_audit(CALLER(f, QUERY_AUDIT), f->pool, &q, &log, &why), PN_ERR_PARAMS);
	q.address = "audit.me@example.org";
	q.limit = 1001;
	assert_int_equal(pn_ms_query_audit(CALLER(f, QUERY_AUDIT), f->pool, &q, &log, &why), PN_ERR_PARAMS);

	pa.retention_seconds = 60;
	assert_int_equal(pn_ms_prune_audit(CALLER(f, PRUNE_AUDIT), f->pool, &pa, &pruned, &why), PN_ERR_PARAMS);
	pa.retention_seconds = 86400;
	assert_int_equal(pn_ms_prune_audit(CALLER(f, PRUNE_AUDIT), f->pool, &pa, &pruned, &why), PN_OK);
	assert_int_equal(pruned->rows, 0);                  /* the mailbox lives */

	c.take = 0;
	c.lease_seconds = 60;
	assert_int_equal(pn_ms_claim_receipts(CALLER(f, CLAIM_RECEIPTS), f->pool, &c, &list, &why), PN_ERR_PARAMS);
	c.take = 10;
	c.lease_seconds = 5;
	assert_int_equal(pn_ms_claim_receipts(CALLER(f, CLAIM_RECEIPTS), f->pool, &c, &list, &why), PN_ERR_PARAMS);
	c.lease_seconds = 60;
	assert_int_equal(pn_ms_claim_receipts(CALLER(f, CLAIM_RECEIPTS), f->pool, &c, &list, &why), PN_OK);
	assert_int_equal(list->n_receipts, 0);              /* nobody asked for receipts */
	done.id = 4711;
	assert_int_equal(pn_ms_complete_receipt(CALLER(f, COMPLETE_RECEIPT), f->pool, &done, &why), PN_ERR_NOTFOUND);
}

static void test_malformed(void **state)
{
	fx *f = *state;
	static const uint8_t garbage[] = { 0x1a, 0x7f, 0x01, 0x02 };   /* truncated field */
	static const uint8_t wrongwire[] = { 0x1d, 0x00, 0x00, 0x00, 0x00 }; /* accept as fixed32 */
	const struct {
		const uint8_t *data;
		size_t len;
		pn_err want;
	} cases[] = {
		{ garbage, sizeof(garbage), PN_ERR_PARAMS },
		{ wrongwire, sizeof(wrongwire), PN_ERR_PARAMS },
		{ (const uint8_t *)"", 0, PN_ERR_PARAMS },               /* no operation */
	};

	start_ms(f, NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t *out = NULL;
		size_t len = 0;
		pn_pool *pool = pn_pool_new();
		Postern__V1__ErrorReply *er;

		assert_int_equal(pn_client_call_raw(f->client, "mailstore", cases[i].data,
		    cases[i].len, &out, &len), PN_OK);
		er = (Postern__V1__ErrorReply *)pn_pb_unpack(&postern__v1__error_reply__descriptor,
		    out, len, 1 << 20, pool);
		assert_non_null(er);
		assert_int_equal(er->status, POSTERN__V1__STATUS__STATUS_BAD_REQUEST);
		assert_true(strlen(er->error) > 0);
		free(out);
		pn_pool_destroy(&pool);
	}
	assert_true(th_alive(f->ms[0]));
	assert_int_equal(ping(f), PN_OK);
}

static void test_too_large(void **state)
{
	fx *f = *state;
	const char *env[] = { "POSTERN_MAILSTORE_MAX_STORED_BYTES=4096", NULL };
	Rep *rep = NULL;
	char *big = pn_pool_alloc(f->pool, 5001);
	int64_t mb;

	memset(big, 'x', 5000);
	start_ms(f, env);
	mb = make_mailbox(f, "leo@example.org");
	assert_int_equal(store(f, mb, POSTERN__V1__FOLDER__FOLDER_INBOX, "big-1", big, NULL, &rep),
	    PN_ERR_TOOLARGE);
	assert_non_null(rep);
	assert_int_equal(rep->status, POSTERN__V1__STATUS__STATUS_TOO_LARGE);
	{
		Req *req = accept_req(f->pool, "mia@example.org", 1, "big-2", NULL);

		req->accept->message->body = bin(f->pool, big);
		assert_int_equal(call(f, req, &rep), PN_ERR_TOOLARGE);
	}
	{
		Req req = POSTERN__V1__MAILSTORE_REQUEST__INIT;
		Postern__V1__QueueMail q = POSTERN__V1__QUEUE_MAIL__INIT;

		q.mail = out_mail(f->pool, "big-3", "nina@example.org");
		q.mail->data = bin(f->pool, big);
		req.op_case = POSTERN__V1__MAILSTORE_REQUEST__OP_QUEUE_MAIL;
		req.queue_mail = &q;
		assert_int_equal(call(f, &req, &rep), PN_ERR_TOOLARGE);
	}
	rows_are(f, 1, 1, 0);
	/* an upload in parts is held to the same limit as it grows */
	assert_int_equal(append_part(f, "upload-big-16byt", 0, big, 3000), PN_OK);
	assert_int_equal(append_part(f, "upload-big-16byt", 1, big, 1096), PN_OK);
	assert_int_equal(append_part(f, "upload-big-16byt", 2, big, 1), PN_ERR_TOOLARGE);
	assert_int_equal(append_part(f, "upload-big-16byt", 1, big, 1097), PN_ERR_TOOLARGE);
	assert_int_equal(th_sql_long(f->dsn, "SELECT sum(octet_length(data)) FROM body_parts"),
	    4096);
	/* just under the limit is fine */
	big[4000] = '\0';
	assert_int_equal(store(f, mb, POSTERN__V1__FOLDER__FOLDER_INBOX, "big-4", big, NULL, &rep),
	    PN_OK);
	assert_true(th_alive(f->ms[0]));
}

/*
 * A large body in parts: claimed by its message and read back in order;
 * retries, gaps and bounds; gone with the message, its withdrawal or its
 * mailbox; pending parts nobody claims go after an hour.
 */
static void test_parts(void **state)
{
	fx *f = *state;
	const char *up1 = "upload-one-16byt", *up2 = "upload-two-16byt", *up3 = "upload-old-16byt";
	Rep *rep = NULL;
	int64_t mb, first, gap;

	start_ms(f, NULL);
	mb = make_mailbox(f, "pia@example.org");
	/* sent out of order, and one part sent twice: the second replaces the first */
	assert_int_equal(append_part(f, up1, 2, "-three", 6), PN_OK);
	assert_int_equal(append_part(f, up1, 0, "one-", 4), PN_OK);
	assert_int_equal(append_part(f, up1, 1, "wrong", 5), PN_OK);
	assert_int_equal(append_part(f, up1, 1, "two", 3), PN_OK);
	assert_int_equal(pending(f), 3);
	assert_int_equal(call(f, upload_accept(f, "pia@example.org", "evt-parts", up1, 3, 13),
	    &rep), PN_OK);
	assert_false(rep->accepted->duplicate);
	first = rep->accepted->message_id;
	assert_int_equal(pending(f), 0);
	body_is(f, mb, first, "one-two-three");
	/* written once: the parts are the body, the row's column is empty */
	assert_int_equal(th_sql_longf(f->dsn, "SELECT octet_length(body) FROM messages "
	    "WHERE id = %lld", (long long)first), 0);
	/* a part sent late for a claimed upload changes nothing */
	assert_int_equal(append_part(f, up1, 1, "TWO", 3), PN_OK);
	body_is(f, mb, first, "one-two-three");
	/* the same Accept again (its reply was lost) is a duplicate and keeps the body */
	assert_int_equal(call(f, upload_accept(f, "pia@example.org", "evt-parts", up1, 3, 13),
	    &rep), PN_OK);
	assert_true(rep->accepted->duplicate);
	assert_int_equal(rep->accepted->message_id, first);
	body_is(f, mb, first, "one-two-three");
	/* a retry of the event with parts of its own: a duplicate, and its parts go */
	assert_int_equal(append_part(f, up3, 0, "again", 5), PN_OK);
	assert_int_equal(call(f, upload_accept(f, "pia@example.org", "evt-parts", up3, 1, 5),
	    &rep), PN_OK);
	assert_true(rep->accepted->duplicate);
	assert_int_equal(pending(f), 0);
	body_is(f, mb, first, "one-two-three");

	/*
	 * a part missing, a length that does not add up, a part more than
	 * named: TEMP, nothing stored, and the parts dropped (the caller sends
	 * the body again under a new id)
	 */
	{
		static const struct { int send[4], parts; long len; } bad[] = {
			{ { 1, 0, 1, 0 }, 3, 9 },          /* part 1 missing */
			{ { 1, 1, 1, 0 }, 3, 10 },         /* one byte more named */
			{ { 1, 1, 1, 0 }, 2, 6 },          /* a third part not named */
			{ { 0, 1, 1, 0 }, 2, 6 },          /* parts 1 and 2, not 0 and 1 */
		};
		static const char *const piece[] = { "abc", "def", "ghi" };

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			for (int k = 0; k < 3; k++)
				if (bad[i].send[k])
					assert_int_equal(append_part(f, up2, k, piece[k], 3), PN_OK);
			assert_int_equal(call(f, upload_accept(f, "pia@example.org", "evt-gap", up2,
			    bad[i].parts, bad[i].len), &rep), PN_ERR_TEMP);
			assert_non_null(strstr(rep->error, "parts"));
			assert_int_equal(pending(f), 0);
		}
	}
	assert_int_equal(th_sql_long(f->dsn, "SELECT count(*) FROM messages "
	    "WHERE event_id = 'evt-gap'"), 0);
	for (int k = 0; k < 3; k++)
		assert_int_equal(append_part(f, up2, k, (const char *[]){ "abc", "def", "ghi" }[k],
		    3), PN_OK);
	assert_int_equal(call(f, upload_accept(f, "pia@example.org", "evt-gap", up2, 3, 9),
	    &rep), PN_OK);
	gap = rep->accepted->message_id;
	body_is(f, mb, gap, "abcdefghi");
	body_is(f, mb, first, "one-two-three");

	/* an Accept refused for another reason drops its parts too */
	assert_int_equal(append_part(f, up3, 0, "lost", 4), PN_OK);
	assert_int_equal(call(f, upload_accept(f, "nobody@example.org", "evt-none", up3, 1, 4),
	    &rep), PN_ERR_NOTFOUND);
	assert_int_equal(pending(f), 0);

	/* bad parts and bad uploads never reach the database */
	assert_int_equal(append_part(f, "short", 0, "x", 1), PN_ERR_PARAMS);
	assert_int_equal(append_part(f, up3, -1, "x", 1), PN_ERR_PARAMS);
	assert_int_equal(append_part(f, up3, 4096, "x", 1), PN_ERR_PARAMS);
	assert_int_equal(append_part(f, up3, 0, "", 0), PN_ERR_PARAMS);
	{
		Req *req = upload_accept(f, "pia@example.org", "evt-bad", up3, 1, 1);

		req->accept->message->body = bin(f->pool, "both");
		assert_int_equal(call(f, req, &rep), PN_ERR_PARAMS);
		assert_int_equal(call(f, upload_accept(f, "pia@example.org", "evt-bad", "short", 1, 1),
		    &rep), PN_ERR_PARAMS);
		assert_int_equal(call(f, upload_accept(f, "pia@example.org", "evt-bad", up3, 0, 1),
		    &rep), PN_ERR_PARAMS);
		assert_int_equal(call(f, upload_accept(f, "pia@example.org", "evt-bad", up3, 2, 1),
		    &rep), PN_ERR_PARAMS);
	}
	assert_int_equal(pending(f), 0);

	/* pending parts nobody claimed go after an hour, at the next upload's first part */
	assert_int_equal(append_part(f, up3, 0, "old", 3), PN_OK);
	free(th_sql(f->dsn, "UPDATE body_parts SET at = now() - interval '61 minutes'"));
	assert_int_equal(append_part(f, "upload-new-16byt", 1, "new", 3), PN_OK);
	assert_int_equal(pending(f), 2);
	assert_int_equal(append_part(f, "upload-new-16byt", 0, "new", 3), PN_OK);
	assert_int_equal(pending(f), 2);
	assert_int_equal(th_sql_long(f->dsn, "SELECT count(*) FROM body_parts "
	    "WHERE upload = 'upload-old-16byt'::bytea"), 0);
	/* a claimed body is not swept however old */
	body_is(f, mb, first, "one-two-three");

	/* a withdrawn message keeps nothing; a deleted message or mailbox neither */
	free(th_sql(f->dsn, "UPDATE messages SET withdrawn_at = now(), withdrawn = 'revoked' WHERE event_id = 'evt-gap'"));
	assert_int_equal(th_sql_longf(f->dsn, "SELECT count(*) FROM body_parts "
	    "WHERE message_id = %lld", (long long)gap), 0);
	assert_int_equal(th_sql_longf(f->dsn, "SELECT count(*) FROM body_parts "
	    "WHERE message_id = %lld", (long long)first), 3);
	free(th_sql(f->dsn, "DELETE FROM mailboxes WHERE address = 'pia@example.org'"));
	assert_int_equal(th_sql_long(f->dsn, "SELECT count(*) FROM body_parts "
	    "WHERE message_id IS NOT NULL"), 0);
	assert_true(th_alive(f->ms[0]));
}

/* mailstore's sessions run with synchronous_commit on, whatever the default */
static void test_synchronous_commit(void **state)
{
	fx *f = *state;
	char sql[256];
	char *v;

	/* make the database's default the unsafe one */
	snprintf(sql, sizeof(sql), "ALTER DATABASE %s SET synchronous_commit = off",
	    strstr(f->dsn, "dbname=") + 7);
	free(th_sql(f->dsn, sql));
	v = th_sql(f->dsn, "SHOW synchronous_commit");
	assert_non_null(v);
	assert_string_equal(v, "off");
	free(v);

	start_ms(f, NULL);
	assert_int_equal(th_metric(f->health[0], "postern_pg_synchronous_commit{conn=\"mailstore\"}"), 1);
	assert_int_equal(th_metric(f->health[0], "postern_pg_synchronous_commit{conn=\"outbox\"}"), 1);
	/* both sessions are there under their application names */
	assert_int_equal(th_sql_long(f->dsn, "SELECT count(*) FROM pg_stat_activity WHERE "
	    "datname = current_database() AND application_name IN "
	    "('postern-mailstore', 'postern-outbox')"), 2);
	assert_int_equal(ping(f), PN_OK);
}

/* PostgreSQL drops mailstore's sessions: the next request reconnects */
static void test_reconnect(void **state)
{
	fx *f = *state;
	Rep *rep = NULL;
	int64_t mb;

	f->sinkdir = th_tmpdir("sink-reconnect");
	f->sink = th_smtpsink_start(f->smtp_port, f->sinkdir);
	start_ms(f, NULL);
	mb = make_mailbox(f, "olga@example.org");
	assert_int_equal(th_sql_long(f->dsn, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
	    "WHERE datname = current_database() AND application_name IN "
	    "('postern-mailstore', 'postern-outbox')"), 2);
	/* no error reaches the caller: the handler retries on a new session */
	assert_int_equal(get_mailbox(f, mb, NULL, NULL, &rep), PN_OK);
	assert_int_equal(rep->mailbox->id, mb);
	assert_int_equal(store(f, mb, POSTERN__V1__FOLDER__FOLDER_INBOX, "after-reconnect",
	    "-----BEGIN PGP MESSAGE-----r", "after-reconnect-mail", &rep), PN_OK);
	/* and the delivery loop found its way back too */
	assert_int_equal(th_wait_file_count(f->sinkdir, 1, 15000), 1);
	assert_int_equal(th_wait_http(f->health[0], "/readyz", 200, 5000), 0);
	assert_true(th_alive(f->ms[0]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_migrations_concurrent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_idempotent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_accept_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_accept_race, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_paging, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_cas, setup, teardown),
		cmocka_unit_test_setup_teardown(test_take_idle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outbox_retry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outbox_two_replicas, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_ops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_large, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_synchronous_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reconnect, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
