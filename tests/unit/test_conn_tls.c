/*
 * The TLS transport and the policy fetch against a real TLS server that misbehaves on
 * purpose (tls_peer.py: Python's OpenSSL over memory BIOs, so it decides what reaches the
 * wire). lwIP runs in-process on its loopback interface; a relay on lwIP's 127.0.0.1:443
 * carries each connection to the peer's Linux socket, first telling it the case. A
 * scripted DNS server on lwIP's 127.0.0.1:53 answers the fetch's A query.
 *
 * Regressions: finding 2 (a TCP close without close_notify ended a policy body; a policy
 * cut after "mx: *.com" was accepted) and finding 4 (deadlines that bytes trickling in
 * must not push back: the whole fetch, the TLS handshake (built in with a 2 s deadline);
 * DNS over TCP is test_resolver's). Also
 * opportunistic TLS: a certificate that fails verification keeps the session, with the
 * reason; required TLS fails on it; the suite floor holds in both modes.
 *
 * Usage: test_conn_tls (paths of the peer and of mktrust.py are built in).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dns_packet.h"
#include "lwip/dns.h"
#include "lwip/init.h"
#include "lwip/netif.h"
#include "lwip/sys.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "lwip/udp.h"
#include "stsm_check.h"
#include "stsm_conn.h"
#include "stsm_sts_fetch.h"
#include "stsm_tls.h"

/* ---- the peer process ------------------------------------------------------------------ */

static pid_t peer_pid = -1;
static int peer_stdin = -1;
static uint16_t peer_port;
static char trust_path[512];
static char workdir[] = "/tmp/stsm-conn-tls-XXXXXX";

static bool start_peer(void)
{
    int to_peer[2], from_peer[2];
    if (mkdtemp(workdir) == NULL || pipe(to_peer) != 0 || pipe(from_peer) != 0) {
        return false;
    }
    peer_pid = fork();
    if (peer_pid == 0) {
        dup2(to_peer[0], 0);
        dup2(from_peer[1], 1);
        close(to_peer[1]);
        close(from_peer[0]);
        execl("/usr/bin/python3", "python3", TLS_PEER, MKTRUST, workdir, (char *)NULL);
        _exit(127);
    }
    close(to_peer[0]);
    close(from_peer[1]);
    peer_stdin = to_peer[1];
    FILE *out = fdopen(from_peer[0], "r");
    unsigned port = 0;
    bool ok = out != NULL && fscanf(out, "PORT %u TRUST %511s", &port, trust_path) == 2 && port > 0;
    peer_port = (uint16_t)port;
    if (out != NULL) {
        fclose(out);
    }
    return ok;
}

static void stop_peer(void)
{
    if (peer_stdin >= 0) {
        close(peer_stdin);   /* the peer exits when its stdin closes */
    }
    if (peer_pid > 0) {
        int status;
        for (int i = 0; i < 50 && waitpid(peer_pid, &status, WNOHANG) == 0; i++) {
            usleep(20000);
        }
        if (waitpid(peer_pid, &status, WNOHANG) == 0) {
            kill(peer_pid, SIGKILL);
            waitpid(peer_pid, &status, 0);
        }
    }
    rmdir(workdir);   /* the peer removed its contents, or it never started */
}

/* ---- the relay: lwIP 127.0.0.1:443 <-> the peer's Linux socket ------------------------- */

static struct {
    const char *next_case;         /* what the next accepted connection tells the peer */
    struct tcp_pcb *pcb;
    int fd;
    bool linux_eof;
    uint8_t pending[2048];         /* from the peer, not yet taken by lwIP */
    size_t pending_len, pending_off;
} relay = { .fd = -1 };

static void relay_drop(void)
{
    if (relay.pcb != NULL) {
        tcp_arg(relay.pcb, NULL);
        tcp_recv(relay.pcb, NULL);
        tcp_err(relay.pcb, NULL);
        tcp_abort(relay.pcb);
        relay.pcb = NULL;
    }
    if (relay.fd >= 0) {
        close(relay.fd);
        relay.fd = -1;
    }
    relay.pending_len = relay.pending_off = 0;
    relay.linux_eof = false;
}

