#include "stsm_resolver.h"

#include <string.h>

#include "lwip/dns.h"
#include "lwip/sys.h"
#include "lwip/timeouts.h"
#include "stsm_dns_cache.h"
#include "stsm_port.h"

#define EPHEMERAL_FIRST 49152u
#define EPHEMERAL_COUNT 16384u
#define BIND_ATTEMPTS   8

/* Replies arrive and are decoded one at a time in the single-threaded loop, and an answer
 * is handed to `done` at once (valid during the call only), so every query shares one
 * buffer for the raw message and one decoded answer: its pool of names and TXT text is
 * the program's one answer pool, not one per query. What a caller keeps of an answer it
 * copies out during `done`. */
static uint8_t reply[STSM_DNS_MSG_MAX];   /* also each query's message as it is sent */
static struct stsm_dns_answer answer;
/* A UDP reply is at most what we advertise; a device may set STSM_DNS_MSG_MAX that low, and
 * then a longer reply over TCP ends its query with STSM_ERR_CAPACITY. */
_Static_assert(STSM_DNS_EDNS_PAYLOAD <= STSM_DNS_MSG_MAX, "a UDP reply of the advertised size must fit");
/* `done` is running: `answer` is being read, so a query started from inside it must not
 * touch `answer` (no cache look into it) until later, from a timer. */
static unsigned in_done;

/* The longest query: the name's labels, header, question's type and class, EDNS0 OPT. */
#define QUERY_MSG_MAX (STSM_HOSTNAME_MAX + 2 + STSM_DNS_HEADER_LEN + 4 + 11)
_Static_assert(QUERY_MSG_MAX <= STSM_DNS_MSG_MAX, "a query is written into the reply buffer");

static struct stsm_dns_cache cache;
static bool cache_sweep_armed;
static struct stsm_resolver_stats stats;

static void resolver_timeout(void *arg);
static void resend_try(void *arg);
static void serve_cached(void *arg);
static void cache_sweep(void *arg);
static void udp_on_recv(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr,
                        u16_t port);
static void tcp_deadline(void *arg);
static err_t tcp_on_connected(void *arg, struct tcp_pcb *pcb, err_t err);
static err_t tcp_on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err);
static void tcp_on_err(void *arg, err_t err);

/* Ends the TCP connection of a query, if any. A DNS exchange over TCP is over once the
 * answer is in (or has failed), so the connection is reset rather than closed: that
 * frees the pcb at once, and callers inside lwIP callbacks then return ERR_ABRT. */
static void drop_tcp(struct stsm_resolver_query *rq)
{
    if (rq->tcp != NULL) {
        tcp_arg(rq->tcp, NULL);
        tcp_recv(rq->tcp, NULL);
        tcp_err(rq->tcp, NULL);
        tcp_abort(rq->tcp);
        rq->tcp = NULL;
    }
    if (rq->tcp_rx != NULL) {
        pbuf_free(rq->tcp_rx);
        rq->tcp_rx = NULL;
    }
}

static void stop_try_timers(struct stsm_resolver_query *rq)
{
    sys_untimeout(resolver_timeout, rq);
    sys_untimeout(resend_try, rq);
}

/* Releases the connections and timers of a query; the struct may then be reused. */
static void release(struct stsm_resolver_query *rq)
{
    stop_try_timers(rq);
    sys_untimeout(serve_cached, rq);
    sys_untimeout(tcp_deadline, rq);
    if (rq->udp != NULL) {
        udp_remove(rq->udp);
        rq->udp = NULL;
    }
    drop_tcp(rq);
    rq->active = false;
}

static void arm_cache_sweep(void)
{
    cache_sweep_armed = true;
    sys_timeout(STSM_DNS_CACHE_TTL_MAX_S * 1000u, cache_sweep, NULL);
}

/* Drops what has expired, hourly while anything is held, so that no entry outlives the
 * wrap of sys_now() (stsm_dns_cache.h). */
static void cache_sweep(void *arg)
{
    (void)arg;
    stsm_dns_cache_expire(&cache, sys_now());
    cache_sweep_armed = false;
    if (stsm_dns_cache_count(&cache) > 0) {
        arm_cache_sweep();
    }
}

static void finish(struct stsm_resolver_query *rq, stsm_status_t status, uint8_t server)
{
    release(rq);
    /* Stored before `done` runs: it may start this struct again. */
    if (status == STSM_OK && !rq->from_cache &&
        stsm_dns_cache_put(&cache, rq->query.name, rq->query.type, &answer,
                           &rq->servers[server], sizeof rq->servers[server], sys_now())) {
        stats.cache_stored++;
        if (!cache_sweep_armed) {
            arm_cache_sweep();
        }
    }
    /* The server's address is copied: `done` may start this struct again, over it. */
    ip_addr_t from = rq->servers[server];
    in_done++;
    rq->done(rq->done_arg, status, status == STSM_OK ? &answer : NULL, status == STSM_OK ? &from : NULL);
    in_done--;
}

