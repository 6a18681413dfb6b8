/*
 * tmpl.c - parse and render one template (tmpl.h has the syntax).
 *
 * A template is compiled once into a tree of nodes - text, variable,
 * message, if - and rendered many times. Everything is checked while
 * parsing: the syntax, every variable name against the kind's list, and
 * every {placeholder} of every message in every language's translation.
 * Rendering therefore cannot fail; a variable the caller did not pass is
 * empty. Escaping is decided by the template (HTML or text), never by the
 * caller, so a value cannot forget it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "postern/i18n.h"
#include "postern/mem.h"
#include "postern/text.h"
#include "postern/tmpl.h"

#define TAG_MAX 2000
#define NAME_CHARS "abcdefghijklmnopqrstuvwxyz0123456789_"

enum node_type { N_TEXT, N_VAR, N_MSG, N_IF };

struct node {
	enum node_type type;
	char *s;                 /* text, variable, msgid, or the if's variable */
	char *plural;            /* N_MSG with a plural */
	char *count;             /* its counting variable */
	struct node *then, *els; /* N_IF */
	struct node *next;
};

struct pn_tmpl {
	struct node *root;
	int html;
};

/* the parser's state */
struct parse {
	const char *p;
	const char *what;
	int line;
	const char *const *vars;
	char *err;
	size_t errlen;
	int failed;
};

