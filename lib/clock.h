/* clock: monotonic and wall-clock time in milliseconds. */
#ifndef CLOCK_H
#define CLOCK_H

#include <stdint.h>

/* Milliseconds of CLOCK_MONOTONIC: for deadlines and durations. */
int64_t clock_mono_ms(void);

/* Microseconds of CLOCK_MONOTONIC. */
int64_t clock_mono_us(void);

/* Milliseconds since the Unix epoch: for timestamps. */
int64_t clock_wall_ms(void);

enum { CLOCK_ISO_MAX = 32 };

/* Formats epoch milliseconds as "2026-11-29T08:30:00.123Z" into out. */
void clock_iso8601(int64_t epoch_ms, char out[CLOCK_ISO_MAX]);

#endif
