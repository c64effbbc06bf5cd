#include "stsm_wipe.h"

#include <stdint.h>

void stsm_wipe(void *p, size_t len)
{
    /* Stores through a volatile pointer are observable behaviour, so each one stays. */
    volatile uint8_t *v = p;
    while (len-- > 0) {
        *v++ = 0;
    }
}
