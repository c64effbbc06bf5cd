/*
 * The resolver (stsm_resolver.c) against scripted peers, in-process.
 *
 * Nothing lost behind ARP: on an Ethernet interface whose wire the test plays (ARP and a
 * DNS server behind an unresolved gateway, both answering at once), queries started
 * together before the gateway's MAC address is known must all be answered at once, none
 * retried. Regression: with ARP_QUEUEING off lwIP kept only the newest datagram per
 * unresolved address and dropped the others in silence, so all but one query waited for
 * the 1 s retry; and a send refused when the ARP queue is full (ERR_MEM) was left to the
 * retry timer too. Both cases take over 1 s on the old code.
 *
 * The cache: a second query within the TTL is answered with no packet sent, later than
 * the call that starts it; stsm_resolver_cache_clear() sends the next one to the server.
 *
 * The deadline over TCP, against a scripted DNS server on
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
#include "lwip/etharp.h"
#include "lwip/init.h"
#include "lwip/netif.h"
#include "lwip/sys.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "lwip/udp.h"
#include "netif/ethernet.h"
#include "stsm_check.h"
#include "stsm_resolver.h"

/* ---- the scripted server ---------------------------------------------------------------- */

enum tcp_play {
    TRICKLE,            /* a reply announcing 1000 bytes, one byte per 100 ms */
    CLOSE_FIRST_300MS,  /* the first connection trickles and is closed after 300 ms; then TRICKLE */
    ANSWER,             /* the whole answer at once */
    SIZED,              /* the answer at once, padded to `sized_len` bytes */
};
static size_t sized_len;

static enum tcp_play play;
static struct tcp_pcb *conn;
static unsigned accepted;     /* TCP connections in this case */
static unsigned trickled;     /* bytes trickled on the current connection */
static uint8_t query[512];    /* the query as received over TCP, length prefix first */
static size_t query_len;

static bool udp_answers;       /* UDP answered with an A record rather than truncated */
static unsigned udp_queries;  /* UDP queries the loopback server received */

