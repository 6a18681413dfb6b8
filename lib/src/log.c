/*
 * log.c - one logfmt line per event on stderr.
 *
 * The line is assembled in one buffer and written with one write(2), so
 * lines of different threads never interleave. Newlines inside a message
 * are replaced, so one event is always one line.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "postern/log.h"

static const char *log_service = "postern";
static pn_log_level log_level = PN_LOG_INFO;
static const char *const level_names[] = { "debug", "info", "warn", "error" };

void pn_log_init(const char *service, pn_log_level level)
{
	log_service = service;
	log_level = level;
}

int pn_log_level_parse(const char *name)
{
	for (int i = 0; i < 4; i++)
		if (!strcmp(name, level_names[i]))
			return i;
	return -1;
}

/* log_line - format and write one line; extra is appended (may be NULL) */
static void log_line(const char *level, const char *fmt, va_list ap,
    const char *extra)
{
	char buf[4096];
	struct timeval tv;
	struct tm tm;
	size_t n;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = strftime(buf, sizeof(buf), "ts=%Y-%m-%dT%H:%M:%S", &tm);
	n += snprintf(buf + n, sizeof(buf) - n, ".%03ldZ level=%s svc=%s ",
	    (long)(tv.tv_usec / 1000), level, log_service);
	if (n < sizeof(buf)) {
		int m = vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
		if (m > 0)
			n += (size_t)m;
	}
	if (extra && n < sizeof(buf))
		n += snprintf(buf + n, sizeof(buf) - n, " error=\"%s\"", extra);
	if (n >= sizeof(buf) - 1)
		n = sizeof(buf) - 2;          /* truncated: still one line */
	for (size_t i = 0; i < n; i++)
		if (buf[i] == '\n' || buf[i] == '\r')
			buf[i] = ' ';
	buf[n++] = '\n';
	ssize_t w = write(STDERR_FILENO, buf, n);
	(void)w;
}

void pn_logv(pn_log_level level, const char *fmt, va_list ap)
{
	if (level < log_level || level > PN_LOG_ERROR)
		return;
	log_line(level_names[level], fmt, ap, NULL);
}

void pn_log(pn_log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pn_logv(level, fmt, ap);
	va_end(ap);
}

void pn_fatal(const char *fmt, ...)
{
	const char *why = strerror(errno);
	va_list ap;
	va_start(ap, fmt);
	log_line("fatal", fmt, ap, why);
	va_end(ap);
	exit(1);
}

void pn_fatalx(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_line("fatal", fmt, ap, NULL);
	va_end(ap);
	exit(1);
}
