/*
 * The resolver's deadline over TCP (stsm_resolver.c), against a scripted DNS server on
 * lwIP's own 127.0.0.1:53, in-process on the loopback interface: every UDP answer is
 * truncated (TC), so each try falls back to TCP, where the server trickles, cuts the
 * connection short or answers, as the case asks.
 *
 * Regression: the TCP deadline was armed per exchange, so a server that truncated every
 * UDP answer and trickled every TCP one held a query for STSM_DNS_TRIES of them (4 x 5 s).
 * It is now one deadline for the rest of the query from its first fallback to TCP. The
 * test builds the resolver with STSM_DNS_TCP_TIMEOUT_MS = 1000 (CMakeLists.txt), so the old
 * behaviour shows as about 4 s and the new as about 1 s.
 */
#include <stdio.h>
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
#include "stsm_resolver.h"

/* ---- the scripted server ---------------------------------------------------------------- */

enum tcp_play {
    TRICKLE,            /* a reply announcing 1000 bytes, one byte per 100 ms */
    CLOSE_FIRST_300MS,  /* the first connection trickles and is closed after 300 ms; then TRICKLE */
    ANSWER,             /* the whole answer at once */
};

static enum tcp_play play;
static struct tcp_pcb *conn;
static unsigned accepted;     /* TCP connections in this case */
static unsigned trickled;     /* bytes trickled on the current connection */
static uint8_t query[512];    /* the query as received over TCP, length prefix first */
static size_t query_len;

static void server_udp_recv(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr, u16_t port)
{
    (void)arg;
    uint8_t q[512];
    u16_t n = pbuf_copy_partial(p, q, (u16_t)(p->tot_len < sizeof q ? p->tot_len : sizeof q), 0);
    pbuf_free(p);
    static struct pkt r;
    if (!pkt_reply_a(&r, q, n, NULL)) {
        return;
    }
    struct pbuf *out = pbuf_alloc(PBUF_TRANSPORT, (u16_t)r.n, PBUF_RAM);
    pbuf_take(out, r.b, (u16_t)r.n);
    udp_sendto(pcb, out, addr, port);
    pbuf_free(out);
}

static void trickle(void *arg);
static void cut(void *arg);

static void conn_forget(void)
{
    if (conn != NULL) {
        tcp_arg(conn, NULL);
        tcp_recv(conn, NULL);
        tcp_err(conn, NULL);
    }
    conn = NULL;
    sys_untimeout(trickle, NULL);
    sys_untimeout(cut, NULL);
}

static void trickle(void *arg)
{
    (void)arg;
    static const uint8_t prefix[2] = { 0x03, 0xE8 };
    uint8_t b = trickled < 2 ? prefix[trickled] : 0;
    if (tcp_write(conn, &b, 1, TCP_WRITE_FLAG_COPY) == ERR_OK) {
        trickled++;
    }
    tcp_output(conn);
    sys_timeout(100, trickle, NULL);
}

static void cut(void *arg)
{
    (void)arg;
    struct tcp_pcb *pcb = conn;
    conn_forget();
    if (tcp_close(pcb) != ERR_OK) {
        tcp_abort(pcb);
    }
}

static err_t server_tcp_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    (void)arg;
    (void)err;
    if (p == NULL) {
        conn_forget();
        tcp_close(pcb);
        return ERR_OK;
    }
    tcp_recved(pcb, p->tot_len);
    size_t room = sizeof query - query_len;
    size_t n = p->tot_len < room ? p->tot_len : room;
    pbuf_copy_partial(p, query + query_len, (u16_t)n, 0);
    query_len += n;
    pbuf_free(p);
    if (play == ANSWER && query_len >= 2 && query_len >= 2u + ((size_t)query[0] << 8 | query[1])) {
        static struct pkt r;
        if (pkt_reply_a(&r, query + 2, query_len - 2, (const uint8_t[]){ 127, 0, 0, 1 })) {
            uint8_t prefix[2] = { (uint8_t)(r.n >> 8), (uint8_t)r.n };
            tcp_write(pcb, prefix, 2, TCP_WRITE_FLAG_COPY | TCP_WRITE_FLAG_MORE);
            tcp_write(pcb, r.b, (u16_t)r.n, TCP_WRITE_FLAG_COPY);
            tcp_output(pcb);
        }
    }
    return ERR_OK;
}

static void server_tcp_err(void *arg, err_t err)
{
    (void)arg;
    (void)err;
    conn = NULL;   /* lwIP has freed it */
    sys_untimeout(trickle, NULL);
    sys_untimeout(cut, NULL);
}