static void server_udp_recv(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr, u16_t port)
{
    (void)arg;
    uint8_t q[512];
    u16_t n = pbuf_copy_partial(p, q, (u16_t)(p->tot_len < sizeof q ? p->tot_len : sizeof q), 0);
    pbuf_free(p);
    udp_queries++;
    static struct pkt r;
    if (!pkt_reply_a(&r, q, n, udp_answers ? (const uint8_t[]){ 127, 0, 0, 2 } : NULL)) {
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

/* The A answer followed by a NULL record (type 10) owned by the root in the authority
 * section, whose data pads the message to `sized_len` bytes. */
static void send_sized(struct tcp_pcb *pcb)
{
    static struct pkt r;
    static uint8_t msg[2 + STSM_DNS_MSG_MAX + 1];
    if (!pkt_reply_a(&r, query + 2, query_len - 2, (const uint8_t[]){ 127, 0, 0, 1 }) ||
        sized_len > sizeof msg - 2 || sized_len < r.n + 11) {
        CHECK(false);
        return;
    }
    memset(msg, 0, sizeof msg);
    msg[0] = (uint8_t)(sized_len >> 8);
    msg[1] = (uint8_t)sized_len;
    memcpy(msg + 2, r.b, r.n);
    msg[2 + 9] = 1;   /* NSCOUNT */
    uint8_t *rr = msg + 2 + r.n;
    size_t rdlen = sized_len - r.n - 11;
    rr[0] = 0;   /* the root */
    rr[1] = 0, rr[2] = 10, rr[3] = 0, rr[4] = 1;   /* type NULL, class IN, TTL 0 */
    rr[9] = (uint8_t)(rdlen >> 8), rr[10] = (uint8_t)rdlen;
    CHECK(tcp_write(pcb, msg, (u16_t)(2 + sized_len), TCP_WRITE_FLAG_COPY) == ERR_OK);
    tcp_output(pcb);
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
    if (play == SIZED && query_len >= 2 && query_len >= 2u + ((size_t)query[0] << 8 | query[1])) {
        send_sized(pcb);
    }
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
    if (play != ANSWER && play != SIZED) {
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
    stsm_resolver_cache_clear();   /* every case asks the same name */
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

/* ---- an Ethernet wire with a gateway and a DNS server behind it -------------------------- */

static const uint8_t dev_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x64 };
static const uint8_t gw_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t dev_ip[4] = { 192, 0, 2, 100 };
static const uint8_t gw_ip[4] = { 192, 0, 2, 1 };
static const uint8_t far_dns_ip[4] = { 203, 0, 113, 53 };   /* behind the gateway */

static struct netif eth;
static uint8_t wire[32][1600];   /* frames the device sent, not yet played */
static size_t wire_len[32];
static unsigned wire_count;
static unsigned arp_requests;    /* for the gateway */
static unsigned dns_queries;     /* datagrams that reached the far server */

static err_t eth_linkoutput(struct netif *netif, struct pbuf *p)
{
    (void)netif;
    if (wire_count < 32 && p->tot_len <= sizeof wire[0]) {
        wire_len[wire_count] = pbuf_copy_partial(p, wire[wire_count], p->tot_len, 0);
        wire_count++;
    }
    return ERR_OK;
}

static err_t eth_init(struct netif *netif)
{
    netif->linkoutput = eth_linkoutput;
    netif->output = etharp_output;
    netif->mtu = 1500;
    netif->hwaddr_len = 6;
    memcpy(netif->hwaddr, dev_mac, 6);
    netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_LINK_UP;
    return ERR_OK;
}

static void put16(uint8_t *b, unsigned v)
{
    b[0] = (uint8_t)(v >> 8);
    b[1] = (uint8_t)v;
}

static void inject(const uint8_t *frame, size_t len)
{
    struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_RAM);
    pbuf_take(p, frame, (u16_t)len);
    if (eth.input(p, &eth) != ERR_OK) {
        pbuf_free(p);
    }
}

/* The gateway's ARP reply to the device. */
static void answer_arp(void)
{
    uint8_t f[42];
    memcpy(f, dev_mac, 6);
    memcpy(f + 6, gw_mac, 6);
    put16(f + 12, 0x0806);
    put16(f + 14, 1);
    put16(f + 16, 0x0800);
    f[18] = 6;
    f[19] = 4;
    put16(f + 20, 2);
    memcpy(f + 22, gw_mac, 6);
    memcpy(f + 28, gw_ip, 4);
    memcpy(f + 32, dev_mac, 6);
    memcpy(f + 38, dev_ip, 4);
    inject(f, sizeof f);
}

/* The far server's answer to the DNS query in IPv4 packet `ip`: an A record for any type
 * (NODATA for the others), sent back through the gateway. */
static void answer_dns(const uint8_t *ip, size_t len)
{
    size_t ihl = (size_t)(ip[0] & 0x0F) * 4;
    static struct pkt r;
    if (len < ihl + 8 || !pkt_reply_a(&r, ip + ihl + 8, len - ihl - 8, (const uint8_t[]){ 192, 0, 2, 77 })) {
        return;
    }
    dns_queries++;
    static uint8_t f[1600];
    memcpy(f, dev_mac, 6);
    memcpy(f + 6, gw_mac, 6);
    put16(f + 12, 0x0800);
    uint8_t *h = f + 14;
    memset(h, 0, 20);
    h[0] = 0x45;
    put16(h + 2, (unsigned)(20 + 8 + r.n));
    h[8] = 64;
    h[9] = 17;
    memcpy(h + 12, far_dns_ip, 4);
    memcpy(h + 16, dev_ip, 4);
    uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2) {
        sum += (uint32_t)(h[i] << 8 | h[i + 1]);
    }
    while (sum >> 16) {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    put16(h + 10, ~sum & 0xFFFF);
    uint8_t *u = h + 20;
    put16(u, 53);
    memcpy(u + 2, ip + ihl, 2);              /* to the query's source port */
    put16(u + 4, (unsigned)(8 + r.n));
    put16(u + 6, 0);                         /* no UDP checksum (IPv4) */
    memcpy(u + 8, r.b, r.n);
    inject(f, 14 + 20 + 8 + r.n);
}

/* Plays the wire: the gateway answers ARP for itself at once, the far server every DNS
 * query at once; anything else (ARP for other addresses) goes unanswered. */
static void play_wire(void)
{
    while (wire_count > 0) {
        static uint8_t f[1600];
        size_t len = wire_len[0];
        memcpy(f, wire[0], len);
        wire_count--;
        memmove(wire_len, wire_len + 1, wire_count * sizeof wire_len[0]);
        memmove(wire, wire + 1, wire_count * sizeof wire[0]);
        unsigned type = (unsigned)(f[12] << 8 | f[13]);
        if (type == 0x0806 && len >= 42 && f[21] == 1 && memcmp(f + 38, gw_ip, 4) == 0) {
            arp_requests++;
            answer_arp();
        } else if (type == 0x0800 && len >= 14 + 28 && f[14 + 9] == 17 &&
                   memcmp(f + 14 + 16, far_dns_ip, 4) == 0 &&
                   (f[14 + 20 + 2] << 8 | f[14 + 20 + 3]) == 53) {
            answer_dns(f + 14, len - 14);
        }
    }
}

#define ARP_QUERIES 5

static struct stsm_resolver_query arp_rq[ARP_QUERIES];
static unsigned arp_done;
static stsm_status_t arp_status[ARP_QUERIES];
static u32_t arp_done_at[ARP_QUERIES];

static void on_arp_query(void *arg, stsm_status_t st, const struct stsm_dns_answer *answer,
                         const ip_addr_t *server)
{
    (void)answer;
    (void)server;
    size_t i = (size_t)((struct stsm_resolver_query *)arg - arp_rq);
    arp_status[i] = st;
    arp_done_at[i] = sys_now();
    arp_done++;
}

/* Starts `n` queries together on a cold ARP table, plays the wire until all end (at most
 * 5 s), and checks that each was answered well under one try's timeout, in one try. */
static void arp_burst(unsigned n)
{
    static const struct { const char *name; uint16_t type; } asks[ARP_QUERIES] = {
        { "lab.test", STSM_DNS_TYPE_MX },
        { "_mta-sts.lab.test", STSM_DNS_TYPE_TXT },
        { "relay.lab.test", STSM_DNS_TYPE_A },
        { "mx1.lab.test", STSM_DNS_TYPE_A },
        { "mx2.lab.test", STSM_DNS_TYPE_A },
    };
    struct stsm_resolver_stats before, after;
    stsm_resolver_cache_clear();
    stsm_resolver_stats(&before);
    arp_done = 0;
    arp_requests = 0;
    dns_queries = 0;
    u32_t start = sys_now();
    for (unsigned i = 0; i < n; i++) {
        CHECK_INT(stsm_resolver_start(&arp_rq[i], asks[i].name, asks[i].type, on_arp_query, &arp_rq[i]),
                  STSM_OK);
    }
    while (arp_done < n && (u32_t)(sys_now() - start) < 5000) {
        play_wire();
        run_for(1);
    }
    stsm_resolver_stats(&after);
    CHECK_INT(arp_done, n);
    u32_t slowest = 0;
    for (unsigned i = 0; i < n; i++) {
        CHECK_INT(arp_status[i], STSM_OK);
        CHECK_INT(stsm_resolver_tries(&arp_rq[i]), 1);
        u32_t took = arp_done_at[i] - start;
        slowest = took > slowest ? took : slowest;
    }
    CHECK(slowest < STSM_DNS_TRY_TIMEOUT_MS / 4);
    CHECK_INT(after.retries - before.retries, 0);
    CHECK_INT(after.udp_tries - before.udp_tries, n);
    CHECK_INT(dns_queries, n);
    CHECK_INT(arp_requests, 1);
    printf("%u queries on a cold ARP table: all answered after %u ms at most, %u retries, %u resends\n",
           n, (unsigned)slowest, (unsigned)(after.retries - before.retries),
           (unsigned)(after.resends - before.resends));
    for (unsigned i = 0; i < n; i++) {
        stsm_resolver_cancel(&arp_rq[i]);
    }
}

static void test_arp(void)
{
    ip4_addr_t ip, mask, gw;
    IP4_ADDR(&ip, 192, 0, 2, 100);
    IP4_ADDR(&mask, 255, 255, 255, 0);
    IP4_ADDR(&gw, 192, 0, 2, 1);
    CHECK(netif_add(&eth, &ip, &mask, &gw, NULL, eth_init, ethernet_input) != NULL);
    struct netif *old_default = netif_default;
    netif_set_default(&eth);
    netif_set_up(&eth);
    run_for(20);
    play_wire();   /* the interface's own announcements, if any */
    ip_addr_t far;
    IP_ADDR4(&far, 203, 0, 113, 53);
    dns_setserver(0, &far);

    CHECK_CASE("three queries at once behind an unresolved gateway: queued, none lost or retried");
    etharp_cleanup_netif(&eth);
    arp_burst(3);

    CHECK_CASE("ARP queue full: the sends lwIP refuses are resent at once, not retried");
    /* Datagrams to an on-link address that never answers ARP hold all but two queue
     * entries, so three of five queries are refused with ERR_MEM. */
    etharp_cleanup_netif(&eth);
    struct udp_pcb *filler = udp_new();
    ip_addr_t silent;
    IP_ADDR4(&silent, 192, 0, 2, 50);
    for (int i = 0; i < MEMP_NUM_ARP_QUEUE - 2; i++) {
        struct pbuf *p = pbuf_alloc(PBUF_TRANSPORT, 4, PBUF_RAM);
        pbuf_take(p, "fill", 4);
        CHECK_INT(udp_sendto(filler, p, &silent, 9), ERR_OK);
        pbuf_free(p);
    }
    struct stsm_resolver_stats before, after;
    stsm_resolver_stats(&before);
    arp_burst(ARP_QUERIES);
    stsm_resolver_stats(&after);
    CHECK(after.resends - before.resends >= 1);
    udp_remove(filler);

    etharp_cleanup_netif(&eth);
    netif_set_default(old_default);
    netif_remove(&eth);
    wire_count = 0;
}

/* ---- the cache -------------------------------------------------------------------------- */

/* A done that starts another query (held in the cache) and then reads its own answer. */
static struct {
    struct stsm_resolver_query rq;
    bool started;
    char asked_after[64];
    enum stsm_dns_outcome outcome_after;
} nested;

static void on_outer(void *arg, stsm_status_t st, const struct stsm_dns_answer *answer, const ip_addr_t *server)
{
    (void)arg;
    (void)server;
    if (st != STSM_OK) {
        return;
    }
    nested.started = stsm_resolver_start(&nested.rq, "cached.lab.test", STSM_DNS_TYPE_A, on_resolved, NULL) ==
                     STSM_OK;
    snprintf(nested.asked_after, sizeof nested.asked_after, "%s", stsm_dns_str(answer, answer->asked));
    nested.outcome_after = answer->outcome;
}

static void test_cache(void)
{
    static struct stsm_resolver_query rq;
    ip_addr_t loopback;
    IP_ADDR4(&loopback, 127, 0, 0, 1);
    dns_setserver(0, &loopback);
    udp_answers = true;
    stsm_resolver_cache_clear();

    CHECK_CASE("cache: the first query goes to the server");
    calls = 0;
    udp_queries = 0;
    CHECK_INT(stsm_resolver_start(&rq, "cached.lab.test", STSM_DNS_TYPE_A, on_resolved, NULL), STSM_OK);
    run_for(100);
    CHECK_INT(calls, 1);
    CHECK_INT(status, STSM_OK);
    CHECK_INT(udp_queries, 1);
    CHECK(!stsm_resolver_from_cache(&rq));

    CHECK_CASE("cache: a second query within the TTL is answered with no packet, after the call");
    struct stsm_resolver_stats before, after;
    stsm_resolver_stats(&before);
    calls = 0;
    memset(answer_address, 0, sizeof answer_address);
    CHECK_INT(stsm_resolver_start(&rq, "CACHED.lab.test.", STSM_DNS_TYPE_A, on_resolved, NULL), STSM_OK);
    CHECK_INT(calls, 0);   /* never from inside the call */
    run_for(20);
    stsm_resolver_stats(&after);
    CHECK_INT(calls, 1);
    CHECK_INT(status, STSM_OK);
    CHECK(memcmp(answer_address, (const uint8_t[]){ 127, 0, 0, 2 }, 4) == 0);
    CHECK_INT(udp_queries, 1);
    CHECK(stsm_resolver_from_cache(&rq));
    CHECK_INT(stsm_resolver_tries(&rq), 0);
    CHECK_INT(after.cache_hits - before.cache_hits, 1);
    CHECK_INT(after.udp_tries - before.udp_tries, 0);

    CHECK_CASE("cache: another type of the same name is not served from it");
    calls = 0;
    CHECK_INT(stsm_resolver_start(&rq, "cached.lab.test", STSM_DNS_TYPE_TXT, on_resolved, NULL), STSM_OK);
    run_for(100);
    CHECK_INT(calls, 1);
    CHECK_INT(udp_queries, 2);

    CHECK_CASE("cache: a query served from it and cancelled before the timer never calls done");
    calls = 0;
    CHECK_INT(stsm_resolver_start(&rq, "cached.lab.test", STSM_DNS_TYPE_A, on_resolved, NULL), STSM_OK);
    stsm_resolver_cancel(&rq);
    run_for(20);
    CHECK_INT(calls, 0);

    CHECK_CASE("cache: a query started inside another's done leaves that answer as it is");
    /* Every query's answer is the resolver's one: one started from inside a `done` reads
     * the cache into it only later, from the timer, never under the caller's feet. */
    calls = 0;
    nested.started = false;
    CHECK_INT(stsm_resolver_start(&rq, "other.lab.test", STSM_DNS_TYPE_TXT, on_outer, NULL), STSM_OK);
    run_for(100);
    CHECK(nested.started);
    CHECK_STR(nested.asked_after, "other.lab.test");
    CHECK_INT(nested.outcome_after, STSM_DNS_NODATA);
    CHECK_INT(calls, 1);   /* the nested query, from the cache, after the outer done */
    CHECK(stsm_resolver_from_cache(&nested.rq));
    CHECK(memcmp(answer_address, (const uint8_t[]){ 127, 0, 0, 2 }, 4) == 0);
    CHECK_INT(udp_queries, 3);

    CHECK_CASE("cache: an answer gone between the start and its timer is asked of the server");
    calls = 0;
    CHECK_INT(stsm_resolver_start(&rq, "cached.lab.test", STSM_DNS_TYPE_A, on_resolved, NULL), STSM_OK);
    stsm_resolver_cache_clear();   /* as if another answer had taken its room */
    run_for(100);
    CHECK_INT(calls, 1);
    CHECK_INT(status, STSM_OK);
    CHECK(!stsm_resolver_from_cache(&rq));
    CHECK_INT(udp_queries, 4);

    CHECK_CASE("cache: cleared, the next query goes to the server again");
    stsm_resolver_cache_clear();
    calls = 0;
    CHECK_INT(stsm_resolver_start(&rq, "cached.lab.test", STSM_DNS_TYPE_A, on_resolved, NULL), STSM_OK);
    run_for(100);
    CHECK_INT(calls, 1);
    CHECK_INT(udp_queries, 5);
    CHECK(!stsm_resolver_from_cache(&rq));
    udp_answers = false;
    stsm_resolver_cache_clear();
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

    test_arp();
    dns_setserver(0, &loopback);
    test_cache();

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

    CHECK_CASE("a TCP reply of STSM_DNS_MSG_MAX bytes: answered");
    sized_len = STSM_DNS_MSG_MAX;
    ms = run_query(SIZED);
    CHECK_INT(status, STSM_OK);
    CHECK(memcmp(answer_address, (const uint8_t[]){ 127, 0, 0, 1 }, 4) == 0);
    CHECK(ms < deadline);

    CHECK_CASE("a TCP reply of STSM_DNS_MSG_MAX + 1 bytes: STSM_ERR_CAPACITY at once, no other try");
    sized_len = STSM_DNS_MSG_MAX + 1;
    ms = run_query(SIZED);
    CHECK_INT(status, STSM_ERR_CAPACITY);
    CHECK(ms < deadline);
    CHECK_INT(accepted, 1);
    printf("TCP reply limit: %u bytes answered, %u refused\n", (unsigned)STSM_DNS_MSG_MAX,
           (unsigned)STSM_DNS_MSG_MAX + 1);

    CHECK_CASE("a query after one that fell back to TCP gets its own deadline");
    ms = run_query(TRICKLE);
    CHECK_INT(status, STSM_ERR_TIMEOUT);
    CHECK(ms >= deadline && ms < deadline + 400);
    return stsm_check_summary("test_resolver");
}
