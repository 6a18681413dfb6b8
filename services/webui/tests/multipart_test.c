/*
 * multipart_test.c - multipart/form-data (web_multipart.c): what browsers
 * send parses into the form and the files; boundaries by RFC 2046's
 * rules, quoted or not; file names sanitised; every bound answers its
 * status (413 for sizes, 400 for shape) and keeps nothing; every
 * truncation of a good body is refused; and a loop of random mutations
 * that must never crash, overrun or accept something out of bounds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "../web_form.h"
#include "../web_multipart.h"
#include "../web_pw.h"
#include "../web_util.h"
#include "../../../tests/support/support.h"

#define CT "multipart/form-data; boundary=----WebKitFormBoundaryX3abcDEF"
#define B "------WebKitFormBoundaryX3abcDEF"

static const web_mp_limits lim10 = { .max_files = WEB_MP_MAX_FILES, .max_bytes = 1 << 20 };

/* a body under the boundary of CT (tests/support/formdata.c) */
#define BODY { .boundary = "----WebKitFormBoundaryX3abcDEF" }
typedef ts_form body;

static int parse(const char *ct, const body *b, const web_mp_limits *lim, web_form *f,
    web_files *fs)
{
	return web_mp_parse(ct, b->p, b->n, lim, f, fs);
}

/* the binary a file carries: NULs, CRLFs and boundary look-alikes */
static const uint8_t bin[] = "\x00\x01\x02\xff\r\n--\r\n-" "-----WebKitFormBoundaryX3abcDE\r\n\r\n\x00";

static void test_good_form(void **state)
{
	body b = BODY;
	web_form f;
	web_files fs;
	(void)state;

	ts_form_field(&b, "csrf", "tok-123");
	ts_form_field(&b, "nonce", "abcdefghijklmnop");
	ts_form_field(&b, "text", "Hello \xc3\xa9t\xc3\xa9,\r\n\r\nline two\r\n-- \r\nsig");
	ts_form_file(&b, "attachment", "report.pdf", "application/pdf", bin, sizeof(bin));
	ts_form_file(&b, "attachment", "notes.txt", "Text/Plain; charset=utf-8", "plain", 5);
	ts_form_file(&b, "attachment", "", "application/octet-stream", "", 0);   /* left empty */
	ts_form_field(&b, "mode", "one");
	ts_form_field(&b, "mode", "all");                                         /* first wins */
	ts_form_end(&b);
	assert_int_equal(parse(CT, &b, &lim10, &f, &fs), 0);
	assert_int_equal(f.n, 4);
	assert_string_equal(web_form_get(&f, "csrf"), "tok-123");
	assert_string_equal(web_form_get(&f, "nonce"), "abcdefghijklmnop");
	assert_string_equal(web_form_get(&f, "text"),
	    "Hello \xc3\xa9t\xc3\xa9,\r\n\r\nline two\r\n-- \r\nsig");
	assert_string_equal(web_form_get(&f, "mode"), "one");
	assert_int_equal(fs.n, 2);
	assert_int_equal(fs.total, sizeof(bin) + 5);
	assert_string_equal(fs.f[0].field, "attachment");
	assert_string_equal(fs.f[0].filename, "report.pdf");
	assert_string_equal(fs.f[0].type, "application/pdf");
	assert_int_equal(fs.f[0].len, sizeof(bin));
	assert_memory_equal(fs.f[0].data, bin, sizeof(bin));
	assert_string_equal(fs.f[1].filename, "notes.txt");
	assert_string_equal(fs.f[1].type, "text/plain");
	assert_memory_equal(fs.f[1].data, "plain", 5);
	web_form_free(&f);
	web_files_free(&fs);
	assert_int_equal(fs.n, 0);

	/* an empty body with only the closing delimiter: nothing, but fine */
	ts_form_free(&b);
	ts_form_end(&b);
	assert_int_equal(parse(CT, &b, &lim10, &f, &fs), 0);
	assert_int_equal(f.n + fs.n, 0);
	/* a zero-byte file with a name is a file */
	ts_form_free(&b);
	ts_form_file(&b, "attachment", "empty.txt", NULL, "", 0);
	ts_form_end(&b);
	assert_int_equal(parse(CT, &b, &lim10, &f, &fs), 0);
	assert_int_equal(fs.n, 1);
	assert_int_equal(fs.f[0].len, 0);
	assert_string_equal(fs.f[0].type, "application/octet-stream");
	web_files_free(&fs);
	ts_form_free(&b);
}

