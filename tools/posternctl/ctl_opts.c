/*
 * ctl_opts.c - the options of a subcommand as a table: each is a name
 * that takes the next argument as its value, or a flag. A subcommand
 * lists what it accepts and reads the result from its own variables, so
 * none of them walks argv by hand.
 */
#include <stdio.h>
#include <string.h>

#include "ctl.h"

/* find - the entry named arg, or NULL */
static const ctl_opt *find(const ctl_opt *opts, const char *arg)
{
	for (; opts->name; opts++)
		if (!strcmp(opts->name, arg))
			return opts;
	return NULL;
}

/* ctl_opts_parse - argv[1..argc) by the table opts */
int ctl_opts_parse(const char *cmd, int argc, char **argv, const ctl_opt *opts)
{
	for (int i = 1; i < argc; i++) {
		const ctl_opt *o;

		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return 1;
		if (!(o = find(opts, argv[i]))) {
			fprintf(stderr, "posternctl %s: unexpected argument \"%s\"\n", cmd, argv[i]);
			return -1;
		}
		if (o->flag) {
			*o->flag = 1;
			continue;
		}
		if (i + 1 == argc) {
			fprintf(stderr, "posternctl %s: %s wants a value\n", cmd, argv[i]);
			return -1;
		}
		*o->value = argv[++i];
	}
	return 0;
}
