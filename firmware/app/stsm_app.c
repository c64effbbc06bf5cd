#include "stsm_app.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "lwip/dns.h"
#include "lwip/netif.h"
#include "mbedtls/platform_util.h"
#include "stsm_ipv4.h"
#include "stsm_trust_store.h"

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
    ip4_addr_set_u32(&mask, lwip_htonl(stsm_ipv4_netmask(prefix_len)));
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
    /* Unbuffered: the bytes go straight into `buf`, so a file holding a secret (the
     * settings) leaves no copy in a stdio buffer that is freed without being wiped. */
    setvbuf(f, NULL, _IONBF, 0);
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

int stsm_app_load_settings(const char *path, struct stsm_settings *settings)
{
    static char text[64 * 1024];
    char why[600], detail[300];
    size_t len = 0;
    stsm_status_t st = stsm_app_read_file(path, text, sizeof text, &len, why, sizeof why);
    if (st == STSM_OK) {
        st = stsm_settings_parse(text, len, settings, detail, sizeof detail);
        if (st != STSM_OK) {
            snprintf(why, sizeof why, "%s: %s", path, detail);
        }
    }
    /* The text holds the relay password; the parsed settings are the only copy kept. All
     * of it: a refused or failed read may have filled more than `len`. */
    mbedtls_platform_zeroize(text, sizeof text);
    if (st == STSM_OK && settings->network.interface[0] == '\0') {
        snprintf(why, sizeof why, "%s: /network/interface: required (the TAP device)", path);
        st = STSM_ERR_NOT_CONFIGURED;
    }
    if (st != STSM_OK) {
        fprintf(stderr, "stsmail: %s\n", why);
        return EXIT_CONFIG;
    }
    return 0;
}

/* A path from the settings: relative ones are relative to the settings file's folder. */
static void settings_relative(const char *settings_path, const char *path, char *out, size_t cap)
{
    const char *slash = strrchr(settings_path, '/');
    if (path[0] != '/' && slash != NULL) {
        snprintf(out, cap, "%.*s/%s", (int)(slash - settings_path), settings_path, path);
    } else {
        snprintf(out, cap, "%s", path);
    }
}

int stsm_app_load_tls(const char *settings_path, const struct stsm_settings *settings,
                      struct stsm_tls *tls)
{
    static uint8_t blob[1024 * 1024];
    char why[600], path[2 * STSM_SETTINGS_PATH_MAX + 2];
    size_t len;
    const char *store_path = settings->tls.trust_store;
    if (store_path[0] == '\0') {
        fprintf(stderr, "stsmail: %s: /tls/trust_store: required for TLS\n", settings_path);
        return EXIT_CONFIG;
    }
    settings_relative(settings_path, store_path, path, sizeof path);
    struct stsm_trust_store store;
    stsm_status_t st = stsm_app_read_file(path, blob, sizeof blob, &len, why, sizeof why);
    if (st == STSM_OK && stsm_trust_store_open(&store, blob, len) != STSM_OK) {
        snprintf(why, sizeof why, "%s: not a valid trust store (toolchain/mktrust.py makes one)", path);
        st = STSM_ERR_CORRUPT;
    }
    if (st == STSM_OK && stsm_tls_init(tls, &store) != STSM_OK) {
        snprintf(why, sizeof why, "TLS setup failed (no entropy?)");
        st = STSM_ERR_IO;
    }
    if (st != STSM_OK) {
        fprintf(stderr, "stsmail: %s\n", why);
        return EXIT_CONFIG;
    }
    fprintf(stderr, "stsmail: trust store %s: %u anchors\n", path, (unsigned)store.count);
    return 0;
}

int stsm_app_net_up_settings(const struct stsm_settings_network *net, uint32_t timeout_ms)
{
    struct stsm_host_net_config config = { .tap_name = net->interface, .use_dhcp = net->dhcp };
    if (!net->dhcp) {
        IP4_ADDR(&config.address, net->address[0], net->address[1], net->address[2], net->address[3]);
        config.netmask = stsm_app_netmask(net->prefix_len);
        IP4_ADDR(&config.gateway, net->gateway[0], net->gateway[1], net->gateway[2], net->gateway[3]);
    }
    config.dns_count = net->dns_count;
    for (uint8_t i = 0; i < net->dns_count; i++) {
        IP4_ADDR(&config.dns_servers[i], net->dns[i][0], net->dns[i][1], net->dns[i][2], net->dns[i][3]);
    }
    return stsm_app_net_up(&config, timeout_ms);
}

bool stsm_app_load_sts_cache(const char *settings_path, const struct stsm_settings *settings,
                             struct stsm_sts_cache *cache)
{
    static uint8_t blob[STSM_STS_CACHE_BLOB_MAX];
    char path[2 * STSM_SETTINGS_PATH_MAX + 2], why[600];
    size_t len;
    stsm_sts_cache_init(cache);
    if (settings->mta_sts.cache_file[0] == '\0') {
        return false;
    }
    settings_relative(settings_path, settings->mta_sts.cache_file, path, sizeof path);
    if (access(path, F_OK) != 0) {
        return true;   /* first run */
    }
    if (stsm_app_read_file(path, blob, sizeof blob, &len, why, sizeof why) != STSM_OK ||
        stsm_sts_cache_load(cache, blob, len) != STSM_OK) {
        fprintf(stderr, "stsmail: MTA-STS cache %s is damaged; starting empty\n", path);
    }
    return true;
}

void stsm_app_save_sts_cache(const char *settings_path, const struct stsm_settings *settings,
                             const struct stsm_sts_cache *cache)
{
    static uint8_t blob[STSM_STS_CACHE_BLOB_MAX];
    char path[2 * STSM_SETTINGS_PATH_MAX + 2], tmp[2 * STSM_SETTINGS_PATH_MAX + 8];
    if (settings->mta_sts.cache_file[0] == '\0') {
        return;
    }
    settings_relative(settings_path, settings->mta_sts.cache_file, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.new", path);
    size_t len = stsm_sts_cache_save(cache, blob, sizeof blob);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && len > 0 && write(fd, blob, len) == (ssize_t)len && fsync(fd) == 0;
    if (fd >= 0) {
        ok = close(fd) == 0 && ok;
    }
    if (!ok || rename(tmp, path) != 0) {
        fprintf(stderr, "stsmail: could not save the MTA-STS cache to %s: %s\n", path, strerror(errno));
        unlink(tmp);
    }
}
