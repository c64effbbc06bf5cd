#include "stsm_sts_fetch.h"

#include <stdio.h>
#include <string.h>

#include "lwip/timeouts.h"
#include "stsm_wipe.h"

#define HTTPS_PORT 443
static const char policy_path[] = "/.well-known/mta-sts.txt";

/* stsm_sts_fetch.address_state */
#define ADDRESS_ASKED 1
#define ADDRESS_KNOWN 2
#define ADDRESS_FAILED 3

static void fetch_timeout(void *arg);
static void address_ready(void *arg);

/* Everything the fetch holds ends: its lookup, connection and timers. */
static void release(struct stsm_sts_fetch *f)
{
    f->active = false;
    f->prepared = false;
    sys_untimeout(fetch_timeout, f);
    sys_untimeout(address_ready, f);
    stsm_resolver_cancel(&f->query);
    stsm_conn_close(&f->conn);
}

static void finish(struct stsm_sts_fetch *f, stsm_status_t status)
{
    if (!f->active) {
        return;
    }
    f->status = status;
    release(f);
    f->done(f->arg, f);
}

static void fetch_timeout(void *arg)
{
    finish(arg, STSM_ERR_TIMEOUT);
}

/* The response is complete: status, type, then the policy itself. */
static void evaluate(struct stsm_sts_fetch *f)
{
    f->http_status = f->response.status;
    memcpy(f->content_type, f->response.content_type, sizeof f->content_type);
    if (f->response.status != 200) {
        finish(f, STSM_ERR_STS_HTTP_STATUS);
        return;
    }
    if (strcmp(f->response.content_type, "text/plain") != 0) {
        if (!f->relax_content_type) {
            finish(f, STSM_ERR_STS_CONTENT_TYPE);
            return;
        }
        f->content_type_relaxed = true;
    }
    f->body_size = f->response.body_len;
    if (stsm_sts_policy_parser_end(&f->parser, &f->policy_line, &f->policy_reason) != STSM_OK) {
        finish(f, STSM_ERR_STS_POLICY_INVALID);
        return;
    }
    finish(f, STSM_OK);
}

/* Only the body of a 200 with an accepted type is a policy; any other body is counted by
 * the response parser, not read. Status and headers are final before the first body byte. */
static bool body_is_policy(const struct stsm_sts_fetch *f)
{
    return f->response.status == 200 &&
           (f->relax_content_type || strcmp(f->response.content_type, "text/plain") == 0);
}

static void take_body(void *arg, const uint8_t *data, size_t len)
{
    struct stsm_sts_fetch *f = arg;
    if (body_is_policy(f)) {
        (void)stsm_sts_policy_parser_feed(&f->parser, data, len);   /* judged at the end */
    }
}

static void send_request(struct stsm_sts_fetch *f)
{
    while (f->request_sent < f->request_len) {
        long n = stsm_conn_send(&f->conn, f->request + f->request_sent, f->request_len - f->request_sent);
        if (n < 0) {
            finish(f, (stsm_status_t)-n);
            return;
        }
        if (n == 0) {
            break;
        }
        f->request_sent += (size_t)n;
    }
    stsm_conn_flush(&f->conn);
}

static void on_conn(void *arg, struct stsm_conn *conn, enum stsm_conn_event event, stsm_status_t status)
{
    struct stsm_sts_fetch *f = arg;
    (void)conn;
    switch (event) {
    case STSM_CONN_TLS_READY:
    case STSM_CONN_WRITABLE:
        send_request(f);
        return;
    case STSM_CONN_READABLE:
        for (;;) {
            uint8_t buf[1024];
            long n = stsm_conn_recv(&f->conn, buf, sizeof buf);
            if (n == 0) {
                return;
            }
            stsm_status_t st;
            if (n < 0) {
                /* Only close_notify (PEER_CLOSED under TLS) may end a body delimited by
                 * the close; a bare TCP close (TLS_TRUNCATED) can be forged on the path
                 * and fails the fetch whatever was read. */
                st = (stsm_status_t)-n;
                if (st == STSM_ERR_PEER_CLOSED) {
                    st = stsm_http_response_eof(&f->response);
                }
                if (st == STSM_OK) {
                    evaluate(f);
                } else {
                    finish(f, st);
                }
                return;
            }
            st = stsm_http_response_feed(&f->response, buf, (size_t)n);
            if (st != STSM_OK) {
                finish(f, st);
                return;
            }
            if (f->response.complete) {
                evaluate(f);
                return;
            }
        }
    case STSM_CONN_CONNECTED:
        status = stsm_conn_start_tls(&f->conn, f->tls, f->host);
        if (status == STSM_OK) {
            return;
        }
        break;
    case STSM_CONN_FAILED:
        break;
    }
    /* The connection or its TLS failed. no_memory from them is the TLS arena (stsm_conn.h),
     * a sizing error of the board that no_memory alone does not name: the reason names it,
     * as the delivery's own connections do. */
    if (status == STSM_ERR_NO_MEMORY) {
        f->policy_reason = STSM_TEXT_FIXED("TLS arena (STSM_TLS_ARENA_SIZE) exhausted");
    }
    finish(f, status);
}