static err_t relay_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    (void)arg;
    (void)err;
    if (p == NULL) {
        /* The client closed: finish both sides. */
        tcp_arg(pcb, NULL);
        tcp_recv(pcb, NULL);
        tcp_err(pcb, NULL);
        if (tcp_close(pcb) != ERR_OK) {
            tcp_abort(pcb);
            relay.pcb = NULL;
            return ERR_ABRT;
        }
        relay.pcb = NULL;
        if (relay.fd >= 0) {
            shutdown(relay.fd, SHUT_WR);
        }
        return ERR_OK;
    }
    uint8_t buf[2048];
    u16_t n = pbuf_copy_partial(p, buf, (u16_t)(p->tot_len < sizeof buf ? p->tot_len : sizeof buf), 0);
    if (relay.fd >= 0) {
        (void)!send(relay.fd, buf, n, MSG_NOSIGNAL);
    }
    tcp_recved(pcb, n);
    pbuf_free(p);
    return ERR_OK;
}

static void relay_err(void *arg, err_t err)
{
    (void)arg;
    (void)err;
    relay.pcb = NULL;   /* lwIP freed it (the client reset) */
    if (relay.fd >= 0) {
        close(relay.fd);
        relay.fd = -1;
    }
}

static err_t relay_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    (void)arg;
    (void)err;
    relay_drop();
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(peer_port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (fd >= 0) {
            close(fd);
        }
        tcp_abort(pcb);
        return ERR_ABRT;
    }
    char line[64];
    int len = snprintf(line, sizeof line, "%s\n", relay.next_case);
    (void)!send(fd, line, (size_t)len, MSG_NOSIGNAL);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    relay.fd = fd;
    relay.pcb = pcb;
    tcp_recv(pcb, relay_recv);
    tcp_err(pcb, relay_err);
    return ERR_OK;
}

/* Moves what the peer sent into lwIP, and its close (or reset) as a FIN. */
static void relay_poll(void)
{
    if (relay.fd < 0 || relay.pcb == NULL) {
        return;
    }
    if (relay.pending_off == relay.pending_len && !relay.linux_eof) {
        ssize_t n = recv(relay.fd, relay.pending, sizeof relay.pending, 0);
        if (n > 0) {
            relay.pending_len = (size_t)n;
            relay.pending_off = 0;
        } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
            relay.linux_eof = true;
        }
    }
    size_t left = relay.pending_len - relay.pending_off;
    if (left > 0) {
        size_t room = tcp_sndbuf(relay.pcb);
        size_t n = left < room ? left : room;
        if (n > 0 && tcp_write(relay.pcb, relay.pending + relay.pending_off, (u16_t)n, TCP_WRITE_FLAG_COPY) == ERR_OK) {
            relay.pending_off += n;
            tcp_output(relay.pcb);
        }
    } else if (relay.linux_eof) {
        tcp_shutdown(relay.pcb, 0, 1);   /* FIN, still reading what the client sends */
        relay.fd = relay.fd >= 0 ? (close(relay.fd), -1) : -1;
    }
}

/* ---- the scripted DNS server: A 127.0.0.1 for every name ------------------------------ */

static void dns_udp_recv(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr, u16_t port)
{
    (void)arg;
    uint8_t q[512];
    u16_t n = pbuf_copy_partial(p, q, (u16_t)(p->tot_len < sizeof q ? p->tot_len : sizeof q), 0);
    pbuf_free(p);
    struct pkt r = { .n = 0 };
    if (!pkt_reply_a(&r, q, n, (const uint8_t[]){ 127, 0, 0, 1 })) {
        return;
    }
    struct pbuf *out = pbuf_alloc(PBUF_TRANSPORT, (u16_t)r.n, PBUF_RAM);
    pbuf_take(out, r.b, (u16_t)r.n);
    udp_sendto(pcb, out, addr, port);
    pbuf_free(out);
}

/* ---- running the stack ------------------------------------------------------------------ */

static void run_until(const bool *done, uint32_t max_ms)
{
    u32_t start = sys_now();
    while ((u32_t)(sys_now() - start) < max_ms && (done == NULL || !*done)) {
        netif_poll_all();
        sys_check_timeouts();
        relay_poll();
        if (relay.fd >= 0) {
            struct pollfd pfd = { .fd = relay.fd, .events = POLLIN };
            poll(&pfd, 1, 1);
        } else {
            usleep(1000);
        }
    }
}

/* Lets late packets and callbacks happen, then tears down what the case left. */
static void settle(void)
{
    run_until(NULL, 100);
    relay_drop();
    run_until(NULL, 20);
}

/* ---- fetch cases ------------------------------------------------------------------------ */

