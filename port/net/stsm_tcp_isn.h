/*
 * lwIP hook for TCP initial sequence numbers. lwIP includes this header through
 * LWIP_HOOK_FILENAME (see stsm_lwipopts_common.h).
 */
#ifndef STSM_TCP_ISN_H
#define STSM_TCP_ISN_H

#include "lwip/arch.h"
#include "lwip/ip_addr.h"

/**
 * TCP initial sequence numbers per RFC 6528: a 4-microsecond clock plus a keyed hash of
 * the connection's addresses and ports, so an off-path attacker cannot guess them and
 * inject into a connection (lwIP's default ISN is a plain counter). The key is drawn
 * from stsm_port_random_u32() on first use.
 */
u32_t stsm_tcp_isn(const ip_addr_t *local_ip, u16_t local_port, const ip_addr_t *remote_ip,
                   u16_t remote_port);

#endif /* STSM_TCP_ISN_H */
