/*
 * Reset and exception vectors of a Cortex-M3 board (mps2-an385, lm3s6965evb).
 * The reset handler copies .data, clears .bss, runs constructors and calls main(); its
 * return value leaves QEMU as the exit status through semihosting.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "stsm_mcu.h"
#include "stsm_mcu_text.h"

extern uint32_t __data_load, __data_start, __data_end, __bss_start, __bss_end, __stack_top, __stack_limit;
extern uint8_t end[], __heap_limit[];

#define STACK_PAINT 0x5AC3A53Cu   /* fills the unused stack so its high-water mark shows */
extern void (*__init_array_start[])(void);
extern void (*__init_array_end[])(void);
extern int main(void);

void stsm_reset_handler(void);
void stsm_fault_handler(void);

void stsm_reset_handler(void)
{
    /* newlib's memcpy and memset use no static data: safe before .data and .bss are set. */
    memcpy(&__data_start, &__data_load, (size_t)((uint8_t *)&__data_end - (uint8_t *)&__data_start));
    memset(&__bss_start, 0, (size_t)((uint8_t *)&__bss_end - (uint8_t *)&__bss_start));
    uint32_t *sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    for (uint32_t *w = &__stack_limit; w < sp - 16; w++) {
        *w = STACK_PAINT;
    }
    for (void (**ctor)(void) = __init_array_start; ctor < __init_array_end; ctor++) {
        (*ctor)();
    }
    stsm_mcu_exit(main());
}

size_t stsm_mcu_stack_peak(void)
{
    const uint32_t *w = &__stack_limit;
    while (w < &__stack_top && *w == STACK_PAINT) {
        w++;
    }
    return (size_t)((const uint8_t *)&__stack_top - (const uint8_t *)w);
}

/* newlib's heap (malloc, which the firmware does not call, but parts of newlib may) starts
 * at the end of the static data, and libnosys's sbrk grows it without a limit: here it
 * stops at the board's __heap_limit (at most the stack's reserve; the linker script keeps
 * HEAP_MIN bytes for it), so a stray allocation fails (NULL) instead of writing into the
 * painted stack. */
void *_sbrk(ptrdiff_t incr);
void *_sbrk(ptrdiff_t incr)
{
    static uint8_t *brk = end;
    if (incr < 0 || incr > __heap_limit - brk) {
        return (void *)-1;
    }
    uint8_t *prev = brk;
    brk += incr;
    return prev;
}

/* Any fault or unexpected interrupt is a firmware bug: report where it happened (the
 * exception number, the faulting PC and LR from the stacked frame, and the fault status
 * registers) and stop with a status the test harness cannot mistake for success. */
void stsm_fault_report(const uint32_t *frame, uint32_t ipsr);
void stsm_fault_report(const uint32_t *frame, uint32_t ipsr)
{
    volatile const uint32_t *scb = (volatile const uint32_t *)0xE000ED28u;   /* CFSR, HFSR, .., MMFAR, BFAR */
    stsm_mcu_say(STSM_TEXT("FAULT: exception %u at pc 0x%08lx lr 0x%08lx sp 0x%08lx cfsr 0x%08lx hfsr 0x%08lx "
                           "bfar 0x%08lx", (unsigned)(ipsr & 0x1ffu), (unsigned long)frame[6],
                           (unsigned long)frame[5], (unsigned long)(uintptr_t)frame, (unsigned long)scb[0],
                           (unsigned long)scb[1], (unsigned long)scb[4]));
    stsm_mcu_exit(STSM_MCU_EXIT_FAULT);
}

/* Picks the stack the exception frame was pushed on, then reports from C. */
__attribute__((naked)) void stsm_fault_handler(void)
{
    __asm__ volatile("tst lr, #4\n"
                     "ite eq\n"
                     "mrseq r0, msp\n"
                     "mrsne r0, psp\n"
                     "mrs r1, ipsr\n"
                     "b stsm_fault_report\n");
}

/* The core's exceptions only: no peripheral interrupt is ever enabled (every driver is
 * polled, and the NVIC leaves them all disabled from reset), so none can be taken and the
 * table needs no entry for one. */
#define CORE_VECTORS 16

__attribute__((section(".vectors"), used))
static void (*const vector_table[CORE_VECTORS])(void) = {
    [0] = (void (*)(void))&__stack_top,
    [1] = stsm_reset_handler,
    [2 ... 14] = stsm_fault_handler,
    [15] = stsm_mcu_systick_handler,
};
