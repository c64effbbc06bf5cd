#include "stsm_utf8.h"

size_t stsm_utf8_sequence(const uint8_t *s, size_t left)
{
    uint8_t b = s[0];
    size_t n = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
    if (n == 0 || n > left || (n == 2 && b < 0xC2) || (n == 4 && b > 0xF4)) {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0;
        }
    }
    if ((n == 3 && b == 0xE0 && s[1] < 0xA0) || (n == 3 && b == 0xED && s[1] >= 0xA0) ||
        (n == 4 && b == 0xF0 && s[1] < 0x90) || (n == 4 && b == 0xF4 && s[1] >= 0x90)) {
        return 0;   /* overlong, surrogate, or beyond U+10FFFF */
    }
    return n;
}
