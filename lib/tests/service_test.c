/*
 * service_test.c - the service skeleton's command line and start-up
 * (service.c): --help, --version, --print-config with secrets redacted,
 * unknown arguments, configuration errors in the common and the service's
 * own table, and a one-shot run (a flag with no_worker: init, background,
 * fini, no bus) with its exit status.
 *
 * Each case runs pn_service_main in a forked child with its own
 * environment, its stdout and stderr caught in files, and checks the exit
 * status and the text. Hermetic: no broker, no health port (port 0).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "postern/mem.h"
#include "postern/service.h"

static char *ut_name, *ut_secret;
static long ut_count;
static int ut_once;

static const pn_cfg_entry config[] = {
	PN_CFG_STR("POSTERN_UT_NAME", "plain", &ut_name, 0, "a name (\"fail\": init fails)"),
	PN_CFG_STR("POSTERN_UT_SECRET", "s3cret-default", &ut_secret, PN_CFG_SECRET,
	    "a secret"),
	PN_CFG_INT("POSTERN_UT_COUNT", 5, 1, 10, &ut_count, "a count"),
	PN_CFG_END
};

static const pn_flag flags[] = {
	{ "--once", &ut_once, 1, "run the background job once and exit" },
	PN_FLAG_END
};

/* ut_init - "fail" as the name makes start-up fail */
static int ut_init(pn_ctx *ctx)
{
	(void)ctx;
	printf("init name=%s\n", ut_name);
	return strcmp(ut_name, "fail") ? 0 : -1;
}

/* ut_background - the one-shot job */
static void ut_background(pn_ctx *ctx)
{
	printf("background count=%ld once=%d stopping=%d\n", ut_count, ut_once,
	    pn_ctx_stopping(ctx));
}

/* ut_fini - the end of a run */
static void ut_fini(pn_ctx *ctx)
{
	(void)ctx;
	printf("fini\n");
}

static const pn_service service = {
	.name = "unittest",
	.summary = "a service that exists only in a test",
	.health_port = 9999,
	.config = config,
	.init = ut_init,
	.fini = ut_fini,
	.background = ut_background,
	.flags = flags,
};

/* The variables a case may set; every other one is unset in the child. */
static const char *const vars[] = {
	"POSTERN_UT_NAME", "POSTERN_UT_SECRET", "POSTERN_UT_COUNT", "POSTERN_BUS_RETRIES",
	"POSTERN_LOG_LEVEL", "POSTERN_HEALTH_LISTEN", "POSTERN_BROKER", "POSTERN_CERT_DIR", NULL,
};

typedef struct run {
	int status;                 /* exit status, or -1 if the child did not exit */
	char *out, *err;
} run;

/* slurp - what f holds, NUL-terminated */
static char *slurp(FILE *f)
{
	long n;
	char *s;

	fflush(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	s = pn_malloc((size_t)n + 1);
	assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
	s[n] = '\0';
	fclose(f);
	return s;
}

/* run_main - pn_service_main(args) in a child with env ("NAME=value", NULL-terminated) */
static run run_main(const char *const *args, const char *const *env)
{
	FILE *out = tmpfile(), *err = tmpfile();
	char *argv[8];
	int argc = 0, ws;
	pid_t pid;
	run r;

	assert_non_null(out);
	assert_non_null(err);
	argv[argc++] = "postern-unittest";
	for (size_t i = 0; args[i] && argc < 7; i++)
		argv[argc++] = (char *)args[i];
	argv[argc] = NULL;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int rc;
		dup2(fileno(out), 1);
		dup2(fileno(err), 2);
		for (size_t i = 0; vars[i]; i++)
			unsetenv(vars[i]);
		for (size_t i = 0; env[i]; i++)
			putenv((char *)env[i]);
		rc = pn_service_main(argc, argv, &service);
		fflush(stdout);
		fflush(stderr);
		_exit(rc);
	}
	assert_int_equal(waitpid(pid, &ws, 0), pid);
	r.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
	r.out = slurp(out);
	r.err = slurp(err);
	return r;
}

