/*
 * defang_test.c - web_defang (web_defang.c): nothing in a mail's HTML may
 * fetch, nest a document, refresh or navigate, wherever it hides; cid:
 * and remote images go through the hook; links go to our link page and a
 * link whose text shows another host is flagged; the height estimate
 * grows with the content. Also the link page's URL checks (web_link.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "../web_defang.h"
#include "../web_link.h"
#include "../web_util.h"
#include "../../../tests/support/fuzz.h"

/* The hook of the tests: cid:logo and every remote image get fixed data: URLs. */
static int hook_calls;
static const char *hook(void *ctx, web_img_kind kind, const char *url)
{
	(void)ctx;
	hook_calls++;
	if (kind == WEB_IMG_CID)
		return !strcmp(url, "logo@x") ? "data:image/png;base64,CID" : NULL;
	return !strncmp(url, "https://img.example/", 20) ? "data:image/gif;base64,REMOTE" : NULL;
}

/* run - html defanged with the hook; the result (caller frees) */
static char *run(const char *html, web_defang_out *out)
{
	web_defang_opt opt = { .id = 7, .image = hook };
	char *s;

	web_defang(html, strlen(html), &opt, out);
	s = strdup(out->html.data);
	web_buf_free(&out->html);
	return s;
}

/* no_live - every occurrence of fn (any case) is made invalid by an "x-" in front */
static void no_live(const char *hay, const char *fn)
{
	for (const char *p = hay; (p = strcasestr(p, fn)); p++)
		if (p - hay < 2 || strncasecmp(p - 2, "x-", 2)) {
			print_error("live \"%s\" in: %s\n", fn, hay);
			fail();
		}
}

/* lacks_ci - no case-insensitive occurrence of needle */
static void lacks_ci(const char *hay, const char *needle)
{
	if (strcasestr(hay, needle)) {
		print_error("unexpected \"%s\" in: %s\n", needle, hay);
		fail();
	}
}

static void has(const char *hay, const char *needle)
{
	if (!strstr(hay, needle)) {
		print_error("missing \"%s\" in: %s\n", needle, hay);
		fail();
	}
}

static void test_preconnect_tags(void **state)
{
	web_defang_out o;
	char *s;
	(void)state;

	s = run("<iframe src=\"http://canary.test/a\"></iframe><FRAME src=http://canary.test/b>"
	    "<frameset><iframe loading=lazy src='//canary.test/c'></iframe>"
	    "<svg><foreignObject><iframe src=\"http://canary.test/d\"/></foreignObject></svg>"
	    "<object data=\"http://canary.test/e\"></object><embed src=http://canary.test/f>"
	    "<portal src=http://canary.test/g></portal><link rel=dns-prefetch href=//canary.test>"
	    "<link rel=preconnect href=\"http://canary.test\"><base href=http://canary.test/>"
	    "<script src=http://canary.test/s.js></script><fencedframe src=http://canary.test/h>", &o);
	lacks_ci(s, "<iframe");
	lacks_ci(s, "<frame");
	lacks_ci(s, "<object");
	lacks_ci(s, "<embed");
	lacks_ci(s, "<portal");
	lacks_ci(s, "<link");
	lacks_ci(s, "<base");
	lacks_ci(s, "<script");
	lacks_ci(s, "<fencedframe");
	lacks_ci(s, "canary.test");         /* no remote URL is left in any attribute */
	has(s, "<x-iframe");
	has(s, "</x-iframe>");
	free(s);
}

static void test_srcdoc_and_meta(void **state)
{
	web_defang_out o;
	char *s;
	(void)state;

	s = run("<iframe srcdoc=\"<meta http-equiv=refresh content='0;url=http://canary.test/'>"
	    "<iframe srcdoc=&quot;&lt;meta http-equiv=refresh content=0&gt;&quot;></iframe>\">"
	    "</iframe><META HTTP-EQUIV=\"Set-Cookie\" content=\"a=b\"><div SRCDOC=x></div>"
	    "<meta\tcharset=utf-8><svg><meta/></svg>", &o);
	/* no srcdoc attribute, no meta element and no http-equiv attribute survive */
	assert_null(strstr(s, " srcdoc"));
	assert_null(strcasestr(s, " srcdoc="));
	lacks_ci(s, "<meta");
	lacks_ci(s, " http-equiv=");
	has(s, " x-srcdoc");
	free(s);
}

