/*
 * stsm_conn_connect() when lwIP refuses the connect inside tcp_connect() (here: no route to
 * the address, as on a device whose interface is down). Regression for 9bda46a: the
 * failure is reported once, by the return value. Before it, tcp_abort() also called the
 * pcb's error callback, so the owner got STSM_CONN_FAILED inside the call as well; the
 * delivery then counted the host twice (skipping the next one) and could reuse a live pcb.
 */
#include "lwip/init.h"
#include "lwip/sys.h"
#include "lwip/timeouts.h"
#include "stsm_check.h"
#include "stsm_conn.h"
#include "stsm_port.h"

/* The port's two functions, here without a platform: a still clock, a fixed stream. */
u32_t sys_now(void)
{
    return 1000;
}

uint32_t stsm_port_random_u32(void)
{
    static uint32_t x = 0x9e3779b9u;
    x = x * 1664525u + 1013904223u;
    return x;
}

static struct stsm_conn conn;
static unsigned events;

static void on_event(void *arg, struct stsm_conn *c, enum stsm_conn_event event, stsm_status_t status)
{
    (void)arg;
    (void)c;
    events++;
    printf("  event %d (%s)\n", (int)event, stsm_status_id(status));
}

int main(void)
{
    ip_addr_t nowhere;
    lwip_init();   /* no interface but loopback: 192.0.2.1 has no route */
    IP_ADDR4(&nowhere, 192, 0, 2, 1);

    CHECK_CASE("connect refused inside tcp_connect(): one report, by the return value");
    CHECK_INT(stsm_conn_connect(&conn, &nowhere, 25, 1000, on_event, NULL), STSM_ERR_CONNECT);
    CHECK_INT(events, 0);
    sys_check_timeouts();
    CHECK_INT(events, 0);
    CHECK(conn.pcb == NULL);
    stsm_conn_close(&conn);   /* what the owner does next: safe, and still silent */
    CHECK_INT(events, 0);

    CHECK_CASE("the pcb went back to lwIP: a second connect gets one too, refused the same way");
    CHECK_INT(stsm_conn_connect(&conn, &nowhere, 25, 1000, on_event, NULL), STSM_ERR_CONNECT);
    CHECK_INT(events, 0);
    return stsm_check_summary("test_conn_connect");
}
