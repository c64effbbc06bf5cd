/*
 * A board's bring-up image: the boot steps of the full app (stsm_mcu_boot.c: settings,
 * random generator, lwIP on the board's Ethernet controller, DHCP, SNTP), one DNS query
 * through lwIP, for the MTA-STS policy host of the first recipient's domain, that
 * domain's MTA-STS policy fetched over verified HTTPS (stsm_sts_fetch: our resolver, TCP,
 * TLS against the provisioned trust store), and a boot counter in a flash store on the
 * outbox's area, rewritten often enough that pages are reclaimed and erased. It proves
 * the port, its Ethernet driver (frames both ways, broadcast and unicast, UDP, full-size
 * TCP segments) and its flash driver on a board where the full app does not link yet
 * (lm3s6965evb: see port/lm3s6965/README.md), and prints the footprint lines of the full
 * app for what it uses.
 */
#include <string.h>

#include "lwip/dns.h"
#include "lwip/sys.h"
#include "stsm_mcu_boot.h"
#include "stsm_mcu.h"
#include "stsm_settings.h"
#include "stsm_store.h"
#include "stsm_sts_fetch.h"

#define DNS_TIMEOUT_MS 10000u
#define FETCH_TIMEOUT_MS 30000u
#define KEY_BOOTS 1u
#define KEY_CHURN 2u
#define CHURN_LEN 600u
#define CHURN_PUTS 30u   /* 18 KB through a 16 KiB ring: pages reclaimed and erased */

static struct stsm_settings settings;
static struct stsm_tls tls;
static struct stsm_sts_fetch fetch;

struct lookup {
    bool done;
    bool found;
    ip_addr_t addr;
};

static void on_found(const char *name, const ip_addr_t *addr, void *arg)
{
    struct lookup *l = arg;
    (void)name;
    l->done = true;
    if (addr != NULL) {
        l->found = true;
        l->addr = *addr;
    }
}

/* The domain of the first recipient. */
static const char *recipient_domain(void)
{
    const char *at = strrchr(settings.mail.to[0], '@');
    return at != NULL ? at + 1 : NULL;
}

/* Resolves mta-sts.<domain of the first recipient>. */
static int resolve_policy_host(void)
{
    char host[8 + STSM_HOSTNAME_MAX + 1];   /* on the stack: no TLS runs yet, SRAM is tight */
    const char *domain = recipient_domain();
    if (domain == NULL || strlen(domain) + 8 >= sizeof host) {
        stsm_mcu_diagf("bring-up: no recipient domain to look up\n");
        return STSM_MCU_EXIT_CONFIG;
    }
    strcpy(host, "mta-sts.");
    strcat(host, domain);
    struct lookup l = { 0 };
    err_t err = dns_gethostbyname(host, &l.addr, on_found, &l);
    if (err == ERR_OK) {
        l.done = l.found = true;
    } else if (err != ERR_INPROGRESS) {
        stsm_mcu_diagf("bring-up: DNS query for %s not sent (%d)\n", host, (int)err);
        return STSM_MCU_EXIT_OSERR;
    }
    u32_t start = sys_now();
    while (!l.done && sys_now() - start < DNS_TIMEOUT_MS) {
        stsm_mcu_poll();
    }
    if (!l.found) {
        stsm_mcu_diagf("bring-up: %s not resolved\n", host);
        return STSM_MCU_EXIT_TEMPFAIL;
    }
    char text[IP4ADDR_STRLEN_MAX];
    ip4addr_ntoa_r(ip_2_ip4(&l.addr), text, sizeof text);
    stsm_mcu_diagf("bring-up: %s is %s\n", host, text);
    return 0;
}

static void fetch_done(void *arg, struct stsm_sts_fetch *f)
{
    (void)f;
    *(bool *)arg = true;
}

/* Fetches the first recipient's domain's MTA-STS policy over verified HTTPS. */
static int fetch_policy(void)
{
    int rc = stsm_mcu_tls_up(&tls);
    if (rc != 0) {
        return rc;
    }
    bool done = false;
    const char *domain = recipient_domain();
    stsm_status_t st = stsm_sts_fetch_start(&fetch, domain, &tls, FETCH_TIMEOUT_MS, false, fetch_done, &done);
    while (st == STSM_OK && !done) {
        stsm_mcu_poll();
    }
    if (st == STSM_OK) {
        st = fetch.status;
    }
    if (st != STSM_OK) {
        stsm_mcu_diagf("bring-up: MTA-STS policy of %s not fetched: %s\n", domain, stsm_status_str(st));
        return STSM_MCU_EXIT_TEMPFAIL;
    }
    stsm_mcu_diagf("bring-up: MTA-STS policy of %s fetched over verified HTTPS: mode %s, %u bytes\n", domain,
                    stsm_sts_mode_str(fetch.policy.mode), (unsigned)fetch.body_size);
    return 0;
}

/* Counts this boot in the store on the outbox's flash area (STSM_ERR_NOT_FOUND: the first
 * boot), after enough puts to make the store reclaim pages. */
static int count_boot(void)
{
    static struct stsm_flash_area area;
    static struct stsm_store store;
    uint8_t churn[CHURN_LEN];   /* on the stack: the TLS session is over, SRAM is tight */
    stsm_mcu_outbox_area(&area);
    stsm_status_t st = stsm_store_mount(&store, &area);
    uint32_t boots = 0;
    const uint8_t *data;
    size_t len;
    if (st == STSM_OK && stsm_store_get(&store, KEY_BOOTS, &data, &len) == STSM_OK && len == sizeof boots) {
        memcpy(&boots, data, sizeof boots);
    }
    boots++;
    for (uint32_t i = 0; st == STSM_OK && i < CHURN_PUTS; i++) {
        memset(churn, (int)(boots + i), sizeof churn);
        st = stsm_store_put(&store, KEY_CHURN, churn, sizeof churn);
    }
    if (st == STSM_OK) {
        st = stsm_store_put(&store, KEY_BOOTS, &boots, sizeof boots);
    }
    if (st != STSM_OK) {
        stsm_mcu_diagf("bring-up: flash store: %s\n", stsm_status_str(st));
        return STSM_MCU_EXIT_OSERR;
    }
    stsm_mcu_diagf("bring-up: flash store: boot %u, %u pages erased\n", (unsigned)boots,
                    (unsigned)stsm_store_stats(&store)->erases);
    return 0;
}

int main(void)
{
    int rc = stsm_mcu_start(&settings);
    if (rc == STSM_MCU_NOTHING_TO_DO) {
        return 0;
    }
    if (rc == 0 && settings.mail.to_count > 0) {
        rc = resolve_policy_host();
        if (rc == 0) {
            rc = fetch_policy();
        }
    }
    if (rc == 0) {
        rc = count_boot();
    }
    stsm_mcu_report_footprint();
    return rc;
}
