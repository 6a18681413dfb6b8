/*
 * gw_milter.c - the milter: mail from the organisation's MTA to Postern.
 *
 * libmilter speaks the protocol and calls us once per step of each SMTP
 * transaction, in a thread per MTA connection. We gather one message:
 *   envfrom   the envelope sender (the null sender <> is never for
 *             Postern: bounces pass untouched);
 *   envrcpt   each recipient, marked internal when its domain is one of
 *             POSTERN_GATEWAY_LOCAL_DOMAINS;
 *   header    every header, looking for the triggers (gw_policy.c);
 *   eoh       no trigger, or no sender: ACCEPT - libmilter stops calling
 *             for this message and the MTA goes on untouched;
 *   body      the body, bounded by POSTERN_GATEWAY_MAX_MAIL_BYTES;
 *   eom       the decision:
 *     - no external recipient: the trigger marks go, the MTA delivers;
 *     - otherwise one SendEvent to provision with every external
 *       recipient, deliver_key_found set, the mail without its trigger
 *       marks, and a sender notice asked for (the sender learns each new
 *       PIN that way). Once provision has answered - which means
 *       mailstore committed - every external recipient is deleted from
 *       the envelope, so no plaintext copy leaves for an outside
 *       address; the internal ones get the mail from the MTA as usual. A
 *       message left without recipients is discarded.
 *
 * Answers to the MTA:
 *   451 4.3.0  Postern unavailable (bus, provision, mailstore): the MTA
 *              keeps the mail and retries; the retry is the same event
 *              (gw_event_id), so nothing is stored or mailed twice
 *   552 5.3.4  larger than POSTERN_GATEWAY_MAX_MAIL_BYTES
 *   552 5.5.3  more external recipients than POSTERN_GATEWAY_MAX_RECIPIENTS
 *   554 5.6.0  provision finds the mail unusable (its reason)
 *   550 5.1.3  every recipient was refused (their reason)
 * A refused recipient among others is taken out of the envelope and
 * named in the sender's notice: a milter cannot refuse one recipient
 * after DATA.
 *
 * Logs: one line per connection and one per decision, with the queue id
 * and counts; never an address, the subject, the body or a PIN.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libmilter/mfapi.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sodium.h>

#include "postern/addr.h"
#include "postern/gpg.h"
#include "postern/log.h"
#include "postern/metrics.h"
#include "postern/mime.h"
#include "gw.h"

#define HEADERS_MAX 1000            /* header fields kept per message */

typedef struct header {
	char *name;
	char *value;
} header;

typedef struct rcpt {
	char *raw;                  /* as the MTA gave it, for smfi_delrcpt */
	char *addr;                 /* without <>: what provision normalises */
	int internal;
	int duplicate;              /* an earlier rcpt has the same addr */
} rcpt;

/* One SMTP connection's state; the message part is reset per MAIL FROM. */
typedef struct conn {
	char *client;               /* host name the MTA reported */
	char *sender;               /* normalised envelope sender, NULL for <> */
	rcpt *rcpt;
	size_t n_rcpt;
	header *hdr;
	size_t n_hdr;
	size_t bytes;               /* headers + body so far */
	int triggered, with_pin, receipts, oversize;
	char *note;                 /* X-Postern-Note, decoded: the sender's note */
	crypto_generichash_state body_hash;
	pn_buf body;
	size_t body_cap;
} conn;

struct gw_config gw_cfg;         /* filled by main.c's table */

static gw_domains *local_domains, *always_domains;
static pthread_t milter_thread;
static volatile int milter_done;

/* reset_message - forget the message part of the connection */
static void reset_message(conn *c)
{
	for (size_t i = 0; i < c->n_rcpt; i++) {
		pn_free(&c->rcpt[i].raw);
		pn_free(&c->rcpt[i].addr);
	}
	pn_free(&c->rcpt);
	pn_wipe_free(&c->note);
	for (size_t i = 0; i < c->n_hdr; i++) {
		pn_free(&c->hdr[i].name);
		pn_wipe_free(&c->hdr[i].value);
	}
	pn_free(&c->hdr);
	if (c->body.data)
		pn_wipe(c->body.data, c->body.len);
	pn_buf_free(&c->body);
	pn_free(&c->sender);
	c->n_rcpt = c->n_hdr = c->bytes = c->body_cap = 0;
	c->triggered = c->with_pin = c->receipts = c->oversize = 0;
}

