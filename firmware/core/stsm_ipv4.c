#include "stsm_ipv4.h"

#include <stddef.h>

/* Reads 1..3 digits at *p up to `max`; advances *p. */
static bool read_number(const char **p, unsigned max, unsigned *value)
{
    unsigned v = 0, digits = 0;
    while (**p >= '0' && **p <= '9' && digits < 3) {
        v = v * 10u + (unsigned)(**p - '0');
        (*p)++;
        digits++;
    }
    if (digits == 0 || v > max || (**p >= '0' && **p <= '9')) {
        return false;
    }
    *value = v;
    return true;
}

bool stsm_ipv4_parse(const char *text, uint8_t octets[4], uint8_t *prefix_len)
{
    const char *p = text;
    uint8_t out[4];
    for (int i = 0; i < 4; i++) {
        unsigned v;
        if (!read_number(&p, 255, &v)) {
            return false;
        }
        out[i] = (uint8_t)v;
        if (i < 3 && *p++ != '.') {
            return false;
        }
    }
    if (prefix_len != NULL) {
        unsigned n;
        if (*p++ != '/' || !read_number(&p, 32, &n) || n == 0) {
            return false;
        }
        *prefix_len = (uint8_t)n;
    }
    if (*p != '\0') {
        return false;
    }
    for (int i = 0; i < 4; i++) {
        octets[i] = out[i];
    }
    return true;
}

uint32_t stsm_ipv4_netmask(uint8_t prefix_len)
{
    return prefix_len >= 32 ? 0xffffffffu : ~(0xffffffffu >> prefix_len);
}
