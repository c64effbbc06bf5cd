/*
 * Connectivity probe: resolve a host with lwIP's resolver, open a TCP connection, read
 * the server's first line (an SMTP greeting, say), send QUIT and close.
 *
 * It proves the whole path (netif, ARP, DNS, TCP) without any protocol logic, and is
 * what `stsmail probe` runs. Everything happens in lwIP callbacks on the main loop.
 */
#ifndef STSM_PROBE_H
#define STSM_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lwip/ip_addr.h"
#include "lwip/tcp.h"
#include "stsm_config.h"
#include "stsm_status.h"

/** Called once when the probe ends. `line` is the server's first line without its line
 *  end, valid only during the call, or NULL when status is not STSM_OK. `lwip_err` is
 *  lwIP's error for connection failures (ERR_OK otherwise). */
typedef void (*stsm_probe_done_fn)(void *arg, stsm_status_t status, const char *line,
                                   int lwip_err);

/** Probe state. Allocate it statically; it must stay alive until `done` has run.
 *  Fields are private. */
struct stsm_probe {
    struct tcp_pcb *pcb;
    ip_addr_t address;             /* resolved server address */
    uint16_t port;
    bool finished;
    size_t line_len;
    char line[STSM_PROBE_LINE_MAX + 1];
    stsm_probe_done_fn done;
    void *done_arg;
};

/**
 * Starts a probe of `host` (a name or an IPv4 literal) on `port`, ending within
 * `timeout_ms`. Returns STSM_OK when the probe is under way (`done` will be called, perhaps
 * before this returns), or an error without calling `done`.
 */
stsm_status_t stsm_probe_start(struct stsm_probe *probe, const char *host, uint16_t port,
                               uint32_t timeout_ms, stsm_probe_done_fn done, void *arg);

/** The address the host name resolved to; valid once the probe has connected. */
const ip_addr_t *stsm_probe_address(const struct stsm_probe *probe);

#endif /* STSM_PROBE_H */
