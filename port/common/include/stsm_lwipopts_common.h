/*
 * lwIP options shared by every stsmail target. Each target's lwipopts.h includes this
 * file and then sets only its memory sizes and platform hooks.
 */
#ifndef STSM_LWIPOPTS_COMMON_H
#define STSM_LWIPOPTS_COMMON_H

/* Single-threaded raw API: one main loop polls the NIC and runs sys_check_timeouts(). */
#define NO_SYS                      1
#define LWIP_SOCKET                 0
#define LWIP_NETCONN                0
#define SYS_LIGHTWEIGHT_PROT        0

#define LWIP_IPV4                   1
#define LWIP_IPV6                   0
#define LWIP_ARP                    1
#define LWIP_ETHERNET               1
#define LWIP_ICMP                   1
#define LWIP_RAW                    0
#define LWIP_UDP                    1
#define LWIP_TCP                    1
#define LWIP_DHCP                   1
#define LWIP_DHCP_DOES_ACD_CHECK    0   /* the lab's DHCP server is authoritative */
#define LWIP_DNS                    1
#define DNS_MAX_SERVERS             2
#define LWIP_NETIF_HOSTNAME         1
#define LWIP_NETIF_STATUS_CALLBACK  1
#define LWIP_NETIF_LINK_CALLBACK    1

/* Several datagrams leave together before the next hop's MAC address is known (the MX and
 * _mta-sts TXT queries at start, the relay's A and TXT): with ARP_QUEUEING off lwIP keeps
 * only the newest per unresolved address and drops the others in silence. Queued, they
 * leave as the ARP reply comes in. ARP_QUEUE_LEN 0 lifts the per-address limit, whose
 * overflow also drops the oldest in silence: the only limit left is the pool, and when it
 * runs out udp_sendto() says so (ERR_MEM) and the DNS resolver sends again. Eight entries
 * cover our bursts (two or three queries, a TCP SYN, SNTP) at 8 bytes each (peak 2 on
 * mps2-an385 in the QEMU lab tests); the queued pbufs come from the heap only while the
 * address is resolved. */
#define ARP_QUEUEING                1
#define ARP_QUEUE_LEN               0
#define MEMP_NUM_ARP_QUEUE          8

/* lwIP's DNS randomises its transaction ID and source port with LWIP_RAND(). */
#define LWIP_DNS_SECURE  (LWIP_DNS_SECURE_RAND_XID | LWIP_DNS_SECURE_NO_MULTIPLE_OUTSTANDING | \
                          LWIP_DNS_SECURE_RAND_SRC_PORT)

/* lwIP's own timers plus ours (probe, DNS client, TLS and SMTP timeouts, the DNS cache's
 * hourly sweep): 15 on mps2-an385, peak 12 in the QEMU lab tests. A timeout the pool cannot
 * take would never fire (lwIP only counts it), so the margin stays. */
#define MEMP_NUM_SYS_TIMEOUT        (LWIP_NUM_SYS_TIMEOUT_INTERNAL + 9)

/* Unguessable TCP initial sequence numbers (RFC 6528), port/net/stsm_tcp_isn.c. */
#define LWIP_HOOK_FILENAME          "stsm_tcp_isn.h"
#define LWIP_HOOK_TCP_ISN           stsm_tcp_isn

#define TCP_MSS                     1460
#define TCP_WND                     (4 * TCP_MSS)
#define TCP_SND_BUF                 (4 * TCP_MSS)
#define LWIP_TCP_KEEPALIVE          1

#define LWIP_STATS                  1   /* high-water marks are reported by benchmarks */
#define LWIP_STATS_DISPLAY          0
#define MEM_STATS                   1
#define MEMP_STATS                  1

#endif /* STSM_LWIPOPTS_COMMON_H */
