/*
 * One TCP connection on lwIP's raw API that can be upgraded to TLS in place (STARTTLS) or
 * start with it (implicit TLS): the transport of the protocol engines. Its calls keep the
 * contract written in stsm_transport.h (send/recv return values, events, close), and
 * stsm_conn_transport() offers it through that interface.
 *
 * Everything is event-driven on the lwIP main loop (NO_SYS): events arrive through the
 * callback given to stsm_conn_connect(), which may call any of the functions below,
 * stsm_conn_close() included.
 */
#ifndef STSM_CONN_H
#define STSM_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lwip/ip_addr.h"
#include "lwip/tcp.h"
#include "mbedtls/ssl.h"
#include "stsm_status.h"
#include "stsm_tls.h"
#include "stsm_transport.h"

struct stsm_conn;
typedef void (*stsm_conn_event_fn)(void *arg, struct stsm_conn *conn, enum stsm_conn_event event,
                                   stsm_status_t status);

enum stsm_conn_state {
    STSM_CONN_IDLE,
    STSM_CONN_STATE_CONNECTING,
    STSM_CONN_STATE_OPEN,
    STSM_CONN_STATE_HANDSHAKE,
    STSM_CONN_STATE_TLS,
    STSM_CONN_STATE_DEAD,
};

/** One connection. Allocate statically; fields are private (see the accessors). */
struct stsm_conn {
    enum stsm_conn_state state;
    struct tcp_pcb *pcb;
    struct pbuf *rx;               /* received and not yet consumed */
    bool peer_closed;
    bool aborted;                  /* we aborted pcb inside one of its callbacks */
    bool ssl_set_up;
    mbedtls_ssl_context ssl;
    int tls_error;                 /* Mbed TLS error of a failed handshake */
    stsm_status_t deferred;        /* failure to report from the timer */
    bool tls_rx_started;
    uint8_t first_record_type;     /* TLS record type of the peer's first record */
    uint32_t verify_flags;         /* Mbed TLS verify flags of the peer chain */
    bool opportunistic;            /* a chain that fails verification does not fail TLS */
    stsm_status_t verify_status;   /* STSM_OK only for a handshake that ended verified */
    size_t arena_peak;             /* arena peak from start_tls to handshake end */
    struct stsm_tls *tls;          /* where a verified session is kept (start_tls) */
    uint16_t port;                 /* the server's port: sessions are kept per host and port */
    bool resumed;                  /* the handshake resumed a stored session */
    bool arena_ran_out;            /* the TLS arena refused an allocation in this handshake */
    size_t tls_write_pending;      /* length of a TLS write refused for send room (stsm_conn_send) */
    stsm_conn_event_fn event;
    void *event_arg;
};

/**
 * Opens a TCP connection to `address`:`port`. STSM_CONN_CONNECTED follows, or
 * STSM_CONN_FAILED (STSM_ERR_CONNECT, STSM_ERR_TIMEOUT after `timeout_ms`).
 * Returns STSM_ERR_NO_MEMORY when lwIP has no pcb.
 */
stsm_status_t stsm_conn_connect(struct stsm_conn *conn, const ip_addr_t *address, uint16_t port,
                                uint32_t timeout_ms, stsm_conn_event_fn event, void *arg);

/**
 * Starts TLS on an open connection, verifying the peer as `host` (SNI and the
 * certificate name check). STSM_CONN_TLS_READY follows, or STSM_CONN_FAILED with the
 * reason (STSM_ERR_TLS_*, STSM_ERR_TIMEOUT; STSM_ERR_NO_MEMORY whenever the TLS arena,
 * STSM_TLS_ARENA_SIZE, refused an allocation during the handshake and it did not end
 * verified: never a verdict on the peer, whatever Mbed TLS made of the failure).
 * Returns STSM_ERR_NO_MEMORY at once when the arena cannot even set the session up.
 * TLS 1.3 is offered, TLS 1.2 accepted. A
 * session stored for `host` and this port (stsm_tls_session_offer()) is offered for
 * resumption; a server that refuses it makes a full handshake. The session of a verified
 * handshake is stored in `tls` for the next connection (TLS 1.3: when the server's ticket
 * arrives, read by stsm_conn_recv()). Refuses with STSM_ERR_PEER_PROTOCOL when the
 * peer has sent bytes that were not read yet: after "220 ready to start TLS" nothing may
 * precede the handshake (RFC 3207), and accepting it would let plaintext injected by an
 * attacker pass as if it came under TLS.
 */
