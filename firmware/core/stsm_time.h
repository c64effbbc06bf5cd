/* Calendar dates from Unix time, without the C library (newlib-nano's gmtime and its
 * printf lack 64-bit support on the firmware). Proleptic Gregorian, UTC. */
#ifndef STSM_TIME_H
#define STSM_TIME_H

#include <stddef.h>
#include <stdint.h>

struct stsm_civil_time {
    int year, month, day;            /**< month 1..12, day 1..31 */
    int hour, minute, second;
    int weekday;                     /**< 0 Sunday .. 6 Saturday */
};

/** The UTC calendar date and time of `t` seconds since 1970 (negative allowed). */
void stsm_time_civil(int64_t t, struct stsm_civil_time *c);

/** Writes "YYYY-MM-DD hh:mm:ss UTC" (23 characters and a NUL) into `out`. */
void stsm_time_format_utc(int64_t t, char out[24]);

#endif /* STSM_TIME_H */
