/*
 * smtp.c - send one message over SMTP with libcurl (see smtp.h).
 *
 * libcurl speaks the protocol, does STARTTLS, AUTH and the dot-stuffing of
 * DATA. What it does not give us directly is the server's reply text, which
 * is what an operator needs in the outbox's last_error: a debug callback
 * keeps the server's first refusal (never the data we sent; not the "221"
 * to the QUIT libcurl sends after a refusal) and its last 250 line, which
 * after DATA names the server's queue id.
 *
 * Classification: a 5xx reply to MAIL/RCPT/DATA is permanent; everything
 * else that fails - no connection, timeouts, TLS, authentication (a
 * configuration problem of ours, not the mail's fault), 4xx - is temporary.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <curl/curl.h>

#include "postern/log.h"
#include "postern/mem.h"
#include "postern/smtp.h"

struct reader {
	const char *p;
	size_t left;
};

struct sendstate {
	struct reader rd;
	char refusal[256];      /* the first 4xx/5xx reply line: why it failed */
	char accepted[256];     /* the last 250 line: after DATA, the queue id */
};

/* pn_smtp_tls_parse - name to pn_smtp_tls */
int pn_smtp_tls_parse(const char *name)
{
	if (name == NULL)
		return -1;
	if (!strcmp(name, "off"))
		return PN_SMTP_TLS_OFF;
	if (!strcmp(name, "optional"))
		return PN_SMTP_TLS_OPTIONAL;
	if (!strcmp(name, "required"))
		return PN_SMTP_TLS_REQUIRED;
	return -1;
}

/* pn_smtp_init - libcurl's global init, once, before threads */
void pn_smtp_init(void)
{
	static int done;

	if (!done && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		pn_fatalx("curl_global_init failed");
	done = 1;
}

/* pn_smtp_crlf - bare LF -> CRLF */
char *pn_smtp_crlf(const void *data, size_t len, size_t *len_r)
{
	const char *in = data;
	size_t extra = 0, n = 0;
	char *out;

	for (size_t i = 0; i < len; i++)
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
			extra++;
	out = pn_malloc(len + extra + 1);
	for (size_t i = 0; i < len; i++) {
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
			out[n++] = '\r';
		out[n++] = in[i];
	}
	out[n] = '\0';
	*len_r = n;
	return out;
}

/* read_cb - feed DATA from memory */
static size_t read_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct reader *rd = arg;
	size_t n = size * nitems;

	if (n > rd->left)
		n = rd->left;
	memcpy(buf, rd->p, n);
	rd->p += n;
	rd->left -= n;
	return n;
}

/* keep_line - one reply line into buf, cut at its line end, quotes and controls replaced */
static void keep_line(char *buf, size_t size, const char *data, size_t len)
{
	size_t n = len < size - 1 ? len : size - 1;

	memcpy(buf, data, n);
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	for (char *p = buf; *p; p++)   /* keep log lines clean */
		if (!isprint((unsigned char)*p) || *p == '"')
			*p = '\'';
}

/*
 * debug_cb - keep the server's replies that matter (incoming lines only):
 * the first refusal, which is why the mail failed (libcurl says QUIT
 * after it, and the server's "221 bye" must not replace it), and the
 * last 250, which after DATA names the server's queue id
 */
static int debug_cb(CURL *curl, curl_infotype type, char *data, size_t size,
    void *arg)
{
	struct sendstate *st = arg;

	(void)curl;
	if (type != CURLINFO_HEADER_IN || size < 3 || !isdigit((unsigned char)data[0]))
		return 0;
	if ((data[0] == '4' || data[0] == '5') && st->refusal[0] == '\0')
		keep_line(st->refusal, sizeof(st->refusal), data, size);
	else if (!strncmp(data, "250", 3) && (size == 3 || data[3] == ' '))
		keep_line(st->accepted, sizeof(st->accepted), data, size);
	return 0;
}

/* address_ok - an envelope address libcurl can put between <> */
static int address_ok(const char *a)
{
	if (a == NULL || strlen(a) > 320)
		return 0;
	for (const char *p = a; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == '<' || *p == '>' || *p == 0x7f)
			return 0;
	return 1;
}

/* pn_smtp_send - one message, one SMTP transaction */
pn_err pn_smtp_send(const pn_smtp_cfg *cfg, const char *mail_from,
    const char *const *rcpt, size_t nrcpt, const void *data, size_t len,
    char *err_r, size_t errlen)
{
	return pn_smtp_send_r(cfg, mail_from, rcpt, nrcpt, data, len, err_r, errlen, NULL, 0);
}

