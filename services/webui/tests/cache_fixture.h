/*
 * cache_fixture.h - what the tests of the web UI's session-bound caches
 * (the page cache, the message cache) share: two folder versions, a fixed
 * clock, a logged-in session made from a seed, and reading a cache entry
 * into a string.
 */
#ifndef POSTERN_WEB_CACHE_FIXTURE_H
#define POSTERN_WEB_CACHE_FIXTURE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../web_sess.h"
#include "../web_util.h"

#define VER_A "0123456789abcdef0123456789abcdef"
#define VER_B "fedcba9876543210fedcba9876543210"
#define NOW 1800000000L

/* sess - a logged-in session of mailbox mb with cookie bytes all seed */
static inline void sess(web_sess *s, uint8_t seed, int64_t mb)
{
	memset(s, 0, sizeof(*s));
	memset(s->c, seed, sizeof(s->c));
	s->have_cookie = 1;
	s->kind = WEB_SESS_AUTH;
	s->mailbox_id = mb;
}

/*
 * taken - after a cache's get answered rc into b: the text (caller frees)
 * on a hit, NULL on a miss, which must have appended nothing; b is freed
 */
static inline char *taken(web_buf *b, int rc)
{
	char *out = NULL;

	if (rc < 0)
		assert_int_equal(b->len, 0);
	else
		out = strdup(b->data);
	web_buf_free(b);
	return out;
}

#endif
