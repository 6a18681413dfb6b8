/*
 * fuzz.h - a replayable random stream for the fuzz loops of the unit
 * tests. Each loop starts one with ts_fuzz_start, which takes the seed
 * from POSTERN_FUZZ_SEED (decimal) or else from the clock, and prints
 *
 *	<name> fuzz seed N (replay: POSTERN_FUZZ_SEED=N)
 *
 * so that a failure in the log can be run again with the same inputs.
 * Not for anything secret: the stream is splitmix64.
 */
#ifndef POSTERN_TEST_FUZZ_H
#define POSTERN_TEST_FUZZ_H

#include <stddef.h>
#include <stdint.h>

typedef struct ts_fuzz {
	uint64_t state;
} ts_fuzz;

/* ts_fuzz_seed - the seed (POSTERN_FUZZ_SEED or the clock), printed for name */
unsigned int ts_fuzz_seed(const char *name);
/* ts_fuzz_start - fz seeded by ts_fuzz_seed(name) */
void ts_fuzz_start(ts_fuzz *fz, const char *name);
/* ts_fuzz_uniform - 0..n-1 (n > 0) */
uint32_t ts_fuzz_uniform(ts_fuzz *fz, uint32_t n);
/* ts_fuzz_buf - n bytes into buf */
void ts_fuzz_buf(ts_fuzz *fz, void *buf, size_t n);

#endif
