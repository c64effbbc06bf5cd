/* The firmware's rules for SNTP answers (port/cortex-m/stsm_mcu_clock.c): never before
 * the build time or the floor kept in flash, never backwards on a known clock, and a large
 * step back makes the clock unknown. One case a line. */
#include "stsm_check.h"
#include "stsm_mcu_clock.h"

#define BUILD 1796000000u   /* the floor: build time or stored, whichever is later */
#define NOW   1800000000u

int main(void)
{
    static const struct {
        const char *intent;
        bool known;
        uint32_t now, floor, offered;
        enum stsm_mcu_clock_verdict want;
    } cases[] = {
        { "first answer after the floor is taken", false, 0, BUILD, NOW, STSM_MCU_CLOCK_SET },
        { "first answer exactly at the floor is taken", false, 0, BUILD, BUILD, STSM_MCU_CLOCK_SET },
        { "first answer a second before the floor is refused", false, 0, BUILD, BUILD - 1,
          STSM_MCU_CLOCK_REFUSE },
        { "an answer of 1970 is refused", false, 0, BUILD, 0, STSM_MCU_CLOCK_REFUSE },
        { "an answer before a stored floor in the future is refused", false, 0, NOW + 86400, NOW,
          STSM_MCU_CLOCK_REFUSE },
        { "a known clock steps forward", true, NOW, BUILD, NOW + 3600, STSM_MCU_CLOCK_SET },
        { "the same time again changes nothing", true, NOW, BUILD, NOW, STSM_MCU_CLOCK_KEEP },
        { "a small step back is ignored, not applied", true, NOW, BUILD, NOW - 10, STSM_MCU_CLOCK_KEEP },
        { "a step back of exactly the limit is ignored", true, NOW, BUILD, NOW - STSM_MCU_CLOCK_BACK_MAX_S,
          STSM_MCU_CLOCK_KEEP },
        { "a step back beyond the limit makes the clock unknown", true, NOW, BUILD,
          NOW - STSM_MCU_CLOCK_BACK_MAX_S - 1, STSM_MCU_CLOCK_UNKNOWN },
        { "a jump back by a year makes the clock unknown", true, NOW, BUILD, NOW - 31536000u,
          STSM_MCU_CLOCK_UNKNOWN },
        { "a jump back to 1970 makes the clock unknown", true, NOW, BUILD, 0, STSM_MCU_CLOCK_UNKNOWN },
        { "no overflow near the end of u32 time", true, 0xFFFFFF00u, BUILD, 0xFFFFFFF0u, STSM_MCU_CLOCK_SET },
        { "a known clock below the limit itself", true, 100, 0, 0, STSM_MCU_CLOCK_KEEP },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_CASE(cases[i].intent);
        CHECK_INT(stsm_mcu_clock_judge(cases[i].known, cases[i].now, cases[i].floor, cases[i].offered),
                  cases[i].want);
    }
    return stsm_check_summary("test_mcu_clock");
}