static void test_boundary(void **state)
{
	static const char *const bad[] = {
		"multipart/form-data",
		"multipart/form-data; boundary=",
		"multipart/form-data; boundary=\"\"",
		"multipart/form-data; boundary=\"ends in a space \"",
		"multipart/form-data; boundary=a@b",
		"multipart/form-data; boundary=\"a@b\"",
		"multipart/form-data; boundary=a; boundary=b",
		"multipart/form-data; boundary=\"unterminated",
		"multipart/form-data; boundary=\"x\"junk",
		"multipart/form-datax; boundary=abc",
		"multipart/mixed; boundary=abc",
		"application/x-www-form-urlencoded",
		"multipart/form-data boundary=abc",
		"multipart/form-data; =abc",
		"",
		/* 71 characters */
		"multipart/form-data; boundary=12345678901234567890123456789012345678901234567890123456789012345678901",
	};
	char out[WEB_MP_BOUNDARY_MAX + 1];
	body b = BODY;
	web_form f;
	web_files fs;
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (web_mp_boundary(bad[i], out) != -1)
			fail_msg("accepted: %s", bad[i]);
	assert_int_equal(web_mp_boundary(NULL, out), -1);

	assert_int_equal(web_mp_boundary("Multipart/Form-Data ; charset=utf-8;BOUNDARY=abc ;", out), 0);
	assert_string_equal(out, "abc");
	assert_int_equal(web_mp_boundary("multipart/form-data; boundary="
	    "1234567890123456789012345678901234567890123456789012345678901234567890", out), 0);
	assert_int_equal(strlen(out), 70);
	/* quoted: every RFC 2046 character, a space inside */
	assert_int_equal(web_mp_boundary("multipart/form-data; boundary=\"a'()+_,-./:=? b\"", out), 0);
	assert_string_equal(out, "a'()+_,-./:=? b");

	/* a body under that quoted boundary, with a preamble, padding and an epilogue */
	ts_form_adds(&b, "This is the preamble.\r\n--a'()+_,-./:=? b \t\r\n"
	    "Content-Disposition: form-data; name=\"text\"\r\n\r\nhi\r\n"
	    "--a'()+_,-./:=? b\r\ncontent-disposition: FORM-DATA; name=x; filename=a.bin\r\n"
	    "content-transfer-encoding: binary\r\nX-Other: ignored\r\n\r\nAB\r\n"
	    "--a'()+_,-./:=? b--\r\nThe epilogue.\r\n");
	assert_int_equal(parse("multipart/form-data; boundary=\"a'()+_,-./:=? b\"", &b, &lim10,
	    &f, &fs), 0);
	assert_string_equal(web_form_get(&f, "text"), "hi");
	assert_int_equal(fs.n, 1);
	assert_string_equal(fs.f[0].field, "x");
	assert_string_equal(fs.f[0].filename, "a.bin");
	assert_memory_equal(fs.f[0].data, "AB", 2);
	web_form_free(&f);
	web_files_free(&fs);
	/* the same body under a wrong boundary or content type */
	assert_int_equal(parse("multipart/form-data; boundary=other", &b, &lim10, &f, &fs), 400);
	assert_int_equal(parse("text/plain", &b, &lim10, &f, &fs), 400);
	ts_form_free(&b);
}

