/*
 * th_mail.c - addresses of a test run and the SMTP sink's mails (for one
 * recipient or holding some text; harness.h).
 *
 * The sink (tests/smtpsink) stores each accepted mail as
 * <unix-ms>-<seq>.eml, its envelope first: one "X-Sink-Rcpt-To: <addr>"
 * line per recipient. So the mails for a recipient are the .eml files
 * holding that line, and the newest of them is the greatest name.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define ADDR_RING 16

const char *th_addr(const char *domain, const char *local)
{
	static char buf[ADDR_RING][128];
	static int i;
	char *b = buf[i++ % ADDR_RING];

	snprintf(b, sizeof(buf[0]), "%s@%s", local, domain);
	return b;
}

/* rcpt_line - the sink's envelope line for rcpt */
static void rcpt_line(char *line, size_t size, const char *rcpt)
{
	snprintf(line, size, "X-Sink-Rcpt-To: <%s>", rcpt);
}

/*
 * scan - the .eml files in dir whose text contains needle; the greatest
 * (newest) such name in best (best_size > 0), "" if none. -1 if dir
 * cannot be read.
 */
static int scan(const char *dir, const char *needle, char *best, size_t best_size)
{
	char path[1024];
	struct dirent *de;
	DIR *d;
	int n = 0;

	if ((d = opendir(dir)) == NULL)
		return -1;
	if (best_size)
		best[0] = 0;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		char *text;

		if (len < 4 || strcmp(de->d_name + len - 4, ".eml"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if ((text = th_read_file(path, NULL)) == NULL)
			continue;
		if (strstr(text, needle)) {
			n++;
			if (best_size && strcmp(de->d_name, best) > 0)
				snprintf(best, best_size, "%s", de->d_name);
		}
		free(text);
	}
	closedir(d);
	return n;
}

/* th_count_mails - .eml files in dir whose text contains needle (0 if dir is missing) */
int th_count_mails(const char *dir, const char *needle)
{
	int n = scan(dir, needle, NULL, 0);

	return n < 0 ? 0 : n;
}

int th_mails_to(const char *dir, const char *rcpt, char **last_r)
{
	char want[300], path[1024], best[256];
	int n;

	rcpt_line(want, sizeof(want), rcpt);
	n = scan(dir, want, best, sizeof(best));
	assert_true(n >= 0);
	if (last_r) {
		*last_r = NULL;
		if (*best) {
			snprintf(path, sizeof(path), "%s/%s", dir, best);
			*last_r = th_read_file(path, NULL);
		}
	}
	return n;
}

char *th_mail_to(const char *dir, const char *rcpt)
{
	char *text;

	th_mails_to(dir, rcpt, &text);
	return text;
}

char *th_mail_with(const char *dir, const char *needle)
{
	char path[1024], best[256];

	if (scan(dir, needle, best, sizeof(best)) <= 0)
		return NULL;
	snprintf(path, sizeof(path), "%s/%s", dir, best);
	return th_read_file(path, NULL);
}

int th_wait_count_mails(const char *dir, const char *needle, int want, long timeout_ms)
{
	long long end = th_now_ms() + timeout_ms;
	int n;

	while ((n = th_count_mails(dir, needle)) < want && th_now_ms() < end)
		usleep(50 * 1000);
	return n;
}

int th_wait_mails(const char *dir, const char *rcpt, int want, long timeout_ms)
{
	char line[300];

	rcpt_line(line, sizeof(line), rcpt);
	return th_wait_count_mails(dir, line, want, timeout_ms);
}
