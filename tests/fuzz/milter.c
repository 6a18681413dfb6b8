/*
 * milter.c - fuzz target: what the gateway's milter does with one SMTP
 * transaction from the organisation's MTA (services/gateway/gw_milter.c,
 * compiled into this harness so its callbacks are reachable): envelope
 * sender and recipients, every header field (the trigger tag and marks,
 * Subject cleaning), the body, the decision at the end of the message
 * with the mail rendered for provision, the event id, and the edits of
 * the envelope and headers.
 *
 * What is not under test stands in here, kept as small as it can be:
 * libmilter's context calls (the private pointer, the queue id macro;
 * envelope and header edits are checked for their arguments and
 * succeed), and provision behind gw_send, which parses the rendered mail
 * as provision does (pn_mime_inspect) and answers each recipient with an
 * outcome picked by the input.
 *
 * Input (text): line 1 the MAIL FROM argument; line 2 the RCPT TO
 * arguments, space-separated; then header fields as "Name: value" lines
 * (a line starting with a space or tab continues the value, as the MTA
 * passes it), an empty line, and the body.
 */
#include "../../services/gateway/gw_milter.c"
#include "postern/mime.h"
#include "fuzz.h"

struct smfi_str {
	void *priv;
	unsigned kinds;             /* outcome kinds for gw_send, two bits each */
};

void *smfi_getpriv(SMFICTX *ctx) { return ctx->priv; }
int smfi_setpriv(SMFICTX *ctx, void *p) { ctx->priv = p; return MI_SUCCESS; }
char *smfi_getsymval(SMFICTX *ctx, char *name) { (void)ctx; return !strcmp(name, "i") ? "4F00QUEUE" : NULL; }
int smfi_setsymlist(SMFICTX *ctx, int stage, char *macros) { (void)ctx; (void)stage; (void)macros; return MI_SUCCESS; }

int smfi_setreply(SMFICTX *ctx, char *rcode, char *xcode, char *message)
{
	(void)ctx;
	/* libmilter refuses a reply text with a CR or LF; ours must never carry one */
	if (!rcode || strlen(rcode) != 3 || (message && strpbrk(message, "\r\n")))
		abort();
	(void)xcode;
	return MI_SUCCESS;
}

/*
 * folded_ok - every line break in a header value is a fold: CR only
 * before LF, LF only before white space (never at the end, never before
 * another line break: an empty line ends the header section)
 */
static int folded_ok(const char *v)
{
	for (; v && *v; v++)
		if ((*v == '\r' && v[1] != '\n') ||
		    (*v == '\n' && v[1] != ' ' && v[1] != '\t'))
			return 0;
	return 1;
}

int smfi_chgheader(SMFICTX *ctx, char *name, int idx, char *value)
{
	(void)ctx;
	/* a changed Subject must not start a header field of its own */
	if (!name || !*name || idx < 1 || !folded_ok(value))
		abort();
	return MI_SUCCESS;
}

int smfi_delrcpt(SMFICTX *ctx, char *who) { (void)ctx; if (!who) abort(); return MI_SUCCESS; }

/* the milter's socket and loop: never reached from here */
int smfi_opensocket(bool rm) { (void)rm; abort(); }
int smfi_register(struct smfiDesc d) { (void)d; abort(); }
int smfi_main(void) { abort(); }
int smfi_settimeout(int t) { (void)t; abort(); }
int smfi_setconn(char *c) { (void)c; abort(); }
int smfi_stop(void) { return MI_SUCCESS; }

static struct smfi_str *current;

