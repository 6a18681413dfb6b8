/*
 * cfg_test.c - configuration tables: defaults, parsing, ranges, _FILE
 * secrets, redaction, renamed variables. Table-driven where the cases
 * are alike.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "postern/cfg.h"

static char *t_str, *t_secret;
static long t_int, t_new;
static int t_bool;

static const pn_cfg_entry table[] = {
	PN_CFG_STR("T_STR", "hello", &t_str, 0, "a string"),
	PN_CFG_STR("T_SECRET", "", &t_secret, PN_CFG_SECRET, "a secret"),
	PN_CFG_INT("T_INT", 42, 1, 100, &t_int, "a number"),
	PN_CFG_BOOL("T_BOOL", 0, &t_bool, "a switch"),
	PN_CFG_INT_WAS("T_NEW", "T_OLD", 7, 1, 100, &t_new, "a renamed number"),
	PN_CFG_END
};

static int clear_env(void **state)
{
	(void)state;
	const char *vars[] = { "T_STR", "T_STR_FILE", "T_SECRET", "T_SECRET_FILE",
		"T_INT", "T_INT_FILE", "T_BOOL", "T_BOOL_FILE", "T_NEW", "T_NEW_FILE",
		"T_OLD", "T_OLD_FILE" };
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
	return 0;
}

static int free_table(void **state)
{
	(void)state;
	pn_cfg_free(table);
	return 0;
}

static void test_defaults(void **state)
{
	char err[256];
	(void)state;
	assert_int_equal(pn_cfg_load(table, err, sizeof(err)), 0);
	assert_string_equal(t_str, "hello");
	assert_string_equal(t_secret, "");
	assert_int_equal(t_int, 42);
	assert_int_equal(t_bool, 0);
}

static void test_values(void **state)
{
	char err[256];
	(void)state;
	setenv("T_STR", "world", 1);
	setenv("T_INT", "100", 1);
	setenv("T_BOOL", "yes", 1);
	assert_int_equal(pn_cfg_load(table, err, sizeof(err)), 0);
	assert_string_equal(t_str, "world");
	assert_int_equal(t_int, 100);
	assert_int_equal(t_bool, 1);
}

/* Bad values: each must be refused with a message naming the variable. */
static void test_bad_values(void **state)
{
	static const struct { const char *var, *val, *expect; } cases[] = {
		{ "T_INT", "0", "out of range 1..100" },
		{ "T_INT", "101", "out of range 1..100" },
		{ "T_INT", "-5", "out of range" },
		{ "T_INT", "12abc", "not a whole number" },
		{ "T_INT", "", "not a whole number" },
		{ "T_INT", "99999999999999999999999", "not a whole number" },
		{ "T_BOOL", "maybe", "not a boolean" },
		{ "T_BOOL", "2", "not a boolean" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[256] = "";
		clear_env(NULL);
		setenv(cases[i].var, cases[i].val, 1);
		assert_int_equal(pn_cfg_load(table, err, sizeof(err)), -1);
		assert_non_null(strstr(err, cases[i].var));
		assert_non_null(strstr(err, cases[i].expect));
		pn_cfg_free(table);
	}
}

static void test_secret_file_and_redaction(void **state)
{
	char err[256], path[] = "/tmp/pn_cfg_test.XXXXXX", *out = NULL;
	size_t outlen = 0;
	(void)state;
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "s3cret-value\n", 13), 13);
	close(fd);
	setenv("T_SECRET_FILE", path, 1);
	assert_int_equal(pn_cfg_load(table, err, sizeof(err)), 0);
	assert_string_equal(t_secret, "s3cret-value");

	FILE *fp = open_memstream(&out, &outlen);
	pn_cfg_print(table, fp);
	fclose(fp);
	assert_null(strstr(out, "s3cret"));
	assert_non_null(strstr(out, "T_SECRET=<redacted>"));
	assert_non_null(strstr(out, "T_STR=hello"));
	free(out);

	/* both the variable and its _FILE: refused, not guessed */
	pn_cfg_free(table);
	setenv("T_SECRET", "x", 1);
	assert_int_equal(pn_cfg_load(table, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "both set"));
	unlink(path);
}

static void test_missing_file(void **state)
{
	char err[256];
	(void)state;
	setenv("T_SECRET_FILE", "/nonexistent/postern/secret", 1);
	assert_int_equal(pn_cfg_load(table, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "T_SECRET_FILE"));
	assert_non_null(strstr(err, "cannot open"));
}

/*
 * a renamed variable: the default; the old name when only it is set (with
 * its own name in errors); the new name when both are; --help names both
 */
static void test_renamed(void **state)
{
	char err[256], *help = NULL;
	size_t helplen = 0;
	FILE *out;

	(void)state;
	assert_int_equal(pn_cfg_load(table, err, sizeof(err)), 0);
	assert_int_equal(t_new, 7);
	pn_cfg_free(table);
	setenv("T_OLD", "9", 1);
	assert_int_equal(pn_cfg_load(table, err, sizeof(err)), 0);
	assert_int_equal(t_new, 9);
	pn_cfg_free(table);
	setenv("T_NEW", "11", 1);
	assert_int_equal(pn_cfg_load(table, err, sizeof(err)), 0);
	assert_int_equal(t_new, 11);
	pn_cfg_free(table);
	unsetenv("T_NEW");
	setenv("T_OLD", "500", 1);
	assert_int_equal(pn_cfg_load(table, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "T_OLD: 500 is out of range 1..100"));
	pn_cfg_free(table);

	out = open_memstream(&help, &helplen);
	assert_non_null(out);
	pn_cfg_help(table, out);
	fclose(out);
	assert_non_null(strstr(help, "T_NEW"));
	assert_non_null(strstr(help, "was T_OLD, still read, deprecated"));
	free(help);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults, clear_env, free_table),
		cmocka_unit_test_setup_teardown(test_values, clear_env, free_table),
		cmocka_unit_test_setup_teardown(test_bad_values, clear_env, free_table),
		cmocka_unit_test_setup_teardown(test_secret_file_and_redaction, clear_env, free_table),
		cmocka_unit_test_setup_teardown(test_missing_file, clear_env, free_table),
		cmocka_unit_test_setup_teardown(test_renamed, clear_env, free_table),
	};
	return cmocka_run_group_tests_name("cfg", tests, NULL, NULL);
}
