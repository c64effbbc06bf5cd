#include "stsm_stellaris_enet.h"

#include "lwip/etharp.h"
#include "lwip/pbuf.h"
#include "netif/ethernet.h"

/* Ethernet controller registers (LM3S6965 data sheet, chapter "Ethernet Controller"). */
#define MACRIS   0x00u   /* read: raw interrupt status; write: MACIACK */
#define MACIM    0x04u
#define MACRCTL  0x08u
#define MACTCTL  0x0Cu
#define MACDATA  0x10u
#define MACIA0   0x14u
#define MACIA1   0x18u
#define MACNP    0x34u
#define MACTR    0x38u

#define RCTL_RXEN    (1u << 0)
#define RCTL_BADCRC  (1u << 3)   /* drop frames whose FCS is wrong */
#define RCTL_RSTFIFO (1u << 4)
#define TCTL_TXEN    (1u << 0)
#define TCTL_PADEN   (1u << 1)   /* pad short frames to 60 bytes */
#define TCTL_CRC     (1u << 2)   /* append the FCS */
#define TCTL_DUPLEX  (1u << 3)
#define TR_NEWTX     (1u << 0)   /* set: send the FIFO's frame; reads 0 once it has left */
#define NP_MASK      0x3Fu
#define INT_ALL      0x7Fu

#define HEADER_LEN   14u
#define FCS_LEN      4u
#define LEN_FIELD    2u          /* the length word's own two bytes, in RX and TX */
#define FRAME_MAX    1518u       /* header, 1500 bytes, a VLAN tag; without the FCS */
#define POLL_FRAMES  31u         /* at most what the FIFO can hold: no livelock */
#define SPIN_LIMIT   100000u

static volatile uint32_t *reg(const struct stsm_stellaris_enet *dev, uint32_t offset)
{
    return (volatile uint32_t *)(dev->base + offset);
}

/* Empties the RX FIFO: after a length the controller cannot have meant, the word stream
 * is out of step and nothing after it can be trusted. */
static void rx_reset(struct stsm_stellaris_enet *dev)
{
    uint32_t rctl = *reg(dev, MACRCTL) & ~RCTL_RSTFIFO;
    *reg(dev, MACRCTL) = rctl & ~RCTL_RXEN;
    *reg(dev, MACRCTL) = (rctl & ~RCTL_RXEN) | RCTL_RSTFIFO;
    *reg(dev, MACRCTL) = rctl;
}

/* Sends one frame. The bytes go from the pbuf chain straight into the FIFO, packed into
 * words behind the length: no frame-sized buffer on the stack, which is deepest when TLS
 * sends. */
static err_t enet_linkoutput(struct netif *netif, struct pbuf *p)
{
    struct stsm_stellaris_enet *dev = netif->state;
    if (p->tot_len < HEADER_LEN || p->tot_len > FRAME_MAX) {
        dev->tx_dropped++;
        return ERR_BUF;
    }
    uint32_t spins = 0;
    while (*reg(dev, MACTR) & TR_NEWTX) {
        if (++spins == SPIN_LIMIT) {
            dev->tx_dropped++;
            return ERR_MEM;   /* the previous frame is still leaving: TCP will resend */
        }
    }
    uint32_t word = (uint32_t)(p->tot_len - HEADER_LEN);
    unsigned fill = LEN_FIELD;
    for (const struct pbuf *q = p; q != NULL; q = q->next) {
        const uint8_t *b = q->payload;
        for (u16_t i = 0; i < q->len; i++) {
            word |= (uint32_t)b[i] << (8u * fill);
            if (++fill == 4u) {
                *reg(dev, MACDATA) = word;
                word = 0;
                fill = 0;
            }
        }
    }
    if (fill != 0) {
        *reg(dev, MACDATA) = word;
    }
    *reg(dev, MACTR) = TR_NEWTX;
    dev->tx_frames++;
    return ERR_OK;
}

/* Reads one frame off the FIFO into a pbuf (NULL when it is dropped); the FIFO is always
 * left at the start of the next frame, or reset. */
static struct pbuf *rx_frame(struct stsm_stellaris_enet *dev)
{
    uint32_t word = *reg(dev, MACDATA);
    uint32_t len = word & 0xFFFFu;   /* length field + frame + FCS */
    if (len < LEN_FIELD + HEADER_LEN + FCS_LEN || len > LEN_FIELD + FRAME_MAX + FCS_LEN) {
        rx_reset(dev);
        return NULL;
    }
    uint32_t words_left = (len + 3u) / 4u - 1u;
    u16_t frame_len = (u16_t)(len - LEN_FIELD - FCS_LEN);
    struct pbuf *p = pbuf_alloc(PBUF_RAW, frame_len, PBUF_POOL);
    word >>= 8u * LEN_FIELD;
    unsigned avail = 4u - LEN_FIELD;
    for (struct pbuf *q = p; q != NULL; q = q->next) {
        uint8_t *b = q->payload;
        for (u16_t i = 0; i < q->len; i++) {
            if (avail == 0) {
                word = *reg(dev, MACDATA);
                words_left--;
                avail = 4u;
            }
            b[i] = (uint8_t)word;
            word >>= 8;
            avail--;
        }
    }
    /* The FCS (QEMU writes one, but BADCRC has the MAC check it), or the whole frame when
     * no pbuf was free. */
    for (; words_left > 0; words_left--) {
        (void)*reg(dev, MACDATA);
    }
    return p;
}

err_t stsm_stellaris_enet_netif_init(struct netif *netif)
{
    struct stsm_stellaris_enet *dev = netif->state;
    uint32_t ia0 = *reg(dev, MACIA0), ia1 = *reg(dev, MACIA1) & 0xFFFFu;
    if (ia0 == 0 && ia1 == 0) {
        return ERR_IF;
    }
    netif->hwaddr_len = ETH_HWADDR_LEN;
    netif->hwaddr[0] = (u8_t)ia0;
    netif->hwaddr[1] = (u8_t)(ia0 >> 8);
    netif->hwaddr[2] = (u8_t)(ia0 >> 16);
    netif->hwaddr[3] = (u8_t)(ia0 >> 24);
    netif->hwaddr[4] = (u8_t)ia1;
    netif->hwaddr[5] = (u8_t)(ia1 >> 8);

    *reg(dev, MACIM) = 0;          /* polled */
    *reg(dev, MACRIS) = INT_ALL;   /* acknowledge whatever is pending */
    *reg(dev, MACRCTL) = RCTL_BADCRC | RCTL_RSTFIFO;
    *reg(dev, MACRCTL) = RCTL_BADCRC | RCTL_RXEN;
    *reg(dev, MACTCTL) = TCTL_TXEN | TCTL_PADEN | TCTL_CRC | TCTL_DUPLEX;

    netif->name[0] = 'e';
    netif->name[1] = 'n';
    netif->output = etharp_output;
    netif->linkoutput = enet_linkoutput;
    netif->mtu = 1500;
    netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
    return ERR_OK;
}

unsigned stsm_stellaris_enet_poll(struct netif *netif)
{
    struct stsm_stellaris_enet *dev = netif->state;
    unsigned delivered = 0;
    for (unsigned n = 0; n < POLL_FRAMES && (*reg(dev, MACNP) & NP_MASK) != 0; n++) {
        struct pbuf *p = rx_frame(dev);
        if (p == NULL) {
            dev->rx_dropped++;
            continue;
        }
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
