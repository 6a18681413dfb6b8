/*
 * provision_test.c - the send path end to end: the real broker (CURVE on),
 * mailstore on its own PostgreSQL database, keylookup with a real GnuPG
 * keyring and Redis, provision, and the SMTP sink catching what the
 * outbox delivers. Publishes send events as a mail backend would (and
 * through "posternctl send" / "posternctl pin"), then looks at what was
 * really stored and really mailed:
 *
 *   - KEY_FOUND for a keyring user, MAILBOX_CREATED with a PIN for a new
 *     address, exactly one invitation with a link whose hash is the
 *     mailbox's link_hash, and no PIN in it;
 *   - the stored body and envelope are OpenPGP ciphertext that the guest
 *     key opens with the passphrase derived from link + PIN (derived here
 *     independently, from docs/security.md) - and a wrong PIN does not;
 *   - the same event three times: same outcomes and PIN, one message, one
 *     invitation;
 *   - another sender to the same address, never activated: MAILBOX_REISSUED
 *     with a new PIN, a new invitation (new link), both messages open with
 *     the new link and PIN and not with the old ones; a retry of the event
 *     repeats nothing; the first sender's stale PIN copy is gone;
 *   - posternctl pin: ciphertext the sender's key opens to the PIN;
 *     another sender gets nothing;
 *   - posternctl reissue: a sender who is not the mailbox's, or has no
 *     key, gets nothing and changes nothing; the creator and the operator
 *     (a key of their own, proven by the challenge) get a new link and PIN;
 *   - posternctl revoke: another sender (with a key or without) is refused
 *     and nothing changes; the event's sender withdraws one recipient's
 *     copy, then all (the first again, harmless), so does the operator;
 *     the rows keep nothing of the message; send --expires stores the
 *     expiry, refuses bad durations and ones beyond the bound;
 *   - posternctl mailbox list|show|lock|reissue|delete against the real
 *     stack: without --yes and without a terminal nothing is done; with it
 *     the states and counts (no content), the lock, the operator's
 *     re-issue, the delete (with a tombstone, and again harmless);
 *   - posternctl send --sent-copy: the PIN header only in the sent copy;
 *   - PinVerify: OK, wrong with tries left, lock-out, LOCKED with the
 *     mailbox locked in mailstore and the sender told;
 *   - bad input: malformed MIME, 0 bytes, over the size limit, 10,000
 *     recipients, invalid addresses, a malformed protobuf - clear errors,
 *     and every process still up;
 *   - the keyring: provision runs with POSTERN_PROVISION_KEYRING_MAX=1, so
 *     it renews its keyring after every key it imports (everything above
 *     runs across renewals); renewals are counted, there is only ever one
 *     keyring home per worker (PV_WORKERS of them), and after a renewal mail to an existing mailbox (its
 *     key imported into a home that is gone) and to a new one still
 *     delivers and decrypts;
 *   - deliver_key_found: a recipient with a key gets exactly one PGP/MIME
 *     mail that its secret key decrypts to the body (protected headers:
 *     the outer Subject is "..."), no plaintext in transit, and a retry of
 *     the event queues nothing more; posternctl send --deliver-key-found;
 *   - sender_notice: one notice with the PIN and the rejected recipients,
 *     encrypted to a sender with a key (decrypted here), plain text for
 *     PLAIN without a key, nothing for ENCRYPTED without a key; once per
 *     event;
 *   - the return path: invitations and deliveries go out with MAIL FROM =
 *     the event's sender, sender notices with the From address (here <>);
 *   - two workers (POSTERN_WORKERS=2) in the one process: the broker
 *     counts both; while one waits for a stopped keylookup, the other
 *     answers a ping, and the waiting event lands once keylookup is back;
 *   - early encryption (prov_early.c): once a lookup has named an active
 *     mailbox's key, the next mail to it is encrypted while its lookup
 *     runs and that ciphertext is stored (counted as used, decrypts with
 *     the mailbox's link + PIN); when the mailbox's key has changed in
 *     between, the early ciphertext is dropped (counted as wasted) and
 *     the stored message opens with the new key's link + PIN only.
 *
 * Addresses carry a per-run domain so the shared Redis never mixes runs.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "../harness/harness.h"
#include "../support/support.h"
#include "postern/bus.h"
#include "postern/err.h"
#include "postern/gpg.h"
#include "postern/mem.h"
#include "postern/pb.h"
#include "postern/v1/common.pb-c.h"
#include "postern/v1/provision.pb-c.h"

#define PUBLIC_URL "http://postern.test"
#define MAX_MAIL 1048576
#define PART 65536                  /* a larger encrypted body goes in parts */
#define PV_WORKERS 2              /* provision's default: two events at once */
#define STR_(x) #x
#define STR(x) STR_(x)
#define PIN_LEN 6

typedef Postern__V1__Outcome Outcome;

typedef struct fx {
	th_stack st;                 /* broker, database, sink, the three services, client */
	char *senderhome;            /* alice's and kim's secret keys */
	char *keyring;               /* what keylookup reads */
	char *testgpg;               /* where the test decrypts guest keys */
	const char *why;             /* the last send_event's why */
	char domain[64];
	char kim_fpr[64];
	char tag[32];
	int seq;
} fx;

static fx *F;

/* addr - an address of this run's domain (rotating static buffers) */
static const char *addr(const char *local)
{
	return th_addr(F->domain, local);
}

/* event_id - a fresh event id of this run */
static const char *event_id(void)
{
	static char buf[8][64];
	static int i;
	char *b = buf[i++ % 8];

	snprintf(b, sizeof(buf[0]), "pt-%s-%d", F->tag, ++F->seq);
	return b;
}

/* ctl_env - posternctl's environment (GNUPGHOME = the senders' home) */
static const char *const *ctl_env(void)
{
	static char b[5][512];
	static const char *env[6];
	const char *certs = th_env("POSTERN_TEST_CERTS");

	snprintf(b[0], sizeof(b[0]), "POSTERN_BROKER=%s", F->st.broker.endpoint);
	snprintf(b[1], sizeof(b[1]), "POSTERN_CERT=%s/posternctl.cert", certs);
	snprintf(b[2], sizeof(b[2]), "POSTERN_BROKER_CERT=%s/broker.cert", certs);
	snprintf(b[3], sizeof(b[3]), "POSTERN_KEYRING_DIR=%s", F->keyring);
	snprintf(b[4], sizeof(b[4]), "GNUPGHOME=%s", F->senderhome);
	for (int i = 0; i < 5; i++)
		env[i] = b[i];
	env[5] = NULL;
	return env;
}

/* ctl - run posternctl with args (NULL-terminated); stdout to out_path */
static int ctl(const char *out_path, ...)
{
	char bin[512];
	const char *argv[40];
	int n = 0;
	va_list ap;
	const char *a;

	snprintf(bin, sizeof(bin), "%s/posternctl", th_env("POSTERN_TEST_BIN"));
	argv[n++] = bin;
	va_start(ap, out_path);
	while ((a = va_arg(ap, const char *)) != NULL && n < 39)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	return th_run(argv, ctl_env(), out_path);
}

/* ping_provision - a Ping to provision with the test's client; its status */
static pn_err ping_provision(pn_pool *pool)
{
	Postern__V1__ProvisionRequest req = POSTERN__V1__PROVISION_REQUEST__INIT;
	Postern__V1__Ping ping = POSTERN__V1__PING__INIT;
	ProtobufCMessage *reply = NULL;

	req.op_case = POSTERN__V1__PROVISION_REQUEST__OP_PING;
	req.ping = &ping;
	return pn_client_call(F->st.client, "provision", &req.base,
	    &postern__v1__provision_reply__descriptor, pool, &reply);
}

/* sql - first column of first row (caller frees); asserts a value */
static char *sql(const char *fmt, ...)
{
	char q[2048];
	va_list ap;
	char *v;

	va_start(ap, fmt);
	vsnprintf(q, sizeof(q), fmt, ap);
	va_end(ap);
	v = th_sql(F->st.dsn, q);
	assert_non_null(v);
	return v;
}

/* sql_int - a count */
#define sql_int(...) th_sql_longf(F->st.dsn, __VA_ARGS__)

/* the_mail - a plain test mail from sender */
static char *the_mail(const char *from_name, const char *from, const char *subject,
    const char *body)
{
	char *m = NULL;

	assert_true(asprintf(&m, "From: %s <%s>\r\nTo: someone@%s\r\nSubject: %s\r\n"
	    "Date: Tue, 01 Jul 2025 10:00:00 +0000\r\nMessage-ID: <%d.%s@%s>\r\n"
	    "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n",
	    from_name, from, F->domain, subject, F->seq, F->tag, F->domain, body) > 0);
	return m;
}

/* send_event_x - one SendEvent with deliver_key_found and sender_notice; why in F->why */
static pn_err send_event_x(pn_pool *pool, const char *id, const char *sender,
    const char *const *rcpts, size_t n, const void *mime, size_t len, int with_pin,
    int deliver, Postern__V1__SenderNotice notice, Postern__V1__SendResult **res_r)
{
	const th_event ev = { .id = id, .sender = sender, .rcpts = rcpts, .n = n, .mime = mime,
		.len = len, .with_pin = with_pin, .deliver_key_found = deliver, .notice = notice };

	return th_send_event(F->st.client, pool, &ev, res_r, &F->why);
}

/* send_event - one SendEvent as the first wave knew it; returns the status, result in *res_r (pool) */
static pn_err send_event(pn_pool *pool, const char *id, const char *sender,
    const char *const *rcpts, size_t n, const void *mime, size_t len, int with_pin,
    Postern__V1__SendResult **res_r)
{
	return send_event_x(pool, id, sender, rcpts, n, mime, len, with_pin, 0,
	    POSTERN__V1__SENDER_NOTICE__SENDER_NOTICE_NONE, res_r);
}

/* ---- the SMTP sink ---- */

/* mails_to - the sink's mails for rcpt; the newest one's text in *last_r (caller frees) */
static int mails_to(const char *rcpt, char **last_r)
{
	return th_mails_to(F->st.maildir, rcpt, last_r);
}

/* wait_mails - until rcpt has >= n mails (10 s); returns the count */
static int wait_mails(const char *rcpt, int n)
{
	return th_wait_mails(F->st.maildir, rcpt, n, 10000);
}

/* link_in - the link secret (base64url text) from an invitation; static */
static const char *link_in(const char *mail)
{
	static char link[64];
	const char *p = strstr(mail, PUBLIC_URL "/m/");
	size_t n = 0;

	assert_non_null(p);
	p += strlen(PUBLIC_URL "/m/");
	while (n < 60 && (isalnum((unsigned char)p[n]) || p[n] == '-' || p[n] == '_'))
		n++;
	assert_int_equal(n, 43);
	memcpy(link, p, n);
	link[n] = '\0';
	return link;
}

/* link_bytes - decode base64url */
static void link_bytes(const char *text, uint8_t link[32])
{
	size_t n = 0;
	assert_int_equal(sodium_base642bin(link, 32, text, strlen(text), NULL, &n, NULL,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING), 0);
	assert_int_equal(n, 32);
}

