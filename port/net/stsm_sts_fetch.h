/*
 * MTA-STS policy fetch (RFC 8461 section 3.3): GET
 * https://mta-sts.<domain>/.well-known/mta-sts.txt over our TLS transport, the
 * certificate verified for mta-sts.<domain> (never a CNAME target's name), redirects not
 * followed, 200 and text/plain only, the body capped, the whole fetch timed. The policy
 * is parsed as the body arrives (stsm_sts_policy_parser): no body buffer, so every policy
 * up to the RFC's cap is read, on the smallest device too.
 *
 * The address of mta-sts.<domain> may be asked ahead (stsm_sts_fetch_prepare()), beside
 * the TXT query that decides whether a fetch happens at all: nothing connects before
 * stsm_sts_fetch_start().
 */
#ifndef STSM_STS_FETCH_H
#define STSM_STS_FETCH_H

#include <stdbool.h>

#include "stsm_conn.h"
#include "stsm_http.h"
#include "stsm_mta_sts.h"
#include "stsm_resolver.h"

struct stsm_sts_fetch;
typedef void (*stsm_sts_fetch_done_fn)(void *arg, struct stsm_sts_fetch *fetch);

/** One fetch (some 10 KiB on a device: the policy's rows, the address query, the
 *  connection): allocate statically. Results are read once `done` ran: `status` (STSM_OK
 *  with `policy`, or why not), and the details below. */
struct stsm_sts_fetch {
    stsm_status_t status;
    struct stsm_sts_policy policy;
    uint16_t http_status;
    char content_type[64];
    bool content_type_relaxed;         /* a non-text/plain type was let through (setting) */
    size_t policy_line;                /* invalid policy: the line and the reason */
    stsm_text_fixed_t policy_reason;   /* fixed text (stsm_text.h); with STSM_ERR_NO_MEMORY
                                          from the connection, the memory (the TLS arena) */
    size_t body_size;                  /* body bytes of a complete response */
    bool host_cname;                   /* mta-sts.<domain> reached its address through a CNAME */
    char host_canonical[STSM_HOSTNAME_MAX + 1];
    char host[STSM_HOSTNAME_MAX + 1];  /* mta-sts.<domain> */

    bool active;
    bool prepared;                     /* asked ahead: the address lookup is this fetch's */
    uint8_t address_state;             /* private: asked, known or failed */
    stsm_status_t address_status;      /* why the address lookup failed */
    bool relax_content_type;
    struct stsm_tls *tls;
    ip_addr_t address;
    struct stsm_resolver_query query;
    struct stsm_conn conn;
    struct stsm_http_response response;
    char request[STSM_HOSTNAME_MAX + 160];
    size_t request_len, request_sent;
    stsm_sts_fetch_done_fn done;
    void *arg;
    struct stsm_sts_policy_parser parser;   /* fed the body of a 200 with an accepted type */
};

/**
 * Starts looking up the address of mta-sts.<domain> (A, its CNAME chain recorded in
 * `host_cname`/`host_canonical`) without connecting, ahead of a stsm_sts_fetch_start() for
 * the same domain that may follow; no callback runs for it. Whatever `fetch` was doing is
 * dropped first (as stsm_sts_fetch_cancel()). Returns STSM_OK, STSM_ERR_ARGUMENT for a
 * domain too long to prefix, or the error of stsm_resolver_start(). A prepared fetch that
 * is not started must be let go with stsm_sts_fetch_cancel() before its storage is reused
 * (the lookup holds a UDP pcb until it ends).
 */
stsm_status_t stsm_sts_fetch_prepare(struct stsm_sts_fetch *fetch, const char *domain);

/** Drops a prepared or running fetch without calling `done`: its lookup, connection and
 *  timers end. Safe on a fetch that ended, was never started, or is zeroed. */
void stsm_sts_fetch_cancel(struct stsm_sts_fetch *fetch);

/**
 * Starts fetching the policy of `domain` within `timeout_ms`: one deadline, armed here and
 * never pushed back, for everything from the address lookup through connect, the TLS
 * handshake and the request to the last byte of the body; a server that trickles bytes
 * still fails with STSM_ERR_TIMEOUT at it. The body counts only when its framing says it
 * is whole: Content-Length reached, the last chunk, or (no framing) the server's TLS
 * close_notify; a bare TCP close fails with STSM_ERR_TLS_TRUNCATED, a short body with
 * STSM_ERR_PEER_CLOSED. A body over STSM_STS_POLICY_MAX fails with STSM_ERR_CAPACITY. An
 * invalid policy fails with STSM_ERR_STS_POLICY_INVALID only once the body is complete
 * (a cut one fails as cut). With `relax_content_type` a
 * policy served with another Content-Type is accepted (and flagged). When `fetch` was
 * prepared for the same domain, its address lookup (under way, answered or failed) is
 * used instead of a new one; otherwise one starts here. Returns STSM_OK (`done` runs
 * later, never inside this call), STSM_ERR_ARGUMENT for a domain too long to prefix, or
 * the error of stsm_resolver_start().
 */
stsm_status_t stsm_sts_fetch_start(struct stsm_sts_fetch *fetch, const char *domain, struct stsm_tls *tls,
                                   uint32_t timeout_ms, bool relax_content_type,
                                   stsm_sts_fetch_done_fn done, void *arg);

#endif /* STSM_STS_FETCH_H */
