/* mps2-an385's Ethernet: the SMSC LAN9118 (drivers/lan9118). */
#include "netif/ethernet.h"
#include "stsm_board.h"
#include "stsm_lan9118.h"

static struct stsm_lan9118 lan = { .base = STSM_LAN9118_MPS2_BASE };

struct netif *stsm_board_netif_add(struct netif *netif, const ip4_addr_t *addr, const ip4_addr_t *mask,
                                   const ip4_addr_t *gw)
{
    return netif_add(netif, addr, mask, gw, &lan, stsm_lan9118_netif_init, ethernet_input);
}

void stsm_board_netif_poll(struct netif *netif)
{
    stsm_lan9118_poll(netif);
}