/* Steps the MTA need not send at all. */
#define STEPS_SKIPPED (SMFIP_NOHELO | SMFIP_NOUNKNOWN)
#define ACTIONS_NEEDED (SMFIF_DELRCPT | SMFIF_CHGHDRS)

/*
 * on_negotiate - the protocol as the MTA and we agree on it: we delete
 * recipients and change headers; HELO and unknown commands are not sent;
 * and the MTA sends only the one macro we read ({i}, the queue id, at the
 * end of the message). Every other step is answered. Measured through a
 * real Postfix: answering nothing before the end of the headers
 * (SMFIP_NR_*) or skipping DATA (SMFIP_NODATA) leaves Postfix writing a
 * packet no reply follows, which Nagle's algorithm then holds for
 * the delayed ACK - 44 ms per mail instead of 3 ms.
 */
static sfsistat on_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
    unsigned long f2, unsigned long f3, unsigned long *pf0, unsigned long *pf1,
    unsigned long *pf2, unsigned long *pf3)
{
	conn *c = pn_calloc(1, sizeof(*c));
	static const int stages[] = { SMFIM_CONNECT, SMFIM_HELO, SMFIM_ENVFROM, SMFIM_ENVRCPT,
		SMFIM_DATA, SMFIM_EOH };

	(void)f2;
	(void)f3;
	if ((f0 & ACTIONS_NEEDED) != ACTIONS_NEEDED) {
		pn_error("msg=\"the MTA cannot delete recipients or change headers: refused\"");
		pn_free(&c);
		return SMFIS_REJECT;
	}
	*pf0 = ACTIONS_NEEDED | (f0 & SMFIF_SETSYMLIST);
	*pf1 = f1 & STEPS_SKIPPED;
	*pf2 = *pf3 = 0;
	smfi_setpriv(ctx, c);
	if (f0 & SMFIF_SETSYMLIST) {
		for (size_t i = 0; i < sizeof(stages) / sizeof(stages[0]); i++)
			smfi_setsymlist(ctx, stages[i], "{postern_none}");
		smfi_setsymlist(ctx, SMFIM_EOM, "i");
	}
	return SMFIS_CONTINUE;
}

/* queue_id - the MTA's queue id for logs, "-" if it sent none */
static const char *queue_id(SMFICTX *ctx)
{
	const char *q = smfi_getsymval(ctx, "i");
	return q && *q ? q : "-";
}

/* bare - an envelope address without its angle brackets (pn_malloc'd) */
static char *bare(const char *a)
{
	size_t n = strlen(a);

	if (n >= 2 && a[0] == '<' && a[n - 1] == '>')
		return pn_strndup(a + 1, n - 2);
	return pn_strdup(a);
}

static sfsistat on_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *addr)
{
	conn *c = smfi_getpriv(ctx);

	(void)addr;
	if (!c) {                   /* an MTA that did not negotiate */
		c = pn_calloc(1, sizeof(*c));
		smfi_setpriv(ctx, c);
	}
	pn_free(&c->client);
	c->client = pn_strdup(host ? host : "unknown");
	pn_info("msg=\"milter connection\" client=%s", c->client);
	pn_metrics_add("postern_gateway_connections_total", "MTA connections to the milter", 1);
	return SMFIS_CONTINUE;
}

static sfsistat on_envfrom(SMFICTX *ctx, char **argv)
{
	conn *c = smfi_getpriv(ctx);
	char norm[PN_ADDR_MAX + 1], *from;

	if (!c)
		return SMFIS_TEMPFAIL;
	reset_message(c);
	from = bare(argv[0] ? argv[0] : "");
	if (*from && pn_addr_normalise(from, norm, sizeof(norm), NULL) == 0)
		c->sender = pn_strdup(norm);
	pn_free(&from);
	if (!c->sender)
		return SMFIS_ACCEPT;    /* <> or unusable: never for Postern */
	if (gw_domains_match(always_domains, c->sender))
		c->triggered = 1;
	return SMFIS_CONTINUE;
}

