/*
 * The rules for taking a time from SNTP, whose answers are not authenticated: pure, so
 * the host's unit tests check them (tests/unit/test_mcu_clock.c).
 */
#ifndef STSM_MCU_CLOCK_H
#define STSM_MCU_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

/** A known clock moved back by more than this becomes unknown; less is ignored. */
#ifndef STSM_MCU_CLOCK_BACK_MAX_S
#define STSM_MCU_CLOCK_BACK_MAX_S 300u
#endif

enum stsm_mcu_clock_verdict {
    STSM_MCU_CLOCK_SET,       /**< take the offered time */
    STSM_MCU_CLOCK_KEEP,      /**< known clock, offered time a little behind it: ignored, so
                                    the clock (and every age measured on it) never goes back */
    STSM_MCU_CLOCK_REFUSE,    /**< unknown clock, offered time before the floor: ignored */
    STSM_MCU_CLOCK_UNKNOWN,   /**< known clock, offered time far behind it: one of the two is
                                    wrong, nothing says which, so the clock becomes unknown */
};

/**
 * Judges `offered` (Unix seconds) against the clock: `known` with its reading `now`, and
 * `floor`, the earliest believable time (the build time, the floor kept in flash).
 */
enum stsm_mcu_clock_verdict stsm_mcu_clock_judge(bool known, uint32_t now, uint32_t floor,
                                                   uint32_t offered);

#endif /* STSM_MCU_CLOCK_H */
