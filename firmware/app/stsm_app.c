#include "stsm_app.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "lwip/dns.h"
#include "lwip/netif.h"
#include "stsm_ipv4.h"
#include "stsm_trust_store.h"
#include "stsm_wipe.h"

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
    case STSM_ERR_PEER_CLOSED:
    case STSM_ERR_TLS_TRUNCATED:
    case STSM_ERR_STOPPED:
    case STSM_ERR_FULL: return EXIT_TEMPFAIL;
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

int stsm_app_read_body(const char *path, char *buf, size_t max, size_t *len)
{
    if (path == NULL) {
        static const char none[] = "(no text)\n";
        snprintf(buf, max + 1, "%s", none);
        *len = strlen(buf);
        return 0;
    }
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "stsmail: %s: cannot open the body file\n", path);
        return EXIT_NOINPUT;
    }
    size_t n = fread(buf, 1, max + 1, f);
    if (f != stdin) {
        fclose(f);
    }
    if (n > max) {
        fprintf(stderr, "stsmail: the body is longer than %u bytes\n", (unsigned)max);
        return EXIT_DATAERR;
    }
    *len = n;
    return 0;
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
     * of it: a refused or failed read may have filled more than `len`. stsm_wipe() leaves
     * the pages past the file unwritten (they are zero), out of the resident set. */
    stsm_wipe(text, sizeof text);
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

void stsm_app_settings_relative(const char *settings_path, const char *path, char *out, size_t cap)
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
    stsm_app_settings_relative(settings_path, store_path, path, sizeof path);
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

/* The cache file as this run last read or wrote it. At save time, what differs from it in
 * the file was written by another run meanwhile, and is merged instead of overwritten. */
static struct stsm_sts_cache on_disk_seen;

bool stsm_app_load_sts_cache(const char *settings_path, const struct stsm_settings *settings,
                             struct stsm_sts_cache *cache)
{
    static uint8_t blob[STSM_STS_CACHE_BLOB_MAX];
    char path[2 * STSM_SETTINGS_PATH_MAX + 2], why[600];
    size_t len;
    stsm_sts_cache_init(cache);
    stsm_sts_cache_init(&on_disk_seen);
    if (settings->mta_sts.cache_file[0] == '\0') {
        return false;
    }
    stsm_app_settings_relative(settings_path, settings->mta_sts.cache_file, path, sizeof path);
    if (access(path, F_OK) != 0) {
        return true;   /* first run */
    }
    if (stsm_app_read_file(path, blob, sizeof blob, &len, why, sizeof why) != STSM_OK ||
        stsm_sts_cache_load(cache, blob, len) != STSM_OK) {
        fprintf(stderr, "stsmail: MTA-STS cache %s is damaged; starting empty\n", path);
    }
    on_disk_seen = *cache;
    return true;
}

static const struct stsm_sts_cache_entry *entry_of(const struct stsm_sts_cache *cache, const char *domain)
{
    for (size_t i = 0; i < STSM_STS_CACHE_ENTRIES; i++) {
        const struct stsm_sts_cache_entry *e = &cache->entries[i];
        if (e->used && strcmp(e->domain, domain) == 0) {
            return e;
        }
    }
    return NULL;
}

/* Same policy and fetch state (the LRU stamp changes with every use, and does not count). */
static bool same_state(const struct stsm_sts_cache_entry *a, const struct stsm_sts_cache_entry *b)
{
    return strcmp(a->id, b->id) == 0 && a->fetched_at == b->fetched_at && a->failed_at == b->failed_at &&
           strcmp(a->failed_id, b->failed_id) == 0;
}

/*
 * Brings into `mine` what another run stored in the file since this run read it: a policy
 * fetched later than ours (or for a domain we hold none for), and the later failed-fetch
 * marker. An entry the file still holds as this run read it is left to this run, so a
 * policy this run dropped or evicted does not come back.
 */
