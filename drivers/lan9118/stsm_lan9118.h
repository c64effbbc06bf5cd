/*
 * lwIP netif driver for the SMSC LAN9118 (and its register-compatible LAN9220), the
 * Ethernet MAC+PHY of Arm's MPS2 boards and of QEMU's mps2-an385. Polled: the main loop
 * calls stsm_lan9118_poll(); no interrupts are used.
 *
 * What QEMU does not model, and what real silicon needs beyond this driver: QEMU's
 * LAN9118 ignores the PHY (auto-negotiation completes at once, the link is always up),
 * has no EEPROM (the MAC address comes from QEMU's -nic option), and never reports TX
 * errors. On a real board, wait for PMT_CTRL.READY after reset (done here), let the PHY
 * finish auto-negotiation (read PHY register 1 through MII_ACC/MII_DATA, link bit 2)
 * before sending, and program a unique MAC address (EEPROM or board data).
 */
#ifndef STSM_LAN9118_H
#define STSM_LAN9118_H

#include <stdbool.h>
#include <stdint.h>

#include "lwip/err.h"
#include "lwip/netif.h"

/** LAN9118 of mps2-an385. */
#define STSM_LAN9118_MPS2_BASE 0x40200000u

/** Driver state: give it as the netif state. Fields are private. */
struct stsm_lan9118 {
    uintptr_t base;
    uint32_t rx_frames, rx_dropped, tx_frames, tx_dropped;
};

/** netif_add() init function: resets the chip, reads its MAC address, enables TX and RX.
 *  Returns ERR_IF when no LAN9118 answers at `base`. */
err_t stsm_lan9118_netif_init(struct netif *netif);

/** Moves every received frame into lwIP (netif->input). Returns how many. */
unsigned stsm_lan9118_poll(struct netif *netif);

#endif /* STSM_LAN9118_H */
