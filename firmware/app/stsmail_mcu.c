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
 * areas and the provisioning symbols are the Cortex-M platform contract of stsm_mcu.h,
 * which each board's port implements; the Ethernet driver is reached through stsm_board.h. The boot
 * steps up to the wall clock, and the footprint lines of lwIP, the settings parse and the
 * stack, are stsm_mcu_boot.c, shared with a board's bring-up image.
 */
#include <string.h>

#include "lwip/sys.h"
#include "stsm_mcu_boot.h"
#include "stsm_mcu.h"
#include "stsm_agent.h"
#include "stsm_flash_record.h"
#include "stsm_ipv4.h"
#include "stsm_port.h"
#include "stsm_settings.h"

#define IDLE_HALT_MS 20000u   /* this image halts when nothing is due sooner */


static struct stsm_settings settings;
static struct stsm_tls tls;
static struct stsm_sts_cache sts_cache;
static struct stsm_flash_area cache_area;
static struct stsm_store cache_store;            /* the cache area: one piece a policy */
static struct stsm_sts_cache_flash cache_flash;  /* what it holds */
static struct stsm_flash_area outbox_area;
static struct stsm_agent agent;

static void log_line(void *arg, const char *line)
{
    (void)arg;
    stsm_mcu_console_puts(line);
    stsm_mcu_console_puts("\n");
}


/* The MTA-STS policies earlier boots stored in flash, one piece each: a damaged piece
 * loses only its policy, which is fetched again. */
static void load_policy_cache(void)
{
    size_t dropped;
    stsm_mcu_store_area(&cache_area);
    stsm_status_t st = stsm_store_mount(&cache_store, &cache_area);
    size_t n = stsm_sts_cache_flash_load(&sts_cache, &cache_flash, &cache_store, &dropped);
    if (st != STSM_OK) {
        stsm_mcu_say(STSM_TEXT("policy cache: flash unusable (%s): policies kept until reset only",
                               stsm_status_str(st)));
    } else if (n == 0 && dropped == 0) {
        stsm_mcu_say(STSM_TEXT("policy cache: none stored in flash"));
    } else {
        stsm_mcu_say(STSM_TEXT("policy cache: %u policies loaded from flash, %u damaged left out", (unsigned)n,
                        (unsigned)dropped));
    }
}

/* Writes the piece of each policy whose state changed: flash wears, so a mere use (which
 * only moves the LRU stamp) writes nothing. */
static void save_policy_cache(void)
{
    size_t written;
    stsm_status_t st = stsm_sts_cache_flash_sync(&sts_cache, &cache_flash, &written);
    if (st != STSM_OK) {
        stsm_mcu_say(STSM_TEXT("policy cache: not all stored in flash: %s", stsm_status_str(st)));
    } else if (written > 0) {
        stsm_mcu_say(STSM_TEXT("policy cache: %u pieces written to flash", (unsigned)written));
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
    if (!stsm_mcu_wall_clock(&t)) {
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
    stsm_mcu_say(STSM_TEXT("%s: %s%s%s: %s", r->rcpt, stsm_rcpt_state_name(r->state),
                           r->host[0] != '\0' ? " by " : "", r->host, r->reason));
}

/* Raises the boot alert through the public API, then works the outbox, with what earlier
 * boots left in it, from the main loop as a vendor's firmware would. A device loops for
 * ever and sleeps for stsm_agent_next_wakeup(); this image halts once nothing is due
 * within IDLE_HALT_MS, so that tests and the demo end. */
static int run_agent(void)
{
    static const struct stsm_platform platform = {
        .monotonic_ms = platform_monotonic_ms,
        .wall_clock = platform_wall_clock,
        .random_u32 = platform_random,
        .storage = &outbox_area,
        .log = log_line,
        .tls = &tls,
        .sts_cache = &sts_cache,
        .sts_cache_changed = platform_sts_cache_changed,
    };
    stsm_mcu_outbox_area(&outbox_area);
    stsm_status_t st = stsm_agent_init(&agent, &settings, &platform);
    if (st != STSM_OK && st != STSM_ERR_CORRUPT) {
        stsm_mcu_say(STSM_TEXT("outbox: cannot start: %s", stsm_status_str(st)));
        return STSM_MCU_EXIT_OSERR;
    }
    stsm_agent_on_result(&agent, print_result, NULL);
    /* Each boot is its own event, so the boot alert has no key: it is never coalesced. */
    static const char body[] = "stsmail " STSM_VERSION " booted on " STSM_BOARD " and reached the network.\n";
    static const struct stsm_alert alert = {
        .severity = STSM_SEVERITY_INFO,
        .subject = "stsmail alert from " STSM_BOARD,
        .body = body,
        .body_len = sizeof body - 1,
    };
    st = stsm_alert_raise(&agent, &alert, NULL);
    if (st != STSM_OK) {
        stsm_mcu_say(STSM_TEXT("boot alert not stored: %s", stsm_status_str(st)));
    }
    for (;;) {
        stsm_mcu_poll();
        stsm_agent_poll(&agent);
        uint32_t wake = stsm_agent_next_wakeup(&agent);
        if (!stsm_agent_busy(&agent) && wake > IDLE_HALT_MS) {
            break;
        }
    }
    const struct stsm_agent_counters *c = stsm_agent_counters(&agent);
    stsm_mcu_say(STSM_TEXT("outbox: %u delivered, %u failed, %u given up, %u message(s) kept for later",
                    (unsigned)c->delivered, (unsigned)c->failed, (unsigned)c->gave_up, (unsigned)c->queued));
    return c->failed > 0 ? STSM_MCU_EXIT_UNAVAILABLE : c->queued > 0 ? STSM_MCU_EXIT_TEMPFAIL : 0;
}

int main(void)
{
    int rc = stsm_mcu_start(&settings);
    if (rc == STSM_MCU_NOTHING_TO_DO) {
        return 0;
    }
    if (rc == 0 && settings.mail.to_count > 0) {
        rc = stsm_mcu_tls_up(&tls);
        if (rc == 0) {
            load_policy_cache();
            rc = run_agent();
        }
    }
    stsm_mcu_report_footprint();
    return rc;
}
