/*
 * ms_valid_test.c - mailstore's input checks and pure policies, table-driven.
 *
 * What these pin down: which addresses, ids, messages, outbox mails and new
 * mailboxes mailstore accepts (and that a size over the limit is
 * TOO_LARGE, not BAD_REQUEST), the page-size rule, the enum <-> column
 * mappings, the back-off curve, and the recipient join the outbox uses.
 * No sockets, no database.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../ms.h"

/* ---- addresses ---- */

static void test_address_norm(void **state)
{
	static const struct {
		const char *in;
		const char *out;        /* NULL = rejected */
	} cases[] = {
		{ "bob@example.org", "bob@example.org" },
		{ "Bob.Smith@EXAMPLE.Org", "Bob.Smith@example.org" },   /* local part kept */
		{ "a+tag@sub.example.co.uk", "a+tag@sub.example.co.uk" },
		{ "x@xn--bcher-kva.example", "x@xn--bcher-kva.example" },
		{ "x@localhost", NULL },                                /* one label */
		{ "jörg@example.org", NULL },                           /* no UTF-8 */
		{ "Jane <jane@example.org>", NULL },                    /* bare only */
		{ "", NULL },
		{ "bob", NULL },
		{ "@example.org", NULL },
		{ "bob@", NULL },
		{ "bob@@example.org", NULL },
		{ "a@b@example.org", NULL },
		{ "bob@example..org", NULL },
		{ "bob@.example.org", NULL },
		{ "bob@example.org.", NULL },
		{ "bob @example.org", NULL },
		{ "bob@example.org\r\nRCPT TO:<x@y>", NULL },
		{ "<bob@example.org>", NULL },
		{ "bob@exa_mple.org", NULL },
		{ "\"quoted\"@example.org", NULL },
		{ "a,b@example.org", NULL },
		{ "bob@example.org\x7f", NULL },
	};
	pn_pool *pool = pn_pool_new();

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *why = NULL;
		char *got = ms_address_norm(cases[i].in, pool, &why);

		if (cases[i].out == NULL) {
			if (got != NULL)
				fail_msg("accepted \"%s\"", cases[i].in);
			assert_non_null(why);
		} else {
			if (got == NULL)
				fail_msg("rejected \"%s\": %s", cases[i].in, why);
			assert_string_equal(got, cases[i].out);
		}
	}
	pn_pool_destroy(&pool);
}

