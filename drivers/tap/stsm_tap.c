#include "stsm_tap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/if.h>
#include <linux/if_tun.h>

#include "lwip/etharp.h"
#include "lwip/pbuf.h"
#include "netif/ethernet.h"

/* Largest Ethernet frame we move (no FCS: the kernel neither expects nor delivers it). */
#define TAP_FRAME_MAX 1518

stsm_status_t stsm_tap_open(struct stsm_tap *tap, const char *ifname, char *why, size_t why_len)
{
    struct ifreq ifr;
    size_t name_len = ifname ? strlen(ifname) : 0;

    tap->fd = -1;
    if (name_len == 0 || name_len >= sizeof ifr.ifr_name || name_len >= sizeof tap->name) {
        if (why) {
            snprintf(why, why_len, "interface name must be 1 to %u characters",
                     (unsigned)(sizeof ifr.ifr_name - 1));
        }
        return STSM_ERR_ARGUMENT;
    }
    memcpy(tap->name, ifname, name_len + 1);

    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (why) {
            snprintf(why, why_len, "/dev/net/tun: %s", strerror(errno));
        }
        return STSM_ERR_IO;
    }
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    memcpy(ifr.ifr_name, ifname, name_len);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        if (why) {
            snprintf(why, why_len, "TAP %s: %s", ifname, strerror(errno));
        }
        close(fd);
        return STSM_ERR_IO;
    }
    tap->fd = fd;
    return STSM_OK;
}

void stsm_tap_close(struct stsm_tap *tap)
{
    if (tap->fd >= 0) {
        close(tap->fd);
        tap->fd = -1;
    }
}

int stsm_tap_fd(const struct stsm_tap *tap)
{
    return tap->fd;
}

static err_t tap_linkoutput(struct netif *netif, struct pbuf *p)
{
    struct stsm_tap *tap = netif->state;
    uint8_t frame[TAP_FRAME_MAX];

    if (p->tot_len > sizeof frame) {
        return ERR_BUF;
    }
    u16_t len = pbuf_copy_partial(p, frame, p->tot_len, 0);
    /* A TAP write is all or nothing; EAGAIN means the kernel queue is full, like a busy
     * MAC, and TCP will retransmit. */
    if (write(tap->fd, frame, len) != (ssize_t)len) {
        return ERR_IF;
    }
    return ERR_OK;
}

err_t stsm_tap_netif_init(struct netif *netif)
{
    struct stsm_tap *tap = netif->state;

    /* A device keeps its MAC across restarts; derive it from the interface name
     * (FNV-1a) so the lab's DHCP server hands the same lease back. */
    uint32_t h = 2166136261u;
    for (const char *c = tap->name; *c != '\0'; c++) {
        h = (h ^ (uint8_t)*c) * 16777619u;
    }

    netif->name[0] = 't';
    netif->name[1] = 'p';
    netif->output = etharp_output;
    netif->linkoutput = tap_linkoutput;
    netif->mtu = 1500;
    netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET |
                   NETIF_FLAG_IGMP;
    netif->hwaddr_len = ETH_HWADDR_LEN;
    /* 02:xx: locally administered, unicast. */
    netif->hwaddr[0] = 0x02;
    netif->hwaddr[1] = 0x53;
    netif->hwaddr[2] = (u8_t)(h >> 24);
    netif->hwaddr[3] = (u8_t)(h >> 16);
    netif->hwaddr[4] = (u8_t)(h >> 8);
    netif->hwaddr[5] = (u8_t)h;
    return tap->fd >= 0 ? ERR_OK : ERR_IF;
}

unsigned stsm_tap_poll(struct netif *netif)
{
    struct stsm_tap *tap = netif->state;
    uint8_t frame[TAP_FRAME_MAX];
    unsigned delivered = 0;

    for (;;) {
        ssize_t n = read(tap->fd, frame, sizeof frame);
        if (n <= 0) {
            break;   /* EAGAIN: drained. Errors surface as silence, like a dead cable. */
        }
        struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)n, PBUF_POOL);
        if (p == NULL) {
            LINK_STATS_INC(link.memerr);
            LINK_STATS_INC(link.drop);
            continue;
        }
        pbuf_take(p, frame, (u16_t)n);
        if (netif->input(p, netif) != ERR_OK) {
            pbuf_free(p);
            continue;
        }
        delivered++;
    }
    return delivered;
}
