#include "stsm_conn.h"

#include <string.h>

#include "lwip/priv/tcp_priv.h"   /* tcp_ack_now() */
#include "lwip/timeouts.h"
#include "mbedtls/error.h"
#include "stsm_config.h"

static void conn_timeout(void *arg);

/* Delivers an event to the owner. Returns the value an lwIP callback on `pcb` must return:
 * ERR_ABRT when the owner's reaction aborted that pcb. */
static err_t notify(struct stsm_conn *conn, enum stsm_conn_event event, stsm_status_t status)
{
    conn->aborted = false;
    conn->event(conn->event_arg, conn, event, status);
    return conn->aborted ? ERR_ABRT : ERR_OK;
}

/* The connection is dead: stop the timer and tell the owner, who will close it. */
static err_t fail(struct stsm_conn *conn, stsm_status_t status)
{
    sys_untimeout(conn_timeout, conn);
    conn->state = STSM_CONN_STATE_DEAD;
    return notify(conn, STSM_CONN_FAILED, status);
}

/* The connection's one timer: its deadline passed, or a failure found inside a call
 * that may not raise events (deferred) is due. */
static void conn_timeout(void *arg)
{
    struct stsm_conn *conn = arg;
    fail(conn, conn->deferred != STSM_OK ? conn->deferred : STSM_ERR_TIMEOUT);
}

/* Takes up to `len` received bytes off the queue and reopens the TCP window by as much:
 * the peer can only send as fast as we consume (backpressure). */
static size_t take_rx(struct stsm_conn *conn, void *buf, size_t len)
{
    if (conn->rx == NULL) {
        return 0;
    }
    size_t n = len < conn->rx->tot_len ? len : conn->rx->tot_len;
    n = pbuf_copy_partial(conn->rx, buf, (u16_t)(n > 0xFFFF ? 0xFFFF : n), 0);
    conn->rx = pbuf_free_header(conn->rx, (u16_t)n);
    if (conn->pcb != NULL) {
        tcp_recved(conn->pcb, (u16_t)n);
    }
    return n;
}

/* Hands as much of `data` to TCP as its send buffer takes now. */
static size_t put_tx(struct stsm_conn *conn, const void *data, size_t len)
{
    size_t room = conn->pcb != NULL ? tcp_sndbuf(conn->pcb) : 0;
    size_t n = len < room ? len : room;
    if (n > 0xFFFF) {
        n = 0xFFFF;
    }
    if (n == 0 || tcp_write(conn->pcb, data, (u16_t)n, TCP_WRITE_FLAG_COPY) != ERR_OK) {
        return 0;
    }
    return n;
}

/* ---- Mbed TLS I/O over the same queues ------------------------------------------------ */

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    struct stsm_conn *conn = ctx;
    size_t n = put_tx(conn, buf, len);
    if (n == 0) {
        return MBEDTLS_ERR_SSL_WANT_WRITE;
    }
    tcp_output(conn->pcb);
    return (int)n;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    struct stsm_conn *conn = ctx;
    size_t n = take_rx(conn, buf, len);
    if (n > 0) {
        /* Note the type of the peer's first record: an alert there means it refused our
         * ClientHello outright (nothing in common), not a failure later on. */
        if (!conn->tls_rx_started) {
            conn->tls_rx_started = true;
            conn->first_record_type = buf[0];
        }
        return (int)n;
    }
    return conn->peer_closed ? 0 : MBEDTLS_ERR_SSL_WANT_READ;   /* 0 is EOF to Mbed TLS */
}

/* The peer chain's verify flags; Mbed TLS reports "no result yet" (the handshake ended
 * before any certificate arrived) as all bits set, which is not a verdict. */
static uint32_t verify_flags(const mbedtls_ssl_context *ssl)
{
    uint32_t flags = mbedtls_ssl_get_verify_result(ssl);
    return flags == UINT32_MAX ? 0 : flags;
}