static void fail(struct parse *ps, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* fail - the first error, with the template's name and line */
static void fail(struct parse *ps, const char *fmt, ...)
{
	char msg[300];
	va_list ap;

	if (ps->failed)
		return;
	ps->failed = 1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(ps->err, ps->errlen, "template %s line %d: %s", ps->what, ps->line, msg);
}

static void free_nodes(struct node *n)
{
	while (n != NULL) {
		struct node *next = n->next;
		pn_free(&n->s);
		pn_free(&n->plural);
		pn_free(&n->count);
		free_nodes(n->then);
		free_nodes(n->els);
		pn_free(&n);
		n = next;
	}
}

/* known - name is one of the kind's variables */
static int known(const char *const *vars, const char *name, size_t len)
{
	for (size_t i = 0; vars != NULL && vars[i] != NULL; i++)
		if (strlen(vars[i]) == len && memcmp(vars[i], name, len) == 0)
			return 1;
	return 0;
}

/* placeholder - length of the name in "{name}" at s, 0 if s is no placeholder */
static size_t placeholder(const char *s)
{
	size_t len;

	if (*s != '{')
		return 0;
	len = strspn(s + 1, NAME_CHARS);
	return (len > 0 && s[1 + len] == '}') ? len : 0;
}

/* check_message - every placeholder of s is a variable of the kind */
static void check_message(struct parse *ps, const char *s, const char *lang)
{
	for (; *s != '\0'; s++) {
		size_t len = placeholder(s);
		char what[128];

		if (len == 0 || known(ps->vars, s + 1, len))
			continue;
		snprintf(what, sizeof(what), "'%.*s' in a message%s%s", (int)(len < 40 ? len : 40),
		    s + 1, lang ? " as translated to " : "", lang ? lang : "");
		fail(ps, "unknown variable %s", what);
	}
}

/* check_translations - the message's placeholders in every language */
static void check_translations(struct parse *ps, const struct node *n)
{
	const char *prev = pn_i18n_current();

	check_message(ps, n->s, NULL);
	if (n->plural)
		check_message(ps, n->plural, NULL);
	for (size_t i = 0; pn_i18n_langs[i] != NULL && !ps->failed; i++) {
		pn_i18n_use(pn_i18n_langs[i]);
		if (n->plural == NULL) {
			check_message(ps, _(n->s), pn_i18n_langs[i]);
			continue;
		}
		for (unsigned long k = 0; k <= 11 && !ps->failed; k++)
			check_message(ps, P_(n->s, n->plural, k), pn_i18n_langs[i]);
	}
	pn_i18n_use(prev);
}

/* quoted - a "string" at *s (no quotes or line ends inside), advancing *s */
static char *quoted(struct parse *ps, const char **s)
{
	const char *start, *end;

	*s += strspn(*s, " ");
	if (**s != '"') {
		fail(ps, "a message must be in double quotes");
		return NULL;
	}
	start = ++*s;
	end = strpbrk(start, "\"\n");
	if (end == NULL || *end != '"') {
		fail(ps, "a message is not closed by a double quote");
		return NULL;
	}
	*s = end + 1;
	return pn_strndup(start, (size_t)(end - start));
}

/* name_at - a variable name at *s, known to the kind, advancing *s */
static char *name_at(struct parse *ps, const char **s)
{
	size_t len;

	*s += strspn(*s, " ");
	len = strspn(*s, NAME_CHARS);
	if (len == 0 || len > 60) {
		fail(ps, "expected a variable name at '%.20s'", *s);
		return NULL;
	}
	if (!known(ps->vars, *s, len)) {
		char name[64];
		snprintf(name, sizeof(name), "%.*s", (int)len, *s);
		fail(ps, "unknown variable '%s'", name);
		return NULL;
	}
	*s += len;
	return pn_strndup(*s - len, len);
}

/* message_node - {{_ "..."}} or {{_n "..." "..." name}} */
static struct node *message_node(struct parse *ps, const char *tag, int plural)
{
	struct node *n = pn_calloc(1, sizeof(*n));
	const char *s = tag + (plural ? 2 : 1);

	n->type = N_MSG;
	n->s = quoted(ps, &s);
	if (plural && !ps->failed) {
		n->plural = quoted(ps, &s);
		if (!ps->failed)
			n->count = name_at(ps, &s);
	}
	if (!ps->failed && s[strspn(s, " ")] != '\0')
		fail(ps, "unexpected '%.20s' after a message", s + strspn(s, " "));
	if (!ps->failed)
		check_translations(ps, n);
	return n;
}

/* end_name - the rest of s is exactly one known name */
static char *end_name(struct parse *ps, const char *s)
{
	char *name = name_at(ps, &s);

	if (name != NULL && s[strspn(s, " ")] != '\0')
		fail(ps, "unexpected '%.20s'", s);
	return name;
}

static struct node *parse_list(struct parse *ps, const char **term_r);

/* tag_node - the node for one {{tag}}; NULL for a comment or a terminator */
static struct node *tag_node(struct parse *ps, const char *tag, const char **term_r)
{
	struct node *n;

	if (tag[0] == '!')
		return NULL;
	if (!strcmp(tag, "else") || !strcmp(tag, "/if")) {
		*term_r = strcmp(tag, "else") == 0 ? "else" : "/if";
		return NULL;
	}
	if (!strncmp(tag, "_n ", 3) || !strncmp(tag, "_ ", 2))
		return message_node(ps, tag, tag[1] == 'n');
	n = pn_calloc(1, sizeof(*n));
	if (!strncmp(tag, "#if ", 4)) {
		const char *term = NULL;
		n->type = N_IF;
		n->s = end_name(ps, tag + 4);
		n->then = parse_list(ps, &term);
		if (!ps->failed && term && !strcmp(term, "else"))
			n->els = parse_list(ps, &term);
		if (!ps->failed && (term == NULL || strcmp(term, "/if") != 0))
			fail(ps, "{{#if %s}} is not closed by {{/if}}", n->s ? n->s : "");
		return n;
	}
	n->type = N_VAR;
	n->s = end_name(ps, tag);
	return n;
}

/* count_lines - advance the line counter over n bytes of s */
static void count_lines(struct parse *ps, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] == '\n')
			ps->line++;
}

/* parse_list - nodes up to the end, {{else}} or {{/if}} (*term_r says which) */
static struct node *parse_list(struct parse *ps, const char **term_r)
{
	struct node *head = NULL, **tail = &head;

	*term_r = NULL;
	while (*ps->p != '\0' && !ps->failed && *term_r == NULL) {
		const char *open = strstr(ps->p, "{{"), *close;
		size_t text = open ? (size_t)(open - ps->p) : strlen(ps->p);
		struct node *n = NULL;

		if (text > 0) {
			n = pn_calloc(1, sizeof(*n));
			n->type = N_TEXT;
			n->s = pn_strndup(ps->p, text);
			count_lines(ps, ps->p, text);
			ps->p += text;
		} else {
			char tag[TAG_MAX + 1];
			size_t len;
			close = strstr(open + 2, "}}");
			if (close == NULL || (len = (size_t)(close - open - 2)) > TAG_MAX) {
				fail(ps, "'{{' without '}}'");
				break;
			}
			memcpy(tag, open + 2, len);
			tag[len] = '\0';
			g_strstrip(tag);
			count_lines(ps, open, len + 4);
			ps->p = close + 2;
			n = tag_node(ps, tag, term_r);
		}
		if (n != NULL) {
			*tail = n;
			tail = &n->next;
		}
	}
	return head;
}

