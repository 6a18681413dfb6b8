/*
 * mem_test.c - mem.c: the wrappers that never return NULL, pn_asprintf,
 * secret wiping, and the request pool (alignment, zeroing, big one-off
 * chunks, LIFO cleanups, the protobuf-c allocator).
 *
 * Hermetic. The pool fuzz loop prints its seed; POSTERN_FUZZ_SEED=N
 * replays a run.
 */
#include <malloc.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "postern/mem.h"
#include "../../tests/support/support.h"

#define FUZZ_ROUNDS 2000

/* vfmt_both - pn_vasprintf next to vsnprintf into a fixed buffer */
static char *vfmt_both(char *want, size_t wantlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static char *vfmt_both(char *want, size_t wantlen, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	vsnprintf(want, wantlen, fmt, ap);
	va_end(ap);
	va_start(ap, fmt);
	s = pn_vasprintf(fmt, ap);
	va_end(ap);
	return s;
}

static void test_asprintf(void **state)
{
	static char big[10000];
	struct {
		char *got;
		const char *want;
	} cases[] = {
		{ pn_asprintf("%s", ""), "" },
		{ pn_asprintf("plain"), "plain" },
		{ pn_asprintf("%d-%s-%zu", -7, "x", (size_t)42), "-7-x-42" },
		{ pn_asprintf("postern_broker_workers{service=\"%s\"}", "mailstore"),
		    "postern_broker_workers{service=\"mailstore\"}" },
		{ pn_asprintf("%.3s|%5d|%-3s|", "abcdef", 12, "a"), "abc|   12|a  |" },
		{ pn_asprintf("%%"), "%" },
	};
	char want[64], *s;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_non_null(cases[i].got);
		assert_string_equal(cases[i].got, cases[i].want);
		pn_free(&cases[i].got);
		assert_null(cases[i].got);
	}
	/* longer than any stack buffer a hand-made copy would start with */
	memset(big, 'q', sizeof(big) - 1);
	s = pn_asprintf("<%s>", big);
	assert_int_equal(strlen(s), sizeof(big) + 1);
	assert_int_equal(s[0], '<');
	assert_int_equal(s[sizeof(big)], '>');
	pn_free(&s);
	s = vfmt_both(want, sizeof(want), "%s=%ld", "n", 123456789L);
	assert_string_equal(s, want);
	assert_string_equal(s, "n=123456789");
	pn_free(&s);
}

static void test_dup(void **state)
{
	struct {
		const char *in;
		size_t n;
		const char *want;
	} cases[] = {
		{ "", 0, "" },
		{ "", 5, "" },
		{ "abc", 0, "" },
		{ "abc", 2, "ab" },
		{ "abc", 3, "abc" },
		{ "abc", 99, "abc" },
	};
	unsigned char bytes[] = { 0, 1, 2, 0, 255 };
	char *s;
	unsigned char *b;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s = pn_strndup(cases[i].in, cases[i].n);
		assert_string_equal(s, cases[i].want);
		pn_free(&s);
		s = pn_strdup(cases[i].want);
		assert_string_equal(s, cases[i].want);
		pn_free(&s);
	}
	b = pn_memdup(bytes, sizeof(bytes));
	assert_memory_equal(b, bytes, sizeof(bytes));
	pn_free(&b);
	b = pn_memdup(bytes, 0);          /* zero bytes: still a pointer, never NULL */
	assert_non_null(b);
	pn_free(&b);
	s = pn_malloc(0);
	assert_non_null(s);
	pn_free(&s);
	s = pn_calloc(0, 0);
	assert_non_null(s);
	s = pn_realloc(s, 100);
	assert_non_null(s);
	pn_free(&s);
	pn_free(&s);                      /* NULL-tolerant */
	pn_free((char **)NULL);
}

static void test_wipe(void **state)
{
	char buf[16];
	char *secret = pn_strdup("hunter2");

	(void)state;
	memset(buf, 'x', sizeof(buf));
	pn_wipe(buf, 8);
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], i < 8 ? 0 : 'x');
	pn_wipe(NULL, 8);
	pn_wipe(buf, 0);
	pn_wipe_free(&secret);
	assert_null(secret);
	pn_wipe_free(&secret);
	pn_wipe_free(NULL);
}

/* A pool cleanup's argument: it appends its tag to a shared log. */
typedef struct mark {
	char *log;
	char tag;
} mark;

/* record - a pool cleanup */
static void record(void *arg)
{
	mark *m = arg;
	size_t n = strlen(m->log);

	m->log[n] = m->tag;
	m->log[n + 1] = '\0';
}