/* Stores the session for the next connection to this host and port; stsm_tls refuses
 * one that did not verify on the verifying configuration. */
static void keep_session(struct stsm_conn *conn)
{
    if (conn->tls != NULL && !conn->opportunistic) {
        stsm_tls_session_keep(conn->tls, &conn->ssl, mbedtls_ssl_get_hostname(&conn->ssl), conn->port);
    }
}

/* One call into the handshake, noting whether the arena refused an allocation meanwhile
 * (NO_SYS: nothing else allocates from it during the call). Not inlined: two callers. */
__attribute__((noinline)) static int handshake_call(struct stsm_conn *conn)
{
    uint32_t failures = stsm_tls_arena_failures();
    int ret = mbedtls_ssl_handshake(&conn->ssl);
    conn->arena_ran_out |= stsm_tls_arena_failures() != failures;
    return ret;
}

/* Why a handshake failed. An exhausted arena comes first: Mbed TLS may have turned it
 * into any other error, an untrusted chain included, and it is a sizing error of the
 * board (STSM_TLS_ARENA_SIZE), never a verdict on the peer. */
static stsm_status_t handshake_failure(const struct stsm_conn *conn, int ret)
{
    return conn->arena_ran_out ? STSM_ERR_NO_MEMORY : stsm_tls_failure_reason(ret, conn->verify_flags);
}

/* Advances the handshake; called whenever bytes arrive or send room opens up. */
static err_t step_handshake(struct stsm_conn *conn)
{
    int ret = handshake_call(conn);
    if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
        return ERR_OK;
    }
    size_t current;
    stsm_tls_arena_usage(&current, &conn->arena_peak);
    conn->verify_flags = verify_flags(&conn->ssl);
    if (ret != 0) {
        conn->tls_error = ret;
        if (ret == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE && !conn->arena_ran_out &&
            conn->first_record_type == MBEDTLS_SSL_MSG_ALERT) {
            return fail(conn, STSM_ERR_TLS_VERSION);
        }
        return fail(conn, handshake_failure(conn, ret));
    }
    /* The verdict comes from the raw result: "no result" (all bits set) is not a
     * verification. VERIFY_REQUIRED already failed the handshake on a bad chain; checked
     * again so that no configuration slip can let an unverified session through. */
    /* A full handshake keeps the peer's certificate; a resumed one has none, since stored
     * sessions are kept without it (stsm_tls_session_keep()). */
    conn->resumed = mbedtls_ssl_get_peer_cert(&conn->ssl) == NULL;
    uint32_t raw = mbedtls_ssl_get_verify_result(&conn->ssl);
    conn->verify_status = raw == 0 ? STSM_OK
                        : stsm_tls_failure_reason(MBEDTLS_ERR_X509_CERT_VERIFY_FAILED,
                                                  raw == UINT32_MAX ? MBEDTLS_X509_BADCERT_NOT_TRUSTED : raw);
    if (conn->verify_status != STSM_OK && conn->arena_ran_out) {
        return fail(conn, STSM_ERR_NO_MEMORY);   /* no verdict: the check itself ran out of memory */
    }
    if (conn->verify_status != STSM_OK && !conn->opportunistic) {
        return fail(conn, conn->verify_status);
    }
    sys_untimeout(conn_timeout, conn);
    conn->state = STSM_CONN_STATE_TLS;
    if (mbedtls_ssl_get_version_number(&conn->ssl) == MBEDTLS_SSL_VERSION_TLS1_2) {
        keep_session(conn);   /* TLS 1.3: when its ticket arrives (stsm_conn_recv) */
    }
    return notify(conn, STSM_CONN_TLS_READY, STSM_OK);
}

/* ---- lwIP callbacks ------------------------------------------------------------------ */

