/*
 * The connectivity probe against scripted servers on lwIP's loopback interface: the
 * real lwIP stack and the real probe code, with the server's behaviour chosen per case.
 */
#include <string.h>

#include "lwip/init.h"
#include "lwip/netif.h"
#include "lwip/sys.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "stsm_check.h"
#include "stsm_probe.h"
#include "stsm_tcp_isn.h"

#define SERVER_PORT 2525

enum server_act { SEND_CHUNKS, CLOSE_AT_ONCE, STAY_SILENT, TRICKLE };

/* The scripted server: what it sends on accept and what it heard from the client. */
static struct {
    enum server_act act;
    const char *chunks[4];
    struct tcp_pcb *conn;
    char heard[64];
    size_t heard_len;
    u32_t client_isn;     /* the sequence number the client's SYN carried */
    u32_t expected_isn;   /* stsm_tcp_isn() for the same connection, computed at accept */
} server;

static struct {
    bool done;
    u32_t done_at;
    int calls;
    stsm_status_t status;
    char line[STSM_PROBE_LINE_MAX + 1];
} outcome;

static err_t server_on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    (void)arg;
    (void)err;
    if (p == NULL) {
        tcp_close(pcb);
        server.conn = NULL;
        return ERR_OK;
    }
    size_t room = sizeof server.heard - 1 - server.heard_len;
    server.heard_len += pbuf_copy_partial(p, server.heard + server.heard_len,
                                          (u16_t)(p->tot_len < room ? p->tot_len : room), 0);
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    return ERR_OK;
}

static void server_on_err(void *arg, err_t err)
{
    (void)arg;
    (void)err;
    server.conn = NULL;
}

/* One byte of a line that never ends, every 50 ms, for as long as the connection lasts. */
static void server_trickle(void *arg)
{
    (void)arg;
    if (server.conn == NULL) {
        return;
    }
    tcp_write(server.conn, "2", 1, TCP_WRITE_FLAG_COPY);
    tcp_output(server.conn);
    sys_timeout(50, server_trickle, NULL);
}

static err_t server_on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    (void)arg;
    (void)err;
    server.conn = pcb;
    server.client_isn = pcb->rcv_nxt - 1;
    server.expected_isn = stsm_tcp_isn(&pcb->remote_ip, pcb->remote_port, &pcb->local_ip,
                                       pcb->local_port);
    tcp_recv(pcb, server_on_recv);
    tcp_err(pcb, server_on_err);
    if (server.act == CLOSE_AT_ONCE) {
        tcp_close(pcb);
        server.conn = NULL;
        return ERR_OK;
    }
    if (server.act == TRICKLE) {
        sys_timeout(50, server_trickle, NULL);
        return ERR_OK;
    }
    /* Each chunk goes out as its own segment, so the probe must reassemble the line. */
    for (int i = 0; i < 4 && server.chunks[i] != NULL; i++) {
        tcp_write(pcb, server.chunks[i], (u16_t)strlen(server.chunks[i]), TCP_WRITE_FLAG_COPY);
        tcp_output(pcb);
    }
    return ERR_OK;
}

static void on_done(void *arg, stsm_status_t status, const char *line, int lwip_err)
{
    (void)arg;
    (void)lwip_err;
    outcome.done = true;
    outcome.done_at = sys_now();
    outcome.calls++;
    outcome.status = status;
    if (line != NULL) {
        strncpy(outcome.line, line, sizeof outcome.line - 1);
    }
}

/* Runs the stack until the probe ends and a little longer, so late callbacks show up. */
static void run_stack(uint32_t max_ms)
{
    u32_t start = sys_now();
    while ((u32_t)(sys_now() - start) < max_ms) {
        netif_poll_all();
        sys_check_timeouts();
        if (outcome.done && (u32_t)(sys_now() - start) > 50) {
            u32_t settle = sys_now();
            while ((u32_t)(sys_now() - settle) < 50) {
                netif_poll_all();
                sys_check_timeouts();
            }
            return;
        }
    }
}

static void run_case(const char *intent, enum server_act act, const char *const chunks[4],
                     uint16_t port, uint32_t timeout_ms)
{
    static struct stsm_probe probe;
    CHECK_CASE(intent);
    memset(&outcome, 0, sizeof outcome);
    server.act = act;
    memcpy(server.chunks, chunks, sizeof server.chunks);
    server.heard_len = 0;
    memset(server.heard, 0, sizeof server.heard);
    CHECK_INT(stsm_probe_start(&probe, "127.0.0.1", port, timeout_ms, on_done, NULL), STSM_OK);
    run_stack(timeout_ms + 2000);
    CHECK_INT(outcome.calls, 1);
}

