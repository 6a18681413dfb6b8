/*
 * clock.c - the monotonic milliseconds and the whole sleep of clock.h,
 * written once for the library (pg.c's reconnect back-off, the
 * watchdog) and the test harness.
 */
#include <errno.h>
#include <time.h>

#include "postern/clock.h"

long long pn_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void pn_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}