/* The query's message, written again each time it is sent rather than kept in every query
 * (the same bytes each time: the ID and question are fixed at the start), into the reply
 * buffer, which holds a reply only while one is read: the caller copies it out at once. */
static const uint8_t *encode(const struct stsm_resolver_query *rq)
{
    size_t len = 0;
    (void)stsm_dns_encode_query(&rq->query, reply, QUERY_MSG_MAX, &len);   /* it did at the start */
    return reply;
}

/*
 * Sends the current try's datagram and arms its timeout. A send lwIP refuses is sent
 * again shortly rather than left to the try's timeout. The refusal we expect is ERR_MEM
 * from etharp_query(): lwIP's ARP queue (stsm_lwipopts_common.h) is sized so that it is
 * the pool running out that refuses, and that is reported, never a packet dropped in
 * silence. Resending is simpler and more certain than resolving the next hop before the
 * first burst: it needs no knowledge of routes or ARP, and it also covers the queue
 * filling later (an ARP entry expiring while a burst of address queries leaves).
 */
static void send_try(struct stsm_resolver_query *rq)
{
    err_t err = ERR_MEM;
    struct pbuf *p = pbuf_alloc(PBUF_TRANSPORT, (u16_t)rq->query_len, PBUF_RAM);
    if (p != NULL) {
        pbuf_take(p, encode(rq), (u16_t)rq->query_len);
        err = udp_sendto(rq->udp, p, &rq->servers[rq->try_server], STSM_DNS_PORT);
        pbuf_free(p);
    }
    if (err == ERR_OK) {
        sys_timeout(rq->try_ms, resolver_timeout, rq);
    } else if (rq->resends_left > 0) {
        rq->resends_left--;
        stats.resends++;
        sys_timeout(STSM_DNS_RESEND_MS, resend_try, rq);
    } else {
        /* The try's time went by in refused sends: it is lost, as a packet would be. */
        sys_timeout(STSM_DNS_RESEND_MS, resolver_timeout, rq);
    }
}

static void resend_try(void *arg)
{
    send_try(arg);
}

/* Sends the next UDP try, or ends the query when the tries are used up. */
static void next_try(struct stsm_resolver_query *rq)
{
    stop_try_timers(rq);
    drop_tcp(rq);
    if (rq->tries == STSM_DNS_TRIES) {
        finish(rq, rq->last_error, 0);
        return;
    }
    rq->try_server = (uint8_t)(rq->tries % rq->server_count);
    rq->try_ms = (uint32_t)STSM_DNS_TRY_TIMEOUT_MS << (rq->tries / rq->server_count);
    rq->resends_left = (uint16_t)(rq->try_ms / STSM_DNS_RESEND_MS < 0xFFFFu
                                      ? rq->try_ms / STSM_DNS_RESEND_MS : 0xFFFFu);
    stats.udp_tries++;
    if (rq->tries > 0) {
        stats.retries++;
    }
    rq->tries++;
    rq->asked_mask |= (uint8_t)(1u << rq->try_server);
    send_try(rq);
}

/* Collects lwIP's DNS servers and opens the query's UDP pcb on a random port, then sends
 * the first try. Returns why not, with nothing held. */
static stsm_status_t ask_servers(struct stsm_resolver_query *rq)
{
    rq->server_count = 0;
    for (u8_t i = 0; i < DNS_MAX_SERVERS; i++) {
        const ip_addr_t *server = dns_getserver(i);
        if (!ip_addr_isany(server)) {
            ip_addr_copy(rq->servers[rq->server_count++], *server);
        }
    }
    if (rq->server_count == 0) {
        return STSM_ERR_NOT_CONFIGURED;
    }

    rq->udp = udp_new_ip_type(IPADDR_TYPE_ANY);
    if (rq->udp == NULL) {
        return STSM_ERR_NO_MEMORY;
    }
    err_t err = ERR_USE;
    for (int i = 0; i < BIND_ATTEMPTS && err == ERR_USE; i++) {
        u16_t port = (u16_t)(EPHEMERAL_FIRST + stsm_port_random_u32() % EPHEMERAL_COUNT);
        err = udp_bind(rq->udp, IP_ANY_TYPE, port);
    }
    if (err != ERR_OK) {
        udp_remove(rq->udp);
        rq->udp = NULL;
        return STSM_ERR_NO_MEMORY;
    }
    udp_recv(rq->udp, udp_on_recv, rq);
    next_try(rq);
    return STSM_OK;
}

/* A query that may be held in the cache, from a timer as a fresh answer would come. The
 * cache is read again here, into the one answer, at the time the query started: the
 * answer seen at the start (if any) may have given way to another since, and then the
 * query goes to the servers after all (its failure to start told through `done`). */
