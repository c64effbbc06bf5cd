/*
 * lwIP network interface on a Linux TAP device, for the host simulation.
 *
 * The TAP device must already exist (the lab creates it with `ip tuntap add`); this
 * driver attaches to it, sends every Ethernet frame lwIP emits, and feeds received
 * frames to lwIP when the main loop calls stsm_tap_poll().
 */
#ifndef STSM_TAP_H
#define STSM_TAP_H

#include "lwip/err.h"
#include "lwip/netif.h"
#include "stsm_status.h"

/** Per-interface state. Allocate it (statically) and keep it alive as long as the netif;
 *  fields are private. */
struct stsm_tap {
    int fd;                    /* non-blocking file descriptor of the TAP queue */
    char name[16];             /* interface name (IFNAMSIZ) */
};

/**
 * Attaches to the TAP interface `ifname`.
 * Returns STSM_ERR_ARGUMENT for a name that cannot be an interface name and STSM_ERR_IO
 * when the device cannot be opened (it does not exist, or we lack CAP_NET_ADMIN);
 * `why` (if not NULL) then receives the OS error text.
 */
stsm_status_t stsm_tap_open(struct stsm_tap *tap, const char *ifname, char *why, size_t why_len);

/** Closes the device. Safe to call on a tap that failed to open. */
void stsm_tap_close(struct stsm_tap *tap);

/**
 * netif_add() init function. Pass the opened struct stsm_tap as the netif state. Gives
 * the interface a locally administered MAC address derived from the interface name, so
 * it is the same on every run.
 */
err_t stsm_tap_netif_init(struct netif *netif);

/** Descriptor to wait on for received frames (poll() for POLLIN). */
int stsm_tap_fd(const struct stsm_tap *tap);

/**
 * Reads every frame waiting on the device and hands each to netif->input.
 * Returns the number of frames delivered.
 */
unsigned stsm_tap_poll(struct netif *netif);

#endif /* STSM_TAP_H */