static struct stsm_tls tls;
static struct stsm_sts_fetch fetch;
static bool fetch_done;
static u32_t fetch_ms;

static void on_fetch_done(void *arg, struct stsm_sts_fetch *f)
{
    (void)arg;
    (void)f;
    fetch_done = true;
}

/* Fetches mta-sts.lab.test's policy from the peer playing `peer_case`; returns the status
 * and sets fetch_ms to how long it took. */
static stsm_status_t run_fetch(const char *peer_case, uint32_t timeout_ms)
{
    relay.next_case = peer_case;
    fetch_done = false;
    u32_t start = sys_now();
    stsm_status_t st = stsm_sts_fetch_start(&fetch, "lab.test", &tls, timeout_ms, false, on_fetch_done, NULL);
    if (st != STSM_OK) {
        return st;
    }
    run_until(&fetch_done, timeout_ms + 5000);
    fetch_ms = sys_now() - start;
    settle();
    return fetch_done ? fetch.status : STSM_ERR_ARGUMENT;
}

/* ---- connection cases ------------------------------------------------------------------- */

static struct stsm_conn conn;
static struct {
    bool done;
    enum stsm_conn_event last;
    stsm_status_t status;
    bool opportunistic;
    const char *host;
} c;

static void on_conn(void *arg, struct stsm_conn *cn, enum stsm_conn_event event, stsm_status_t status)
{
    (void)arg;
    c.last = event;
    c.status = status;
    if (event == STSM_CONN_CONNECTED) {
        stsm_status_t st = c.opportunistic ? stsm_conn_start_tls_opportunistic(cn, &tls, c.host)
                                           : stsm_conn_start_tls(cn, &tls, c.host);
        if (st != STSM_OK) {
            c.status = st;
            c.done = true;
        }
        return;
    }
    if (event == STSM_CONN_TLS_READY || event == STSM_CONN_FAILED) {
        c.done = true;
    }
}

/* Connects to the peer playing `peer_case` and starts TLS for `host`; leaves the
 * connection open for the caller's checks. */
static void run_conn(const char *peer_case, const char *host, bool opportunistic)
{
    memset(&c, 0, sizeof c);
    c.opportunistic = opportunistic;
    c.host = host;
    relay.next_case = peer_case;
    ip_addr_t addr;
    IP_ADDR4(&addr, 127, 0, 0, 1);
    CHECK_INT(stsm_conn_connect(&conn, &addr, 443, 5000, on_conn, NULL), STSM_OK);
    /* Nagle off: a small write (a command, a TLS flight) never waits for an ACK. */
    CHECK(conn.pcb != NULL && tcp_nagle_disabled(conn.pcb));
    run_until(&c.done, 10000);
    CHECK(c.done);
}

/* Reads for `ms` what the peer sends after the handshake (its TLS 1.3 tickets, which
 * stsm_conn_recv() keeps when the session verified). */
static void read_tickets(uint32_t ms)
{
    for (uint32_t t = 0; t < ms; t += 20) {
        char buf[64];
        run_until(NULL, 20);
        (void)stsm_conn_recv(&conn, buf, sizeof buf);
    }
}

static bool session_stored(const char *host)
{
    size_t len;
    return stsm_tls_session_get(&tls.sessions, host, 443, &len) != NULL;
}

static void end_conn(void)
{
    stsm_conn_close(&conn);
    settle();
}

