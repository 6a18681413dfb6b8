/*
 * support.c - helpers shared by the unit tests (see support.h).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "support.h"

int ts_agent_running(const char *dir)
{
	char path[64], buf[1024];
	struct dirent *de;
	DIR *d = opendir("/proc");
	int found = 0;

	if (!d)
		return 0;
	while (!found && (de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%.20s/cmdline", de->d_name);
		FILE *fp = fopen(path, "r");
		if (!fp)
			continue;
		size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
		fclose(fp);
		buf[n] = '\0';
		/* argv is NUL-separated: "gpg-agent" "--homedir" dir ... */
		size_t a0 = strlen(buf);
		if (a0 >= 9 && !strcmp(buf + a0 - 9, "gpg-agent"))
			for (size_t i = a0 + 1; i < n; i += strlen(buf + i) + 1)
				if (!strcmp(buf + i, dir))
					found = 1;
	}
	closedir(d);
	return found;
}

int ts_entries(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, prefix, strlen(prefix)))
			n++;
	closedir(d);
	return n;
}