/* passphrase - docs/security.md: base64url(BLAKE2b-256_{link}("postern/guest-key/v1\0" || PIN)) */
static void passphrase(const uint8_t link[32], const char *pin, char out[44])
{
	static const char ctx[] = "postern/guest-key/v1";
	crypto_generichash_state st;
	uint8_t h[32];

	crypto_generichash_init(&st, link, 32, 32);
	crypto_generichash_update(&st, (const uint8_t *)ctx, sizeof(ctx));  /* with the NUL */
	crypto_generichash_update(&st, (const uint8_t *)pin, strlen(pin));
	crypto_generichash_final(&st, h, 32);
	sodium_bin2base64(out, 44, h, 32, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/*
 * decrypt_stored - decrypt a column of bob's stored message with link +
 * pin. The column holds binary OpenPGP, not armor (a quarter smaller on
 * every hop): it starts with a public-key encrypted session key packet
 * (tag 1, old or new format).
 */
static pn_err decrypt_stored(const char *address, const char *event, const char *column,
    const char *link_text, const char *pin, pn_buf *plain)
{
	uint8_t link[32], *cipher;
	char pass[44];
	char *seckey = sql("SELECT convert_from(secret_key, 'UTF8') FROM mailboxes WHERE address = '%s'",
	    address);
	/* a large body is kept in parts (body_parts), the column then empty */
	char *hex = sql("SELECT encode(CASE WHEN octet_length(m.%s) > 0 THEN m.%s ELSE "
	    "(SELECT string_agg(data, ''::bytea ORDER BY seq) FROM body_parts "
	    "WHERE message_id = m.id) END, 'hex') FROM messages m JOIN mailboxes b "
	    "ON b.id = m.mailbox_id WHERE b.address = '%s' AND m.event_id = '%s'",
	    column, column, address, event);
	size_t len = strlen(hex) / 2;
	pn_gpg *gpg = pn_gpg_open(F->testgpg, 65536);
	pn_err err;

	assert_non_null(gpg);
	cipher = pn_malloc(len + 1);
	assert_int_equal(sodium_hex2bin(cipher, len, hex, strlen(hex), NULL, &len, NULL), 0);
	assert_true(len > 0);
	assert_true(cipher[0] == 0x84 || cipher[0] == 0x85 || cipher[0] == 0xc1);
	assert_null(memmem(cipher, len, "-----BEGIN PGP", 14));
	link_bytes(link_text, link);
	passphrase(link, pin, pass);
	err = pn_gpg_decrypt(gpg, seckey, strlen(seckey), pass, cipher, len, plain);
	pn_gpg_close(&gpg);
	free(seckey);
	free(hex);
	free(cipher);
	return err;
}

/* outcome_kind - assert one outcome */
static void want(const Outcome *o, const char *recipient, Postern__V1__Outcome__Kind kind)
{
	if (o->kind != kind)
		fail_msg("%s: kind %d, want %d (error \"%s\")", o->recipient, o->kind, kind,
		    o->error ? o->error : "");
	assert_string_equal(o->recipient, recipient);
}

/* pin_ok - six digits */
static void pin_ok(const char *pin)
{
	assert_non_null(pin);
	assert_int_equal(strlen(pin), PIN_LEN);
	for (const char *p = pin; *p; p++)
		assert_true(*p >= '0' && *p <= '9');
}

/* ---- setup ---- */

static int setup(void **state)
{
	char path[512];
	fx *f = F = th_fixture(sizeof(*f));

	th_run_tag(f->tag, sizeof(f->tag));
	snprintf(f->domain, sizeof(f->domain), "pv%s.example", f->tag);
	f->senderhome = th_tmpdir("pvs");
	f->keyring = th_tmpdir("pvk");
	f->testgpg = th_tmpdir("pvt");

	/* the organisation's users: alice (a sender) and kim (a recipient) */
	th_org_users(f->senderhome, addr("alice"), addr("kim"), path, sizeof(path));
	assert_int_equal(ctl(NULL, "key", "import", path, (char *)NULL), 0);
	th_gpg_fpr(f->senderhome, addr("kim"), f->kim_fpr, sizeof(f->kim_fpr));

	/* kim's key is also the operator's (posternctl reissue --operator) */
	{
		static char operator_env[600];
		snprintf(path, sizeof(path), "%s/operator.asc", f->senderhome);
		assert_int_equal(th_gpg(F->senderhome, path, "--armor", "--export", addr("kim"),
		    (char *)NULL), 0);
		snprintf(operator_env, sizeof(operator_env), "POSTERN_PROVISION_OPERATOR_KEY=%s", path);
		static const char *pv_env[] = { "POSTERN_PROVISION_MAX_MAIL_BYTES=" STR(MAX_MAIL),
			"POSTERN_PUBLIC_URL=" PUBLIC_URL "/", "POSTERN_BUS_TIMEOUT_MS=20000",
			"POSTERN_PIN_LOCKOUT_AFTER=3", "POSTERN_PIN_LOCKOUT_SECONDS=1",
			"POSTERN_PIN_MAX_FAILURES=5", "POSTERN_PROVISION_KEYRING_MAX=1",
			"POSTERN_WORKERS=" STR(PV_WORKERS), "POSTERN_PROVISION_PART_BYTES=" STR(PART),
			NULL, NULL };
		pv_env[9] = operator_env;
		const th_stack_opts o = { .tag = "provision", .keyring = f->keyring,
			.pv_env = pv_env, .client_timeout_ms = 30000, .client_retries = 2 };
		th_stack_start(&f->st, &o);
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;
	const char *homes[] = { f->senderhome, f->testgpg };

	assert_int_equal(th_stack_stop(&f->st), 0);
	for (size_t i = 0; i < 2; i++)
		th_gpg_stop(homes[i]);
	free(f->senderhome);
	free(f->keyring);
	free(f->testgpg);
	free(f);
	return 0;
}

/* ---- tests ---- */

static char bob_pin[16], bob_link[64], bob_event[64];
static char *bob_mail;

/* One event, two recipients: KEY_FOUND and MAILBOX_CREATED with one invitation. */
static void test_created_and_key_found(void **state)
{
	pn_pool *pool = pn_pool_new();
	Postern__V1__SendResult *res;
	const char *rcpts[] = { addr("kim"), addr("bob") };
	const char *id = event_id();
	char *mail = the_mail("Alice Sender", addr("alice"), "Quarterly report",
	    "The secret body 4711."), *inv = NULL;
	(void)state;

	assert_int_equal(send_event(pool, id, addr("alice"), rcpts, 2, mail, strlen(mail), 1,
	    &res), PN_OK);
	want(res->outcomes[0], addr("kim"), POSTERN__V1__OUTCOME__KIND__KEY_FOUND);
	assert_string_equal(res->outcomes[0]->fingerprint, F->kim_fpr);
	assert_string_equal(res->outcomes[0]->pin, "");
	want(res->outcomes[1], addr("bob"), POSTERN__V1__OUTCOME__KIND__MAILBOX_CREATED);
	pin_ok(res->outcomes[1]->pin);
	snprintf(bob_pin, sizeof(bob_pin), "%s", res->outcomes[1]->pin);
	snprintf(bob_event, sizeof(bob_event), "%s", id);
	bob_mail = mail;

	/* nothing stored for kim; one message for bob */
	assert_int_equal(sql_int("SELECT count(*) FROM mailboxes WHERE address = '%s'", addr("kim")), 0);
	assert_int_equal(sql_int("SELECT count(*) FROM messages WHERE event_id = '%s'", id), 1);
	assert_int_equal(wait_mails(addr("bob"), 1), 1);
	usleep(500000);
	assert_int_equal(mails_to(addr("bob"), &inv), 1);
	assert_int_equal(mails_to(addr("kim"), NULL), 0);
	assert_non_null(inv);
	/* the sender is named, the link works, the PIN is not there */
	assert_non_null(strstr(inv, "Alice Sender"));
	assert_non_null(strstr(inv, addr("alice")));
	assert_non_null(strstr(inv, "multipart/alternative"));
	assert_non_null(strstr(inv, "text/html"));
	assert_non_null(strstr(inv, "90 days"));
	assert_null(strstr(inv, bob_pin));
	snprintf(bob_link, sizeof(bob_link), "%s", link_in(inv));
	{
		uint8_t link[32], h[32];
		char hex[65], *stored;
		link_bytes(bob_link, link);
		crypto_generichash(h, 32, link, 32, NULL, 0);
		sodium_bin2hex(hex, sizeof(hex), h, 32);
		stored = sql("SELECT encode(link_hash, 'hex') FROM mailboxes WHERE address = '%s'",
		    addr("bob"));
		assert_string_equal(stored, hex);
		free(stored);
		/* nothing in the database holds the link or the PIN in the clear */
		assert_int_equal(sql_int("SELECT count(*) FROM mailboxes WHERE position('%s' in "
		    "encode(secret_key || public_key || coalesce(pin_verifier, ''::bytea), 'escape')) > 0",
		    bob_link), 0);
	}
	free(inv);
	pn_pool_destroy(&pool);
}

/* The stored message decrypts with link + PIN, and not with a wrong PIN. */
static void test_stored_ciphertext(void **state)
{
	pn_buf plain = { NULL, 0 };
	char wrong[16];
	(void)state;

	assert_true(bob_link[0]);
	assert_int_equal(decrypt_stored(addr("bob"), bob_event, "body", bob_link, bob_pin, &plain),
	    PN_OK);
	assert_int_equal(plain.len, strlen(bob_mail));
	assert_memory_equal(plain.data, bob_mail, plain.len);
	pn_buf_free(&plain);
	assert_int_equal(decrypt_stored(addr("bob"), bob_event, "envelope", bob_link, bob_pin,
	    &plain), PN_OK);
	assert_non_null(strstr((char *)plain.data, "Subject: Quarterly report\n"));
	assert_non_null(strstr((char *)plain.data, "Attachments: no\n"));
	pn_buf_free(&plain);
	snprintf(wrong, sizeof(wrong), "%06d", (atoi(bob_pin) + 1) % 1000000);
	assert_int_equal(decrypt_stored(addr("bob"), bob_event, "body", bob_link, wrong, &plain),
	    PN_ERR_PERM);
	assert_int_equal(decrypt_stored(addr("bob"), bob_event, "body", bob_link, "", &plain),
	    PN_ERR_PERM);
	assert_int_equal(sql_int("SELECT size FROM messages WHERE event_id = '%s'", bob_event),
	    (long)strlen(bob_mail));
}

/*
 * A body larger than a part reaches mailstore in parts ahead of its
 * Accept: stored whole (it decrypts to the mail), no part left behind,
 * and a retry of the event stores nothing twice. The same ahead of a
 * Reissue.
 */
static void test_large_in_parts(void **state)
{
	pn_pool *pool = pn_pool_new();
	Postern__V1__SendResult *res;
	const char *rcpts[] = { addr("lars") };
	const char *id = event_id();
	size_t n = 300000, tlen = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
	uint8_t *noise = pn_malloc(n);
	char *text = pn_malloc(tlen), *mail, *inv = NULL, pin[16];
	double before = th_metric(F->st.pv_health[0], "postern_provision_parts_sent_total");
	pn_buf plain = { NULL, 0 };
	(void)state;

	/* a body at most an eighth over a part goes whole, in the Accept */
	{
		char *small = pn_malloc(PART + 1);
		const char *sid = event_id(), *srcpt[] = { addr("lisa") };

		memset(small, 'a', PART);
		small[PART] = '\0';
		mail = the_mail("Alice", addr("alice"), "a part and a bit", small);
		assert_int_equal(send_event(pool, sid, addr("alice"), srcpt, 1, mail, strlen(mail), 1,
		    &res), PN_OK);
		want(res->outcomes[0], addr("lisa"), POSTERN__V1__OUTCOME__KIND__MAILBOX_CREATED);
		assert_true(sql_int("SELECT octet_length(body) FROM messages WHERE event_id = '%s'",
		    sid) > PART);
		assert_int_equal(sql_int("SELECT count(*) FROM body_parts p JOIN messages m "
		    "ON m.id = p.message_id WHERE m.event_id = '%s'", sid), 0);
		free(mail);
		free(small);
	}
	/* noise does not compress: the ciphertext is over four parts */
	randombytes_buf(noise, n);
	sodium_bin2base64(text, tlen, noise, n, sodium_base64_VARIANT_ORIGINAL);
	mail = the_mail("Alice", addr("alice"), "large", text);
	assert_int_equal(send_event(pool, id, addr("alice"), rcpts, 1, mail, strlen(mail), 1,
	    &res), PN_OK);
	want(res->outcomes[0], addr("lars"), POSTERN__V1__OUTCOME__KIND__MAILBOX_CREATED);
	snprintf(pin, sizeof(pin), "%s", res->outcomes[0]->pin);
	assert_true(th_metric(F->st.pv_health[0], "postern_provision_parts_sent_total") >=
	    (before < 0 ? 0 : before) + (double)n / PART);
	assert_int_equal(sql_int("SELECT count(*) FROM body_parts WHERE message_id IS NULL"), 0);
	assert_true(sql_int("SELECT count(*) FROM body_parts p JOIN messages m "
	    "ON m.id = p.message_id WHERE m.event_id = '%s'", id) >= (long)(n / PART));
	assert_int_equal(wait_mails(addr("lars"), 1), 1);
	assert_int_equal(mails_to(addr("lars"), &inv), 1);
	assert_int_equal(decrypt_stored(addr("lars"), id, "body", link_in(inv), pin, &plain), PN_OK);
	assert_int_equal(plain.len, strlen(mail));
	assert_memory_equal(plain.data, mail, plain.len);
	assert_int_equal(sql_int("SELECT size FROM messages WHERE event_id = '%s'", id),
	    (long)strlen(mail));

	/* the same event again: one message, no part left behind */
	assert_int_equal(send_event(pool, id, addr("alice"), rcpts, 1, mail, strlen(mail), 1,
	    &res), PN_OK);
	want(res->outcomes[0], addr("lars"), POSTERN__V1__OUTCOME__KIND__MAILBOX_CREATED);
	assert_string_equal(res->outcomes[0]->pin, pin);
	assert_int_equal(sql_int("SELECT count(*) FROM messages WHERE event_id = '%s'", id), 1);
	assert_int_equal(sql_int("SELECT count(*) FROM body_parts WHERE message_id IS NULL"), 0);

	/* a second large mail to the mailbox never activated: re-issued, the mail in parts */
	id = event_id();
	assert_int_equal(send_event(pool, id, addr("alice"), rcpts, 1, mail, strlen(mail), 1,
	    &res), PN_OK);
	want(res->outcomes[0], addr("lars"), POSTERN__V1__OUTCOME__KIND__MAILBOX_REISSUED);
	snprintf(pin, sizeof(pin), "%s", res->outcomes[0]->pin);
	assert_true(sql_int("SELECT count(*) FROM body_parts p JOIN messages m "
	    "ON m.id = p.message_id WHERE m.event_id = '%s'", id) >= (long)(n / PART));
	assert_int_equal(sql_int("SELECT count(*) FROM body_parts WHERE message_id IS NULL"), 0);
	assert_int_equal(wait_mails(addr("lars"), 2), 2);
	free(inv);
	inv = NULL;
	assert_int_equal(mails_to(addr("lars"), &inv), 2);
	pn_buf_free(&plain);
	assert_int_equal(decrypt_stored(addr("lars"), id, "body", link_in(inv), pin, &plain), PN_OK);
	assert_int_equal(plain.len, strlen(mail));
	assert_memory_equal(plain.data, mail, plain.len);
	pn_buf_free(&plain);
	free(inv);
	free(mail);
	free(text);
	free(noise);
	pn_pool_destroy(&pool);
}

/* The same event id three times: same outcomes, one message, one invitation. */
static void test_same_event_thrice(void **state)
{
	pn_pool *pool = pn_pool_new();
	Postern__V1__SendResult *res;
	char erin2[160];
	const char *rcpts[] = { addr("erin"), addr("kim"), erin2 };
	const char *id = event_id();
	char *mail = the_mail("Alice", addr("alice"), "thrice", "once only");
	char pin[16] = "";
	(void)state;

	/* the same address once more, as people paste it */
	snprintf(erin2, sizeof(erin2), "  Erin <erin@%s> ", F->domain);
	for (char *p = strchr(erin2, '@'); *p; p++)
		*p = (char)toupper((unsigned char)*p);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(send_event(pool, id, addr("alice"), rcpts, 3, mail, strlen(mail), 1,
		    &res), PN_OK);
		want(res->outcomes[0], addr("erin"), POSTERN__V1__OUTCOME__KIND__MAILBOX_CREATED);
		want(res->outcomes[1], addr("kim"), POSTERN__V1__OUTCOME__KIND__KEY_FOUND);
		/* the repeated address reports the same */
		want(res->outcomes[2], addr("erin"), POSTERN__V1__OUTCOME__KIND__MAILBOX_CREATED);
		pin_ok(res->outcomes[0]->pin);
		if (i == 0)
			snprintf(pin, sizeof(pin), "%s", res->outcomes[0]->pin);
		assert_string_equal(res->outcomes[0]->pin, pin);
		assert_string_equal(res->outcomes[2]->pin, pin);
	}
	assert_int_equal(sql_int("SELECT count(*) FROM messages WHERE event_id = '%s'", id), 1);
	assert_int_equal(sql_int("SELECT count(*) FROM outbox WHERE idem_key LIKE '%s/%%'", id), 1);
	assert_int_equal(wait_mails(addr("erin"), 1), 1);
	usleep(500000);
	assert_int_equal(mails_to(addr("erin"), NULL), 1);
	free(mail);
	pn_pool_destroy(&pool);
}

/*
 * reissued_link - the newest mail to address must be a new invitation:
 * its link (static), different from old, with no PIN in it
 */
static const char *reissued_link(const char *address, int n, const char *old, const char *pin)
{
	static char link[64];
	char *inv = NULL;

	assert_int_equal(wait_mails(address, n), n);
	assert_int_equal(mails_to(address, &inv), n);
	assert_non_null(inv);
	assert_non_null(strstr(inv, "links of earlier"));
	if (pin && *pin)
		assert_null(strstr(inv, pin));
	snprintf(link, sizeof(link), "%s", link_in(inv));
	assert_string_not_equal(link, old);
	free(inv);
	return link;
}

/*
 * Another sender to bob, who never opened his mailbox: it is re-issued -
 * MAILBOX_REISSUED with a new PIN, a new invitation with a new link, the
 * key re-protected for them (the old link and PIN no longer open it), both
 * messages kept; the old PIN copy of the first sender goes.
 */
static void test_second_sender(void **state)
{
	pn_pool *pool = pn_pool_new();
	Postern__V1__SendResult *res;
	const char *rcpts[] = { addr("bob") };
	const char *id = event_id();
	char *mail = the_mail("Carol", addr("carol"), "hello again", "second message");
	char old_link[64], old_pin[16], out[512];
	(void)state;

	snprintf(old_link, sizeof(old_link), "%s", bob_link);
	snprintf(old_pin, sizeof(old_pin), "%s", bob_pin);
	assert_int_equal(send_event(pool, id, addr("carol"), rcpts, 1, mail, strlen(mail), 1,
	    &res), PN_OK);
	want(res->outcomes[0], addr("bob"), POSTERN__V1__OUTCOME__KIND__MAILBOX_REISSUED);
	pin_ok(res->outcomes[0]->pin);
	snprintf(bob_pin, sizeof(bob_pin), "%s", res->outcomes[0]->pin);
	snprintf(bob_link, sizeof(bob_link), "%s", reissued_link(addr("bob"), 2, old_link, bob_pin));
	assert_int_equal(sql_int("SELECT count(*) FROM messages m JOIN mailboxes b ON "
	    "b.id = m.mailbox_id WHERE b.address = '%s'", addr("bob")), 2);
	assert_int_equal(sql_int("SELECT reissue_count FROM mailboxes WHERE address = '%s'",
	    addr("bob")), 1);
	/* both messages open with the new link and PIN, none with the old ones */
	{
		pn_buf plain = { NULL, 0 };
		assert_int_equal(decrypt_stored(addr("bob"), id, "body", bob_link, bob_pin, &plain),
		    PN_OK);
		assert_memory_equal(plain.data, mail, strlen(mail));
		pn_buf_free(&plain);
		assert_int_equal(decrypt_stored(addr("bob"), bob_event, "body", bob_link, bob_pin,
		    &plain), PN_OK);
		pn_buf_free(&plain);
		assert_int_not_equal(decrypt_stored(addr("bob"), bob_event, "body", old_link, old_pin,
		    &plain), PN_OK);
		pn_buf_free(&plain);
	}
	/* the same event again: the same answer, nothing more */
	assert_int_equal(send_event(pool, id, addr("carol"), rcpts, 1, mail, strlen(mail), 1,
	    &res), PN_OK);
	want(res->outcomes[0], addr("bob"), POSTERN__V1__OUTCOME__KIND__MAILBOX_REISSUED);
	assert_string_equal(res->outcomes[0]->pin, bob_pin);
	usleep(300000);
	assert_int_equal(mails_to(addr("bob"), NULL), 2);
	/* alice's copy of the old PIN is gone; carol has no key, so no copy either */
	snprintf(out, sizeof(out), "%s/pin2.out", F->senderhome);
	assert_int_equal(ctl(out, "pin", "--sender", addr("alice"), "--recipient", addr("bob"),
	    (char *)NULL), 1);
	free(mail);
	pn_pool_destroy(&pool);
}

/*
 * posternctl reissue: kim (a key, but no sender of bob's) and carol (a
 * sender, but no key) get nothing and change nothing; alice (the
 * creator, her secret key here) gets a new link and PIN, the PIN copy
 * is hers again; the operator (kim's key as POSTERN_PROVISION_OPERATOR_KEY)
 * may too; an active mailbox is refused.
 */
static void test_posternctl_reissue(void **state)
{
	char out[512], *text, *hash0, *hash1, old_link[64];
	const char *p;
	int mails = mails_to(addr("bob"), NULL);
	(void)state;

	snprintf(out, sizeof(out), "%s/reissue.out", F->senderhome);
	hash0 = sql("SELECT encode(link_hash, 'hex') FROM mailboxes WHERE address = '%s'",
	    addr("bob"));
	assert_int_equal(ctl(out, "reissue", "--sender", addr("kim"), "--recipient", addr("bob"),
	    "--pin", (char *)NULL), 1);
	text = th_read_file(out, NULL);
	assert_string_equal(text, "");
	free(text);
	assert_int_equal(ctl(out, "reissue", "--sender", addr("carol"), "--recipient",
	    addr("bob"), (char *)NULL), 1);
	assert_int_equal(ctl(out, "reissue", "--sender", addr("kim"), "--recipient",
	    addr("nobody"), (char *)NULL), 1);
	hash1 = sql("SELECT encode(link_hash, 'hex') FROM mailboxes WHERE address = '%s'",
	    addr("bob"));
	assert_string_equal(hash0, hash1);          /* nothing changed */
	free(hash1);
	usleep(300000);
	assert_int_equal(mails_to(addr("bob"), NULL), mails);

	/* alice proves her key: a new link and PIN */
	assert_int_equal(ctl(out, "reissue", "--sender", addr("alice"), "--recipient", addr("bob"),
	    "--pin", (char *)NULL), 0);
	text = th_read_file(out, NULL);
	assert_non_null(p = strstr(text, "\tMAILBOX_REISSUED\tpin="));
	snprintf(bob_pin, sizeof(bob_pin), "%.6s", p + strlen("\tMAILBOX_REISSUED\tpin="));
	pin_ok(bob_pin);
	free(text);
	snprintf(old_link, sizeof(old_link), "%s", bob_link);
	snprintf(bob_link, sizeof(bob_link), "%s", reissued_link(addr("bob"), mails + 1, old_link,
	    bob_pin));
	{
		pn_buf plain = { NULL, 0 };
		assert_int_equal(decrypt_stored(addr("bob"), bob_event, "body", bob_link, bob_pin,
		    &plain), PN_OK);
		pn_buf_free(&plain);
	}
	assert_int_equal(ctl(out, "pin", "--sender", addr("alice"), "--recipient", addr("bob"),
	    (char *)NULL), 0);
	text = th_read_file(out, NULL);
	assert_non_null(strstr(text, bob_pin));
	free(text);

	/* the operator, in the creator's name */
	snprintf(old_link, sizeof(old_link), "%s", bob_link);
	assert_int_equal(ctl(out, "reissue", "--operator", "--recipient", addr("bob"), "--pin",
	    (char *)NULL), 0);
	text = th_read_file(out, NULL);
	assert_non_null(p = strstr(text, "\tMAILBOX_REISSUED\tpin="));
	snprintf(bob_pin, sizeof(bob_pin), "%.6s", p + strlen("\tMAILBOX_REISSUED\tpin="));
	free(text);
	snprintf(bob_link, sizeof(bob_link), "%s", reissued_link(addr("bob"), mails + 2, old_link,
	    bob_pin));
	assert_int_equal(sql_int("SELECT reissue_count FROM mailboxes WHERE address = '%s'",
	    addr("bob")), 3);
	free(hash0);
}

/* posternctl pin: alice's key opens it; carol gets nothing. */
static void test_posternctl_pin(void **state)
{
	char out[512], *text;
	char want_line[32];
	(void)state;

	snprintf(out, sizeof(out), "%s/pin.out", F->senderhome);
	assert_int_equal(ctl(out, "pin", "--sender", addr("alice"), "--recipient", addr("bob"),
	    (char *)NULL), 0);
	text = th_read_file(out, NULL);
	assert_non_null(text);
	assert_non_null(strstr(text, "-----BEGIN PGP MESSAGE-----"));
	snprintf(want_line, sizeof(want_line), "PIN: %s\n", bob_pin);
	assert_non_null(strstr(text, want_line));
	free(text);
	assert_int_equal(ctl(out, "pin", "--sender", addr("carol"), "--recipient", addr("bob"),
	    (char *)NULL), 1);
	text = th_read_file(out, NULL);
	assert_non_null(text);
	assert_string_equal(text, "");
	free(text);
}

/*
 * posternctl send --locale de --note: the invitation is German and carries
 * the note as text (escaped in HTML); a note over 1,000 characters is
 * refused with a clear error, and nothing is sent.
 */
static void test_note_and_locale(void **state)
{
	char out[512], note[1100], *last = NULL;
	ts_mail m;
	(void)state;

	snprintf(out, sizeof(out), "%s/note.out", F->senderhome);
	assert_int_equal(ctl(out, "send", "--from", addr("alice"), "--to", addr("nora"),
	    "--locale", "de", "--note", "Bis morgen!\n<script>alert(1)</script>",
	    "--body", "Hallo Nora", (char *)NULL), 0);
	assert_int_equal(wait_mails(addr("nora"), 1), 1);
	assert_int_equal(mails_to(addr("nora"), &last), 1);
	assert_non_null(last);
	assert_int_equal(ts_mail_parse(last, strlen(last), &m), 0);
	assert_string_equal(m.content_language, "de");
	assert_non_null(strstr(m.text, "hat Ihnen eine verschlüsselte Nachricht gesendet"));
	assert_non_null(strstr(m.text, "<script>alert(1)</script>"));
	assert_non_null(strstr(m.html, "&lt;script&gt;alert(1)&lt;/script&gt;"));
	assert_null(strstr(m.html, "<script"));
	assert_false(m.outside);
	ts_mail_free(&m);
	free(last);

	/* 1,001 characters: refused, with the reason, and nothing is sent */
	memset(note, 'x', 1001);
	note[1001] = '\0';
	{
		static const char mime[] = "From: a@example.org\r\nSubject: x\r\n\r\nHi\r\n";
		const char *one[] = { addr("olga") };
		const th_event ev = { .id = event_id(), .sender = addr("alice"), .rcpts = one, .n = 1,
			.mime = mime, .len = sizeof(mime) - 1, .note = note, .locale = "../../etc" };
		Postern__V1__SendResult *res = NULL;
		pn_pool *pool = pn_pool_new();
		assert_int_equal(th_send_event(F->st.client, pool, &ev, &res, &F->why), PN_ERR_PARAMS);
		assert_non_null(strstr(F->why, "the note is longer than 1000 characters"));
		pn_pool_destroy(&pool);
	}
	assert_int_not_equal(ctl(out, "send", "--from", addr("alice"), "--to", addr("olga"),
	    "--note", note, "--body", "Hi", (char *)NULL), 0);
	usleep(300000);
	assert_int_equal(mails_to(addr("olga"), NULL), 0);
}

/*
 * A hostile SendEvent.locale - a path, 10 KB, control characters - is no
 * reason to refuse the mail: the invitation goes out in the default
 * language, and provision logs the bad tag (bounded, made harmless).
 */
static void test_hostile_locale(void **state)
{
	static const char mime[] = "From: a@example.org\r\nSubject: x\r\n\r\nHi\r\n";
	static char big[10 * 1024 + 1];
	const char *tags[] = { "../../etc", big, "de\r\nBcc: eve@example.org\x1b[31m" };
	const char *who[] = { "hostile-path", "hostile-big", "hostile-ctl" };
	(void)state;

	memset(big, 'a', sizeof(big) - 1);
	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		const char *one[] = { addr(who[i]) };
		const th_event ev = { .id = event_id(), .sender = addr("alice"), .rcpts = one, .n = 1,
			.mime = mime, .len = sizeof(mime) - 1, .locale = tags[i] };
		Postern__V1__SendResult *res = NULL;
		pn_pool *pool = pn_pool_new();
		char *last = NULL;
		const char *why;
		ts_mail m;

		assert_int_equal(th_send_event(F->st.client, pool, &ev, &res, &F->why), PN_OK);
		assert_int_equal(res->outcomes[0]->kind, POSTERN__V1__OUTCOME__KIND__MAILBOX_CREATED);
		pn_pool_destroy(&pool);
		assert_int_equal(wait_mails(one[0], 1), 1);
		assert_int_equal(mails_to(one[0], &last), 1);
		assert_null(strstr(last, "eve@example.org"));
		assert_int_equal(ts_mail_parse(last, strlen(last), &m), 0);
		if ((why = ts_mail_check(&m, "en")) != NULL)
			fail_msg("%s: %s", who[i], why);
		ts_mail_free(&m);
		free(last);
	}
	/* logged, each time, without the raw bytes */
	assert_true(th_log_has("postern-provision", F->st.pv[0],
	    "msg=\"malformed language tag, using the default\" from=\"send event\" tag=\"../../etc\""));
	assert_true(th_log_has("postern-provision", F->st.pv[0], "tag_len=10240 default=en"));
	assert_false(th_log_has("postern-provision", F->st.pv[0], "Bcc: eve"));
	assert_false(th_log_has("postern-provision", F->st.pv[0], "\x1b[31m"));
}

/* posternctl send --sent-copy: the PIN header goes into the sent copy only. */
static void test_sent_copy(void **state)
{
	char out[512], copy[512], want_line[64], *text, *sent, *inv = NULL, pin[16] = "";
	const char *id = event_id();
	pn_buf plain = { NULL, 0 };
	(void)state;

	snprintf(out, sizeof(out), "%s/send.out", F->senderhome);
	snprintf(copy, sizeof(copy), "%s/sent.eml", F->senderhome);
	assert_int_equal(ctl(out, "send", "--from", addr("alice"), "--to", addr("frank"),
	    "--to", addr("kim"), "--pin", "--subject", "Contract", "--body", "Sign here.",
	    "--sent-copy", copy, "--event-id", id, (char *)NULL), 0);
	text = th_read_file(out, NULL);
	assert_non_null(text);
	{
		const char *p = strstr(text, "\tMAILBOX_CREATED\tpin=");
		assert_non_null(p);
		snprintf(pin, sizeof(pin), "%.6s", p + strlen("\tMAILBOX_CREATED\tpin="));
		pin_ok(pin);
		assert_non_null(strstr(text, "\tKEY_FOUND\tfingerprint="));
	}
	free(text);
	sent = th_read_file(copy, NULL);
	assert_non_null(sent);
	snprintf(want_line, sizeof(want_line), "X-OxGuard-PIN: %s\r\n", pin);
	assert_true(strncmp(sent, want_line, strlen(want_line)) == 0);
	assert_non_null(strstr(sent, "Subject: Contract"));
	/* what was stored (the published mail) has no such header */
	assert_int_equal(wait_mails(addr("frank"), 1), 1);
	assert_int_equal(mails_to(addr("frank"), &inv), 1);
	assert_null(strstr(inv, "X-OxGuard-PIN"));
	assert_null(strstr(inv, pin));
	assert_int_equal(decrypt_stored(addr("frank"), id, "body", link_in(inv), pin, &plain),
	    PN_OK);
	assert_null(strstr((char *)plain.data, "X-OxGuard-PIN"));
	assert_non_null(strstr((char *)plain.data, "Sign here."));
	/* the sent copy is the published mail plus the header line */
	assert_int_equal(strlen(sent), plain.len + strlen(want_line));
	assert_memory_equal(sent + strlen(want_line), plain.data, plain.len);
	pn_buf_free(&plain);
	free(inv);
	free(sent);
	/* without a PIN no header */
	assert_int_equal(ctl(out, "send", "--from", addr("alice"), "--to", addr("frank"),
	    "--body", "again", "--sent-copy", copy, (char *)NULL), 0);
	sent = th_read_file(copy, NULL);
	assert_null(strstr(sent, "X-OxGuard-PIN"));
	free(sent);
}

/* pin_verify - one PinVerify call */
static Postern__V1__PinVerdict *pin_verify(pn_pool *pool, int64_t id, const char *link,
    const char *pin, const char *client, pn_err *rc_r)
{
	Postern__V1__PinVerify v = POSTERN__V1__PIN_VERIFY__INIT;
	Postern__V1__PinVerdict *verdict;
	const char *why;

	v.mailbox_id = id;
	v.link_secret.data = (uint8_t *)link;
	v.link_secret.len = strlen(link);
	v.pin = (char *)pin;
	v.client = (char *)client;
	*rc_r = pn_prov_pin_verify(th_caller(&F->st.callers, "provision",
	    POSTERN__V1__PROVISION_REQUEST__OP_PIN_VERIFY), pool, &v, &verdict, &why);
	return *rc_r == PN_OK ? verdict : NULL;
}

/* PinVerify: ok, wrong, lock-out, locked; the sender is told. */
static void test_pin_verify(void **state)
{
	pn_pool *pool = pn_pool_new();
	Postern__V1__SendResult *res;
	Postern__V1__PinVerdict *v;
	const char *rcpts[] = { addr("gina") };
	char *mail = the_mail("Alice", addr("alice"), "pin", "pin test"), *inv = NULL, *s;
	char pin[16], wrong[16], link[64], bad_link[64], client[64], client2[64];
	int64_t id;
	pn_err rc;
	(void)state;

	assert_int_equal(send_event(pool, event_id(), addr("alice"), rcpts, 1, mail, strlen(mail),
	    1, &res), PN_OK);
	want(res->outcomes[0], addr("gina"), POSTERN__V1__OUTCOME__KIND__MAILBOX_CREATED);
	snprintf(pin, sizeof(pin), "%s", res->outcomes[0]->pin);
	snprintf(wrong, sizeof(wrong), "%06d", (atoi(pin) + 7) % 1000000);
	assert_int_equal(wait_mails(addr("gina"), 1), 1);
	mails_to(addr("gina"), &inv);
	snprintf(link, sizeof(link), "%s", link_in(inv));
	free(inv);
	s = sql("SELECT id FROM mailboxes WHERE address = '%s'", addr("gina"));
	id = atoll(s);
	free(s);
	/* client addresses of this run only (Redis is shared by the suites) */
	snprintf(client, sizeof(client), "192.0.2.1-%s", F->tag);
	snprintf(client2, sizeof(client2), "192.0.2.9-%s", F->tag);

	v = pin_verify(pool, id, link, pin, client, &rc);
	assert_int_equal(rc, PN_OK);
	assert_int_equal(v->verdict, POSTERN__V1__PIN_VERDICT__VERDICT__PIN_OK);
	/* a wrong link is refused and does not count against the mailbox */
	snprintf(bad_link, sizeof(bad_link), "%s", link);
	bad_link[0] = bad_link[0] == 'A' ? 'B' : 'A';
	assert_null(pin_verify(pool, id, bad_link, pin, client2, &rc));
	assert_int_equal(rc, PN_ERR_PERM);
	/* 1, 2 wrong; 3 starts a 1 s lock-out (POSTERN_PIN_LOCKOUT_AFTER=3) */
	for (int i = 1; i <= 2; i++) {
		v = pin_verify(pool, id, link, wrong, client, &rc);
		assert_int_equal(v->verdict, POSTERN__V1__PIN_VERDICT__VERDICT__PIN_WRONG);
		assert_int_equal(v->tries_left, 5 - i);
		assert_int_equal(v->locked_until, 0);
	}
	v = pin_verify(pool, id, link, wrong, client, &rc);
	assert_int_equal(v->verdict, POSTERN__V1__PIN_VERDICT__VERDICT__PIN_WRONG);
	assert_true(v->locked_until > 0);
	/* during the lock-out even the right PIN is refused */
	v = pin_verify(pool, id, link, pin, client, &rc);
	assert_int_equal(v->verdict, POSTERN__V1__PIN_VERDICT__VERDICT__PIN_LOCKED);
	usleep(1100000);
	v = pin_verify(pool, id, link, wrong, client, &rc);
	assert_int_equal(v->verdict, POSTERN__V1__PIN_VERDICT__VERDICT__PIN_WRONG);
	assert_int_equal(v->tries_left, 1);
	usleep(2100000);
	v = pin_verify(pool, id, link, wrong, client, &rc);
	assert_int_equal(v->verdict, POSTERN__V1__PIN_VERDICT__VERDICT__PIN_LOCKED);
	assert_int_equal(v->locked_until, 0);
	s = sql("SELECT state FROM mailboxes WHERE id = %lld", (long long)id);
	assert_string_equal(s, "locked");
	free(s);
	v = pin_verify(pool, id, link, pin, client, &rc);
	assert_int_equal(v->verdict, POSTERN__V1__PIN_VERDICT__VERDICT__PIN_LOCKED);
	/* alice is told, once */
	assert_true(wait_mails(addr("alice"), 1) >= 1);
	mails_to(addr("alice"), &inv);
	assert_non_null(strstr(inv, "locked"));
	assert_non_null(strstr(inv, addr("gina")));
	assert_null(strstr(inv, pin));
	free(inv);
	usleep(300000);
	assert_int_equal(mails_to(addr("alice"), NULL), 1);
	free(mail);
	pn_pool_destroy(&pool);
}

/* Bad input: clear errors, nothing stored, every process stays up. */
static void test_bad_input(void **state)
{
	pn_pool *pool = pn_pool_new();
	Postern__V1__SendResult *res;
	const char *one[] = { addr("hank") };
	const char *why = NULL;
	const char *id;
	pn_err rc;
	(void)state;

	/* malformed MIME */
	static const char *const bad[] = {
		"this is not a mail at all\n",
		"From: a@example.org\r\nContent-Type: multipart/mixed\r\n\r\n--x\r\nhello\r\n",
		"Subject: no sender\r\n\r\nbody\r\n",
	};
	for (size_t i = 0; i < 3; i++) {
		id = event_id();
		rc = send_event(pool, id, addr("alice"), one, 1, bad[i], strlen(bad[i]), 0, &res);
		assert_int_equal(rc, PN_ERR_PARAMS);
		why = F->why;
		assert_non_null(strstr(why, "not a valid RFC 5322 message"));
	}
	{
		static const char nul[] = "From: a@example.org\r\n\r\nbin\0ary";
		rc = send_event(pool, event_id(), addr("alice"), one, 1, nul, sizeof(nul) - 1, 0, &res);
		assert_int_equal(rc, PN_ERR_PARAMS);
	}
	/* 0 bytes */
	rc = send_event(pool, event_id(), addr("alice"), one, 1, "", 0, 0, &res);
	assert_int_equal(rc, PN_ERR_PARAMS);
	why = F->why;
	assert_non_null(strstr(why, "empty"));
	/* over the limit */
	{
		size_t len = MAX_MAIL + 1;
		char *big = malloc(len);
		const char *hdr = "From: a@example.org\r\nSubject: big\r\n\r\n";
		assert_non_null(big);
		memset(big, 'x', len);
		memcpy(big, hdr, strlen(hdr));
		id = event_id();
		rc = send_event(pool, id, addr("alice"), one, 1, big, len, 0, &res);
		assert_int_equal(rc, PN_ERR_TOOLARGE);
		why = F->why;
		assert_non_null(strstr(why, "POSTERN_PROVISION_MAX_MAIL_BYTES"));
		assert_int_equal(sql_int("SELECT count(*) FROM messages WHERE event_id = '%s'", id), 0);
		free(big);
	}
	/* 10,000 recipients */
	{
		char *mail = the_mail("Alice", addr("alice"), "many", "many");
		const char **many = malloc(10000 * sizeof(*many));
		char (*bufs)[96] = malloc(10000 * 96);
		assert_non_null(many);
		assert_non_null(bufs);
		for (int i = 0; i < 10000; i++) {
			snprintf(bufs[i], 96, "r%d@%s", i, F->domain);
			many[i] = bufs[i];
		}
		id = event_id();
		rc = send_event(pool, id, addr("alice"), many, 10000, mail, strlen(mail), 1, &res);
		assert_int_equal(rc, PN_ERR_TOOLARGE);
		why = F->why;
		assert_non_null(strstr(why, "POSTERN_MAX_RECIPIENTS"));
		assert_int_equal(sql_int("SELECT count(*) FROM messages WHERE event_id = '%s'", id), 0);
		assert_int_equal(sql_int("SELECT count(*) FROM mailboxes WHERE address LIKE 'r%%@%s'",
		    F->domain), 0);
		free(many);
		free(bufs);
		free(mail);
	}
	/* invalid addresses: rejected each, the valid one still served */
	{
		char *mail = the_mail("Alice", addr("alice"), "mixed", "mixed");
		const char *rcpts[] = { "not an address", "nobody@", addr("ivan"), "a@b@c.example" };
		assert_int_equal(send_event(pool, event_id(), addr("alice"), rcpts, 4, mail,
		    strlen(mail), 0, &res), PN_OK);
		for (int i = 0; i < 4; i++) {
			const Outcome *o = res->outcomes[i];
			if (i == 2) {
				want(o, addr("ivan"), POSTERN__V1__OUTCOME__KIND__MAILBOX_CREATED);
				assert_string_equal(o->pin, "");
			} else {
				assert_int_equal(o->kind, POSTERN__V1__OUTCOME__KIND__REJECTED);
				assert_true(o->error && strlen(o->error) > 3);
			}
		}
		/* a bad sender rejects the event */
		rc = send_event(pool, event_id(), "not a sender", one, 1, mail, strlen(mail), 0, &res);
		assert_int_equal(rc, PN_ERR_PARAMS);
		/* a bad event id too */
		rc = send_event(pool, "with space", addr("alice"), one, 1, mail, strlen(mail), 0, &res);
		assert_int_equal(rc, PN_ERR_PARAMS);
		free(mail);
	}
	/* a malformed protobuf */
	{
		static const uint8_t junk[] = { 0x12, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02 };
		uint8_t *out = NULL;
		size_t len = 0;
		assert_int_equal(pn_client_call_raw(F->st.client, "provision", junk, sizeof(junk),
		    &out, &len), PN_OK);
		ProtobufCMessage *m = pn_pb_unpack(&postern__v1__provision_reply__descriptor, out, len,
		    len + 1, pool);
		assert_non_null(m);
		assert_int_equal(pn_pb_get_status(m, &why), PN_ERR_PARAMS);
		free(out);
	}
	/* everything still up and answering */
	assert_true(th_alive(F->st.pv[0]));
	assert_true(th_alive(F->st.ms));
	assert_true(th_alive(F->st.kl));
	assert_int_equal(ping_provision(pool), PN_OK);
	pn_pool_destroy(&pool);
}

/* keyring_homes - the kr.* homes in provision's POSTERN_GNUPGHOME */
static int keyring_homes(void)
{
	int n = ts_entries(F->st.gnupg[0], "kr.");

	assert_true(n >= 0);
	return n;
}

/* renewals - postern_provision_keyring_renewals_total, 0 before the first */
static double renewals(void)
{
	double v = th_metric(F->st.pv_health[0], "postern_provision_keyring_renewals_total");
	return v < 0 ? 0 : v;
}

/* wait_renewal - until the renewal count passes before (10 s); the count */
static double wait_renewal(double before)
{
	double v = renewals();

	for (int i = 0; i < 100 && v <= before; i++) {
		usleep(100000);
		v = renewals();
	}
	return v;
}

/* After a keyring renewal: mail to an existing mailbox and to a new one still arrives. */
static void test_keyring_renewed(void **state)
{
	pn_pool *pool = pn_pool_new();
	Postern__V1__SendResult *res;
	const char *bob[] = { addr("bob") }, *lena[] = { addr("lena") };
	const char *id = event_id(), *id2;
	char *mail = the_mail("Carol", addr("carol"), "after renewal", "still here 815"), *inv;
	char pin[16], link[64];
	int bob_before = mails_to(addr("bob"), NULL);
	double before;
	(void)state;

	/* the tests above imported keys: renewed, and one home per worker at a time */
	assert_true(renewals() >= 1);
	assert_int_equal(keyring_homes(), PV_WORKERS);
	/* bob's key: imported again into the current home, then that home renewed */
	before = renewals();
	assert_int_equal(send_event(pool, id, addr("carol"), bob, 1, mail, strlen(mail), 0, &res),
	    PN_OK);
	/* bob never opened it: re-issued, now without a PIN (the event asks for none) */
	want(res->outcomes[0], addr("bob"), POSTERN__V1__OUTCOME__KIND__MAILBOX_REISSUED);
	assert_string_equal(res->outcomes[0]->pin, "");
	assert_true(wait_renewal(before) > before);
	/* bounded: the limit, plus what one lock may add (a pool batch of 8) */
	assert_true(th_metric(F->st.pv_health[0], "postern_provision_keyring_keys") <= 1 + 8);
	assert_int_equal(keyring_homes(), PV_WORKERS);
	snprintf(bob_link, sizeof(bob_link), "%s", reissued_link(addr("bob"), bob_before + 1,
	    bob_link, NULL));
	bob_pin[0] = '\0';
	{
		pn_buf plain = { NULL, 0 };
		assert_int_equal(decrypt_stored(addr("bob"), id, "body", bob_link, bob_pin, &plain),
		    PN_OK);
		assert_memory_equal(plain.data, mail, strlen(mail));
		pn_buf_free(&plain);
	}
	/* and once more into the renewed keyring: bob again, and a new mailbox with a PIN */
	before = renewals();
	id = event_id();
	assert_int_equal(send_event(pool, id, addr("carol"), bob, 1, mail, strlen(mail), 0, &res),
	    PN_OK);
	want(res->outcomes[0], addr("bob"), POSTERN__V1__OUTCOME__KIND__MAILBOX_REISSUED);
	snprintf(bob_link, sizeof(bob_link), "%s", reissued_link(addr("bob"), bob_before + 2,
	    bob_link, NULL));
	assert_true(wait_renewal(before) > before);
	id2 = event_id();
	assert_int_equal(send_event(pool, id2, addr("alice"), lena, 1, mail, strlen(mail), 1, &res),
	    PN_OK);
	want(res->outcomes[0], addr("lena"), POSTERN__V1__OUTCOME__KIND__MAILBOX_CREATED);
	pin_ok(res->outcomes[0]->pin);
	snprintf(pin, sizeof(pin), "%s", res->outcomes[0]->pin);
	assert_int_equal(wait_mails(addr("lena"), 1), 1);
	assert_int_equal(mails_to(addr("lena"), &inv), 1);
	assert_non_null(inv);
	snprintf(link, sizeof(link), "%s", link_in(inv));
	free(inv);
	{
		pn_buf plain = { NULL, 0 };
		assert_int_equal(decrypt_stored(addr("lena"), id2, "body", link, pin, &plain), PN_OK);
		assert_memory_equal(plain.data, mail, strlen(mail));
		pn_buf_free(&plain);
	}
	/* the PIN copy for the sender: sealed to alice's key, imported again too */
	{
		char out[512], want_line[32], *text;
		snprintf(out, sizeof(out), "%s/pin-lena.out", F->senderhome);
		assert_int_equal(ctl(out, "pin", "--sender", addr("alice"), "--recipient",
		    addr("lena"), (char *)NULL), 0);
		assert_non_null(text = th_read_file(out, NULL));
		snprintf(want_line, sizeof(want_line), "PIN: %s\n", pin);
		assert_non_null(strstr(text, want_line));
		free(text);
	}
	assert_true(th_alive(F->st.pv[0]));
	assert_int_equal(keyring_homes(), PV_WORKERS);
	free(mail);
	pn_pool_destroy(&pool);
}

/* ---- deliveries to key-found recipients, sender notices ---- */

/* decrypt_mail - the armored message in a PGP/MIME mail, decrypted with the senders' home; caller frees */
static char *decrypt_mail(const char *mail, const char *tag)
{
	return th_gpg_decrypt_mail(F->senderhome, mail, tag);
}

/* mail_from_is - the sink's record of the SMTP sender */
static void mail_from_is(const char *mail, const char *from)
{
	char want[300];

	snprintf(want, sizeof(want), "X-Sink-Mail-From: <%s>\r\n", from);
	if (strncmp(mail, want, strlen(want)) != 0)
		fail_msg("MAIL FROM is not <%s>: %.80s", from, mail);
}

/* A key-found recipient with deliver_key_found: one PGP/MIME mail, once. */
static void test_deliver_key_found(void **state)
{
	pn_pool *pool = pn_pool_new();
	Postern__V1__SendResult *res;
	const char *rcpts[] = { addr("kim"), addr("paula") };
	const char *id = event_id();
	char token[64], *mail, *got = NULL, *plain, *hdr;
	int kim_before = mails_to(addr("kim"), NULL);
	(void)state;

	snprintf(token, sizeof(token), "body-token-%s-%d", F->tag, F->seq);
	mail = the_mail("Alice Sender", addr("alice"), "Merger plans 9931", token);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(send_event_x(pool, id, addr("alice"), rcpts, 2, mail, strlen(mail),
		    1, 1, POSTERN__V1__SENDER_NOTICE__SENDER_NOTICE_NONE, &res), PN_OK);
		want(res->outcomes[0], addr("kim"), POSTERN__V1__OUTCOME__KIND__KEY_FOUND);
		assert_string_equal(res->outcomes[0]->fingerprint, F->kim_fpr);
		assert_true(res->outcomes[0]->delivered);
		want(res->outcomes[1], addr("paula"), POSTERN__V1__OUTCOME__KIND__MAILBOX_CREATED);
		assert_false(res->outcomes[1]->delivered);
	}
	/* queued once, delivered once */
	assert_int_equal(sql_int("SELECT count(*) FROM outbox WHERE idem_key = '%s/%s/pgp'", id,
	    addr("kim")), 1);
	assert_int_equal(wait_mails(addr("kim"), kim_before + 1), kim_before + 1);
	usleep(700000);
	assert_int_equal(mails_to(addr("kim"), &got), kim_before + 1);
	assert_non_null(got);
	/* the return path is the sender, for the invitation too */
	mail_from_is(got, addr("alice"));
	/* nothing of the body or the subject in transit */
	assert_null(strstr(got, token));
	assert_null(strstr(got, "Merger plans"));
	hdr = ts_header_block(got);
	assert_non_null(strstr(hdr, "\r\nSubject: ...\r\n"));
	assert_non_null(strstr(hdr, "multipart/encrypted"));
	assert_non_null(strstr(hdr, "application/pgp-encrypted"));
	assert_non_null(strstr(hdr, "\r\nFrom: Alice Sender <"));
	assert_non_null(strstr(hdr, "\r\nMessage-ID: <"));
	assert_non_null(strstr(got, "Version: 1"));
	free(hdr);
	/* kim's key opens it: the body and the protected headers */
	plain = decrypt_mail(got, "kim-pgp");
	assert_non_null(strstr(plain, token));
	assert_non_null(strstr(plain, "Subject: Merger plans 9931"));
	assert_non_null(strstr(plain, "protected-headers=\"v1\""));
	free(plain);
	free(got);
	{
		char *inv = NULL;
		assert_int_equal(wait_mails(addr("paula"), 1), 1);
		mails_to(addr("paula"), &inv);
		mail_from_is(inv, addr("alice"));
		free(inv);
	}
	/* nothing is stored in a mailbox for kim */
	assert_int_equal(sql_int("SELECT count(*) FROM mailboxes WHERE address = '%s'", addr("kim")), 0);
	free(mail);
	pn_pool_destroy(&pool);
}

