/* lwIP options for the mps2-an385 firmware (Cortex-M3, 4 MiB RAM, LAN9118). */
#ifndef LWIPOPTS_H
#define LWIPOPTS_H

#include <stdint.h>

#include "stsm_lwipopts_common.h"

#define MEM_ALIGNMENT               4
#define MEM_SIZE                    (16 * 1024)
#define MEMP_NUM_TCP_PCB            4
#define MEMP_NUM_UDP_PCB            6
#define PBUF_POOL_SIZE              12

/* Wall clock from SNTP (lwIP's sntp app), the server learned from DHCP option 42. */
#define LWIP_DHCP_GET_NTP_SRV       1
#define SNTP_SERVER_DNS             0
#define SNTP_STARTUP_DELAY          0
#define SNTP_SET_SYSTEM_TIME(sec)   stsm_mps2_set_wall_clock((uint32_t)(sec))
void stsm_mps2_set_wall_clock(uint32_t unix_seconds);

/* SNTP answers are not authenticated; take only those that answer our own request: from
 * the server asked, port 123 (level 1), echoing our transmit timestamp (level 2; lwIP 2.2
 * implements nothing above 2). Without round-trip compensation lwIP reads the "system
 * time" only to fill that transmit timestamp, which the server merely echoes: it is 64
 * random bits, a nonce an off-path forger must guess, and it tells the network nothing
 * about our clock. The time itself is then checked against the device's clock floor
 * (stsm_mps2_set_wall_clock). */
#define SNTP_CHECK_RESPONSE         2
#define SNTP_COMP_ROUNDTRIP         0
#define SNTP_GET_SYSTEM_TIME_NTP(sec, frac) \
    do { (sec) = (s32_t)stsm_port_random_u32(); (frac) = stsm_port_random_u32(); } while (0)
uint32_t stsm_port_random_u32(void);

#endif /* LWIPOPTS_H */