static void serve_cached(void *arg)
{
    struct stsm_resolver_query *rq = arg;
    if (stsm_dns_cache_get(&cache, rq->query.name, rq->query.type, rq->started_ms, &answer,
                           &rq->servers[0], sizeof rq->servers[0])) {
        stats.cache_hits++;
        rq->from_cache = true;
        rq->server_count = 1;
        finish(rq, STSM_OK, 0);
        return;
    }
    stsm_status_t st = ask_servers(rq);
    if (st != STSM_OK) {
        finish(rq, st, 0);
    }
}

/* A try got no usable answer in time. The query's final error stays "server failure"
 * once any server answered badly, and is "timeout" only if none answered at all. */
static void resolver_timeout(void *arg)
{
    next_try(arg);
}

/* The query's time over TCP is up: it ends here, whatever try it is in. */
static void tcp_deadline(void *arg)
{
    struct stsm_resolver_query *rq = arg;
    finish(rq, rq->last_error, 0);
}

static int server_index(const struct stsm_resolver_query *rq, const ip_addr_t *addr)
{
    for (uint8_t i = 0; i < rq->server_count; i++) {
        if (ip_addr_cmp(&rq->servers[i], addr)) {
            return i;
        }
    }
    return -1;
}

/* What to do with a decoded reply from server `server`. */
static void handle_reply(struct stsm_resolver_query *rq, const uint8_t *msg, size_t len,
                         uint8_t server, bool over_tcp)
{
    stsm_status_t st = stsm_dns_decode(msg, len, &rq->query, &answer);
    if (st == STSM_ERR_DNS_NOT_ANSWER) {
        return;   /* stale, spoofed or stray: keep waiting for ours */
    }
    if (st == STSM_ERR_DNS_CNAME_CHAIN || st == STSM_ERR_CAPACITY) {
        finish(rq, st, server);   /* the data itself is the problem; another server won't help */
        return;
    }
    if (st == STSM_OK && answer.outcome == STSM_DNS_TRUNCATED && !over_tcp) {
        stop_try_timers(rq);
        rq->tcp_server = server;
        rq->tcp = tcp_new_ip_type(IP_GET_TYPE(&rq->servers[server]));
        if (rq->tcp == NULL) {
            next_try(rq);
            return;
        }
        tcp_arg(rq->tcp, rq);
        tcp_recv(rq->tcp, tcp_on_recv);
        tcp_err(rq->tcp, tcp_on_err);
        if (tcp_connect(rq->tcp, &rq->servers[server], STSM_DNS_PORT, tcp_on_connected) != ERR_OK) {
            next_try(rq);
            return;
        }
        /* One deadline for the rest of the query, armed at its first fallback to TCP and
         * never re-armed: not by bytes arriving (a server that sends a byte at a time
         * cannot hold the query open), nor by a later try (one that truncates every UDP
         * answer and then trickles cannot make each try a fresh wait). An exchange that
         * fails early leaves what remains to the next tries. */
        if (!rq->tcp_deadline_armed) {
            rq->tcp_deadline_armed = true;
            sys_timeout(STSM_DNS_TCP_TIMEOUT_MS, tcp_deadline, rq);
        }
        return;
    }
    if (st == STSM_OK && answer.outcome != STSM_DNS_TEMPFAIL &&
        answer.outcome != STSM_DNS_TRUNCATED) {
        finish(rq, STSM_OK, server);
        return;
    }
    /* SERVFAIL/REFUSED/..., garbage, or truncated even over TCP: this server failed. */
    if (st == STSM_OK && answer.outcome == STSM_DNS_TEMPFAIL) {
        rq->last_rcode = answer.rcode;
    }
    rq->last_error = STSM_ERR_DNS_SERVER_FAILURE;
    next_try(rq);
}

static void udp_on_recv(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr,
                        u16_t port)
{
    struct stsm_resolver_query *rq = arg;
    (void)pcb;
    int server = server_index(rq, addr);
    /* Only port 53 of a server this query was sent to may answer it. */
    if (!rq->active || rq->tcp != NULL || port != STSM_DNS_PORT || server < 0 ||
        !(rq->asked_mask & (1u << server))) {
        pbuf_free(p);
        return;
    }
    size_t len = p->tot_len < sizeof reply ? p->tot_len : sizeof reply;
    pbuf_copy_partial(p, reply, (u16_t)len, 0);
    pbuf_free(p);
    handle_reply(rq, reply, len, (uint8_t)server, false);
}