/* pn_tmpl_parse - compile a template */
pn_tmpl *pn_tmpl_parse(const char *what, const char *src, int html,
    const char *const *vars, char *err, size_t errlen)
{
	struct parse ps = { .p = src, .what = what, .line = 1, .vars = vars,
		.err = err, .errlen = errlen };
	const char *term = NULL;
	pn_tmpl *t = pn_calloc(1, sizeof(*t));

	t->html = html;
	if (strlen(src) > PN_TMPL_MAX)
		fail(&ps, "longer than %d bytes", PN_TMPL_MAX);
	else
		t->root = parse_list(&ps, &term);
	if (!ps.failed && term != NULL)
		fail(&ps, "{{%s}} without {{#if}}", term);
	if (ps.failed)
		pn_tmpl_destroy(&t);
	return t;
}

void pn_tmpl_destroy(pn_tmpl **tp)
{
	pn_tmpl *t = *tp;

	*tp = NULL;
	if (t == NULL)
		return;
	free_nodes(t->root);
	pn_free(&t);
}

/* value - the value of a variable, "" when not passed */
static const char *value(const pn_tmpl_var *v, size_t n, const char *name, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(v[i].name) == len && memcmp(v[i].name, name, len) == 0)
			return v[i].value ? v[i].value : "";
	return "";
}

/* put - s (n bytes), escaped in HTML */
static void put(GString *out, int html, const char *s, size_t n)
{
	size_t len;

	if (!html) {
		g_string_append_len(out, s, (gssize)n);
		return;
	}
	len = pn_html_escapen(NULL, s, n);
	g_string_set_size(out, out->len + len);
	pn_html_escapen(out->str + out->len - len, s, n);
}

/* put_message - a translated message with its placeholders filled in */
static void put_message(GString *out, int html, const char *msg,
    const pn_tmpl_var *v, size_t n)
{
	const char *s = msg, *run = msg;

	for (; *s != '\0'; s++) {
		size_t len = placeholder(s);
		const char *val;
		if (len == 0)
			continue;
		put(out, html, run, (size_t)(s - run));
		val = value(v, n, s + 1, len);
		put(out, html, val, strlen(val));
		s += len + 1;
		run = s + 1;
	}
	put(out, html, run, strlen(run));
}

static void render_list(GString *out, int html, const struct node *nd,
    const pn_tmpl_var *v, size_t n)
{
	for (; nd != NULL; nd = nd->next) {
		const char *val;
		switch (nd->type) {
		case N_TEXT:
			g_string_append(out, nd->s);
			break;
		case N_VAR:
			val = value(v, n, nd->s, strlen(nd->s));
			/* html_*: markup the program built and escaped itself */
			put(out, html && strncmp(nd->s, "html_", 5) != 0, val, strlen(val));
			break;
		case N_MSG:
			if (nd->plural == NULL) {
				put_message(out, html, _(nd->s), v, n);
				break;
			}
			val = value(v, n, nd->count, strlen(nd->count));
			put_message(out, html, P_(nd->s, nd->plural, strtoul(val, NULL, 10)), v, n);
			break;
		case N_IF:
			val = value(v, n, nd->s, strlen(nd->s));
			render_list(out, html, *val ? nd->then : nd->els, v, n);
			break;
		}
	}
}

/* pn_tmpl_render - the template with these values, in the thread's language */
char *pn_tmpl_render(const pn_tmpl *t, const pn_tmpl_var *v, size_t n)
{
	GString *out = g_string_new(NULL);
	char *s;

	render_list(out, t->html, t->root, v, n);
	s = pn_strndup(out->str, out->len);
	pn_wipe(out->str, out->len);
	g_string_free(out, TRUE);
	return s;
}
