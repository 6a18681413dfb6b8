/*
 * i18n_test.c - languages: BCP 47 checks and the fallback for hostile
 * tags (logged, made harmless), Accept-Language, two threads in two
 * languages at once, dates in the language's own month names; and the
 * template syntax: escaping, messages with placeholders and plurals, ifs,
 * and every error a template can have.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "postern/i18n.h"
#include "postern/log.h"
#include "postern/mem.h"
#include "postern/tmpl.h"
#include "../../tests/support/support.h"

static int setup(void **state)
{
	char err[256];

	(void)state;
	if (pn_i18n_init(ts_locale_dir(), "en", err, sizeof(err)) < 0) {
		fprintf(stderr, "i18n: %s\n", err);
		return -1;
	}
	return 0;
}

/* logged - what fn writes to the log (stderr) while it runs */
static char *logged(const char *(*fn)(const char *, const char *), const char *tag,
    const char **result_r)
{
	char path[] = "/tmp/postern-i18n-log.XXXXXX", buf[4096];
	int fd = mkstemp(path), saved = dup(2);
	ssize_t n;

	assert_true(fd >= 0 && saved >= 0);
	fflush(stderr);
	dup2(fd, 2);
	*result_r = fn(tag, "test");
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	unlink(path);
	buf[n > 0 ? n : 0] = '\0';
	return pn_strdup(buf);
}

static void test_hostile_tags(void **state)
{
	char big[10240];
	const char *bad[] = { "../../etc", "de\r\nX: y", "de\x1b[31m", big, "d", "1de",
		"de--DE", "de-", "de-toolongsubtag", "de_DE", "de DE" };
	const char *lang;
	char *log;
	(void)state;

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(pn_i18n_tag_ok(bad[i]));
		log = logged(pn_i18n_pick, bad[i], &lang);
		assert_string_equal(lang, "en");
		/* logged, at most 40 bytes of it, nothing raw */
		assert_non_null(strstr(log, "malformed language tag, using the default"));
		assert_null(strstr(log, "\r"));
		assert_null(strstr(log, "\x1b"));
		assert_true(strlen(log) < 400);
		pn_free(&log);
	}
	assert_true(pn_i18n_tag_ok("de"));
	assert_true(pn_i18n_tag_ok("de-CH-1996"));
	assert_true(pn_i18n_tag_ok("zh-Hant-TW"));
	assert_string_equal(pn_i18n_pick("DE-at", "test"), "de");
	assert_string_equal(pn_i18n_pick("fr-CA", "test"), "fr");
	assert_string_equal(pn_i18n_pick("", "test"), "en");
	log = logged(pn_i18n_pick, "es-ES", &lang);
	assert_string_equal(lang, "en");
	assert_non_null(strstr(log, "unsupported language"));
	pn_free(&log);
}

static void test_accept_language(void **state)
{
	(void)state;
	assert_string_equal(pn_i18n_accept("de-DE,de;q=0.9,en;q=0.8"), "de");
	assert_string_equal(pn_i18n_accept("es, fr;q=0.5, de;q=0.7"), "de");
	assert_string_equal(pn_i18n_accept("es, it"), "en");
	assert_string_equal(pn_i18n_accept("fr;q=0, de;q=0.1"), "de");
	assert_string_equal(pn_i18n_accept(NULL), "en");
	assert_string_equal(pn_i18n_accept("../../etc;q=1, \x01"), "en");
}

/* speak - one thread says "Hello," in its language many times */
static void *speak(void *arg)
{
	const char *lang = arg, *want = !strcmp(lang, "de") ? "Guten Tag," : "Bonjour,";
	long wrong = 0;

	pn_i18n_use(lang);
	for (int i = 0; i < 20000; i++)
		wrong += strcmp(_("Hello,"), want) != 0;
	pn_i18n_use(NULL);
	return (void *)wrong;
}

static void test_threads(void **state)
{
	pthread_t a, b;
	void *ra, *rb;
	(void)state;

	assert_int_equal(pthread_create(&a, NULL, speak, "de"), 0);
	assert_int_equal(pthread_create(&b, NULL, speak, "fr"), 0);
	pthread_join(a, &ra);
	pthread_join(b, &rb);
	assert_int_equal((long)ra, 0);
	assert_int_equal((long)rb, 0);
	/* this thread chose nothing: English */
	assert_string_equal(_("Hello,"), "Hello,");
}

