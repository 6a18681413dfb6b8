/*
 * reap_mail.c - the warning a recipient gets before their mailbox goes.
 *
 * Plain US-ASCII text (addresses are ASCII, see addr.h): it says when the mailbox will be
 * deleted (date and time in UTC), that logging in keeps it, and where to
 * log in. It never contains a message, a key or a link secret - only the
 * public address of the web UI. The mail is rendered here and queued
 * through mailstore's outbox like every other mail Postern sends; its
 * idempotency key names the mailbox and the inactivity period, so one
 * period gives at most one warning however often or by however many
 * replicas it is attempted.
 */
#include <inttypes.h>
#include <string.h>

#include "reap.h"

int reap_header_safe(const char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return s != NULL;
}

int reap_addr_spec(const char *from, char *out, size_t outlen)
{
	const char *lt = strrchr(from, '<'), *start = from, *end;
	size_t len;

	if (lt != NULL) {
		start = lt + 1;
		if ((end = strchr(start, '>')) == NULL || end[1] != '\0')
			return -1;
	} else {
		end = from + strlen(from);
	}
	while (start < end && *start == ' ')
		start++;
	while (end > start && end[-1] == ' ')
		end--;
	len = (size_t)(end - start);
	if (len < 3 || len >= outlen)
		return -1;
	for (const char *p = start; p < end; p++)
		if (*p <= ' ' || *p >= 0x7f || *p == '<' || *p == '>' || *p == '"' ||
		    *p == ',' || *p == '(' || *p == ')')
			return -1;
	memcpy(out, start, len);
	out[len] = '\0';
	if (strchr(out, '@') == NULL || out[0] == '@' || out[len - 1] == '@' ||
	    strchr(out, '@') != strrchr(out, '@'))
		return -1;
	return 0;
}

char *reap_idem_key(const reap_box *box, pn_pool *pool)
{
	return pn_pool_printf(pool, "reaper-warn:%" PRId64 ":%" PRId64, box->id,
	    box->last_activity);
}

/* The dates a warning shows; literal formats so the compiler checks them. */
enum when { W_SHORT, W_HEADER, W_DAY, W_DAY_TIME };

/* fmt_time - t in UTC, in one of the formats (C locale names), into pool */
static char *fmt_time(time_t t, enum when how, pn_pool *pool)
{
	struct tm tm;
	char buf[128];
	size_t n = 0;

	gmtime_r(&t, &tm);
	switch (how) {
	case W_SHORT: n = strftime(buf, sizeof(buf), "%d %b %Y", &tm); break;
	case W_HEADER: n = strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S +0000", &tm); break;
	case W_DAY: n = strftime(buf, sizeof(buf), "%A, %d %B %Y", &tm); break;
	case W_DAY_TIME: n = strftime(buf, sizeof(buf), "%A, %d %B %Y at %H:%M UTC", &tm); break;
	}
	if (n == 0)
		buf[0] = '\0';
	return pn_pool_strdup(pool, buf);
}

/* domain_of - the part after '@' of the From address, for the Message-ID */
static const char *domain_of(const char *from)
{
	const char *at = strrchr(from, '@');
	static const char def[] = "localhost";

	if (at == NULL || at[1] == '\0')
		return def;
	return at + 1;
}

char *reap_warning_mail(const reap_box *box, time_t delete_at, time_t now,
    const char *from, const char *public_url, long inactivity_days,
    pn_pool *pool)
{
	const char *dom = domain_of(from);
	char *msgid_dom = pn_pool_strdup(pool, dom);
	char *gt = strchr(msgid_dom, '>');

	if (gt != NULL)
		*gt = '\0';
	return pn_pool_printf(pool,
	    "From: %s\r\n"
	    "To: <%s>\r\n"
	    "Subject: Your Postern mailbox will be deleted on %s\r\n"
	    "Date: %s\r\n"
	    "Message-ID: <reaper-warn.%" PRId64 ".%" PRId64 "@%s>\r\n"
	    "Auto-Submitted: auto-generated\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n"
	    "Content-Transfer-Encoding: 7bit\r\n"
	    "\r\n"
	    "Hello,\r\n"
	    "\r\n"
	    "the temporary Postern mailbox for %s has not been used since\r\n"
	    "%s.\r\n"
	    "\r\n"
	    "A temporary mailbox is deleted after %ld days without activity. This\r\n"
	    "one will be deleted, with all its messages, on\r\n"
	    "\r\n"
	    "    %s\r\n"
	    "\r\n"
	    "Logging in keeps it: every login starts the %ld days again, and so do\r\n"
	    "reading a message, sending a reply and a new mail arriving. Log in here:\r\n"
	    "\r\n"
	    "    %s\r\n"
	    "\r\n"
	    "If you no longer need it, do nothing. After the deletion a new\r\n"
	    "encrypted mail to this address creates a new mailbox.\r\n"
	    "\r\n"
	    "-- \r\n"
	    "Postern (automatic message, please do not reply)\r\n",
	    from, box->address,
	    fmt_time(delete_at, W_SHORT, pool),
	    fmt_time(now, W_HEADER, pool),
	    box->id, box->last_activity, msgid_dom,
	    box->address,
	    fmt_time((time_t)box->last_activity, W_DAY, pool),
	    inactivity_days,
	    fmt_time(delete_at, W_DAY_TIME, pool),
	    inactivity_days,
	    public_url);
}
