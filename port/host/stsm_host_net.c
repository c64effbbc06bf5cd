#include "stsm_host_net.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "lwip/dhcp.h"
#include "lwip/dns.h"
#include "lwip/etharp.h"
#include "lwip/init.h"
#include "lwip/sys.h"
#include "lwip/timeouts.h"
#include "netif/ethernet.h"
#include "stsm_tap.h"

/* resolve_first_hop(): how often to ask, and for how long at most. */
#define FIRST_HOP_RETRY_MS 5u
#define FIRST_HOP_MAX_MS   1000u

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

/* The file stsm_host_net_watch_file() watches: its folder's inotify descriptor and the
 * file's own name in that folder. */
static int watch_fd = -1;
static char watch_name[NAME_MAX + 1];

/* Reads every pending event; true when one is about the watched name. */
static bool watched_file_changed(void)
{
    /* Room for at least one event with the longest name, aligned as inotify needs. */
    char buf[sizeof(struct inotify_event) + NAME_MAX + 1] __attribute__((aligned(__alignof__(struct inotify_event))));
    bool hit = false;
    for (;;) {
        ssize_t n = read(watch_fd, buf, sizeof buf);
        if (n <= 0) {
            return hit;
        }
        for (ssize_t at = 0; at + (ssize_t)sizeof(struct inotify_event) <= n;) {
            const struct inotify_event *ev = (const struct inotify_event *)(buf + at);
            if (ev->len > 0 && strncmp(ev->name, watch_name, ev->len) == 0) {
                hit = true;
            }
            at += (ssize_t)(sizeof(struct inotify_event) + ev->len);
        }
    }
}

bool stsm_host_net_watch_file(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    const char *name = slash != NULL ? slash + 1 : path;
    size_t dir_len = slash == NULL ? 0 : (slash == path ? 1 : (size_t)(slash - path));
    if (*name == '\0' || strlen(name) >= sizeof watch_name || dir_len >= sizeof dir) {
        return false;
    }
    if (dir_len == 0) {
        dir[0] = '.';
        dir_len = 1;
    } else {
        memcpy(dir, path, dir_len);
    }
    dir[dir_len] = '\0';
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    /* Closing after a write is the end of another process's batch (enqueue, queue drop
     * exit with the file closed); our own writes keep the file open and wake nothing. A
     * file made again under the name arrives by link or rename. */
    if (inotify_add_watch(fd, dir, IN_CLOSE_WRITE | IN_CREATE | IN_MOVED_TO) < 0) {
        close(fd);
        return false;
    }
    if (watch_fd >= 0) {
        close(watch_fd);
    }
    watch_fd = fd;
    memcpy(watch_name, name, strlen(name) + 1);
    return true;
}

void stsm_host_net_wait(uint32_t max_wait_ms)
{
    if (watch_fd < 0) {
        (void)wait_for_frame(max_wait_ms);
        return;
    }
    u32_t timer_wait = sys_timeouts_sleeptime();
    u32_t wait = timer_wait < max_wait_ms ? timer_wait : max_wait_ms;
    u32_t start = sys_now();
    for (;;) {
        struct pollfd pfd[2] = { { .fd = stsm_tap_fd(&host_tap), .events = POLLIN },
                                 { .fd = watch_fd, .events = POLLIN } };
        u32_t spent = sys_now() - start;
        if (spent >= wait || poll(pfd, 2, (int)(wait - spent)) <= 0 || (pfd[0].revents & POLLIN)) {
            return;
        }
        /* Another name in the folder changed: keep waiting. */
        if ((pfd[1].revents & POLLIN) && watched_file_changed()) {
            return;
        }
    }
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

/* The address the first DNS query goes to at the link layer: the DNS server itself when
 * it is on the interface's subnet, else the gateway. False when there is none. */
static bool first_hop(ip4_addr_t *hop)
{
    const ip_addr_t *dns = dns_getserver(0);
    if (dns == NULL || !IP_IS_V4(dns) || ip4_addr_isany(ip_2_ip4(dns))) {
        return false;
    }
    if (ip4_addr_net_eq(ip_2_ip4(dns), netif_ip4_addr(&host_netif), netif_ip4_netmask(&host_netif))) {
        ip4_addr_copy(*hop, *ip_2_ip4(dns));
    } else {
        ip4_addr_copy(*hop, *netif_ip4_gw(&host_netif));
    }
    return !ip4_addr_isany(hop);
}

/* Learns the first hop's MAC address before anything else is sent. The kernel drops what
 * it sends to a TAP until it has activated the device's queue, which it does a moment
 * after our attach turned the carrier on: an ARP request sent at once is then answered
 * into the void, and lwIP asks again only at its 1 s ARP timer, with the start-up's DNS
 * queries queued behind it (a cold send 1 s slower in some runs of the speed bench). Asking
 * every few ms until the answer comes costs nothing when the first one is answered.
 * Gives up after `max_ms`: the stack then goes on as it would have (lwIP keeps asking). */
static void resolve_first_hop(uint32_t max_ms)
{
    ip4_addr_t hop;
    struct eth_addr *mac;
    const ip4_addr_t *ip;
    if (!first_hop(&hop)) {
        return;
    }
    u32_t start = sys_now(), asked = 0;
    bool first = true;
    while (etharp_find_addr(&host_netif, &hop, &mac, &ip) < 0) {
        u32_t now = sys_now();
        if (now - start >= max_ms) {
            break;
        }
        if (first || now - asked >= FIRST_HOP_RETRY_MS) {
            etharp_request(&host_netif, &hop);
            asked = now;
            first = false;
        }
        stsm_host_net_poll(1);
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
        resolve_first_hop(FIRST_HOP_MAX_MS);
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
    resolve_first_hop(FIRST_HOP_MAX_MS);
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
    if (watch_fd >= 0) {
        close(watch_fd);
        watch_fd = -1;
    }
}
