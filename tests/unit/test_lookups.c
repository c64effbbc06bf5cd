/*
 * The lookups a delivery starts, with their own code (stsm_sts_lookup.c, stsm_sts_fetch.c,
 * stsm_route.c built into the test) against a scripted resolver and connection defined
 * here, on lwIP's timer list with a clock the test moves; no network runs. What is checked
 * is which queries are in flight when, and what comes of their answers (issue 12, point 4
 * and the TXT check beside a cached policy):
 *   1a/1b  a cold lookup asks the TXT record and the policy host's address together, and the
 *          fetch connects as soon as the TXT allows it, whichever answer comes first;
 *   1c     no STS record: the address query is dropped, nothing connects;
 *   1d     a CNAME on the policy host is still seen (strict scope policy_host);
 *   2a     a cached unexpired policy is in force at the start, and only the TXT is asked;
 *   2b     a changed id: nothing is fetched until the caller asks (it may hold a TLS
 *          session); then the cache gets the new policy, the one in force stays, and the
 *          TLS sessions kept for resumption are forgotten;
 *   2c     a changed id whose fetch fails: the cached policy stays, the back-off is set;
 *   3a/3b  the delivery's IPv4 route asks A alone (both hosts at once); the reports' route
 *          still asks A and AAAA.
 * 1a, 1b and 2a fail on the code before this change (one query in flight at the start, the
 * policy known only once the TXT answered); 3a does not build on it.
 */
#include <stdlib.h>

#include "dns_packet.h"
#include "lwip/init.h"
#include "lwip/sys.h"
#include "lwip/timeouts.h"
#include "stsm_check.h"
#include "stsm_port.h"
#include "stsm_route.h"
#include "stsm_sts_lookup.h"

#define NOW 1796083200

/* ---- time ----------------------------------------------------------------------------- */

static uint32_t now_ms = 5000;

u32_t sys_now(void)
{
    return now_ms;
}

/* Only equal MX preferences are shuffled with it; none are here. */
uint32_t stsm_port_random_u32(void)
{
    return 0;
}

/* Runs the timers due now (a fetch started on a known address connects from there). */
static void serve(void)
{
    sys_check_timeouts();
}

/* ---- the scripted resolver ----------------------------------------------------------- */

static struct asked {
    struct stsm_resolver_query *rq;
    char name[STSM_HOSTNAME_MAX + 1];
    uint16_t type;
    stsm_resolver_done_fn done;
    void *arg;
    bool live;
} asked[32];
static unsigned asked_count, cancels;

stsm_status_t stsm_resolver_start(struct stsm_resolver_query *rq, const char *name, uint16_t type,
                                  stsm_resolver_done_fn done, void *arg)
{
    if (asked_count == sizeof asked / sizeof asked[0]) {
        return STSM_ERR_NO_MEMORY;
    }
    struct asked *a = &asked[asked_count++];
    a->rq = rq;
    snprintf(a->name, sizeof a->name, "%s", name);
    a->type = type;
    a->done = done;
    a->arg = arg;
    a->live = true;
    rq->active = true;
    return STSM_OK;
}

void stsm_resolver_cancel(struct stsm_resolver_query *rq)
{
    for (unsigned i = 0; i < asked_count; i++) {
        if (asked[i].rq == rq && asked[i].live) {
            asked[i].live = false;
            cancels++;
        }
    }
    rq->active = false;
}

/* Queries in flight, as "TYPE name " each in the order asked. */
static const char *in_flight(void)
{
    static char text[512];
    text[0] = '\0';
    for (unsigned i = 0; i < asked_count; i++) {
        if (asked[i].live) {
            size_t used = strlen(text);
            snprintf(text + used, sizeof text - used, "%s %s ", stsm_dns_type_str(asked[i].type), asked[i].name);
        }
    }
    return text;
}

static struct asked *find(const char *name, uint16_t type)
{
    for (unsigned i = 0; i < asked_count; i++) {
        if (asked[i].live && asked[i].type == type && strcmp(asked[i].name, name) == 0) {
            return &asked[i];
        }
    }
    return NULL;
}