/* posternctl send --deliver-key-found prints delivered=yes. */
static void test_posternctl_deliver(void **state)
{
	char out[512], *text;
	int kim_before = mails_to(addr("kim"), NULL);
	(void)state;

	snprintf(out, sizeof(out), "%s/deliver.out", F->senderhome);
	assert_int_equal(ctl(out, "send", "--from", addr("alice"), "--to", addr("kim"),
	    "--deliver-key-found", "--notice", "plain", "--subject", "ctl", "--body", "by ctl",
	    (char *)NULL), 0);
	assert_non_null(text = th_read_file(out, NULL));
	assert_non_null(strstr(text, "\tKEY_FOUND\tfingerprint="));
	assert_non_null(strstr(text, "\tdelivered=yes\n"));
	free(text);
	assert_int_equal(wait_mails(addr("kim"), kim_before + 1), kim_before + 1);
	assert_int_equal(ctl(out, "send", "--from", addr("alice"), "--to", addr("kim"),
	    "--notice", "loud", "--body", "x", (char *)NULL), 2);
}

/* The notice to a sender with a key: encrypted, once, with the PIN and the rejections. */
static void test_notice_encrypted(void **state)
{
	pn_pool *pool = pn_pool_new();
	Postern__V1__SendResult *res;
	const char *rcpts[] = { addr("nina"), "nobody@", addr("kim") };
	const char *id = event_id();
	char *mail = the_mail("Alice Sender", addr("alice"), "Board secret 5120", "notice body 7"),
	    *got = NULL, *plain, pin[16];
	int before = mails_to(addr("alice"), NULL);
	(void)state;

	for (int i = 0; i < 2; i++) {
		assert_int_equal(send_event_x(pool, id, addr("alice"), rcpts, 3, mail, strlen(mail),
		    1, 0, POSTERN__V1__SENDER_NOTICE__SENDER_NOTICE_ENCRYPTED, &res), PN_OK);
		want(res->outcomes[0], addr("nina"), POSTERN__V1__OUTCOME__KIND__MAILBOX_CREATED);
		assert_int_equal(res->outcomes[1]->kind, POSTERN__V1__OUTCOME__KIND__REJECTED);
		want(res->outcomes[2], addr("kim"), POSTERN__V1__OUTCOME__KIND__KEY_FOUND);
		assert_false(res->outcomes[2]->delivered);
		if (i == 0)
			snprintf(pin, sizeof(pin), "%s", res->outcomes[0]->pin);
		assert_string_equal(res->outcomes[0]->pin, pin);
	}
	pin_ok(pin);
	assert_int_equal(sql_int("SELECT count(*) FROM outbox WHERE idem_key = '%s/%s/notice'", id,
	    addr("alice")), 1);
	assert_int_equal(wait_mails(addr("alice"), before + 1), before + 1);
	usleep(700000);
	assert_int_equal(mails_to(addr("alice"), &got), before + 1);
	/* from the From address (POSTERN_INVITE_FROM is postern@localhost: <>) */
	mail_from_is(got, "");
	assert_null(strstr(got, pin));
	assert_null(strstr(got, "Board secret"));
	assert_null(strstr(got, "notice body 7"));
	assert_non_null(strstr(got, "multipart/encrypted"));
	plain = decrypt_mail(got, "alice-notice");
	assert_non_null(strstr(plain, pin));
	assert_non_null(strstr(plain, addr("nina")));
	assert_non_null(strstr(plain, "nobody@"));
	assert_non_null(strstr(plain, "phone"));
	assert_non_null(strstr(plain, "Subject: Postern: PIN for your encrypted message"));
	assert_null(strstr(plain, "Board secret"));
	assert_null(strstr(plain, "notice body 7"));
	assert_null(strstr(plain, "http"));
	free(plain);
	free(got);
	free(mail);
	pn_pool_destroy(&pool);
}