/* The fetch runs and its address is known (or its lookup failed): connect. */
static void connect_to_address(struct stsm_sts_fetch *f)
{
    if (f->address_state == ADDRESS_FAILED) {
        finish(f, f->address_status);
        return;
    }
    stsm_status_t st = stsm_conn_connect(&f->conn, &f->address, HTTPS_PORT, STSM_CONNECT_TIMEOUT_MS, on_conn, f);
    if (st != STSM_OK) {
        finish(f, st);
    }
}

/* A fetch started on an address asked ahead and already answered: connects from the timer
 * list, so that `done` never runs inside stsm_sts_fetch_start(). */
static void address_ready(void *arg)
{
    connect_to_address(arg);
}

static void on_address(void *arg, stsm_status_t status, const struct stsm_dns_answer *answer,
                       const ip_addr_t *server)
{
    struct stsm_sts_fetch *f = arg;
    (void)server;
    f->address_state = ADDRESS_FAILED;
    f->address_status = status;
    if (status == STSM_OK) {
        if (answer->cname_hops > 0) {
            f->host_cname = true;
            snprintf(f->host_canonical, sizeof f->host_canonical, "%s", stsm_dns_str(answer, answer->canonical));
        }
        if (answer->outcome != STSM_DNS_ANSWER) {
            f->address_status = STSM_ERR_RESOLVE;
        } else {
            const uint8_t *a = answer->records[0].address;
            IP_ADDR4(&f->address, a[0], a[1], a[2], a[3]);
            f->address_state = ADDRESS_KNOWN;
        }
    }
    if (f->active) {
        connect_to_address(f);
    }
    /* Asked ahead only: the answer waits for stsm_sts_fetch_start(). */
}

stsm_status_t stsm_sts_fetch_prepare(struct stsm_sts_fetch *f, const char *domain)
{
    release(f);
    stsm_zero(f, sizeof *f);   /* most of it the policy's rows */
    int n = snprintf(f->host, sizeof f->host, "mta-sts.%s", domain);
    if (n < 0 || (size_t)n >= sizeof f->host) {
        return STSM_ERR_ARGUMENT;
    }
    snprintf(f->host_canonical, sizeof f->host_canonical, "%s", f->host);
    stsm_status_t st = stsm_resolver_start(&f->query, f->host, STSM_DNS_TYPE_A, on_address, f);
    if (st != STSM_OK) {
        return st;
    }
    f->address_state = ADDRESS_ASKED;
    f->prepared = true;
    return STSM_OK;
}

void stsm_sts_fetch_cancel(struct stsm_sts_fetch *f)
{
    release(f);
}

stsm_status_t stsm_sts_fetch_start(struct stsm_sts_fetch *f, const char *domain, struct stsm_tls *tls,
                                   uint32_t timeout_ms, bool relax_content_type,
                                   stsm_sts_fetch_done_fn done, void *arg)
{
    char host[sizeof f->host];
    int n = snprintf(host, sizeof host, "mta-sts.%s", domain);
    if (n < 0 || (size_t)n >= sizeof host) {
        return STSM_ERR_ARGUMENT;
    }
    if (!f->prepared || !stsm_dns_name_equal(f->host, host)) {
        stsm_status_t st = stsm_sts_fetch_prepare(f, domain);
        if (st != STSM_OK) {
            return st;
        }
    }
    f->prepared = false;
    f->request_len = stsm_http_get_request(f->request, sizeof f->request, f->host, policy_path);
    f->tls = tls;
    f->relax_content_type = relax_content_type;
    f->done = done;
    f->arg = arg;
    /* Bodies up to the RFC's cap are read whole, the policy parsed as it comes. */
    stsm_http_response_init(&f->response, STSM_STS_POLICY_MAX, take_body, f);
    stsm_sts_policy_parser_init(&f->parser, &f->policy);
    f->active = true;
    sys_timeout(timeout_ms, fetch_timeout, f);   /* the whole fetch; nothing re-arms it */
    if (f->address_state != ADDRESS_ASKED) {
        sys_timeout(0, address_ready, f);
    }
    return STSM_OK;
}