static void merge_other_runs(struct stsm_sts_cache *mine, const struct stsm_sts_cache *disk)
{
    for (size_t i = 0; i < STSM_STS_CACHE_ENTRIES; i++) {
        const struct stsm_sts_cache_entry *d = &disk->entries[i];
        const struct stsm_sts_cache_entry *seen = entry_of(&on_disk_seen, d->domain);
        if (!d->used || (seen != NULL && same_state(seen, d))) {
            continue;
        }
        const struct stsm_sts_cache_entry *m = entry_of(mine, d->domain);
        if (d->policy.max_age > 0 && (m == NULL || m->policy.max_age == 0 || d->fetched_at > m->fetched_at)) {
            /* put() starts the entry afresh: keep the later of the two failure markers. */
            char failed_id[STSM_STS_ID_MAX + 1] = "";
            int64_t failed_at = 0;
            if (m != NULL && m->failed_id[0] != '\0') {
                memcpy(failed_id, m->failed_id, sizeof failed_id);
                failed_at = m->failed_at;
            }
            if (d->failed_id[0] != '\0' && (failed_id[0] == '\0' || d->failed_at > failed_at)) {
                memcpy(failed_id, d->failed_id, sizeof failed_id);
                failed_at = d->failed_at;
            }
            stsm_sts_cache_put(mine, d->domain, d->id, &d->policy, d->fetched_at);
            if (failed_id[0] != '\0') {
                stsm_sts_cache_fetch_failed(mine, d->domain, failed_id, failed_at);
            }
        } else if (d->failed_id[0] != '\0' && (m == NULL || m->failed_id[0] == '\0' || d->failed_at > m->failed_at)) {
            stsm_sts_cache_fetch_failed(mine, d->domain, d->failed_id, d->failed_at);
        }
    }
}

void stsm_app_save_sts_cache(const char *settings_path, const struct stsm_settings *settings,
                             const struct stsm_sts_cache *cache)
{
    static uint8_t blob[STSM_STS_CACHE_BLOB_MAX];
    static struct stsm_sts_cache merged, disk;
    char path[2 * STSM_SETTINGS_PATH_MAX + 2], lock_path[sizeof path + 5], tmp[sizeof path + 7];
    char why[600];
    if (settings->mta_sts.cache_file[0] == '\0') {
        return;
    }
    stsm_app_settings_relative(settings_path, settings->mta_sts.cache_file, path, sizeof path);
    snprintf(lock_path, sizeof lock_path, "%s.lock", path);
    snprintf(tmp, sizeof tmp, "%s.XXXXXX", path);
    /* Runs that save at the same time take turns: each re-reads the file under the lock,
     * so no run's policies are lost to another's rename. */
    int lock = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock < 0 || flock(lock, LOCK_EX) != 0) {
        fprintf(stderr, "stsmail: could not lock the MTA-STS cache %s: %s\n", lock_path, strerror(errno));
        if (lock >= 0) {
            close(lock);
        }
        return;
    }
    merged = *cache;
    size_t len = 0;
    if (access(path, F_OK) == 0 && stsm_app_read_file(path, blob, sizeof blob, &len, why, sizeof why) == STSM_OK &&
        stsm_sts_cache_load(&disk, blob, len) == STSM_OK) {
        merge_other_runs(&merged, &disk);
    }
    len = stsm_sts_cache_save(&merged, blob, sizeof blob);
    /* A name of its own in the same folder (rename() does not cross file systems). */
    int fd = mkostemp(tmp, O_CLOEXEC);
    bool ok = fd >= 0 && len > 0 && write(fd, blob, len) == (ssize_t)len && fsync(fd) == 0;
    if (fd >= 0) {
        ok = close(fd) == 0 && ok;
    }
    if (!ok || rename(tmp, path) != 0) {
        fprintf(stderr, "stsmail: could not save the MTA-STS cache to %s: %s\n", path, strerror(errno));
        if (fd >= 0) {
            unlink(tmp);
        }
    } else {
        on_disk_seen = merged;
    }
    close(lock);   /* releases the lock */
}