/* A sender without a key: plain text for PLAIN, nothing for ENCRYPTED. */
static void test_notice_no_key(void **state)
{
	pn_pool *pool = pn_pool_new();
	Postern__V1__SendResult *res;
	const char *olga[] = { addr("olga") }, *pete[] = { addr("pete") };
	const char *id = event_id(), *id2;
	char *mail = the_mail("Quentin", addr("quentin"), "Plain notice 4404", "quentin body 3"),
	    *got = NULL, pin[16];
	int before = mails_to(addr("quentin"), NULL);
	(void)state;

	assert_int_equal(send_event_x(pool, id, addr("quentin"), olga, 1, mail, strlen(mail), 1, 1,
	    POSTERN__V1__SENDER_NOTICE__SENDER_NOTICE_PLAIN, &res), PN_OK);
	want(res->outcomes[0], addr("olga"), POSTERN__V1__OUTCOME__KIND__MAILBOX_CREATED);
	snprintf(pin, sizeof(pin), "%s", res->outcomes[0]->pin);
	pin_ok(pin);
	assert_int_equal(wait_mails(addr("quentin"), before + 1), before + 1);
	mails_to(addr("quentin"), &got);
	assert_non_null(strstr(got, pin));
	assert_non_null(strstr(got, addr("olga")));
	assert_non_null(strstr(got, "never by mail"));
	assert_null(strstr(got, "multipart/encrypted"));
	assert_null(strstr(got, "Plain notice 4404"));
	assert_null(strstr(got, "quentin body 3"));
	assert_null(strstr(got, "/m/"));
	free(got);
	/* ENCRYPTED and no key: nothing at all */
	id2 = event_id();
	assert_int_equal(send_event_x(pool, id2, addr("quentin"), pete, 1, mail, strlen(mail), 1, 1,
	    POSTERN__V1__SENDER_NOTICE__SENDER_NOTICE_ENCRYPTED, &res), PN_OK);
	want(res->outcomes[0], addr("pete"), POSTERN__V1__OUTCOME__KIND__MAILBOX_CREATED);
	assert_int_equal(wait_mails(addr("pete"), 1), 1);
	assert_int_equal(sql_int("SELECT count(*) FROM outbox WHERE idem_key = '%s/%s/notice'",
	    id2, addr("quentin")), 0);
	usleep(700000);
	assert_int_equal(mails_to(addr("quentin"), NULL), before + 1);
	/* provision's log says the notice was withheld, and holds neither PIN */
	{
		char cmd[1024], out[512], *text;
		snprintf(out, sizeof(out), "%s/grep.out", F->senderhome);
		snprintf(cmd, sizeof(cmd), "f=$(ls %s/logs/*provision.%d.log) && "
		    "grep -q 'sender notice not sent.*event=%s' \"$f\" && "
		    "{ grep -l -e %s -e %s \"$f\" || true; }", th_env("POSTERN_TEST_TMP"), (int)F->st.pv[0],
		    id2, pin, res->outcomes[0]->pin);
		const char *argv[] = { "sh", "-c", cmd, NULL };
		assert_int_equal(th_run(argv, NULL, out), 0);
		text = th_read_file(out, NULL);
		assert_non_null(text);
		if (*text)
			fail_msg("a PIN is in a log: %s", text);
		free(text);
	}
	free(mail);
	pn_pool_destroy(&pool);
}

