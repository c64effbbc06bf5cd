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

#endif /* LWIPOPTS_H */
