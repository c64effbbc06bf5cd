/*
 * lwIP netif driver for the Ethernet controller (MAC + PHY) of TI's Stellaris LM3S6965,
 * as QEMU's lm3s6965evb emulates it (stellaris_enet, `-nic ...,model=stellaris`). Polled:
 * the main loop calls stsm_stellaris_enet_poll(); no interrupts are used.
 *
 * The controller moves frames through two FIFOs of 32-bit words at MACDATA. Receiving, a
 * frame reads as a 16-bit length (the length field, the frame and its FCS: 2 + n + 4
 * bytes), then the frame, then the FCS; MACNP counts the frames waiting. Sending, the
 * first word carries the length of the frame without its 14-byte header, then the frame
 * follows; MACTR starts the transmission and reads 0 again when the FIFO is free.
 *
 * What QEMU does not model, and what real silicon needs beyond this driver: the PHY (QEMU
 * answers no MII read, the link is always up), the TX and RX clocks (enable EMAC0 and
 * EPHY0 in SYSCTL RCGC2 first: the port does it at start), and MAC address filtering
 * (QEMU passes every frame; the real MAC filters on MACIA0/1 unless promiscuous). On a
 * real board wait for auto-negotiation (PHY register 1, link bit 2, through MACMCTL /
 * MACMRXD) before sending, and program a unique MAC address (the LM3S6965 keeps one in
 * the USER0/USER1 registers, written at the factory).
 */
#ifndef STSM_STELLARIS_ENET_H
#define STSM_STELLARIS_ENET_H

#include <stdint.h>

#include "lwip/err.h"
#include "lwip/netif.h"

/** The LM3S6965's Ethernet controller. */
#define STSM_STELLARIS_ENET_LM3S6965_BASE 0x40048000u

/** Driver state: give it as the netif state. Fields are private, but the counters may be
 *  read for diagnostics. */
struct stsm_stellaris_enet {
    uintptr_t base;
    uint32_t rx_frames, rx_dropped, tx_frames, tx_dropped;
};

/** netif_add() init function: resets both FIFOs, reads the MAC address the controller
 *  holds (MACIA0/1), enables TX (with padding and FCS) and RX. Returns ERR_IF when the
 *  address reads as all zero (no controller answers at `base`). */
err_t stsm_stellaris_enet_netif_init(struct netif *netif);

/** Moves every received frame into lwIP (netif->input). Returns how many. */
unsigned stsm_stellaris_enet_poll(struct netif *netif);

#endif /* STSM_STELLARIS_ENET_H */
