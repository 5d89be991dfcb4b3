/* The two clocks the C core reads, in seconds as doubles. */
#ifndef PULSE_CLOCK_H
#define PULSE_CLOCK_H

/* Since an arbitrary point; never steps back: for waits and durations. */
double clock_monotonic(void);

/* Since the Unix epoch: for dates the server sends (Retry-After). */
double clock_epoch(void);

#endif
