#include <stdint.h>

#include "stsm_mcu.h"

#define SYS_EXIT_EXTENDED           0x20u
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u

void stsm_mcu_exit(int status)
{
    /* SYS_EXIT_EXTENDED takes (reason, status) so the status survives on 32-bit Arm. */
    volatile uint32_t block[2] = { ADP_STOPPED_APPLICATION_EXIT, (uint32_t)status };
    register uint32_t op __asm__("r0") = SYS_EXIT_EXTENDED;
    register volatile uint32_t *arg __asm__("r1") = block;
    __asm__ volatile("bkpt 0xab" : : "r"(op), "r"(arg) : "memory");
    for (;;) {
        __asm__ volatile("wfi");
    }
}