/* one_file - the filename a single file part with this raw filename parameter gets */
static void one_file(const char *param, const char *want)
{
	body b = BODY;
	web_form f;
	web_files fs;

	ts_form_adds(&b, B "\r\nContent-Disposition: form-data; name=\"attachment\"; ");
	ts_form_adds(&b, param);
	ts_form_adds(&b, "\r\n\r\nx\r\n");
	ts_form_end(&b);
	if (parse(CT, &b, &lim10, &f, &fs) != 0)
		fail_msg("refused: %s", param);
	assert_int_equal(fs.n, 1);
	if (strcmp(fs.f[0].filename, want))
		fail_msg("%s: got \"%s\", want \"%s\"", param, fs.f[0].filename, want);
	web_files_free(&fs);
	web_form_free(&f);
	ts_form_free(&b);
}

static void test_filenames(void **state)
{
	char longname[400], want[WEB_FILENAME_MAX + 1], *s;
	(void)state;

	one_file("filename=\"../../etc/passwd\"", "passwd");
	one_file("filename=\"C:\\Users\\me\\Report 2025.pdf\"", "Report 2025.pdf");
	one_file("filename=\"%22quoted%22.txt\"", "quoted.txt");
	one_file("filename=\"a%0D%0Ab.txt\"", "ab.txt");
	one_file("filename=\"...hidden\"", "hidden");
	one_file("filename=\"semi;colon%.txt\"", "semicolon.txt");
	one_file("filename=\"tab\there.txt\"", "tabhere.txt");
	one_file("filename=\"trailing. . \"", "trailing");
	one_file("filename=\"dir/\"", "attachment-1");
	one_file("filename=\"\"", "attachment-1");
	one_file("filename=\"..\"", "attachment-1");
	one_file("filename=\"caf\xc3\xa9.txt\"", "caf\xc3\xa9.txt");
	one_file("filename=\"bad\xff\xfe.txt\"", "attachment-1");       /* not UTF-8 */
	/* a right-to-left override would show "cod.exe" as "exe.doc" */
	one_file("filename=\"invoice\xe2\x80\xae" "cod.exe\"", "invoicecod.exe");
	one_file("filename=\"a\xe2\x81\xa6" "b\xe2\x80\x8f.txt\"", "ab.txt");
	/* RFC 8187 where it can be read; the plain one otherwise */
	one_file("filename*=UTF-8''na%C3%AFve%20file.txt", "na\xc3\xafve file.txt");
	one_file("filename=\"plain.txt\"; filename*=UTF-8''better.txt", "better.txt");
	one_file("filename=\"plain.txt\"; filename*=ISO-8859-1''x%E9.txt", "plain.txt");
	one_file("filename*=UTF-8''nul%00.txt", "attachment-1");
	one_file("filename=plain-token.txt", "plain-token.txt");

	/* long: cut to WEB_FILENAME_MAX bytes, never inside a character */
	s = longname;
	for (int i = 0; i < 150; i++) {
		memcpy(s, "\xc3\xa9", 2);
		s += 2;
	}
	*s = '\0';
	{
		char param[512];
		snprintf(param, sizeof(param), "filename=\"%s\"", longname);
		memcpy(want, longname, WEB_FILENAME_MAX);
		want[WEB_FILENAME_MAX] = '\0';
		one_file(param, want);
		/* one ASCII byte first: the limit falls inside a character */
		snprintf(param, sizeof(param), "filename=\"x%s\"", longname);
		want[0] = 'x';
		memcpy(want + 1, longname, WEB_FILENAME_MAX - 2);
		want[WEB_FILENAME_MAX - 1] = '\0';
		one_file(param, want);
	}
	/* the cleaner on its own: received attachments use it too */
	s = web_filename_clean(NULL, 4);
	assert_string_equal(s, "attachment-5");
	free(s);
	s = web_filename_clean("/a/b\\c/ok.bin", 0);
	assert_string_equal(s, "ok.bin");
	free(s);
}

/* expect - rc of a whole body from its parts; nothing kept on error */
static void expect(const char *raw, size_t n, const web_mp_limits *lim, int want)
{
	web_form f;
	web_files fs;
	int rc = web_mp_parse(CT, raw, n, lim, &f, &fs);

	if (rc != want)
		fail_msg("got %d, want %d for:\n%.300s", rc, want, raw);
	if (rc != 0) {
		assert_int_equal(f.n, 0);
		assert_int_equal(fs.n, 0);
	}
	web_form_free(&f);
	web_files_free(&fs);
}

