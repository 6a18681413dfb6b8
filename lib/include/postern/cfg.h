/*
 * cfg.h - configuration from the environment, one table per program.
 *
 * Each entry is the Postfix triple: variable name, default, target, plus a
 * range for numbers. pn_cfg_load reads the table once at start:
 *   - the variable if set, else NAME_FILE (contents, trailing newline cut)
 *     if set, else the default;
 *   - numbers must parse completely and lie in [min, max];
 *   - secrets are never printed (pn_cfg_print shows "<redacted>");
 *   - a renamed variable (PN_CFG_INT_WAS) is still read under its old
 *     name, with a warning in the log, when the new one is not set; the
 *     new name wins when both are. Keep the old name for one release.
 * A bad value is reported with its name and the accepted range.
 */
#ifndef POSTERN_CFG_H
#define POSTERN_CFG_H

#include <stdio.h>

typedef enum pn_cfg_type {
	PN_CFG_T_END = 0,
	PN_CFG_T_STR,
	PN_CFG_T_INT,
	PN_CFG_T_BOOL,
} pn_cfg_type;

#define PN_CFG_SECRET 0x1       /* never printed or logged */
#define PN_CFG_REQUIRED 0x2     /* must be non-empty */

typedef struct pn_cfg_entry {
	pn_cfg_type type;
	const char *name;        /* environment variable, e.g. POSTERN_PG_DSN */
	const char *defval;      /* default as text; NULL = "" */
	long min, max;           /* PN_CFG_T_INT only */
	void *target;            /* char ** | long * | int * (bool) */
	int flags;
	const char *help;        /* one line, for --help and docs */
	const char *was;         /* deprecated old name, still read; NULL = none */
} pn_cfg_entry;

#define PN_CFG_STR(name, def, target, flags, help) \
	{ PN_CFG_T_STR, (name), (def), 0, 0, (target), (flags), (help), NULL }
#define PN_CFG_INT(name, def, min, max, target, help) \
	{ PN_CFG_T_INT, (name), #def, (min), (max), (target), 0, (help), NULL }
/* PN_CFG_INT_WAS - PN_CFG_INT renamed from was (read with a deprecation warning) */
#define PN_CFG_INT_WAS(name, was, def, min, max, target, help) \
	{ PN_CFG_T_INT, (name), #def, (min), (max), (target), 0, (help), (was) }
#define PN_CFG_BOOL(name, def, target, help) \
	{ PN_CFG_T_BOOL, (name), (def) ? "1" : "0", 0, 1, (target), 0, (help), NULL }
#define PN_CFG_END { PN_CFG_T_END, NULL, NULL, 0, 0, NULL, 0, NULL, NULL }

/*
 * pn_cfg_load - fill every target of table from the environment.
 * Returns 0, or -1 with a message in err (size errlen) naming the variable.
 * Strings are allocated; pn_cfg_free releases (and wipes secrets).
 */
int pn_cfg_load(const pn_cfg_entry *table, char *err, size_t errlen);
void pn_cfg_free(const pn_cfg_entry *table);
/* pn_cfg_print - NAME=value lines, secrets redacted */
void pn_cfg_print(const pn_cfg_entry *table, FILE *out);
/* pn_cfg_help - NAME (default, range): help lines */
void pn_cfg_help(const pn_cfg_entry *table, FILE *out);

#endif
