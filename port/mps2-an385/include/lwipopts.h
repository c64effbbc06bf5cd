/* lwIP options for the mps2-an385 firmware (Cortex-M3, 4 MiB RAM, LAN9118). */
#ifndef LWIPOPTS_H
#define LWIPOPTS_H

#include "stsm_lwipopts_common.h"

#define MEM_ALIGNMENT               4
#define MEM_SIZE                    (16 * 1024)
#define MEMP_NUM_TCP_PCB            4
#define MEMP_NUM_UDP_PCB            6
#define PBUF_POOL_SIZE              12

#endif /* LWIPOPTS_H */
