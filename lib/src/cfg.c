/*
 * cfg.c - read a program's configuration table from the environment, once.
 *
 * Values come from NAME, or from the file named by NAME_FILE (how
 * Kubernetes hands over Secrets), or from the default in the table.
 * Setting both NAME and NAME_FILE is an error: which one wins would be a
 * guess. Numbers must parse completely and lie in their range; booleans
 * take 1/0, true/false, yes/no, on/off. A renamed variable is read under
 * its old name (e->was, the same two ways) only when the new name is not
 * set, and says so in the log.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "postern/cfg.h"
#include "postern/log.h"
#include "postern/mem.h"

#define CFG_FILE_MAX 65536

/* cfg_fail - format an error for the caller */
static int cfg_fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int cfg_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* cfg_read_file - contents of path, trailing newlines cut; NULL on error */
static char *cfg_read_file(const char *path, char *err, size_t errlen,
    const char *name)
{
	FILE *fp = fopen(path, "r");
	char *buf;
	size_t n;

	if (!fp) {
		cfg_fail(err, errlen, "%s_FILE: cannot open \"%s\": %s", name,
		    path, strerror(errno));
		return NULL;
	}
	buf = pn_malloc(CFG_FILE_MAX + 1);
	n = fread(buf, 1, CFG_FILE_MAX + 1, fp);
	fclose(fp);
	if (n > CFG_FILE_MAX) {
		pn_wipe(buf, CFG_FILE_MAX + 1);
		free(buf);
		cfg_fail(err, errlen, "%s_FILE: \"%s\" is larger than %d bytes",
		    name, path, CFG_FILE_MAX);
		return NULL;
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
	if (memchr(buf, '\0', n)) {
		pn_wipe(buf, n);
		free(buf);
		cfg_fail(err, errlen, "%s_FILE: \"%s\" contains a NUL byte", name, path);
		return NULL;
	}
	return buf;
}

/* cfg_parse_bool - 1, 0, or -1 if not a boolean */
static int cfg_parse_bool(const char *s)
{
	static const char *const yes[] = { "1", "true", "yes", "on" };
	static const char *const no[] = { "0", "false", "no", "off" };
	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(s, yes[i]))
			return 1;
		if (!strcasecmp(s, no[i]))
			return 0;
	}
	return -1;
}

/* cfg_set - parse text into the entry's target */
static int cfg_set(const pn_cfg_entry *e, const char *text, char *err,
    size_t errlen)
{
	switch (e->type) {
	case PN_CFG_T_STR:
		if ((e->flags & PN_CFG_REQUIRED) && !*text)
			return cfg_fail(err, errlen, "%s: must not be empty", e->name);
		*(char **)e->target = pn_strdup(text);
		return 0;
	case PN_CFG_T_INT: {
		char *end;
		errno = 0;
		long v = strtol(text, &end, 10);
		if (!*text || *end || errno == ERANGE)
			return cfg_fail(err, errlen, "%s: \"%s\" is not a whole number",
			    e->name, text);
		if (v < e->min || v > e->max)
			return cfg_fail(err, errlen, "%s: %ld is out of range %ld..%ld",
			    e->name, v, e->min, e->max);
		*(long *)e->target = v;
		return 0;
	}
	case PN_CFG_T_BOOL: {
		int b = cfg_parse_bool(text);
		if (b < 0)
			return cfg_fail(err, errlen,
			    "%s: \"%s\" is not a boolean (1/0, true/false, yes/no, on/off)",
			    e->name, text);
		*(int *)e->target = b;
		return 0;
	}
	case PN_CFG_T_END:
		break;
	}
	return cfg_fail(err, errlen, "%s: bad table entry", e->name);
}

/*
 * cfg_lookup - the text of variable name, from name or name_FILE, in
 * *val_r (NULL: neither is set); *file_r is the copy to free, or NULL
 */