static sfsistat on_envrcpt(SMFICTX *ctx, char **argv)
{
	conn *c = smfi_getpriv(ctx);
	char norm[PN_ADDR_MAX + 1];
	rcpt *r;

	if (!c || !argv[0])
		return SMFIS_CONTINUE;
	c->rcpt = pn_realloc(c->rcpt, (c->n_rcpt + 1) * sizeof(*c->rcpt));
	r = &c->rcpt[c->n_rcpt++];
	memset(r, 0, sizeof(*r));
	r->raw = pn_strdup(argv[0]);
	r->addr = bare(argv[0]);
	if (pn_addr_normalise(r->addr, norm, sizeof(norm), NULL) == 0) {
		pn_free(&r->addr);
		r->addr = pn_strdup(norm);
	}
	r->internal = gw_domains_match(local_domains, r->addr);
	for (size_t i = 0; i + 1 < c->n_rcpt; i++)
		if (!strcmp(c->rcpt[i].addr, r->addr))
			r->duplicate = 1;
	return SMFIS_CONTINUE;
}

static sfsistat on_header(SMFICTX *ctx, char *name, char *value)
{
	conn *c = smfi_getpriv(ctx);
	int found = 0;
	char *s;

	if (!c)
		return SMFIS_CONTINUE;
	if (c->n_hdr >= HEADERS_MAX) {
		smfi_setreply(ctx, "552", "5.3.4", "too many header fields");
		return SMFIS_REJECT;
	}
	c->bytes += strlen(name) + strlen(value) + 4;
	c->hdr = pn_realloc(c->hdr, (c->n_hdr + 1) * sizeof(*c->hdr));
	c->hdr[c->n_hdr].name = pn_strdup(name);
	c->hdr[c->n_hdr].value = pn_strdup(value);
	c->n_hdr++;
	if (!strcasecmp(name, "Subject")) {
		if ((s = gw_tag_strip(value, gw_cfg.tag, &found)) != NULL)
			c->triggered = 1;
		pn_free(&s);
		if ((s = gw_tag_strip(value, gw_cfg.pin_tag, &found)) != NULL)
			c->with_pin = 1;
		pn_free(&s);
	} else if (!strcasecmp(name, gw_cfg.header) && gw_yes(value)) {
		c->triggered = 1;
	} else if (!strcasecmp(name, gw_cfg.pin_header) && gw_yes(value)) {
		c->with_pin = 1;
	} else if (!strcasecmp(name, GW_RECEIPTS_HEADER) && gw_yes(value)) {
		c->receipts = 1;
	} else if (!strcasecmp(name, GW_NOTE_HEADER) && c->note == NULL) {
		/* RFC 2047 words decoded; provision checks the length */
		char *d = pn_mime_header_decode(value);
		c->note = d ? d : pn_strdup(value);
	}
	return SMFIS_CONTINUE;
}

static sfsistat on_eoh(SMFICTX *ctx)
{
	conn *c = smfi_getpriv(ctx);

	if (!c || !c->triggered) {
		pn_metrics_add("postern_gateway_passed_total",
		    "messages without a trigger, passed untouched", 1);
		return SMFIS_ACCEPT;
	}
	crypto_generichash_init(&c->body_hash, NULL, 0, 32);
	return SMFIS_CONTINUE;
}

static sfsistat on_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	conn *c = smfi_getpriv(ctx);

	if (!c)
		return SMFIS_TEMPFAIL;
	c->bytes += len;
	if (c->bytes > (size_t)gw_cfg.max_mail_bytes) {
		c->oversize = 1;
		return SMFIS_CONTINUE;      /* refused at the end, with the reason */
	}
	if (c->body.len + len > c->body_cap) {
		size_t cap = c->body_cap ? c->body_cap : 65536;
		while (cap < c->body.len + len)
			cap *= 2;
		c->body.data = pn_realloc(c->body.data, cap);
		c->body_cap = cap;
	}
	memcpy(c->body.data + c->body.len, chunk, len);
	c->body.len += len;
	crypto_generichash_update(&c->body_hash, chunk, len);
	return SMFIS_CONTINUE;
}

/* header_value - the first header of that name, or NULL */
static const char *header_value(const conn *c, const char *name)
{
	for (size_t i = 0; i < c->n_hdr; i++)
		if (!strcasecmp(c->hdr[i].name, name))
			return c->hdr[i].value;
	return NULL;
}

