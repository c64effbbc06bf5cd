/*
 * stsm_conn acknowledges what it receives at once, not at lwIP's delayed-ACK timer.
 *
 * Issue 12: in a cold delivery, after the TLS 1.3 handshake the lab's Postfix sent its
 * NewSessionTicket, and its reply to the EHLO that came with our Finished was held by the
 * server's Nagle until that ticket was acknowledged. lwIP acknowledged it only at its
 * delayed-ACK timer (tcp_fasttmr, up to 250 ms), so MAIL left 1-2 round trips late.
 *
 * Here both ends run on lwIP's loopback in this process, on a clock that only the test
 * moves. The server keeps Nagle on (as Postfix does) and writes a segment the client does
 * not answer, then the reply the client waits for; the client's owner sends MAIL when the
 * reply arrives. Passes when MAIL reaches the server with the clock still, i.e. without
 * any timer; before the fix it came only when the clock reached the delayed-ACK timer.
 */
#include <stdio.h>
#include <string.h>

#include "lwip/init.h"
#include "lwip/netif.h"
#include "lwip/stats.h"
#include "lwip/sys.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "stsm_check.h"
#include "stsm_conn.h"
#include "stsm_port.h"

#define PORT 2525

/* The port's two functions: a clock only the test moves, a fixed stream. */
static u32_t now_ms = 1000;

u32_t sys_now(void)
{
    return now_ms;
}

uint32_t stsm_port_random_u32(void)
{
    static uint32_t x = 0x9e3779b9u;
    x = x * 1664525u + 1013904223u;
    return x;
}

/* ---- the scripted server (lwIP raw API, Nagle on) ---------------------------------------- */

static struct tcp_pcb *server;
static char server_got[256];
static size_t server_got_len;

static err_t server_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    (void)arg;
    (void)err;
    if (p == NULL) {
        return ERR_OK;
    }
    size_t room = sizeof server_got - 1 - server_got_len;
    size_t n = p->tot_len < room ? p->tot_len : room;
    server_got_len += pbuf_copy_partial(p, server_got + server_got_len, (u16_t)n, 0);
    server_got[server_got_len] = '\0';
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    return ERR_OK;
}

static err_t server_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    (void)arg;
    (void)err;
    server = pcb;
    tcp_recv(pcb, server_recv);
    return ERR_OK;
}

static void server_write(const char *text)
{
    CHECK(tcp_write(server, text, (u16_t)strlen(text), TCP_WRITE_FLAG_COPY) == ERR_OK);
    CHECK(tcp_output(server) == ERR_OK);
}

/* ---- the client: an owner that answers the reply with MAIL -------------------------------- */

static struct stsm_conn conn;
static bool connected, failed, mail_sent;
static char client_got[256];
static size_t client_got_len;

static void on_event(void *arg, struct stsm_conn *c, enum stsm_conn_event event, stsm_status_t status)
{
    (void)arg;
    if (event == STSM_CONN_CONNECTED) {
        connected = true;
    } else if (event == STSM_CONN_FAILED) {
        failed = true;
        printf("  client failed: %s\n", stsm_status_id(status));
    } else if (event == STSM_CONN_READABLE) {
        long n;
        while ((n = stsm_conn_recv(c, client_got + client_got_len, sizeof client_got - 1 - client_got_len)) > 0) {
            client_got_len += (size_t)n;
        }
        client_got[client_got_len] = '\0';
        if (!mail_sent && strstr(client_got, "250 ") != NULL) {
            static const char mail[] = "MAIL FROM:<alert@printer.test>\r\n";
            mail_sent = true;
            CHECK_INT(stsm_conn_send(c, mail, sizeof mail - 1), (long)(sizeof mail - 1));
            stsm_conn_flush(c);
        }
    }
}

/* Delivers what the loopback holds, over and over, without running any timer. */
static void pump(void)
{
    for (int i = 0; i < 50; i++) {
        netif_poll_all();
    }
}

/* Moves the clock in 10 ms steps, running timers, until MAIL arrives or `max_ms` passed.
 * Returns the simulated ms it took. */
static u32_t advance_until_mail(u32_t max_ms)
{
    u32_t start = now_ms;
    while (strstr(server_got, "MAIL") == NULL && now_ms - start < max_ms) {
        now_ms += 10;
        sys_check_timeouts();
        pump();
    }
    return now_ms - start;
}

int main(void)
{
    ip_addr_t lo;
    lwip_init();
    IP_ADDR4(&lo, 127, 0, 0, 1);

    struct tcp_pcb *listener = tcp_new_ip_type(IPADDR_TYPE_V4);
    CHECK(listener != NULL && tcp_bind(listener, &lo, PORT) == ERR_OK);
    listener = tcp_listen(listener);
    CHECK(listener != NULL);
    tcp_accept(listener, server_accept);

    CHECK_CASE("set-up: connected over the loopback with the clock still");
    CHECK_INT(stsm_conn_connect(&conn, &lo, PORT, 30000, on_event, NULL), STSM_OK);
    pump();
    CHECK(connected && server != NULL && !failed);
    if (!connected || server == NULL) {
        return stsm_check_summary("test_conn_ack");
    }
    CHECK(!tcp_nagle_disabled(server));

    CHECK_CASE("a segment not answered, then the reply: the reply is not held behind our ACK");
    server_write("TICKET\r\n");   /* stands for the TLS 1.3 NewSessionTicket */
    server_write("250 ok\r\n");
    CHECK(server->unsent != NULL);   /* Nagle holds the reply until the first is acked */
    pump();
    CHECK(strstr(client_got, "TICKET") != NULL);
    CHECK(strstr(client_got, "250 ok") != NULL);
    CHECK(mail_sent);
    CHECK(strstr(server_got, "MAIL FROM:") != NULL);
    u32_t late = advance_until_mail(1000);
    printf("  MAIL reached the server %u simulated ms after the reply was written\n", (unsigned)late);
    CHECK_INT(late, 0);
    CHECK(strstr(server_got, "MAIL FROM:") != NULL);

    CHECK_CASE("a reply the client answers carries the ACK: no segment of its own");
    server_got_len = 0;
    server_got[0] = '\0';
    client_got_len = 0;
    client_got[0] = '\0';
    mail_sent = false;
    u32_t xmit_before = lwip_stats.tcp.xmit;   /* segments sent by both ends */
    server_write("250 ok\r\n");
    pump();
    CHECK(strstr(server_got, "MAIL FROM:") != NULL);
    /* The reply and MAIL, nothing else (the server's own ACK of MAIL waits for its timer,
     * which does not run here). */
    CHECK_INT(lwip_stats.tcp.xmit - xmit_before, 2);

    stsm_conn_close(&conn);
    pump();
    tcp_close(listener);
    return stsm_check_summary("test_conn_ack");
}