/* The server answers the live query for `name`/`type` with the message in `p`. */
static void answer(const char *name, uint16_t type, const struct pkt *p)
{
    static struct stsm_dns_answer decoded;
    struct asked *a = find(name, type);
    CHECK(a != NULL);
    if (a == NULL) {
        return;
    }
    struct stsm_dns_query q = { .id = 0x4242, .type = type };
    snprintf(q.name, sizeof q.name, "%s", name);
    CHECK_INT(stsm_dns_decode(p->b, p->n, &q, &decoded), STSM_OK);
    ip_addr_t server;
    IP_ADDR4(&server, 192, 0, 2, 53);
    a->live = false;
    a->rq->active = false;
    a->done(a->arg, STSM_OK, &decoded, &server);
}

static void answer_a(const char *name, uint8_t last)
{
    struct pkt p;
    pkt_header(&p, 0x4242, 0, 0, 1, 1, 0, 0);
    pkt_question(&p, name, STSM_DNS_TYPE_A);
    pkt_rr_a(&p, name, 192, 0, 2, last);
    answer(name, STSM_DNS_TYPE_A, &p);
}

static void answer_txt(const char *name, const char *record)
{
    struct pkt p;
    pkt_header(&p, 0x4242, 0, record == NULL ? 3 : 0, 1, record == NULL ? 0 : 1, 0, 0);
    pkt_question(&p, name, STSM_DNS_TYPE_TXT);
    if (record != NULL) {
        pkt_rr_txt(&p, name, record, NULL);
    }
    answer(name, STSM_DNS_TYPE_TXT, &p);
}

/* ---- the scripted connection --------------------------------------------------------- */

static struct {
    struct stsm_conn *conn;
    stsm_conn_event_fn event;
    void *arg;
    unsigned connects, start_tls;
    stsm_status_t start_tls_status;   /* what stsm_conn_start_tls() returns */
    bool open;
    char address[IPADDR_STRLEN_MAX + 8];
    char tls_host[STSM_HOSTNAME_MAX + 1];
    char sent[1024];
    const char *reply;
    size_t reply_at;
} net;

stsm_status_t stsm_conn_connect(struct stsm_conn *conn, const ip_addr_t *address, uint16_t port,
                                uint32_t timeout_ms, stsm_conn_event_fn event, void *arg)
{
    char text[IPADDR_STRLEN_MAX];
    (void)timeout_ms;
    net.conn = conn;
    net.event = event;
    net.arg = arg;
    net.connects++;
    net.open = true;
    snprintf(net.address, sizeof net.address, "%s:%u", ipaddr_ntoa_r(address, text, sizeof text), (unsigned)port);
    return STSM_OK;
}

stsm_status_t stsm_conn_start_tls(struct stsm_conn *conn, struct stsm_tls *tls, const char *host)
{
    (void)conn;
    (void)tls;
    net.start_tls++;
    snprintf(net.tls_host, sizeof net.tls_host, "%s", host);
    return net.start_tls_status;
}

long stsm_conn_send(struct stsm_conn *conn, const void *data, size_t len)
{
    (void)conn;
    size_t used = strlen(net.sent);
    snprintf(net.sent + used, sizeof net.sent - used, "%.*s", (int)len, (const char *)data);
    return (long)len;
}

long stsm_conn_recv(struct stsm_conn *conn, void *buf, size_t cap)
{
    (void)conn;
    size_t left = net.reply != NULL ? strlen(net.reply) - net.reply_at : 0;
    size_t n = left < cap ? left : cap;
    memcpy(buf, net.reply + net.reply_at, n);
    net.reply_at += n;
    return (long)n;
}

void stsm_conn_flush(struct stsm_conn *conn)
{
    (void)conn;
}

void stsm_conn_close(struct stsm_conn *conn)
{
    (void)conn;
    net.open = false;
}

static void conn_event(enum stsm_conn_event event, stsm_status_t status)
{
    CHECK(net.open);
    if (net.open) {
        net.event(net.arg, net.conn, event, status);
    }
}

