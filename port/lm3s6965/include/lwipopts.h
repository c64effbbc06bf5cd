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
 * heap: what TCP has unacknowledged, copied, with about 90 B of headers a segment, plus a
 * DNS query or two. The window's worth (TCP_SND_BUF, 2920 B) is 3.6 KiB, but this board
 * sends one alert of at most STSM_OUTBOX_RECORD_MAX (1 KiB) at a time in TLS records of
 * its 1 KiB chunks: lab.lm3s_deliver peaks at 668 B (a 358-byte message), mps2 at 676 B.
 * 3 KiB: the longest alert in flight with its commands, headers and TLS overhead twice. */
#undef TCP_WND
#define TCP_WND                     (2 * TCP_MSS)
#undef TCP_SND_BUF
#define TCP_SND_BUF                 (2 * TCP_MSS)
#undef MEM_SIZE
#define MEM_SIZE                    (3 * 1024)
/* TCP: peak 3 on mps2 (closed ones wait in TIME_WAIT), 2 on this board with one
 * delivery at a time (lab.lm3s_deliver), margin 1. UDP: peak 5, margin 1. */
#undef MEMP_NUM_TCP_PCB
#define MEMP_NUM_TCP_PCB            3
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