static void test_pool(void **state)
{
	static const size_t sizes[] = { 0, 1, 15, 16, 17, 100, 8191, 8192, 8193, 70000, 3 };
	char log[8] = "";
	mark marks[] = { { log, 'a' }, { log, 'b' }, { log, 'c' }, { log, 'd' } };
	pn_pool *pool = pn_pool_new();
	size_t used = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		unsigned char *p = pn_pool_alloc(pool, sizes[i]);
		assert_non_null(p);
		assert_int_equal((uintptr_t)p % 16, 0);
		for (size_t j = 0; j < sizes[i]; j++)
			assert_int_equal(p[j], 0);
		memset(p, 0xa5, sizes[i]);
		used += (sizes[i] + 15) & ~(size_t)15;
		assert_int_equal(pn_pool_used(pool), used);
	}
	assert_string_equal(pn_pool_strdup(pool, "abc"), "abc");
	assert_string_equal(pn_pool_strndup(pool, "abcdef", 4), "abcd");
	assert_memory_equal(pn_pool_memdup(pool, "\0x\0", 3), "\0x\0", 3);
	assert_string_equal(pn_pool_printf(pool, "%s:%ld", "host", 42L), "host:42");
	{
		ProtobufCAllocator *a = pn_pool_allocator(pool);
		void *p = a->alloc(a->allocator_data, 40);
		assert_non_null(p);
		a->free(a->allocator_data, p);      /* a no-op: the pool owns it */
	}
	for (size_t i = 0; i < 4; i++)
		pn_pool_on_destroy(pool, record, &marks[i]);
	/* one run now is not run again, nor is one never registered */
	assert_int_equal(pn_pool_run_now(pool, record, &marks[1]), 1);
	assert_string_equal(log, "b");
	assert_int_equal(pn_pool_run_now(pool, record, &marks[1]), 0);
	assert_int_equal(pn_pool_run_now(pool, record, log), 0);
	assert_string_equal(log, "b");
	pn_pool_destroy(&pool);
	assert_null(pool);
	assert_string_equal(log, "bdca");       /* each once, last in first out */
	pn_pool_destroy(&pool);                 /* NULL-tolerant */
	pn_pool_destroy(NULL);
}

/* Random sizes into one pool: every block aligned, zeroed, and apart from the others. */
static void test_pool_fuzz(void **state)
{
	unsigned int seed = ts_fuzz_seed("mem");
	pn_pool *pool = pn_pool_new();
	unsigned char **blocks = calloc(FUZZ_ROUNDS, sizeof(*blocks));
	size_t *lens = calloc(FUZZ_ROUNDS, sizeof(*lens));

	(void)state;
	assert_non_null(blocks);
	assert_non_null(lens);
	for (size_t i = 0; i < FUZZ_ROUNDS; i++) {
		int r = rand_r(&seed);
		lens[i] = r % 8 == 0 ? (size_t)(r % 20000) : (size_t)(r % 300);
		blocks[i] = pn_pool_alloc(pool, lens[i]);
		assert_int_equal((uintptr_t)blocks[i] % 16, 0);
		for (size_t j = 0; j < lens[i]; j++)
			assert_int_equal(blocks[i][j], 0);
		memset(blocks[i], (int)(i & 0xff), lens[i]);
	}
	for (size_t i = 0; i < FUZZ_ROUNDS; i++)
		for (size_t j = 0; j < lens[i]; j++)
			assert_int_equal(blocks[i][j], (int)(i & 0xff));
	pn_pool_destroy(&pool);
	free(blocks);
	free(lens);
}

#ifndef __SANITIZE_ADDRESS__
/* big_block - a thread's 10 MB block, written and freed */
static void *big_block(void *arg)
{
	size_t n = 10UL * 1024 * 1024;
	char *p = malloc(n);

	(void)arg;
	if (p) {
		memset(p, 2, n);
		free(p);
	}
	return p ? arg : NULL;
}

/* heaps - how many arenas malloc_info(3) reports */
static int heaps(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int n = 0;

	assert_non_null(f);
	assert_int_equal(malloc_info(0, f), 0);
	fclose(f);
	for (const char *s = text; (s = strstr(s, "<heap nr=")) != NULL; s++)
		n++;
	free(text);
	return n;
}
#endif

/*
 * test_mem_tune - after pn_mem_tune a 10 MB block comes from the heap, not
 * a mapping of its own, and the same memory serves the next one; a thread's
 * block comes from that heap too, not an arena of its own (under
 * AddressSanitizer, whose allocator is not glibc's, there is nothing to tune)
 */
static void test_mem_tune(void **state)
{
	(void)state;
	assert_int_equal(pn_mem_tune(1), 0);
#ifndef __SANITIZE_ADDRESS__
	{
		size_t n = 10UL * 1024 * 1024;
		struct mallinfo2 before = mallinfo2(), during;
		char *p = malloc(n), *q;

		assert_non_null(p);
		memset(p, 1, n);
		during = mallinfo2();
		assert_true(during.hblkhd == before.hblkhd);     /* no new mapping */
		assert_true(during.uordblks >= before.uordblks + n);
		free(p);
		q = malloc(n);
		assert_non_null(q);
		assert_true(mallinfo2().hblkhd == before.hblkhd);
		free(q);
	}
	{
		pthread_t t;
		int arg = 0;
		void *ok = NULL;

		assert_int_equal(pthread_create(&t, NULL, big_block, &arg), 0);
		assert_int_equal(pthread_join(t, &ok), 0);
		assert_ptr_equal(ok, &arg);
		assert_int_equal(heaps(), 1);
	}
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_asprintf),
		cmocka_unit_test(test_dup),
		cmocka_unit_test(test_wipe),
		cmocka_unit_test(test_pool),
		cmocka_unit_test(test_pool_fuzz),
		cmocka_unit_test(test_mem_tune),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
