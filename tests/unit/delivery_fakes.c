/*
 * Stand-ins for the network side of stsm_delivery.c (see delivery_fakes.h). They keep the
 * contracts of the interfaces they replace where the delivery relies on them: nothing is
 * reported on a closed connection, no callback runs inside a start call, and timers run
 * only from the test's own serve or advance.
 */
#include "delivery_fakes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lwip/sys.h"
#include "stsm_mta_sts.h"
#include "stsm_sts_fetch.h"

struct fake_net fake;
uint32_t fake_now_ms;

#define FAKE_TIMERS_MAX 16

static struct stsm_timer *armed[FAKE_TIMERS_MAX];   /* the fake clock's list */
static uint32_t arm_count;

void fake_reset(void)
{
    memset(&fake, 0, sizeof fake);
    fake.verify_status = STSM_OK;
    memset(armed, 0, sizeof armed);
}

/* ---- time ---------------------------------------------------------------------------- */

static uint32_t clock_now_ms(void *ctx)
{
    (void)ctx;
    return fake_now_ms;
}

static void clock_disarm(void *ctx, struct stsm_timer *t)
{
    (void)ctx;
    for (size_t i = 0; i < FAKE_TIMERS_MAX; i++) {
        if (armed[i] == t) {
            armed[i] = NULL;
        }
    }
    t->armed = false;
}

static void clock_arm(void *ctx, struct stsm_timer *t, uint32_t ms, stsm_timer_fn fn, void *arg)
{
    clock_disarm(ctx, t);
    t->fn = fn;
    t->arg = arg;
    t->armed = true;
    t->due_ms = fake_now_ms + ms;
    t->order = arm_count++;
    for (size_t i = 0; i < FAKE_TIMERS_MAX; i++) {
        if (armed[i] == NULL) {
            armed[i] = t;
            return;
        }
    }
    printf("fake_clock: more than %d timers armed\n", FAKE_TIMERS_MAX);
    abort();
}

const struct stsm_clock fake_clock = { clock_now_ms, clock_arm, clock_disarm };

/* The armed timer due first (ties: armed first); NULL when none is armed. */
static struct stsm_timer *next_due(void)
{
    struct stsm_timer *first = NULL;
    for (size_t i = 0; i < FAKE_TIMERS_MAX; i++) {
        struct stsm_timer *t = armed[i];
        if (t != NULL && (first == NULL || (int32_t)(t->due_ms - first->due_ms) < 0 ||
                          (t->due_ms == first->due_ms && t->order < first->order))) {
            first = t;
        }
    }
    return first;
}

uint32_t fake_clock_sleeptime(void)
{
    struct stsm_timer *t = next_due();
    if (t == NULL) {
        return UINT32_MAX;
    }
    return (int32_t)(t->due_ms - fake_now_ms) <= 0 ? 0 : t->due_ms - fake_now_ms;
}

void fake_clock_serve(void)
{
    for (struct stsm_timer *t = next_due(); t != NULL && (int32_t)(t->due_ms - fake_now_ms) <= 0;
         t = next_due()) {
        clock_disarm(NULL, t);
        t->fn(t->arg);
    }
}

void fake_clock_advance(uint32_t ms)
{
    uint32_t end = fake_now_ms + ms;
    for (;;) {
        uint32_t sleep = fake_clock_sleeptime();
        if (sleep > end - fake_now_ms) {
            fake_now_ms = end;
            fake_clock_serve();
            return;
        }
        fake_now_ms += sleep;
        fake_clock_serve();
    }
}

/* lwIP's sys_now() and LWIP_RAND(): linked in with the default transport and clock, which
 * never run here. */
u32_t sys_now(void)
{
    return fake_now_ms;
}

uint32_t stsm_port_random_u32(void)
{
    static uint32_t x = 0x2545f491u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return x;
}

/* ---- the connection ------------------------------------------------------------------ */

static stsm_status_t conn_connect(void *ctx, const ip_addr_t *address, uint16_t port, uint32_t timeout_ms,
                                  stsm_transport_event_fn event, void *arg)
{
    (void)ctx;
    (void)timeout_ms;
    fake.connects++;
    fake.address = *address;
    fake.port = port;
    char text[IPADDR_STRLEN_MAX];
    size_t used = strlen(fake.connect_log);
    snprintf(fake.connect_log + used, sizeof fake.connect_log - used, "%s:%u ",
             ipaddr_ntoa_r(address, text, sizeof text), (unsigned)port);
    fake.event = event;
    fake.event_arg = arg;
    fake.live = true;
    fake.tls_up = false;
    fake.rx_len = 0;
    return STSM_OK;
}

