/*
 * tmpl.h - the one template syntax of every text Postern renders.
 *
 * Small on purpose - no code, no loops, no includes:
 *
 *	{{name}}                     a variable
 *	{{_ "Hello {name}"}}         a message: translated (gettext, the
 *	                             thread's language), then {name} replaced
 *	{{_n "{n} day" "{n} days" n}}  a plural message, counted by variable n
 *	{{#if name}} .. {{else}} .. {{/if}}   name set and not empty
 *	{{! a comment }}
 *
 * In an HTML template every variable and every message is HTML-escaped -
 * but for variables named html_*, which hold markup the program built
 * and escaped itself (the page frame's body); in a text template nothing
 * is escaped. A template names only the variables its
 * kind declares: anything else - in the template or in any language's
 * translation of its messages - is an error when it is parsed, i.e. when
 * the service starts, never when a mail is sent.
 *
 * Template sets (pn_tmpl_set): the files of a list of kinds, each kind
 * with a subject, text and/or HTML part (<kind>.subject, <kind>.txt,
 * <kind>.html). Each file is looked up per language, first in the
 * operator's directory (POSTERN_TEMPLATE_DIR/<lang>/<file>, then
 * POSTERN_TEMPLATE_DIR/<file>), then among the templates built into the
 * program (share/postern/templates/<lang>/<file>, then
 * share/postern/templates/<file>).
 */
#ifndef POSTERN_TMPL_H
#define POSTERN_TMPL_H

#include <stddef.h>

#define PN_TMPL_MAX (64 * 1024)   /* bytes of one template file */

typedef struct pn_tmpl pn_tmpl;

typedef struct pn_tmpl_var {
	const char *name;
	const char *value;        /* NULL is the same as "" */
} pn_tmpl_var;

/*
 * pn_tmpl_parse - compile src (what = its name in messages); vars is the
 * NULL-terminated list of the names it may use. NULL with err on any
 * syntax error or unknown name, also in a translation of its messages.
 */
pn_tmpl *pn_tmpl_parse(const char *what, const char *src, int html,
    const char *const *vars, char *err, size_t errlen);
void pn_tmpl_destroy(pn_tmpl **t);

/* pn_tmpl_render - the text in the thread's language (pn_malloc'd) */
char *pn_tmpl_render(const pn_tmpl *t, const pn_tmpl_var *v, size_t n);

/* one kind of a set: its name, its variables and which parts it has */
enum { PN_TMPL_SUBJECT = 1, PN_TMPL_TEXT = 2, PN_TMPL_HTML = 4 };
typedef struct pn_tmpl_kind {
	const char *name;
	const char *const *vars;
	int parts;
} pn_tmpl_kind;

typedef struct pn_tmpl_set pn_tmpl_set;

/*
 * pn_tmpl_set_load - every part of every kind for every language, from
 * dir (NULL or "": none) or the built-in files. NULL with err naming the
 * file and the problem.
 */
pn_tmpl_set *pn_tmpl_set_load(const pn_tmpl_kind *kinds, size_t n_kinds,
    const char *dir, char *err, size_t errlen);
void pn_tmpl_set_destroy(pn_tmpl_set **set);

/* what pn_tmpl_set_render makes: pn_malloc'd, NULL for a part the kind lacks */
typedef struct pn_tmpl_out {
	char *subject;
	char *text;
	char *html;
} pn_tmpl_out;

/*
 * pn_tmpl_set_render - the parts of kind in lang (switches the thread's
 * language for the call). -1 if the kind is unknown.
 */
int pn_tmpl_set_render(const pn_tmpl_set *set, const char *kind, const char *lang,
    const pn_tmpl_var *v, size_t n, pn_tmpl_out *out);
/* pn_tmpl_out_free - wipes and frees the parts (they may hold a link) */
void pn_tmpl_out_free(pn_tmpl_out *out);

#endif
