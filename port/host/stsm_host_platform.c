/* Host simulation platform hooks: monotonic time and randomness from the Linux kernel. */
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <time.h>
#include <sys/random.h>

#include "lwip/sys.h"
#include "stsm_port.h"

u32_t sys_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (u32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

uint32_t stsm_port_random_u32(void)
{
    uint32_t value;
    /* getrandom() on a 4-byte request never returns short once the pool is seeded; a
     * failure means the kernel has no randomness, and guessable IDs are not an option. */
    if (getrandom(&value, sizeof value, 0) != (ssize_t)sizeof value) {
        fprintf(stderr, "stsmail: getrandom failed; refusing to run without randomness\n");
        abort();
    }
    return value;
}
