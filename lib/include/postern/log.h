/*
 * log.h - one line per event on stderr, logfmt.
 *
 *   ts=2026-11-28T15:40:00.123Z level=info svc=mailstore msg="ready" port=9103
 *
 * The format string carries the event's own key=value pairs after msg.
 * Never log a secret or a message body: log ids, sizes and counts.
 * pn_fatal adds strerror(errno) and exits 1; pn_fatalx does not add it.
 */
#ifndef POSTERN_LOG_H
#define POSTERN_LOG_H

#include <stdarg.h>

typedef enum pn_log_level {
	PN_LOG_DEBUG = 0,
	PN_LOG_INFO = 1,
	PN_LOG_WARN = 2,
	PN_LOG_ERROR = 3,
} pn_log_level;

void pn_log_init(const char *service, pn_log_level level);
/* pn_log_level_parse - "debug".."error" -> level; -1 if unknown */
int pn_log_level_parse(const char *name);
void pn_log(pn_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void pn_logv(pn_log_level level, const char *fmt, va_list ap);

#define pn_debug(...) pn_log(PN_LOG_DEBUG, __VA_ARGS__)
#define pn_info(...)  pn_log(PN_LOG_INFO, __VA_ARGS__)
#define pn_warn(...)  pn_log(PN_LOG_WARN, __VA_ARGS__)
#define pn_error(...) pn_log(PN_LOG_ERROR, __VA_ARGS__)

void pn_fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
void pn_fatalx(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

#endif