static err_t on_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
    struct stsm_conn *conn = arg;
    (void)pcb;
    (void)err;   /* failures arrive through on_error */
    sys_untimeout(conn_timeout, conn);
    conn->state = STSM_CONN_STATE_OPEN;
    return notify(conn, STSM_CONN_CONNECTED, STSM_OK);
}

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    struct stsm_conn *conn = arg;
    (void)err;
    if (p != NULL) {
        /* Acknowledged at once instead of at lwIP's delayed-ACK timer (up to 250 ms): a
         * peer with Nagle on holds its next small write until this segment is acked, so a
         * reply that follows a segment we do not answer (the TLS 1.3 server's
         * NewSessionTicket, then its reply to the EHLO that came with our Finished) would
         * wait for that timer and a round trip more. When we do answer, tcp_input()'s
         * tcp_output() after this callback carries the ACK on our data: no extra segment. */
        tcp_ack_now(pcb);
    }
    if (p == NULL) {
        conn->peer_closed = true;
    } else if (conn->rx == NULL) {
        conn->rx = p;
    } else {
        pbuf_cat(conn->rx, p);
    }
    if (conn->state == STSM_CONN_STATE_HANDSHAKE) {
        return step_handshake(conn);
    }
    return notify(conn, STSM_CONN_READABLE, STSM_OK);
}

static err_t on_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    struct stsm_conn *conn = arg;
    (void)pcb;
    (void)len;
    if (conn->state == STSM_CONN_STATE_HANDSHAKE) {
        return step_handshake(conn);
    }
    return notify(conn, STSM_CONN_WRITABLE, STSM_OK);
}

static void on_error(void *arg, err_t err)
{
    struct stsm_conn *conn = arg;
    (void)err;
    conn->pcb = NULL;   /* lwIP has freed it */
    fail(conn, conn->state == STSM_CONN_STATE_CONNECTING ? STSM_ERR_CONNECT : STSM_ERR_PEER_CLOSED);
}

/* ---- the contract -------------------------------------------------------------------- */

stsm_status_t stsm_conn_connect(struct stsm_conn *conn, const ip_addr_t *address, uint16_t port,
                                uint32_t timeout_ms, stsm_conn_event_fn event, void *arg)
{
    memset(conn, 0, sizeof *conn);
    conn->verify_status = STSM_ERR_TLS_HANDSHAKE;
    conn->event = event;
    conn->event_arg = arg;
    conn->port = port;
    conn->pcb = tcp_new_ip_type(IP_GET_TYPE(address));
    if (conn->pcb == NULL) {
        return STSM_ERR_NO_MEMORY;
    }
    /* Every write is a whole command, reply or TLS flight that the peer waits for: Nagle
     * would hold a small one until the previous one's ACK, a round trip (or the peer's
     * delayed-ACK timer) for nothing. */
    tcp_nagle_disable(conn->pcb);
    tcp_arg(conn->pcb, conn);
    tcp_recv(conn->pcb, on_recv);
    tcp_sent(conn->pcb, on_sent);
    tcp_err(conn->pcb, on_error);
    conn->state = STSM_CONN_STATE_CONNECTING;
    if (tcp_connect(conn->pcb, address, port, on_connected) != ERR_OK) {
        /* Reported once, by the return value: tcp_abort() would also call on_error. */
        tcp_arg(conn->pcb, NULL);
        tcp_err(conn->pcb, NULL);
        tcp_abort(conn->pcb);
        conn->pcb = NULL;
        conn->state = STSM_CONN_IDLE;
        return STSM_ERR_CONNECT;
    }
    sys_timeout(timeout_ms, conn_timeout, conn);
    return STSM_OK;
}