static void test_attributes(void **state)
{
	web_defang_out o;
	char *s;
	(void)state;

	s = run("<img srcset=\"http://canary.test/1x 1x\"><video poster=http://canary.test/p "
	    "src=http://canary.test/v></video><form action=http://canary.test/f>"
	    "<button formaction=http://canary.test/b></button></form><a ping=http://canary.test/p "
	    "target=_blank href=#top>x</a><table background=\"http://canary.test/bg\">"
	    "<img src=\"&#104;ttp://canary.test/enc\"><img src=\"javascript:alert(1)\">"
	    "<img src=relative.png><input type=image src=http://canary.test/i>", &o);
	lacks_ci(s, "canary.test");
	lacks_ci(s, " srcset=");
	lacks_ci(s, " action=");
	lacks_ci(s, " formaction=");
	lacks_ci(s, " ping=");
	lacks_ci(s, " target=\"_blank");
	lacks_ci(s, "javascript");
	has(s, "href=\"#top\"");
	assert_int_equal(o.n_remote, 4);    /* poster, background, the encoded one, input: not video's src */
	free(s);
}

static void test_css(void **state)
{
	web_defang_out o;
	char *s;
	(void)state;

	s = run("<style>@import url(\"http://canary.test/i.css\"); @IMPORT 'http://canary.test/j.css';"
	    "body{background:URL(http://canary.test/bg)} .a{background:\\75 rl(http://canary.test/e)}"
	    ".b{background-image:image-set('http://canary.test/s' 1x)}</style>"
	    "<p style=\"background:url(&quot;http://canary.test/p&quot;)\">x</p>"
	    "<p style=\"color: red; background: u&#114;l(http://canary.test/q)\">y</p>"
	    "<svg><style>&#117;rl(http://canary.test/svg)</style><rect mask=\"url(http://canary.test/m)\"/></svg>"
	    "<style><![CDATA[</style><iframe src=http://canary.test/z>]]></style>", &o);
	no_live(s, "url(");
	no_live(s, "image-set(");
	lacks_ci(s, "@import");
	lacks_ci(s, "<iframe");
	has(s, "color: red");
	has(s, "x-url(");
	free(s);
}

static void test_hidden_markup_stays_text(void **state)
{
	web_defang_out o;
	char *s;
	(void)state;

	/* whatever we looked past inside a value comes out escaped, never as a tag */
	s = run("<!-- <a title=\"--><img src=http://canary.test/x>\"> --><p title='a>b'>t</p>"
	    "<div title=\"<iframe src=http://canary.test/y>\">z</div><img src=\"x", &o);
	lacks_ci(s, "<img src=http");
	lacks_ci(s, "<iframe");
	has(s, "title=\"a&gt;b\"");
	lacks_ci(s, "<img src=\"x");         /* a tag the input ends inside is dropped */
	free(s);
}

static void test_images(void **state)
{
	web_defang_out o;
	char *s;
	(void)state;

	hook_calls = 0;
	s = run("<img src=\"cid:logo%40x\" height=40><img src=cid:other><img src=\"https://img.example/a.gif\">"
	    "<img src=\"http://other.example/b.png\"><img src=\"data:image/png;base64,AAAA\">"
	    "<img src=\"data:text/html,hi\">", &o);
	has(s, "<img src=\"data:image/png;base64,CID\" height=\"40\">");
	has(s, "<img src=\"data:image/gif;base64,REMOTE\">");
	has(s, "<img src=\"data:image/png;base64,AAAA\">");
	lacks_ci(s, "other.example");
	lacks_ci(s, "data:text");
	assert_int_equal(o.n_remote, 2);
	assert_int_equal(hook_calls, 4);
	free(s);

	/* without a hook every image but data:image goes */
	{
		web_defang_opt opt = { .id = 1 };
		const char *h = "<img src=cid:logo@x><img src=https://img.example/a.gif>";
		web_defang(h, strlen(h), &opt, &o);
		lacks_ci(o.html.data, " src=");
		web_buf_free(&o.html);
	}
}

static void test_links(void **state)
{
	web_defang_out o;
	char *s;
	(void)state;

	s = run("<a href=\"https://www.bank.example/login\">www.bank.example</a>"
	    "<a href=\"https://evil.example/x?a=1&amp;b=2\"><b>https://www.bank.example/</b></a>"
	    "<a href=\"mailto:jane@example.org\">Jane</a><a href=\"javascript:alert(1)\">j</a>"
	    "<area href=http://map.example/>", &o);
	has(s, "href=\"/link?m=7&amp;u=https%3A%2F%2Fwww.bank.example%2Flogin\" target=\"_top\"");
	has(s, "u=https%3A%2F%2Fevil.example%2Fx%3Fa%3D1%26b%3D2&amp;t=www.bank.example\"");
	has(s, "u=mailto%3Ajane%40example.org\"");
	has(s, "u=javascript%3Aalert%281%29\"");      /* the link page refuses it */
	has(s, "u=http%3A%2F%2Fmap.example%2F\"");
	/* only the mismatched link carries the text's host */
	has(s, "Flogin\" target=\"_top\">www.bank.example</a>");
	free(s);
}