static int cfg_lookup(const char *name, const char **val_r, char **file_r,
    char *err, size_t errlen)
{
	char file_var[256];
	const char *file;

	*val_r = getenv(name);
	*file_r = NULL;
	snprintf(file_var, sizeof(file_var), "%s_FILE", name);
	file = getenv(file_var);
	if (*val_r && file && *file)
		return cfg_fail(err, errlen, "%s and %s are both set: choose one",
		    name, file_var);
	if (file && *file) {
		if (!(*file_r = cfg_read_file(file, err, errlen, name)))
			return -1;
		*val_r = *file_r;
	}
	return 0;
}

int pn_cfg_load(const pn_cfg_entry *table, char *err, size_t errlen)
{
	for (const pn_cfg_entry *e = table; e && e->type != PN_CFG_T_END; e++) {
		pn_cfg_entry old;
		const char *val, *old_val = NULL;
		char *from_file, *old_file = NULL;
		int rc;

		if (cfg_lookup(e->name, &val, &from_file, err, errlen) < 0)
			return -1;
		if (e->was && cfg_lookup(e->was, &old_val, &old_file, err, errlen) < 0) {
			pn_wipe_free(&from_file);
			return -1;
		}
		if (old_val && val) {
			pn_warn("msg=\"deprecated variable ignored\" name=%s use=%s", e->was,
			    e->name);
		} else if (old_val) {
			pn_warn("msg=\"deprecated variable\" name=%s use=%s", e->was, e->name);
			old = *e;
			old.name = e->was;       /* errors name what was set */
			rc = cfg_set(&old, old_val, err, errlen);
			pn_wipe_free(&old_file);
			if (rc < 0)
				return -1;
			continue;
		}
		pn_wipe_free(&old_file);
		if (!val)
			val = e->defval ? e->defval : "";
		rc = cfg_set(e, val, err, errlen);
		pn_wipe_free(&from_file);
		if (rc < 0)
			return -1;
	}
	return 0;
}

void pn_cfg_free(const pn_cfg_entry *table)
{
	for (const pn_cfg_entry *e = table; e && e->type != PN_CFG_T_END; e++) {
		if (e->type != PN_CFG_T_STR)
			continue;
		char **s = e->target;
		if (e->flags & PN_CFG_SECRET)
			pn_wipe_free(s);
		else
			pn_free(s);
	}
}

void pn_cfg_print(const pn_cfg_entry *table, FILE *out)
{
	for (const pn_cfg_entry *e = table; e && e->type != PN_CFG_T_END; e++) {
		switch (e->type) {
		case PN_CFG_T_STR: {
			const char *s = *(char **)e->target;
			if (e->flags & PN_CFG_SECRET)
				fprintf(out, "%s=%s\n", e->name, s && *s ? "<redacted>" : "");
			else
				fprintf(out, "%s=%s\n", e->name, s ? s : "");
			break;
		}
		case PN_CFG_T_INT:
			fprintf(out, "%s=%ld\n", e->name, *(long *)e->target);
			break;
		case PN_CFG_T_BOOL:
			fprintf(out, "%s=%d\n", e->name, *(int *)e->target);
			break;
		case PN_CFG_T_END:
			break;
		}
	}
}

void pn_cfg_help(const pn_cfg_entry *table, FILE *out)
{
	for (const pn_cfg_entry *e = table; e && e->type != PN_CFG_T_END; e++) {
		if (e->type == PN_CFG_T_INT)
			fprintf(out, "  %-28s %s (default %s, %ld..%ld)%s%s%s\n", e->name,
			    e->help ? e->help : "", e->defval, e->min, e->max,
			    e->was ? "; was " : "", e->was ? e->was : "",
			    e->was ? ", still read, deprecated" : "");
		else
			fprintf(out, "  %-28s %s (default \"%s\")%s\n", e->name,
			    e->help ? e->help : "", e->defval ? e->defval : "",
			    e->flags & PN_CFG_SECRET ? " secret; or via _FILE" : "");
	}
}
