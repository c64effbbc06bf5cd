/*
 * The transport contract of the protocol engines' drivers (the delivery): one byte stream
 * to a server that can be upgraded to TLS in place (STARTTLS) or start with it (implicit
 * TLS), reached only through the function pointers of struct stsm_transport and an opaque
 * context. The lwIP connection (stsm_conn.h, stsm_conn_transport()) is one
 * implementation; a scripted test peer is another.
 *
 *   send()   bytes taken (> 0), 0 = would block (call again with the same bytes on
 *            STSM_CONN_WRITABLE), < 0 = -status
 *   recv()   bytes read (> 0), 0 = nothing yet (wait for STSM_CONN_READABLE), < 0 = -status;
 *            -STSM_ERR_PEER_CLOSED once the peer has ended the stream in order (TCP FIN in
 *            plaintext; TLS close_notify under TLS), -STSM_ERR_TLS_TRUNCATED when TCP closed
 *            under TLS without close_notify (an error: anyone on the path can forge a FIN,
 *            so what was read may be cut short)
 *
 * Events arrive through the function given to connect(), always from the main loop and
 * never inside a call of this interface; the event function may call any operation,
 * close() included. After close() no event follows.
 */
#ifndef STSM_TRANSPORT_H
#define STSM_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lwip/ip_addr.h"
#include "stsm_status.h"

struct stsm_tls;

enum stsm_conn_event {
    STSM_CONN_CONNECTED,   /**< TCP is up */
    STSM_CONN_TLS_READY,   /**< the handshake finished; the peer verified, except after
                                start_tls_opportunistic() (see tls_verify_status()) */
    STSM_CONN_READABLE,    /**< recv() has something (data, or the peer's close) */
    STSM_CONN_WRITABLE,    /**< the peer acknowledged data: room to send again */
    STSM_CONN_FAILED,      /**< the connection is dead; status says why. Close it. */
};

/** An event of the transport for `arg` (the one given to connect()). */
typedef void (*stsm_transport_event_fn)(void *arg, enum stsm_conn_event event, stsm_status_t status);

/** The operations of one transport. Every one takes the transport's context first. */
struct stsm_transport {
    /** Opens a connection to `address`:`port`. STSM_CONN_CONNECTED follows, or
     *  STSM_CONN_FAILED (STSM_ERR_CONNECT, STSM_ERR_TIMEOUT after `timeout_ms`). A status
     *  other than STSM_OK means it did not start and no event follows. */
    stsm_status_t (*connect)(void *ctx, const ip_addr_t *address, uint16_t port, uint32_t timeout_ms,
                             stsm_transport_event_fn event, void *arg);
    /** Starts TLS on an open connection, verifying the peer as `host` (SNI and the name
     *  check) against `tls`. STSM_CONN_TLS_READY follows, or STSM_CONN_FAILED with the
     *  reason (STSM_ERR_TLS_*, STSM_ERR_TIMEOUT). Refuses with STSM_ERR_PEER_PROTOCOL when
     *  the peer sent bytes not yet read (RFC 3207: nothing may precede the handshake). */
    stsm_status_t (*start_tls)(void *ctx, struct stsm_tls *tls, const char *host);
    /** The same, but a certificate that fails verification does not fail the handshake
     *  (RFC 7435): STSM_CONN_TLS_READY follows and tls_verify_status() says why the session
     *  is not verified. Never where verified TLS is required. */
    stsm_status_t (*start_tls_opportunistic)(void *ctx, struct stsm_tls *tls, const char *host);
    /** After STSM_CONN_TLS_READY: STSM_OK when the peer's chain verified for the host,
     *  else the reason (STSM_ERR_TLS_UNTRUSTED, _EXPIRED, _NOT_YET_VALID, _NAME_MISMATCH).
     *  Before a handshake finished: STSM_ERR_TLS_HANDSHAKE, never STSM_OK. */
    stsm_status_t (*tls_verify_status)(void *ctx);
    /** The protocol version and cipher suite of the TLS session for logs (static text,
     *  "?" when TLS is not up). */
    void (*tls_describe)(void *ctx, const char **version, const char **suite);
    /** True once TLS is up. */
    bool (*is_tls)(void *ctx);
    long (*send)(void *ctx, const void *data, size_t len);
    long (*recv)(void *ctx, void *buf, size_t cap);
    /** Pushes queued bytes onto the wire now (after a burst of sends). */
    void (*flush)(void *ctx);
    /** Ends the connection (TLS close_notify first when TLS is up). No event follows.
     *  Safe on any state, also twice. */
    void (*close)(void *ctx);
    /** Our own address on the connection ("192.0.2.10"), for the EHLO address literal;
     *  false when there is none (not connected). */
    bool (*local_address)(void *ctx, char *buf, size_t cap);
};

#endif /* STSM_TRANSPORT_H */
