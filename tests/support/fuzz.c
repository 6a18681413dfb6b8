/*
 * fuzz.c - the fuzz loops' random stream (fuzz.h): a seed that is printed
 * and can be given back, and splitmix64 from it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "fuzz.h"

unsigned int ts_fuzz_seed(const char *name)
{
	const char *e = getenv("POSTERN_FUZZ_SEED");
	unsigned int seed;

	if (e != NULL && *e != '\0')
		seed = (unsigned int)strtoul(e, NULL, 10);
	else
		seed = (unsigned int)time(NULL) ^ ((unsigned int)getpid() << 16);
	printf("%s fuzz seed %u (replay: POSTERN_FUZZ_SEED=%u)\n", name, seed, seed);
	fflush(stdout);
	return seed;
}

void ts_fuzz_start(ts_fuzz *fz, const char *name)
{
	fz->state = ts_fuzz_seed(name);
}

/* next - splitmix64 */
static uint64_t next(ts_fuzz *fz)
{
	uint64_t z = (fz->state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint32_t ts_fuzz_uniform(ts_fuzz *fz, uint32_t n)
{
	return n > 0 ? (uint32_t)(next(fz) % n) : 0;
}

void ts_fuzz_buf(ts_fuzz *fz, void *buf, size_t n)
{
	unsigned char *p = buf;

	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)next(fz);
}