/* append - bytes to a growing buffer */
static void append(pn_buf *b, size_t *cap, const void *p, size_t n)
{
	if (n == 0)                 /* an empty header name: nothing, and no NULL + 0 */
		return;
	if (b->len + n > *cap) {
		size_t nc = *cap ? *cap : 4096;
		while (nc < b->len + n)
			nc *= 2;
		b->data = pn_realloc(b->data, nc);
		*cap = nc;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

/* append_crlf - text with every bare LF (folded header lines) as CRLF */
static void append_crlf(pn_buf *b, size_t *cap, const char *s)
{
	for (const char *p = s; *p; p++) {
		if (*p == '\n' && (p == s || p[-1] != '\r'))
			append(b, cap, "\r", 1);
		append(b, cap, p, 1);
	}
}

/* is_mark_header - a header that only instructs the gateway */
static int is_mark_header(const char *name)
{
	return !strcasecmp(name, gw_cfg.header) || !strcasecmp(name, gw_cfg.pin_header) ||
	    !strcasecmp(name, GW_NOTE_HEADER) || !strcasecmp(name, GW_RECEIPTS_HEADER);
}

/* subject_clean - the subject without both tags (pn_malloc'd), or NULL if unchanged */
static char *subject_clean(const char *value)
{
	int found;
	char *a = gw_tag_strip(value, gw_cfg.tag, &found), *b;

	b = gw_tag_strip(a ? a : value, gw_cfg.pin_tag, &found);
	if (b) {
		pn_free(&a);
		return b;
	}
	return a;
}

/* render - the mail as recipients see it: marks gone, CRLF line ends */
static void render(const conn *c, pn_buf *out)
{
	size_t cap = 0;

	out->data = NULL;
	out->len = 0;
	for (size_t i = 0; i < c->n_hdr; i++) {
		const header *h = &c->hdr[i];
		char *clean = NULL;

		if (is_mark_header(h->name))
			continue;
		if (!strcasecmp(h->name, "Subject"))
			clean = subject_clean(h->value);
		append(out, &cap, h->name, strlen(h->name));
		append(out, &cap, ": ", 2);
		append_crlf(out, &cap, clean ? clean : h->value);
		append(out, &cap, "\r\n", 2);
		pn_free(&clean);
	}
	append(out, &cap, "\r\n", 2);
	if (c->body.len)
		append(out, &cap, c->body.data, c->body.len);
}

/* remove_marks - the trigger marks go from the mail the MTA delivers; 0 or -1 */
static int remove_marks(SMFICTX *ctx, const conn *c)
{
	int n_subject = 0, n_mark[4] = { 0, 0, 0, 0 }, rc = 0;

	for (size_t i = 0; i < c->n_hdr; i++) {
		if (!strcasecmp(c->hdr[i].name, gw_cfg.header))
			n_mark[0]++;
		else if (!strcasecmp(c->hdr[i].name, gw_cfg.pin_header))
			n_mark[1]++;
		else if (!strcasecmp(c->hdr[i].name, GW_NOTE_HEADER))
			n_mark[2]++;
		else if (!strcasecmp(c->hdr[i].name, GW_RECEIPTS_HEADER))
			n_mark[3]++;
	}
	/* last occurrence first: the indexes of the others stay what they were */
	for (int k = n_mark[0]; k >= 1; k--)
		rc |= smfi_chgheader(ctx, gw_cfg.header, k, NULL) == MI_SUCCESS ? 0 : -1;
	for (int k = n_mark[1]; k >= 1; k--)
		rc |= smfi_chgheader(ctx, gw_cfg.pin_header, k, NULL) == MI_SUCCESS ? 0 : -1;
	for (int k = n_mark[2]; k >= 1; k--)
		rc |= smfi_chgheader(ctx, GW_NOTE_HEADER, k, NULL) == MI_SUCCESS ? 0 : -1;
	for (int k = n_mark[3]; k >= 1; k--)
		rc |= smfi_chgheader(ctx, GW_RECEIPTS_HEADER, k, NULL) == MI_SUCCESS ? 0 : -1;
	for (size_t i = 0; i < c->n_hdr; i++) {
		char *clean;

		if (strcasecmp(c->hdr[i].name, "Subject"))
			continue;
		n_subject++;
		if ((clean = subject_clean(c->hdr[i].value)) != NULL) {
			rc |= smfi_chgheader(ctx, "Subject", n_subject, clean) == MI_SUCCESS ? 0 : -1;
			pn_free(&clean);
		}
	}
	return rc;
}

/* What the milter answers at the end of one message. */
typedef struct verdict {
	sfsistat rc;
	const char *decision;       /* handed_over, internal, rejected, tempfail */
	const char *code, *dsn;     /* SMTP reply, NULL = the MTA's own */
	char text[256];
	int kinds[5];               /* outcomes by Outcome.Kind */
	size_t externals;
} verdict;

/* answer - set the verdict; text from provision is made printable and short */
static void answer(verdict *v, sfsistat rc, const char *decision, const char *code,
    const char *dsn, const char *text)
{
	size_t n = 0;

	v->rc = rc;
	v->decision = decision;
	v->code = code;
	v->dsn = dsn;
	for (const char *p = text ? text : ""; *p && n + 1 < sizeof(v->text); p++)
		v->text[n++] = (*p >= 0x20 && *p < 0x7f && *p != '%') ? *p : ' ';
	v->text[n] = '\0';
}

/* unavailable - Postern cannot take the message now: the MTA keeps it */
static void unavailable(verdict *v, const char *text)
{
	answer(v, SMFIS_TEMPFAIL, "tempfail", "451", "4.3.0", text);
}

/*
 * hand_over - one SendEvent with the external recipients ext; once it is
 * answered, they leave the envelope
 */
static void hand_over(SMFICTX *ctx, conn *c, char **ext, size_t n_ext,
    size_t internals, verdict *v)
{
	Postern__V1__SendEvent ev = POSTERN__V1__SEND_EVENT__INIT;
	Postern__V1__SendResult *res = NULL;
	unsigned char body_hash[32];
	char event_id[GW_EVENT_ID_LEN + 1];
	const char *why = NULL, *first_why = NULL;
	pn_pool *pool = pn_pool_new();
	pn_buf mime = { NULL, 0 };
	pn_err err;

	crypto_generichash_final(&c->body_hash, body_hash, sizeof(body_hash));
	{
		const char *mid = header_value(c, "Message-ID");
		gw_facts f = {
			.message_id = gw_mta_message_id(mid, queue_id(ctx)) ? NULL : mid,
			.date = header_value(c, "Date"), .subject = header_value(c, "Subject"),
			.sender = c->sender, .rcpt = (const char *const *)ext, .n_rcpt = n_ext,
			.body_hash = body_hash, .with_pin = c->with_pin,
		};
		gw_event_id(&f, event_id);
	}
	render(c, &mime);
	ev.event_id = event_id;
	ev.sender = c->sender;
	ev.recipients = ext;
	ev.n_recipients = n_ext;
	ev.mime.data = mime.data;
	ev.mime.len = mime.len;
	ev.with_pin = c->with_pin;
	ev.note = c->note;
	ev.receipts = c->receipts;
	ev.deliver_key_found = 1;
	ev.sender_notice = !strcmp(gw_cfg.pin_notice, "encrypt-only") ?
	    POSTERN__V1__SENDER_NOTICE__SENDER_NOTICE_ENCRYPTED :
	    POSTERN__V1__SENDER_NOTICE__SENDER_NOTICE_PLAIN;
	err = gw_send(&ev, pool, &res, &why);
	pn_buf_free(&mime);
	if (err == PN_ERR_TOOLARGE) {
		answer(v, SMFIS_REJECT, "rejected", "552", "5.3.4", why);
		goto done;
	}
	if (err == PN_ERR_PARAMS) {
		answer(v, SMFIS_REJECT, "rejected", "554", "5.6.0", why);
		goto done;
	}
	if (err != PN_OK) {
		pn_warn("msg=\"Postern unavailable: tempfail\" queue=%s status=%s error=\"%s\"",
		    queue_id(ctx), pn_err_str(err), why);
		unavailable(v, "encrypted delivery is unavailable; try again later");
		goto done;
	}

	/* stored for every external recipient: none of them gets the plaintext */
	for (size_t i = 0; i < res->n_outcomes; i++) {
		Postern__V1__Outcome *o = res->outcomes[i];
		if (o->kind >= 1 && o->kind <= 4)
			v->kinds[o->kind]++;
		if (o->kind == POSTERN__V1__OUTCOME__KIND__REJECTED && !first_why)
			first_why = o->error;
		if (o->pin)
			pn_wipe(o->pin, strlen(o->pin));
	}
	for (size_t i = 0; i < c->n_rcpt; i++)
		if (!c->rcpt[i].internal && smfi_delrcpt(ctx, c->rcpt[i].raw) != MI_SUCCESS) {
			/* the retry is the same event: stored once, nothing in plaintext */
			unavailable(v, "cannot edit the envelope; try again");
			goto done;
		}
	if (internals > 0) {
		if (remove_marks(ctx, c) != 0)
			unavailable(v, "cannot edit the message; try again");
		else
			answer(v, SMFIS_CONTINUE, "handed_over", NULL, NULL, NULL);
	} else if ((size_t)v->kinds[POSTERN__V1__OUTCOME__KIND__REJECTED] == n_ext) {
		answer(v, SMFIS_REJECT, "rejected", "550", "5.1.3",
		    first_why && *first_why ? first_why : "no valid recipient");
	} else {
		answer(v, SMFIS_DISCARD, "handed_over", NULL, NULL, NULL);
	}
done:
	pn_pool_destroy(&pool);
}

/* decide - the verdict on a triggered message */
static void decide(SMFICTX *ctx, conn *c, verdict *v)
{
	char **ext = pn_calloc(c->n_rcpt + 1, sizeof(*ext)), text[128];
	size_t internals = 0;

	for (size_t i = 0; i < c->n_rcpt; i++) {
		if (c->rcpt[i].internal)
			internals++;
		else if (!c->rcpt[i].duplicate)
			ext[v->externals++] = c->rcpt[i].addr;
	}
	if (c->oversize) {
		snprintf(text, sizeof(text), "message too large for encrypted delivery "
		    "(at most %ld bytes)", gw_cfg.max_mail_bytes);
		answer(v, SMFIS_REJECT, "rejected", "552", "5.3.4", text);
	} else if (v->externals == 0) {
		if (remove_marks(ctx, c) != 0)
			unavailable(v, "cannot edit the message; try again");
		else
			answer(v, SMFIS_CONTINUE, "internal", NULL, NULL, NULL);
	} else if (v->externals > (size_t)gw_cfg.max_recipients) {
		snprintf(text, sizeof(text), "too many external recipients for encrypted "
		    "delivery (at most %ld)", gw_cfg.max_recipients);
		answer(v, SMFIS_REJECT, "rejected", "552", "5.5.3", text);
	} else {
		hand_over(ctx, c, ext, v->externals, internals, v);
	}
	free(ext);
}

static sfsistat on_eom(SMFICTX *ctx)
{
	conn *c = smfi_getpriv(ctx);
	struct timespec t0, t1;
	char metric[96];
	verdict v;

	if (!c)
		return SMFIS_TEMPFAIL;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	memset(&v, 0, sizeof(v));
	decide(ctx, c, &v);
	if (v.code)
		smfi_setreply(ctx, (char *)v.code, (char *)v.dsn, v.text);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	pn_info("msg=decision queue=%s decision=%s reply=%s recipients=%zu external=%zu "
	    "key_found=%d created=%d exists=%d rejected=%d pin=%s ms=%.1f", queue_id(ctx),
	    v.decision, v.code ? v.code : "-", c->n_rcpt, v.externals, v.kinds[1], v.kinds[2],
	    v.kinds[3], v.kinds[4], c->with_pin ? "yes" : "no",
	    (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	snprintf(metric, sizeof(metric), "postern_gateway_%s_total", v.decision);
	pn_metrics_add(metric, "triggered messages by decision", 1);
	return v.rc;
}

static sfsistat on_abort(SMFICTX *ctx)
{
	conn *c = smfi_getpriv(ctx);

	if (c)
		reset_message(c);
	return SMFIS_CONTINUE;
}

static sfsistat on_close(SMFICTX *ctx)
{
	conn *c = smfi_getpriv(ctx);

	if (!c)
		return SMFIS_CONTINUE;
	reset_message(c);
	pn_free(&c->client);
	pn_free(&c);
	smfi_setpriv(ctx, NULL);
	return SMFIS_CONTINUE;
}

static struct smfiDesc milter = {
	.xxfi_name = "postern-gateway",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_DELRCPT | SMFIF_CHGHDRS,
	.xxfi_connect = on_connect,
	.xxfi_envfrom = on_envfrom,
	.xxfi_envrcpt = on_envrcpt,
	.xxfi_header = on_header,
	.xxfi_eoh = on_eoh,
	.xxfi_body = on_body,
	.xxfi_eom = on_eom,
	.xxfi_abort = on_abort,
	.xxfi_close = on_close,
	.xxfi_negotiate = on_negotiate,
};

/*
 * nodelay_listener - TCP_NODELAY on libmilter's listening socket, which
 * the connections it accepts inherit. Without it our small replies wait
 * for Postfix's delayed ACK whenever the previous one is still unacked:
 * measured through a real Postfix, one mail took 44 ms (p50) instead of
 * 3.5 ms. libmilter does not hand out its socket, so we find it: the one
 * listening socket of this process bound to the milter's port. A unix
 * socket has no Nagle to turn off.
 */
static void nodelay_listener(const char *spec)
{
	const char *p = spec;
	long port;

	if (!strncmp(p, "inet:", 5))
		p += 5;
	else if (!strncmp(p, "inet6:", 6))
		p += 6;
	else
		return;
	if ((port = strtol(p, NULL, 10)) <= 0 || port > 65535)
		return;
	for (int fd = 0; fd < 1024; fd++) {
		struct sockaddr_storage sa;
		socklen_t len = sizeof(sa);
		int listening = 0, one = 1;
		socklen_t olen = sizeof(listening);
		in_port_t bound;

		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &olen) != 0 || !listening ||
		    getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
			continue;
		if (sa.ss_family == AF_INET)
			bound = ((struct sockaddr_in *)&sa)->sin_port;
		else if (sa.ss_family == AF_INET6)
			bound = ((struct sockaddr_in6 *)&sa)->sin6_port;
		else
			continue;
		if (ntohs(bound) != port)
			continue;
		if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
			pn_warn("msg=\"cannot turn off Nagle on the milter socket\" errno=%d", errno);
		else
			pn_debug("msg=\"Nagle off on the milter socket\" fd=%d", fd);
		return;
	}
	pn_warn("msg=\"the milter's listening socket was not found: Nagle stays on\"");
}

/* gw_milter_open - register with libmilter and bind its socket */
int gw_milter_open(void)
{
	const char *why = NULL;

	if (!(local_domains = gw_domains_parse(gw_cfg.local_domains, &why))) {
		pn_error("msg=\"POSTERN_GATEWAY_LOCAL_DOMAINS: %s\"", why);
		return -1;
	}
	if (!(always_domains = gw_domains_parse(gw_cfg.always_domains, &why))) {
		pn_error("msg=\"POSTERN_GATEWAY_ALWAYS_DOMAINS: %s\"", why);
		return -1;
	}
	if (smfi_register(milter) != MI_SUCCESS || smfi_setconn(gw_cfg.milter) != MI_SUCCESS ||
	    smfi_settimeout((int)gw_cfg.milter_timeout) != MI_SUCCESS) {
		pn_error("msg=\"libmilter refused the configuration\" milter=%s", gw_cfg.milter);
		return -1;
	}
	if (smfi_opensocket(1) != MI_SUCCESS) {
		pn_error("msg=\"cannot listen for the MTA\" milter=%s", gw_cfg.milter);
		return -1;
	}
	nodelay_listener(gw_cfg.milter);
	pn_info("msg=\"milter listening\" milter=%s", gw_cfg.milter);
	return 0;
}

/* milter_main - libmilter's loop in a thread of its own */
static void *milter_main(void *arg)
{
	(void)arg;
	if (smfi_main() != MI_SUCCESS)
		pn_error("msg=\"the milter loop failed\"");
	milter_done = 1;
	return NULL;
}

/* gw_milter_run - until SIGTERM (ours or libmilter's own signal thread) */
void gw_milter_run(pn_ctx *ctx)
{
	if (pthread_create(&milter_thread, NULL, milter_main, NULL) != 0)
		pn_fatal("msg=\"cannot start the milter thread\"");
	pn_info("msg=ready service=gateway");
	while (!milter_done && !pn_ctx_sleep(ctx, 200))
		;
	smfi_stop();
	pthread_join(milter_thread, NULL);
	gw_domains_free(&local_domains);
	gw_domains_free(&always_domains);
}
