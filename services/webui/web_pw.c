/*
 * web_pw.c - password rules (NIST SP 800-63B §5.1.1.2) and the blocklist
 * of common passwords.
 *
 * The rules: at least POSTERN_PASSWORD_MIN characters (Unicode code
 * points), at most POSTERN_PASSWORD_MAX, every printable character and
 * space allowed, no composition rules, and refused when it is a known
 * common password (the blocklist shipped in share/postern, see
 * services/webui/gen-blocklist), one character repeated, a plain
 * sequence ("1234567890", "abcdefghij", "qwertyuiop" and backwards), or
 * the mailbox address, its local part or the service name. Control
 * characters and invalid UTF-8 are refused: the password becomes a GnuPG
 * passphrase, which is one line of text.
 *
 * The blocklist is kept lower-cased and sorted in one block of memory;
 * a lookup lower-cases ASCII and does a binary search.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "postern/log.h"
#include "postern/mem.h"
#include "postern/text.h"
#include "web_cfg.h"
#include "web_pw.h"
#include "web_text.h"
#include "web_util.h"

#define BLOCKLIST_MAX_BYTES (16L * 1024 * 1024)
#define ENTRY_MAX 256

struct web_blocklist {
	char *text;                 /* the entries, NUL-separated */
	char **entry;               /* sorted */
	size_t n;
};

/* lower - ASCII lower-case copy into out (outlen); -1 if too long */
static int lower(const char *in, size_t n, char *out, size_t outlen)
{
	if (n >= outlen)
		return -1;
	for (size_t i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)in[i]);
	out[n] = '\0';
	return 0;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* web_blocklist_from - parse lines; lower-case, sort */
web_blocklist *web_blocklist_from(const char *text, size_t len)
{
	web_blocklist *bl = pn_calloc(1, sizeof(*bl));
	size_t cap = 1024, o = 0, i = 0;

	bl->text = pn_malloc(len + 1);
	bl->entry = pn_malloc(cap * sizeof(char *));
	while (i < len) {
		size_t end = i, n;
		while (end < len && text[end] != '\n')
			end++;
		n = end - i;
		if (n > 0 && text[i + n - 1] == '\r')
			n--;
		if (n > 0 && n < ENTRY_MAX && text[i] != '#') {
			char *e = bl->text + o;
			lower(text + i, n, e, ENTRY_MAX);
			if (bl->n == cap) {
				cap *= 2;
				bl->entry = pn_realloc(bl->entry, cap * sizeof(char *));
			}
			bl->entry[bl->n++] = e;
			o += n + 1;
		}
		i = end + 1;
	}
	/* pointers into text stay valid: text was sized for all of it */
	qsort(bl->entry, bl->n, sizeof(char *), cmp);
	return bl;
}

/* web_blocklist_load - read a file */
web_blocklist *web_blocklist_load(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	char *data;
	size_t n;
	web_blocklist *bl;

	if (!f) {
		pn_error("msg=\"cannot open the password blocklist\" path=%s error=\"%s\"", path,
		    strerror(errno));
		return NULL;
	}
	if (fstat(fileno(f), &st) < 0 || st.st_size <= 0 || st.st_size > BLOCKLIST_MAX_BYTES) {
		pn_error("msg=\"password blocklist is empty or too large\" path=%s", path);
		fclose(f);
		return NULL;
	}
	data = pn_malloc((size_t)st.st_size);
	n = fread(data, 1, (size_t)st.st_size, f);
	fclose(f);
	bl = web_blocklist_from(data, n);
	free(data);
	return bl;
}

void web_blocklist_free(web_blocklist **blp)
{
	web_blocklist *bl = *blp;

	if (!bl)
		return;
	*blp = NULL;
	free(bl->text);
	free(bl->entry);
	free(bl);
}

size_t web_blocklist_size(const web_blocklist *bl)
{
	return bl ? bl->n : 0;
}

/* web_blocklist_has - binary search of the lower-cased password */
int web_blocklist_has(const web_blocklist *bl, const char *pw)
{
	char key[ENTRY_MAX], *k = key;
	int found;

	if (!bl || !pw || lower(pw, strlen(pw), key, sizeof(key)) < 0)
		return 0;
	found = bsearch(&k, bl->entry, bl->n, sizeof(char *), cmp) != NULL;
	pn_wipe(key, sizeof(key));
	return found;
}