static stsm_status_t conn_start_tls(void *ctx, struct stsm_tls *tls, const char *host)
{
    (void)ctx;
    (void)tls;
    (void)host;
    fake.start_tls++;
    return STSM_OK;
}

static stsm_status_t conn_start_tls_opportunistic(void *ctx, struct stsm_tls *tls, const char *host)
{
    (void)ctx;
    (void)tls;
    (void)host;
    fake.start_tls_opportunistic++;
    return STSM_OK;
}

static stsm_status_t conn_tls_verify_status(void *ctx)
{
    (void)ctx;
    return fake.tls_up ? fake.verify_status : STSM_ERR_TLS_HANDSHAKE;
}

static void conn_tls_describe(void *ctx, const char **version, const char **suite)
{
    (void)ctx;
    *version = fake.tls_up ? "TLSv1.3" : "?";
    *suite = fake.tls_up ? "TLS1-3-AES-128-GCM-SHA256" : "?";
}

static bool conn_is_tls(void *ctx)
{
    (void)ctx;
    return fake.tls_up;
}

static long conn_send(void *ctx, const void *data, size_t len)
{
    (void)ctx;
    if (!fake.live) {
        return -(long)STSM_ERR_CONNECT;
    }
    if (fake.throttled) {
        if (fake.send_room == 0) {
            return 0;   /* would block: the test fires WRITABLE once it gives room */
        }
        len = len < fake.send_room ? len : fake.send_room;
        fake.send_room -= len;
    }
    size_t room = sizeof fake.sent - 1 - fake.sent_len;
    size_t n = len < room ? len : room;
    memcpy(fake.sent + fake.sent_len, data, n);
    fake.sent_len += n;
    fake.sent[fake.sent_len] = '\0';
    return (long)len;   /* what does not fit the record is dropped, not refused */
}

static long conn_recv(void *ctx, void *buf, size_t cap)
{
    (void)ctx;
    if (!fake.live || fake.rx_len == 0) {
        return 0;
    }
    size_t n = fake.rx_len < cap ? fake.rx_len : cap;
    memcpy(buf, fake.rx, n);
    memmove(fake.rx, fake.rx + n, fake.rx_len - n);
    fake.rx_len -= n;
    return (long)n;
}

static void conn_flush(void *ctx)
{
    (void)ctx;
}

static void conn_close(void *ctx)
{
    (void)ctx;
    if (fake.live) {
        fake.closes_live++;
    }
    fake.live = false;
    fake.tls_up = false;
    fake.rx_len = 0;
}

static bool conn_local_address(void *ctx, char *buf, size_t cap)
{
    (void)ctx;
    snprintf(buf, cap, "192.0.2.10");
    return fake.live;
}

const struct stsm_transport fake_transport = {
    conn_connect, conn_start_tls, conn_start_tls_opportunistic, conn_tls_verify_status, conn_tls_describe,
    conn_is_tls, conn_send, conn_recv, conn_flush, conn_close, conn_local_address,
};

bool fake_conn_event(enum stsm_conn_event event, stsm_status_t status)
{
    if (!fake.live) {
        return false;
    }
    if (event == STSM_CONN_TLS_READY) {
        fake.tls_up = true;
    }
    fake.event(fake.event_arg, event, status);
    return true;
}

bool fake_server_sends(const char *bytes, size_t len)
{
    if (!fake.live || fake.rx_len + len > sizeof fake.rx) {
        return false;
    }
    memcpy(fake.rx + fake.rx_len, bytes, len);
    fake.rx_len += len;
    return fake_conn_event(STSM_CONN_READABLE, STSM_OK);
}

/* ---- the MX route -------------------------------------------------------------------- */

stsm_status_t stsm_route_start(struct stsm_route *route, const char *domain, stsm_route_done_fn done, void *arg)
{
    fake.route_starts++;
    fake.route_ipv4_only = false;
    if (fake.route_start_status != STSM_OK) {
        return fake.route_start_status;
    }
    memset(&route->set, 0, sizeof route->set);
    snprintf(route->set.domain, sizeof route->set.domain, "%s", domain);
    fake.route = route;
    fake.route_done = done;
    fake.route_arg = arg;
    return STSM_OK;
}

stsm_status_t stsm_route_start_ipv4(struct stsm_route *route, const char *domain, stsm_route_done_fn done,
                                    void *arg)
{
    stsm_status_t st = stsm_route_start(route, domain, done, arg);
    fake.route_ipv4_only = true;
    return st;
}

