/*
 * Fixed capacities of stsmail. Every limit lives here with its default; a product may
 * override any of them by defining it before this header is included (e.g. with -D).
 */
#ifndef STSM_CONFIG_H
#define STSM_CONFIG_H

/** Longest line, without CRLF, accepted from a server in a connectivity probe. RFC 5321
 *  section 4.5.3.1.5 caps reply lines at 512 octets including CRLF. */
#ifndef STSM_PROBE_LINE_MAX
#define STSM_PROBE_LINE_MAX 510
#endif

/** Longest DNS host name in text form (RFC 1035: 255 octets on the wire). */
#ifndef STSM_HOSTNAME_MAX
#define STSM_HOSTNAME_MAX 253
#endif

/** Largest DNS message we accept, over UDP (EDNS0 payload size we advertise) or TCP. */
#ifndef STSM_DNS_MSG_MAX
#define STSM_DNS_MSG_MAX 4096
#endif

/** EDNS0 UDP payload size advertised in queries (the DNS flag day 2020 value). */
#ifndef STSM_DNS_EDNS_PAYLOAD
#define STSM_DNS_EDNS_PAYLOAD 1232
#endif

/** Records of the asked type kept from one answer. An MX answer with more keeps those of
 *  the lowest preference values, an A or AAAA answer its first ones (the rest are counted
 *  in stsm_dns_answer.dropped); a TXT answer with more is an error (STSM_ERR_CAPACITY). */
#ifndef STSM_DNS_MAX_RECORDS
#define STSM_DNS_MAX_RECORDS 16
#endif

/** A/AAAA records kept from the additional section (used to skip address queries). */
#ifndef STSM_DNS_MAX_EXTRA
#define STSM_DNS_MAX_EXTRA 16
#endif

/** CNAMEs followed from the asked name before giving up (the chain is an error then). */
#ifndef STSM_DNS_MAX_CNAME_HOPS
#define STSM_DNS_MAX_CNAME_HOPS 8
#endif

/** Compression pointers followed while reading one name. */
#ifndef STSM_DNS_MAX_POINTERS
#define STSM_DNS_MAX_POINTERS 16
#endif

/** Bytes for names and TXT data of one decoded answer (each stored once, NUL-terminated). */
#ifndef STSM_DNS_POOL_SIZE
#define STSM_DNS_POOL_SIZE 3072
#endif

/** Tries of one DNS query, rotating over the known servers. */
#ifndef STSM_DNS_TRIES
#define STSM_DNS_TRIES 4
#endif

/** Time for one UDP try; it doubles after each full round over the servers. */
#ifndef STSM_DNS_TRY_TIMEOUT_MS
#define STSM_DNS_TRY_TIMEOUT_MS 1000
#endif

/** Time a DNS query has left once it first falls back to TCP (after a truncated UDP
 *  answer), for all its exchanges and tries from then on. */
#ifndef STSM_DNS_TCP_TIMEOUT_MS
#define STSM_DNS_TCP_TIMEOUT_MS 5000
#endif

/** A UDP try that lwIP refused to send (ERR_MEM from a full ARP queue while the next hop
 *  is resolved, no buffer, no route yet) is sent again after this long, without counting
 *  as a try, for as long as the try's own timeout would have lasted. */
#ifndef STSM_DNS_RESEND_MS
#define STSM_DNS_RESEND_MS 5
#endif

/** Bytes of RAM holding cached DNS answers (each stored compactly: its records, CNAME
 *  chain and names, about 100-300 bytes). The oldest-used answers give way when full; an
 *  answer larger than all of it is not cached. 0 disables the cache. */
#ifndef STSM_DNS_CACHE_BYTES
#define STSM_DNS_CACHE_BYTES 8192
#endif

/** Longest time a DNS answer is served from the cache, whatever its TTL says. */
#ifndef STSM_DNS_CACHE_TTL_MAX_S
#define STSM_DNS_CACHE_TTL_MAX_S 3600
#endif

/** Longest time a NODATA or NXDOMAIN answer is served from the cache (never longer than the
 *  TTLs of the CNAMEs that led to it). Short, because the SOA is not read: it spares the
 *  repeat of a delivery its queries while a record published meanwhile (an _mta-sts TXT, an
 *  AAAA) is seen within a minute. */
#ifndef STSM_DNS_CACHE_NEGATIVE_TTL_S
#define STSM_DNS_CACHE_NEGATIVE_TTL_S 60
#endif

/** MX hosts kept for one domain: with more, those of the lowest preference values are kept
 *  and the rest counted (stsm_mx_set.hosts_dropped); never an error. */
#ifndef STSM_MX_MAX_HOSTS
#define STSM_MX_MAX_HOSTS 10
#endif

/** `mx` patterns kept from one MTA-STS policy (1 to 255). Real policies list a few; with
 *  more, the first ones are kept and hosts only the others name do not match (fail
 *  closed, counted in stsm_sts_policy.mx_dropped). Each costs STSM_HOSTNAME_MAX + 1 bytes
 *  in every parsed or cached policy, so small devices lower it: mps2-an385 keeps 10, the
 *  most with which four worst-case cached policies fit its 12 KiB flash slot. */
#ifndef STSM_STS_MAX_MX
#define STSM_STS_MAX_MX 32
#endif

/** IPv4 and IPv6 addresses kept per MX host (more are dropped and the host is flagged). */
#ifndef STSM_MX_MAX_ADDRESSES
#define STSM_MX_MAX_ADDRESSES 8
#endif

/** Bytes of the static arena all Mbed TLS allocations come from (one handshake with a
 *  16 KiB input and 4 KiB output record buffer peaks around 30-40 KiB). */
#ifndef STSM_TLS_ARENA_SIZE
#define STSM_TLS_ARENA_SIZE (64 * 1024)
#endif

/** Time for a TLS handshake, from start to verified. */
#ifndef STSM_TLS_HANDSHAKE_TIMEOUT_MS
#define STSM_TLS_HANDSHAKE_TIMEOUT_MS 30000
#endif

/** Longest SMTP reply line accepted, without CRLF (RFC 5321 section 4.5.3.1.5: 512 with it). */
#ifndef STSM_SMTP_LINE_MAX
#define STSM_SMTP_LINE_MAX 510
#endif

/** Lines of one SMTP reply (an EHLO reply lists one extension per line; real ones have
 *  under 30). More is a protocol error. Capabilities are read line by line, so this and
 *  the text limit below never hide one. */
#ifndef STSM_SMTP_REPLY_LINES_MAX
#define STSM_SMTP_REPLY_LINES_MAX 128
#endif

/** Bytes of reply text kept for logs and results (the first lines; the rest is dropped). */
#ifndef STSM_SMTP_REPLY_TEXT_MAX
#define STSM_SMTP_REPLY_TEXT_MAX 256
#endif

/** Largest rendered message (headers and encoded body) a delivery sends. */
#ifndef STSM_MESSAGE_MAX
#define STSM_MESSAGE_MAX (16 * 1024)
#endif

/** Time to open a TCP connection to a mail server. */
#ifndef STSM_CONNECT_TIMEOUT_MS
#define STSM_CONNECT_TIMEOUT_MS 30000
#endif

#endif /* STSM_CONFIG_H */