static err_t server_tcp_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    (void)arg;
    (void)err;
    if (conn != NULL) {   /* the resolver holds one connection at a time */
        tcp_abort(pcb);
        return ERR_ABRT;
    }
    accepted++;
    conn = pcb;
    trickled = 0;
    query_len = 0;
    tcp_recv(pcb, server_tcp_recv);
    tcp_err(pcb, server_tcp_err);
    if (play != ANSWER) {
        sys_timeout(100, trickle, NULL);
    }
    if (play == CLOSE_FIRST_300MS && accepted == 1) {
        sys_timeout(300, cut, NULL);
    }
    return ERR_OK;
}

/* ---- running a query -------------------------------------------------------------------- */

static unsigned calls;
static stsm_status_t status;
static u32_t done_at;
static uint8_t answer_address[4];

static void on_resolved(void *arg, stsm_status_t st, const struct stsm_dns_answer *answer, const ip_addr_t *server)
{
    (void)arg;
    (void)server;
    calls++;
    status = st;
    done_at = sys_now();
    if (st == STSM_OK && answer->count == 1) {
        memcpy(answer_address, answer->records[0].address, 4);
    }
}

static void run_for(u32_t ms)
{
    u32_t start = sys_now();
    while ((u32_t)(sys_now() - start) < ms) {
        netif_poll_all();
        sys_check_timeouts();
        usleep(1000);
    }
}

/* Runs one query against the server playing `p` until it ends (at most 10 s), then 1.5 s
 * more, in which it must stay ended. Returns how long it took in ms. */
static u32_t run_query(enum tcp_play p)
{
    static struct stsm_resolver_query rq;
    play = p;
    accepted = 0;
    calls = 0;
    memset(answer_address, 0, sizeof answer_address);
    u32_t start = sys_now();
    CHECK_INT(stsm_resolver_start(&rq, "trickle.lab.test", STSM_DNS_TYPE_A, on_resolved, NULL), STSM_OK);
    while (calls == 0 && (u32_t)(sys_now() - start) < 10000) {
        run_for(1);
    }
    u32_t took = done_at - start;
    run_for(1500);
    CHECK_INT(calls, 1);
    if (conn != NULL) {
        struct tcp_pcb *pcb = conn;
        conn_forget();
        tcp_abort(pcb);
    }
    run_for(50);
    return took;
}

int main(void)
{
    lwip_init();
    struct udp_pcb *udp = udp_new();
    CHECK(udp_bind(udp, IP_ADDR_ANY, 53) == ERR_OK);
    udp_recv(udp, server_udp_recv, NULL);
    struct tcp_pcb *l = tcp_new();
    CHECK(tcp_bind(l, IP_ADDR_ANY, 53) == ERR_OK);
    l = tcp_listen(l);
    tcp_accept(l, server_tcp_accept);
    ip_addr_t loopback;
    IP_ADDR4(&loopback, 127, 0, 0, 1);
    dns_setserver(0, &loopback);
    const u32_t deadline = STSM_DNS_TCP_TIMEOUT_MS;

    CHECK_CASE("every UDP answer truncated, every TCP one trickled: the query ends at the one deadline");
    u32_t ms = run_query(TRICKLE);
    CHECK_INT(status, STSM_ERR_TIMEOUT);
    CHECK(ms >= deadline && ms < deadline + 400);
    CHECK_INT(accepted, 1);
    CHECK(trickled >= deadline / 100 - 3);   /* bytes kept coming and did not push it back */
    printf("truncate + trickle: ended after %u ms, %u TCP connection(s), %u bytes (deadline %u ms, %d tries)\n",
           (unsigned)ms, accepted, trickled, (unsigned)deadline, STSM_DNS_TRIES);

    CHECK_CASE("first TCP exchange cut after 300 ms, the next trickled: the deadline is not re-armed");
    ms = run_query(CLOSE_FIRST_300MS);
    CHECK_INT(status, STSM_ERR_DNS_SERVER_FAILURE);   /* the cut connection: a server failed */
    CHECK(ms >= deadline && ms < deadline + 400);
    CHECK_INT(accepted, 2);
    printf("cut, then trickle: ended after %u ms, %u TCP connection(s)\n", (unsigned)ms, accepted);

    CHECK_CASE("truncated over UDP, whole over TCP: answered, and the deadline never fires after");
    ms = run_query(ANSWER);
    CHECK_INT(status, STSM_OK);
    CHECK(memcmp(answer_address, (const uint8_t[]){ 127, 0, 0, 1 }, 4) == 0);
    CHECK(ms < deadline);
    CHECK_INT(accepted, 1);

    CHECK_CASE("a query after one that fell back to TCP gets its own deadline");
    ms = run_query(TRICKLE);
    CHECK_INT(status, STSM_ERR_TIMEOUT);
    CHECK(ms >= deadline && ms < deadline + 400);
    return stsm_check_summary("test_resolver");
}
