/*
 * stsmail firmware for a Cortex-M board (mps2-an385, lm3s6965evb; STSM_BOARD names it):
 * boot, read the provisioned settings (validated exactly as on the host), seed the random
 * generator, bring lwIP up on the board's Ethernet controller (DHCP or static), set the
 * wall clock by SNTP, then raise a boot alert through the public agent API (stsm_agent.h)
 * and work the outbox in flash, with whatever earlier boots could not deliver yet: the
 * same agent as the host (MX or relay, MTA-STS, verified STARTTLS), with the provisioned
 * trust store. Without provisioned settings it reports the build and stops.
 *
 * One app for every board: what differs is configuration (the port's lwipopts.h, Mbed TLS
 * config and capacities) and the board's hooks. Console, clocks, randomness, the store
 * areas and the provisioning symbols are the Cortex-M platform contract of stsm_mps2.h,
 * which each board's port implements; the Ethernet driver is reached through stsm_board.h.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

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
#include "netif/ethernet.h"
#include "stsm_board.h"
#include "stsm_mps2.h"
#include "stsm_cursor.h"
#include "stsm_agent.h"
#include "stsm_flash_record.h"
#include "stsm_ipv4.h"
#include "stsm_port.h"
#include "stsm_settings.h"

#define STRINGIFY(x) #x
#define VERSION3(a, b, c) STRINGIFY(a) "." STRINGIFY(b) "." STRINGIFY(c)

#define EXIT_CONFIG 78
#define EXIT_OSERR 71
#define EXIT_TEMPFAIL 75
#define EXIT_UNAVAILABLE 69
#define NET_TIMEOUT_MS 30000u
#define IDLE_HALT_MS 20000u   /* this image halts when nothing is due sooner */

extern const char __provision_settings[];
extern const char __provision_settings_size[];
extern const char __provision_trust[];
extern const char __provision_trust_size[];

static struct stsm_settings settings;
static struct netif netif;
static struct stsm_tls tls;
static struct stsm_sts_cache sts_cache;
static struct stsm_flash_area cache_area;
static struct stsm_store cache_store;            /* the cache area: one piece a policy */
static struct stsm_sts_cache_flash cache_flash;  /* what it holds */
static struct stsm_flash_area outbox_area;
static struct stsm_agent agent;

/* One turn of the main loop: frames in, timers due. */
static void net_poll(void)
{
    stsm_board_netif_poll(&netif);
    sys_check_timeouts();
}

static void print_ip4(const char *label, const ip4_addr_t *a)
{
    char text[IP4ADDR_STRLEN_MAX];
    ip4addr_ntoa_r(a, text, sizeof text);
    stsm_mps2_diagf("%s%s", label, text);
}

static int bring_up_network(void)
{
    const struct stsm_settings_network *net = &settings.network;
    ip4_addr_t addr, mask, gw;
    ip4_addr_set_zero(&addr);
    ip4_addr_set_zero(&mask);
    ip4_addr_set_zero(&gw);
    if (!net->dhcp) {
        IP4_ADDR(&addr, net->address[0], net->address[1], net->address[2], net->address[3]);
        ip4_addr_set_u32(&mask, lwip_htonl(stsm_ipv4_netmask(net->prefix_len)));
        IP4_ADDR(&gw, net->gateway[0], net->gateway[1], net->gateway[2], net->gateway[3]);
    }
    lwip_init();
    if (stsm_board_netif_add(&netif, &addr, &mask, &gw) == NULL) {
        stsm_mps2_diagf("no Ethernet controller answers\n");
        return EXIT_OSERR;
    }
    netif_set_default(&netif);
    netif_set_up(&netif);
    netif_set_link_up(&netif);
    /* Certificate checks need the wall clock: ask the NTP server DHCP names (option 42). */
    sntp_setoperatingmode(SNTP_OPMODE_POLL);
    sntp_servermode_dhcp(1);
    if (net->dhcp) {
        dhcp_start(&netif);
        u32_t start = sys_now();
        while (!dhcp_supplied_address(&netif)) {
            if (sys_now() - start > NET_TIMEOUT_MS) {
                stsm_mps2_diagf("no DHCP lease within %u ms\n", (unsigned)NET_TIMEOUT_MS);
                return EXIT_TEMPFAIL;
            }
            net_poll();
        }
    }
    for (u8_t i = 0; i < net->dns_count && i < DNS_MAX_SERVERS; i++) {
        ip_addr_t dns;
        IP_ADDR4(&dns, net->dns[i][0], net->dns[i][1], net->dns[i][2], net->dns[i][3]);
        dns_setserver(i, &dns);
    }
    print_ip4("network up: ", netif_ip4_addr(&netif));
    stsm_mps2_diagf(" (%s), ", net->dhcp ? "DHCP" : "static");
    print_ip4("DNS ", ip_2_ip4(dns_getserver(0)));
    stsm_mps2_diagf(", MAC %02x:%02x:%02x:%02x:%02x:%02x\n", netif.hwaddr[0], netif.hwaddr[1],
                    netif.hwaddr[2], netif.hwaddr[3], netif.hwaddr[4], netif.hwaddr[5]);
    return 0;
}

