/* lwIP options for the lm3s6965evb firmware (Cortex-M3, 64 KiB SRAM, Stellaris Ethernet):
 * those of mps2-an385 (common options, SNTP hooks) with the smallest sizes that carry one
 * delivery at a time. */
#ifndef STSM_LM3S_LWIPOPTS_H
#define STSM_LM3S_LWIPOPTS_H

#include "../../mps2-an385/include/lwipopts.h"

/* Stated so that the port can check it builds with this file (stsm_board_lm3s.c). */
#define STSM_LWIPOPTS_LM3S6965      1

/* The heap holds outgoing TCP data (TCP_SND_BUF) and the ARP queue; its peak was 1.8 KiB
 * on mps2-an385 with twice this send buffer. */
#undef MEM_SIZE
#define MEM_SIZE                    (4 * 1024)
#undef MEMP_NUM_TCP_PCB
#define MEMP_NUM_TCP_PCB            3   /* policy fetch, SMTP session, DNS over TCP */
#undef MEMP_NUM_UDP_PCB
#define MEMP_NUM_UDP_PCB            4   /* DHCP, SNTP, lwIP's DNS, the resolver */
#undef MEMP_NUM_TCP_SEG
#define MEMP_NUM_TCP_SEG            8
/* Received frames wait here for lwIP: one TCP window, plus ARP, DNS and SNTP. */
#undef PBUF_POOL_SIZE
#define PBUF_POOL_SIZE              4
#undef TCP_WND
#define TCP_WND                     (2 * TCP_MSS)
#undef TCP_SND_BUF
#define TCP_SND_BUF                 (2 * TCP_MSS)
/* lwIP's own resolver serves only the bring-up image's one lookup (stsm_resolver does the
 * app's queries): one table entry, not four of 270 bytes. */
#define DNS_TABLE_SIZE              1
/* No IP fragments either way (2.3 KiB of flash): TCP segments fit the MTU, and DNS replies
 * fit it too (we advertise an EDNS0 payload of 1232 bytes; a longer answer comes by TCP). */
#define IP_REASSEMBLY               0
#define IP_FRAG                     0

#endif /* STSM_LM3S_LWIPOPTS_H */