static void policy_too_big_for_device(void);

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    CHECK_CASE("the scripted TLS peer starts");
    bool peer_ok = start_peer();
    CHECK(peer_ok);
    if (!peer_ok) {
        stop_peer();
        return stsm_check_summary("test_conn_tls");
    }

    lwip_init();
    static uint8_t blob[256 * 1024];
    FILE *f = fopen(trust_path, "rb");
    size_t blob_len = f != NULL ? fread(blob, 1, sizeof blob, f) : 0;
    if (f != NULL) {
        fclose(f);
    }
    struct stsm_trust_store store;
    CHECK_INT(stsm_trust_store_open(&store, blob, blob_len), STSM_OK);
    CHECK_INT(stsm_tls_init(&tls, &store), STSM_OK);

    struct tcp_pcb *l = tcp_new();
    CHECK(tcp_bind(l, IP_ADDR_ANY, 443) == ERR_OK);
    l = tcp_listen(l);
    tcp_accept(l, relay_accept);
    struct udp_pcb *dns_udp = udp_new();
    CHECK(udp_bind(dns_udp, IP_ADDR_ANY, 53) == ERR_OK);
    udp_recv(dns_udp, dns_udp_recv, NULL);
    ip_addr_t loopback;
    IP_ADDR4(&loopback, 127, 0, 0, 1);
    dns_setserver(0, &loopback);

    /* -- finding 2: only close_notify ends a body delimited by the close -- */
    CHECK_CASE("policy without length, then close_notify: accepted whole");
    CHECK_INT(run_fetch("policy-notify", 5000), STSM_OK);
    CHECK_INT(fetch.policy.mx_count, 1);
    CHECK_STR(fetch.policy.mx[0], "*.com.mail.example.net");

    CHECK_CASE("policy without length cut by a bare TCP close: refused");
    CHECK_INT(run_fetch("policy-cut-nonotify", 5000), STSM_ERR_TLS_TRUNCATED);

    CHECK_CASE("Content-Length body cut short, then close_notify: refused");
    CHECK_INT(run_fetch("length-short-notify", 5000), STSM_ERR_PEER_CLOSED);

    CHECK_CASE("Content-Length body cut short by a bare TCP close: refused");
    CHECK_INT(run_fetch("length-short-nonotify", 5000), STSM_ERR_TLS_TRUNCATED);

    CHECK_CASE("chunked body without its last chunk, then close_notify: refused");
    CHECK_INT(run_fetch("chunked-cut-notify", 5000), STSM_ERR_PEER_CLOSED);

    CHECK_CASE("policy host with a certificate for another name: refused (always verified)");
    CHECK_INT(run_fetch("wrongname", 5000), STSM_ERR_TLS_NAME_MISMATCH);

    /* -- finding 4: a deadline that trickling bytes do not push back -- */
    CHECK_CASE("body trickled a byte per 100 ms: the fetch ends at its deadline");
    CHECK_INT(run_fetch("trickle-body", 1500), STSM_ERR_TIMEOUT);
    CHECK(fetch_ms >= 1500 && fetch_ms < 2000);

    CHECK_CASE("handshake trickled a byte per 50 ms: the fetch ends at its deadline");
    CHECK_INT(run_fetch("trickle-hs", 1500), STSM_ERR_TIMEOUT);
    CHECK(fetch_ms >= 1500 && fetch_ms < 2000);

    CHECK_CASE("handshake trickled a byte per 50 ms: the connection fails at the handshake deadline");
    u32_t hs_start = sys_now();
    run_conn("trickle-hs", "mx.lab.test", false);
    u32_t hs_ms = sys_now() - hs_start;
    CHECK_INT(c.last, STSM_CONN_FAILED);
    CHECK_INT(c.status, STSM_ERR_TIMEOUT);
    CHECK(hs_ms >= STSM_TLS_HANDSHAKE_TIMEOUT_MS && hs_ms < STSM_TLS_HANDSHAKE_TIMEOUT_MS + 500);
    printf("TLS handshake, trickled: failed after %u ms (deadline %u ms)\n", (unsigned)hs_ms,
           (unsigned)STSM_TLS_HANDSHAKE_TIMEOUT_MS);
    end_conn();

    /* -- opportunistic TLS -- */
    CHECK_CASE("opportunistic, certificate for another name: encrypted, reported as name mismatch");
    run_conn("wrongname", "mx.lab.test", true);
    CHECK_INT(c.last, STSM_CONN_TLS_READY);
    CHECK(stsm_conn_is_tls(&conn));
    CHECK_INT(stsm_conn_tls_verify_status(&conn), STSM_ERR_TLS_NAME_MISMATCH);
    CHECK(stsm_conn_send(&conn, "x", 1) == 1);
    end_conn();

    CHECK_CASE("required, certificate for another name: the handshake fails");
    run_conn("wrongname", "mx.lab.test", false);
    CHECK_INT(c.last, STSM_CONN_FAILED);
    CHECK_INT(c.status, STSM_ERR_TLS_NAME_MISMATCH);
    CHECK(!stsm_conn_is_tls(&conn));
    CHECK_INT(stsm_conn_tls_verify_status(&conn), STSM_ERR_TLS_HANDSHAKE);
    end_conn();

    CHECK_CASE("opportunistic, self-signed certificate: encrypted, reported as untrusted");
    run_conn("selfsigned", "mx.lab.test", true);
    CHECK_INT(c.last, STSM_CONN_TLS_READY);
    CHECK_INT(stsm_conn_tls_verify_status(&conn), STSM_ERR_TLS_UNTRUSTED);
    end_conn();

    CHECK_CASE("required, self-signed certificate: the handshake fails");
    run_conn("selfsigned", "mx.lab.test", false);
    CHECK_INT(c.last, STSM_CONN_FAILED);
    CHECK_INT(c.status, STSM_ERR_TLS_UNTRUSTED);
    end_conn();

    CHECK_CASE("opportunistic, valid certificate: verified; its session is not kept");
    run_conn("good", "mx.lab.test", true);
    CHECK_INT(c.last, STSM_CONN_TLS_READY);
    CHECK_INT(stsm_conn_tls_verify_status(&conn), STSM_OK);
    CHECK_STR(stsm_conn_tls_version(&conn), "TLSv1.3");
    read_tickets(300);
    CHECK(!session_stored("mx.lab.test"));
    end_conn();

    CHECK_CASE("required, valid certificate: verified, TLS 1.3; its ticket is kept");
    run_conn("good", "mx.lab.test", false);
    CHECK_INT(c.last, STSM_CONN_TLS_READY);
    CHECK_INT(stsm_conn_tls_verify_status(&conn), STSM_OK);
    CHECK_STR(stsm_conn_tls_version(&conn), "TLSv1.3");
    read_tickets(300);
    CHECK(session_stored("mx.lab.test"));
    CHECK(!session_stored("other.lab.test"));
    end_conn();

    /* Each connection of the peer has its own ticket key: the ticket offered is refused. */
    CHECK_CASE("a stored session the server refuses: a full handshake on the same connection");
    run_conn("good", "mx.lab.test", false);
    CHECK_INT(c.last, STSM_CONN_TLS_READY);
    CHECK_INT(stsm_conn_tls_verify_status(&conn), STSM_OK);
    CHECK(!stsm_conn_tls_resumed(&conn));
    CHECK(mbedtls_ssl_get_peer_cert(stsm_conn_tls_session(&conn)) != NULL);
    end_conn();

    CHECK_CASE("a stored session offered to a server with a certificate for another name: refused");
    run_conn("wrongname", "mx.lab.test", false);
    CHECK_INT(c.last, STSM_CONN_FAILED);
    CHECK_INT(c.status, STSM_ERR_TLS_NAME_MISMATCH);
    end_conn();

    CHECK_CASE("opportunistic, a suite below the floor (CBC): no session, as when required");
    run_conn("cbc-only", "mx.lab.test", true);
    CHECK_INT(c.last, STSM_CONN_FAILED);
    CHECK(c.status == STSM_ERR_TLS_VERSION || c.status == STSM_ERR_TLS_HANDSHAKE);
    stsm_status_t opportunistic_floor = c.status;
    end_conn();
    run_conn("cbc-only", "mx.lab.test", false);
    CHECK_INT(c.last, STSM_CONN_FAILED);
    CHECK_INT(c.status, opportunistic_floor);
    end_conn();

    policy_too_big_for_device();

    stop_peer();
    return stsm_check_summary("test_conn_tls");
}