/* web_utf8_chars - code points, -1 for invalid UTF-8 or control characters */
long web_utf8_chars(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t left = strlen(s);
	long n = 0;

	while (left > 0) {
		unsigned cp;
		size_t len = pn_utf8_next(p, left, &cp);

		if (len == 0 || cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
			return -1;
		p += len;
		left -= len;
		n++;
	}
	return n;
}

/* in_row - is the lower-cased s a run (either way) inside row? */
static int in_row(const char *s, size_t n, const char *row)
{
	size_t rl = strlen(row);

	for (size_t start = 0; start + n <= rl; start++) {
		size_t i;
		for (i = 0; i < n && s[i] == row[start + i]; i++)
			;
		if (i == n)
			return 1;
		for (i = 0; i < n && s[i] == row[start + n - 1 - i]; i++)
			;
		if (i == n)
			return 1;
	}
	return 0;
}

/* pattern - one repeated character or unit, or a sequence along a row */
static int pattern(const char *pw)
{
	static const char *const rows[] = {
		"01234567890123456789", "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz",
		"qwertyuiopqwertyuiop", "asdfghjklasdfghjkl", "zxcvbnmzxcvbnm",
		"qwertzuiopqwertzuiop", "azertyuiopazertyuiop", "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
	};
	char low[ENTRY_MAX];
	size_t n = strlen(pw), unit;
	int rc = 0;

	if (lower(pw, n, low, sizeof(low)) < 0)
		return 0;
	/* a unit of 1..4 characters repeated ("aaaaaaaaaa", "abababab", "abcabcabc") */
	for (unit = 1; unit <= 4 && unit < n; unit++) {
		size_t i;
		for (i = unit; i < n && low[i] == low[i - unit]; i++)
			;
		if (i == n) {
			rc = 1;
			goto done;
		}
	}
	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++)
		if (in_row(low, n, rows[r])) {
			rc = 1;
			goto done;
		}
done:
	pn_wipe(low, sizeof(low));
	return rc;
}

/* context - the address, its local part, or the service's name (any case) */
static int context(const char *pw, const char *address)
{
	const char *at;

	if (!strcasecmp(pw, "postern") || !strcasecmp(pw, "posternpostern") ||
	    !strcasecmp(pw, "postern mailbox"))
		return 1;
	if (!address || !*address)
		return 0;
	if (!strcasecmp(pw, address))
		return 1;
	at = strchr(address, '@');
	if (at && strlen(pw) == (size_t)(at - address) && !strncasecmp(pw, address, (size_t)(at - address)))
		return 1;
	return 0;
}

/* web_pw_check - the rules, in the order the recipient can act on them */
web_pw_verdict web_pw_check(const web_blocklist *bl, const char *pw,
    const char *confirm, const char *address, long min, long max)
{
	long chars;

	if (!pw)
		return WEB_PW_TOO_SHORT;
	if (strlen(pw) > 4 * (size_t)max)
		return WEB_PW_TOO_LONG;
	if ((chars = web_utf8_chars(pw)) < 0)
		return WEB_PW_CONTROL;
	if (chars < min)
		return WEB_PW_TOO_SHORT;
	if (chars > max)
		return WEB_PW_TOO_LONG;
	if (web_blocklist_has(bl, pw))
		return WEB_PW_COMMON;
	if (pattern(pw))
		return WEB_PW_PATTERN;
	if (context(pw, address))
		return WEB_PW_CONTEXT;
	if (!confirm || strcmp(pw, confirm) != 0)
		return WEB_PW_MISMATCH;
	return WEB_PW_OK;
}

/* ---- the web UI's one blocklist, and what to say ---- */

static web_blocklist *common;

/* web_pw_load_common - the blocklist of every password form; -1 = cannot run */
int web_pw_load_common(const char *path)
{
	if (!(common = web_blocklist_load(path)))
		return -1;
	if (web_blocklist_size(common) < 10000)
		pn_warn("msg=\"the password blocklist is short\" entries=%zu",
		    web_blocklist_size(common));
	pn_info("msg=\"password blocklist loaded\" entries=%zu", web_blocklist_size(common));
	return 0;
}

void web_pw_free_common(void)
{
	web_blocklist_free(&common);
}

const web_blocklist *web_pw_common(void)
{
	return common;
}

/* web_pw_message - the text for a verdict (a thread's static buffer) */
const char *web_pw_message(web_pw_verdict v)
{
	static __thread char buf[160];

	switch (v) {
	case WEB_PW_TOO_SHORT:
		web_tfmtl(buf, sizeof(buf), web_textn(WEB_N_PW_TOO_SHORT,
		    (unsigned long)web_cfg.password_min), web_cfg.password_min, 0, 0);
		return buf;
	case WEB_PW_TOO_LONG:
		web_tfmtl(buf, sizeof(buf), web_textn(WEB_N_PW_TOO_LONG,
		    (unsigned long)web_cfg.password_max), web_cfg.password_max, 0, 0);
		return buf;
	case WEB_PW_CONTROL: return TXT->pw_control;
	case WEB_PW_COMMON: return TXT->pw_common;
	case WEB_PW_PATTERN: return TXT->pw_pattern;
	case WEB_PW_CONTEXT: return TXT->pw_context;
	case WEB_PW_MISMATCH: return TXT->pw_mismatch;
	default: return NULL;
	}
}
