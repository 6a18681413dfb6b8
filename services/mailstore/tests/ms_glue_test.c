/*
 * ms_glue_test.c - the pure parts of the libpq and libcurl glue mailstore
 * stands on: SQLSTATE classification (what callers retry), bytea hex
 * decoding, parameter binding, STARTTLS names, CRLF normalisation, and
 * the stable Message-ID an outbox mail leaves with.
 * Neither a database nor an SMTP server is needed; sending to a closed
 * port checks that "no connection" is temporary.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "postern/mem.h"
#include "postern/pg.h"
#include "postern/smtp.h"
#include "../ms.h"

static void test_classify(void **state)
{
	static const struct {
		const char *st;
		pn_err want;
	} cases[] = {
		{ NULL, PN_ERR_TEMP },          /* no SQLSTATE: connection trouble */
		{ "", PN_ERR_TEMP },
		{ "23505", PN_ERR_EXISTS },
		{ "40001", PN_ERR_TEMP },
		{ "40P01", PN_ERR_TEMP },
		{ "08006", PN_ERR_TEMP },
		{ "08001", PN_ERR_TEMP },
		{ "08P01", PN_ERR_INTERNAL },   /* protocol violation: a bug */
		{ "57P01", PN_ERR_TEMP },
		{ "53300", PN_ERR_TEMP },
		{ "55P03", PN_ERR_TEMP },
		{ "23503", PN_ERR_INTERNAL },   /* FK: the caller decides */
		{ "42P01", PN_ERR_INTERNAL },
		{ "22P02", PN_ERR_INTERNAL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(pn_pg_classify(cases[i].st), cases[i].want);
}

static void test_bytea_decode(void **state)
{
	uint8_t out[16];

	(void)state;
	assert_int_equal(pn_pg_bytea_decode("\\x", 2, out), 0);
	assert_int_equal(pn_pg_bytea_decode("\\x00ff7A", 8, out), 3);
	assert_int_equal(out[0], 0x00);
	assert_int_equal(out[1], 0xff);
	assert_int_equal(out[2], 0x7a);
	assert_int_equal(pn_pg_bytea_decode("\\x0", 3, out), -1);     /* odd */
	assert_int_equal(pn_pg_bytea_decode("\\xzz", 4, out), -1);
	assert_int_equal(pn_pg_bytea_decode("abcd", 4, out), -1);     /* escape format */
	assert_int_equal(pn_pg_bytea_decode("", 0, out), -1);
}

static void test_params(void **state)
{
	pn_pg_params p;
	static const uint8_t bin[] = { 0, 1, 2, 0 };

	(void)state;
	pn_pg_params_init(&p);
	pn_pg_param_int(&p, -9223372036854775807LL - 1);
	pn_pg_param_text(&p, "hello");
	pn_pg_param_text(&p, NULL);
	pn_pg_param_bool(&p, 1);
	pn_pg_param_bytea(&p, bin, sizeof(bin));
	pn_pg_param_bytea(&p, bin, 0);
	pn_pg_param_bytea(&p, NULL, 0);
	assert_int_equal(p.n, 7);
	assert_string_equal(p.values[0], "-9223372036854775808");
	assert_int_equal(p.formats[0], 0);
	assert_string_equal(p.values[1], "hello");
	assert_null(p.values[2]);
	assert_string_equal(p.values[3], "t");
	assert_ptr_equal(p.values[4], bin);
	assert_int_equal(p.lengths[4], 4);
	assert_int_equal(p.formats[4], 1);
	assert_non_null(p.values[5]);       /* empty, not NULL */
	assert_int_equal(p.lengths[5], 0);
	assert_null(p.values[6]);           /* SQL NULL */
}

static void test_tls_parse(void **state)
{
	(void)state;
	assert_int_equal(pn_smtp_tls_parse("off"), PN_SMTP_TLS_OFF);
	assert_int_equal(pn_smtp_tls_parse("optional"), PN_SMTP_TLS_OPTIONAL);
	assert_int_equal(pn_smtp_tls_parse("required"), PN_SMTP_TLS_REQUIRED);
	assert_int_equal(pn_smtp_tls_parse("Required"), -1);
	assert_int_equal(pn_smtp_tls_parse(""), -1);
	assert_int_equal(pn_smtp_tls_parse(NULL), -1);
}