/* ---- a policy larger than the device's buffer (issue 10, finding 6) --------------------- */

/* On mps2 the fetch buffer is 16 KiB, the RFC's cap 64 KiB. A policy in between failed
 * with STSM_ERR_CAPACITY like one over 64 KiB, and on first contact that meant "no
 * policy": MTA-STS failed open because of our own limit. Now the body is read to its end
 * and counted, and such a policy is reported as too big for the device. */

static size_t feed_all(struct stsm_http_response *r, const char *head, size_t body_len, bool chunked,
                       stsm_status_t *st)
{
    static uint8_t piece[1500];
    *st = stsm_http_response_feed(r, (const uint8_t *)head, strlen(head));
    size_t sent = 0;
    while (*st == STSM_OK && sent < body_len) {
        size_t n = body_len - sent < 1000 ? body_len - sent : 1000;
        size_t at = 0;
        if (chunked) {
            at = (size_t)sprintf((char *)piece, "%zx\r\n", n);
        }
        for (size_t i = 0; i < n; i++) {
            piece[at + i] = (uint8_t)('a' + (sent + i) % 26);
        }
        at += n;
        if (chunked) {
            memcpy(piece + at, "\r\n", 2);
            at += 2;
        }
        *st = stsm_http_response_feed(r, piece, at);
        sent += n;
    }
    if (*st == STSM_OK && chunked) {
        *st = stsm_http_response_feed(r, (const uint8_t *)"0\r\n\r\n", 5);
    }
    return sent;
}

