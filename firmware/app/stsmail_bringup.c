/*
 * A board's bring-up image: the boot steps of the full app (stsm_mcu_boot.c: settings,
 * random generator, lwIP on the board's Ethernet controller, DHCP, SNTP) and one DNS query
 * through lwIP, for the MTA-STS policy host of the first recipient's domain. It proves
 * the port and its Ethernet driver (frames both ways, broadcast and unicast, UDP) on a
 * board where the full app does not link yet (lm3s6965evb: see port/lm3s6965/README.md),
 * and prints the same footprint lines as the full app for what it uses.
 */
#include <string.h>

#include "lwip/dns.h"
#include "lwip/memp.h"
#include "lwip/priv/memp_priv.h"
#include "lwip/stats.h"
#include "lwip/sys.h"
#include "stsm_mcu_boot.h"
#include "stsm_mps2.h"
#include "stsm_settings.h"

#define DNS_TIMEOUT_MS 10000u

static struct stsm_settings settings;

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

/* Resolves mta-sts.<domain of the first recipient>. */
static int resolve_policy_host(void)
{
    static char host[8 + STSM_HOSTNAME_MAX + 1];
    const char *rcpt = settings.mail.to[0];
    const char *at = strrchr(rcpt, '@');
    if (at == NULL || strlen(at + 1) + 8 >= sizeof host) {
        stsm_mps2_diagf("bring-up: no recipient domain to look up\n");
        return STSM_MCU_EXIT_CONFIG;
    }
    strcpy(host, "mta-sts.");
    strcat(host, at + 1);
    struct lookup l = { 0 };
    err_t err = dns_gethostbyname(host, &l.addr, on_found, &l);
    if (err == ERR_OK) {
        l.done = l.found = true;
    } else if (err != ERR_INPROGRESS) {
        stsm_mps2_diagf("bring-up: DNS query for %s not sent (%d)\n", host, (int)err);
        return STSM_MCU_EXIT_OSERR;
    }
    u32_t start = sys_now();
    while (!l.done && sys_now() - start < DNS_TIMEOUT_MS) {
        stsm_mcu_poll();
    }
    if (!l.found) {
        stsm_mps2_diagf("bring-up: %s not resolved\n", host);
        return STSM_MCU_EXIT_TEMPFAIL;
    }
    char text[IP4ADDR_STRLEN_MAX];
    ip4addr_ntoa_r(ip_2_ip4(&l.addr), text, sizeof text);
    stsm_mps2_diagf("bring-up: %s is %s\n", host, text);
    return 0;
}

int main(void)
{
    int rc = stsm_mcu_boot(&settings);
    if (rc == STSM_MCU_NOTHING_TO_DO) {
        return 0;
    }
    if (rc == 0) {
        rc = stsm_mcu_network_up(&settings.network);
    }
    if (rc == 0) {
        rc = stsm_mcu_clock_up();
    }
    if (rc == 0 && settings.mail.to_count > 0) {
        rc = resolve_policy_host();
    }
    stsm_mps2_diagf("footprint: lwip_heap_peak %u of %u\n", (unsigned)lwip_stats.mem.max, (unsigned)MEM_SIZE);
    size_t pools_peak = 0, pools_size = 0;
    for (int i = 0; i < MEMP_MAX; i++) {
        pools_peak += (size_t)memp_pools[i]->stats->max * memp_pools[i]->size;
        pools_size += (size_t)memp_pools[i]->num * memp_pools[i]->size;
    }
    stsm_mps2_diagf("footprint: lwip_pools_peak %u of %u\n", (unsigned)pools_peak, (unsigned)pools_size);
    stsm_mps2_diagf("footprint: stack_peak %u\n", (unsigned)stsm_mps2_stack_peak());
    return rc;
}