static void route_answer(const char *names, bool first_names_full);

void fake_route_answer(const char *names)
{
    route_answer(names, false);
}

void fake_route_names_full(const char *names)
{
    route_answer(names, true);
}

static void route_answer(const char *names, bool first_names_full)
{
    struct stsm_mx_set *set = &fake.route->set;
    set->kind = STSM_MX_LIST;
    set->count = 0;
    set->names_used = 0;
    for (const char *p = names; *p != '\0' && set->count < STSM_MX_MAX_HOSTS;) {
        size_t len = strcspn(p, ",");
        struct stsm_mx_host *host = &set->hosts[set->count];
        char *name = set->names + set->names_used;
        set->names_used += (size_t)snprintf(name, sizeof set->names - set->names_used, "%.*s", (int)len, p) + 1;
        host->name = name;
        host->canonical = name;
        host->preference = (uint16_t)(10 * (set->count + 1));
        host->address_count = 1;
        host->addresses[0].family = 4;
        memcpy(host->addresses[0].bytes, (const uint8_t[]){ 192, 0, 2, (uint8_t)(25 + set->count) }, 4);
        set->count++;
        p += len + (p[len] == ',');
    }
    set->names_full = first_names_full;
    if (first_names_full && set->count > 0) {
        set->hosts[0].address_count = 0;
        set->hosts[0].a.done = true;
        set->hosts[0].a.status = STSM_ERR_CAPACITY;
    }
    stsm_route_done_fn done = fake.route_done;
    fake.route_done = NULL;
    done(fake.route_arg, STSM_OK, set);
}

void fake_route_fails(stsm_status_t status)
{
    stsm_route_done_fn done = fake.route_done;
    fake.route_done = NULL;
    done(fake.route_arg, status, NULL);
}

/* ---- MTA-STS ------------------------------------------------------------------------- */

stsm_status_t stsm_sts_lookup_start(struct stsm_sts_lookup *lookup, const char *domain, struct stsm_tls *tls,
                                    uint32_t fetch_timeout_ms, bool relax_content_type,
                                    struct stsm_sts_cache *cache, int64_t now,
                                    stsm_sts_lookup_done_fn done, void *arg)
{
    (void)tls;
    (void)fetch_timeout_ms;
    (void)relax_content_type;
    (void)cache;
    fake.sts_starts++;
    snprintf(lookup->domain, sizeof lookup->domain, "%s", domain);
    fake.sts = lookup;
    fake.sts_done = done;
    fake.sts_done_saved = done;
    fake.sts_arg = arg;
    if (fake.sts_cached != NULL) {
        size_t line = 0;
        const char *reason = NULL;
        lookup->early = true;
        lookup->from_cache = true;
        snprintf(lookup->policy_id, sizeof lookup->policy_id, "20261130");
        lookup->policy_fetched_at = now - 3600;
        lookup->have_policy = stsm_sts_policy_parse((const uint8_t *)fake.sts_cached, strlen(fake.sts_cached),
                                                    &lookup->policy, &line, &reason) == STSM_OK;
        if (!lookup->have_policy) {
            printf("stsm_sts_lookup_start: the test's cached policy is invalid (line %zu: %s)\n", line, reason);
        }
    }
    return STSM_OK;
}

void fake_sts_checked(enum stsm_sts_txt_state txt_state, bool new_id)
{
    struct stsm_sts_lookup *l = fake.sts;
    l->txt_state = txt_state;
    snprintf(l->txt_id, sizeof l->txt_id, "%s", new_id ? "20261201" : "20261130");
    l->refresh_due = new_id;
    stsm_sts_lookup_done_fn done = fake.sts_done;
    fake.sts_done = NULL;
    done(fake.sts_arg, l);
}

stsm_status_t stsm_sts_lookup_refresh(struct stsm_sts_lookup *lookup)
{
    fake.refresh_starts++;
    if (!lookup->refresh_due || fake.sts != lookup) {
        return STSM_ERR_ARGUMENT;
    }
    lookup->refresh_due = false;
    lookup->fetched = true;
    fake.sts_done = fake.sts_done_saved;
    return STSM_OK;
}

