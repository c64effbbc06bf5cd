#include "stsm_wipe.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* No early exit: the loop ORs every byte, which the compiler can do a word at a time. */
static bool all_zero(const uint8_t *p, size_t len)
{
    uint8_t any = 0;
    for (size_t i = 0; i < len; i++) {
        any |= p[i];
    }
    return any == 0;
}

/* Calls clear(start, n) for each block of [p, p + len) that is not all zero. Blocks are
 * aligned to STSM_ZERO_BLOCK in the address space, so one block is one page on a host. */
static void clear_dirty_blocks(void *p, size_t len, void (*clear)(uint8_t *, size_t))
{
    uint8_t *at = p;
    while (len > 0) {
        size_t to_edge = STSM_ZERO_BLOCK - (size_t)((uintptr_t)at % STSM_ZERO_BLOCK);
        size_t n = len < to_edge ? len : to_edge;
        if (!all_zero(at, n)) {
            clear(at, n);
        }
        at += n;
        len -= n;
    }
}

static void volatile_clear(uint8_t *p, size_t len)
{
    /* Stores through a volatile pointer are observable behaviour, so each one stays. */
    volatile uint8_t *v = p;
    while (len-- > 0) {
        *v++ = 0;
    }
}

static void plain_clear(uint8_t *p, size_t len)
{
    memset(p, 0, len);
}

void stsm_wipe(void *p, size_t len)
{
    clear_dirty_blocks(p, len, volatile_clear);
}

void stsm_zero(void *p, size_t len)
{
    clear_dirty_blocks(p, len, plain_clear);
}
