/* RFC 6528 initial sequence numbers: keyed per connection, advancing with the clock. */
#include "lwip/ip_addr.h"
#include "lwip/sys.h"
#include "stsm_check.h"
#include "stsm_tcp_isn.h"

/* An ISN and the millisecond it was computed in: sampled again until the clock did not
 * move across the call (a loaded machine may deschedule the test between the two). */
static void sample_isn(const ip_addr_t *a, const ip_addr_t *b, u32_t *at, u32_t *isn)
{
    do {
        *at = sys_now();
        *isn = stsm_tcp_isn(a, 49152, b, 25);
    } while (sys_now() != *at);
}

int main(void)
{
    ip_addr_t a, b;
    IP_ADDR4(&a, 192, 0, 2, 11);
    IP_ADDR4(&b, 192, 0, 2, 10);

    /* Sample within one millisecond so the clock part is equal. */
    u32_t same1, same2, other_port, other_addr, swapped;
    u32_t start;
    do {
        start = sys_now();
        same1 = stsm_tcp_isn(&a, 49152, &b, 25);
        same2 = stsm_tcp_isn(&a, 49152, &b, 25);
        other_port = stsm_tcp_isn(&a, 49153, &b, 25);
        other_addr = stsm_tcp_isn(&b, 49152, &a, 25);
        swapped = stsm_tcp_isn(&a, 25, &b, 49152);
    } while (sys_now() != start);

    CHECK_CASE("same connection, same millisecond");
    CHECK_INT(same1, same2);
    CHECK_CASE("every part of the 4-tuple changes the hash");
    CHECK(other_port != same1);
    CHECK(other_addr != same1);
    CHECK(swapped != same1);

    CHECK_CASE("clock part: 250 ticks per millisecond");
    u32_t t0, isn0, t1, isn1;
    sample_isn(&a, &b, &t0, &isn0);
    while (sys_now() - t0 < 20) {
    }
    sample_isn(&a, &b, &t1, &isn1);
    CHECK_INT(isn1 - isn0, (t1 - t0) * 250u);

    return stsm_check_summary("test_tcp_isn");
}