stsm_status_t stsm_conn_start_tls(struct stsm_conn *conn, struct stsm_tls *tls, const char *host);

/**
 * Opportunistic TLS (RFC 7435; Postfix's "may" and "encrypt"): the same as
 * stsm_conn_start_tls() (same version floor and suites, `host` sent as SNI and checked),
 * except that a certificate that fails verification (untrusted, expired, not yet valid,
 * name mismatch, unacceptable key or usage) does not fail the handshake, unless the TLS
 * arena ran out during it (STSM_ERR_NO_MEMORY: the failure is not the peer's). The session is
 * then encrypted but not authenticated: STSM_CONN_TLS_READY follows, and
 * stsm_conn_tls_verify_status() says why it is not verified. Any other handshake failure
 * is STSM_CONN_FAILED as with stsm_conn_start_tls(). Never use it where policy or
 * settings require verified TLS (MTA-STS enforce, relays, the policy fetch).
 */
stsm_status_t stsm_conn_start_tls_opportunistic(struct stsm_conn *conn, struct stsm_tls *tls,
                                                const char *host);

/**
 * The verdict on the peer of the last handshake on this connection, valid from
 * STSM_CONN_TLS_READY until the next stsm_conn_connect() (also after stsm_conn_close()):
 * STSM_OK when its chain verified for the host name given, else the reason
 * (STSM_ERR_TLS_UNTRUSTED, _EXPIRED, _NOT_YET_VALID, _NAME_MISMATCH; flags without a name
 * of their own and a missing verdict are STSM_ERR_TLS_UNTRUSTED). Before a handshake has
 * finished it is STSM_ERR_TLS_HANDSHAKE, never STSM_OK. After stsm_conn_start_tls() a
 * READY session is always STSM_OK.
 */
stsm_status_t stsm_conn_tls_verify_status(const struct stsm_conn *conn);

/** Send and receive as stsm_transport.h says (bytes moved, 0 would block, -status). After
 *  a 0 under TLS the next send must start with the same bytes (more may follow them). */
long stsm_conn_send(struct stsm_conn *conn, const void *data, size_t len);
long stsm_conn_recv(struct stsm_conn *conn, void *buf, size_t cap);

/** Pushes queued bytes onto the wire now (after a burst of sends). */
void stsm_conn_flush(struct stsm_conn *conn);

/** Ends the connection (TLS close_notify first when TLS is up) and frees its resources.
 *  No event follows. Safe on any state. */
void stsm_conn_close(struct stsm_conn *conn);

/** True once TLS is up. */
bool stsm_conn_is_tls(const struct stsm_conn *conn);

/** True once TLS is up on a resumed session (no certificate was sent: the verdict is the
 *  one stored with the session). */
bool stsm_conn_tls_resumed(const struct stsm_conn *conn);

/** The negotiated version for logs: "TLSv1.3", "TLSv1.2", with ", resumed" appended for a
 *  resumed session ("TLSv1.3, resumed"); "?" when TLS is not up. Static text. */
const char *stsm_conn_tls_version(const struct stsm_conn *conn);

/** The TLS session (version, suite, peer chain) once TLS is up, else NULL. */
const mbedtls_ssl_context *stsm_conn_tls_session(const struct stsm_conn *conn);

/** Verify flags of the peer's chain (0 when it verified or when no chain was checked: use
 *  stsm_conn_tls_verify_status() for a verdict), the Mbed TLS error of a failed handshake,
 *  and the arena peak of the handshake. */
int stsm_conn_tls_error(const struct stsm_conn *conn);
uint32_t stsm_conn_verify_flags(const struct stsm_conn *conn);
size_t stsm_conn_tls_arena_peak(const struct stsm_conn *conn);

/** The connection as a transport (stsm_transport.h): the context of stsm_conn_transport()'s
 *  operations. Allocate statically; fields are private. */
struct stsm_conn_transport_ctx {
    struct stsm_conn conn;
    stsm_transport_event_fn event;
    void *event_arg;
};

/** The operations of the lwIP connection as a transport; their context is a
 *  struct stsm_conn_transport_ctx. */
const struct stsm_transport *stsm_conn_transport(void);

#endif /* STSM_CONN_H */
