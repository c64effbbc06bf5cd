/* IPv4 addresses in dotted-quad text, as people write them in settings and options. */
#ifndef STSM_IPV4_H
#define STSM_IPV4_H

#include <stdbool.h>
#include <stdint.h>

/**
 * Parses "A.B.C.D" (four decimal numbers 0..255 of at most three digits, no signs or
 * spaces) into `octets`. With `prefix_len` non-NULL the text must be "A.B.C.D/N" with N
 * in 1..32; with it NULL a prefix is an error. Returns false on any deviation.
 */
bool stsm_ipv4_parse(const char *text, uint8_t octets[4], uint8_t *prefix_len);

/** The netmask of a prefix length (1..32; more counts as 32), in host byte order. */
uint32_t stsm_ipv4_netmask(uint8_t prefix_len);

#endif /* STSM_IPV4_H */
