/* The boot steps of the Cortex-M images (stsm_mcu_boot.h). */
#include <string.h>

#include "cJSON.h"
#include "lwip/apps/sntp.h"
#include "lwip/dhcp.h"
#include "lwip/dns.h"
#include "lwip/init.h"
#include "lwip/memp.h"
#include "lwip/priv/memp_priv.h"
#include "lwip/stats.h"
#include "lwip/sys.h"
#include "lwip/timeouts.h"
#include "mbedtls/version.h"
#include "stsm_board.h"
#include "stsm_ipv4.h"
#include "stsm_mcu_boot.h"
#include "stsm_mcu.h"

#define STRINGIFY(x) #x
#define VERSION3(a, b, c) STRINGIFY(a) "." STRINGIFY(b) "." STRINGIFY(c)
#define NET_TIMEOUT_MS 30000u

extern const char __provision_settings[];
extern const char __provision_settings_size[];
extern const char __provision_trust[];
extern const char __provision_trust_size[];

static struct netif netif;

/* Console, clock, banner, settings, random generator. */
static int boot(struct stsm_settings *settings)
{
    stsm_mcu_console_init();
    stsm_mcu_clock_init();
    stsm_mcu_console_puts("stsmail " STSM_VERSION " on " STSM_BOARD ": booted (lwIP "
                           LWIP_VERSION_STRING ", Mbed TLS " MBEDTLS_VERSION_STRING ", cJSON "
                           VERSION3(CJSON_VERSION_MAJOR, CJSON_VERSION_MINOR,
                                    CJSON_VERSION_PATCH) ")\n");

    /* The settings are NUL-terminated text: provisioning writes a NUL after the JSON (in
     * QEMU, memory nothing was loaded into reads as zero). */
    size_t cap = (size_t)(uintptr_t)__provision_settings_size;
    const char *end = memchr(__provision_settings, '\0', cap);
    size_t len = end != NULL ? (size_t)(end - __provision_settings) : cap;
    if (len == 0) {
        stsm_mcu_say(STSM_TEXT("no settings provisioned: nothing to do"));
        return STSM_MCU_NOTHING_TO_DO;
    }
    char why[200];
#if defined(STSM_SETTINGS_ARENA_IN_TLS_ARENA) && STSM_SETTINGS_ARENA_IN_TLS_ARENA
    /* The settings are parsed once, here, before TLS is set up: the parse borrows the TLS
     * arena's bytes instead of a cJSON arena of its own (RAM the board does not have).
     * Shared by construction: stsm_tls_arena_lend() refuses once TLS owns the arena and
     * stsm_tls_init() refuses while it is lent, so a change of this order fails at once. */
    size_t lent_size;
    unsigned char *lent = stsm_tls_arena_lend(&lent_size);
    if (lent == NULL) {
        stsm_mcu_say(STSM_TEXT("settings: the TLS arena is in use, no parse arena"));
        return STSM_MCU_EXIT_CONFIG;
    }
    stsm_settings_lend_arena(lent, lent_size);
#endif
    stsm_status_t parsed = stsm_settings_parse(__provision_settings, len, settings, why, sizeof why);
#if defined(STSM_SETTINGS_ARENA_IN_TLS_ARENA) && STSM_SETTINGS_ARENA_IN_TLS_ARENA
    stsm_settings_lend_arena(NULL, 0);
    stsm_tls_arena_return();
#endif
    if (parsed != STSM_OK) {
        stsm_mcu_say(STSM_TEXT("settings: %s", why));
        return STSM_MCU_EXIT_CONFIG;
    }
    if (!stsm_mcu_random_init()) {
        stsm_mcu_say(STSM_TEXT("no entropy seed provisioned: refusing to use the network"));
        return STSM_MCU_EXIT_CONFIG;
    }
    return 0;
}

void stsm_mcu_poll(void)
{
    stsm_board_netif_poll(&netif);
    sys_check_timeouts();
}

/* Polls until `done` says so: false when NET_TIMEOUT_MS passed first. */
static bool wait_for(bool (*done)(void))
{
    u32_t start = sys_now();
    while (!done()) {
        if (sys_now() - start > NET_TIMEOUT_MS) {
            return false;
        }
        stsm_mcu_poll();
    }
    return true;
}