int main(void)
{
    lwip_init();
    struct tcp_pcb *listener = tcp_new();
    CHECK(tcp_bind(listener, IP_ADDR_ANY, SERVER_PORT) == ERR_OK);
    listener = tcp_listen(listener);
    tcp_accept(listener, server_on_accept);

    run_case("greeting in one segment", SEND_CHUNKS,
             (const char *const[4]){ "220 mx.test ESMTP ready\r\n" }, SERVER_PORT, 2000);
    CHECK_INT(outcome.status, STSM_OK);
    CHECK_STR(outcome.line, "220 mx.test ESMTP ready");
    CHECK_STR(server.heard, "QUIT\r\n");
    /* The SYN's sequence number came from our RFC 6528 hook: the hash matches, and the
     * clock part moved on by at most 2 s (250 ticks per ms) between SYN and accept. The
     * bound allows a loaded machine to deschedule the test; a number not from the hook
     * lands in that window with a chance of about 1 in 8,600. */
    CHECK((u32_t)(server.expected_isn - server.client_isn) <= 2000u * 250u);

    run_case("greeting split across segments", SEND_CHUNKS,
             (const char *const[4]){ "22", "0 split", " greeting\r", "\n" }, SERVER_PORT, 2000);
    CHECK_INT(outcome.status, STSM_OK);
    CHECK_STR(outcome.line, "220 split greeting");

    run_case("bare LF ends the line; later lines are not read", SEND_CHUNKS,
             (const char *const[4]){ "220-first\n220 second\r\n" }, SERVER_PORT, 2000);
    CHECK_INT(outcome.status, STSM_OK);
    CHECK_STR(outcome.line, "220-first");

    static char longest[STSM_PROBE_LINE_MAX + 3], too_long[STSM_PROBE_LINE_MAX + 2];
    memset(longest, 'a', STSM_PROBE_LINE_MAX);
    memcpy(longest + STSM_PROBE_LINE_MAX, "\r\n", 3);
    run_case("line of exactly the maximum length", SEND_CHUNKS, (const char *const[4]){ longest },
             SERVER_PORT, 2000);
    CHECK_INT(outcome.status, STSM_OK);
    CHECK_INT(strlen(outcome.line), STSM_PROBE_LINE_MAX);

    memset(too_long, 'a', STSM_PROBE_LINE_MAX + 1);
    run_case("line one byte over the maximum", SEND_CHUNKS, (const char *const[4]){ too_long },
             SERVER_PORT, 2000);
    CHECK_INT(outcome.status, STSM_ERR_PEER_PROTOCOL);

    run_case("server closes before a line", CLOSE_AT_ONCE, (const char *const[4]){ NULL },
             SERVER_PORT, 2000);
    CHECK_INT(outcome.status, STSM_ERR_PEER_CLOSED);

    run_case("server sends half a line and falls silent", SEND_CHUNKS,
             (const char *const[4]){ "220 no end" }, SERVER_PORT, 300);
    CHECK_INT(outcome.status, STSM_ERR_TIMEOUT);

    CHECK_CASE("server trickles a byte every 50 ms: the probe ends at its deadline");
    u32_t trickle_start = sys_now();
    run_case("server trickles a byte every 50 ms: the probe ends at its deadline", TRICKLE,
             (const char *const[4]){ NULL }, SERVER_PORT, 300);
    CHECK_INT(outcome.status, STSM_ERR_TIMEOUT);
    /* Ends at its deadline: a timer that restarted on each byte would not end before the
     * run gives up (2.3 s). The upper bound leaves a loaded machine 1 s of scheduling. */
    CHECK(outcome.done && outcome.done_at - trickle_start >= 300 && outcome.done_at - trickle_start < 1300);
    sys_untimeout(server_trickle, NULL);

    run_case("server never speaks", STAY_SILENT, (const char *const[4]){ NULL }, SERVER_PORT, 300);
    CHECK_INT(outcome.status, STSM_ERR_TIMEOUT);

    run_case("nothing listens on the port", SEND_CHUNKS, (const char *const[4]){ NULL },
             SERVER_PORT + 1, 2000);
    CHECK_INT(outcome.status, STSM_ERR_CONNECT);

    static struct stsm_probe probe;
    CHECK_CASE("invalid arguments are refused without a callback");
    memset(&outcome, 0, sizeof outcome);
    CHECK_INT(stsm_probe_start(&probe, "127.0.0.1", 0, 1000, on_done, NULL), STSM_ERR_ARGUMENT);
    CHECK_INT(stsm_probe_start(&probe, "", 25, 1000, on_done, NULL), STSM_ERR_ARGUMENT);
    CHECK_INT(stsm_probe_start(&probe, "127.0.0.1", 25, 1000, NULL, NULL), STSM_ERR_ARGUMENT);
    CHECK_INT(outcome.calls, 0);

    return stsm_check_summary("test_probe");
}