/* The policy server answers the request with `body` as text/plain, over verified TLS. */
static void serve_policy(const char *body)
{
    static char reply[1024];
    snprintf(reply, sizeof reply, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n%s",
             strlen(body), body);
    conn_event(STSM_CONN_CONNECTED, STSM_OK);
    conn_event(STSM_CONN_TLS_READY, STSM_OK);
    net.reply = reply;
    net.reply_at = 0;
    conn_event(STSM_CONN_READABLE, STSM_OK);
}

/* ---- the TLS sessions ----------------------------------------------------------------- */

static struct stsm_tls tls;   /* only its address is used: the connection is scripted */
static unsigned forgets;

void stsm_tls_forget_sessions(struct stsm_tls *t)
{
    CHECK(t == &tls);
    forgets++;
}

/* ---- the cases ------------------------------------------------------------------------ */

#define ENFORCE_MX1 "version: STSv1\nmode: enforce\nmx: mx1.d.test\nmax_age: 86400\n"
#define TESTING_MX2 "version: STSv1\nmode: testing\nmx: mx2.d.test\nmax_age: 86400\n"

static struct stsm_sts_lookup lookup;
static struct stsm_sts_cache cache;
static unsigned dones;

static void on_lookup(void *arg, struct stsm_sts_lookup *l)
{
    (void)arg;
    CHECK(l == &lookup);
    dones++;
}

static void reset(void)
{
    memset(asked, 0, sizeof asked);
    asked_count = cancels = forgets = 0;
    memset(&net, 0, sizeof net);
    dones = 0;
    stsm_sts_cache_init(&cache);
}

static stsm_status_t start_lookup(void)
{
    return stsm_sts_lookup_start(&lookup, "d.test", &tls, 10000, false, &cache, NOW, on_lookup, NULL);
}

static void cache_policy(const char *id, const char *body, int64_t at)
{
    struct stsm_sts_policy p;
    size_t line;
    const char *reason;
    CHECK_INT(stsm_sts_policy_parse((const uint8_t *)body, strlen(body), &p, &line, &reason), STSM_OK);
    stsm_sts_cache_put(&cache, "d.test", id, &p, at);
}

static void test_cold(bool address_first)
{
    CHECK_CASE(address_first ? "1a cold: TXT and the policy host's A together; its answer first"
                             : "1b cold: TXT and the policy host's A together; the TXT answer first");
    reset();
    CHECK_INT(start_lookup(), STSM_OK);
    CHECK_STR(in_flight(), "TXT _mta-sts.d.test A mta-sts.d.test ");
    CHECK(!lookup.early && !lookup.have_policy);
    if (address_first) {
        answer_a("mta-sts.d.test", 80);
        serve();
        CHECK_INT(net.connects, 0);   /* nothing connects before the TXT says so */
        answer_txt("_mta-sts.d.test", "v=STSv1; id=one;");
        CHECK_INT(net.connects, 0);   /* never inside the callback chain of the start */
        serve();
    } else {
        answer_txt("_mta-sts.d.test", "v=STSv1; id=one;");
        serve();
        CHECK_INT(net.connects, 0);
        CHECK_STR(in_flight(), "A mta-sts.d.test ");   /* the one asked at the start, not a second */
        answer_a("mta-sts.d.test", 80);
    }
    CHECK_INT(net.connects, 1);
    CHECK_STR(net.address, "192.0.2.80:443");
    CHECK_INT(asked_count, 2);
    serve_policy(ENFORCE_MX1);
    CHECK_STR(net.tls_host, "mta-sts.d.test");   /* verified for the policy host's own name */
    CHECK(strstr(net.sent, "GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.d.test\r\n") != NULL);
    CHECK_INT(dones, 1);
    CHECK(lookup.fetched && lookup.have_policy && !lookup.from_cache && !lookup.early);
    CHECK_INT(lookup.policy.mode, STSM_STS_MODE_ENFORCE);
    const struct stsm_sts_cache_entry *e = stsm_sts_cache_get(&cache, "d.test", NOW);
    CHECK(e != NULL && strcmp(e->id, "one") == 0);
    CHECK_STR(in_flight(), "");
    CHECK_INT(forgets, 1);   /* a policy where there was none: no session outlives it */
}

