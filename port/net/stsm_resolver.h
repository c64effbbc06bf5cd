/*
 * DNS stub resolver on lwIP's raw UDP/TCP API, for the record types lwIP's own resolver
 * does not give us (MX, TXT) and for answers whose shape matters (CNAME chains, NODATA
 * versus NXDOMAIN). It asks the servers in lwIP's DNS server list, so servers learned by
 * DHCP are used.
 *
 * Each query has its own UDP port and ID, both random (stsm_port_random_u32), and
 * accepts replies only from port 53 of a server it asked; anything that is not the answer
 * to its question is dropped. Tries rotate over the servers with a timeout that doubles
 * each round; SERVFAIL, REFUSED or a malformed reply moves on to the next server; a
 * truncated reply is asked again over TCP. Queries are independent: any number may be in
 * flight, each in its own struct.
 *
 * A datagram lwIP reports as not sent (udp_sendto failing: ERR_MEM while the next hop's
 * MAC address is resolved and lwIP's ARP queue is full, no buffer, no route yet) is sent
 * again every STSM_DNS_RESEND_MS, for as long as the try's timeout would have lasted,
 * without counting as a try: a query started on a cold ARP table is not left to the
 * retry timer.
 *
 * Answers (ANSWER, NODATA, NXDOMAIN) are cached for their TTL (stsm_dns_cache.h, one cache
 * of STSM_DNS_CACHE_BYTES for all queries): a query for a (name, type) held is answered
 * from it without a packet, still from a timer, never inside stsm_resolver_start().
 * Errors are never cached.
 *
 * Every deadline is armed once and never pushed back by arriving bytes: a UDP try has
 * STSM_DNS_TRY_TIMEOUT_MS (doubling each round), and from its first fallback to TCP a
 * query has STSM_DNS_TCP_TIMEOUT_MS left in all, over every exchange and try that follows
 * (connects, answers however slowly trickled, further UDP tries); when it passes the query
 * ends. So a query ends within the time of its UDP tries plus STSM_DNS_TCP_TIMEOUT_MS,
 * even against servers that truncate every UDP answer and trickle every TCP one.
 */
#ifndef STSM_RESOLVER_H
#define STSM_RESOLVER_H

#include <stdbool.h>
#include <stdint.h>

#include "lwip/ip_addr.h"
#include "lwip/tcp.h"
#include "lwip/udp.h"
#include "stsm_config.h"
#include "stsm_dns.h"
#include "stsm_status.h"

struct stsm_resolver_query;

/**
 * Called once per started query. On STSM_OK `answer` holds an ANSWER, NODATA or NXDOMAIN
 * outcome and `server` the server that gave it; both are valid only during the call:
 * every query's answer is decoded into the resolver's one answer (its name pool is the
 * program's only one), so a caller copies out what it keeps before it returns.
 * Otherwise `answer` is NULL and status says why: STSM_ERR_TIMEOUT (no server answered),
 * STSM_ERR_DNS_SERVER_FAILURE (servers answered only with errors or garbage),
 * STSM_ERR_DNS_CNAME_CHAIN, STSM_ERR_CAPACITY (a reply over TCP longer than
 * STSM_DNS_MSG_MAX, or an answer beyond stsm_dns_decode()'s capacities), STSM_ERR_NO_MEMORY,
 * STSM_ERR_IO.
 */
typedef void (*stsm_resolver_done_fn)(void *arg, stsm_status_t status,
                                      const struct stsm_dns_answer *answer,
                                      const ip_addr_t *server);

/** One query in flight: its question and where it stands, no answer (that is decoded into
 *  the resolver's one, for `done`). Fields are private. It may be started again from its
 *  own callback, or another query's. */
struct stsm_resolver_query {
    bool active;
    struct stsm_dns_query query;
    ip_addr_t servers[DNS_MAX_SERVERS];
    uint8_t server_count;
    uint8_t tries;               /* UDP tries sent so far */
    uint8_t try_server;          /* the server of the current try */
    uint16_t resends_left;       /* refused sends the current try may still repeat */
    uint32_t try_ms;             /* the current try's timeout */
    bool from_cache;             /* answer served from the cache */
    uint8_t asked_mask;          /* servers this query was sent to */
    uint8_t tcp_server;          /* server asked over TCP */
    bool tcp_deadline_armed;     /* the query has fallen back to TCP once: its end is set */
    uint8_t last_rcode;          /* from the last error reply, for logs */
    stsm_status_t last_error;    /* why the last try failed */
    struct udp_pcb *udp;
    struct tcp_pcb *tcp;
    size_t query_len;            /* of its message, encoded from `query` whenever it is sent */
    struct pbuf *tcp_rx;         /* a TCP reply as it arrives, length prefix first */
    uint32_t started_ms;         /* sys_now() at the start: the time the cache is read at */
    stsm_resolver_done_fn done;
    void *done_arg;
};

/**
 * Starts a query for `name` of `type` (A, AAAA, MX or TXT). Returns STSM_OK when under way
 * (`done` will be called later, never from inside this call), STSM_ERR_ARGUMENT for a bad
 * name or type, STSM_ERR_NOT_CONFIGURED when lwIP knows no DNS server, or
 * STSM_ERR_NO_MEMORY when no UDP pcb is free. Started from inside a `done` (whose answer
 * must stay as it is meanwhile), the cache is read from a timer, and the last two errors
 * come through `done` instead.
 */
stsm_status_t stsm_resolver_start(struct stsm_resolver_query *rq, const char *name, uint16_t type,
                                  stsm_resolver_done_fn done, void *arg);

/** Stops a query without calling `done`. Safe on a finished or never-started query. */
void stsm_resolver_cancel(struct stsm_resolver_query *rq);

/** UDP tries a query has sent (its first included; 0 when answered from the cache).
 *  Valid during and after its `done` call, until it is started again. */
uint8_t stsm_resolver_tries(const struct stsm_resolver_query *rq);

/** True when the query's answer came from the cache. */
bool stsm_resolver_from_cache(const struct stsm_resolver_query *rq);

/** Counters over every query since the program started. */
struct stsm_resolver_stats {
    uint32_t queries;       /**< queries started (cache hits included) */
    uint32_t udp_tries;     /**< UDP tries sent: each query's first and its retries */
    uint32_t retries;       /**< tries after a query's first (a timeout or a failed server) */
    uint32_t resends;       /**< sends lwIP refused, made again (not tries) */
    uint32_t cache_hits;    /**< queries answered from the cache, no packet sent */
    uint32_t cache_stored;  /**< answers stored in the cache */
};

/** Copies the counters into `*out`. */
void stsm_resolver_stats(struct stsm_resolver_stats *out);

/** Forgets every cached answer: the next query for anything goes to the servers. */
void stsm_resolver_cache_clear(void);

/** The rcode of the last error reply (SERVFAIL = 2, REFUSED = 5, ...), 0 if none. */
uint8_t stsm_resolver_last_rcode(const struct stsm_resolver_query *rq);

#endif /* STSM_RESOLVER_H */