static void test_link_checks(void **state)
{
	char host[256], shown[256];
	web_buf t;
	(void)state;

	assert_int_equal(web_link_target("https://user@evil.example:8443/p?q#f", &t, host, sizeof(host)), 0);
	assert_string_equal(host, "evil.example");
	assert_string_equal(t.data, "https://evil.example:8443/p?q#f");
	web_buf_free(&t);
	assert_int_equal(web_link_target("HTTP:\\\\evil.example\\@bank.example/x", &t, host, sizeof(host)), 0);
	assert_string_equal(host, "evil.example");      /* a backslash ends the host, as in a browser */
	web_buf_free(&t);
	assert_int_equal(web_link_target("mailto:Jane@Example.org?subject=x", &t, host, sizeof(host)), 0);
	assert_string_equal(host, "jane@example.org");
	web_buf_free(&t);
	assert_int_equal(web_link_target("javascript:alert(1)", &t, host, sizeof(host)), -1);
	assert_int_equal(web_link_target("data:text/html,x", &t, host, sizeof(host)), -1);
	assert_int_equal(web_link_target("ftp://x.example/", &t, host, sizeof(host)), -1);
	assert_int_equal(web_link_target("https://x.example/\n", &t, host, sizeof(host)), -1);
	assert_int_equal(web_link_target("https://%65vil.example/", &t, host, sizeof(host)), -1);
	assert_int_equal(web_link_target("https:///", &t, host, sizeof(host)), -1);

	assert_int_equal(web_shown_host(" https://WWW.Bank.example/login", shown, sizeof(shown)), 0);
	assert_string_equal(shown, "www.bank.example");
	assert_int_equal(web_shown_host("Click here", shown, sizeof(shown)), -1);
	assert_int_equal(web_shown_host("jane@example.org", shown, sizeof(shown)), -1);
	assert_int_equal(web_shown_host("version 1.2", shown, sizeof(shown)), -1);
	assert_false(web_hosts_differ("www.bank.example", "bank.example"));
	assert_false(web_hosts_differ("bank.example", "login.bank.example"));
	assert_true(web_hosts_differ("bank.example", "bank.example.evil.example"));
	assert_true(web_hosts_differ("login.bank.example", "bank.example"));
}

static void test_height(void **state)
{
	web_defang_out o;
	web_buf long_mail;
	char *s;
	long short_h;
	(void)state;

	s = run("<html><head><title>A long title that is not shown</title></head>"
	    "<body><p>Hello Bob,</p><p>see you.</p></body></html>", &o);
	short_h = o.height;
	assert_in_range(short_h, 40, 160);
	free(s);
	web_buf_init(&long_mail);
	for (int i = 0; i < 200; i++)
		web_buf_puts(&long_mail, "<p>A paragraph of an old thread, long enough to wrap once "
		    "or twice in a frame that is about nine hundred pixels wide, as ours is.</p>");
	s = run(long_mail.data, &o);
	assert_true(o.height > 20 * short_h);
	free(s);
	web_buf_free(&long_mail);
}

/* live_in - fn (any case) stands in s[0..n) without an "x-" in front */
static int live_in(const char *s, size_t n, const char *fn)
{
	size_t l = strlen(fn);

	for (size_t i = 0; i + l <= n; i++)
		if (!strncasecmp(s + i, fn, l) && (i < 2 || strncasecmp(s + i - 2, "x-", 2)))
			return 1;
	return 0;
}

/* bad_attr - an attribute our output may not carry with this value */
static int bad_attr(const char *name, size_t n, const char *v, size_t vn)
{
	static const char *const never[] = { "srcdoc", "srcset", "data", "action", "formaction",
		"ping", "http-equiv", "target", NULL };
	char low[32];

	if (n >= sizeof(low))
		return 0;
	for (size_t i = 0; i < n; i++)
		low[i] = (char)((name[i] >= 'A' && name[i] <= 'Z') ? name[i] + 32 : name[i]);
	low[n] = '\0';
	for (size_t k = 0; never[k]; k++)
		if (!strcmp(low, never[k]))
			return strcmp(low, "target") || vn != 4 || strncmp(v, "_top", 4);
	if (!strcmp(low, "src") || !strcmp(low, "poster") || !strcmp(low, "background"))
		return vn < 11 || strncmp(v, "data:image/", 11);
	if (!strcmp(low, "style"))
		return live_in(v, vn, "url(") || live_in(v, vn, "@import");
	if (!strcmp(low, "href") || !strcmp(low, "xlink:href"))
		return !(vn && v[0] == '#') && (vn < 6 || strncmp(v, "/link?", 6));
	return 0;
}

/*
 * bad_tag - the first start tag of h, read as a browser reads our (normalised)
 * output, that is a fetching element or carries a fetching attribute; NULL if none
 */