/* pn_smtp_send_r - pn_smtp_send that also hands back the server's acceptance */
pn_err pn_smtp_send_r(const pn_smtp_cfg *cfg, const char *mail_from,
    const char *const *rcpt, size_t nrcpt, const void *data, size_t len,
    char *err_r, size_t errlen, char *reply_r, size_t replylen)
{
	struct sendstate st;
	char curlerr[CURL_ERROR_SIZE];
	struct curl_slist *rcpts = NULL;
	CURL *curl = NULL;
	char *body = NULL;
	size_t bodylen = 0;
	long code = 0;
	CURLcode rc;
	pn_err err = PN_ERR_TEMP;

	memset(&st, 0, sizeof(st));
	curlerr[0] = '\0';
	if (err_r != NULL && errlen > 0)
		err_r[0] = '\0';
	if (reply_r != NULL && replylen > 0)
		reply_r[0] = '\0';
	if (!address_ok(mail_from) || nrcpt == 0 || data == NULL || len == 0) {
		err = PN_ERR_PARAMS;
		snprintf(curlerr, sizeof(curlerr), "unusable sender, recipients or data");
		goto fail;
	}
	for (size_t i = 0; i < nrcpt; i++) {
		struct curl_slist *next;

		if (!address_ok(rcpt[i]) || rcpt[i][0] == '\0') {
			err = PN_ERR_PARAMS;
			snprintf(curlerr, sizeof(curlerr), "unusable recipient #%zu", i);
			goto fail;
		}
		if ((next = curl_slist_append(rcpts, rcpt[i])) == NULL)
			pn_fatalx("curl_slist_append: out of memory");
		rcpts = next;
	}
	body = pn_smtp_crlf(data, len, &bodylen);
	st.rd.p = body;
	st.rd.left = bodylen;

	if ((curl = curl_easy_init()) == NULL)
		pn_fatalx("curl_easy_init failed");
	curl_easy_setopt(curl, CURLOPT_URL, cfg->url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curlerr);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
	    cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : 10000L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
	    cfg->timeout_ms > 0 ? cfg->timeout_ms : 60000L);
	curl_easy_setopt(curl, CURLOPT_MAIL_FROM, mail_from[0] ? mail_from : "<>");
	curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpts);
	curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(curl, CURLOPT_READDATA, &st.rd);
	curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)bodylen);
	curl_easy_setopt(curl, CURLOPT_VERBOSE, 1L);
	curl_easy_setopt(curl, CURLOPT_DEBUGFUNCTION, debug_cb);
	curl_easy_setopt(curl, CURLOPT_DEBUGDATA, &st);
	switch (cfg->starttls) {
	case PN_SMTP_TLS_REQUIRED:
		curl_easy_setopt(curl, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
		break;
	case PN_SMTP_TLS_OPTIONAL:
		curl_easy_setopt(curl, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
		break;
	default:
		curl_easy_setopt(curl, CURLOPT_USE_SSL, (long)CURLUSESSL_NONE);
		break;
	}
	if (cfg->user != NULL && cfg->user[0] != '\0') {
		curl_easy_setopt(curl, CURLOPT_USERNAME, cfg->user);
		curl_easy_setopt(curl, CURLOPT_PASSWORD, cfg->password ? cfg->password : "");
	}

	rc = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
	if (rc == CURLE_OK) {
		err = PN_OK;
		if (reply_r != NULL && replylen > 0)
			snprintf(reply_r, replylen, "%s", st.accepted);
		goto done;
	}
	if (rc == CURLE_LOGIN_DENIED || rc == CURLE_USE_SSL_FAILED ||
	    rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_PEER_FAILED_VERIFICATION)
		err = PN_ERR_TEMP;   /* our configuration, not the mail */
	else if (code >= 500 && code <= 599)
		err = PN_ERR_PERM;
	else
		err = PN_ERR_TEMP;
	if (curlerr[0] == '\0')
		snprintf(curlerr, sizeof(curlerr), "%s", curl_easy_strerror(rc));
fail:
	if (err_r != NULL && errlen > 0) {
		if (st.refusal[0] != '\0' && code >= 400)
			snprintf(err_r, errlen, "%s (%s)", st.refusal, curlerr);
		else
			snprintf(err_r, errlen, "%s", curlerr);
		err_r[strcspn(err_r, "\r\n")] = '\0';
	}
done:
	if (curl != NULL)
		curl_easy_cleanup(curl);
	curl_slist_free_all(rcpts);
	pn_free(&body);
	return err;
}