static void test_dates(void **state)
{
	char buf[128];
	const char *prev;
	time_t t = 1751209560;        /* 2025-06-29 15:06 UTC */
	(void)state;

	prev = pn_i18n_use("de");
	assert_true(pn_i18n_date(buf, sizeof(buf), t, 120, 1) > 0);
	assert_string_equal(buf, "29. Juni 2025, 17:06 Uhr UTC+02:00");
	pn_i18n_use("fr");
	assert_true(pn_i18n_date(buf, sizeof(buf), t, -300, 0) > 0);
	assert_string_equal(buf, "29 juin 2025");
	pn_i18n_use("en");
	assert_true(pn_i18n_date(buf, sizeof(buf), t, 0, 1) > 0);
	assert_string_equal(buf, "29 June 2025, 15:06 UTC+00:00");
	assert_int_equal(pn_i18n_date(buf, sizeof(buf), t, 841, 1), 0);
	pn_i18n_use(prev);
}

static const char *const vars[] = { "name", "n", "html_body", "support", NULL };

static void test_templates(void **state)
{
	char err[256], *out;
	const pn_tmpl_var v[] = { { "name", "<b>Tom & \"J\"</b>" }, { "n", "3" },
		{ "html_body", "<p>ok</p>" } };
	pn_tmpl *t;
	(void)state;

	t = pn_tmpl_parse("t.html", "{{! c }}<i>{{name}}</i>{{#if n}} {{_n \"{n} day\" \"{n} days\" n}}"
	    "{{else}}none{{/if}}{{html_body}}", 1, vars, err, sizeof(err));
	assert_non_null(t);
	out = pn_tmpl_render(t, v, 3);
	assert_string_equal(out, "<i>&lt;b&gt;Tom &amp; &quot;J&quot;&lt;/b&gt;</i> 3 days<p>ok</p>");
	pn_free(&out);
	out = pn_tmpl_render(t, v, 1);
	assert_string_equal(out, "<i>&lt;b&gt;Tom &amp; &quot;J&quot;&lt;/b&gt;</i>none");
	pn_free(&out);
	pn_tmpl_destroy(&t);
	/* text: nothing escaped; a message translated, its placeholder filled */
	t = pn_tmpl_parse("t.txt", "{{_ \"Help: {support}\"}}", 0, vars, err, sizeof(err));
	assert_non_null(t);
	pn_i18n_use("de");
	{
		const pn_tmpl_var sv[] = { { "support", "<b>Tom & \"J\"</b>" } };
		out = pn_tmpl_render(t, sv, 1);
	}
	pn_i18n_use(NULL);
	assert_string_equal(out, "Hilfe: <b>Tom & \"J\"</b>");
	pn_free(&out);
	pn_tmpl_destroy(&t);
	{
		static const struct { const char *src, *msg; } bad[] = {
			{ "x\n{{nope}}", "t line 2: unknown variable 'nope'" },
			{ "{{_ \"Hi {nope}\"}}", "unknown variable 'nope' in a message" },
			{ "{{#if name}}x", "is not closed by {{/if}}" },
			{ "{{/if}}", "{{/if}} without {{#if}}" },
			{ "{{name", "'{{' without '}}'" },
			{ "{{_ Hi}}", "a message must be in double quotes" },
			{ "{{_ \"Hi}}", "not closed by a double quote" },
			{ "{{name name}}", "unexpected" },
			{ "{{_n \"a\" \"b\" nope}}", "unknown variable 'nope'" },
		};
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			assert_null(pn_tmpl_parse("t", bad[i].src, 0, vars, err, sizeof(err)));
			if (strstr(err, bad[i].msg) == NULL)
				fail_msg("%s: got \"%s\"", bad[i].src, err);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostile_tags),
		cmocka_unit_test(test_accept_language),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_templates),
	};
	pn_log_init("i18n_test", PN_LOG_INFO);
	return cmocka_run_group_tests(tests, setup, NULL);
}