static bool leased(void)
{
    return dhcp_supplied_address(&netif);
}

/* The clock is set, or an NTP answer was refused (lwIP asks again only much later). */
static bool clock_decided(void)
{
    uint32_t now;
    return stsm_mcu_wall_clock(&now) || stsm_mcu_clock_refused();
}

static int network_up(const struct stsm_settings_network *net)
{
    /* Addresses in network byte order: the settings' bytes as they are. */
    ip4_addr_t addr = { 0 }, mask = { 0 }, gw = { 0 };
    if (!net->dhcp) {
        memcpy(&addr.addr, net->address, 4);
        mask.addr = lwip_htonl(stsm_ipv4_netmask(net->prefix_len));
        memcpy(&gw.addr, net->gateway, 4);
    }
    lwip_init();
    if (stsm_board_netif_add(&netif, &addr, &mask, &gw) == NULL) {
        stsm_mcu_say(STSM_TEXT("no Ethernet controller answers"));
        return STSM_MCU_EXIT_OSERR;
    }
    netif_set_default(&netif);
    netif_set_up(&netif);
    netif_set_link_up(&netif);
    /* Certificate checks need the wall clock: ask the NTP server DHCP names (option 42). */
    sntp_setoperatingmode(SNTP_OPMODE_POLL);
    sntp_servermode_dhcp(1);
    if (net->dhcp) {
        dhcp_start(&netif);
        if (!wait_for(leased)) {
            stsm_mcu_say(STSM_TEXT("no DHCP lease within %u ms", (unsigned)NET_TIMEOUT_MS));
            return STSM_MCU_EXIT_TEMPFAIL;
        }
    }
    for (u8_t i = 0; i < net->dns_count && i < DNS_MAX_SERVERS; i++) {
        ip_addr_t dns = IPADDR4_INIT(0);
        memcpy(&ip_2_ip4(&dns)->addr, net->dns[i], 4);
        dns_setserver(i, &dns);
    }
    char own[IP4ADDR_STRLEN_MAX], dns[IP4ADDR_STRLEN_MAX], mac[3 * 6];
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 6; i++) {
        mac[3 * i] = hex[netif.hwaddr[i] >> 4];
        mac[3 * i + 1] = hex[netif.hwaddr[i] & 15];
        mac[3 * i + 2] = i < 5 ? ':' : '\0';
    }
    ip4addr_ntoa_r(netif_ip4_addr(&netif), own, sizeof own);
    ip4addr_ntoa_r(ip_2_ip4(dns_getserver(0)), dns, sizeof dns);
    stsm_mcu_say(STSM_TEXT("network up: %s (%s), DNS %s, MAC %s", own,
                           net->dhcp ? STSM_TEXT_FIXED("DHCP") : STSM_TEXT_FIXED("static"), dns, mac));
    return 0;
}

static int clock_up(void)
{
    uint32_t now;
    sntp_init();
    if (!wait_for(clock_decided)) {
        stsm_mcu_say(STSM_TEXT("no answer from an NTP server within %u ms: certificate checks are "
                               "impossible, nothing that needs them will be sent", (unsigned)NET_TIMEOUT_MS));
        return STSM_MCU_EXIT_TEMPFAIL;
    }
    if (!stsm_mcu_wall_clock(&now)) {
        stsm_mcu_say(STSM_TEXT("the NTP server's time is not believable: certificate checks are "
                               "impossible, nothing that needs them will be sent"));
        return STSM_MCU_EXIT_TEMPFAIL;
    }
    char text[STSM_MCU_TIME_TEXT];
    stsm_mcu_time_text(now, text);
    stsm_mcu_say(STSM_TEXT("clock set by NTP: %s", text));
    /* A worn-out or failing flash only loses the rollback protection of later boots. */
    (void)stsm_mcu_clock_save_floor();
    return 0;
}

