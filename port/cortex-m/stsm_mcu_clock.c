#include "stsm_mcu_clock.h"

enum stsm_mcu_clock_verdict stsm_mcu_clock_judge(bool known, uint32_t now, uint32_t floor,
                                                   uint32_t offered)
{
    if (!known) {
        return offered < floor ? STSM_MCU_CLOCK_REFUSE : STSM_MCU_CLOCK_SET;
    }
    if ((uint64_t)offered + STSM_MCU_CLOCK_BACK_MAX_S < now) {
        return STSM_MCU_CLOCK_UNKNOWN;
    }
    /* A small step back is not applied: SNTP answers carry network delay, and stepping
     * back would let ages shrink. */
    return offered > now ? STSM_MCU_CLOCK_SET : STSM_MCU_CLOCK_KEEP;
}
