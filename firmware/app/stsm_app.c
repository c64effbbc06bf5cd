#include "stsm_app.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "lwip/dns.h"
#include "lwip/netif.h"

int stsm_app_exit_status(stsm_status_t status)
{
    switch (status) {
    case STSM_OK: return 0;
    case STSM_ERR_ARGUMENT: return EXIT_USAGE;
    case STSM_ERR_RESOLVE: return EXIT_NOHOST;
    case STSM_ERR_CONNECT:
    case STSM_ERR_TLS_UNTRUSTED:
    case STSM_ERR_TLS_EXPIRED:
    case STSM_ERR_TLS_NOT_YET_VALID:
    case STSM_ERR_TLS_NAME_MISMATCH:
    case STSM_ERR_TLS_VERSION:
    case STSM_ERR_TLS_HANDSHAKE: return EXIT_UNAVAILABLE;
    case STSM_ERR_TIMEOUT:
    case STSM_ERR_DNS_SERVER_FAILURE:
    case STSM_ERR_PEER_CLOSED: return EXIT_TEMPFAIL;
    case STSM_ERR_PEER_PROTOCOL: return EXIT_PROTOCOL;
    case STSM_ERR_DNS_MALFORMED:
    case STSM_ERR_DNS_CNAME_CHAIN:
    case STSM_ERR_CAPACITY: return EXIT_DATAERR;
    case STSM_ERR_NOT_CONFIGURED:
    case STSM_ERR_CORRUPT: return EXIT_CONFIG;
    default: return EXIT_OSERR;
    }
}

ip4_addr_t stsm_app_netmask(uint8_t prefix_len)
{
    ip4_addr_t mask;
    ip4_addr_set_u32(&mask, lwip_htonl(prefix_len >= 32 ? 0xffffffffu : ~(0xffffffffu >> prefix_len)));
    return mask;
}

int stsm_app_net_up(const struct stsm_host_net_config *config, uint32_t timeout_ms)
{
    char why[160] = "";
    stsm_status_t st = stsm_host_net_up(config, timeout_ms, why, sizeof why);
    if (st != STSM_OK) {
        fprintf(stderr, "stsmail: %s\n", why);
        return stsm_app_exit_status(st);
    }
    struct netif *netif = stsm_host_net_netif();
    char addr[IP4ADDR_STRLEN_MAX], dns[IPADDR_STRLEN_MAX];
    ip4addr_ntoa_r(netif_ip4_addr(netif), addr, sizeof addr);
    ipaddr_ntoa_r(dns_getserver(0), dns, sizeof dns);
    fprintf(stderr, "stsmail: %s up as %s/%u (%s), DNS server %s\n", config->tap_name, addr,
            (unsigned)(32 - __builtin_popcount(~ip4_addr_get_u32(netif_ip4_netmask(netif)))),
            config->use_dhcp ? "DHCP" : "static", dns);
    return 0;
}

void stsm_app_net_down(void)
{
    for (int i = 0; i < 5; i++) {
        stsm_host_net_poll(20);
    }
    stsm_host_net_down();
}

stsm_status_t stsm_app_read_file(const char *path, void *buf, size_t cap, size_t *len, char *why,
                                 size_t why_len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(why, why_len, "%s: %s", path, strerror(errno));
        return STSM_ERR_IO;
    }
    size_t n = fread(buf, 1, cap, f);
    bool more = n == cap && fgetc(f) != EOF;
    bool failed = ferror(f) != 0;
    fclose(f);
    if (failed) {
        snprintf(why, why_len, "%s: read error", path);
        return STSM_ERR_IO;
    }
    if (more) {
        snprintf(why, why_len, "%s: larger than %u bytes", path, (unsigned)cap);
        return STSM_ERR_CAPACITY;
    }
    *len = n;
    return STSM_OK;
}
