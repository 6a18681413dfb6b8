/*
 * mem.h - allocation that succeeds or does not return, and request pools.
 *
 * As in Postfix's mymalloc: a call either succeeds or the process logs and
 * aborts. Callers never test for NULL.
 *
 * A pn_pool is an arena: many small allocations, one free. Each bus request
 * gets one; the request is unpacked into it and the reply is built in it,
 * so a handler never frees anything it put into a reply.
 */
#ifndef POSTERN_MEM_H
#define POSTERN_MEM_H

#include <stdarg.h>
#include <stddef.h>
#include <protobuf-c/protobuf-c.h>

void *pn_malloc(size_t size);
void *pn_calloc(size_t n, size_t size);
void *pn_realloc(void *ptr, size_t size);
char *pn_strdup(const char *s);
char *pn_strndup(const char *s, size_t n);
void *pn_memdup(const void *p, size_t n);
/* pn_asprintf - a formatted string in pn_malloc'd memory (caller frees) */
char *pn_asprintf(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
/* pn_vasprintf - pn_asprintf with a va_list (ap is consumed) */
char *pn_vasprintf(const char *fmt, va_list ap)
	__attribute__((format(printf, 1, 0)));
/* pn_free - free(3) that takes a pointer to the pointer and clears it */
void pn_free_ptr(void **pp);
#define pn_free(pp) pn_free_ptr((void **)(pp))
/* pn_wipe - zero memory in a way the compiler cannot drop */
void pn_wipe(void *p, size_t n);
/* pn_wipe_free - wipe strlen(*s) bytes of a secret string and free it */
void pn_wipe_free(char **s);

/*
 * pn_mem_tune - keep large blocks in the process. glibc maps fresh pages
 * for every block over 128 KB and unmaps them on free, and the kernel
 * zeroes each page on first touch: a 10 MB mail cost ~2,500 page faults
 * and 10 MB of zeroing per copy, in every service it crossed. With this,
 * blocks up to PN_MEM_MMAP_MAX come from the heap and are reused, and the
 * heap keeps up to PN_MEM_TRIM of free memory at its top. With one_heap,
 * every thread allocates from that one heap (M_ARENA_MAX 1): ZeroMQ's I/O
 * thread encrypts a 10 MB frame into blocks the worker freed a moment
 * before, instead of keeping an arena of its own as large again. A
 * process whose many threads allocate at once (the web UI's) keeps an
 * arena per thread: one heap made its pages a fifth slower. Every daemon
 * calls it at start (pn_service_main), before any thread starts. -1 if
 * glibc refused a setting.
 */
#define PN_MEM_MMAP_MAX (32UL * 1024 * 1024)
#define PN_MEM_TRIM (64UL * 1024 * 1024)
int pn_mem_tune(int one_heap);

typedef struct pn_pool pn_pool;

pn_pool *pn_pool_new(void);
void pn_pool_destroy(pn_pool **pool);          /* NULL-tolerant */
void *pn_pool_alloc(pn_pool *pool, size_t size);  /* zeroed, 16-aligned */
char *pn_pool_strdup(pn_pool *pool, const char *s);
char *pn_pool_strndup(pn_pool *pool, const char *s, size_t n);
void *pn_pool_memdup(pn_pool *pool, const void *p, size_t n);
char *pn_pool_printf(pn_pool *pool, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* pn_pool_on_destroy - run fn(arg) when the pool is destroyed (LIFO) */
void pn_pool_on_destroy(pn_pool *pool, void (*fn)(void *), void *arg);
/*
 * pn_pool_run_now - run a cleanup pn_pool_on_destroy registered (the same
 * fn and arg) now instead, once: 1, or 0 when there is none
 */
int pn_pool_run_now(pn_pool *pool, void (*fn)(void *), void *arg);
/* bytes handed out so far: the bound a caller checks against */
size_t pn_pool_used(const pn_pool *pool);
/* pn_pool_allocator - a protobuf-c allocator backed by the pool (free is a no-op) */
ProtobufCAllocator *pn_pool_allocator(pn_pool *pool);

#endif
