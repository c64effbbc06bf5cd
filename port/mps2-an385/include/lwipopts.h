/* lwIP options for the mps2-an385 firmware (Cortex-M3, 4 MiB RAM, LAN9118). */
#ifndef LWIPOPTS_H
#define LWIPOPTS_H

#include <stdint.h>

#include "stsm_lwipopts_common.h"

#define MEM_ALIGNMENT               4

/* Pools sized to their measured peaks plus a stated margin. Peaks are the firmware's own
 * `footprint:` lines (lwip_stats, per pool) over the QEMU lab tests (lab.firmware_network,
 * _seed_clock, _outbox: 8 boots, deliveries to an enforce MTA-STS domain, retries with the
 * MX down) at 1e932e0, and over worst cases at 76ad907: one alert to eight lab domains (a
 * 70 KB policy body, a 4 KiB MX answer over TCP, 40 MX records, CNAME chains, implicit MX),
 * relays with AUTH over STARTTLS and implicit TLS. The lab's network answers within a
 * millisecond, so where a slow network needs more than the lab showed, the bound is what
 * TCP and our code allow. Any failed allocation is counted (lwip_errors) and fails the
 * QEMU lab tests.
 *
 * Heap: TCP segments we send (tcp_write copies) until acknowledged, DNS queries, ARP's
 * queue. Peak 1600 B in the lab (the eight domains). Bound on a slow network: TCP_SND_BUF
 * (2920 B, below) unacknowledged in at most TCP_SND_QUEUELEN pbufs of about 90 B of headers
 * each, about 3.6 KiB, plus a few DNS queries of about 300 B; 5 KiB. */
#define MEM_SIZE                    (5 * 1024)

/* A window of two full segments each way (the common header has four): an alert is a few
 * KiB, so a delivery on a slow link takes a round trip more for the certificate chain and
 * none for the message, and each segment of window costs a 1.5 KiB pbuf of RAM and 1.5 KiB
 * of heap here. */
#undef TCP_WND
#define TCP_WND                     (2 * TCP_MSS)
#undef TCP_SND_BUF
#define TCP_SND_BUF                 (2 * TCP_MSS)

/* TCP: the SMTP or HTTPS connection and a DNS-over-TCP one, and closed ones in TIME_WAIT
 * for two minutes (when the pool is empty lwIP takes the oldest of those, but counts the
 * failed allocation first). Peak 3 (three domains in a row); margin 3. We never listen:
 * no listening PCB. */
#define MEMP_NUM_TCP_PCB            6
#define MEMP_NUM_TCP_PCB_LISTEN     0

/* UDP: DHCP, SNTP, and one per DNS query in flight (each its own random source port). Peak
 * 5 (MX and MTA-STS TXT queries side by side with DHCP and SNTP); margin 3. */
#define MEMP_NUM_UDP_PCB            8

/* Received frames, one PBUF_POOL pbuf each (of 1532 B), from the driver until TLS or the
 * resolver has read them: the TCP window's worth held unread or out of order (TCP_WND is
 * 2 full segments; out-of-order ones are capped at that), the frame being read and one
 * UDP/ARP frame. Peak 2 in the lab (the 70 KB policy, with a 4-segment window); 4. */
#define PBUF_POOL_SIZE              4
#define TCP_OOSEQ_MAX_PBUFS         2

/* PBUF_REF/ROM pbufs: we copy everything we send (peak 0); 2 for lwIP's own use. */
#define MEMP_NUM_PBUF               2

/* IP fragments: we send nothing larger than the MTU (peak 0: one fragment descriptor) and
 * reassemble at most one datagram (peak 0) of up to 3 fragments (we advertise 1232 B for
 * DNS answers, STSM_DNS_MSG_MAX, so they are not fragmented). */
#define MEMP_NUM_FRAG_PBUF          1
#define MEMP_NUM_REASSDATA          1
#define IP_REASS_MAX_PBUFS          3

/* TCP segments (TCP_SND_QUEUELEN for what we send, and the out-of-order queue) peak at 3,
 * ARP's queue at 2, timeouts at 12: see stsm_lwipopts_common.h. */

/* lwIP's own DNS client keeps the server list (DHCP fills it, stsm_resolver reads it);
 * nothing here asks it for a name (SNTP_SERVER_DNS 0: SNTP gets an address), so its name
 * table is one entry, the fewest lwIP takes (272 B; 4 by default). */
#define DNS_TABLE_SIZE              1

/* Wall clock from SNTP (lwIP's sntp app), the server learned from DHCP option 42. */
#define LWIP_DHCP_GET_NTP_SRV       1
#define SNTP_SERVER_DNS             0
#define SNTP_STARTUP_DELAY          0
#define SNTP_SET_SYSTEM_TIME(sec)   stsm_mcu_set_wall_clock((uint32_t)(sec))
void stsm_mcu_set_wall_clock(uint32_t unix_seconds);

/* SNTP answers are not authenticated; take only those that answer our own request: from
 * the server asked, port 123 (level 1), echoing our transmit timestamp (level 2; lwIP 2.2
 * implements nothing above 2). Without round-trip compensation lwIP reads the "system
 * time" only to fill that transmit timestamp, which the server merely echoes: it is 64
 * random bits, a nonce an off-path forger must guess, and it tells the network nothing
 * about our clock. The time itself is then checked against the device's clock floor
 * (stsm_mcu_set_wall_clock). */
#define SNTP_CHECK_RESPONSE         2
#define SNTP_COMP_ROUNDTRIP         0
#define SNTP_GET_SYSTEM_TIME_NTP(sec, frac) \
    do { (sec) = (s32_t)stsm_port_random_u32(); (frac) = stsm_port_random_u32(); } while (0)
uint32_t stsm_port_random_u32(void);

#endif /* LWIPOPTS_H */