/* ctl_batch - posternctl with args as a script runs it: standard input /dev/null */
static int ctl_batch(const char *out_path, ...)
{
	char bin[512];
	const char *argv[44];
	int n = 0;
	va_list ap;
	const char *a;

	snprintf(bin, sizeof(bin), "%s/posternctl", th_env("POSTERN_TEST_BIN"));
	argv[n++] = "/bin/sh";
	argv[n++] = "-c";
	argv[n++] = "exec \"$@\" </dev/null";
	argv[n++] = "sh";
	argv[n++] = bin;
	va_start(ap, out_path);
	while ((a = va_arg(ap, const char *)) != NULL && n < 43)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	return th_run(argv, ctl_env(), out_path);
}

/* withdrawn_count - the event's messages withdrawn (as kind), and those that keep nothing */
static long withdrawn_count(const char *event, const char *kind)
{
	return sql_int("SELECT count(*) FROM messages WHERE event_id = '%s' AND withdrawn = '%s' "
	    "AND octet_length(body) = 0 AND octet_length(envelope) = 0 AND size = 0", event, kind);
}

/*
 * posternctl revoke: kim (a key, not the sender) and carol (no key, not the
 * sender) are refused and nothing changes; alice withdraws vera's copy,
 * then every copy (vera's again: harmless); the operator may too; the
 * rows keep nothing; send --expires records the expiry, bounded.
 */
