/*
 * mps2-an385 platform services: a 1 ms SysTick clock for lwIP and Mbed TLS, and
 * randomness from a CTR-DRBG fed by a per-device NV seed.
 *
 * QEMU's board has no TRNG, so the only entropy is the seed provisioned into the device
 * (the test harness writes a fresh random one for each run). Mbed TLS mixes it in and
 * writes an updated seed back on every boot, so successive boots never reuse a state. A
 * real board MUST add its hardware TRNG: define MBEDTLS_ENTROPY_HARDWARE_ALT and
 * implement mbedtls_hardware_poll() on the TRNG peripheral, keeping the NV seed as a
 * second source; without a TRNG, a cloned flash image clones the random stream.
 */
#include <stdbool.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "lwip/sys.h"
#include "mbedtls/ctr_drbg.h"
#include "mbedtls/entropy.h"
#include "mbedtls/platform.h"
#include "mbedtls/platform_time.h"
#include "stsm_mps2.h"
#include "stsm_port.h"

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define CPU_HZ   25000000u   /* mps2-an385 system clock */

extern uint8_t __provision_seed[];

static volatile uint32_t ticks_ms;
static uint32_t wall_base_s;     /* Unix time at tick wall_base_ticks, once SNTP has told */
static uint32_t wall_base_ticks;
static bool wall_known;
static mbedtls_entropy_context entropy;
static mbedtls_ctr_drbg_context drbg;
static bool drbg_ready;

void stsm_mps2_systick_handler(void)
{
    ticks_ms++;
}

void stsm_mps2_clock_init(void)
{
    SYST_RVR = CPU_HZ / 1000u - 1u;
    SYST_CVR = 0;
    SYST_CSR = 7u;   /* processor clock, interrupt, enable */
}

u32_t sys_now(void)
{
    return ticks_ms;
}

mbedtls_ms_time_t mbedtls_ms_time(void)
{
    return (mbedtls_ms_time_t)ticks_ms;
}

void stsm_mps2_set_wall_clock(uint32_t unix_seconds)
{
    wall_base_s = unix_seconds;
    wall_base_ticks = ticks_ms;
    wall_known = true;
}

bool stsm_mps2_wall_clock(uint32_t *unix_seconds)
{
    if (!wall_known) {
        return false;
    }
    *unix_seconds = wall_base_s + (ticks_ms - wall_base_ticks) / 1000u;
    return true;
}

/* newlib's time() asks this; Mbed TLS checks certificate dates with time(). Before SNTP
 * has answered there is no wall clock, and saying so (-1) makes those checks fail closed. */
int _gettimeofday(struct timeval *tv, void *tz);
int _gettimeofday(struct timeval *tv, void *tz)
{
    uint32_t now;
    (void)tz;
    if (tv == NULL || !stsm_mps2_wall_clock(&now)) {
        return -1;
    }
    tv->tv_sec = (time_t)now;
    tv->tv_usec = (suseconds_t)((ticks_ms - wall_base_ticks) % 1000u) * 1000;
    return 0;
}

/* The provisioned seed is the NV seed Mbed TLS reads and rewrites. */
static int seed_read(unsigned char *buf, size_t len)
{
    if (len > STSM_MPS2_SEED_LEN) {
        return -1;
    }
    memcpy(buf, __provision_seed, len);
    return 0;
}

static int seed_write(unsigned char *buf, size_t len)
{
    if (len > STSM_MPS2_SEED_LEN) {
        return -1;
    }
    memcpy(__provision_seed, buf, len);   /* on a real board: erase and program the flash page */
    return 0;
}

bool stsm_mps2_seed_provisioned(void)
{
    for (size_t i = 0; i < STSM_MPS2_SEED_LEN; i++) {
        if (__provision_seed[i] != 0) {
            return true;
        }
    }
    return false;
}

bool stsm_mps2_random_init(void)
{
    static const char personalization[] = "stsmail mps2";
    if (!stsm_mps2_seed_provisioned()) {
        return false;
    }
    mbedtls_platform_set_nv_seed(seed_read, seed_write);
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    drbg_ready = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy,
                                       (const unsigned char *)personalization, sizeof personalization - 1) == 0;
    return drbg_ready;
}

uint32_t stsm_port_random_u32(void)
{
    uint32_t v;
    if (!drbg_ready || mbedtls_ctr_drbg_random(&drbg, (unsigned char *)&v, sizeof v) != 0) {
        stsm_mps2_diagf("no randomness: refusing to go on\n");
        stsm_mps2_exit(STSM_MPS2_EXIT_FAULT);
    }
    return v;
}
