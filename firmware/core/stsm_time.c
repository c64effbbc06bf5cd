#include "stsm_time.h"

#include <stdio.h>
#include <string.h>

void stsm_time_civil(int64_t t, struct stsm_civil_time *c)
{
    /* Days to a civil date by eras of 400 years (146097 days), counted from 0000-03-01 so
     * that the leap day ends each year. */
    int64_t day = t >= 0 ? t / 86400 : (t - 86399) / 86400;
    int64_t secs = t - day * 86400;
    int64_t z = day + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    c->day = (int)(doy - (153 * mp + 2) / 5 + 1);
    c->month = (int)(mp < 10 ? mp + 3 : mp - 9);
    c->year = (int)(yoe + era * 400 + (c->month <= 2));
    c->hour = (int)(secs / 3600);
    c->minute = (int)(secs / 60 % 60);
    c->second = (int)(secs % 60);
    c->weekday = (int)(((day % 7) + 7 + 4) % 7);   /* 1970-01-01 was a Thursday */
}

void stsm_time_format_utc(int64_t t, char out[24])
{
    struct stsm_civil_time c;
    stsm_time_civil(t, &c);
    /* The fields are in range by construction; the compiler cannot see it, hence the
     * roomy buffer. Years past 9999 are cut to their last four digits. */
    char text[72];
    snprintf(text, sizeof text, "%04d-%02d-%02d %02d:%02d:%02d UTC", c.year % 10000, c.month, c.day, c.hour,
             c.minute, c.second);
    memcpy(out, text, 23);
    out[23] = '\0';
}