static void test_posternctl_revoke(void **state)
{
	pn_pool *pool = pn_pool_new();
	Postern__V1__SendResult *res;
	const char *rcpts[] = { addr("vera"), addr("vince") };
	char ev[64], out[512], *text, *mail = the_mail("Alice Sender", addr("alice"),
	    "Wrong person", "The secret body 5150.");
	(void)state;

	snprintf(ev, sizeof(ev), "%s", event_id());
	assert_int_equal(send_event(pool, ev, addr("alice"), rcpts, 2, mail, strlen(mail), 0,
	    &res), PN_OK);
	want(res->outcomes[0], addr("vera"), POSTERN__V1__OUTCOME__KIND__MAILBOX_CREATED);
	want(res->outcomes[1], addr("vince"), POSTERN__V1__OUTCOME__KIND__MAILBOX_CREATED);
	/* the sender is recorded with each stored copy */
	assert_int_equal(sql_int("SELECT count(*) FROM messages WHERE event_id = '%s' AND "
	    "sender = '%s'", ev, addr("alice")), 2);

	snprintf(out, sizeof(out), "%s/revoke.out", F->senderhome);
	assert_int_equal(ctl(out, "revoke", "--sender", addr("kim"), "--event", ev, (char *)NULL), 1);
	text = th_read_file(out, NULL);
	assert_string_equal(text, "");
	free(text);
	assert_int_equal(ctl(out, "revoke", "--sender", addr("carol"), "--event", ev,
	    (char *)NULL), 1);
	assert_int_equal(ctl(out, "revoke", "--sender", addr("alice"), "--event", "pt-no-such-event",
	    (char *)NULL), 1);
	assert_int_equal(sql_int("SELECT count(*) FROM messages WHERE event_id = '%s' AND "
	    "withdrawn_at IS NULL AND octet_length(body) > 0", ev), 2);

	/* alice: vera's copy, then every copy */
	assert_int_equal(ctl(out, "revoke", "--sender", addr("alice"), "--event", ev, "--recipient",
	    addr("vera"), (char *)NULL), 0);
	text = th_read_file(out, NULL);
	assert_non_null(strstr(text, addr("vera")));
	assert_non_null(strstr(text, "\tWITHDRAWN\t20"));
	assert_null(strstr(text, addr("vince")));
	free(text);
	assert_int_equal(withdrawn_count(ev, "revoked"), 1);
	assert_int_equal(sql_int("SELECT count(*) FROM messages m JOIN mailboxes b ON b.id = "
	    "m.mailbox_id WHERE m.event_id = '%s' AND b.address = '%s' AND m.withdrawn_at IS NULL",
	    ev, addr("vince")), 1);
	assert_int_equal(ctl(out, "revoke", "--sender", addr("alice"), "--event", ev, (char *)NULL), 0);
	text = th_read_file(out, NULL);
	assert_non_null(strstr(text, addr("vera")));
	assert_non_null(strstr(text, addr("vince")));
	free(text);
	assert_int_equal(withdrawn_count(ev, "revoked"), 2);
	/* the operator's key proves the operator; nothing is withdrawn twice */
	assert_int_equal(ctl(out, "revoke", "--operator", "--event", ev, (char *)NULL), 0);
	assert_int_equal(withdrawn_count(ev, "revoked"), 2);
	/* the same event id again: stored already (withdrawn), nothing comes back */
	assert_int_equal(send_event(pool, ev, addr("alice"), rcpts, 2, mail, strlen(mail), 0,
	    &res), PN_OK);
	assert_int_equal(withdrawn_count(ev, "revoked"), 2);

	/* expiry from posternctl send: recorded, strict, bounded */
	assert_int_equal(ctl(out, "send", "--from", addr("alice"), "--to", addr("vera"),
	    "--event-id", "pt-expiring", "--expires", "7d", "--body", "for a week", (char *)NULL), 0);
	assert_int_equal(sql_int("SELECT count(*) FROM messages WHERE event_id = 'pt-expiring' AND "
	    "expires_at BETWEEN now() + interval '7 days' - interval '1 minute' AND "
	    "now() + interval '7 days'"), 1);
	assert_int_equal(ctl(out, "send", "--from", addr("alice"), "--to", addr("vera"),
	    "--expires", "7 days", "--body", "x", (char *)NULL), 2);
	assert_int_equal(ctl(out, "send", "--from", addr("alice"), "--to", addr("vera"),
	    "--expires", "0d", "--body", "x", (char *)NULL), 2);
	assert_int_equal(ctl(out, "send", "--from", addr("alice"), "--to", addr("vera"),
	    "--expires", "400d", "--body", "x", (char *)NULL), 1);   /* provision: 365 at most */
	free(mail);
	pn_pool_destroy(&pool);
}

