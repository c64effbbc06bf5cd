/*
 * Link-time stand-ins for the network side of stsm_delivery.c (see delivery_fakes.h).
 * They keep the contracts of the headers they replace where the delivery relies on them:
 * nothing is reported on a closed connection, and no callback runs inside a start call.
 */
#include "delivery_fakes.h"

#include <stdio.h>
#include <string.h>

#include "lwip/sys.h"
#include "mbedtls/ssl.h"
#include "stsm_mta_sts.h"
#include "stsm_sts_fetch.h"

struct fake_net fake;
uint32_t fake_now_ms;

void fake_reset(void)
{
    memset(&fake, 0, sizeof fake);
    fake.verify_status = STSM_OK;
}

/* ---- time ---------------------------------------------------------------------------- */

u32_t sys_now(void)
{
    return fake_now_ms;
}

/* lwIP's LWIP_RAND() (ports, DNS ids): nothing here is random-sensitive. */
uint32_t stsm_port_random_u32(void)
{
    static uint32_t x = 0x2545f491u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return x;
}

/* ---- the connection ------------------------------------------------------------------ */

stsm_status_t stsm_conn_connect(struct stsm_conn *conn, const ip_addr_t *address, uint16_t port,
                                uint32_t timeout_ms, stsm_conn_event_fn event, void *arg)
{
    (void)address;
    (void)port;
    (void)timeout_ms;
    fake.connects++;
    fake.conn = conn;
    fake.event = event;
    fake.event_arg = arg;
    fake.live = true;
    fake.tls_up = false;
    fake.rx_len = 0;
    conn->state = STSM_CONN_STATE_CONNECTING;
    return STSM_OK;
}

stsm_status_t stsm_conn_start_tls(struct stsm_conn *conn, struct stsm_tls *tls, const char *host)
{
    (void)tls;
    (void)host;
    fake.start_tls++;
    conn->state = STSM_CONN_STATE_HANDSHAKE;
    return STSM_OK;
}

stsm_status_t stsm_conn_start_tls_opportunistic(struct stsm_conn *conn, struct stsm_tls *tls, const char *host)
{
    (void)tls;
    (void)host;
    fake.start_tls_opportunistic++;
    conn->state = STSM_CONN_STATE_HANDSHAKE;
    return STSM_OK;
}

stsm_status_t stsm_conn_tls_verify_status(const struct stsm_conn *conn)
{
    (void)conn;
    return fake.tls_up ? fake.verify_status : STSM_ERR_TLS_HANDSHAKE;
}

long stsm_conn_send(struct stsm_conn *conn, const void *data, size_t len)
{
    (void)conn;
    if (!fake.live) {
        return -(long)STSM_ERR_CONNECT;
    }
    size_t room = sizeof fake.sent - 1 - fake.sent_len;
    size_t n = len < room ? len : room;
    memcpy(fake.sent + fake.sent_len, data, n);
    fake.sent_len += n;
    fake.sent[fake.sent_len] = '\0';
    return (long)len;   /* what does not fit the record is dropped, not refused */
}

long stsm_conn_recv(struct stsm_conn *conn, void *buf, size_t cap)
{
    (void)conn;
    if (!fake.live || fake.rx_len == 0) {
        return 0;
    }
    size_t n = fake.rx_len < cap ? fake.rx_len : cap;
    memcpy(buf, fake.rx, n);
    memmove(fake.rx, fake.rx + n, fake.rx_len - n);
    fake.rx_len -= n;
    return (long)n;
}

void stsm_conn_flush(struct stsm_conn *conn)
{
    (void)conn;
}

void stsm_conn_close(struct stsm_conn *conn)
{
    if (fake.live && conn == fake.conn) {
        fake.closes_live++;
    }
    if (conn == fake.conn) {
        fake.live = false;
        fake.tls_up = false;
        fake.rx_len = 0;
    }
    conn->state = STSM_CONN_IDLE;
}

bool stsm_conn_is_tls(const struct stsm_conn *conn)
{
    (void)conn;
    return fake.tls_up;
}

const mbedtls_ssl_context *stsm_conn_tls_session(const struct stsm_conn *conn)
{
    static mbedtls_ssl_context ssl;
    (void)conn;
    return fake.tls_up ? &ssl : NULL;
}

/* The delivery logs the version and suite of the session; no TLS runs here. */
const char *mbedtls_ssl_get_version(const mbedtls_ssl_context *ssl)
{
    (void)ssl;
    return "TLSv1.3";
}

const char *mbedtls_ssl_get_ciphersuite(const mbedtls_ssl_context *ssl)
{
    (void)ssl;
    return "TLS1-3-AES-128-GCM-SHA256";
}

bool fake_conn_event(enum stsm_conn_event event, stsm_status_t status)
{
    if (!fake.live) {
        return false;
    }
    if (event == STSM_CONN_CONNECTED) {
        fake.conn->state = STSM_CONN_STATE_OPEN;
    } else if (event == STSM_CONN_TLS_READY) {
        fake.tls_up = true;
        fake.conn->state = STSM_CONN_STATE_TLS;
    }
    fake.event(fake.event_arg, fake.conn, event, status);
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

void fake_route_answer(const char *name)
{
    struct stsm_mx_set *set = &fake.route->set;
    struct stsm_mx_host *host = &set->hosts[0];
    set->kind = STSM_MX_LIST;
    set->count = 1;
    snprintf(host->name, sizeof host->name, "%s", name);
    snprintf(host->canonical, sizeof host->canonical, "%s", name);
    host->preference = 10;
    host->address_count = 1;
    host->addresses[0].family = 4;
    memcpy(host->addresses[0].bytes, (const uint8_t[]){ 192, 0, 2, 25 }, 4);
    stsm_route_done_fn done = fake.route_done;
    fake.route_done = NULL;
    done(fake.route_arg, STSM_OK, set);
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
    (void)now;
    fake.sts_starts++;
    snprintf(lookup->domain, sizeof lookup->domain, "%s", domain);
    fake.sts = lookup;
    fake.sts_done = done;
    fake.sts_arg = arg;
    return STSM_OK;
}

void fake_sts_answer(const char *body, bool txt_cname)
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
        l->fetched = true;
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

void fake_sts_too_big(size_t body_size)
{
    struct stsm_sts_lookup *l = fake.sts;
    l->txt_state = STSM_STS_TXT_OK;
    snprintf(l->txt_id, sizeof l->txt_id, "20261130");
    l->fetched = true;
    l->have_policy = false;
    l->policy_too_big = true;
    l->fetch.body_size = body_size;
    stsm_sts_lookup_done_fn done = fake.sts_done;
    fake.sts_done = NULL;
    done(fake.sts_arg, l);
}

const char *stsm_sts_txt_state_str(enum stsm_sts_txt_state state)
{
    return state == STSM_STS_TXT_OK ? "valid" : state == STSM_STS_TXT_BAD ? "invalid"
           : state == STSM_STS_TXT_DNS_ERROR ? "dns_error" : "none";
}

/* A healing fetch is not part of any case here: refusing it keeps the cached policy. */
stsm_status_t stsm_sts_fetch_start(struct stsm_sts_fetch *fetch, const char *domain, struct stsm_tls *tls,
                                   uint32_t timeout_ms, bool relax_content_type,
                                   stsm_sts_fetch_done_fn done, void *arg)
{
    (void)fetch;
    (void)domain;
    (void)tls;
    (void)timeout_ms;
    (void)relax_content_type;
    (void)done;
    (void)arg;
    fake.fetch_starts++;
    return STSM_ERR_NO_MEMORY;
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