/* Waits for SNTP to set the wall clock; deliveries that verify certificates need it. */
static int set_clock(void)
{
    uint32_t now;
    sntp_init();
    u32_t start = sys_now();
    while (!stsm_mps2_wall_clock(&now)) {
        if (stsm_mps2_clock_refused()) {
            stsm_mps2_diagf("the NTP server's time is not believable: certificate checks are "
                            "impossible, nothing that needs them will be sent\n");
            return EXIT_TEMPFAIL;
        }
        if (sys_now() - start > NET_TIMEOUT_MS) {
            stsm_mps2_diagf("no answer from an NTP server within %u ms: certificate checks are "
                            "impossible, nothing that needs them will be sent\n", (unsigned)NET_TIMEOUT_MS);
            return EXIT_TEMPFAIL;
        }
        net_poll();
    }
    time_t t = (time_t)now;
    struct tm tm;
    gmtime_r(&t, &tm);
    stsm_mps2_diagf("clock set by NTP: %04d-%02d-%02d %02d:%02d:%02d UTC\n", tm.tm_year + 1900, tm.tm_mon + 1,
                    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    /* A worn-out or failing flash only loses the rollback protection of later boots. */
    (void)stsm_mps2_clock_save_floor();
    return 0;
}

static void log_line(void *arg, const char *line)
{
    (void)arg;
    stsm_mps2_diagf("%s\n", line);
}

/* Opens the provisioned trust store; its own header says how long it is. */
static int open_trust_store(void)
{
    const uint8_t *blob = (const uint8_t *)__provision_trust;
    size_t cap = (size_t)(uintptr_t)__provision_trust_size;
    struct stsm_cursor header;
    uint32_t len = 0;
    stsm_cursor_init(&header, blob, cap);
    struct stsm_trust_store store;
    if (!stsm_cursor_seek(&header, 12) || !stsm_cursor_u32(&header, &len) || len > cap ||
        stsm_trust_store_open(&store, blob, len) != STSM_OK) {
        stsm_mps2_diagf("no valid trust store provisioned: refusing to send without certificate checks\n");
        return EXIT_CONFIG;
    }
    if (stsm_tls_init(&tls, &store) != STSM_OK) {
        stsm_mps2_diagf("TLS setup failed\n");
        return EXIT_OSERR;
    }
    stsm_mps2_diagf("trust store: %u anchors\n", (unsigned)store.count);
    return 0;
}

/* The MTA-STS policies earlier boots stored in flash, one piece each: a damaged piece
 * loses only its policy, which is fetched again. */
static void load_policy_cache(void)
{
    size_t dropped;
    stsm_mps2_store_area(&cache_area);
    stsm_status_t st = stsm_store_mount(&cache_store, &cache_area);
    size_t n = stsm_sts_cache_flash_load(&sts_cache, &cache_flash, &cache_store, &dropped);
    if (st != STSM_OK) {
        stsm_mps2_diagf("policy cache: flash unusable (%s): policies kept until reset only\n", stsm_status_str(st));
    } else if (n == 0 && dropped == 0) {
        stsm_mps2_diagf("policy cache: none stored in flash\n");
    } else {
        stsm_mps2_diagf("policy cache: %u policies loaded from flash, %u damaged left out\n", (unsigned)n,
                        (unsigned)dropped);
    }
}

/* Writes the piece of each policy whose state changed: flash wears, so a mere use (which
 * only moves the LRU stamp) writes nothing. */
static void save_policy_cache(void)
{
    size_t written;
    stsm_status_t st = stsm_sts_cache_flash_sync(&sts_cache, &cache_flash, &written);
    if (st != STSM_OK) {
        stsm_mps2_diagf("policy cache: not all stored in flash: %s\n", stsm_status_str(st));
    } else if (written > 0) {
        stsm_mps2_diagf("policy cache: %u pieces written to flash\n", (unsigned)written);
    }
}

/* ---- the platform the agent runs on --------------------------------------------------- */

static uint32_t platform_monotonic_ms(void *ctx)
{
    (void)ctx;
    return sys_now();
}

static bool platform_wall_clock(void *ctx, int64_t *now)
{
    (void)ctx;
    uint32_t t;
    if (!stsm_mps2_wall_clock(&t)) {
        return false;
    }
    *now = t;
    return true;
}

static uint32_t platform_random(void *ctx)
{
    (void)ctx;
    return stsm_port_random_u32();
}

static void platform_sts_cache_changed(void *ctx)
{
    (void)ctx;
    save_policy_cache();
}

static void print_result(void *arg, const struct stsm_agent_result *r)
{
    (void)arg;
    stsm_mps2_diagf("%s: %s%s%s: %s\n", r->rcpt, stsm_rcpt_state_name(r->state), r->host[0] != '\0' ? " by " : "",
                    r->host, r->reason);
}

/* Raises the boot alert through the public API, then works the outbox, with what earlier
 * boots left in it, from the main loop as a vendor's firmware would. A device loops for
 * ever and sleeps for stsm_agent_next_wakeup(); this image halts once nothing is due
 * within IDLE_HALT_MS, so that tests and the demo end. */
static int run_agent(void)
{
    static char body[160];
    stsm_mps2_outbox_area(&outbox_area);
    const struct stsm_platform platform = {
        .monotonic_ms = platform_monotonic_ms,
        .wall_clock = platform_wall_clock,
        .random_u32 = platform_random,
        .storage = &outbox_area,
        .log = log_line,
        .tls = &tls,
        .sts_cache = &sts_cache,
        .sts_cache_changed = platform_sts_cache_changed,
    };
    stsm_status_t st = stsm_agent_init(&agent, &settings, &platform);
    if (st != STSM_OK && st != STSM_ERR_CORRUPT) {
        stsm_mps2_diagf("outbox: cannot start: %s\n", stsm_status_str(st));
        return EXIT_OSERR;
    }
    stsm_agent_on_result(&agent, print_result, NULL);
    /* Each boot is its own event, so the boot alert has no key: it is never coalesced. */
    const struct stsm_alert alert = {
        .severity = STSM_SEVERITY_INFO,
        .subject = "stsmail alert from " STSM_BOARD,
        .body = body,
        .body_len = (size_t)snprintf(body, sizeof body, "stsmail %s booted on %s and reached the network.\n",
                                     STSM_VERSION, STSM_BOARD),
    };
    st = stsm_alert_raise(&agent, &alert, NULL);
    if (st != STSM_OK) {
        stsm_mps2_diagf("boot alert not stored: %s\n", stsm_status_str(st));
    }
    for (;;) {
        net_poll();
        stsm_agent_poll(&agent);
        uint32_t wake = stsm_agent_next_wakeup(&agent);
        if (!stsm_agent_busy(&agent) && wake > IDLE_HALT_MS) {
            break;
        }
    }
    const struct stsm_agent_counters *c = stsm_agent_counters(&agent);
    stsm_mps2_diagf("outbox: %u delivered, %u failed, %u given up, %u message(s) kept for later\n",
                    (unsigned)c->delivered, (unsigned)c->failed, (unsigned)c->gave_up, (unsigned)c->queued);
    return c->failed > 0 ? EXIT_UNAVAILABLE : c->queued > 0 ? EXIT_TEMPFAIL : 0;
}

/* The run-time half of the footprint (tests/bench/footprint.sh reads these lines): how
 * much of each statically sized pool the run actually needed. */
static void report_footprint(void)
{
    stsm_mps2_diagf("footprint: mbedtls_arena_peak %u of %u\n", (unsigned)stsm_tls_arena_high_water(),
                    (unsigned)STSM_TLS_ARENA_SIZE);
    stsm_mps2_diagf("footprint: lwip_heap_peak %u of %u\n", (unsigned)lwip_stats.mem.max, (unsigned)MEM_SIZE);
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
        stsm_mps2_diagf("footprint: memp %s %u of %u, err %u\n", pool_names[i], (unsigned)st->max,
                        (unsigned)memp_pools[i]->num, (unsigned)st->err);
    }
    stsm_mps2_diagf("footprint: lwip_pools_peak %u of %u\n", (unsigned)pools_peak, (unsigned)pools_size);
    stsm_mps2_diagf("footprint: lwip_errors %u\n", (unsigned)errors);
    stsm_mps2_diagf("footprint: cjson_arena_peak %u of %u\n", (unsigned)stsm_settings_arena_peak(),
                    (unsigned)STSM_SETTINGS_ARENA_SIZE);
    stsm_mps2_diagf("footprint: stack_peak %u\n", (unsigned)stsm_mps2_stack_peak());
    extern uint8_t __stack_top[], __stack_limit[];   /* the linker script's stack reserve */
    stsm_mps2_diagf("footprint: stack_reserve %u\n", (unsigned)(__stack_top - __stack_limit));
}

