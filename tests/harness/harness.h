/*
 * harness.h - what integration tests need to drive real processes.
 *
 * tests/run starts one Redis and one PostgreSQL for the whole run and
 * exports where they are; each test makes its own database, its own
 * temporary directory and its own ports, so tests do not see each other.
 *
 * Environment set by tests/run (th_env() aborts the test if one is missing):
 *   POSTERN_TEST_BIN     directory with postern-* binaries and posternctl
 *   POSTERN_TEST_TMP     scratch directory for this run (logs under logs/)
 *   POSTERN_TEST_CERTS   certificates made by "posternctl certs":
 *                          broker.cert(+_secret), <name>.cert(+_secret) for
 *                          every service and "posternctl", and allow/ (the
 *                          broker's allow-list: public certs only)
 *   POSTERN_TEST_PG      libpq conninfo of the server as superuser, no dbname
 *   POSTERN_TEST_REDIS   host:port of Redis
 *
 * Every child started here is killed when the test process exits.
 */
#ifndef POSTERN_TEST_HARNESS_H
#define POSTERN_TEST_HARNESS_H

#include <stddef.h>
#include <sys/types.h>

#include "postern/bus.h"
#include "postern/calls.h"
#include "postern/gpg.h"

const char *th_env(const char *name);
/* th_port - a TCP port on 127.0.0.1 free right now */
int th_port(void);
/* th_tmpdir - a new directory under POSTERN_TEST_TMP; caller frees */
char *th_tmpdir(const char *tag);
/* th_fixture - a zeroed fixture of size bytes (free() it), with libsodium initialised */
void *th_fixture(size_t size);
/* th_run_tag - "<pid>-<time>" into out: names (domains, ids) no other run of a test shares */
void th_run_tag(char *out, size_t outlen);
/* th_createdb - a new empty database; returns its conninfo, caller frees */
char *th_createdb(const char *tag);
/* th_sql - run one SQL statement on dsn; returns first column of first row (caller frees) or NULL */
char *th_sql(const char *dsn, const char *sql);
/* th_sql_long - that first value as a number, -1 if none */
long th_sql_long(const char *dsn, const char *sql);
/* th_sql_longf - the same with a formatted statement (test-made values only) */
long th_sql_longf(const char *dsn, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* th_now_ms - monotonic milliseconds */
long long th_now_ms(void);
/*
 * th_run - run argv (argv[0] on PATH or a path) to completion with extra
 * env ("NAME=value", NULL-terminated, may be NULL), stdout to out_path
 * (NULL = inherited); returns the exit status, -1 if it did not exit.
 */
int th_run(const char *const argv[], const char *const env[], const char *out_path);
/* th_gpg_stop - stop every daemon of GnuPG home home (gpgconf --kill all); NULL: nothing */
void th_gpg_stop(const char *home);
/*
 * th_gpg - gpg --homedir home --batch --quiet, loopback pinentry with an
 * empty passphrase, then the given arguments (NULL-terminated, at most
 * 20); stdout to out_path (NULL = inherited); the exit status.
 */
int th_gpg(const char *home, const char *out_path, ...) __attribute__((sentinel));
/* th_key_import - posternctl key import path (armored keys) into keyring, gpg in gnupghome; the exit status */
int th_key_import(const char *keyring, const char *gnupghome, const char *path);
/* th_gpg_keygen - a key pair for "name <address>" (name NULL: "<address>") in home, no expiry; gpg's exit status */
int th_gpg_keygen(const char *home, const char *name, const char *address);
/*
 * th_key_known - a key pair for "name <address>" in home whose public key
 * keylookup's keyring knows (exported to home/<name>.asc, imported with
 * posternctl key import); fails the test on trouble
 */
void th_key_known(const char *home, const char *keyring, const char *name,
    const char *address);
/*
 * th_org_users - the organisation's users of a test, "Alice Sender <alice>"
 * (a sender) and "Kim <kim>" (a recipient), made in home and their public
 * keys exported armored to home/users.asc, whose path goes into path_r;
 * fails the test on trouble
 */
void th_org_users(const char *home, const char *alice, const char *kim, char *path_r,
    size_t pathlen);
/* th_gpg_expired - a key for address that expired long ago (made in 2000 for a year); gpg's exit status */
int th_gpg_expired(const char *home, const char *address);
/* th_gpg_revoked - a key for address, made and revoked in home; fails the test on trouble */
void th_gpg_revoked(const char *home, const char *address);
/*
 * th_tls_make - a test CA (dir/ca.pem) and a server certificate for the
 * n host names (dir/server.pem, dir/server.key), made with openssl now
 */
void th_tls_make(const char *dir, const char *const *hosts, size_t n);
/*
 * th_keyserver_start - tests/keyserver (WKD and VKS over TLS) on
 * 127.0.0.1:port with th_tls_make's certificate from tls_dir, serving the
 * keys under dir (see tests/keyserver/keyserver.c for the layout)
 */
pid_t th_keyserver_start(int port, const char *tls_dir, const char *dir);
/*
 * th_autocrypt_check - mail (a reply as the SMTP sink stored it) carries
 * an Autocrypt header for addr whose key, and only that key, gives a good
 * signature on the reply, which the sender's secret key (armored,
 * protected by sender_pass) decrypts; fails the test otherwise
 */
void th_autocrypt_check(const char *mail, const char *addr, const pn_buf *sender_sec,
    const char *sender_pass);
/*
 * th_gpg_decrypt_mail - the first armored PGP message in mail (CRs
 * dropped), decrypted with the keys in home (files home/<tag>.asc and
 * .txt); caller frees; fails the test if it does not decrypt
 */
char *th_gpg_decrypt_mail(const char *home, const char *mail, const char *tag);
/* th_gpg_fpr - the fingerprint (40 hex digits) of the key for address in home; fails the test if there is none */
void th_gpg_fpr(const char *home, const char *address, char *fpr, size_t len);

/*
 * th_spawn - start a child: argv[0] is a name under POSTERN_TEST_BIN or a
 * path; env is NULL or a NULL-terminated list of "NAME=value" added to the
 * test's environment. stdout and stderr go to POSTERN_TEST_TMP/logs/<name>.<pid>.log.
 */
pid_t th_spawn(const char *const argv[], const char *const env[]);
/* th_kill - send sig; for SIGKILL also reap. Returns 0 or -1 */
int th_kill(pid_t pid, int sig);
/* th_stop - SIGTERM, wait up to timeout_ms, then SIGKILL; returns the exit status (-1 if killed) */
int th_stop(pid_t pid, long timeout_ms);
/* th_alive - process still running (not reaped) */
int th_alive(pid_t pid);

/* th_http_get - GET http://127.0.0.1:port/path; returns status (-1 if no connection); body_r optional, caller frees */
int th_http_get(int port, const char *path, char **body_r);
/* th_metric - the value of a metric line ("name value") on port's /metrics, -1 if absent */
double th_metric(int port, const char *name);
/* th_wait_metric - poll until the metric is >= min, up to timeout_ms; 0 or -1 */
int th_wait_metric(int port, const char *name, double min, long timeout_ms);
/* th_wait_http - poll until GET returns status, up to timeout_ms; 0 or -1 */
int th_wait_http(int port, const char *path, int status, long timeout_ms);
/* th_wait_file_count - poll until dir holds >= n regular files; returns the count seen */
int th_wait_file_count(const char *dir, int n, long timeout_ms);
/* th_file_count - regular files in dir now */
int th_file_count(const char *dir);
/* th_count_mails - the SMTP sink's .eml files in dir that contain needle */
int th_count_mails(const char *dir, const char *needle);
/* th_read_file - whole file, NUL-terminated; caller frees; NULL if missing */
char *th_read_file(const char *path, size_t *len_r);
/* th_log_has - the log of child pid started as name (POSTERN_TEST_TMP/logs/<name>.<pid>.log) holds needle */
int th_log_has(const char *name, pid_t pid, const char *needle);

/*
 * Addresses and the SMTP sink's mails (th_mail.c). A mail is "for" rcpt
 * when the sink's envelope names it (X-Sink-Rcpt-To: <rcpt>).
 */
/* th_addr - "local@domain" in one of 16 rotating static buffers */
const char *th_addr(const char *domain, const char *local);
/* th_mails_to - the sink's mails in dir for rcpt; the newest one's text in *last_r (optional, caller frees, NULL if none); fails the test if dir cannot be read */
int th_mails_to(const char *dir, const char *rcpt, char **last_r);
/* th_mail_to - the newest sink mail in dir for rcpt (caller frees), NULL if none */
char *th_mail_to(const char *dir, const char *rcpt);
/* th_mail_with - the newest sink mail in dir that contains needle (caller frees), NULL if none */
char *th_mail_with(const char *dir, const char *needle);
/* th_wait_count_mails - poll until th_count_mails(dir, needle) >= want, up to timeout_ms; the count seen last */
int th_wait_count_mails(const char *dir, const char *needle, int want, long timeout_ms);
/* th_wait_mails - poll until dir holds >= want mails for rcpt, up to timeout_ms; the count seen last */
int th_wait_mails(const char *dir, const char *rcpt, int want, long timeout_ms);

/* The broker, on its own port, CURVE on with the test certificates. */
typedef struct th_broker {
	pid_t pid;
	int port;
	int health;
	char endpoint[64];           /* tcp://127.0.0.1:<port> */
} th_broker;
/* th_broker_start - start (or, with b->port already set, restart on the same port) and wait for /readyz */
int th_broker_start(th_broker *b, const char *const env[]);

/*
 * th_service_start - start build/bin/postern-<name> against endpoint with
 * its own test certificate, health port returned in *health_r, extra env
 * appended; waits until /readyz answers 200 (up to 10 s). Returns pid or -1.
 */
pid_t th_service_start(const char *name, const char *endpoint,
    const char *const env[], int *health_r);

/* th_smtpsink_start - real SMTP server on port storing one file per mail in dir */
pid_t th_smtpsink_start(int port, const char *dir);

/*
 * th_client - a bus client for endpoint using certificate <certname>.cert
 * from POSTERN_TEST_CERTS (certname NULL = "posternctl"), short timeout
 * (timeout_ms) and the given number of tries.
 */
pn_client *th_client(const char *endpoint, const char *certname,
    long timeout_ms, long retries);

/*
 * Roles (th_roles.c): a worker refuses an operation the caller's role may
 * not call, so a test calls each with the certificate of a role that may.
 * th_cert_for - that certificate's name for op (a oneof field number) of
 * service; th_cert_of_role - the test certificate of a role name.
 * th_caller - a client of set (endpoint, timeout and tries filled in by
 * the test, clients made on first use) whose role may call op.
 */
const char *th_cert_for(const char *service, uint32_t op);
const char *th_cert_of_role(const char *role);
typedef struct th_callers {
	const char *endpoint;
	long timeout_ms, retries;
	pn_client *c[5];            /* one per role, as lib/src/roles.c orders them */
} th_callers;
pn_client *th_caller(th_callers *set, const char *service, uint32_t op);
void th_callers_destroy(th_callers *set);

/*
 * The send path as most integration tests need it (th_stack.c): the
 * broker, a new database, the SMTP sink, mailstore, keylookup and
 * provision (replicas each with a GNUPGHOME of their own), and a client
 * for the test. Each service gets what it needs to work together (DSN,
 * SMTP URL, Redis, keyring, provision key) and the options' extra env.
 * Start-up failures fail the test. Directories and the database stay for
 * the post-mortem; gpg-agents in the stack's homes are stopped.
 */
#define TH_STACK_PV_MAX 2
#define TH_STACK_MS_MAX 2

typedef struct th_stack_opts {
	const char *tag;             /* names the database and directories ("stack") */
	const char *keyring;         /* keylookup's keyring; NULL = a new directory */
	int provisions;              /* provision replicas, 0 = 1, at most TH_STACK_PV_MAX */
	int mailstores;              /* mailstore replicas, 0 = 1, at most TH_STACK_MS_MAX */
	int no_provision;            /* start without provision */
	const char *const *ms_env;   /* extra env per service ("NAME=value", NULL-terminated) */
	const char *const *kl_env;
	const char *const *pv_env;
	long client_timeout_ms;      /* the test's client: 0 = none */
	long client_retries;
} th_stack_opts;

typedef struct th_stack {
	th_broker broker;
	char *dsn;                   /* the database (conninfo) */
	char *maildir;               /* where the sink stores mails */
	char *keyring;               /* keylookup's keyring */
	char *gnupg[TH_STACK_PV_MAX];   /* provision replica i's home */
	int smtp;                    /* the sink's port */
	pid_t sink, ms, kl, pv[TH_STACK_PV_MAX];   /* -1 = not running (set it after stopping one) */
	int ms_health, kl_health, pv_health[TH_STACK_PV_MAX];
	pid_t ms2;                   /* mailstore replica 1 (opts.mailstores = 2), else -1 */
	int ms2_health;
	int provisions, mailstores;
	pn_client *client;           /* the operator's (posternctl) */
	th_callers callers;          /* th_caller: the client's timeout (or 10 s), a role per operation */
	/* private: what a restart needs */
	th_stack_opts opts;
	char env[5][512];
	int own_keyring;
} th_stack;

/* th_stack_start - start what opts asks for (NULL = everything, no client) */
void th_stack_start(th_stack *s, const th_stack_opts *opts);
/* th_stack_provision_start - (re)start provision replica i with the stack's settings */
void th_stack_provision_start(th_stack *s, int i);
/* th_stack_mailstore_start - (re)start mailstore replica i (0: ms, 1: ms2) with the stack's settings */
void th_stack_mailstore_start(th_stack *s, int i);
/* th_stack_keylookup_start - (re)start keylookup with the stack's settings */
void th_stack_keylookup_start(th_stack *s);
/*
 * th_stack_stop - the client, provision, keylookup, mailstore, then sink
 * and broker; 0 when every service still marked running exited with 0
 */
int th_stack_stop(th_stack *s);

/* th_event - a send event as a publisher gives it */
typedef struct th_event {
	const char *id, *sender;
	const char *const *rcpts;
	size_t n;
	const void *mime;
	size_t len;
	int with_pin, deliver_key_found, receipts;
	Postern__V1__SenderNotice notice;
	const char *note, *locale;   /* optional */
} th_event;

/*
 * Publishers: n threads, thread k calls fn(clients[k], i, arg) for every
 * event i < events with i % n == k, in order; fn returns 0 when event i
 * was answered, -1 when it gave up (counted in failures).
 */
#define TH_PUBLISHERS_MAX 16
typedef int (*th_publish_fn)(pn_client *client, int i, void *arg);
typedef struct th_publishers {
	int n, events;
	pn_client **clients;
	th_publish_fn fn;
	void *arg;
	int done, failures;          /* atomic */
	void *threads;               /* private */
} th_publishers;
/* th_clients - n clients of the publisher certificate (th_client each); th_clients_destroy - all of them */
void th_clients(const char *endpoint, pn_client **clients, int n, long timeout_ms, long retries);
void th_clients_destroy(pn_client **clients, int n);
/* th_publishers_start - start them (fails the test if a thread cannot start) */
void th_publishers_start(th_publishers *p, pn_client **clients, int n, int events,
    th_publish_fn fn, void *arg);
/* th_publishers_done - events finished so far (answered or given up) */
int th_publishers_done(th_publishers *p);
/* th_publishers_join - wait for all; the number of events given up */
int th_publishers_join(th_publishers *p);

/* th_send_event - one SendEvent to provision (pn_prov_send: result or why) */
pn_err th_send_event(pn_client *client, pn_pool *pool, const th_event *ev,
    Postern__V1__SendResult **result_r, const char **why_r);
/*
 * th_send_plain - event i of a stream: id "<prefix>-<i>", from s@domain to
 * u<i>@domain, a short text mail; up to three tries (each with the
 * client's own); 0 once answered, -1 (the errors on stderr)
 */
int th_send_plain(pn_client *client, const char *prefix, const char *domain, int i);

#endif