static void test_address_lengths(void **state)
{
	char buf[400];
	const char *why;
	pn_pool *pool = pn_pool_new();

	(void)state;
	assert_null(ms_address_norm(NULL, pool, &why));
	/* local part: 64 ok, 65 not */
	memset(buf, 'a', 64);
	strcpy(buf + 64, "@example.org");
	assert_non_null(ms_address_norm(buf, pool, &why));
	memset(buf, 'a', 65);
	strcpy(buf + 65, "@example.org");
	assert_null(ms_address_norm(buf, pool, &why));
	/* whole address: 254 ok, 255 not (labels of 50) */
	strcpy(buf, "a@");
	while (strlen(buf) + 51 <= 254) {
		strcat(buf, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.");
	}
	while (strlen(buf) < 254)
		strcat(buf, "c");
	assert_int_equal(strlen(buf), 254);
	assert_non_null(ms_address_norm(buf, pool, &why));
	strcat(buf, "c");
	assert_null(ms_address_norm(buf, pool, &why));
	/* a 64-character label is too long */
	memset(buf, 'd', 64);
	buf[64] = '\0';
	{
		char addr[100];

		snprintf(addr, sizeof(addr), "x@%s.org", buf);
		assert_null(ms_address_norm(addr, pool, &why));
	}
	pn_pool_destroy(&pool);
}

/* ---- ids ---- */

static void test_id_ok(void **state)
{
	char big[MS_ID_MAX + 2];

	(void)state;
	assert_true(ms_id_ok("evt-1"));
	assert_true(ms_id_ok("01J0ABCDEF:xyz/42"));
	assert_false(ms_id_ok(NULL));
	assert_false(ms_id_ok(""));
	assert_false(ms_id_ok("with space"));
	assert_false(ms_id_ok("tab\there"));
	assert_false(ms_id_ok("nl\n"));
	assert_false(ms_id_ok("ümlaut"));
	memset(big, 'x', MS_ID_MAX);
	big[MS_ID_MAX] = '\0';
	assert_true(ms_id_ok(big));
	big[MS_ID_MAX] = 'x';
	big[MS_ID_MAX + 1] = '\0';
	assert_false(ms_id_ok(big));
}

/* ---- messages ---- */

static void test_check_message(void **state)
{
	static uint8_t body[64] = "-----BEGIN PGP MESSAGE-----";
	Postern__V1__NewMessage m = POSTERN__V1__NEW_MESSAGE__INIT;
	const char *why;

	(void)state;
	assert_int_equal(ms_check_message(NULL, 1000, &why), PN_ERR_PARAMS);
	m.folder = POSTERN__V1__FOLDER__FOLDER_INBOX;
	m.event_id = "evt-1";
	m.size = 10;
	m.body.data = body;
	m.body.len = sizeof(body);
	m.envelope.data = body;
	m.envelope.len = 16;
	assert_int_equal(ms_check_message(&m, 1000, &why), PN_OK);

	m.folder = POSTERN__V1__FOLDER__FOLDER_UNSPECIFIED;
	assert_int_equal(ms_check_message(&m, 1000, &why), PN_ERR_PARAMS);
	m.folder = 7;
	assert_int_equal(ms_check_message(&m, 1000, &why), PN_ERR_PARAMS);
	m.folder = POSTERN__V1__FOLDER__FOLDER_SENT;
	assert_int_equal(ms_check_message(&m, 1000, &why), PN_OK);

	m.event_id = "";
	assert_int_equal(ms_check_message(&m, 1000, &why), PN_ERR_PARAMS);
	m.event_id = "evt-1";
	m.size = -1;
	assert_int_equal(ms_check_message(&m, 1000, &why), PN_ERR_PARAMS);
	m.size = 0;
	m.body.len = 0;
	assert_int_equal(ms_check_message(&m, 1000, &why), PN_ERR_PARAMS);
	m.body.len = sizeof(body);

	/* the sender: an address of at most 254 bytes, no control characters */
	m.sender = "alice@example.org";
	assert_int_equal(ms_check_message(&m, 1000, &why), PN_OK);
	m.sender = "alice@example.org\r\nX: y";
	assert_int_equal(ms_check_message(&m, 1000, &why), PN_ERR_PARAMS);
	m.sender = NULL;
	/* an expiry: a time, INBOX only */
	m.expires_at = 1751536800;
	assert_int_equal(ms_check_message(&m, 1000, &why), PN_ERR_PARAMS);     /* Sent */
	m.folder = POSTERN__V1__FOLDER__FOLDER_INBOX;
	assert_int_equal(ms_check_message(&m, 1000, &why), PN_OK);
	m.expires_at = -1;
	assert_int_equal(ms_check_message(&m, 1000, &why), PN_ERR_PARAMS);
	m.expires_at = MS_TIME_MAX + 1;
	assert_int_equal(ms_check_message(&m, 1000, &why), PN_ERR_PARAMS);
	m.expires_at = 0;

	/* the limit covers envelope + body */
	assert_int_equal(ms_check_message(&m, 80, &why), PN_OK);
	assert_int_equal(ms_check_message(&m, 79, &why), PN_ERR_TOOLARGE);
	assert_non_null(why);
	assert_int_equal(ms_check_message(&m, 63, &why), PN_ERR_TOOLARGE);
}

/* a body in parts: named by a 16-byte upload, 1..4096 parts, no body beside it */
static void test_check_upload(void **state)
{
	static uint8_t env[16] = "-----BEGIN PGP", id[16] = "0123456789abcdef";
	Postern__V1__NewMessage m = POSTERN__V1__NEW_MESSAGE__INIT;
	Postern__V1__AppendPart p = POSTERN__V1__APPEND_PART__INIT;
	const char *why;

	(void)state;
	m.folder = POSTERN__V1__FOLDER__FOLDER_INBOX;
	m.event_id = "evt-1";
	m.envelope = (ProtobufCBinaryData){ sizeof(env), env };
	m.body_upload = (ProtobufCBinaryData){ sizeof(id), id };
	m.body_parts = 3;
	m.body_len = 3000;
	assert_int_equal(ms_check_message(&m, 4000, &why), PN_OK);
	assert_int_equal(ms_body_len(&m), 3000);
	/* the limit counts the uploaded length */
	assert_int_equal(ms_check_message(&m, 3016, &why), PN_OK);
	assert_int_equal(ms_check_message(&m, 3015, &why), PN_ERR_TOOLARGE);
	m.body = (ProtobufCBinaryData){ sizeof(env), env };
	assert_int_equal(ms_check_message(&m, 4000, &why), PN_ERR_PARAMS);      /* both */
	m.body = (ProtobufCBinaryData){ 0, NULL };
	m.body_upload.len = 15;
	assert_int_equal(ms_check_message(&m, 4000, &why), PN_ERR_PARAMS);
	m.body_upload.len = 16;
	m.body_parts = 0;
	assert_int_equal(ms_check_message(&m, 4000, &why), PN_ERR_PARAMS);
	m.body_parts = 4097;
	m.body_len = 1 << 20;
	assert_int_equal(ms_check_message(&m, 1 << 30, &why), PN_ERR_PARAMS);
	m.body_parts = 4096;
	assert_int_equal(ms_check_message(&m, 1 << 30, &why), PN_OK);
	m.body_parts = 3;
	m.body_len = 2;                     /* fewer bytes than parts */
	assert_int_equal(ms_check_message(&m, 4000, &why), PN_ERR_PARAMS);
	/* parts named without an upload */
	m.body_upload.len = 0;
	m.body_len = 3000;
	assert_int_equal(ms_check_message(&m, 4000, &why), PN_ERR_PARAMS);

	p.upload = (ProtobufCBinaryData){ sizeof(id), id };
	p.data = (ProtobufCBinaryData){ sizeof(env), env };
	assert_int_equal(ms_check_part(&p, &why), PN_OK);
	p.seq = MS_PARTS_MAX - 1;
	assert_int_equal(ms_check_part(&p, &why), PN_OK);
	p.seq = MS_PARTS_MAX;
	assert_int_equal(ms_check_part(&p, &why), PN_ERR_PARAMS);
	p.seq = -1;
	assert_int_equal(ms_check_part(&p, &why), PN_ERR_PARAMS);
	p.seq = 0;
	p.data.len = MS_PART_MAX + 1;
	assert_int_equal(ms_check_part(&p, &why), PN_ERR_PARAMS);
	p.data.len = 0;
	assert_int_equal(ms_check_part(&p, &why), PN_ERR_PARAMS);
	p.data.len = 1;
	p.upload.len = 17;
	assert_int_equal(ms_check_part(&p, &why), PN_ERR_PARAMS);
}

/* ---- outbox mails ---- */

static void test_check_outmail(void **state)
{
	static char *rcpt_ok[] = { "bob@example.org", "carol@example.net" };
	static char *rcpt_bad[] = { "bob@example.org", "evil@example.org>\r\nDATA" };
	static uint8_t data[] = "Subject: hi\r\n\r\nbody\r\n";
	Postern__V1__OutMail m = POSTERN__V1__OUT_MAIL__INIT;
	pn_pool *pool = pn_pool_new();
	const char *why;

	(void)state;
	assert_int_equal(ms_check_outmail(NULL, 1000, pool, &why), PN_ERR_PARAMS);
	m.idem_key = "inv-1";
	m.mail_from = "postern@example.com";
	m.rcpt_to = rcpt_ok;
	m.n_rcpt_to = 2;
	m.data.data = data;
	m.data.len = sizeof(data) - 1;
	assert_int_equal(ms_check_outmail(&m, 1000, pool, &why), PN_OK);

	m.mail_from = "";                       /* null sender is fine */
	assert_int_equal(ms_check_outmail(&m, 1000, pool, &why), PN_OK);
	m.mail_from = "not an address";
	assert_int_equal(ms_check_outmail(&m, 1000, pool, &why), PN_ERR_PARAMS);
	m.mail_from = "postern@example.com";

	m.rcpt_to = rcpt_bad;
	assert_int_equal(ms_check_outmail(&m, 1000, pool, &why), PN_ERR_PARAMS);
	m.rcpt_to = rcpt_ok;
	m.n_rcpt_to = 0;
	assert_int_equal(ms_check_outmail(&m, 1000, pool, &why), PN_ERR_PARAMS);
	m.n_rcpt_to = MS_RCPT_MAX + 1;
	assert_int_equal(ms_check_outmail(&m, 1000, pool, &why), PN_ERR_PARAMS);
	m.n_rcpt_to = 2;

	m.idem_key = NULL;
	assert_int_equal(ms_check_outmail(&m, 1000, pool, &why), PN_ERR_PARAMS);
	m.idem_key = "inv-1";
	m.data.len = 0;
	assert_int_equal(ms_check_outmail(&m, 1000, pool, &why), PN_ERR_PARAMS);
	m.data.len = sizeof(data) - 1;
	assert_int_equal(ms_check_outmail(&m, 5, pool, &why), PN_ERR_TOOLARGE);
	pn_pool_destroy(&pool);
}

/* ---- new mailboxes ---- */

static void test_check_new_mailbox(void **state)
{
	static uint8_t key[32] = "key", hash[32] = "0123456789abcdef0123456789abcdef";
	Postern__V1__Mailbox mb = POSTERN__V1__MAILBOX__INIT;
	pn_pool *pool = pn_pool_new();
	const char *why;

	(void)state;
	mb.public_key.data = key;
	mb.public_key.len = sizeof(key);
	mb.secret_key.data = key;
	mb.secret_key.len = sizeof(key);
	mb.fingerprint = "0123456789ABCDEF0123456789ABCDEF01234567";
	mb.link_hash.data = hash;
	mb.link_hash.len = sizeof(hash);
	mb.created_by = "alice@example.com";
	assert_int_equal(ms_check_new_mailbox(&mb, pool, &why), PN_OK);

	mb.public_key.len = 0;
	assert_int_equal(ms_check_new_mailbox(&mb, pool, &why), PN_ERR_PARAMS);
	mb.public_key.len = sizeof(key);
	mb.secret_key.len = MS_KEY_MAX + 1;
	assert_int_equal(ms_check_new_mailbox(&mb, pool, &why), PN_ERR_PARAMS);
	mb.secret_key.len = sizeof(key);
	mb.fingerprint = "";
	assert_int_equal(ms_check_new_mailbox(&mb, pool, &why), PN_ERR_PARAMS);
	mb.fingerprint = "ABC\n";
	assert_int_equal(ms_check_new_mailbox(&mb, pool, &why), PN_ERR_PARAMS);
	mb.fingerprint = "ABCD";
	mb.link_hash.len = MS_HASH_MIN - 1;
	assert_int_equal(ms_check_new_mailbox(&mb, pool, &why), PN_ERR_PARAMS);
	mb.link_hash.len = sizeof(hash);
	mb.pin_verifier.data = key;
	mb.pin_verifier.len = MS_VERIFIER_MAX + 1;
	assert_int_equal(ms_check_new_mailbox(&mb, pool, &why), PN_ERR_PARAMS);
	mb.pin_verifier.len = 16;
	assert_int_equal(ms_check_new_mailbox(&mb, pool, &why), PN_OK);
	mb.created_by = "nobody";
	assert_int_equal(ms_check_new_mailbox(&mb, pool, &why), PN_ERR_PARAMS);
	mb.created_by = "";
	assert_int_equal(ms_check_new_mailbox(&mb, pool, &why), PN_OK);
	mb.state = 9;           /* ignored, as mailstore.proto says: created pending */
	assert_int_equal(ms_check_new_mailbox(&mb, pool, &why), PN_OK);
	pn_pool_destroy(&pool);
}

/* ---- small policies ---- */

static void test_list_limit(void **state)
{
	(void)state;
	assert_int_equal(ms_list_limit(0, 50, 200), 50);
	assert_int_equal(ms_list_limit(1, 50, 200), 1);
	assert_int_equal(ms_list_limit(200, 50, 200), 200);
	assert_int_equal(ms_list_limit(201, 50, 200), -1);
	assert_int_equal(ms_list_limit(-1, 50, 200), -1);
}

static void test_enum_names(void **state)
{
	(void)state;
	for (int f = 0; f < 4; f++) {
		const char *n = ms_folder_name(f);

		if (f == POSTERN__V1__FOLDER__FOLDER_INBOX || f == POSTERN__V1__FOLDER__FOLDER_SENT)
			assert_int_equal(ms_folder_parse(n), f);
		else
			assert_null(n);
	}
	for (int s = 0; s < 5; s++) {
		const char *n = ms_state_name(s);

		if (s >= 1 && s <= 3)
			assert_int_equal(ms_state_parse(n), s);
		else
			assert_null(n);
	}
	assert_int_equal(ms_folder_parse("junk"), 0);
	assert_int_equal(ms_state_parse(NULL), 0);
	for (int w = 0; w < 4; w++) {
		const char *n = ms_withdrawal_name(w);

		if (w == 1 || w == 2)
			assert_int_equal(ms_withdrawal_parse(n), w);
		else
			assert_null(n);
	}
	assert_int_equal(ms_withdrawal_parse(""), 0);
}

static void test_backoff(void **state)
{
	static const struct {
		long attempts, initial, cap, want;
	} cases[] = {
		{ 1, 2000, 3600000, 2000 },
		{ 2, 2000, 3600000, 4000 },
		{ 3, 2000, 3600000, 8000 },
		{ 11, 2000, 3600000, 2048000 },
		{ 12, 2000, 3600000, 3600000 },     /* 4096000 capped */
		{ 20, 2000, 3600000, 3600000 },
		{ 1000000, 2000, 3600000, 3600000 },/* no overflow */
		{ 0, 2000, 3600000, 2000 },         /* nonsense counts as first */
		{ -5, 2000, 3600000, 2000 },
		{ 3, 100, 250, 250 },
		{ 1, 5000, 1000, 1000 },            /* cap below initial wins */
		{ 63, 1, 0x7fffffffffffffffL, 0x4000000000000000L },
		{ 64, 1, 0x7fffffffffffffffL, 0x7fffffffffffffffL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long got = ms_backoff_ms(cases[i].attempts, cases[i].initial, cases[i].cap);

		if (got != cases[i].want)
			fail_msg("case %zu: backoff(%ld, %ld, %ld) = %ld, want %ld", i,
			    cases[i].attempts, cases[i].initial, cases[i].cap, got,
			    cases[i].want);
	}
}

static void test_rcpt_join(void **state)
{
	static char *one[] = { "a@b.c" };
	static char *three[] = { "a@b.c", "d@e.f", "g@h.i" };
	pn_pool *pool = pn_pool_new();

	(void)state;
	assert_string_equal(ms_rcpt_join(one, 1, pool), "a@b.c");
	assert_string_equal(ms_rcpt_join(three, 3, pool), "a@b.c\nd@e.f\ng@h.i");
	assert_string_equal(ms_rcpt_join(NULL, 0, pool), "");
	pn_pool_destroy(&pool);
}

/* ---- the embedded migrations ---- */

static void test_migrations_embedded(void **state)
{
	(void)state;
	assert_non_null(ms_migration_names[0]);
	assert_string_equal(ms_migration_names[0], "001_init");
	for (int i = 0; ms_migration_names[i] != NULL; i++) {
		assert_non_null(ms_migration_sql[i]);
		assert_true(strstr(ms_migration_sql[i], "CREATE") != NULL ||
		    strstr(ms_migration_sql[i], "ALTER TABLE") != NULL);
		if (i > 0)   /* applied in name order */
			assert_true(strcmp(ms_migration_names[i - 1], ms_migration_names[i]) < 0);
	}
	assert_non_null(strstr(ms_migration_sql[0], "CREATE TABLE outbox"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_address_norm),
		cmocka_unit_test(test_address_lengths),
		cmocka_unit_test(test_id_ok),
		cmocka_unit_test(test_check_message),
		cmocka_unit_test(test_check_upload),
		cmocka_unit_test(test_check_outmail),
		cmocka_unit_test(test_check_new_mailbox),
		cmocka_unit_test(test_list_limit),
		cmocka_unit_test(test_enum_names),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_rcpt_join),
		cmocka_unit_test(test_migrations_embedded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
