/* Clearing memory: secrets (passwords, AUTH lines, the settings text) and big structures
 * that start afresh. */
#ifndef STSM_WIPE_H
#define STSM_WIPE_H

#include <stddef.h>

/**
 * Sets `len` bytes at `p` to zero in a way the compiler cannot drop: a plain memset of a
 * buffer that is not read again is a dead store and vanishes at -O2. The core does not
 * link Mbed TLS, whose mbedtls_platform_zeroize does the same. Like stsm_zero(), it leaves
 * unwritten each block that reads as zero already.
 */
void stsm_wipe(void *p, size_t len);

/**
 * Sets `len` bytes at `p` to zero, writing only the blocks (aligned STSM_ZERO_BLOCK bytes)
 * that hold a non-zero byte. Afterwards the memory is all zero, as after memset; the
 * difference is that a static that is zero already (a fresh .bss object) is only read, and
 * on a host the pages of it that were never written stay out of the resident set (a read
 * maps the kernel's shared zero page). For clearing structures of many kilobytes.
 */
void stsm_zero(void *p, size_t len);

#define STSM_ZERO_BLOCK 4096u

#endif /* STSM_WIPE_H */