static void test_no_record(void)
{
    CHECK_CASE("1c no STS record: the policy host's A is dropped, nothing connects");
    reset();
    CHECK_INT(start_lookup(), STSM_OK);
    answer_txt("_mta-sts.d.test", NULL);
    CHECK_INT(dones, 1);
    CHECK_INT(lookup.txt_state, STSM_STS_TXT_NONE);
    CHECK_STR(in_flight(), "");
    CHECK_INT(cancels, 1);
    now_ms += 60000;
    serve();
    CHECK_INT(net.connects, 0);
    CHECK(!lookup.fetched && !lookup.have_policy);
}

static void test_policy_host_cname(void)
{
    CHECK_CASE("1d the policy host's A through a CNAME, answered early: still seen");
    reset();
    CHECK_INT(start_lookup(), STSM_OK);
    struct pkt p;
    pkt_header(&p, 0x4242, 0, 0, 1, 2, 0, 0);
    pkt_question(&p, "mta-sts.d.test", STSM_DNS_TYPE_A);
    pkt_rr_cname(&p, "mta-sts.d.test", "policy.hoster.test");
    pkt_rr_a(&p, "policy.hoster.test", 192, 0, 2, 81);
    answer("mta-sts.d.test", STSM_DNS_TYPE_A, &p);
    answer_txt("_mta-sts.d.test", "v=STSv1; id=one;");
    serve();
    CHECK_STR(net.address, "192.0.2.81:443");
    conn_event(STSM_CONN_FAILED, STSM_ERR_CONNECT);
    CHECK_INT(dones, 1);
    CHECK(lookup.fetched && !lookup.have_policy);
    CHECK(lookup.fetch.host_cname);
    CHECK_STR(lookup.fetch.host_canonical, "policy.hoster.test");
}

/* The TLS arena ran out under the policy fetch, when its session was set up or during the
 * handshake: no_memory, and the reason names the arena (a board sizing error, which
 * no_memory alone does not say). */
static void test_fetch_arena(void)
{
    for (int at_setup = 0; at_setup <= 1; at_setup++) {
        CHECK_CASE(at_setup ? "1e the policy fetch's TLS setup runs out of the arena: the arena named"
                            : "1e' the policy fetch's handshake runs out of the arena: the arena named");
        reset();
        CHECK_INT(start_lookup(), STSM_OK);
        answer_a("mta-sts.d.test", 80);
        answer_txt("_mta-sts.d.test", "v=STSv1; id=one;");
        serve();
        CHECK_INT(net.connects, 1);
        net.start_tls_status = at_setup ? STSM_ERR_NO_MEMORY : STSM_OK;
        conn_event(STSM_CONN_CONNECTED, STSM_OK);
        if (!at_setup) {
            conn_event(STSM_CONN_FAILED, STSM_ERR_NO_MEMORY);
        }
        CHECK_INT(dones, 1);
        CHECK(lookup.fetched && !lookup.have_policy);
        CHECK_INT(lookup.fetch.status, STSM_ERR_NO_MEMORY);
        CHECK(lookup.fetch.policy_reason != NULL && strstr(lookup.fetch.policy_reason, "STSM_TLS_ARENA_SIZE") != NULL);
    }
}

static void test_cached_in_force(void)
{
    CHECK_CASE("2a a cached unexpired policy: in force at the start, only the TXT asked");
    reset();
    cache_policy("one", ENFORCE_MX1, NOW - 3600);
    CHECK_INT(start_lookup(), STSM_OK);
    CHECK(lookup.early && lookup.have_policy && lookup.from_cache);
    CHECK_STR(lookup.policy_id, "one");
    CHECK_INT(lookup.policy.mode, STSM_STS_MODE_ENFORCE);
    CHECK_STR(in_flight(), "TXT _mta-sts.d.test ");
    CHECK_INT(dones, 0);
    answer_txt("_mta-sts.d.test", "v=STSv1; id=one;");
    CHECK_INT(dones, 1);
    CHECK(!lookup.fetched && !lookup.refreshed && lookup.have_policy);
    CHECK_STR(stsm_sts_policy_mx_first(&lookup.policy), "mx1.d.test");
    CHECK_INT(asked_count, 1);
    CHECK_INT(forgets, 0);
}

