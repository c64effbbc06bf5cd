/* lwIP options for the host simulation (lwIP over a Linux TAP device). */
#ifndef LWIPOPTS_H
#define LWIPOPTS_H

#include "stsm_lwipopts_common.h"

#define MEM_ALIGNMENT               8
#define MEM_SIZE                    (64 * 1024)
#define MEMP_NUM_TCP_PCB            8
#define MEMP_NUM_UDP_PCB            8
#define PBUF_POOL_SIZE              32

/* A loopback interface lets unit tests run lwIP client code against an in-process peer. */
#define LWIP_HAVE_LOOPIF            1
#define LWIP_NETIF_LOOPBACK         1

#endif /* LWIPOPTS_H */