static void test_malformed(void **state)
{
	static const char *const bad[] = {
		/* no delimiter at all; no closing delimiter */
		"nothing here",
		B "\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n",
		B "\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx",
		/* junk after a delimiter */
		B "x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n" B "--",
		B "\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n" B "X--",
		/* no headers, headers without the blank line */
		B "\r\n\r\nx\r\n" B "--",
		B "\r\nContent-Disposition: form-data; name=\"a\"\r\n" B "--",
		/* Content-Disposition missing, wrong, twice, without a name, empty name */
		B "\r\nContent-Type: text/plain\r\n\r\nx\r\n" B "--",
		B "\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\nx\r\n" B "--",
		B "\r\nContent-Disposition: form-data; name=\"a\"\r\nContent-Disposition: form-data; "
		    "name=\"b\"\r\n\r\nx\r\n" B "--",
		B "\r\nContent-Disposition: form-data\r\n\r\nx\r\n" B "--",
		B "\r\nContent-Disposition: form-data; filename=\"a\"\r\n\r\nx\r\n" B "--",
		B "\r\nContent-Disposition: form-data; name=\"\"\r\n\r\nx\r\n" B "--",
		B "\r\nContent-Disposition: form-data; name=\"a\"; name=\"b\"\r\n\r\nx\r\n" B "--",
		B "\r\nContent-Disposition: form-data; name=\"a\"; filename=\"x\"; filename=\"y\"\r\n"
		    "\r\nx\r\n" B "--",
		/* quoting */
		B "\r\nContent-Disposition: form-data; name=\"a\r\n\r\nx\r\n" B "--",
		B "\r\nContent-Disposition: form-data; name=\"a\"junk\r\n\r\nx\r\n" B "--",
		B "\r\nContent-Disposition: form-data; name=\r\n\r\nx\r\n" B "--",
		/* header shape: folded, no colon, empty name, bad name, control, bare LF / CR */
		B "\r\nContent-Disposition: form-data;\r\n name=\"a\"\r\n\r\nx\r\n" B "--",
		B "\r\nContent-Disposition form-data; name=\"a\"\r\n\r\nx\r\n" B "--",
		B "\r\n: x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n" B "--",
		B "\r\nBad Name: x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n" B "--",
		B "\r\nContent-Disposition: form-data; name=\"a\x01\"\r\n\r\nx\r\n" B "--",
		B "\r\nContent-Disposition: form-data; name=\"a\"\nX: y\r\n\r\nx\r\n" B "--",
		B "\r\nContent-Disposition: form-data; name=\"a\"\rX: y\r\n\r\nx\r\n" B "--",
		/* LF-only line ends throughout */
		B "\nContent-Disposition: form-data; name=\"a\"\n\nx\n" B "--\n",
		/* transfer encodings browsers never use; two of them */
		B "\r\nContent-Disposition: form-data; name=\"a\"\r\nContent-Transfer-Encoding: base64"
		    "\r\n\r\neA==\r\n" B "--",
		B "\r\nContent-Disposition: form-data; name=\"a\"\r\nContent-Transfer-Encoding: 8bit\r\n"
		    "Content-Transfer-Encoding: 8bit\r\n\r\nx\r\n" B "--",
		B "\r\nContent-Disposition: form-data; name=\"a\"\r\nContent-Type: a/b\r\n"
		    "Content-Type: a/b\r\n\r\nx\r\n" B "--",
	};
	web_form f;
	web_files fs;
	body b = BODY;
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect(bad[i], strlen(bad[i]), &lim10, 400);
	/* a NUL in a text field (a file may hold any byte) */
	{
		static const char nul_text[] = B "\r\nContent-Disposition: form-data; name=\"a\"\r\n"
		    "\r\nx\0y\r\n" B "--";
		static const char nul_file[] = B "\r\nContent-Disposition: form-data; name=\"a\"; "
		    "filename=\"f\"\r\n\r\nx\0y\r\n" B "--";
		expect(nul_text, sizeof(nul_text) - 1, &lim10, 400);
		expect(nul_file, sizeof(nul_file) - 1, &lim10, 0);
	}
	assert_int_equal(web_mp_parse(CT, NULL, 0, &lim10, &f, &fs), 400);
	assert_int_equal(web_mp_parse(CT, "", 0, &lim10, &f, &fs), 400);

	/* every truncation of a good body is refused, none is taken as complete */
	ts_form_field(&b, "csrf", "tok");
	ts_form_file(&b, "attachment", "a.bin", "application/octet-stream", bin, sizeof(bin));
	ts_form_field(&b, "text", "hello");
	ts_form_end(&b);
	for (size_t n = 0; n + 2 < b.n; n++) {     /* the last CRLF is epilogue */
		int rc = web_mp_parse(CT, b.p, n, &lim10, &f, &fs);
		if (rc != 400)
			fail_msg("a body cut at %zu of %zu: %d", n, b.n, rc);
		assert_int_equal(f.n + fs.n, 0);
	}
	assert_int_equal(web_mp_parse(CT, b.p, b.n - 2, &lim10, &f, &fs), 0);
	web_form_free(&f);
	web_files_free(&fs);
	ts_form_free(&b);
}