/* hold_port - listen on 127.0.0.1:port (a socket, or -1 if something else holds it) */
static int hold_port(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 1) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void test_command_line(void **state)
{
	int hold;
	static const struct {
		const char *name;
		const char *args[3];
		const char *env[4];
		int status;
		const char *out[4];     /* each must be in stdout */
		const char *err[3];     /* each must be in stderr */
		const char *not_out;    /* must not be in stdout */
	} cases[] = {
		{ "help", { "--help" }, { NULL }, 0,
		    { "usage: postern-unittest [--help] [--print-config] [--once]\n"
		      "a service that exists only in a test\n",
		      "  --once                 run the background job once and exit\n",
		      "Environment (common):\n", "Environment (unittest):\n" }, { NULL }, NULL },
		{ "help lists both tables", { "-h" }, { NULL }, 0,
		    { "POSTERN_BROKER", "POSTERN_UT_COUNT", "a count (default 5, 1..10)" },
		    { NULL }, NULL },
		{ "version", { "--version" }, { NULL }, 0, { "postern-unittest " }, { NULL }, NULL },
		{ "unknown argument", { "--bogus" }, { NULL }, 2, { NULL },
		    { "postern-unittest: unknown argument \"--bogus\"\n", "usage: postern-unittest" },
		    "usage" },
		{ "print-config: defaults, secret redacted", { "--print-config" }, { NULL }, 0,
		    { "POSTERN_CERT=certs/unittest.cert\n", "POSTERN_HEALTH_LISTEN=127.0.0.1:9999\n",
		      "POSTERN_UT_SECRET=<redacted>\n", "POSTERN_UT_COUNT=5\n" }, { NULL },
		    "s3cret" },
		{ "print-config: from the environment", { "--print-config" },
		    { "POSTERN_UT_NAME=given", "POSTERN_UT_COUNT=10", "POSTERN_UT_SECRET=other" }, 0,
		    { "POSTERN_UT_NAME=given\n", "POSTERN_UT_COUNT=10\n",
		      "POSTERN_UT_SECRET=<redacted>\n" }, { NULL }, "other" },
		{ "own table out of range", { "--print-config" }, { "POSTERN_UT_COUNT=11" }, 2,
		    { NULL }, { "postern-unittest: configuration: ", "POSTERN_UT_COUNT" }, "=" },
		{ "own table not a number", { NULL }, { "POSTERN_UT_COUNT=five" }, 2, { NULL },
		    { "postern-unittest: configuration: ", "POSTERN_UT_COUNT" }, "init" },
		{ "common table out of range", { "--once" }, { "POSTERN_BUS_RETRIES=0" }, 2,
		    { NULL }, { "POSTERN_BUS_RETRIES" }, "init" },
		{ "required left empty", { "--once" }, { "POSTERN_BROKER=" }, 2, { NULL },
		    { "POSTERN_BROKER" }, "init" },
		{ "log level", { "--print-config" }, { "POSTERN_LOG_LEVEL=loud" }, 2, { NULL },
		    { "POSTERN_LOG_LEVEL: \"loud\" is not debug, info, warn or error" }, "=" },
		{ "one-shot run", { "--once" },
		    { "POSTERN_HEALTH_LISTEN=127.0.0.1:0", "POSTERN_UT_COUNT=7" }, 0,
		    { "init name=plain\nbackground count=7 once=1 stopping=0\nfini\n" }, { NULL },
		    NULL },
		{ "print-config: the certificate follows POSTERN_CERT_DIR", { "--print-config" },
		    { "POSTERN_CERT_DIR=/etc/pn" }, 0,
		    { "POSTERN_CERT_DIR=/etc/pn\n", "POSTERN_CERT=/etc/pn/unittest.cert\n" },
		    { NULL }, NULL },
		/* the default health port 9999 is held by the test (below): not needed */
		{ "one-shot run: no health port unless asked", { "--once" },
		    { "POSTERN_UT_COUNT=6", "POSTERN_LOG_LEVEL=debug" }, 0,
		    { "background count=6 once=1" }, { "one-shot run: no health port" }, NULL },
		{ "init fails", { "--once" },
		    { "POSTERN_HEALTH_LISTEN=127.0.0.1:0", "POSTERN_UT_NAME=fail" }, 1,
		    { "init name=fail\n" }, { "initialisation failed" }, "background" },
	};

	(void)state;
	hold = hold_port(9999);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		run r = run_main(cases[i].args, cases[i].env);

		printf("%s: exit %d\n", cases[i].name, r.status);
		if (r.status != cases[i].status)
			printf("stdout:\n%s\nstderr:\n%s\n", r.out, r.err);
		assert_int_equal(r.status, cases[i].status);
		for (size_t j = 0; j < 4 && cases[i].out[j]; j++)
			assert_non_null(strstr(r.out, cases[i].out[j]));
		for (size_t j = 0; j < 3 && cases[i].err[j]; j++)
			assert_non_null(strstr(r.err, cases[i].err[j]));
		if (cases[i].not_out)
			assert_null(strstr(r.out, cases[i].not_out));
		assert_null(strstr(r.err, "health port open"));
		pn_free(&r.out);
		pn_free(&r.err);
	}
	if (hold >= 0)
		close(hold);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_command_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