static void test_cached_changed(bool fetch_fails)
{
    CHECK_CASE(fetch_fails ? "2c a changed id whose fetch fails: the cached policy stays, back-off set"
                           : "2b a changed id fetched when asked: the cache gets it, the one in force stays");
    reset();
    cache_policy("one", ENFORCE_MX1, NOW - 3600);
    CHECK_INT(start_lookup(), STSM_OK);
    CHECK(lookup.early);
    answer_txt("_mta-sts.d.test", "v=STSv1; id=two;");
    /* Nothing is fetched while the caller may hold a TLS session: it asks for the fetch. */
    CHECK_INT(dones, 1);
    CHECK(lookup.refresh_due && !lookup.fetched);
    CHECK_STR(in_flight(), "");
    serve();
    CHECK_INT(net.connects, 0);
    const struct stsm_sts_cache_entry *before = stsm_sts_cache_get(&cache, "d.test", NOW);
    CHECK(before != NULL && strcmp(before->id, "one") == 0);
    CHECK_INT(stsm_sts_lookup_refresh(&lookup), STSM_OK);
    CHECK(!lookup.refresh_due);
    CHECK_INT(stsm_sts_lookup_refresh(&lookup), STSM_ERR_ARGUMENT);   /* once */
    CHECK_STR(in_flight(), "A mta-sts.d.test ");
    answer_a("mta-sts.d.test", 80);
    CHECK_INT(net.connects, 1);
    if (fetch_fails) {
        conn_event(STSM_CONN_FAILED, STSM_ERR_CONNECT);
    } else {
        serve_policy(TESTING_MX2);
    }
    CHECK_INT(dones, 2);
    CHECK(lookup.fetched && lookup.have_policy && lookup.from_cache);
    CHECK_INT(lookup.refreshed, !fetch_fails);
    CHECK_STR(lookup.policy_id, "one");
    CHECK_INT(lookup.policy.mode, STSM_STS_MODE_ENFORCE);   /* not weakened under the delivery */
    CHECK_STR(stsm_sts_policy_mx_first(&lookup.policy), "mx1.d.test");
    const struct stsm_sts_cache_entry *e = stsm_sts_cache_get(&cache, "d.test", NOW);
    CHECK(e != NULL);
    if (e != NULL) {
        CHECK_STR(e->id, fetch_fails ? "one" : "two");
        CHECK_INT(e->policy.mode, fetch_fails ? STSM_STS_MODE_ENFORCE : STSM_STS_MODE_TESTING);
    }
    CHECK_INT(stsm_sts_cache_may_fetch(&cache, "d.test", "two", NOW), !fetch_fails);
    CHECK_INT(forgets, !fetch_fails);   /* a new id stored: the TLS sessions are forgotten */
}

/* ---- the route ------------------------------------------------------------------------ */

static struct stsm_route route;
static const struct stsm_mx_set *routed;
static unsigned route_dones;

static void on_route(void *arg, stsm_status_t status, const struct stsm_mx_set *set)
{
    (void)arg;
    CHECK_INT(status, STSM_OK);
    routed = set;
    route_dones++;
}

