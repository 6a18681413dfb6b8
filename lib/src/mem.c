/*
 * mem.c - allocation wrappers that abort instead of returning NULL, secret
 * wiping, and the request pool (an arena freed in one go).
 *
 * Running out of memory is not an error a mail server can handle request by
 * request: it logs and aborts, and Kubernetes restarts it. Everything that
 * is acked is already durable, so nothing is lost.
 */
#include <malloc.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "postern/log.h"
#include "postern/mem.h"

/* oom - the one way out when memory runs out */
static void oom(size_t size)
{
	pn_fatalx("msg=\"out of memory\" size=%zu", size);
}

void *pn_malloc(size_t size)
{
	void *p = malloc(size ? size : 1);
	if (!p)
		oom(size);
	return p;
}

void *pn_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom(n * size);
	return p;
}

void *pn_realloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size ? size : 1);
	if (!p)
		oom(size);
	return p;
}

char *pn_strdup(const char *s)
{
	return pn_memdup(s, strlen(s) + 1);
}

char *pn_strndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = pn_malloc(len + 1);
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

void *pn_memdup(const void *src, size_t n)
{
	void *p = pn_malloc(n);
	if (n)
		memcpy(p, src, n);
	return p;
}

/* pn_vasprintf - vsnprintf twice: measure, then write into a block of that size */
char *pn_vasprintf(const char *fmt, va_list ap)
{
	va_list aq;
	int n;
	char *s;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0)          /* over INT_MAX bytes, or a wide character that does not convert */
		pn_fatal("msg=\"vsnprintf failed\"");
	s = pn_malloc((size_t)n + 1);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	return s;
}

/* pn_asprintf - asprintf(3) that succeeds or does not return */
char *pn_asprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = pn_vasprintf(fmt, ap);
	va_end(ap);
	return s;
}

void pn_free_ptr(void **pp)
{
	if (pp && *pp) {
		free(*pp);
		*pp = NULL;
	}
}

void pn_wipe(void *p, size_t n)
{
	if (p && n)
		sodium_memzero(p, n);
}

void pn_wipe_free(char **s)
{
	if (s && *s) {
		pn_wipe(*s, strlen(*s));
		pn_free(s);
	}
}

/*
 * The pool: a list of chunks, each at least POOL_CHUNK bytes; large
 * allocations get a chunk of their own. Cleanups run LIFO at destroy.
 */
#define POOL_CHUNK 8192
#define POOL_ALIGN 16

struct pool_chunk {
	struct pool_chunk *next;
	size_t size, used;
	_Alignas(POOL_ALIGN) unsigned char data[];
};

struct pool_cleanup {
	struct pool_cleanup *next;
	void (*fn)(void *);
	void *arg;
};

struct pn_pool {
	struct pool_chunk *chunks;
	struct pool_cleanup *cleanups;
	size_t total;
	ProtobufCAllocator allocator;
};

static void *pool_pb_alloc(void *data, size_t size)
{
	return pn_pool_alloc(data, size);
}

static void pool_pb_free(void *data, void *ptr)
{
	(void)data;
	(void)ptr;          /* released with the pool */
}

pn_pool *pn_pool_new(void)
{
	pn_pool *pool = pn_calloc(1, sizeof(*pool));
	pool->allocator.alloc = pool_pb_alloc;
	pool->allocator.free = pool_pb_free;
	pool->allocator.allocator_data = pool;
	return pool;
}

void pn_pool_destroy(pn_pool **poolp)
{
	pn_pool *pool = poolp ? *poolp : NULL;
	if (!pool)
		return;
	*poolp = NULL;
	while (pool->cleanups) {
		struct pool_cleanup *c = pool->cleanups;
		pool->cleanups = c->next;
		c->fn(c->arg);
		free(c);
	}
	while (pool->chunks) {
		struct pool_chunk *c = pool->chunks;
		pool->chunks = c->next;
		pn_wipe(c->data, c->used);   /* requests carry plaintext mail */
		free(c);
	}
	free(pool);
}

void *pn_pool_alloc(pn_pool *pool, size_t size)
{
	size_t need = (size + POOL_ALIGN - 1) & ~(size_t)(POOL_ALIGN - 1);
	struct pool_chunk *c = pool->chunks;

	if (need < size)
		oom(size);
	if (!c || c->size - c->used < need) {
		size_t csize = need > POOL_CHUNK ? need : POOL_CHUNK;
		if (csize > SIZE_MAX - sizeof(*c))
			oom(size);
		c = pn_malloc(sizeof(*c) + csize);
		c->size = csize;
		c->used = 0;
		/* a big one-off chunk goes second so the current chunk keeps serving */
		if (need > POOL_CHUNK && pool->chunks) {
			c->next = pool->chunks->next;
			pool->chunks->next = c;
		} else {
			c->next = pool->chunks;
			pool->chunks = c;
		}
	}
	void *p = c->data + c->used;
	c->used += need;
	pool->total += need;
	memset(p, 0, need);
	return p;
}

char *pn_pool_strdup(pn_pool *pool, const char *s)
{
	return pn_pool_memdup(pool, s, strlen(s) + 1);
}

char *pn_pool_strndup(pn_pool *pool, const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = pn_pool_alloc(pool, len + 1);
	memcpy(p, s, len);
	return p;
}

void *pn_pool_memdup(pn_pool *pool, const void *src, size_t n)
{
	void *p = pn_pool_alloc(pool, n);
	if (n)
		memcpy(p, src, n);
	return p;
}

char *pn_pool_printf(pn_pool *pool, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return pn_pool_strdup(pool, "");
	char *p = pn_pool_alloc(pool, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

void pn_pool_on_destroy(pn_pool *pool, void (*fn)(void *), void *arg)
{
	struct pool_cleanup *c = pn_malloc(sizeof(*c));
	c->fn = fn;
	c->arg = arg;
	c->next = pool->cleanups;
	pool->cleanups = c;
}

int pn_pool_run_now(pn_pool *pool, void (*fn)(void *), void *arg)
{
	for (struct pool_cleanup **cp = &pool->cleanups; *cp; cp = &(*cp)->next) {
		struct pool_cleanup *c = *cp;

		if (c->fn == fn && c->arg == arg) {
			*cp = c->next;
			free(c);
			fn(arg);
			return 1;
		}
	}
	return 0;
}

size_t pn_pool_used(const pn_pool *pool)
{
	return pool->total;
}

ProtobufCAllocator *pn_pool_allocator(pn_pool *pool)
{
	return &pool->allocator;
}

/* pn_mem_tune - large blocks from the heap (one for every thread), reused, not fresh pages */
int pn_mem_tune(int one_heap)
{
#ifdef __SANITIZE_ADDRESS__
	(void)one_heap;
	return 0;       /* AddressSanitizer's allocator is its own: nothing of glibc's to set */
#else
	if (!mallopt(M_MMAP_THRESHOLD, (int)PN_MEM_MMAP_MAX) ||
	    !mallopt(M_TRIM_THRESHOLD, (int)PN_MEM_TRIM) ||
	    (one_heap && !mallopt(M_ARENA_MAX, 1)))
		return -1;
	return 0;
#endif
}
