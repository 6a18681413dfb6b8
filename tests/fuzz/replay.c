/*
 * replay.c - a fuzz harness as an ordinary test suite: feed it every file
 * of tests/fuzz/corpus/<name>/ and tests/fuzz/crashes/<name>/, in name
 * order, one call each. Built with the project's compiler (and with ASan
 * and UBSan under SANITIZE=1), so "make test" replays the corpus and every
 * input that once crashed without needing clang or libFuzzer.
 *
 *   build/tests/unit/fuzz_<name>              both directories, relative to
 *                                             the repository (tests/run's cwd)
 *   build/tests/unit/fuzz_<name> FILE|DIR...  just those
 *
 * A crash is the failure: the file name is printed before each call, so
 * the log's last "replay:" line names the culprit. Ends with the line
 * "N passed, N failed" tests/run counts; an empty corpus is a failure.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

#ifndef FUZZ_NAME
#error "build with -DFUZZ_NAME=\"<name>\""
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int passed, failed;

/* slurp - a whole file into malloc'd memory; NULL on error */
static uint8_t *slurp(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t cap = 0, len = 0, n;

	if (!f)
		return NULL;
	do {
		if (len == cap) {
			cap = cap ? cap * 2 : 4096;
			buf = realloc(buf, cap);
			if (!buf)
				abort();
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	if (ferror(f)) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*len_r = len;
	return buf;
}

/* replay_file - one input, one call */
static void replay_file(const char *path)
{
	size_t len = 0;
	uint8_t *data = slurp(path, &len);

	if (!data) {
		printf("replay: %s: cannot read: %s\n", path, strerror(errno));
		failed++;
		return;
	}
	printf("replay: %s (%zu bytes)\n", path, len);
	fflush(stdout);
	LLVMFuzzerTestOneInput(data, len);
	free(data);
	passed++;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* replay_path - a file, or every regular file of a directory */
static void replay_path(const char *path, int must_exist)
{
	struct stat st;
	struct dirent **list;
	int n;

	if (stat(path, &st) < 0) {
		if (must_exist) {
			printf("replay: %s: %s\n", path, strerror(errno));
			failed++;
		}
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		replay_file(path);
		return;
	}
	n = scandir(path, &list, NULL, by_name);
	if (n < 0) {
		printf("replay: %s: %s\n", path, strerror(errno));
		failed++;
		return;
	}
	for (int i = 0; i < n; i++) {
		char *p;

		if (list[i]->d_name[0] != '.' && strcmp(list[i]->d_name, "README") != 0 &&
		    asprintf(&p, "%s/%s", path, list[i]->d_name) >= 0) {
			if (stat(p, &st) == 0 && S_ISREG(st.st_mode))
				replay_file(p);
			free(p);
		}
		free(list[i]);
	}
	free(list);
}

int main(int argc, char **argv)
{
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			replay_path(argv[i], 1);
	} else {
		replay_path("tests/fuzz/corpus/" FUZZ_NAME, 1);
		replay_path("tests/fuzz/crashes/" FUZZ_NAME, 0);
	}
	if (passed == 0 && failed == 0) {
		printf("replay: no input for %s\n", FUZZ_NAME);
		failed++;
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
