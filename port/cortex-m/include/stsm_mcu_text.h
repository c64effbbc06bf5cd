/*
 * Console lines of the Cortex-M images as texts (stsm_text.h: ids on the boards, which
 * `stsmail decode-log --elf` turns back into prose). Apart from stsm_mcu.h because lwIP's
 * arch/cc.h includes that one, and lwIP builds without our core's headers.
 */
#ifndef STSM_MCU_TEXT_H
#define STSM_MCU_TEXT_H

#include <stdint.h>

#include "stsm_text.h"

/** Writes one console line from a marked text (STSM_TEXT) and a newline; a text longer
 *  than the line (159 bytes) is cut. */
STSM_TEXT_PRINTF(1, 2)
void STSM_TEXT_WORDS(stsm_mcu_say)(STSM_TEXT_PARAMS, ...);
STSM_TEXT_SPLIT(stsm_mcu_say, ());

/** Room stsm_mcu_time_text() needs: "2026-12-01 03:07:34 UTC" and its NUL (23 bytes and
 *  one), with the room printf's checks want for fields they cannot bound. */
#define STSM_MCU_TIME_TEXT 32u

/** Writes Unix time `t` as "YYYY-MM-DD hh:mm:ss UTC" into `out`. */
void stsm_mcu_time_text(uint32_t t, char out[STSM_MCU_TIME_TEXT]);

#endif /* STSM_MCU_TEXT_H */