/*
 * at_limit - b, closed, passes; one more part makes it 413: a field
 * called name, or (file) a one-byte attachment of that file name; b is
 * emptied
 */
static void at_limit(body *b, const web_mp_limits *lim, const char *name, int file)
{
	ts_form_adds(b, B "--");
	expect(b->p, b->n, lim, 0);
	b->n -= strlen(B "--");
	if (file)
		ts_form_file(b, "attachment", name, NULL, "x", 1);
	else
		ts_form_field(b, name, "v");
	ts_form_end(b);
	expect(b->p, b->n, lim, 413);
	ts_form_free(b);
}

static void test_bounds(void **state)
{
	web_mp_limits lim = lim10;
	body b = BODY;
	char name[WEB_FORM_MAX_NAME + 2], *big;
	(void)state;

	/* fields: WEB_FORM_MAX_FIELDS pass, one more is 413 */
	for (int i = 0; i < WEB_FORM_MAX_FIELDS; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		ts_form_field(&b, name, "v");
	}
	at_limit(&b, &lim, "one-more", 0);

	/* parts: WEB_MP_MAX_PARTS pass (repeats are parts too), one more is 413 */
	for (int i = 0; i < WEB_MP_MAX_PARTS; i++)
		ts_form_field(&b, "same", "v");
	at_limit(&b, &lim, "same", 0);

	/* a value of exactly WEB_FORM_MAX_VALUE passes, one byte more is 413 */
	big = malloc(WEB_FORM_MAX_VALUE + 2);
	memset(big, 'x', WEB_FORM_MAX_VALUE + 1);
	big[WEB_FORM_MAX_VALUE] = '\0';
	ts_form_field(&b, "text", big);
	ts_form_end(&b);
	expect(b.p, b.n, &lim, 0);
	ts_form_free(&b);
	big[WEB_FORM_MAX_VALUE] = 'x';
	big[WEB_FORM_MAX_VALUE + 1] = '\0';
	ts_form_field(&b, "text", big);
	ts_form_end(&b);
	expect(b.p, b.n, &lim, 413);
	ts_form_free(&b);

	/* a name of WEB_FORM_MAX_NAME passes, one more is 400 */
	memset(name, 'n', WEB_FORM_MAX_NAME);
	name[WEB_FORM_MAX_NAME] = '\0';
	ts_form_field(&b, name, "v");
	ts_form_end(&b);
	expect(b.p, b.n, &lim, 0);
	ts_form_free(&b);
	name[WEB_FORM_MAX_NAME] = 'n';
	name[WEB_FORM_MAX_NAME + 1] = '\0';
	ts_form_field(&b, name, "v");
	ts_form_end(&b);
	expect(b.p, b.n, &lim, 400);
	ts_form_free(&b);

	/* a header block of WEB_MP_MAX_HEADER passes, one byte more is 400 */
	{
		const char *cd = "Content-Disposition: form-data; name=\"a\"\r\nX-Pad: ";
		size_t pad = WEB_MP_MAX_HEADER - strlen(cd);
		char *h = malloc(WEB_MP_MAX_HEADER + 2);
		snprintf(h, WEB_MP_MAX_HEADER + 2, "%s", cd);
		memset(h + strlen(cd), 'p', pad);
		h[WEB_MP_MAX_HEADER] = '\0';
		ts_form_adds(&b, B "\r\n");
		ts_form_adds(&b, h);
		ts_form_adds(&b, "\r\n\r\nv\r\n");
		ts_form_end(&b);
		expect(b.p, b.n, &lim, 0);
		ts_form_free(&b);
		h[WEB_MP_MAX_HEADER] = 'p';
		h[WEB_MP_MAX_HEADER + 1] = '\0';
		ts_form_adds(&b, B "\r\n");
		ts_form_adds(&b, h);
		ts_form_adds(&b, "\r\n\r\nv\r\n");
		ts_form_end(&b);
		expect(b.p, b.n, &lim, 400);
		ts_form_free(&b);
		free(h);
	}

	/* files: the limit's count passes, one more is 413; the hard cap holds */
	lim.max_files = 2;
	ts_form_file(&b, "attachment", "1", NULL, "a", 1);
	ts_form_file(&b, "attachment", "2", NULL, "b", 1);
	ts_form_file(&b, "attachment", "", NULL, "", 0);          /* empty inputs do not count */
	at_limit(&b, &lim, "3", 1);
	lim.max_files = 1000;
	for (int i = 0; i < WEB_MP_MAX_FILES; i++)
		ts_form_file(&b, "attachment", "f", NULL, "x", 1);
	at_limit(&b, &lim, "f", 1);

	/* bytes: exactly max_bytes together pass, one more is 413 */
	lim.max_files = WEB_MP_MAX_FILES;
	lim.max_bytes = 10;
	ts_form_file(&b, "attachment", "a", NULL, "12345", 5);
	ts_form_file(&b, "attachment", "b", NULL, "67890", 5);
	ts_form_adds(&b, B "--");
	expect(b.p, b.n, &lim, 0);
	lim.max_bytes = 9;
	expect(b.p, b.n, &lim, 413);
	/* none allowed: a file is 413, an empty input is fine */
	lim.max_bytes = 0;
	expect(b.p, b.n, &lim, 413);
	ts_form_free(&b);
	ts_form_file(&b, "attachment", "", NULL, "", 0);
	ts_form_field(&b, "text", "t");
	ts_form_end(&b);
	expect(b.p, b.n, &lim, 0);
	ts_form_free(&b);
	free(big);
}

