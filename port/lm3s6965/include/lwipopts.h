/* lwIP options for the lm3s6965evb firmware (Cortex-M3, 64 KiB SRAM, Stellaris Ethernet):
 * those of mps2-an385 (common options, SNTP hooks) with the smallest sizes that carry one
 * delivery at a time. */
#ifndef STSM_LM3S_LWIPOPTS_H
#define STSM_LM3S_LWIPOPTS_H

#include "../../mps2-an385/include/lwipopts.h"

/* Stated so that the port can check it builds with this file (stsm_board_lm3s.c). */
#define STSM_LWIPOPTS_LM3S6965      1

/* The sizes of mps2-an385 (whose lwipopts.h gives each pool's measured peak) for a TCP
 * window and send buffer of two segments instead of four:
 * heap: TCP_SND_BUF (2920 B) unacknowledged in at most TCP_SND_QUEUELEN (8) pbufs of about
 * 90 B of headers each, 3.6 KiB, plus a DNS query or two (lab peak 676 B on mps2). */
#undef TCP_WND
#define TCP_WND                     (2 * TCP_MSS)
#undef TCP_SND_BUF
#define TCP_SND_BUF                 (2 * TCP_MSS)
#undef MEM_SIZE
#define MEM_SIZE                    (4 * 1024)
/* TCP: peak 3 on mps2 (closed ones wait in TIME_WAIT), margin 1. UDP: peak 5, margin 1. */
#undef MEMP_NUM_TCP_PCB
#define MEMP_NUM_TCP_PCB            4
#undef MEMP_NUM_UDP_PCB
#define MEMP_NUM_UDP_PCB            6
/* Received frames: the window's two segments held unread or out of order and the frame
 * being read (a UDP/ARP frame arriving while all three are held is dropped and counted,
 * which the QEMU tests fail on). Peak 1 of 4 in lab.lm3s_bringup's verified HTTPS fetch:
 * TLS takes each segment into its own record buffer as it comes. 1.5 KiB each. */
#undef PBUF_POOL_SIZE
#define PBUF_POOL_SIZE              3
#undef TCP_OOSEQ_MAX_PBUFS
#define TCP_OOSEQ_MAX_PBUFS         2
/* lwIP's own resolver serves only the bring-up image's one lookup (stsm_resolver does the
 * app's queries): one table entry, not four of 270 bytes. */
#define DNS_TABLE_SIZE              1
/* No IP fragments either way (2.3 KiB of flash): TCP segments fit the MTU, and DNS replies
 * fit it too (we advertise an EDNS0 payload of 1232 bytes; a longer answer comes by TCP). */
#define IP_REASSEMBLY               0
#define IP_FRAG                     0

#endif /* STSM_LM3S_LWIPOPTS_H */
