/*
 * What the MCU app (stsmail_mcu.c) needs from a board beyond the Cortex-M platform
 * contract of stsm_mcu.h (console, clocks, randomness, store areas, exit): its Ethernet
 * controller. Each board has one implementation (stsm_board_<board>.c), chosen by
 * STSM_TARGET; the board's name is the STSM_BOARD string the build defines.
 */
#ifndef STSM_BOARD_H
#define STSM_BOARD_H

#include "lwip/ip4_addr.h"
#include "lwip/netif.h"

/**
 * Adds the board's Ethernet interface to lwIP (netif_add() with the board's driver and
 * ethernet_input) with the given static addresses (all zero for DHCP). Returns `netif`,
 * or NULL when the controller does not answer. Call once, after lwip_init().
 */
struct netif *stsm_board_netif_add(struct netif *netif, const ip4_addr_t *addr, const ip4_addr_t *mask,
                                   const ip4_addr_t *gw);

/** Moves every frame the controller has received into lwIP (polled: no interrupts). */
void stsm_board_netif_poll(struct netif *netif);

#endif /* STSM_BOARD_H */