int main(void)
{
    stsm_mps2_console_init();
    stsm_mps2_clock_init();
    stsm_mps2_console_puts("stsmail " STSM_VERSION " on " STSM_BOARD ": booted (lwIP "
                           LWIP_VERSION_STRING ", Mbed TLS " MBEDTLS_VERSION_STRING ", cJSON "
                           VERSION3(CJSON_VERSION_MAJOR, CJSON_VERSION_MINOR,
                                    CJSON_VERSION_PATCH) ")\n");

    /* The settings are NUL-terminated text: provisioning writes a NUL after the JSON (in
     * QEMU, memory nothing was loaded into reads as zero). */
    size_t cap = (size_t)(uintptr_t)__provision_settings_size;
    const char *end = memchr(__provision_settings, '\0', cap);
    size_t len = end != NULL ? (size_t)(end - __provision_settings) : cap;
    if (len == 0) {
        stsm_mps2_console_puts("no settings provisioned: nothing to do\n");
        return 0;
    }
    char why[200];
    if (stsm_settings_parse(__provision_settings, len, &settings, why, sizeof why) != STSM_OK) {
        stsm_mps2_diagf("settings: %s\n", why);
        return EXIT_CONFIG;
    }
    if (!stsm_mps2_random_init()) {
        stsm_mps2_console_puts("no entropy seed provisioned: refusing to use the network\n");
        return EXIT_CONFIG;
    }
    int rc = bring_up_network();
    if (rc == 0) {
        rc = set_clock();
    }
    if (rc == 0 && settings.mail.to_count > 0) {
        rc = open_trust_store();
        if (rc == 0) {
            load_policy_cache();
            rc = run_agent();
        }
    }
    report_footprint();
    return rc;
}
