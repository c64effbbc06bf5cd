#include "stsm_lan9118.h"

#include <string.h>

#include "lwip/etharp.h"
#include "lwip/pbuf.h"
#include "lwip/stats.h"
#include "netif/ethernet.h"

/* System control and status registers (LAN9118 data sheet, section 5.3). */
#define RX_DATA_FIFO   0x00u
#define TX_DATA_FIFO   0x20u
#define RX_STATUS_FIFO 0x40u
#define TX_STATUS_FIFO 0x48u
#define ID_REV         0x50u
#define INT_EN         0x5Cu
#define BYTE_TEST      0x64u
#define TX_CFG         0x70u
#define HW_CFG         0x74u
#define RX_FIFO_INF    0x7Cu
#define TX_FIFO_INF    0x80u
#define PMT_CTRL       0x84u
#define MAC_CSR_CMD    0xA4u
#define MAC_CSR_DATA   0xA8u

/* MAC control and status registers, reached through MAC_CSR_CMD/DATA. */
#define MAC_CR 1u
#define ADDRH  2u
#define ADDRL  3u

#define HW_CFG_SRST        (1u << 0)
#define PMT_CTRL_READY     (1u << 0)
#define TX_CFG_TX_ON       (1u << 1)
#define TX_CFG_TXSAO       (1u << 2)   /* TX status may overrun: no need to read it */
#define MAC_CR_TXEN        (1u << 3)
#define MAC_CR_RXEN        (1u << 2)
#define CSR_BUSY           (1u << 31)
#define CSR_READ           (1u << 30)
#define TX_CMD_A_FIRST     (1u << 13)
#define TX_CMD_A_LAST      (1u << 12)
#define RX_STS_ERROR       (1u << 15)
#define BYTE_TEST_VALUE    0x87654321u
#define FCS_LEN            4u
#define FRAME_MAX          1518u
#define SPIN_LIMIT         100000u

static volatile uint32_t *reg(const struct stsm_lan9118 *dev, uint32_t offset)
{
    return (volatile uint32_t *)(dev->base + offset);
}

static bool csr_wait(const struct stsm_lan9118 *dev)
{
    for (uint32_t i = 0; i < SPIN_LIMIT; i++) {
        if (!(*reg(dev, MAC_CSR_CMD) & CSR_BUSY)) {
            return true;
        }
    }
    return false;
}

static uint32_t mac_read(const struct stsm_lan9118 *dev, uint32_t index)
{
    *reg(dev, MAC_CSR_CMD) = CSR_BUSY | CSR_READ | index;
    csr_wait(dev);
    return *reg(dev, MAC_CSR_DATA);
}

static void mac_write(const struct stsm_lan9118 *dev, uint32_t index, uint32_t value)
{
    *reg(dev, MAC_CSR_DATA) = value;
    *reg(dev, MAC_CSR_CMD) = CSR_BUSY | index;
    csr_wait(dev);
}

/* Sends one frame: two command words, then the data rounded up to whole words. */
static err_t lan9118_linkoutput(struct netif *netif, struct pbuf *p)
{
    struct stsm_lan9118 *dev = netif->state;
    uint32_t words[(FRAME_MAX + 3) / 4];
    if (p->tot_len > FRAME_MAX) {
        dev->tx_dropped++;
        return ERR_BUF;
    }
    uint32_t len = p->tot_len;
    if ((*reg(dev, TX_FIFO_INF) & 0xFFFFu) < len + 8u) {
        dev->tx_dropped++;
        return ERR_MEM;   /* the FIFO is full: like a busy cable, TCP will resend */
    }
    pbuf_copy_partial(p, words, (u16_t)len, 0);
    *reg(dev, TX_DATA_FIFO) = TX_CMD_A_FIRST | TX_CMD_A_LAST | len;
    *reg(dev, TX_DATA_FIFO) = (len << 16) | len;   /* tag = length, packet length */
    for (uint32_t i = 0; i < (len + 3u) / 4u; i++) {
        *reg(dev, TX_DATA_FIFO) = words[i];
    }
    dev->tx_frames++;
    return ERR_OK;
}

err_t stsm_lan9118_netif_init(struct netif *netif)
{
    struct stsm_lan9118 *dev = netif->state;
    if (*reg(dev, BYTE_TEST) != BYTE_TEST_VALUE) {
        return ERR_IF;
    }
    *reg(dev, HW_CFG) = HW_CFG_SRST;
    uint32_t i;
    for (i = 0; i < SPIN_LIMIT && (*reg(dev, HW_CFG) & HW_CFG_SRST); i++) {
    }
    for (; i < SPIN_LIMIT && !(*reg(dev, PMT_CTRL) & PMT_CTRL_READY); i++) {
    }
    if (i == SPIN_LIMIT) {
        return ERR_IF;
    }
    *reg(dev, INT_EN) = 0;   /* polled */

    uint32_t hi = mac_read(dev, ADDRH), lo = mac_read(dev, ADDRL);
    netif->hwaddr_len = ETH_HWADDR_LEN;
    netif->hwaddr[0] = (u8_t)lo;
    netif->hwaddr[1] = (u8_t)(lo >> 8);
    netif->hwaddr[2] = (u8_t)(lo >> 16);
    netif->hwaddr[3] = (u8_t)(lo >> 24);
    netif->hwaddr[4] = (u8_t)hi;
    netif->hwaddr[5] = (u8_t)(hi >> 8);

    mac_write(dev, MAC_CR, mac_read(dev, MAC_CR) | MAC_CR_TXEN | MAC_CR_RXEN);
    *reg(dev, TX_CFG) = TX_CFG_TX_ON | TX_CFG_TXSAO;

    netif->name[0] = 'e';
    netif->name[1] = 'n';
    netif->output = etharp_output;
    netif->linkoutput = lan9118_linkoutput;
    netif->mtu = 1500;
    netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
    return ERR_OK;
}

unsigned stsm_lan9118_poll(struct netif *netif)
{
    struct stsm_lan9118 *dev = netif->state;
    unsigned delivered = 0;
    while ((*reg(dev, RX_FIFO_INF) >> 16) & 0xFFu) {
        uint32_t status = *reg(dev, RX_STATUS_FIFO);
        uint32_t len = (status >> 16) & 0x3FFFu;   /* includes the FCS */
        uint32_t nwords = (len + 3u) / 4u;
        uint32_t words[(FRAME_MAX + FCS_LEN + 3) / 4];
        bool good = !(status & RX_STS_ERROR) && len > FCS_LEN && len <= FRAME_MAX + FCS_LEN;
        for (uint32_t i = 0; i < nwords; i++) {
            uint32_t w = *reg(dev, RX_DATA_FIFO);   /* always drain the whole frame */
            if (good) {
                words[i] = w;
            }
        }
        struct pbuf *p = good ? pbuf_alloc(PBUF_RAW, (u16_t)(len - FCS_LEN), PBUF_POOL) : NULL;
        if (p == NULL) {
            dev->rx_dropped++;
            continue;
        }
        pbuf_take(p, words, (u16_t)(len - FCS_LEN));
        if (netif->input(p, netif) != ERR_OK) {
            pbuf_free(p);
            dev->rx_dropped++;
            continue;
        }
        dev->rx_frames++;
        delivered++;
    }
    return delivered;
}