int stsm_mcu_start(struct stsm_settings *settings)
{
    int rc = boot(settings);
    if (rc == 0) {
        rc = network_up(&settings->network);
    }
    if (rc == 0) {
        rc = clock_up();
    }
    return rc;
}

/* The trust store blob's own header says how long it is (stsm_trust_store.h: a u32 at
 * byte 12, big-endian). */
int stsm_mcu_tls_up(struct stsm_tls *tls)
{
    const uint8_t *blob = (const uint8_t *)__provision_trust;
    size_t cap = (size_t)(uintptr_t)__provision_trust_size;
    uint32_t len = cap >= 16 ? (uint32_t)blob[12] << 24 | (uint32_t)blob[13] << 16 | (uint32_t)blob[14] << 8 |
                                   blob[15]
                             : 0;
    struct stsm_trust_store store;
    if (len > cap || stsm_trust_store_open(&store, blob, len) != STSM_OK) {
        stsm_mcu_say(STSM_TEXT("no valid trust store provisioned: refusing to send without certificate checks"));
        return STSM_MCU_EXIT_CONFIG;
    }
    /* The platform's generator, seeded once at boot: one new seed in flash per boot. */
    if (stsm_tls_init_with_rng(tls, &store, stsm_mcu_random, NULL) != STSM_OK) {
        stsm_mcu_say(STSM_TEXT("TLS setup failed"));
        return STSM_MCU_EXIT_OSERR;
    }
    stsm_mcu_say(STSM_TEXT("trust store: %u anchors", (unsigned)store.count));
    return 0;
}

void stsm_mcu_report_footprint(void)
{
    stsm_mcu_say(STSM_TEXT("footprint: mbedtls_arena_peak %u of %u", (unsigned)stsm_tls_arena_high_water(),
                           (unsigned)STSM_TLS_ARENA_SIZE));
    stsm_mcu_say(STSM_TEXT("footprint: lwip_heap_peak %u of %u", (unsigned)lwip_stats.mem.max, (unsigned)MEM_SIZE));
    /* Each pool's peak and failed allocations: a pool that ran out must show (the QEMU
     * tests fail on any lwip_errors). */
    static const char *const pool_names[] = {
#define LWIP_MEMPOOL(name, num, size, desc) #name,
#include "lwip/priv/memp_std.h"
    };
    size_t pools_peak = 0, pools_size = 0, errors = lwip_stats.mem.err;
    for (int i = 0; i < MEMP_MAX; i++) {
        const struct stats_mem *st = memp_pools[i]->stats;
        pools_peak += (size_t)st->max * memp_pools[i]->size;
        pools_size += (size_t)memp_pools[i]->num * memp_pools[i]->size;
        errors += st->err;
        stsm_mcu_say(STSM_TEXT("footprint: memp %s %u of %u, err %u", pool_names[i], (unsigned)st->max,
                               (unsigned)memp_pools[i]->num, (unsigned)st->err));
    }
    stsm_mcu_say(STSM_TEXT("footprint: lwip_pools_peak %u of %u", (unsigned)pools_peak, (unsigned)pools_size));
    stsm_mcu_say(STSM_TEXT("footprint: lwip_errors %u", (unsigned)errors));
#if defined(STSM_SETTINGS_ARENA_IN_TLS_ARENA) && STSM_SETTINGS_ARENA_IN_TLS_ARENA
    stsm_mcu_say(STSM_TEXT("footprint: cjson_arena_peak %u of %u (in the TLS arena)",
                           (unsigned)stsm_settings_arena_peak(), (unsigned)STSM_TLS_ARENA_SIZE));
#else
    stsm_mcu_say(STSM_TEXT("footprint: cjson_arena_peak %u of %u", (unsigned)stsm_settings_arena_peak(),
                           (unsigned)STSM_SETTINGS_ARENA_SIZE));
#endif
    extern uint8_t __stack_top[], __stack_limit[];   /* the linker script's stack reserve */
    stsm_mcu_say(STSM_TEXT("footprint: stack_peak %u", (unsigned)stsm_mcu_stack_peak()));
    stsm_mcu_say(STSM_TEXT("footprint: stack_reserve %u", (unsigned)(__stack_top - __stack_limit)));
}
