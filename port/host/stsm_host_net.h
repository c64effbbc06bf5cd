/*
 * Host simulation network: lwIP (NO_SYS) on one TAP interface, driven by a poll() loop.
 */
#ifndef STSM_HOST_NET_H
#define STSM_HOST_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lwip/ip_addr.h"
#include "lwip/netif.h"
#include "stsm_status.h"

/** How the interface gets its address. */
struct stsm_host_net_config {
    const char *tap_name;      /**< existing TAP device to attach to */
    bool use_dhcp;             /**< true: DHCP (address, gateway, DNS); false: the fields below */
    ip4_addr_t address;        /**< static address (use_dhcp false) */
    ip4_addr_t netmask;
    ip4_addr_t gateway;        /**< may be 0.0.0.0 */
    uint8_t dns_count;         /**< DNS servers below to use (0: DHCP's, or none) */
    ip4_addr_t dns_servers[2]; /**< replace whatever DHCP provides */
};

/**
 * Initialises lwIP, attaches to the TAP device and brings the interface up. With DHCP,
 * runs the loop until a lease is bound or `timeout_ms` passes (STSM_ERR_TIMEOUT).
 * On failure `why` receives a sentence naming what failed.
 */
stsm_status_t stsm_host_net_up(const struct stsm_host_net_config *config, uint32_t timeout_ms,
                               char *why, size_t why_len);

/** The interface brought up by stsm_host_net_up(). */
struct netif *stsm_host_net_netif(void);

/**
 * One turn of the main loop: waits up to `max_wait_ms` for a frame or the next lwIP
 * timer, delivers received frames, and runs due timers.
 */
void stsm_host_net_poll(uint32_t max_wait_ms);

/** Waits up to `max_wait_ms` (less when an lwIP timer is due sooner) for a frame without
 *  taking it, or for the watched file to change (stsm_host_net_watch_file): a loop that
 *  must hold a lock while lwIP runs waits here unlocked, then calls stsm_host_net_poll(0). */
void stsm_host_net_wait(uint32_t max_wait_ms);

/**
 * Makes stsm_host_net_wait() also return as soon as another process finishes writing the
 * file at `path` (closes it after writing, or puts a new file under its name), so a loop
 * that reads a file shared with other processes need not poll it. Watches the file's
 * folder by inotify, for that one name; the watch lasts until stsm_host_net_down().
 * Returns false when the watch cannot be set up: the caller must then poll.
 */
bool stsm_host_net_watch_file(const char *path);

/** Detaches from the TAP device (the stack itself stays initialised) and drops the
 *  file watch, if any. */
void stsm_host_net_down(void);

#endif /* STSM_HOST_NET_H */
