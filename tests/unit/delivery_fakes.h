/*
 * Scripted stand-ins for what firmware/agent/stsm_delivery.c talks to, linked in place of
 * the real ones (delivery_fakes.c): the connection (stsm_conn_*), the MX route
 * (stsm_route_start), the MTA-STS lookup and fetch, the resolver, and sys_now() for
 * lwIP's timer list. Each records the calls it got; the test fires their callbacks when
 * and in the order it likes.
 */
#ifndef DELIVERY_FAKES_H
#define DELIVERY_FAKES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stsm_conn.h"
#include "stsm_resolver.h"
#include "stsm_route.h"
#include "stsm_sts_lookup.h"

struct fake_net {
    /* the connection */
    struct stsm_conn *conn;
    stsm_conn_event_fn event;
    void *event_arg;
    bool live;                      /* connected (or connecting) and not closed since */
    unsigned connects, closes_live; /* stsm_conn_close() on a live connection */
    unsigned start_tls, start_tls_opportunistic;
    bool tls_up;
    stsm_status_t verify_status;    /* what stsm_conn_tls_verify_status() says */
    char sent[32768];               /* everything the client sent, all connections */
    size_t sent_len;
    char rx[4096];                  /* server bytes not yet read */
    size_t rx_len;
    /* the MX route */
    stsm_status_t route_start_status;
    unsigned route_starts;
    struct stsm_route *route;
    stsm_route_done_fn route_done;
    void *route_arg;
    /* the MTA-STS lookup and the healing fetch */
    unsigned sts_starts, fetch_starts;
    struct stsm_sts_lookup *sts;
    stsm_sts_lookup_done_fn sts_done;
    void *sts_arg;
    /* the resolver (relay mode) */
    unsigned resolver_starts, resolver_cancels;
    struct stsm_resolver_query *query;
    stsm_resolver_done_fn query_done;
    void *query_arg;
};

extern struct fake_net fake;
extern uint32_t fake_now_ms;

/** Forgets every record and callback (between cases). */
void fake_reset(void);

/** Delivers `event` to the live connection; false (nothing happens) when there is none:
 *  a closed connection reports nothing, as stsm_conn.h promises. */
bool fake_conn_event(enum stsm_conn_event event, stsm_status_t status);

/** The server sends `bytes`: queued and READABLE fired, unless the connection is gone. */
bool fake_server_sends(const char *bytes, size_t len);

/** The MX answer: one host `name` at 192.0.2.25. */
void fake_route_answer(const char *name);

/** The MTA-STS lookup ends: with the policy `body` (NULL: no STS record), its TXT record
 *  reached through a CNAME when `txt_cname`. */
void fake_sts_answer(const char *body, bool txt_cname);

/** Ends the pending MTA-STS lookup: a policy of `body_size` bytes exists that the device
 *  cannot hold (stsm_sts_lookup.policy_too_big). */
void fake_sts_too_big(size_t body_size);

/** The resolver's A answer for the relay: 192.0.2.30. */
void fake_resolver_answer(void);

#endif /* DELIVERY_FAKES_H */
