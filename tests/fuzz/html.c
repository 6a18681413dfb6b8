/*
 * html.c - fuzz target: a mail read in the web UI. The decrypted message
 * goes through what GET /msg/<id> and GET /msg/<id>/html run: take it
 * apart (web_mail_parse, GMime underneath), make its HTML part ready to
 * serve (web_msg_html_make: the defang of web_defang.c with its cid:
 * images put in as data: URLs; remote images are not asked for, so
 * nothing is fetched) and, as the read view does, only measured; then
 * render the read view (web_read_html: every header and the text
 * escaped). The same bytes are read as the list-view envelope record
 * (web_env_parse). Checks: the read view holds no script, SVG or image
 * element (it has none of its own: any would be the mail's), and the
 * served document holds no NUL.
 */
#include <stdlib.h>
#include <string.h>

#include "../../services/webui/web_mail.h"
#include "../../services/webui/web_msg.h"
#include "../../services/webui/web_read.h"
#include "../../services/webui/web_util.h"
#include "fuzz.h"

/* view - the read view for m, as web_read_get builds it */
static void view(const web_mail *m, const web_msg_html *h, int sent, int text_only)
{
	web_read_view v;
	web_buf b;

	memset(&v, 0, sizeof(v));
	v.sent = sent;
	v.text_only = text_only;
	v.remote_allowed = 1;
	if (h) {
		v.inline_used = h->inline_used;
		v.n_remote = h->d.n_remote;
		v.frame_height = h->frame_height;
	}
	web_buf_init(&b);
	web_read_html(&b, 42, m, &v);
	if (strcasestr(b.data, "<script") || strcasestr(b.data, "<svg") ||
	    strcasestr(b.data, "<img"))
		abort();
	web_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size ? size : 1);
	web_mail m;
	web_env env;

	memcpy(copy, data, size);
	memset(&m, 0, sizeof(m));
	if (web_mail_parse(copy, size, &m) == 0) {
		if (m.html) {
			web_msg_html h, measured;

			web_msg_html_make(&m, 42, 1, 0, &h);
			if (h.d.html.data && memchr(h.d.html.data, 0, h.d.html.len))
				abort();
			web_msg_html_make(&m, 42, 0, 1, &measured);
			view(&m, &measured, 0, 0);
			web_msg_html_free(&measured);
			web_msg_html_free(&h);
		}
		view(&m, NULL, 1, 1);
		web_mail_free(&m);
	}
	memset(&env, 0, sizeof(env));
	web_env_parse((const char *)copy, size, &env);
	free(copy);
	return 0;
}