/* check - what a successful parse may hold */
static void check(const web_form *f, const web_files *fs, const web_mp_limits *lim)
{
	size_t total = 0;

	assert_true(f->n <= WEB_FORM_MAX_FIELDS);
	for (int i = 0; i < f->n; i++) {
		assert_true(strlen(f->f[i].name) > 0 && strlen(f->f[i].name) <= WEB_FORM_MAX_NAME);
		assert_int_equal(strlen(f->f[i].value), f->f[i].len);
		assert_true(f->f[i].len <= WEB_FORM_MAX_VALUE);
	}
	assert_true(fs->n >= 0 && (size_t)fs->n <= lim->max_files && fs->n <= WEB_MP_MAX_FILES);
	for (int i = 0; i < fs->n; i++) {
		const web_file *x = &fs->f[i];
		assert_true(*x->filename && strlen(x->filename) <= WEB_FILENAME_MAX);
		assert_true(web_utf8_chars(x->filename) > 0);
		assert_null(strpbrk(x->filename, "/\\\";%"));
		assert_true(x->filename[0] != '.');
		assert_non_null(strchr(x->type, '/'));
		total += x->len;
	}
	assert_int_equal(total, fs->total);
	assert_true(total <= lim->max_bytes);
}

static void test_fuzz(void **state)
{
	ts_fuzz fz;
	static const char *const pieces[] = {
		"\r\n", "\r", "\n", "--", B, "\r\n" B, "\r\n\r\n", "\"", ";", "=", "name=", "filename=",
		"Content-Disposition: form-data", "Content-Type: ", "\x00", "\xff", "\xe2\x80\xae", " ",
		"%22", "filename*=UTF-8''%C3", "..\\", "Content-Transfer-Encoding: binary\r\n",
	};
	web_mp_limits lim = { .max_files = 3, .max_bytes = 64 };
	body good = BODY;
	uint8_t *buf = malloc(8192);
	web_form f;
	web_files fs;
	int ok = 0;
	(void)state;
	ts_fuzz_start(&fz, "multipart/test_fuzz");

	ts_form_field(&good, "csrf", "tok");
	ts_form_file(&good, "attachment", "a.bin", "application/octet-stream", bin, sizeof(bin));
	ts_form_file(&good, "attachment", "b\xc3\xa9.txt", "text/plain", "bee", 3);
	ts_form_field(&good, "text", "hello\r\nworld");
	ts_form_end(&good);

	for (int round = 0; round < 30000; round++) {
		size_t n = good.n;
		int rc;

		memcpy(buf, good.p, n);
		if (round % 10 == 0) {
			n = ts_fuzz_uniform(&fz, 4096);
			ts_fuzz_buf(&fz, buf, n);
		} else {
			int k = 1 + (int)ts_fuzz_uniform(&fz, 6);
			for (int j = 0; j < k; j++) {
				size_t at = n ? ts_fuzz_uniform(&fz, (uint32_t)n) : 0;
				switch (ts_fuzz_uniform(&fz, 5)) {
				case 0:         /* flip a byte */
					if (n)
						buf[at] = (uint8_t)ts_fuzz_uniform(&fz, 256);
					break;
				case 1:         /* cut */
					n = at;
					break;
				case 2: {       /* delete a range */
					size_t l = ts_fuzz_uniform(&fz, 40);
					if (at + l > n)
						l = n - at;
					memmove(buf + at, buf + at + l, n - at - l);
					n -= l;
					break;
				}
				default: {      /* insert a piece */
					const char *p = pieces[ts_fuzz_uniform(&fz, sizeof(pieces) / sizeof(pieces[0]))];
					size_t l = strlen(p) ? strlen(p) : 1;
					if (n + l >= 8192)
						break;
					memmove(buf + at + l, buf + at, n - at);
					memcpy(buf + at, p, l);
					n += l;
					break;
				}
				}
			}
		}
		rc = web_mp_parse(round % 7 == 0 ? "multipart/form-data; boundary=\"" B "\"" : CT,
		    buf, n, &lim, &f, &fs);
		assert_true(rc == 0 || rc == 400 || rc == 413);    /* its only answers: parsed, malformed, too large */
		if (rc == 0) {
			check(&f, &fs, &lim);
			ok++;
		} else {
			assert_int_equal(f.n, 0);
			assert_int_equal(fs.n, 0);
		}
		web_form_free(&f);
		web_files_free(&fs);
	}
	assert_true(ok > 0);        /* some mutations keep a valid body */
	/* random content types never crash either */
	for (int round = 0; round < 5000; round++) {
		char ct[128], out[WEB_MP_BOUNDARY_MAX + 1];
		size_t n = ts_fuzz_uniform(&fz, sizeof(ct) - 1);
		memcpy(ct, "multipart/form-data; boundary=", 30);
		for (size_t i = 30; i < n; i++)
			ct[i] = "ab\"; =\t'()+_,-./:=?\x01\xff"[ts_fuzz_uniform(&fz, 22)];
		ct[n < 30 ? 30 : n] = '\0';
		if (web_mp_boundary(ct, out) == 0)
			assert_true(strlen(out) >= 1 && strlen(out) <= WEB_MP_BOUNDARY_MAX);
	}
	free(buf);
	ts_form_free(&good);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_form),
		cmocka_unit_test(test_boundary),
		cmocka_unit_test(test_filenames),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_fuzz),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