static void test_route(bool ipv4_only)
{
    CHECK_CASE(ipv4_only ? "3a the delivery's route asks A alone, both hosts at once"
                         : "3b the reports' route asks A and AAAA");
    reset();
    route_dones = 0;
    CHECK_INT((ipv4_only ? stsm_route_start_ipv4 : stsm_route_start)(&route, "d.test", on_route, NULL), STSM_OK);
    struct pkt p;
    pkt_header(&p, 0x4242, 0, 0, 1, 2, 0, 0);
    pkt_question(&p, "d.test", STSM_DNS_TYPE_MX);
    pkt_rr_mx(&p, "d.test", 10, "mx1.d.test");
    pkt_rr_mx(&p, "d.test", 20, "mx2.d.test");
    answer("d.test", STSM_DNS_TYPE_MX, &p);
    if (ipv4_only) {
        CHECK_STR(in_flight(), "A mx1.d.test A mx2.d.test ");
        answer_a("mx2.d.test", 26);
        CHECK_INT(route_dones, 0);
        answer_a("mx1.d.test", 25);
        CHECK_INT(route_dones, 1);
        CHECK_INT(asked_count, 3);
    } else {
        CHECK_STR(in_flight(), "A mx1.d.test AAAA mx1.d.test ");
        answer_a("mx1.d.test", 25);
        CHECK_STR(in_flight(), "AAAA mx1.d.test A mx2.d.test ");
        CHECK_INT(route_dones, 0);
    }
    if (route_dones == 1 && routed != NULL) {
        CHECK_INT(routed->count, 2);
        CHECK_STR(routed->hosts[0].name, "mx1.d.test");   /* preference order kept */
        CHECK_INT(routed->hosts[0].address_count, 1);
        CHECK_INT(routed->hosts[0].addresses[0].bytes[3], 25);
        CHECK_INT(routed->hosts[1].addresses[0].bytes[3], 26);
        CHECK(routed->hosts[0].a.done && !routed->hosts[0].aaaa.done);
    }
}

/* 3c: the route keeps its own copy of the hosts' names (STSM_MX_NAMES_MAX), not the MX
 * answer's (the resolver's one answer, reused by every address lookup that follows). Six
 * hosts of 200-byte names: the best five fit and are looked up, the sixth is left out and
 * counted; a CNAME target that no longer fits fails that host's lookup, no address taken. */
static void test_route_names(void)
{
    CHECK_CASE("3c names beyond the route's room: the worst host left out, a CNAME target too long fails its lookup");
    static const char label[] = "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk";   /* 63 */
    static char names[6][256];
    reset();
    route_dones = 0;
    CHECK_INT(stsm_route_start_ipv4(&route, "d.test", on_route, NULL), STSM_OK);
    struct pkt p;
    pkt_header(&p, 0x4242, 0, 0, 1, 6, 0, 0);
    pkt_question(&p, "d.test", STSM_DNS_TYPE_MX);
    for (size_t i = 0; i < 6; i++) {
        snprintf(names[i], sizeof names[i], "%s.%s.%.61s.mx%zu.d.test", label, label, label, i);
        pkt_rr_mx(&p, "d.test", (unsigned)(10 * (i + 1)), names[i]);
    }
    answer("d.test", STSM_DNS_TYPE_MX, &p);
    CHECK(find(names[5], STSM_DNS_TYPE_A) == NULL);   /* never asked: left out */
    for (size_t i = 1; i < 5; i++) {
        answer_a(names[i], (uint8_t)(25 + i));
    }
    pkt_header(&p, 0x4242, 0, 0, 1, 2, 0, 0);
    pkt_question(&p, names[0], STSM_DNS_TYPE_A);
    pkt_rr_cname(&p, names[0], "a-longer-target-than-fits.other.test");
    pkt_rr_a(&p, "a-longer-target-than-fits.other.test", 192, 0, 2, 25);
    answer(names[0], STSM_DNS_TYPE_A, &p);
    CHECK_INT(route_dones, 1);
    if (route_dones == 1 && routed != NULL) {
        CHECK_INT(routed->count, 5);
        CHECK_INT(routed->hosts_dropped, 1);
        CHECK(routed->names_full);
        for (size_t i = 0; i < 5; i++) {
            CHECK_STR(routed->hosts[i].name, names[i]);
        }
        CHECK_INT(routed->hosts[0].a.status, STSM_ERR_CAPACITY);
        CHECK_INT(routed->hosts[0].address_count, 0);
        CHECK_INT(routed->hosts[1].address_count, 1);
        CHECK_INT(routed->hosts[1].addresses[0].bytes[3], 26);
    }
}

int main(void)
{
    lwip_init();
    test_cold(true);
    test_cold(false);
    test_no_record();
    test_policy_host_cname();
    test_fetch_arena();
    test_cached_in_force();
    test_cached_changed(false);
    test_cached_changed(true);
    test_route(true);
    test_route(false);
    test_route_names();
    return stsm_check_summary("test_lookups");
}
