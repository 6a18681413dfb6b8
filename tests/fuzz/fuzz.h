/*
 * fuzz.h - what every harness in tests/fuzz shares.
 *
 * A harness is one file defining LLVMFuzzerTestOneInput (and, when it
 * needs one-time setup, LLVMFuzzerInitialize). It is built twice: with
 * clang and libFuzzer for "make fuzz" (build/fuzz/bin/<name>), and with
 * the project's own compiler and replay.c as a test suite that feeds it
 * every file of its seed corpus and of its saved crashes
 * (build/tests/unit/fuzz_<name>, run by "make test").
 *
 * Harnesses call the real code: the library and the services' logic
 * objects, never a copy. They must not leak (LeakSanitizer is on in both
 * builds) and must not depend on the order of inputs.
 */
#ifndef POSTERN_FUZZ_H
#define POSTERN_FUZZ_H
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* fz_strndup - data as a NUL-terminated string (malloc'd; NULs inside kept) */
static inline char *fz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	if (size)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/*
 * fz_split - the next piece of *data up to a separator byte sep (or the
 * end), as a malloc'd string; advances *data and *size past it. Lets one
 * input carry several strings while staying readable as a text file.
 */
static inline char *fz_split(const uint8_t **data, size_t *size, uint8_t sep)
{
	const uint8_t *end = memchr(*data, sep, *size);
	size_t n = end ? (size_t)(end - *data) : *size;
	char *s = fz_strndup(*data, n);

	*data += n + (end ? 1 : 0);
	*size -= n + (end ? 1 : 0);
	return s;
}

#endif