static stsm_status_t run_fetch_keeping(const char *peer_case, size_t keep)
{
    relay.next_case = peer_case;
    fetch_done = false;
    stsm_status_t st = stsm_sts_fetch_start(&fetch, "lab.test", &tls, 5000, false, on_fetch_done, NULL);
    if (st != STSM_OK) {
        return st;
    }
    stsm_sts_fetch_limit_body(&fetch, keep);
    run_until(&fetch_done, 10000);
    settle();
    return fetch_done ? fetch.status : STSM_ERR_ARGUMENT;
}

static void policy_too_big_for_device(void)
{
    /* The parser: a buffer of `keep` bytes exactly (ASan sees a write past it), bodies up
     * to the cap counted whole, whatever their framing. */
    enum { KEEP = 1000, CAP = STSM_STS_POLICY_MAX };
    static const char *const framings[] = { "Content-Length: ", "Transfer-Encoding: chunked\r\n", "" };
    for (size_t framing = 0; framing < 3; framing++) {
        static const unsigned sizes[] = { 40000, CAP, CAP + 1 };
        for (size_t k = 0; k < 3; k++) {
            char intent[96], head[160];
            snprintf(intent, sizeof intent, "HTTP body of %u bytes, framing %zu, %u kept", sizes[k], framing, KEEP);
            CHECK_CASE(intent);
            char length[16] = "";
            if (framing == 0) {
                snprintf(length, sizeof length, "%u\r\n", sizes[k]);
            }
            snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n%s%s\r\n",
                     framings[framing], length);
            uint8_t *buf = malloc(KEEP);
            struct stsm_http_response r;
            stsm_http_response_init(&r, buf, CAP);
            r.body_keep = KEEP;
            stsm_status_t st;
            feed_all(&r, head, sizes[k], framing == 1, &st);
            if (st == STSM_OK && framing == 2) {
                st = stsm_http_response_eof(&r);
            }
            if (sizes[k] <= CAP) {
                CHECK_INT(st, STSM_OK);
                CHECK(r.complete);
                CHECK_INT(r.body_len, sizes[k]);
                CHECK(buf[0] == 'a' && buf[KEEP - 1] == (uint8_t)('a' + (KEEP - 1) % 26));
            } else {
                CHECK_INT(st, STSM_ERR_CAPACITY);   /* over the RFC's cap: refused as before */
            }
            free(buf);
        }
    }

    /* The fetch, with the genuine policy (close-delimited, then close_notify) and the
     * buffer made smaller than it, as on a small device. */
    CHECK_CASE("fetch: the policy fits the device: accepted, not flagged");
    CHECK_INT(run_fetch("policy-notify", 5000), STSM_OK);
    CHECK(!fetch.too_big_for_device);
    size_t policy_len = fetch.body_size;
    CHECK(policy_len > 16 && policy_len < 200);

    CHECK_CASE("fetch: a buffer exactly the policy's size: accepted");
    CHECK_INT(run_fetch_keeping("policy-notify", policy_len), STSM_OK);
    CHECK(!fetch.too_big_for_device);
    CHECK_STR(fetch.policy.mx[0], "*.com.mail.example.net");

    CHECK_CASE("fetch: a policy one byte over the device's buffer: too big for the device, not 'no policy'");
    CHECK_INT(run_fetch_keeping("policy-notify", policy_len - 1), STSM_ERR_CAPACITY);
    CHECK(fetch.too_big_for_device);
    CHECK_INT(fetch.body_size, policy_len);

    CHECK_CASE("fetch: a policy four times the device's buffer: read to its end and flagged");
    CHECK_INT(run_fetch_keeping("policy-notify", policy_len / 4), STSM_ERR_CAPACITY);
    CHECK(fetch.too_big_for_device);
    CHECK_INT(fetch.body_size, policy_len);

    CHECK_CASE("fetch: a too-big body cut by a bare TCP close is a failed fetch, not a policy");
    CHECK_INT(run_fetch_keeping("policy-cut-nonotify", 8), STSM_ERR_TLS_TRUNCATED);
    CHECK(!fetch.too_big_for_device);
}
