/* lm3s6965evb's Ethernet: the LM3S6965's own controller (drivers/stellaris_enet). */
#include "netif/ethernet.h"
#include "stsm_board.h"
#include "stsm_stellaris_enet.h"

#ifndef STSM_LWIPOPTS_LM3S6965
#error "lm3s6965evb builds with port/lm3s6965/include/lwipopts.h"
#endif

static struct stsm_stellaris_enet enet = { .base = STSM_STELLARIS_ENET_LM3S6965_BASE };

struct netif *stsm_board_netif_add(struct netif *netif, const ip4_addr_t *addr, const ip4_addr_t *mask,
                                   const ip4_addr_t *gw)
{
    return netif_add(netif, addr, mask, gw, &enet, stsm_stellaris_enet_netif_init, ethernet_input);
}

void stsm_board_netif_poll(struct netif *netif)
{
    stsm_stellaris_enet_poll(netif);
}