static const char *bad_tag(const char *h)
{
	static const char *const tags[] = { "iframe", "frame", "frameset", "meta", "object", "embed",
		"link", "base", "portal", "script", NULL };

	for (const char *p = h; (p = strchr(p, '<')); p++) {
		const char *q = p + 1;
		size_t n = 0;
		if (*q == '/')
			q++;
		if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z')))
			continue;
		while (q[n] && !strchr(" \t\n\r\f/>", q[n]))
			n++;
		for (size_t k = 0; tags[k]; k++)
			if (strlen(tags[k]) == n && !strncasecmp(q, tags[k], n))
				return p;
		if (p[1] == '/')
			continue;
		for (q += n; *q && *q != '>';) {
			const char *name, *v = "";
			size_t nl, vl = 0;
			while (*q && strchr(" \t\n\r\f/", *q))
				q++;
			if (!*q || *q == '>')
				break;
			name = q++;
			while (*q && !strchr(" \t\n\r\f/>=", *q))
				q++;
			nl = (size_t)(q - name);
			if (*q == '=') {
				char end = *++q == '"' ? '"' : 0;
				v = q + (end != 0);
				q = v;
				while (*q && (end ? *q != '"' : !strchr(" \t\n\r\f>", *q)))
					q++;
				vl = (size_t)(q - v);
				q += end && *q;
			}
			if (bad_attr(name, nl, v, vl))
				return p;
		}
	}
	return NULL;
}

/* css_bad - <style> content of h with a live url( or @import, or a '<' */
static int css_bad(const char *h)
{
	for (const char *p = h; (p = strcasestr(p, "<style")); p++) {
		const char *body = strchr(p, '>') ? strchr(p, '>') + 1 : p + strlen(p);
		const char *end = strcasestr(body, "</style");
		size_t n = end ? (size_t)(end - body) : strlen(body);
		if (live_in(body, n, "url(") || live_in(body, n, "@import") || memchr(body, '<', n))
			return 1;
	}
	return 0;
}

/*
 * test_random - hostile pieces in random order and nesting: whatever the
 * mix, no fetching tag, no srcdoc, no live url( and no remote src is left.
 * The seed is printed; POSTERN_FUZZ_SEED=<n> repeats a run.
 */
static void test_random(void **state)
{
	static const char *const pieces[] = {
		"<iframe src=http://c.test/a>", "<IFRAME\tsrcdoc=\"<meta http-equiv=refresh>\">",
		"<frame src='//c.test/f'>", "<svg><foreignObject>", "</foreignObject></svg>",
		"<style>", "</style>", "@import 'http://c.test/i';", "a{b:url(http://c.test/u)}",
		"\\75rl(", "&#117;rl(", "<!--", "-->", "<a title=\"", "\">", "'", "\"", ">", "<",
		"<img src=http://c.test/i.png>", "<img/src=\"cid:x\">", "<math><mtext>", "<textarea>",
		"</textarea>", "<link rel=preconnect href=//c.test>", "<meta charset=utf-8>",
		"<object data=http://c.test/o>", "<embed src=http://c.test/e>", "<p style=\"",
		"background:url(&quot;http://c.test/s&quot;)", "<a href=http://c.test/l>", "</a>",
		"<![CDATA[", "]]>", "<noscript>", "<x srcdoc>", "<base href=http://c.test/>", "text ",
		"<video poster=http://c.test/p src=http://c.test/v>", "<input type=image src=//c.test/i>",
	};
	const size_t np = sizeof(pieces) / sizeof(pieces[0]);
	ts_fuzz fz;
	web_buf in;
	(void)state;

	ts_fuzz_start(&fz, "defang");         /* prints the seed to replay a failure */
	for (int round = 0; round < 3000; round++) {
		web_defang_out o;
		web_defang_opt opt = { .id = 3 };
		const char *h;
		web_buf_init(&in);
		for (int k = (int)ts_fuzz_uniform(&fz, 24); k >= 0; k--)
			web_buf_puts(&in, pieces[ts_fuzz_uniform(&fz, (uint32_t)np)]);
		web_defang(in.data, in.len, &opt, &o);
		h = o.html.data;
		if (bad_tag(h) || css_bad(h)) {
			print_error("round %d: in: %s\nout: %s\nat: %.80s\n", round, in.data,
			    h, bad_tag(h) ? bad_tag(h) : "(CSS)");
			fail();
		}
		web_buf_free(&o.html);
		web_buf_free(&in);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_preconnect_tags),
		cmocka_unit_test(test_srcdoc_and_meta),
		cmocka_unit_test(test_attributes),
		cmocka_unit_test(test_css),
		cmocka_unit_test(test_hidden_markup_stays_text),
		cmocka_unit_test(test_images),
		cmocka_unit_test(test_links),
		cmocka_unit_test(test_link_checks),
		cmocka_unit_test(test_height),
		cmocka_unit_test(test_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