/* out_has - the output file holds needle */
static int out_has(const char *out, const char *needle)
{
	char *text = th_read_file(out, NULL);
	int has = text && strstr(text, needle);

	free(text);
	return has;
}

/*
 * posternctl mailbox: nothing without confirmation (no terminal, no
 * --yes); list and show give states and counts, never content; lock,
 * the operator's re-issue and delete act, delete leaves a tombstone and
 * is harmless again.
 */
static void test_operator_mailbox(void **state)
{
	const char *vera = addr("vera");
	char out[512], line[300];
	(void)state;

	snprintf(out, sizeof(out), "%s/mailbox.out", F->senderhome);
	/* no terminal, no --yes: refused, nothing printed or done */
	assert_int_equal(ctl_batch(out, "mailbox", "list", (char *)NULL), 1);
	assert_false(out_has(out, vera));
	assert_int_equal(ctl_batch(out, "mailbox", "lock", vera, (char *)NULL), 1);
	assert_int_equal(ctl_batch(out, "mailbox", "delete", vera, (char *)NULL), 1);
	assert_int_equal(ctl_batch(out, "mailbox", "reissue", vera, (char *)NULL), 1);
	/* (the expiring mail re-issued it once: it was never opened) */
	assert_int_equal(sql_int("SELECT count(*) FROM mailboxes WHERE address = '%s' AND "
	    "state = 'pending' AND reissue_count = 1", vera), 1);
	assert_int_equal(ctl_batch(out, "mailbox", "list", "--state", "bogus", "--yes",
	    (char *)NULL), 2);

	/* list: vera is new; filters */
	assert_int_equal(ctl_batch(out, "mailbox", "list", "--yes", (char *)NULL), 0);
	snprintf(line, sizeof(line), "\t%s\tnew\t", vera);
	assert_true(out_has(out, line));
	assert_int_equal(ctl_batch(out, "mailbox", "list", "--state", "new", "--yes", (char *)NULL), 0);
	assert_true(out_has(out, line));
	assert_int_equal(ctl_batch(out, "mailbox", "list", "--state", "active", "--yes",
	    (char *)NULL), 0);
	assert_false(out_has(out, vera));
	assert_int_equal(ctl_batch(out, "mailbox", "list", "--idle-days", "1", "--yes",
	    (char *)NULL), 0);
	assert_false(out_has(out, vera));

	/* show: states and counts (one revoked, one expiring), nothing of a message */
	assert_int_equal(ctl_batch(out, "mailbox", "show", vera, "--yes", (char *)NULL), 0);
	assert_true(out_has(out, "state: new\n"));
	assert_true(out_has(out, "inbox: 2\n"));
	assert_true(out_has(out, "withdrawn: 1\n"));
	assert_true(out_has(out, "expiring: 1\n"));
	assert_false(out_has(out, "Wrong person"));
	assert_false(out_has(out, "for a week"));
	assert_false(out_has(out, addr("alice")));
	assert_int_equal(ctl_batch(out, "mailbox", "show", addr("nobody"), "--yes", (char *)NULL), 1);

	/* lock, then the operator's re-issue opens it again (pending, a new link) */
	assert_int_equal(ctl_batch(out, "mailbox", "lock", vera, "--yes", (char *)NULL), 0);
	assert_true(out_has(out, "state: locked\n"));
	assert_int_equal(sql_int("SELECT count(*) FROM mailboxes WHERE address = '%s' AND "
	    "state = 'locked'", vera), 1);
	assert_int_equal(ctl_batch(out, "mailbox", "reissue", vera, "--pin", "--yes", (char *)NULL), 0);
	assert_true(out_has(out, "\tMAILBOX_REISSUED\tpin="));
	assert_int_equal(sql_int("SELECT count(*) FROM mailboxes WHERE address = '%s' AND "
	    "state = 'pending' AND reissue_count = 2", vera), 1);

	/* delete: gone with its messages, a tombstone for the reaper; again harmless */
	assert_int_equal(ctl_batch(out, "mailbox", "delete", vera, "--yes", (char *)NULL), 0);
	snprintf(line, sizeof(line), "%s\tDELETED", vera);
	assert_true(out_has(out, line));
	assert_int_equal(sql_int("SELECT count(*) FROM mailboxes WHERE address = '%s'", vera), 0);
	assert_int_equal(sql_int("SELECT count(*) FROM messages WHERE event_id = 'pt-expiring'"), 0);
	assert_int_equal(sql_int("SELECT count(*) FROM mailbox_tombstones WHERE address = '%s' AND "
	    "deleted_by = 'operator'", vera), 1);
	assert_int_equal(ctl_batch(out, "mailbox", "delete", vera, "--yes", (char *)NULL), 0);
	assert_true(out_has(out, line));
	assert_int_equal(ctl_batch(out, "mailbox", "delete", addr("nobody"), "--yes", (char *)NULL), 1);
}

