/*
 * UTF-8 (RFC 3629) validation, shared by the message and settings checks.
 */
#ifndef STSM_UTF8_H
#define STSM_UTF8_H

#include <stddef.h>
#include <stdint.h>

/**
 * Length (1 to 4) of the UTF-8 sequence that starts at s[0], reading at most `left`
 * bytes (left >= 1); 0 when it is not valid UTF-8: a stray continuation byte, a cut
 * sequence, an overlong form, a surrogate, or a code point above U+10FFFF.
 */
size_t stsm_utf8_sequence(const uint8_t *s, size_t left);

#endif /* STSM_UTF8_H */
