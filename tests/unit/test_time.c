/* Calendar conversion: epoch, leap days, century rules, negative times, and the text. */
#include "stsm_check.h"
#include "stsm_time.h"

int main(void)
{
    static const struct {
        int64_t t;
        const char *text;
        int weekday;
    } cases[] = {
        { 0, "1970-01-01 00:00:00 UTC", 4 },
        { -1, "1969-12-31 23:59:59 UTC", 3 },
        { 951782400, "2000-02-29 00:00:00 UTC", 2 },
        { 951868800, "2000-03-01 00:00:00 UTC", 3 },
        { 4107542400, "2100-03-01 00:00:00 UTC", 1 },   /* 2100 is not a leap year */
        { 4133980799, "2100-12-31 23:59:59 UTC", 5 },
        { 1796025942, "2026-11-30 08:05:42 UTC", 1 },
        { 253402300799, "9999-12-31 23:59:59 UTC", 5 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_CASE(cases[i].text);
        char out[24];
        stsm_time_format_utc(cases[i].t, out);
        CHECK_STR(out, cases[i].text);
        struct stsm_civil_time c;
        stsm_time_civil(cases[i].t, &c);
        CHECK(c.weekday == cases[i].weekday);
    }
    return stsm_check_summary("test_time");
}