/* early_count - postern_provision_early_<what>_total, 0 before the first */
static double early_count(const char *what)
{
	char name[96];
	double v;

	snprintf(name, sizeof(name), "postern_provision_early_%s_total", what);
	v = th_metric(F->st.pv_health[0], name);
	return v < 0 ? 0 : v;
}

/* early_send - one mail from alice to address alone: stored (EXISTS); its event id */
static const char *early_send(pn_pool *pool, const char *address, const char *mail)
{
	Postern__V1__SendResult *res;
	const char *id = pn_pool_strdup(pool, event_id());

	assert_int_equal(send_event(pool, id, addr("alice"), &address, 1, mail, strlen(mail), 0,
	    &res), PN_OK);
	want(res->outcomes[0], address, POSTERN__V1__OUTCOME__KIND__MAILBOX_EXISTS);
	return id;
}

/*
 * Early encryption: used when the lookup names the key it was made with,
 * dropped when the mailbox's key changed since the last lookup.
 */
static void test_early_encryption(void **state)
{
	pn_pool *pool = pn_pool_new();
	Postern__V1__SendResult *res;
	const char *rcpts[] = { addr("erika"), addr("felix") };
	char *mail = the_mail("Alice Sender", addr("alice"), "Early", "Encrypted ahead 5150.");
	char pin[2][16], link[2][64], *inv = NULL;
	const char *id;
	pn_buf plain = { NULL, 0 };
	double used, wasted;
	(void)state;

	/* two new mailboxes, activated (only active ones are kept for early encryption) */
	assert_int_equal(send_event(pool, event_id(), addr("alice"), rcpts, 2, mail, strlen(mail),
	    1, &res), PN_OK);
	for (int i = 0; i < 2; i++) {
		want(res->outcomes[i], rcpts[i], POSTERN__V1__OUTCOME__KIND__MAILBOX_CREATED);
		snprintf(pin[i], sizeof(pin[i]), "%s", res->outcomes[i]->pin);
		assert_int_equal(wait_mails(rcpts[i], 1), 1);
		assert_int_equal(mails_to(rcpts[i], &inv), 1);
		snprintf(link[i], sizeof(link[i]), "%s", link_in(inv));
		pn_free(&inv);
	}
	assert_int_equal(sql_int("WITH u AS (UPDATE mailboxes SET state = 'active' WHERE address "
	    "IN ('%s', '%s') RETURNING 1) SELECT count(*) FROM u", rcpts[0], rcpts[1]), 2);

	/* the first mail's lookup names erika's key; the second is encrypted early */
	early_send(pool, rcpts[0], mail);
	used = early_count("used");
	id = early_send(pool, rcpts[0], mail);
	assert_true(early_count("used") == used + 1);
	assert_int_equal(decrypt_stored(rcpts[0], id, "body", link[0], pin[0], &plain), PN_OK);
	assert_int_equal(plain.len, strlen(mail));
	assert_memory_equal(plain.data, mail, plain.len);
	pn_buf_free(&plain);

	/* erika's mailbox now has felix's key: what was encrypted early must not be stored */
	assert_int_equal(sql_int("WITH u AS (UPDATE mailboxes m SET public_key = f.public_key, "
	    "secret_key = f.secret_key, fingerprint = f.fingerprint FROM mailboxes f "
	    "WHERE m.address = '%s' AND f.address = '%s' RETURNING 1) SELECT count(*) FROM u",
	    rcpts[0], rcpts[1]), 1);
	used = early_count("used");
	wasted = early_count("wasted");
	id = early_send(pool, rcpts[0], mail);
	assert_true(early_count("wasted") == wasted + 1);
	assert_true(early_count("used") == used);
	assert_int_equal(decrypt_stored(rcpts[0], id, "body", link[1], pin[1], &plain), PN_OK);
	assert_memory_equal(plain.data, mail, plain.len);
	pn_buf_free(&plain);
	assert_int_equal(decrypt_stored(rcpts[0], id, "envelope", link[1], pin[1], &plain), PN_OK);
	assert_non_null(strstr((char *)plain.data, "Subject: Early\n"));
	pn_buf_free(&plain);

	/* and the next one is early again, to the new key */
	used = early_count("used");
	id = early_send(pool, rcpts[0], mail);
	assert_true(early_count("used") == used + 1);
	assert_int_equal(decrypt_stored(rcpts[0], id, "body", link[1], pin[1], &plain), PN_OK);
	pn_buf_free(&plain);
	free(mail);
	pn_pool_destroy(&pool);
}

/* ---- workers ---- */

#define PV_WORKERS_METRIC "postern_broker_workers{service=\"provision\"}"
#define PV_ROUTED_METRIC "postern_broker_requests_total{service=\"provision\"}"
#define PV_SENDS_METRIC "postern_requests_total{service=\"provision\",op=\"send\"}"

/*
 * Two workers in one process: the broker counts both, and while one waits
 * for a key lookup that cannot come (keylookup stopped) the other answers.
 * The event still lands once keylookup is back.
 */
static void test_two_workers(void **state)
{
	pn_pool *pool = pn_pool_new();
	char out[512];
	double routed, sends;
	pid_t child;
	int status;
	(void)state;

	assert_int_equal(th_wait_metric(F->st.broker.health, PV_WORKERS_METRIC, PV_WORKERS, 5000),
	    0);
	assert_true(th_metric(F->st.broker.health, PV_WORKERS_METRIC) == PV_WORKERS);
	routed = th_metric(F->st.broker.health, PV_ROUTED_METRIC);
	sends = th_metric(F->st.pv_health[0], PV_SENDS_METRIC);
	assert_true(sends >= 1);
	assert_int_equal(kill(F->st.kl, SIGSTOP), 0);
	snprintf(out, sizeof(out), "%s/two-workers.out", F->senderhome);
	child = fork();
	assert_true(child >= 0);
	if (child == 0)
		_exit(ctl(out, "send", "--from", addr("alice"), "--to", addr("wanda"),
		    "--body", "one of two workers", (char *)NULL) == 0 ? 0 : 1);
	/* the event is with a worker, which now waits for keylookup */
	assert_int_equal(th_wait_metric(F->st.broker.health, PV_ROUTED_METRIC, routed + 1, 10000),
	    0);
	assert_int_equal(ping_provision(pool), PN_OK);
	/* answered by the other worker: the event has not ended */
	assert_true(th_metric(F->st.pv_health[0], PV_SENDS_METRIC) == sends);
	assert_int_equal(waitpid(child, &status, WNOHANG), 0);
	assert_int_equal(kill(F->st.kl, SIGCONT), 0);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(wait_mails(addr("wanda"), 1), 1);
	assert_true(th_alive(F->st.pv[0]));
	pn_pool_destroy(&pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_created_and_key_found),
		cmocka_unit_test(test_stored_ciphertext),
		cmocka_unit_test(test_large_in_parts),
		cmocka_unit_test(test_same_event_thrice),
		cmocka_unit_test(test_posternctl_pin),
		cmocka_unit_test(test_second_sender),
		cmocka_unit_test(test_posternctl_reissue),
		cmocka_unit_test(test_posternctl_revoke),
		cmocka_unit_test(test_operator_mailbox),
		cmocka_unit_test(test_note_and_locale),
		cmocka_unit_test(test_hostile_locale),
		cmocka_unit_test(test_sent_copy),
		cmocka_unit_test(test_pin_verify),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_keyring_renewed),
		cmocka_unit_test(test_deliver_key_found),
		cmocka_unit_test(test_posternctl_deliver),
		cmocka_unit_test(test_notice_encrypted),
		cmocka_unit_test(test_notice_no_key),
		cmocka_unit_test(test_early_encryption),
		cmocka_unit_test(test_two_workers),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
