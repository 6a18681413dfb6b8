/*
 * backoff.c - the doubling delay of lock-outs and retries (throttle.h),
 * pure: in a file of its own so that mailstore's outbox, which needs the
 * arithmetic and no Redis, does not link hiredis through throttle.c.
 */
#include "postern/throttle.h"

/* pn_backoff - first, doubling from the after-th failure, capped */
long pn_backoff(long n, long after, long first, long cap)
{
	long d = first > 0 ? first : 1;

	if (n < after)
		return 0;
	if (cap < d)
		return cap > 0 ? cap : d;
	for (long i = after; i < n; i++) {
		if (d >= cap / 2)
			return cap;
		d *= 2;
	}
	return d;
}