static void test_crlf(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "", "" },
		{ "a", "a" },
		{ "a\nb\n", "a\r\nb\r\n" },
		{ "a\r\nb\r\n", "a\r\nb\r\n" },
		{ "\n\n", "\r\n\r\n" },
		{ "mixed\r\nand\nbare\r", "mixed\r\nand\r\nbare\r" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len;
		char *got = pn_smtp_crlf(cases[i].in, strlen(cases[i].in), &len);

		assert_int_equal(len, strlen(cases[i].out));
		assert_memory_equal(got, cases[i].out, len);
		free(got);
	}
}

/* closed_port - a loopback port nobody listens on right now */
static int closed_port(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

/* out - ms_outbox_message_id of text as a string in pool */
static const char *out(pn_pool *pool, const char *text, const char *key, const char *from)
{
	size_t len;
	const uint8_t *m = ms_outbox_message_id((const uint8_t *)text, strlen(text), key, from,
	    pool, &len);
	char *s = pn_pool_alloc(pool, len + 1);

	memcpy(s, m, len);
	return s;
}

static void test_message_id(void **state)
{
	pn_pool *pool = pn_pool_new();
	const char *plain = "From: a@b.example\r\nSubject: x\r\n\r\nbody\r\n";
	const char *a, *b, *c;

	(void)state;
	/* a mail with its own Message-ID goes as it is, whatever the case */
	assert_string_equal(out(pool, "message-id: <x@y>\r\n\r\nb\r\n", "k", "p@d.example"),
	    "message-id: <x@y>\r\n\r\nb\r\n");
	assert_string_equal(out(pool, "From: a\nMessage-ID: <x@y>\n\nb\n", "k", ""),
	    "From: a\nMessage-ID: <x@y>\n\nb\n");
	/* one only in the body does not count */
	a = out(pool, "From: a\r\n\r\nMessage-ID: <in@body>\r\n", "k", "p@d.example");
	assert_true(!strncmp(a, "Message-ID: <", 13));
	/* without one: derived from the key, the same every time, the mail after it */
	a = out(pool, plain, "ev-1/bob@example.org/invite", "postern@d.example");
	b = out(pool, plain, "ev-1/bob@example.org/invite", "postern@d.example");
	c = out(pool, plain, "ev-2/bob@example.org/invite", "postern@d.example");
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	assert_true(!strncmp(a, "Message-ID: <", 13));
	assert_non_null(strstr(a, ".outbox@d.example>\r\nFrom: a@b.example\r\n"));
	assert_int_equal(strlen(a), strlen("Message-ID: <>\r\n") + 32 +
	    strlen(".outbox@d.example") + strlen(plain));
	/* the key (event, address) never shows */
	assert_null(strstr(a, "bob"));
	/* a null or odd sender: a fixed domain */
	assert_non_null(strstr(out(pool, plain, "k", ""), ".outbox@postern.invalid>"));
	assert_non_null(strstr(out(pool, plain, "k", "x@evil>\r\nBcc: z"),
	    ".outbox@postern.invalid>"));
	pn_pool_destroy(&pool);
}

static void test_send_refused_is_temp(void **state)
{
	char url[64], err[256];
	const char *rcpt[] = { "bob@example.org" };
	pn_smtp_cfg cfg;

	(void)state;
	pn_smtp_init();
	snprintf(url, sizeof(url), "smtp://127.0.0.1:%d", closed_port());
	memset(&cfg, 0, sizeof(cfg));
	cfg.url = url;
	cfg.starttls = PN_SMTP_TLS_OPTIONAL;
	cfg.timeout_ms = 3000;
	assert_int_equal(pn_smtp_send(&cfg, "a@example.com", rcpt, 1, "x\r\n", 3,
	    err, sizeof(err)), PN_ERR_TEMP);
	assert_true(err[0] != '\0');
	/* unusable input never reaches the network */
	rcpt[0] = "bob@example.org>\r\nRSET";
	assert_int_equal(pn_smtp_send(&cfg, "a@example.com", rcpt, 1, "x\r\n", 3,
	    err, sizeof(err)), PN_ERR_PARAMS);
	assert_int_equal(pn_smtp_send(&cfg, "a@example.com", rcpt, 0, "x\r\n", 3,
	    err, sizeof(err)), PN_ERR_PARAMS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_bytea_decode),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_tls_parse),
		cmocka_unit_test(test_crlf),
		cmocka_unit_test(test_message_id),
		cmocka_unit_test(test_send_refused_is_temp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