static stsm_status_t start_tls(struct stsm_conn *conn, struct stsm_tls *tls, const mbedtls_ssl_config *conf,
                               const char *host, bool opportunistic)
{
    if (conn->state != STSM_CONN_STATE_OPEN || host == NULL || host[0] == '\0') {
        return STSM_ERR_ARGUMENT;
    }
    if (conn->rx != NULL) {
        return STSM_ERR_PEER_PROTOCOL;
    }
    stsm_tls_handshake_begin();
    mbedtls_ssl_init(&conn->ssl);
    conn->ssl_set_up = true;
    conn->opportunistic = opportunistic;
    conn->arena_ran_out = false;
    conn->verify_status = STSM_ERR_TLS_HANDSHAKE;
    /* The host name is set in both modes: it is the SNI, and the name check still runs
     * (an opportunistic session reports a mismatch instead of failing on it). */
    if (mbedtls_ssl_setup(&conn->ssl, conf) != 0 || mbedtls_ssl_set_hostname(&conn->ssl, host) != 0) {
        return STSM_ERR_NO_MEMORY;
    }
    conn->tls = tls;
    if (!opportunistic) {
        stsm_tls_session_offer(tls, &conn->ssl, host, conn->port);
    }
    mbedtls_ssl_set_bio(&conn->ssl, conn, bio_send, bio_recv, NULL);
    conn->state = STSM_CONN_STATE_HANDSHAKE;
    /* Armed once: bytes arriving during the handshake never push it back, so a peer
     * that trickles its flight still fails at this deadline. */
    sys_timeout(STSM_TLS_HANDSHAKE_TIMEOUT_MS, conn_timeout, conn);
    /* The first flight (ClientHello) goes out now; a failure this early is reported as an
     * event like any other, from the next timer tick. */
    int ret = handshake_call(conn);
    if (ret != 0 && ret != MBEDTLS_ERR_SSL_WANT_READ && ret != MBEDTLS_ERR_SSL_WANT_WRITE) {
        conn->tls_error = ret;
        conn->verify_flags = verify_flags(&conn->ssl);
        conn->deferred = handshake_failure(conn, ret);
        sys_untimeout(conn_timeout, conn);
        sys_timeout(0, conn_timeout, conn);
    }
    return STSM_OK;
}

stsm_status_t stsm_conn_start_tls(struct stsm_conn *conn, struct stsm_tls *tls, const char *host)
{
    return start_tls(conn, tls, &tls->conf, host, false);
}

stsm_status_t stsm_conn_start_tls_opportunistic(struct stsm_conn *conn, struct stsm_tls *tls,
                                                const char *host)
{
    return start_tls(conn, tls, &tls->conf_opportunistic, host, true);
}

long stsm_conn_send(struct stsm_conn *conn, const void *data, size_t len)
{
    if (conn->state == STSM_CONN_STATE_OPEN) {
        return (long)put_tx(conn, data, len);
    }
    if (conn->state != STSM_CONN_STATE_TLS) {
        return -(long)STSM_ERR_ARGUMENT;
    }
    /* A write refused for want of send room leaves Mbed TLS holding a record of its first
     * bytes; called again with the same data, it reports that record as written, counted
     * up to the length it is then given. Callers offer their whole queue, which may have
     * grown meanwhile: offering more than the refused length would count bytes that were
     * never in the record. */
    size_t offer = conn->tls_write_pending > 0 && conn->tls_write_pending < len ? conn->tls_write_pending : len;
    int ret = mbedtls_ssl_write(&conn->ssl, data, offer);
    if (ret >= 0) {
        conn->tls_write_pending = 0;
        return ret;
    }
    if (ret == MBEDTLS_ERR_SSL_WANT_WRITE || ret == MBEDTLS_ERR_SSL_WANT_READ) {
        conn->tls_write_pending = offer;
        return 0;
    }
    return -(long)STSM_ERR_PEER_PROTOCOL;
}

