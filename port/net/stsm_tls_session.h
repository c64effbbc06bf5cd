/*
 * A small fixed table of TLS sessions kept in RAM for resumption, one per server host name
 * and port (an MX host, the relay, an MTA-STS policy host). Sessions are stored serialized
 * (mbedtls_ssl_session_save()), so that none holds arena memory between connections.
 *
 * The table is plain bytes: it does not know TLS. What may be stored is decided by the
 * caller (stsm_tls.c stores only sessions whose chain verified for that exact host name).
 * A session is found only under the exact host name and port it was stored with. Every
 * slot is wiped when it is replaced, evicted or forgotten.
 */
#ifndef STSM_TLS_SESSION_H
#define STSM_TLS_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "stsm_config.h"
#include "stsm_status.h"

/** One slot. Fields are private. */
struct stsm_tls_session_slot {
    uint32_t used;                           /* last use (table clock); 0: empty */
    uint16_t port;
    uint16_t len;
    char host[STSM_HOSTNAME_MAX + 1];
    unsigned char blob[STSM_TLS_SESSION_BLOB_MAX];
};

/** The table. Allocate statically; zero-filled (or stsm_tls_session_init()) is empty. */
struct stsm_tls_session_table {
    uint32_t clock;
    uint32_t not_kept;                       /* sessions that did not fit a slot (counted) */
    struct stsm_tls_session_slot slot[STSM_TLS_SESSION_SLOTS];
};

/** Empties the table (wiping every slot). */
void stsm_tls_session_init(struct stsm_tls_session_table *table);

/**
 * Claims the slot for `host`:`port`: its own when it has one, else an empty slot, else the
 * least recently used (wiped). The slot is emptied (so an abandoned write leaves nothing);
 * write at most *cap bytes into the returned buffer, then call stsm_tls_session_commit().
 * Returns NULL for an empty host name or one longer than STSM_HOSTNAME_MAX, and always when
 * the table has no slots (STSM_TLS_SESSION_SLOTS 0).
 */
unsigned char *stsm_tls_session_reserve(struct stsm_tls_session_table *table, const char *host,
                                        uint16_t port, size_t *cap);

/** Marks the slot of `blob` (from stsm_tls_session_reserve()) as holding `len` bytes. A
 *  length of 0 (the session did not fit) or above the capacity leaves the slot empty (and
 *  wiped) and is counted (stsm_tls_session_not_kept()): not a failure, the next
 *  connection to that host makes a full handshake. */
void stsm_tls_session_commit(struct stsm_tls_session_table *table, unsigned char *blob, size_t len);

/**
 * Stores a copy of `blob` for `host`:`port` (reserve, copy, commit). Returns
 * STSM_ERR_ARGUMENT for a bad host name, STSM_ERR_CAPACITY when `len` is 0 or above
 * STSM_TLS_SESSION_BLOB_MAX (the host's earlier session is then forgotten too).
 */
stsm_status_t stsm_tls_session_put(struct stsm_tls_session_table *table, const char *host, uint16_t port,
                                   const void *blob, size_t len);

/**
 * The session stored for exactly `host`:`port` (byte-for-byte host name), counted as used;
 * NULL when there is none. The bytes stay valid until the table is next changed.
 */
const unsigned char *stsm_tls_session_get(struct stsm_tls_session_table *table, const char *host,
                                          uint16_t port, size_t *len);

/** Forgets (wipes) the session of `host`:`port`, if any. */
void stsm_tls_session_drop(struct stsm_tls_session_table *table, const char *host, uint16_t port);

/** Forgets (wipes) every session. */
void stsm_tls_session_forget_all(struct stsm_tls_session_table *table);

/** Sessions not kept because they did not fit STSM_TLS_SESSION_BLOB_MAX, since
 *  stsm_tls_session_init() (for reports; forgetting sessions keeps the count). */
uint32_t stsm_tls_session_not_kept(const struct stsm_tls_session_table *table);

/** Number of sessions held. */
size_t stsm_tls_session_count(const struct stsm_tls_session_table *table);

#endif /* STSM_TLS_SESSION_H */
