/*
 * stsmail status codes: one enum for every layer. STSM_OK is zero; every other value is
 * a failure whose name says which side failed.
 */
#ifndef STSM_STATUS_H
#define STSM_STATUS_H

#include <stddef.h>

typedef enum {
    STSM_OK = 0,              /**< Success. */
    STSM_ERR_ARGUMENT,        /**< A caller or user argument is invalid. */
    STSM_ERR_NO_MEMORY,       /**< A fixed capacity or the stack's memory is exhausted. */
    STSM_ERR_IO,              /**< The platform failed (device, file, OS call). */
    STSM_ERR_TIMEOUT,         /**< The operation did not finish in its time budget. */
    STSM_ERR_RESOLVE,         /**< A host name could not be resolved to an address. */
    STSM_ERR_CONNECT,         /**< A TCP connection could not be opened (refused, reset, unreachable). */
    STSM_ERR_PEER_CLOSED,     /**< The peer closed the connection before it said what we waited for. */
    STSM_ERR_PEER_PROTOCOL,   /**< The peer sent something the protocol does not allow (e.g. an over-long line). */
    STSM_ERR_CAPACITY,        /**< Valid data does not fit a fixed capacity (stsm_config.h); never cut silently. */
    STSM_ERR_DNS_MALFORMED,   /**< A DNS message breaks the wire format. */
    STSM_ERR_DNS_NOT_ANSWER,  /**< A DNS message is not the answer to our query (ID, flags or question differ). */
    STSM_ERR_DNS_CNAME_CHAIN, /**< A CNAME chain loops or is longer than the hop limit. */
    STSM_ERR_DNS_SERVER_FAILURE, /**< Every DNS server answered with an error (SERVFAIL, REFUSED, ...) or garbage. */
    STSM_ERR_NOT_CONFIGURED,  /**< Something required is not set up (e.g. no DNS server known). */
    STSM_ERR_CORRUPT,         /**< Stored data (trust store, cache, settings blob) failed validation. */
    STSM_ERR_TLS_UNTRUSTED,   /**< The peer's certificate chain does not lead to a trust anchor. */
    STSM_ERR_TLS_EXPIRED,     /**< A certificate in the peer's chain has expired. */
    STSM_ERR_TLS_NOT_YET_VALID, /**< A certificate in the peer's chain is not valid yet. */
    STSM_ERR_TLS_NAME_MISMATCH, /**< The peer's certificate is not valid for the expected host name. */
    STSM_ERR_TLS_VERSION,     /**< The peer has no TLS 1.2+ version or AEAD suite in common with us
                                   (it answered an older version, or refused our ClientHello). */
    STSM_ERR_TLS_HANDSHAKE,   /**< The TLS handshake failed for another reason (see the log). */
    STSM_ERR_TLS_NOT_OFFERED, /**< TLS is required but the server offers no STARTTLS (or refuses it). */
    STSM_ERR_STS_HTTP_STATUS, /**< The MTA-STS policy server answered with a status other than 200 (redirects are not followed). */
    STSM_ERR_STS_CONTENT_TYPE, /**< The MTA-STS policy is not served as text/plain. */
    STSM_ERR_STS_POLICY_INVALID, /**< The MTA-STS policy body breaks RFC 8461 section 3.2. */
    STSM_ERR_STS_NO_MATCH,    /**< Under an MTA-STS policy, no MX host is usable (names, TLS or strict CNAME rules). */
    STSM_ERR_TLS_TRUNCATED,   /**< TCP closed under TLS without close_notify: what came before may be cut short. */
    STSM_ERR_FULL,            /**< The outbox (or the store under it) has no room: nothing was stored, nothing dropped. */
    STSM_ERR_NOT_FOUND,       /**< No stored item has that id or key. */
    STSM_ERR_STOPPED,         /**< The attempt was stopped for a shutdown before it ended. */
    STSM_STATUS_COUNT         /**< Number of codes; not a status. */
} stsm_status_t;

/** Returns a short lower-case description of a status for messages (never NULL). */
const char *stsm_status_str(stsm_status_t status);

/** Returns a stable identifier for machine-readable output, e.g. "dns_server_failure"
 *  (never NULL). Identifiers never change meaning once published. */
const char *stsm_status_id(stsm_status_t status);

#include "stsm_text.h"

/** Writes one sentence naming what was wrong into `why` (`len` bytes) and returns
 *  STSM_ERR_ARGUMENT: the shape of every input check's refusal. The format must be a
 *  literal: the macro marks it (stsm_text.h), so with STSM_TEXT_IDS the sentence is in
 *  id form (a settings error keeps its JSON path as an argument). */
#define stsm_refuse(why, len, ...) stsm_refuse_text((why), (len), STSM_TEXT(__VA_ARGS__))

STSM_TEXT_PRINTF(3, 4)
stsm_status_t STSM_TEXT_WORDS(stsm_refuse_text)(char *why, size_t len, STSM_TEXT_PARAMS, ...);
STSM_TEXT_SPLIT_RET(stsm_status_t, stsm_refuse_text, (char *why, size_t len), why, len);

#endif /* STSM_STATUS_H */