static err_t tcp_on_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
    struct stsm_resolver_query *rq = arg;
    uint8_t prefix[2] = { (uint8_t)(rq->query_len >> 8), (uint8_t)rq->query_len };
    (void)err;   /* failures arrive through tcp_on_err */
    if (tcp_write(pcb, prefix, 2, TCP_WRITE_FLAG_COPY | TCP_WRITE_FLAG_MORE) != ERR_OK ||
        tcp_write(pcb, encode(rq), (u16_t)rq->query_len, TCP_WRITE_FLAG_COPY) != ERR_OK) {
        next_try(rq);
        return ERR_ABRT;
    }
    tcp_output(pcb);
    return ERR_OK;
}

static err_t tcp_on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    struct stsm_resolver_query *rq = arg;
    (void)err;
    if (p == NULL) {
        /* Closed before the whole answer arrived: this server failed. */
        rq->last_error = STSM_ERR_DNS_SERVER_FAILURE;
        next_try(rq);
        return ERR_ABRT;
    }
    tcp_recved(pcb, p->tot_len);
    /* The segments stay in lwIP's pbufs until the whole message is in: at most
     * STSM_DNS_MSG_MAX + 2 bytes plus one segment, as longer replies are refused (as soon
     * as their length is in, STSM_ERR_CAPACITY: no other server would answer shorter). */
    if (rq->tcp_rx == NULL) {
        rq->tcp_rx = p;
    } else {
        pbuf_cat(rq->tcp_rx, p);
    }
    size_t have = rq->tcp_rx->tot_len;
    if (have < 2) {
        return ERR_OK;
    }
    size_t want = ((size_t)pbuf_get_at(rq->tcp_rx, 0) << 8) | pbuf_get_at(rq->tcp_rx, 1);
    if (want > STSM_DNS_MSG_MAX) {
        finish(rq, STSM_ERR_CAPACITY, rq->tcp_server);
        return ERR_ABRT;
    }
    if (have < 2 + want) {
        return ERR_OK;
    }
    pbuf_copy_partial(rq->tcp_rx, reply, (u16_t)want, 2);
    pbuf_free(rq->tcp_rx);   /* anything after this message is not waited for */
    rq->tcp_rx = NULL;
    handle_reply(rq, reply, want, rq->tcp_server, true);
    /* Every outcome but "not our answer, keep waiting" has dropped this connection. */
    return rq->tcp == pcb ? ERR_OK : ERR_ABRT;
}

static void tcp_on_err(void *arg, err_t err)
{
    struct stsm_resolver_query *rq = arg;
    (void)err;
    rq->tcp = NULL;   /* lwIP has freed it */
    rq->last_error = STSM_ERR_DNS_SERVER_FAILURE;
    next_try(rq);
}

stsm_status_t stsm_resolver_start(struct stsm_resolver_query *rq, const char *name, uint16_t type,
                                  stsm_resolver_done_fn done, void *arg)
{
    size_t name_len = name != NULL ? strlen(name) : STSM_HOSTNAME_MAX + 1;
    if (name_len > STSM_HOSTNAME_MAX || done == NULL) {
        return STSM_ERR_ARGUMENT;
    }
    memset(rq, 0, sizeof *rq);
    rq->done = done;
    rq->done_arg = arg;
    rq->last_error = STSM_ERR_TIMEOUT;
    rq->query.type = type;
    rq->query.id = (uint16_t)stsm_port_random_u32();
    memcpy(rq->query.name, name, name_len + 1);
    stsm_status_t st = stsm_dns_encode_query(&rq->query, reply, QUERY_MSG_MAX, &rq->query_len);
    if (st != STSM_OK) {
        return st == STSM_ERR_CAPACITY ? STSM_ERR_ARGUMENT : st;
    }
    stats.queries++;
    rq->started_ms = sys_now();
    /* Inside another query's `done` the one answer is in use: whether the cache holds this
     * one is seen from the timer. Otherwise a look now keeps a miss's first packet (and its
     * errors) in this call. */
    rq->active = true;
    if (in_done > 0 || stsm_dns_cache_get(&cache, name, type, rq->started_ms, &answer, NULL, 0)) {
        sys_timeout(0, serve_cached, rq);
        return STSM_OK;
    }
    st = ask_servers(rq);
    rq->active = st == STSM_OK;
    return st;
}

void stsm_resolver_cancel(struct stsm_resolver_query *rq)
{
    if (rq->active) {
        release(rq);
    }
}

uint8_t stsm_resolver_tries(const struct stsm_resolver_query *rq)
{
    return rq->tries;
}

bool stsm_resolver_from_cache(const struct stsm_resolver_query *rq)
{
    return rq->from_cache;
}

void stsm_resolver_stats(struct stsm_resolver_stats *out)
{
    *out = stats;
}

void stsm_resolver_cache_clear(void)
{
    stsm_dns_cache_clear(&cache);
    sys_untimeout(cache_sweep, NULL);
    cache_sweep_armed = false;
}

uint8_t stsm_resolver_last_rcode(const struct stsm_resolver_query *rq)
{
    return rq->last_rcode;
}
