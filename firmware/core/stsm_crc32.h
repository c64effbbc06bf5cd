/* CRC-32 (IEEE 802.3, reflected, the zlib one) for integrity checks of stored records. */
#ifndef STSM_CRC32_H
#define STSM_CRC32_H

#include <stddef.h>
#include <stdint.h>

/** CRC of `n` bytes, continuing from `crc` (start with 0). */
uint32_t stsm_crc32(uint32_t crc, const uint8_t *p, size_t n);

#endif /* STSM_CRC32_H */
