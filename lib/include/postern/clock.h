/*
 * clock.h - the monotonic clock in milliseconds, and a sleep that a
 * signal does not cut short. Owns nothing; for deadlines, back-off and
 * the watchdog, never for dates (those are wall-clock time_t).
 */
#ifndef POSTERN_CLOCK_H
#define POSTERN_CLOCK_H

/* pn_mono_ms - CLOCK_MONOTONIC in milliseconds */
long long pn_mono_ms(void);
/* pn_sleep_ms - sleep ms milliseconds, restarting after signals */
void pn_sleep_ms(long ms);

#endif
