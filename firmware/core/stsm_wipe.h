/* Clearing memory that held a secret (passwords, AUTH lines, the settings text). */
#ifndef STSM_WIPE_H
#define STSM_WIPE_H

#include <stddef.h>

/**
 * Sets `len` bytes at `p` to zero in a way the compiler cannot drop: a plain memset of a
 * buffer that is not read again is a dead store and vanishes at -O2. The core does not
 * link Mbed TLS, whose mbedtls_platform_zeroize does the same.
 */
void stsm_wipe(void *p, size_t len);

#endif /* STSM_WIPE_H */
