/*
 * html.c - fuzz target: a mail read in the web UI. The decrypted message
 * goes through what GET /msg/<id> and GET /msg/<id>/html run: take it
 * apart (web_mail_parse, GMime underneath), render the read view
 * (web_read_html: every header and the text escaped), and defang the
 * HTML part (web_html_defang) before it would be served into the
 * sandbox. The same bytes are read as the list-view envelope record
 * (web_env_parse). Checks: the defang keeps the length, leaves no
 * "<meta" start tag, and the read view holds no script, SVG or image
 * element (it has none of its own: any would be the mail's).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../services/webui/web_mail.h"
#include "../../services/webui/web_read.h"
#include "../../services/webui/web_util.h"
#include "fuzz.h"

/* meta_left - an HTML parser would still see a <meta start tag */
static int meta_left(const char *h, size_t n)
{
	for (size_t i = 0; i + 5 <= n; i++)
		if (h[i] == '<' && !strncasecmp(h + i + 1, "meta", 4) &&
		    (i + 5 == n || strchr(" \t\n\r\f/>", h[i + 5])))
			return 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size ? size : 1);
	web_mail m;
	web_env env;

	memcpy(copy, data, size);
	memset(&m, 0, sizeof(m));
	if (web_mail_parse(copy, size, &m) == 0) {
		web_buf b;

		web_buf_init(&b);
		web_read_html(&b, 42, &m, 0);
		web_read_html(&b, 43, &m, 1);
		if (strcasestr(b.data, "<script") || strcasestr(b.data, "<svg") ||
		    strcasestr(b.data, "<img"))
			abort();
		web_buf_free(&b);
		if (m.html) {
			size_t n = strlen(m.html);

			web_html_defang(m.html, n);
			if (strlen(m.html) != n || meta_left(m.html, n))
				abort();
		}
		web_mail_free(&m);
	}
	memset(&env, 0, sizeof(env));
	web_env_parse((const char *)copy, size, &env);
	free(copy);
	return 0;
}
