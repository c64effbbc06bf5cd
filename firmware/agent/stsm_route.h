/*
 * Route resolution for direct delivery: the MX hosts of a domain with their addresses.
 * Asks MX, plans the host list (stsm_mx), then looks up A and AAAA of every host that
 * the MX answer's additional section did not already cover, two lookups at a time. A
 * sender on an IPv4-only stack asks A alone (stsm_route_start_ipv4()).
 */
#ifndef STSM_ROUTE_H
#define STSM_ROUTE_H

#include <stdbool.h>

#include "lwip/ip_addr.h"
#include "stsm_mx.h"
#include "stsm_resolver.h"

/**
 * Called once per route. On STSM_OK `set` is the result (see set->kind: a host list, an
 * implicit MX, a null MX or a domain that does not exist); each host says how its own
 * lookups went. Otherwise the MX query itself failed (STSM_ERR_TIMEOUT,
 * STSM_ERR_DNS_SERVER_FAILURE: temporary; STSM_ERR_DNS_CNAME_CHAIN, STSM_ERR_CAPACITY:
 * the domain's DNS data is unusable) and `set` is NULL.
 */
typedef void (*stsm_route_done_fn)(void *arg, stsm_status_t status, const struct stsm_mx_set *set);

/** Route resolution state. Large: allocate statically. Fields are private except as read
 *  through the accessors below. */
struct stsm_route {
    struct stsm_mx_set set;
    ip_addr_t mx_server;                 /* the server that answered the MX query */
    uint8_t mx_cname_hops;               /* CNAMEs followed at the domain itself */
    char mx_canonical[STSM_HOSTNAME_MAX + 1];
    bool ipv4_only;                      /* no AAAA lookups */
    unsigned next_job;                   /* next (host, type) lookup to start */
    unsigned running;                    /* lookups in flight */
    struct stsm_route_slot {
        struct stsm_route *route;
        unsigned job;
        struct stsm_resolver_query query;
    } slots[2];
    stsm_route_done_fn done;
    void *done_arg;
};

/** Starts resolving the MX hosts of `domain`. Returns STSM_OK when under way (`done` runs
 *  later, never inside this call) or the error of stsm_resolver_start(). */
stsm_status_t stsm_route_start(struct stsm_route *route, const char *domain,
                               stsm_route_done_fn done, void *arg);

/**
 * As stsm_route_start(), for a sender that connects over IPv4 only (lwIP built without
 * IPv6): each host's A is looked up, never its AAAA, whose answer could not change where
 * it connects (a host without an IPv4 address is skipped either way, and a CNAME on the
 * way shows in the A answer too). Each host's `aaaa` lookup stays not done, unless the
 * additional section answered it. Half the questions: when the MX answer's additional
 * section held the A records the route ends with it (a round of AAAA followed before), and
 * n hosts without them take ceil(n / 2) rounds instead of n.
 */
stsm_status_t stsm_route_start_ipv4(struct stsm_route *route, const char *domain,
                                    stsm_route_done_fn done, void *arg);

/** The DNS server that answered the MX query (valid once `done` ran with STSM_OK). */
const ip_addr_t *stsm_route_mx_server(const struct stsm_route *route);

/** The name the domain's MX answer came from after CNAMEs, and how many were followed. */
const char *stsm_route_mx_canonical(const struct stsm_route *route, unsigned *hops);

#endif /* STSM_ROUTE_H */