/* gw_send - provision as the milter sees it: checks the mail, one outcome per recipient */
pn_err gw_send(const Postern__V1__SendEvent *ev, pn_pool *pool,
    Postern__V1__SendResult **res_r, const char **why_r)
{
	Postern__V1__SendResult *res;
	pn_mime_info info;
	const char *why = NULL;

	memset(&info, 0, sizeof(info));
	if (pn_mime_inspect(ev->mime.data, ev->mime.len, &info, &why) != PN_OK) {
		*why_r = why;
		return PN_ERR_PARAMS;
	}
	pn_mime_info_free(&info);
	if ((current->kinds & 0xf) == 0xf) {
		*why_r = "provision is unavailable";
		return PN_ERR_TEMP;
	}
	res = pn_pool_alloc(pool, sizeof(*res));
	postern__v1__send_result__init(res);
	res->event_id = ev->event_id;
	res->n_outcomes = ev->n_recipients;
	res->outcomes = pn_pool_alloc(pool, ev->n_recipients * sizeof(*res->outcomes) + 1);
	for (size_t i = 0; i < ev->n_recipients; i++) {
		Postern__V1__Outcome *o = pn_pool_alloc(pool, sizeof(*o));

		postern__v1__outcome__init(o);
		o->recipient = ev->recipients[i];
		o->kind = 1 + ((current->kinds >> (2 * (i % 16))) & 3);
		o->pin = o->kind == 2 && ev->with_pin ? pn_pool_strdup(pool, "123456") : NULL;
		o->error = o->kind == 4 ? "no such\r\nrecipient" : NULL;
		res->outcomes[i] = o;
	}
	*res_r = res;
	return PN_OK;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *why;

	(void)argc;
	(void)argv;
	pn_log_init("fuzz-milter", PN_LOG_ERROR);
	gw_cfg.tag = "[secure]";
	gw_cfg.pin_tag = "[pin]";
	gw_cfg.header = "X-Postern-Encrypt";
	gw_cfg.pin_header = "X-Postern-PIN";
	gw_cfg.pin_notice = "plain-allowed";
	gw_cfg.max_mail_bytes = 65536;
	gw_cfg.max_recipients = 8;
	local_domains = gw_domains_parse("example.com, .corp.example.com", &why);
	always_domains = gw_domains_parse("always.example.com", &why);
	if (!local_domains || !always_domains)
		abort();
	return 0;
}

/* header_lines - "Name: value" fields up to the empty line; returns where the body starts */
static const char *header_lines(SMFICTX *ctx, const char *p)
{
	while (*p && *p != '\n') {
		const char *end = p, *colon;
		char *name, *value;

		/* the field runs to a newline not followed by white space */
		while (*end && !(end[0] == '\n' && end[1] != ' ' && end[1] != '\t'))
			end++;
		colon = memchr(p, ':', (size_t)(end - p));
		if (colon) {
			const char *v = colon + 1;

			while (v < end && (*v == ' ' || *v == '\t'))
				v++;
			name = pn_strndup(p, (size_t)(colon - p));
			value = pn_strndup(v, (size_t)(end - v));
			/* the MTA passes only folded line breaks */
			for (char *q = value; *q; q++)
				if (*q == '\r' && q[1] != '\n')
					*q = ' ';
			on_header(ctx, name, value);
			pn_free(&name);
			pn_free(&value);
		}
		p = *end ? end + 1 : end;
	}
	return *p ? p + 1 : p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smfi_str ctx = { NULL, 0 };
	char *text = fz_strndup(data, size), *from, *rcpts, *save = NULL;
	const uint8_t *p = data;
	size_t n = size;
	unsigned long pf0, pf1, pf2, pf3;
	const char *body;
	char *argv[2] = { NULL, NULL };

	current = &ctx;
	from = fz_split(&p, &n, '\n');
	rcpts = fz_split(&p, &n, '\n');
	for (size_t i = 0; i < size && i < 4; i++)
		ctx.kinds = ctx.kinds * 251 + data[i];
	on_negotiate(&ctx, ACTIONS_NEEDED | SMFIF_SETSYMLIST, STEPS_SKIPPED, 0, 0,
	    &pf0, &pf1, &pf2, &pf3);
	on_connect(&ctx, "mta.example.com", NULL);
	argv[0] = from;
	if (on_envfrom(&ctx, argv) == SMFIS_CONTINUE) {
		for (char *r = strtok_r(rcpts, " ", &save); r; r = strtok_r(NULL, " ", &save)) {
			argv[0] = r;
			on_envrcpt(&ctx, argv);
		}
		body = header_lines(&ctx, text + (size - n));
		if (on_eoh(&ctx) == SMFIS_CONTINUE) {
			size_t len = strlen(body);

			/* the MTA hands the body over in chunks */
			for (size_t off = 0; off < len; off += 4096)
				on_body(&ctx, (unsigned char *)body + off, len - off < 4096 ? len - off : 4096);
			on_eom(&ctx);
		}
	}
	on_abort(&ctx);
	on_close(&ctx);
	free(from);
	free(rcpts);
	free(text);
	return 0;
}
