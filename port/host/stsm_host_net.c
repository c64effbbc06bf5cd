#include "stsm_host_net.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>

#include "lwip/dhcp.h"
#include "lwip/dns.h"
#include "lwip/init.h"
#include "lwip/sys.h"
#include "lwip/timeouts.h"
#include "netif/ethernet.h"
#include "stsm_tap.h"

static struct netif host_netif;
static struct stsm_tap host_tap = { .fd = -1 };

struct netif *stsm_host_net_netif(void)
{
    return &host_netif;
}

/* Waits for a frame or the next lwIP timer, at most `max_wait_ms`; true when a frame
 * is waiting. */
static bool wait_for_frame(uint32_t max_wait_ms)
{
    u32_t timer_wait = sys_timeouts_sleeptime();
    struct pollfd pfd = { .fd = stsm_tap_fd(&host_tap), .events = POLLIN };
    int wait = (int)(timer_wait < max_wait_ms ? timer_wait : max_wait_ms);
    return poll(&pfd, pfd.fd >= 0 ? 1 : 0, wait) > 0 && (pfd.revents & POLLIN);
}

void stsm_host_net_poll(uint32_t max_wait_ms)
{
    if (wait_for_frame(max_wait_ms)) {
        stsm_tap_poll(&host_netif);
    }
    sys_check_timeouts();
}

void stsm_host_net_wait(uint32_t max_wait_ms)
{
    (void)wait_for_frame(max_wait_ms);
}

/* Servers given by the user replace those DHCP provided (lwIP keeps DNS_MAX_SERVERS). */
static void set_dns_servers(const struct stsm_host_net_config *config)
{
    for (u8_t i = 0; i < config->dns_count && i < DNS_MAX_SERVERS; i++) {
        ip_addr_t dns;
        ip_addr_copy_from_ip4(dns, config->dns_servers[i]);
        dns_setserver(i, &dns);
    }
    if (config->dns_count > 0 && config->dns_count < DNS_MAX_SERVERS) {
        dns_setserver(config->dns_count, NULL);
    }
}

stsm_status_t stsm_host_net_up(const struct stsm_host_net_config *config, uint32_t timeout_ms,
                               char *why, size_t why_len)
{
    static bool lwip_ready;
    if (!lwip_ready) {
        lwip_init();
        lwip_ready = true;
    }

    stsm_status_t st = stsm_tap_open(&host_tap, config->tap_name, why, why_len);
    if (st != STSM_OK) {
        return st;
    }

    const ip4_addr_t *addr = IP4_ADDR_ANY4, *mask = IP4_ADDR_ANY4, *gw = IP4_ADDR_ANY4;
    if (!config->use_dhcp) {
        addr = &config->address;
        mask = &config->netmask;
        gw = &config->gateway;
    }
    if (netif_add(&host_netif, addr, mask, gw, &host_tap, stsm_tap_netif_init,
                  ethernet_input) == NULL) {
        snprintf(why, why_len, "lwIP refused the interface on %s", config->tap_name);
        stsm_tap_close(&host_tap);
        return STSM_ERR_IO;
    }
    netif_set_hostname(&host_netif, "stsmail");
    netif_set_default(&host_netif);
    netif_set_up(&host_netif);
    netif_set_link_up(&host_netif);

    if (!config->use_dhcp) {
        set_dns_servers(config);
        return STSM_OK;
    }

    if (dhcp_start(&host_netif) != ERR_OK) {
        snprintf(why, why_len, "DHCP could not start on %s", config->tap_name);
        return STSM_ERR_NO_MEMORY;
    }
    u32_t start = sys_now();
    while (!dhcp_supplied_address(&host_netif)) {
        if ((u32_t)(sys_now() - start) >= timeout_ms) {
            snprintf(why, why_len, "no DHCP lease on %s within %u ms", config->tap_name,
                     (unsigned)timeout_ms);
            return STSM_ERR_TIMEOUT;
        }
        stsm_host_net_poll(50);
    }
    set_dns_servers(config);
    return STSM_OK;
}

void stsm_host_net_down(void)
{
    if (netif_is_up(&host_netif)) {
        dhcp_release_and_stop(&host_netif);
        netif_set_down(&host_netif);
        netif_remove(&host_netif);
    }
    stsm_tap_close(&host_tap);
}
