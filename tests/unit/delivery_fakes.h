/*
 * Scripted stand-ins for what firmware/agent/stsm_delivery.c talks to (delivery_fakes.c).
 * The connection is a transport (stsm_transport.h, fake_transport) and the clock a timer
 * list the test moves (stsm_timer.h, fake_clock), both handed to the delivery through
 * stsm_delivery_set_options(). The MX route (stsm_route_start), the MTA-STS lookup and
 * fetch and the resolver are linked in place of the real ones. Each records the calls it
 * got; the test fires their callbacks when and in the order it likes.
 */
#ifndef DELIVERY_FAKES_H
#define DELIVERY_FAKES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stsm_resolver.h"
#include "stsm_route.h"
#include "stsm_sts_lookup.h"
#include "stsm_timer.h"
#include "stsm_transport.h"

struct fake_net {
    /* the connection */
    stsm_transport_event_fn event;
    void *event_arg;
    bool live;                      /* connected (or connecting) and not closed since */
    unsigned connects, closes_live; /* close() on a live connection */
    ip_addr_t address;              /* of the last connect */
    uint16_t port;
    char connect_log[256];          /* "address:port " of every connect, in order */
    unsigned start_tls, start_tls_opportunistic;
    bool tls_up;
    stsm_status_t verify_status;    /* what tls_verify_status() says */
    char sent[32768];               /* everything the client sent, all connections */
    size_t sent_len;
    bool throttled;                 /* send() takes only send_room more bytes, then would block */
    size_t send_room;
    char rx[4096];                  /* server bytes not yet read */
    size_t rx_len;
    /* the MX route */
    stsm_status_t route_start_status;
    unsigned route_starts;
    bool route_ipv4_only;           /* started with stsm_route_start_ipv4() */
    struct stsm_route *route;
    stsm_route_done_fn route_done;
    void *route_arg;
    /* the MTA-STS lookup and the healing fetch */
    unsigned sts_starts, fetch_starts, refresh_starts;
    bool fetch_accepts;             /* the healing fetch starts (else it is refused) */
    const char *sts_cached;         /* (before the start) the cache holds this policy unexpired: the
                                       lookup's start sets it in force (early); NULL: nothing cached */
    struct stsm_sts_fetch *fetch;
    stsm_sts_fetch_done_fn fetch_done;
    void *fetch_arg;
    struct stsm_sts_lookup *sts;
    stsm_sts_lookup_done_fn sts_done;   /* set while the lookup (or its refresh) runs */
    stsm_sts_lookup_done_fn sts_done_saved;
    void *sts_arg;
    /* the resolver (relay mode) */
    unsigned resolver_starts, resolver_cancels;
    struct stsm_resolver_query *query;
    stsm_resolver_done_fn query_done;
    void *query_arg;
};

extern struct fake_net fake;
extern uint32_t fake_now_ms;

/** The scripted connection; its context is &fake. */
extern const struct stsm_transport fake_transport;

/** A timer list on fake_now_ms (context unused); timers run only from fake_clock_serve()
 *  and fake_clock_advance(). */
extern const struct stsm_clock fake_clock;

/** Runs every armed timer due by fake_now_ms, earliest first (in arming order when due
 *  together), including those armed meanwhile that are due by then. */
void fake_clock_serve(void);

/** Moves the clock by `ms`, running every timer at the moment it is due. */
void fake_clock_advance(uint32_t ms);

/** Milliseconds until the next armed timer is due (UINT32_MAX: none armed). */
uint32_t fake_clock_sleeptime(void);

/** Forgets every record and callback (between cases). */
void fake_reset(void);

/** Delivers `event` to the live connection; false (nothing happens) when there is none:
 *  a closed connection reports nothing, as stsm_transport.h promises. */
bool fake_conn_event(enum stsm_conn_event event, stsm_status_t status);

/** The server sends `bytes`: queued and READABLE fired, unless the connection is gone. */
bool fake_server_sends(const char *bytes, size_t len);

/** The MX answer: the hosts named in `names` (comma-separated, most preferred first),
 *  the n-th at 192.0.2.(25 + n) with preference 10 * (n + 1). */
void fake_route_answer(const char *names);

/** As fake_route_answer(), but the route's names ran out (names_full): the first host's
 *  CNAME target did not fit, so its A lookup failed with STSM_ERR_CAPACITY, no address. */
void fake_route_names_full(const char *names);

/** The MX route ends with `status` (its MX query failed), no host set. */
void fake_route_fails(stsm_status_t status);

/** The MTA-STS lookup ends: with the policy `body` (NULL: no STS record), its TXT record
 *  reached through a CNAME when `txt_cname`. */
void fake_sts_answer(const char *body, bool txt_cname);

/** Ends the pending MTA-STS lookup with `body` as the policy found in the cache (the TXT id
 *  unchanged, so not fetched). */
void fake_sts_answer_cached(const char *body);

/** Ends the TXT check of an early lookup (fake.sts_cached): the record is `txt_state`; with
 *  `new_id`, its id changed, so the policy is due to be fetched (refresh_due). The policy in
 *  force stays. */
void fake_sts_checked(enum stsm_sts_txt_state txt_state, bool new_id);

/** Ends the fetch stsm_sts_lookup_refresh() started: the new policy `body` was fetched and
 *  cached (refreshed), or (NULL) the fetch failed. The policy in force stays. */
void fake_sts_refreshed(const char *body);

/** Ends the pending healing fetch with the live policy `body`. */
void fake_fetch_answer(const char *body);

/** The resolver's A answer for the relay: 192.0.2.30. */
void fake_resolver_answer(void);

#endif /* DELIVERY_FAKES_H */