void fake_sts_refreshed(const char *body)
{
    struct stsm_sts_lookup *l = fake.sts;
    if (body != NULL) {
        size_t line = 0;
        const char *reason = NULL;
        l->fetch.status = stsm_sts_policy_parse((const uint8_t *)body, strlen(body), &l->fetch.policy, &line, &reason);
        l->refreshed = l->fetch.status == STSM_OK;
    } else {
        l->fetch.status = STSM_ERR_CONNECT;
    }
    stsm_sts_lookup_done_fn done = fake.sts_done;
    fake.sts_done = NULL;
    done(fake.sts_arg, l);
}

/* Ends the pending lookup with the policy `body` (NULL: no STS record). */
static void sts_answer(const char *body, bool txt_cname, bool from_cache)
{
    struct stsm_sts_lookup *l = fake.sts;
    if (body == NULL) {
        l->txt_state = STSM_STS_TXT_NONE;
    } else {
        size_t line = 0;
        const char *reason = NULL;
        l->txt_state = STSM_STS_TXT_OK;
        snprintf(l->txt_id, sizeof l->txt_id, "20261130");
        snprintf(l->policy_id, sizeof l->policy_id, "20261130");
        l->txt_cname = txt_cname;
        l->fetched = !from_cache;
        l->from_cache = from_cache;
        l->policy_fetched_at = 1796083200 - 3600;
        l->have_policy = stsm_sts_policy_parse((const uint8_t *)body, strlen(body), &l->policy, &line,
                                               &reason) == STSM_OK;
        if (!l->have_policy) {
            printf("fake_sts_answer: the test's policy is invalid (line %zu: %s)\n", line, reason);
        }
    }
    stsm_sts_lookup_done_fn done = fake.sts_done;
    fake.sts_done = NULL;
    done(fake.sts_arg, l);
}

void fake_sts_answer(const char *body, bool txt_cname)
{
    sts_answer(body, txt_cname, false);
}

void fake_sts_answer_cached(const char *body)
{
    sts_answer(body, false, true);
}

const char *stsm_sts_txt_state_str(enum stsm_sts_txt_state state)
{
    return state == STSM_STS_TXT_OK ? "valid" : state == STSM_STS_TXT_BAD ? "invalid"
           : state == STSM_STS_TXT_DNS_ERROR ? "dns_error" : "none";
}

/* The healing fetch: refused (the cached policy stays) unless the case accepts it. */
stsm_status_t stsm_sts_fetch_start(struct stsm_sts_fetch *fetch, const char *domain, struct stsm_tls *tls,
                                   uint32_t timeout_ms, bool relax_content_type,
                                   stsm_sts_fetch_done_fn done, void *arg)
{
    (void)domain;
    (void)tls;
    (void)timeout_ms;
    (void)relax_content_type;
    fake.fetch_starts++;
    if (!fake.fetch_accepts) {
        return STSM_ERR_NO_MEMORY;
    }
    fake.fetch = fetch;
    fake.fetch_done = done;
    fake.fetch_arg = arg;
    return STSM_OK;
}

void fake_fetch_answer(const char *body)
{
    struct stsm_sts_fetch *f = fake.fetch;
    size_t line = 0;
    const char *reason = NULL;
    f->status = stsm_sts_policy_parse((const uint8_t *)body, strlen(body), &f->policy, &line, &reason);
    stsm_sts_fetch_done_fn done = fake.fetch_done;
    fake.fetch_done = NULL;
    done(fake.fetch_arg, f);
}

/* ---- the resolver -------------------------------------------------------------------- */

stsm_status_t stsm_resolver_start(struct stsm_resolver_query *rq, const char *name, uint16_t type,
                                  stsm_resolver_done_fn done, void *arg)
{
    (void)name;
    (void)type;
    fake.resolver_starts++;
    fake.query = rq;
    fake.query_done = done;
    fake.query_arg = arg;
    return STSM_OK;
}

void stsm_resolver_cancel(struct stsm_resolver_query *rq)
{
    (void)rq;
    fake.resolver_cancels++;
    fake.query_done = NULL;
}

void fake_resolver_answer(void)
{
    static struct stsm_dns_answer answer;
    ip_addr_t server;
    memset(&answer, 0, sizeof answer);
    answer.outcome = STSM_DNS_ANSWER;
    answer.count = 1;
    answer.records[0].type = STSM_DNS_TYPE_A;
    memcpy(answer.records[0].address, (const uint8_t[]){ 192, 0, 2, 30 }, 4);
    IP_ADDR4(&server, 192, 0, 2, 53);
    stsm_resolver_done_fn done = fake.query_done;
    fake.query_done = NULL;
    done(fake.query_arg, STSM_OK, &answer, &server);
}
