/*
 * What every platform port provides to lwIP and to stsmail. lwIP's own hook, sys_now(),
 * is declared by lwIP; the functions here are ours.
 */
#ifndef STSM_PORT_H
#define STSM_PORT_H

#include <stdint.h>

/**
 * Returns 32 random bits for lwIP's LWIP_RAND(): DNS transaction IDs and source ports,
 * TCP initial sequence numbers, DHCP transaction IDs. Must be unpredictable to an
 * off-path attacker (a CSPRNG, not rand()).
 */
uint32_t stsm_port_random_u32(void);

#endif /* STSM_PORT_H */
