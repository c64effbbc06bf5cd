/* Base64 (RFC 4648) encoding, for SMTP AUTH. */
#ifndef STSM_BASE64_H
#define STSM_BASE64_H

#include <stddef.h>
#include <stdint.h>

/** Bytes needed to encode `len` bytes (without a NUL). */
#define STSM_BASE64_LEN(len) ((((len) + 2) / 3) * 4)

/** Encodes `len` bytes into `out`, which must hold STSM_BASE64_LEN(len) bytes; returns
 *  that length. No NUL is written. */
size_t stsm_base64_encode(const uint8_t *in, size_t len, char *out);

#endif /* STSM_BASE64_H */