long stsm_conn_recv(struct stsm_conn *conn, void *buf, size_t cap)
{
    if (conn->state == STSM_CONN_STATE_OPEN) {
        size_t n = take_rx(conn, buf, cap);
        if (n > 0) {
            return (long)n;
        }
        return conn->peer_closed ? -(long)STSM_ERR_PEER_CLOSED : 0;
    }
    if (conn->state != STSM_CONN_STATE_TLS) {
        return -(long)STSM_ERR_ARGUMENT;
    }
    /* TLS 1.3 servers send tickets after the handshake, often in the same flight as their
     * first reply. Mbed TLS answers a ticket record with WANT_READ (bytes may still wait
     * in rx, and no TCP event would come for them), then, at the next call, with
     * RECEIVED_NEW_SESSION_TICKET. So reading goes on while rx holds bytes (each call
     * consumes some), once more after a WANT_READ on an empty rx (a ticket Mbed TLS kept
     * for that call), and after each ticket, which is kept for the next connection. */
    int ret;
    bool retried = false;
    for (;;) {
        ret = mbedtls_ssl_read(&conn->ssl, buf, cap);
        if (ret == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET) {
            keep_session(conn);
            retried = false;
            continue;
        }
        if (ret == MBEDTLS_ERR_SSL_WANT_READ && (conn->rx != NULL || !retried)) {
            retried = retried || conn->rx == NULL;
            continue;
        }
        break;
    }
    if (ret > 0) {
        return ret;
    }
    if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
        return 0;
    }
    if (ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
        return -(long)STSM_ERR_PEER_CLOSED;
    }
    if (ret == 0) {
        /* TCP ended without close_notify (Mbed TLS reports it as 0). Under TLS only
         * close_notify proves the stream ended where the peer meant it to. */
        return -(long)STSM_ERR_TLS_TRUNCATED;
    }
    return -(long)STSM_ERR_PEER_PROTOCOL;   /* a record that does not decrypt, say */
}

void stsm_conn_flush(struct stsm_conn *conn)
{
    if (conn->pcb != NULL) {
        tcp_output(conn->pcb);
    }
}

void stsm_conn_close(struct stsm_conn *conn)
{
    sys_untimeout(conn_timeout, conn);
    if (conn->state == STSM_CONN_STATE_TLS && conn->pcb != NULL) {
        (void)mbedtls_ssl_close_notify(&conn->ssl);   /* best effort */
    }
    if (conn->pcb != NULL) {
        tcp_arg(conn->pcb, NULL);
        tcp_recv(conn->pcb, NULL);
        tcp_sent(conn->pcb, NULL);
        tcp_err(conn->pcb, NULL);
        if (tcp_close(conn->pcb) != ERR_OK) {
            tcp_abort(conn->pcb);
            conn->aborted = true;
        }
        conn->pcb = NULL;
    }
    if (conn->rx != NULL) {
        pbuf_free(conn->rx);
        conn->rx = NULL;
    }
    if (conn->ssl_set_up) {
        mbedtls_ssl_free(&conn->ssl);
        conn->ssl_set_up = false;
    }
    conn->state = STSM_CONN_IDLE;
}

bool stsm_conn_is_tls(const struct stsm_conn *conn)
{
    return conn->state == STSM_CONN_STATE_TLS;
}

bool stsm_conn_tls_resumed(const struct stsm_conn *conn)
{
    return conn->state == STSM_CONN_STATE_TLS && conn->resumed;
}

const char *stsm_conn_tls_version(const struct stsm_conn *conn)
{
    if (conn->state != STSM_CONN_STATE_TLS) {
        return "?";
    }
    switch (mbedtls_ssl_get_version_number(&conn->ssl)) {
    case MBEDTLS_SSL_VERSION_TLS1_3:
        return conn->resumed ? "TLSv1.3, resumed" : "TLSv1.3";
    case MBEDTLS_SSL_VERSION_TLS1_2:
        return conn->resumed ? "TLSv1.2, resumed" : "TLSv1.2";
    default:
        return "?";
    }
}

const mbedtls_ssl_context *stsm_conn_tls_session(const struct stsm_conn *conn)
{
    return conn->state == STSM_CONN_STATE_TLS ? &conn->ssl : NULL;
}

uint32_t stsm_conn_verify_flags(const struct stsm_conn *conn)
{
    return conn->verify_flags;
}

size_t stsm_conn_tls_arena_peak(const struct stsm_conn *conn)
{
    return conn->arena_peak;
}

int stsm_conn_tls_error(const struct stsm_conn *conn)
{
    return conn->tls_error;
}

stsm_status_t stsm_conn_tls_verify_status(const struct stsm_conn *conn)
{
    return conn->verify_status;
}

/* ---- the connection as a transport (stsm_transport.h) --------------------------------- */

static void transport_event(void *arg, struct stsm_conn *conn, enum stsm_conn_event event, stsm_status_t status)
{
    struct stsm_conn_transport_ctx *t = arg;
    (void)conn;
    t->event(t->event_arg, event, status);
}

static stsm_status_t transport_connect(void *ctx, const ip_addr_t *address, uint16_t port, uint32_t timeout_ms,
                                       stsm_transport_event_fn event, void *arg)
{
    struct stsm_conn_transport_ctx *t = ctx;
    t->event = event;
    t->event_arg = arg;
    return stsm_conn_connect(&t->conn, address, port, timeout_ms, transport_event, t);
}

static stsm_status_t transport_start_tls(void *ctx, struct stsm_tls *tls, const char *host)
{
    return stsm_conn_start_tls(&((struct stsm_conn_transport_ctx *)ctx)->conn, tls, host);
}

static stsm_status_t transport_start_tls_opportunistic(void *ctx, struct stsm_tls *tls, const char *host)
{
    return stsm_conn_start_tls_opportunistic(&((struct stsm_conn_transport_ctx *)ctx)->conn, tls, host);
}

static stsm_status_t transport_tls_verify_status(void *ctx)
{
    return stsm_conn_tls_verify_status(&((struct stsm_conn_transport_ctx *)ctx)->conn);
}

static void transport_tls_describe(void *ctx, const char **version, const char **suite)
{
    const struct stsm_conn *conn = &((struct stsm_conn_transport_ctx *)ctx)->conn;
    const mbedtls_ssl_context *ssl = stsm_conn_tls_session(conn);
    *version = stsm_conn_tls_version(conn);   /* with ", resumed" when it was */
    *suite = ssl != NULL ? mbedtls_ssl_get_ciphersuite(ssl) : "?";
}

static bool transport_is_tls(void *ctx)
{
    return stsm_conn_is_tls(&((struct stsm_conn_transport_ctx *)ctx)->conn);
}

static long transport_send(void *ctx, const void *data, size_t len)
{
    return stsm_conn_send(&((struct stsm_conn_transport_ctx *)ctx)->conn, data, len);
}

static long transport_recv(void *ctx, void *buf, size_t cap)
{
    return stsm_conn_recv(&((struct stsm_conn_transport_ctx *)ctx)->conn, buf, cap);
}

static void transport_flush(void *ctx)
{
    stsm_conn_flush(&((struct stsm_conn_transport_ctx *)ctx)->conn);
}

static void transport_close(void *ctx)
{
    stsm_conn_close(&((struct stsm_conn_transport_ctx *)ctx)->conn);
}

static bool transport_local_address(void *ctx, char *buf, size_t cap)
{
    const struct tcp_pcb *pcb = ((struct stsm_conn_transport_ctx *)ctx)->conn.pcb;
    return pcb != NULL && ipaddr_ntoa_r(&pcb->local_ip, buf, (int)cap) != NULL;
}

const struct stsm_transport *stsm_conn_transport(void)
{
    static const struct stsm_transport ops = {
        transport_connect, transport_start_tls, transport_start_tls_opportunistic, transport_tls_verify_status,
        transport_tls_describe, transport_is_tls, transport_send, transport_recv, transport_flush,
        transport_close, transport_local_address,
    };
    return &ops;
}
